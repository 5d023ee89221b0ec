"""Synthetic demo incidents: every rejection message, then the output contract and its realism.

The 104-week demo is generated once for the module; the realism checks compare it with the Leeds
figures in WARD_VOLUMES and MONTH_FACTORS (from the project's reference data).
"""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import h3
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon

from hotspots import InputError, load_wards
from hotspots.demo import (
    DEFAULT_END,
    LEEDS_AVERAGE_VOLUMES,
    MONTH_FACTORS,
    OTHER_TYPE_SHARES,
    POLICEUK_COLUMNS,
    REFERENCE_WEEKS,
    WARD_VOLUMES,
    demo_hotspots,
    generate_demo,
    ward_volumes,
    write_policeuk_csv,
)
from hotspots.schema import empty_incidents, to_geodataframe
from hotspots.settings import PRIORITY_WARDS, get_settings

FIRST_MONDAY = dt.date(2023, 7, 31)  # 104 ISO weeks ending on DEFAULT_END start here
WEEKS = 104
POLICEUK_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                   "LSOA code,LSOA name,Crime type,Last outcome category,Context")


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory):
    return get_settings(tmp_path_factory.mktemp("demo_home"))


@pytest.fixture(scope="module")
def wards(demo_settings):
    return load_wards(priority_only=True, settings=demo_settings)


@pytest.fixture(scope="module")
def demo(demo_settings):
    return generate_demo(seed=0, settings=demo_settings)


@pytest.fixture(scope="module")
def binned(demo, wards):
    """The demo with `ward_code` (point in polygon), `cell` (H3 res 10, int) and `week` (0-103)."""
    points = to_geodataframe(demo)
    joined = gpd.sjoin(points, wards[["ward_code", "geometry"]], predicate="within", how="left")
    assert not joined.index.duplicated().any()
    out = demo.copy()
    out["ward_code"] = joined["ward_code"]
    lonlat = points.geometry.to_crs("EPSG:4326")
    out["cell"] = np.asarray(h3v.coordinates_to_cells(lonlat.y.to_numpy(), lonlat.x.to_numpy(), 10))
    local_day = demo["occurred_at"].dt.tz_localize(None).dt.normalize()
    out["week"] = (local_day - pd.Timestamp(FIRST_MONDAY)).dt.days // 7
    return out


@pytest.fixture(scope="module")
def ward_cells(wards):
    """ward_code -> the ward's H3 res-10 cells (centre inside the ward), as ints."""
    # Checked with h3 itself, not the project's adapter; a 1 m margin keeps cells whose centre
    # lies on the boundary line, where the sphere and the map may disagree by millimetres.
    lonlat = wards.assign(geometry=wards.buffer(1.0)).to_crs("EPSG:4326")
    return {code: {h3.str_to_int(c) for c in h3.geo_to_cells(geom, 10)}
            for code, geom in zip(lonlat["ward_code"], lonlat.geometry, strict=True)}


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("end", "hint"), [(dt.date(2025, 7, 30), "2025-07-27 or 2025-08-03"),
                                           (dt.date(2025, 7, 26), "2025-07-20 or 2025-07-27")])
def test_end_must_be_a_sunday(end, hint, settings):
    with pytest.raises(InputError, match=rf"`end` must be a Sunday.*Use {hint}\."):
        generate_demo(end=end, settings=settings)


def test_end_message_names_the_weekday(settings):
    with pytest.raises(InputError, match=r"2025-07-30 is a Wednesday"):
        generate_demo(end=dt.date(2025, 7, 30), settings=settings)


@pytest.mark.parametrize("end", ["2025-07-27", 20250727, None])
def test_end_must_be_a_date(end, settings):
    with pytest.raises(InputError, match=r"`end` must be a date \(a Sunday\), such as 2025-07-27"):
        generate_demo(end=end, settings=settings)


@pytest.mark.parametrize("weeks", [0, -3, 521])
def test_weeks_out_of_range(weeks, settings):
    with pytest.raises(InputError, match=rf"`weeks` must be 1 to 520; got {weeks}"):
        generate_demo(weeks=weeks, settings=settings)


@pytest.mark.parametrize("weeks", ["4", 2.5, True, None])
def test_weeks_not_a_whole_number(weeks, settings):
    with pytest.raises(InputError, match=r"`weeks` must be a whole number of weeks"):
        generate_demo(weeks=weeks, settings=settings)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_bad_seed(seed, settings):
    with pytest.raises(InputError, match=r"`seed` must be a whole number of 0 or more"):
        generate_demo(seed=seed, settings=settings)


def test_wards_not_a_geodataframe(settings):
    with pytest.raises(InputError, match=r"`wards` must be a GeoDataFrame.*got DataFrame"):
        generate_demo(wards=pd.DataFrame({"ward_code": ["A"]}), settings=settings)


def test_wards_without_code(settings):
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])],
                             crs="EPSG:27700")
    with pytest.raises(InputError, match=r"`wards` has no `ward_code` column"):
        generate_demo(wards=frame, settings=settings)


def test_wards_empty(wards, settings):
    with pytest.raises(InputError, match=r"`wards` contains zero rows"):
        generate_demo(wards=wards.iloc[0:0], settings=settings)


def test_wards_without_crs(wards, settings):
    frame = gpd.GeoDataFrame({"ward_code": ["A"]}, geometry=list(wards.geometry[:1]))
    with pytest.raises(InputError, match=r"`wards` has no CRS"):
        generate_demo(wards=frame, settings=settings)


def test_wards_with_a_duplicate_code(wards, settings):
    with pytest.raises(InputError, match=r"`wards` has ward code 'E05011385' more than once"):
        generate_demo(wards=pd.concat([wards.iloc[:1], wards.iloc[:1]]), settings=settings)


def test_ward_too_small_for_a_cell(settings):
    tiny = gpd.GeoDataFrame({"ward_code": ["X1"]},
                            geometry=[Polygon([(430000, 433000), (430005, 433000), (430005, 433005)])],
                            crs="EPSG:27700")
    with pytest.raises(InputError, match=r"ward 'X1' is too small for H3 resolution 10 cells"):
        generate_demo(wards=tiny, weeks=2, settings=settings)


def test_write_policeuk_rejects_non_frames(tmp_path):
    with pytest.raises(InputError, match=r"`incidents` must be a DataFrame of incidents; got list"):
        write_policeuk_csv([1], tmp_path)


def test_write_policeuk_rejects_missing_columns(demo, tmp_path):
    with pytest.raises(InputError, match=r"lacks the column\(s\) crime_type, category"):
        write_policeuk_csv(demo.drop(columns=["crime_type", "category"]), tmp_path)


def test_write_policeuk_rejects_empty(settings, tmp_path):
    with pytest.raises(InputError, match=r"`incidents` contains zero rows"):
        write_policeuk_csv(empty_incidents(settings), tmp_path)
    assert not any(tmp_path.iterdir())


def test_write_policeuk_rejects_points_without_crs_or_xy(demo, tmp_path):
    frame = to_geodataframe(demo.head(3)).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"`incidents` has no CRS"):
        write_policeuk_csv(frame, tmp_path)
    with pytest.raises(InputError, match=r"`incidents` lacks the column\(s\) x, y"):
        write_policeuk_csv(demo.head(3).drop(columns=["x"]), tmp_path)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Output contract
# ---------------------------------------------------------------------------------------------

def test_data_model(demo, demo_settings):
    model = empty_incidents(demo_settings)
    assert list(demo.columns) == list(model.columns)
    assert {c: str(t) for c, t in demo.dtypes.items()} == {c: str(t) for c, t in model.dtypes.items()}
    assert type(demo) is pd.DataFrame and demo["x"].dtype == demo["y"].dtype == np.float64
    assert (demo["source"] == "demo").all()
    assert (demo["time_precision"] == "minute").all()
    assert demo.index.equals(pd.RangeIndex(len(demo)))


def test_ids_stable_unique_and_in_time_order(demo):
    assert demo["incident_id"].is_unique
    assert demo["incident_id"].str.fullmatch(r"demo-0-\d+").all()
    assert demo["incident_id"].iloc[0] == "demo-0-1"
    assert demo["incident_id"].iloc[-1] == f"demo-0-{len(demo)}"
    assert demo["occurred_at"].is_monotonic_increasing


def test_times_cover_the_iso_weeks_to_the_minute(demo):
    times = demo["occurred_at"]
    assert times.notna().all()
    assert str(times.dt.tz) == "Europe/London"
    assert times.min() >= pd.Timestamp(FIRST_MONDAY, tz="Europe/London")
    assert times.max() < pd.Timestamp(DEFAULT_END + dt.timedelta(days=1), tz="Europe/London")
    assert (times.dt.second == 0).all()
    assert times.dt.minute.nunique() == 60
    # Every one of the 104 weeks has incidents.
    weeks = (times.dt.tz_localize(None).dt.normalize() - pd.Timestamp(FIRST_MONDAY)).dt.days // 7
    assert sorted(weeks.unique()) == list(range(WEEKS))


def test_categories_and_harm_come_from_settings(demo, demo_settings):
    for crime_type, group in demo.groupby("crime_type"):
        category = demo_settings.category_of(crime_type)
        assert category is not None, crime_type
        assert (group["category"] == category).all()
        np.testing.assert_allclose(group["harm"], demo_settings.harm_of(crime_type, category))
    assert set(demo["crime_type"]) == {"Anti-social behaviour", "Violence and sexual offences",
                                       "Robbery", "Possession of weapons", *OTHER_TYPE_SHARES}


def test_short_demo_covers_one_week(demo_settings):
    end = dt.date(2025, 3, 30)  # the clocks went forward that morning
    one = generate_demo(weeks=1, end=end, seed=3, settings=demo_settings)
    local = one["occurred_at"].dt.tz_localize(None)
    assert local.min() >= pd.Timestamp("2025-03-24")
    assert local.max() < pd.Timestamp("2025-03-31")
    assert one["occurred_at"].notna().all()
    assert 400 < len(one) < 1100  # about 77,300 / 104.4 a week


def test_no_missing_times_over_autumn_clock_change(demo_settings):
    # 26 Oct 2025: 01:00-01:59 happens twice; every incident still gets a time.
    two = generate_demo(weeks=2, end=dt.date(2025, 11, 2), settings=demo_settings)
    assert two["occurred_at"].notna().all()
    assert two["occurred_at"].is_monotonic_increasing


def test_output_does_not_depend_on_other_wards(demo, binned, wards, demo_settings):
    code = "E05011394"
    alone = generate_demo(wards=wards[wards["ward_code"] == code], settings=demo_settings)
    subset = demo[(binned["ward_code"] == code).to_numpy()].reset_index(drop=True)
    cols = ["occurred_at", "crime_type", "category", "x", "y"]
    pd.testing.assert_frame_equal(alone[cols], subset[cols], check_categorical=False)


def test_other_wards_get_leeds_average_volumes(demo_settings):
    all_wards = load_wards(settings=demo_settings)
    other = all_wards[~all_wards["priority"]].iloc[[0]]
    assert other["ward_code"].iloc[0] not in WARD_VOLUMES
    out = generate_demo(wards=other, weeks=52, settings=demo_settings)
    expected = LEEDS_AVERAGE_VOLUMES[0] * 52 / REFERENCE_WEEKS
    assert abs(len(out) / expected - 1) < 0.06
    assert other.geometry.iloc[0].buffer(0.01).contains(to_geodataframe(out).union_all())


def test_same_seed_same_output_other_seed_different(demo_settings):
    # 26 weeks keep the test quick; test_output_does_not_depend_on_other_wards repeats the
    # full 104 weeks of one ward.
    first = generate_demo(seed=5, weeks=26, settings=demo_settings)
    again = generate_demo(seed=5, weeks=26, settings=demo_settings)
    pd.testing.assert_frame_equal(first, again)
    other = generate_demo(seed=6, weeks=26, settings=demo_settings)
    assert other["incident_id"].str.startswith("demo-6-").all()
    assert len(other) != len(first)
    # Another seed places other address points: hardly a coordinate in common.
    points = set(zip(first["x"], first["y"], strict=True))
    shared = set(zip(other["x"], other["y"], strict=True)) & points
    assert len(shared) < len(points) / 100


# ---------------------------------------------------------------------------------------------
# Realism
# ---------------------------------------------------------------------------------------------

def test_volumes_per_ward_and_category(binned):
    counts = binned.groupby(["ward_code", "category"], observed=True).size()
    scale = WEEKS / REFERENCE_WEEKS
    for code in PRIORITY_WARDS:
        total, asb, vso = WARD_VOLUMES[code]
        sv = vso + (0.014 + 0.009) * total
        for category, target in (("asb", asb), ("serious_violence", sv),
                                 ("other", total - asb - sv)):
            expected = target * scale
            # Poisson noise: four standard deviations, and never less than 3%.
            tolerance = max(0.03, 4 / np.sqrt(expected))
            assert abs(counts[(code, category)] / expected - 1) < tolerance, (code, category)
        assert abs(counts[code].sum() / (total * scale) - 1) < 0.03, code


def test_robbery_weapons_and_other_type_shares(demo):
    share = demo["crime_type"].value_counts(normalize=True)
    assert share["Robbery"] == pytest.approx(0.014, abs=0.002)
    assert share["Possession of weapons"] == pytest.approx(0.009, abs=0.002)
    other = demo.loc[demo["category"] == "other", "crime_type"].value_counts(normalize=True)
    want = pd.Series(OTHER_TYPE_SHARES) / sum(OTHER_TYPE_SHARES.values())
    np.testing.assert_allclose(other[want.index], want, atol=0.01)
    assert other.index[0] == "Public order"


def test_ward_volumes_add_up():
    for code, (total, asb, vso) in WARD_VOLUMES.items():
        v = ward_volumes(code)
        assert sum(sum(t.values()) for t in v.values()) == pytest.approx(total)
        assert v["asb"]["Anti-social behaviour"] == asb
        assert v["serious_violence"]["Violence and sexual offences"] == vso


def test_asb_month_of_year_profile(demo):
    asb = demo[demo["category"] == "asb"]
    per_month = asb["occurred_at"].dt.month.value_counts().sort_index()
    profile = per_month / per_month.mean()
    assert np.corrcoef(profile, MONTH_FACTORS["asb"])[0, 1] > 0.9
    assert profile.idxmin() == 12 and profile[[5, 8, 10]].min() > 1.1


def test_violence_nearly_flat_over_the_year(demo):
    sv = demo[demo["category"] == "serious_violence"]
    per_month = sv["occurred_at"].dt.month.value_counts().sort_index()
    profile = per_month / per_month.mean()
    assert profile.min() > 0.85 and profile.max() < 1.12


def test_halloween_and_bonfire_night_peaks(demo):
    asb = demo[demo["category"] == "asb"]
    local = asb["occurred_at"].dt.tz_localize(None)
    days = local.dt.normalize().value_counts()
    all_days = pd.Series(0, index=pd.date_range(FIRST_MONDAY, DEFAULT_END)).add(days, fill_value=0)

    def ratio(month, day, quiet):
        peak = all_days[(all_days.index.month == month) & (all_days.index.day == day)].mean()
        ordinary = all_days[(all_days.index.month == month) & ~all_days.index.day.isin(quiet)].mean()
        return peak / ordinary

    # About three times an ordinary day of the month; two of each in the demo, so some noise.
    assert ratio(10, 31, [30, 31]) > 1.8
    assert ratio(11, 5, [1, 4, 5, 6]) > 1.8


def test_asb_evening_and_weekend_profile(demo):
    asb = demo.loc[demo["category"] == "asb", "occurred_at"]
    assert (asb.dt.hour >= 16).mean() > 0.5  # 16:00-23:59 is a third of the day
    assert (asb.dt.hour.between(3, 6)).mean() < 0.05
    assert (asb.dt.day_of_week >= 4).mean() > 3 / 7 + 0.03  # Friday to Sunday


def test_violence_friday_saturday_night(demo):
    t = demo.loc[demo["category"] == "serious_violence", "occurred_at"]
    hour, day = t.dt.hour, t.dt.day_of_week
    night = (((day == 4) & (hour >= 22)) | ((day == 5) & ((hour >= 22) | (hour < 3)))
             | ((day == 6) & (hour < 3)))
    # The two nights are 10 of the week's 168 hours (6%).
    assert night.mean() > 0.14
    assert (t.dt.hour.between(3, 6)).mean() < 0.05


def test_half_of_each_category_in_five_percent_of_cells(binned, ward_cells):
    for (code, category), group in binned.groupby(["ward_code", "category"], observed=True):
        k = round(0.05 * len(ward_cells[code]))
        top = group["cell"].value_counts().iloc[:k].sum() / len(group)
        assert 0.4 <= top <= 0.6, (code, category, top)


def test_points_inside_their_ward_and_its_cells(binned, ward_cells):
    assert binned["ward_code"].notna().all()
    assert set(binned["ward_code"]) == set(PRIORITY_WARDS)
    for code, group in binned.groupby("ward_code"):
        assert set(group["cell"]).issubset(ward_cells[code]), code


def test_points_cluster_on_address_points(demo):
    repeated = demo.duplicated(["x", "y"], keep=False).mean()
    assert repeated > 0.4
    assert len(demo[["x", "y"]].drop_duplicates()) < 0.6 * len(demo)


def _cell_weeks(binned):
    last8 = binned["week"] >= WEEKS - 8
    grouped = binned.assign(last8=last8, early=binned["week"] < 26, late=binned["week"] >= WEEKS - 26,
                            last12=binned["week"] >= WEEKS - 12)
    return grouped.groupby(["ward_code", "category", "cell"], observed=True)[
        ["last8", "early", "late", "last12"]].sum().assign(
        n=grouped.groupby(["ward_code", "category", "cell"], observed=True).size())


def test_emerging_fading_and_persistent_hotspots(binned):
    cells = _cell_weeks(binned)
    before = cells["n"] - cells["last8"]
    emerging = cells[(cells["last8"] >= 6) & (before / (WEEKS - 8) <= 0.1 * cells["last8"] / 8)]
    fading = cells[(cells["early"] >= 15) & (cells["last12"] <= 1)]
    persistent = cells[(cells["early"] >= 15) & (cells["late"] >= 15)
                       & (cells["early"] / cells["late"]).between(0.5, 2)]
    for found in (emerging, fading, persistent):
        # In every ward, and for emerging ones in every category.
        assert set(found.index.get_level_values("ward_code")) == set(PRIORITY_WARDS)
    assert set(emerging.index.get_level_values("category")) == {"asb", "serious_violence", "other"}


def test_planted_hotspots_are_the_ones_found(binned, demo_settings):
    planted = demo_hotspots(seed=0, settings=demo_settings)
    assert set(planted["kind"]) == {"persistent", "emerging", "fading"}
    assert list(planted.columns) == ["ward_code", "category", "h3_cell", "kind", "weight",
                                     "first_week", "faded_week"]
    assert planted["h3_cell"].dtype == np.uint64
    assert (planted.loc[planted["kind"] == "emerging", "first_week"] >= WEEKS - 8).all()
    assert (planted.loc[planted["kind"] == "fading", "faded_week"] <= WEEKS - 10).all()
    cells = _cell_weeks(binned)
    for row in planted[planted["category"] == "serious_violence"].itertuples():
        c = cells.loc[(row.ward_code, row.category, int(row.h3_cell))]
        if row.kind == "emerging":  # nearly nothing before: a tenth of the recent weekly rate
            assert (c["n"] - c["last8"]) / (WEEKS - 8) <= 0.1 * c["last8"] / 8
        elif row.kind == "fading":
            assert c["last12"] <= 2 and c["early"] >= 5
        else:
            assert c["early"] >= 1 and c["late"] >= 1 and c["n"] >= 10
    persistent = planted[(planted["kind"] == "persistent")
                         & (planted["category"] == "serious_violence")]
    keys = list(zip(persistent["ward_code"], persistent["category"],
                    persistent["h3_cell"].astype(int), strict=True))
    both = cells.loc[keys, ["early", "late"]].sum()
    assert 0.8 < both["early"] / both["late"] < 1.25


def test_short_demo_plants_only_persistent_hotspots(demo_settings):
    planted = demo_hotspots(weeks=10, settings=demo_settings)
    assert set(planted["kind"]) == {"persistent"}


# ---------------------------------------------------------------------------------------------
# Police.uk format
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def policeuk(demo_settings, tmp_path_factory):
    incidents = generate_demo(weeks=9, end=dt.date(2025, 3, 30), settings=demo_settings)
    folder = tmp_path_factory.mktemp("policeuk")
    return incidents, folder, write_policeuk_csv(incidents, folder)


def test_policeuk_files_and_header(policeuk):
    incidents, folder, files = policeuk
    assert [p.relative_to(folder).as_posix() for p in files] == [
        "2025-01/2025-01-west-yorkshire-street.csv",
        "2025-02/2025-02-west-yorkshire-street.csv",
        "2025-03/2025-03-west-yorkshire-street.csv",
    ]
    for path in files:
        assert path.read_text(encoding="utf-8").splitlines()[0] == POLICEUK_HEADER
    assert POLICEUK_HEADER.split(",") == POLICEUK_COLUMNS
    assert sorted(p.name for p in folder.rglob("*")) == sorted(
        [p.name for p in files] + [p.parent.name for p in files])  # no temporary files left


def test_policeuk_rows(policeuk):
    incidents, _, files = policeuk
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files]
    for path, frame in zip(files, frames, strict=True):
        assert (frame["Month"] == path.parent.name).all()
    rows = pd.concat(frames, ignore_index=True)
    assert len(rows) == len(incidents)
    assert rows["Month"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert (rows["Reported by"] == "West Yorkshire Police").all()
    assert (rows["Falls within"] == "West Yorkshire Police").all()
    asb = rows["Crime type"] == "Anti-social behaviour"
    assert (rows.loc[asb, "Crime ID"] == "").all()
    assert rows.loc[~asb, "Crime ID"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert rows.loc[~asb, "Crime ID"].is_unique
    assert (rows.loc[asb, "Last outcome category"] == "").all()
    assert (rows.loc[~asb, "Last outcome category"] != "").all()
    assert rows["Longitude"].str.fullmatch(r"-1\.\d{6}").all()
    assert rows["Latitude"].str.fullmatch(r"53\.\d{6}").all()
    assert rows["Location"].str.startswith("On or near ").all()
    assert (rows["Context"] == "SYNTHETIC demo incident (hotspots demo), not a real crime").all()
    assert sorted(rows["Crime type"].unique()) == sorted(incidents["crime_type"].unique())


def test_demo_incidents_carry_police_uk_style_location_labels(policeuk):
    incidents, _, files = policeuk
    labels = incidents["location"]
    assert labels.str.fullmatch(r"On or near \S.*").all()
    places = labels.isin([f"On or near {p}" for p in ("Supermarket", "Police Station", "Parking Area",
                                                      "Nightclub", "Hospital", "Shopping Area")])
    assert 0.02 < places.mean() < 0.3  # mostly streets, a few place labels
    # Repeated points share their label, as police.uk snap points do.
    keys = incidents["x"].round(0).astype(str) + incidents["y"].round(0).astype(str)
    assert (labels.groupby(keys).nunique() == 1).all()
    # The police.uk files carry the incidents' own labels.
    rows = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in files])
    months = incidents["occurred_at"].dt.strftime("%Y-%m")
    order = np.argsort(months.to_numpy(), kind="stable")
    assert rows["Location"].tolist() == labels.iloc[order].tolist()


def test_policeuk_points_round_trip(policeuk):
    incidents, _, files = policeuk
    rows = pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
    months = incidents["occurred_at"].dt.strftime("%Y-%m")
    order = np.argsort(months.to_numpy(), kind="stable")
    back = gpd.GeoSeries(gpd.points_from_xy(rows["Longitude"], rows["Latitude"]), crs="EPSG:4326")
    back = back.to_crs("EPSG:27700")
    dist = back.distance(to_geodataframe(incidents).geometry.iloc[order].reset_index(drop=True))
    assert dist.max() < 0.2  # six decimals of a degree are about 0.1 m


def test_policeuk_crime_ids_are_stable(policeuk, tmp_path):
    incidents, _, files = policeuk
    again = write_policeuk_csv(incidents, tmp_path)
    for a, b in zip(files, again, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_default_end_is_a_sunday():
    assert DEFAULT_END.weekday() == 6
    assert re.fullmatch(r"2025-07-27", DEFAULT_END.isoformat())
