"""The analysis on realistic police.uk files (`tests.policeuk`): what it calls a hotspot, which
ward a cell is in, what the places are, and that it claims no change or trend without data."""

from __future__ import annotations

import pytest

from hotspots.errors import InputError
from hotspots.ranking import rank_hotspots
from hotspots.store import IncidentStore

ONE_MONTH = ["2025-02"]


@pytest.fixture
def one_month(policeuk_home, settings):
    home = policeuk_home(ONE_MONTH)
    return IncidentStore(home, settings=settings).load()


@pytest.mark.parametrize("category", ["serious_violence", "asb"])
def test_hot_cells_hold_incidents_and_empty_cells_rank_last(one_month, settings, category):
    got = rank_hotspots(one_month, category=category, period="2025-02", settings=settings)
    assert got["hot"].any()
    assert (got.loc[got["hot"], "count"] >= settings.hot_min_count).all()
    near = got[got["near_hot"]]
    assert (near["count"] == 0).all()
    assert not near["reason"].str.contains("; a hotspot").any()
    busy = int((got["count"] > 0).sum())
    assert (got["count"].iloc[:busy] > 0).all() and (got["count"].iloc[busy:] == 0).all()


def test_hot_min_count_raises_the_bar(one_month, settings):
    import dataclasses

    strict = dataclasses.replace(settings, hot_min_count=5)
    got = rank_hotspots(one_month, category="serious_violence", period="2025-02", settings=strict)
    assert got["hot"].any()
    assert (got.loc[got["hot"], "count"] >= 5).all()
    assert (got.loc[got["near_hot"], "count"] < 5).all()
    assert got.attrs["hot_min_count"] == 5


def test_every_cell_is_labelled_with_its_majority_ward_whatever_wards_are_chosen(one_month, settings):
    every = rank_hotspots(one_month, category="all", period="2025-02", wards="all", settings=settings)
    truth = dict(zip(every["h3_cell"].tolist(), every["ward_code"], strict=True))
    for spec in ("priority", "E05011399", "Hunslet & Riverside,Little London & Woodhouse"):
        got = rank_hotspots(one_month, category="all", period="2025-02", wards=spec, settings=settings)
        assert all(truth[c] == w for c, w in zip(got["h3_cell"].tolist(), got["ward_code"], strict=True))
    hunslet = rank_hotspots(one_month, category="all", period="2025-02", wards="E05011399", settings=settings)
    assert (hunslet["ward_code"] == "E05011399").all()
    assert hunslet.attrs["cells_left_out"] > 0
    # Cells mostly in Little London & Woodhouse come back when it is chosen too.
    both = rank_hotspots(one_month, category="all", period="2025-02",
                         wards="E05011399,E05011403", settings=settings)
    centre = set(both.loc[both["ward_code"] == "E05011403", "h3_cell"])
    assert centre and not centre & set(hunslet["h3_cell"])


def test_the_ward_table_puts_every_leeds_incident_in_a_ward(one_month, settings):
    from hotspots.ranking import rank_wards

    table = rank_wards(one_month, category="all", period="2025-02", wards="all", settings=settings)
    assert table.attrs["unassigned"] == 0
    assert table.attrs["snapped"] > 0  # the snap points just past the city edge
    assert table["count"].sum() == len(one_month)
    import dataclasses

    strict = dataclasses.replace(settings, ward_snap_m=0.0)
    pip_only = rank_wards(one_month, category="all", period="2025-02", wards="all", settings=strict)
    assert pip_only.attrs["unassigned"] == table.attrs["snapped"]
    assert pip_only.attrs["snapped"] == 0


def _store(policeuk_home, settings, months, **kw):
    store = IncidentStore(policeuk_home(months, **kw), settings=settings)
    return store, store.load()


def test_one_month_claims_no_change_and_no_trend(policeuk_home, settings):
    from hotspots.ranking import rank_wards

    store, frame = _store(policeuk_home, settings, ONE_MONTH)
    for coverage in (store.coverage(), None):  # the store's record, or what the frame shows
        got = rank_hotspots(frame, category="serious_violence", period="2025-02", settings=settings,
                            coverage=coverage)
        assert got["change"].isna().all() and got["change_significant"].isna().all()
        assert got["change_pct"].isna().all() and got["trend"].isna().all()
        holder = "the store holds" if coverage is not None else "the incidents hold"
        assert got.attrs["notes"] == [
            f"no baseline: {holder} no data for 2025-01, so no change is shown.",
            f"no trend: {holder} 1 of the last 6 months (2025-02); a trend needs at least 3."]
        assert not got["reason"].str.contains(r"\bup \d|\bdown \d|same as last|hotspot in \d").any()
    wards = rank_wards(frame, category="asb", period="2025-02", settings=settings, coverage=store.coverage())
    assert wards["change"].isna().all() and wards["previous_count"].isna().all()
    with pytest.raises(InputError, match=r"^no data for 2025-03: the store holds 2025-02\.$"):
        rank_hotspots(frame, category="asb", period="2025-03", settings=settings, coverage=store.coverage())


def test_a_trend_with_gaps_uses_the_months_with_data_and_says_so(policeuk_home, settings):
    months = ["2024-10", "2024-11", "2024-12", "2025-02"]
    store, frame = _store(policeuk_home, settings, months)
    got = rank_hotspots(frame, category="serious_violence", period="2025-02", settings=settings,
                        coverage=store.coverage())
    assert got.attrs["notes"] == [
        "no baseline: the store holds no data for 2025-01, so no change is shown.",
        "trend over the 4 months with data of the last 6 (2024-09, 2025-01 missing)."]
    assert got.attrs["trend_used"] == 4
    hot = got[got["hot"]]
    assert hot["trend"].notna().all()
    assert hot["reason"].str.contains(r"hotspot in \d of the 4 months with data").all()
    # The month after the gap's far side has a baseline again.
    dec = rank_hotspots(frame, category="serious_violence", period="2024-12", settings=settings,
                        coverage=store.coverage())
    assert dec["change"].notna().all() and dec.attrs["baseline"]


def test_a_partial_newest_month_claims_no_change(policeuk_home, settings):
    store, frame = _store(policeuk_home, settings, ["2024-11", "2024-12", "2025-01"],
                          partial={"2025-01": 0.3})
    got = rank_hotspots(frame, category="serious_violence", period="2025-01", settings=settings,
                        coverage=store.coverage())
    assert got["change"].isna().all()
    assert got.attrs["notes"][:2] == [
        "2025-01 may be incomplete: it holds far fewer incidents than the months around it "
        "(police.uk publishes months late).",
        "no change is shown: 2025-01 may be incomplete."]


def _cells_of(data, settings, resolution=10):
    """The H3 cell of each located row of the fixture's first month, with its label."""
    import numpy as np

    from hotspots import cells as h3cells

    rows = data.rows[(data.rows["point"] >= 0)]
    pts = data.points.set_index("point").loc[rows["point"].to_numpy()]
    cells = h3cells.xy_to_cells(pts["x"].to_numpy(), pts["y"].to_numpy(), resolution=resolution)
    return rows.assign(h3_cell=cells, x=pts["x"].to_numpy(), y=pts["y"].to_numpy(),
                       institution=pts["institution"].to_numpy(), name=np.asarray(
                           rows["Location"].str.removeprefix("On or near ")))


def test_cells_are_named_by_their_most_common_street_with_their_busiest_point_share(one_month, settings):
    from tests.policeuk import policeuk_data

    got = rank_hotspots(one_month, category="all", period="2025-02", settings=settings)
    rows = _cells_of(policeuk_data(ONE_MONTH), settings)
    busy = got[got["count"] > 0].head(40)
    assert not busy["place"].str.startswith("On or near").any() and (busy["place"] != "").all()
    for cell, place, share, count in zip(busy["h3_cell"], busy["place"], busy["top_point_share"],
                                         busy["count"], strict=True):
        mine = rows[rows["h3_cell"] == cell]
        assert len(mine) == count
        names = mine["name"].value_counts()
        assert place in names[names == names.max()].index
        per_point = mine.groupby(["x", "y"]).size()
        assert share == pytest.approx(per_point.max() / count)
    assert got.loc[got["count"] == 0, "top_point_share"].isna().all()


def test_institution_cells_are_flagged_kept_and_never_ranked_above_street_cells(one_month, settings):
    import dataclasses

    got = rank_hotspots(one_month, category="serious_violence", period="2025-02", settings=settings)
    flagged = got[got["institution"]]
    assert set(flagged["place"]) == {"Police Station", "Prison", "Hospital"}
    assert len(flagged) == 4 and got.attrs["institution_cells"] == 4
    assert (flagged["institution_count"] > flagged["count"] / 2).all()
    for place, reason in zip(flagged["place"], flagged["reason"], strict=True):
        assert f"recorded at a {place.lower()}: not street crime a patrol can prevent" in reason
    assert not flagged["hot"].any()
    # Every cell with street incidents ranks above them; only empty cells rank below.
    street = got[(got["count"] > got["institution_count"])]
    assert street["rank"].max() < flagged["rank"].min()
    assert (got.loc[got["rank"] > flagged["rank"].max(), "count"] == 0).all()
    # Without institution labels the police station is the top hotspot: what the flag prevents.
    naive = rank_hotspots(one_month, category="serious_violence", period="2025-02",
                          settings=dataclasses.replace(settings, institution_labels=()))
    assert naive.iloc[0]["place"] == "Police Station" and naive.iloc[0]["hot"]
    assert not naive["institution"].any()


def test_a_frame_without_location_labels_still_ranks(one_month, settings):
    older = one_month.drop(columns="location")
    got = rank_hotspots(older, category="asb", period="2025-02", settings=settings)
    assert (got["place"] == "").all() and not got["institution"].any()
    assert got["top_point_share"].between(0, 1).sum() == (got["count"] > 0).sum()
