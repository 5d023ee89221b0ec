"""Tests of the police.uk fixture generator (`tests.policeuk`): it has the traits of real files,
and the ingest reads what it writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.ingest import read_incidents_report
from hotspots.wards import load_wards
from tests.policeuk import (
    CRIME_SHARES,
    EDGE_OFFSET_M,
    POLICEUK_HEADER,
    build_store,
    policeuk_data,
    write_policeuk,
)


@pytest.fixture(scope="module")
def data():
    return policeuk_data(["2025-02", "2025-05"], seed=0)


def test_same_seed_same_rows_other_seed_other_rows():
    a = policeuk_data("2025-02", seed=4, rows_per_month=500)
    b = policeuk_data("2025-02", seed=4, rows_per_month=500)
    c = policeuk_data("2025-02", seed=5, rows_per_month=500)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    assert not a.rows["Location"].equals(c.rows["Location"])


def test_months_hold_about_8000_rows_with_the_gap_left_empty(data):
    assert sorted(data.rows["Month"].unique()) == ["2025-02", "2025-05"]
    for month in ("2025-02", "2025-05"):
        assert 7600 <= len(data.month_rows(month)) <= 8400


def test_half_as_many_snap_points_as_rows_and_the_busiest_is_a_police_station(data):
    for month in ("2025-02", "2025-05"):
        rows = data.month_rows(month)
        located = rows[rows["point"] >= 0]
        per_point = located["point"].value_counts()
        assert 0.4 <= len(per_point) / len(rows) <= 0.6
        assert 50 <= per_point.iloc[0] <= 60
        assert data.points.loc[per_point.index[0], "label"] == "On or near Police Station"
        assert per_point.iloc[1] < 50
        # Every row is labelled as police.uk labels them.
        assert rows["Location"].str.startswith("On or near ").sum() == len(located)
        assert (rows.loc[rows["point"] < 0, "Location"] == "No Location").all()


def test_about_16_percent_of_rows_are_on_places_with_institutions_among_them(data):
    rows = data.month_rows("2025-02")
    located = rows[rows["point"] >= 0]
    places = data.points["place"].to_numpy()[located["point"].to_numpy()]
    assert 0.13 <= (places != "").mean() <= 0.19
    assert {"Supermarket", "Shopping Area", "Parking Area", "Petrol Station", "Police Station",
            "Prison", "Hospital"} <= set(places)


def test_category_shares_follow_leeds(data):
    shares = data.rows["Crime type"].value_counts(normalize=True)
    for crime_type in ("Violence and sexual offences", "Anti-social behaviour", "Robbery",
                       "Possession of weapons"):
        np.testing.assert_allclose(shares[crime_type], CRIME_SHARES[crime_type], rtol=0.25,
                                   atol=0.004)
    assert (data.rows.loc[data.rows["Crime type"] == "Anti-social behaviour", "Crime ID"] == "").all()
    assert data.rows.loc[data.rows["Crime type"] != "Anti-social behaviour", "Crime ID"].str.fullmatch(
        "[0-9a-f]{64}").all()


def test_streets_lie_in_their_wards_and_edge_points_just_outside_leeds(data, settings):
    wards = load_wards(settings=settings)
    pts = data.points
    inner = pts[~pts["edge"]]
    by_code = dict(zip(wards["ward_code"], wards.geometry, strict=True))
    # Coordinates as written (6 decimals, some rounded) stay within a few metres of their ward.
    dist = np.array([by_code[c].distance(shapely.Point(x, y))
                     for c, x, y in zip(inner["ward_code"], inner["x"], inner["y"], strict=True)])
    assert (dist == 0).mean() > 0.97
    outline = shapely.union_all(wards.geometry.to_numpy())
    edge = pts[pts["edge"]]
    assert len(edge) >= 3
    d = np.array([outline.distance(shapely.Point(x, y)) for x, y in zip(edge["x"], edge["y"], strict=True)])
    assert ((d > 0) & (d <= EDGE_OFFSET_M[1] + 1.0)).all()
    assert (data.rows["point"].isin(edge["point"])).any()


def test_partial_month_holds_fewer_rows():
    data = policeuk_data(["2025-04", "2025-05"], seed=1, partial={"2025-05": 0.3})
    assert len(data.month_rows("2025-05")) < 0.4 * len(data.month_rows("2025-04"))


def test_spreadsheet_files_carry_bom_crlf_short_months_and_trimmed_coordinates(tmp_path, data):
    [path, _] = write_policeuk(data, tmp_path, spreadsheet=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfCrime ID,Month,")
    assert b"\r\n" in raw and raw.count(b"\r\n") == raw.count(b"\n")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(frame.columns) == POLICEUK_HEADER
    assert (frame["Month"] == "Feb-25").all()
    decimals = frame.loc[frame["Longitude"] != "", "Longitude"].str.split(".").str[1].str.len()
    assert decimals.min() <= 4 and decimals.max() == 6


@pytest.mark.parametrize("variant", [{}, {"bom": True}, {"crlf": True}, {"trim": True}])
def test_ingest_reads_every_variant_to_the_same_incidents(tmp_path, settings, variant):
    data = policeuk_data("2025-03", seed=2, rows_per_month=600)
    plain, _ = read_incidents_report(write_policeuk(data, tmp_path / "plain"), settings=settings,
                                     progress=False)
    other, _ = read_incidents_report(write_policeuk(data, tmp_path / "other", **variant),
                                     settings=settings, progress=False)
    assert len(plain) == (data.rows["point"] >= 0).sum()
    assert sorted(plain["incident_id"]) == sorted(other["incident_id"])


def test_build_store_ingests_every_located_row(home):
    store, data, files = build_store(home, ["2025-01", "2025-03"], seed=3, rows_per_month=800)
    assert store.months() == ["2025-01", "2025-03"]
    assert len(store) == int((data.rows["point"] >= 0).sum())
    assert [f.name for f in files] == ["2025-01-west-yorkshire-street.csv",
                                       "2025-03-west-yorkshire-street.csv"]


def test_policeuk_home_fixture_gives_a_copy_per_test(policeuk_home):
    from hotspots.store import IncidentStore

    home = policeuk_home(["2025-02"], rows_per_month=300, seed=6)
    assert IncidentStore(home).months() == ["2025-02"]
