"""rank_hotspots, rank_wards and the default period: input checks first, then the output contract."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import esda
import libpysal
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from hotspots import InputError
from hotspots.binning import study_area
from hotspots.periods import parse_period
from hotspots.ranking import (
    HOTSPOT_COLUMNS,
    WARD_TABLE_COLUMNS,
    latest_complete_period,
    rank_hotspots,
    rank_wards,
    window_period,
)
from hotspots.schema import to_geodataframe
from hotspots.selection import period_slots
from tests.hotspots.hexes import ASB, VIOLENCE, WHOLE_2025, centre, incidents, two_wards, week_day


@pytest.fixture
def wards():
    return two_wards()


# Three cells well inside the hand-made wards (W1 west, W2 east).
A = centre(53.7945, -1.5410)   # W1
B = centre(53.7945, -1.5205)   # W2
C_ = centre(53.7970, -1.5330)  # W1, away from A


@pytest.fixture
def weekly(settings):
    """A tiny week-by-week history ending 2025-W23."""
    rows = []
    # A: 1 last week, 5 this week. B: 12 this week only. C: steady 1 a week for eight weeks.
    rows.append((A, week_day("2025-W22"), ASB, 1))
    rows.append((A, week_day("2025-W23"), ASB, 5))
    rows.append((B, week_day("2025-W23", 3), ASB, 12))
    for w in range(16, 24):
        rows.append((C_, week_day(f"2025-W{w}", 1), ASB, 1))
    rows.append((A, week_day("2025-W23"), VIOLENCE, 2))  # another category
    rows.append(((425000.0, 425000.0, 0), week_day("2025-W23"), ASB, 3))  # far outside the wards
    return incidents(rows, settings)


# ----------------------------------------------------------------------------- input checks


def test_incidents_are_checked(weekly, wards, settings):
    kw = {"category": "asb", "period": "2025-W23", "wards": wards, "settings": settings}
    with pytest.raises(InputError, match=r"^`incidents` must be a DataFrame of incidents, an IncidentStore or the path of one, not list\.$"):
        rank_hotspots([1, 2], **kw)
    with pytest.raises(InputError, match=r"^`incidents` lacks the column\(s\) x, y; expected the incident data model's columns"):
        rank_hotspots(weekly.drop(columns=["x", "y"]), **kw)
    points = to_geodataframe(weekly)
    with pytest.raises(InputError, match=r"^`incidents` lacks the column\(s\) category, harm; expected the incident data model's columns \(load incidents with IncidentStore\.load or hotspots\.ingest\)\.$"):
        rank_hotspots(weekly.drop(columns=["harm", "category"]), **kw)
    with pytest.raises(InputError, match=r"^`incidents` has no CRS; incidents are in EPSG:27700 \(use set_crs\('EPSG:27700'\) if they are\)\.$"):
        rank_hotspots(points.set_crs(None, allow_override=True), **kw)
    with pytest.raises(InputError, match=r"^`incidents` contains zero rows\. Has a filter removed every row\?$"):
        rank_hotspots(weekly.iloc[:0], **kw)
    with pytest.raises(InputError, match=r"^`incidents` column occurred_at is str, not a datetime; build incidents with hotspots\.schema\.make_incidents\.$"):
        rank_hotspots(weekly.assign(occurred_at=weekly["occurred_at"].astype(str)), **kw)
    bad = weekly.copy()
    bad.loc[3, "harm"] = np.nan
    with pytest.raises(InputError, match=r"^`incidents` row 3 has harm nan; harm must be a non-negative number of days \(1 row\(s\) affected\)\.$"):
        rank_hotspots(bad, **kw)
    bad = weekly.copy()
    bad.loc[4, "y"] = np.nan
    with pytest.raises(InputError, match=r"^`incidents` row 4 has no point location \(x, y\); every row needs one \(1 row\(s\) affected\)\.$"):
        rank_hotspots(bad, **kw)
    bad.loc[4, "category"] = "other"  # rows not selected are not checked
    rank_hotspots(bad, **kw)


def test_arguments_are_checked(weekly, wards, settings):
    kw = {"period": "2025-W23", "wards": wards, "settings": settings}
    with pytest.raises(InputError, match=r"^`category` is 'violence'; allowed values: asb, serious_violence, other, all\.$"):
        rank_hotspots(weekly, category="violence", **kw)
    with pytest.raises(InputError, match=r"^`weight` is 'days'; allowed values: harm, count\.$"):
        rank_hotspots(weekly, category="asb", weight="days", **kw)
    for top in (0, 2.5, True):
        with pytest.raises(InputError, match=r"^`top` must be a whole number of at least 1 \(or None for every cell\), not .+\.$"):
            rank_hotspots(weekly, category="asb", top=top, **kw)
    with pytest.raises(InputError, match=r"^`resolution` is 14; allowed H3 resolutions are 5 to 13"):
        rank_hotspots(weekly, category="asb", resolution=14, **kw)
    with pytest.raises(InputError, match=r"^period 'last week' is not understood; expected an ISO week"):
        rank_hotspots(weekly, category="asb", period="last week", wards=wards, settings=settings)
    with pytest.raises(InputError, match=r"^`wards` must be a GeoDataFrame or a ward spec \('priority', 'all' or codes\), not int\.$"):
        rank_hotspots(weekly, category="asb", period="2025-W23", wards=5, settings=settings)
    with pytest.raises(InputError, match=r"^ward 'E05999999' is not in the boundary file; use a ward code such as"):
        rank_hotspots(weekly, category="asb", period="2025-W23", wards="E05999999", settings=settings)


def test_a_week_of_monthly_data_suggests_the_month(wards, settings):
    monthly = incidents([(A, pd.Timestamp("2025-06-01"), ASB, 3), (B, pd.Timestamp("2025-05-01"), ASB, 2)],
                        settings, precision="month")
    with pytest.raises(InputError, match=r"^period '2025-W22' is a week, but 5 of the incidents analysed with it carry only their month \(police\.uk publishes months, not days\); analyse the month instead, e\.g\. '2025-05'\.$"):
        rank_hotspots(monthly, category="asb", period="2025-W22", wards=wards, settings=settings)
    with pytest.raises(InputError, match=r"^period '2025-06-01\.\.2025-06-14' is a date range, but 3 of the incidents analysed with it"):
        rank_wards(monthly, category="asb", period="2025-06-01..2025-06-14", wards=wards, settings=settings)
    # The month itself, and whole months as a date range, are fine.
    got = rank_hotspots(monthly, category="asb", period="2025-06", wards=wards, settings=settings)
    assert got["count"].sum() == 3
    got = rank_hotspots(monthly, category="asb", period="2025-05-01..2025-06-30", wards=wards, settings=settings)
    assert got["count"].sum() == 5


# ----------------------------------------------------------------------------- output contract


def test_columns_dtypes_and_one_row_per_cell(weekly, wards, settings):
    before = weekly.copy()
    got = rank_hotspots(weekly, category="asb", period="2025-W23", wards=wards, settings=settings)
    pd.testing.assert_frame_equal(weekly, before)  # the input is not changed
    assert got.columns.tolist() == HOTSPOT_COLUMNS
    expected = {"h3_cell": "uint64", "ward_code": "str", "ward_name": "str", "count": "int64",
                "harm": "float64", "gi_z": "float64", "gi_p": "float64", "hot": "bool", "near_hot": "bool",
                "change": "Int64", "change_pct": "float64", "change_significant": "boolean",
                "trend": "str", "rank": "int64", "reason": "str"}
    assert {c: str(got[c].dtype) for c in expected} == expected
    assert got.crs.to_epsg() == 27700
    assert (got.geom_type == "Polygon").all()
    area = study_area(wards, resolution=10)
    assert len(got) == area.n
    assert sorted(got["h3_cell"].tolist()) == area.cells.tolist()
    np.testing.assert_array_equal(got["rank"], np.arange(1, area.n + 1))
    assert got.index.equals(pd.RangeIndex(area.n))
    assert got.attrs["period"] == "2025-W23" and got.attrs["previous_period"] == "2025-W22"
    assert got.attrs["outside"] == 3 and got.attrs["incidents"] == 18


def test_counts_harm_and_change(weekly, wards, settings):
    got = rank_hotspots(weekly, category="asb", period="2025-W23", wards=wards, settings=settings,
                        coverage=WHOLE_2025).set_index("h3_cell")
    a, b, c = got.loc[A[2]], got.loc[B[2]], got.loc[C_[2]]
    assert (a["count"], a["change"], a["ward_code"]) == (5, 4, "W1")
    np.testing.assert_allclose([a["harm"], a["change_pct"]], [5.0, 400.0])
    assert not a["change_significant"]  # 1 -> 5 could be chance
    assert (b["count"], b["change"], b["ward_code"], b["ward_name"]) == (12, 12, "W2", "East")
    assert np.isnan(b["change_pct"]) and b["change_significant"]  # 0 -> 12 is not
    assert (c["count"], c["change"]) == (1, 0)
    np.testing.assert_allclose(c["change_pct"], 0.0)
    others = got.drop(index=[A[2], B[2], C_[2]])
    assert (others["count"] == 0).all()
    # Serious violence counts only the two violent incidents, weighted by their harm.
    sv = rank_hotspots(weekly, category="serious_violence", period="2025-W23", wards=wards,
                       settings=settings, coverage=WHOLE_2025).set_index("h3_cell")
    assert sv["count"].sum() == 2
    np.testing.assert_allclose(sv.loc[A[2], "harm"], 2 * settings.harm_days[VIOLENCE])
    everything = rank_hotspots(weekly, category="all", period="2025-W23", wards=wards, settings=settings)
    assert everything["count"].sum() == 20


def esda_z(y, neighbours):
    m = neighbours.tolil()
    nb = {i: [j for j in m.rows[i] if j != i] for i in range(m.shape[0])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.W(nb, silence_warnings=True)
        return esda.G_Local(np.asarray(y, dtype=float), w, transform="B", star=True, permutations=0).Zs


@pytest.mark.parametrize("weight", ["harm", "count"])
def test_gi_star_and_hot_cells(weekly, wards, settings, weight):
    got = rank_hotspots(weekly, category="all", period="2025-W23", wards=wards, weight=weight,
                        settings=settings)
    area = study_area(wards, resolution=10)
    by_cell = got.set_index("h3_cell").loc[area.cells]
    y = by_cell["harm"] if weight == "harm" else by_cell["count"]
    np.testing.assert_allclose(by_cell["gi_z"], esda_z(y, area.neighbours), atol=1e-6, rtol=0)
    from scipy import stats
    # gi_p: exact Poisson tail of the local count (cell + neighbours) at the study-area mean.
    local = area.neighbours @ by_cell["count"].to_numpy(dtype=float)
    lam = np.asarray(area.neighbours.sum(axis=1)).ravel() * by_cell["count"].mean()
    tails = np.minimum(stats.poisson.sf(local - 1, lam), stats.poisson.cdf(local, lam))
    np.testing.assert_allclose(by_cell["gi_p"], np.minimum(1.0, 2 * tails))
    bh = stats.false_discovery_control(by_cell["gi_p"], method="bh") <= settings.fdr_alpha
    cluster = bh & (by_cell["gi_z"] > 0)
    # Hot: significant, positive and holding an incident; an empty cell of a cluster is only near.
    np.testing.assert_array_equal(by_cell["hot"], cluster & (by_cell["count"] >= 1))
    np.testing.assert_array_equal(by_cell["near_hot"], cluster & (by_cell["count"] == 0))
    assert by_cell["near_hot"].any() and by_cell["hot"].any()
    # Hot cells rank first, then the other cells with incidents by the weight, then empty cells.
    n_hot = int(got["hot"].sum())
    assert got["hot"].iloc[:n_hot].all()
    busy = int((got["count"] > 0).sum())
    assert (got["count"].iloc[:busy] > 0).all() and (got["count"].iloc[busy:] == 0).all()
    for part in (got.iloc[:n_hot], got.iloc[n_hot:busy]):
        key = part["harm"] if weight == "harm" else part["count"]
        assert key.is_monotonic_decreasing
    near = got[got["near_hot"]]
    assert near["reason"].str.contains("next to a hotspot").all()
    assert not near["reason"].str.contains("; a hotspot").any()


def test_trend_classes_and_reasons(settings, wards):
    rows = []
    noise = [centre(53.7935 + 0.0009 * k, -1.5385 + 0.0021 * (k % 5)) for k in range(10)]
    for w in range(16, 24):
        for p in noise:
            rows.append((p, week_day(f"2025-W{w}", 4), ASB, 1))
        rows.append((A, week_day(f"2025-W{w}"), ASB, max(5, 2 + 3 * (w - 16))))  # rising, hot every week
    rows.append((B, week_day("2025-W23"), ASB, 15))  # new this week
    frame = incidents(rows, settings)
    got = rank_hotspots(frame, category="asb", period="2025-W23", wards=wards, settings=settings,
                        coverage=WHOLE_2025).set_index("h3_cell")
    assert got.loc[A[2], "trend"] == "intensifying"
    assert got.loc[B[2], "trend"] == "new"
    reason = got.loc[A[2], "reason"]
    assert re.fullmatch(r"23 ASB incidents, harm 23, up 3 on last week; a hotspot \(Gi\* z \d+\.\d\); "
                        r"intensifying: a hotspot in 8 of the last 8 weeks", reason), reason
    assert got.loc[B[2], "reason"].startswith("15 ASB incidents, harm 15, up 15 on last week (a significant rise); a hotspot")
    quiet = got[(got["count"] == 0) & ~got["hot"] & (got["trend"] == "none")]
    assert (quiet["reason"].str.startswith("no ASB incidents in the last 8 weeks") | quiet["reason"].str.startswith("no ASB incidents this week")).all()


def test_top_keeps_the_best(weekly, wards, settings):
    full = rank_hotspots(weekly, category="asb", period="2025-W23", wards=wards, settings=settings)
    top = rank_hotspots(weekly, category="asb", period="2025-W23", wards=wards, top=3, settings=settings)
    assert len(top) == 3
    assert_geodataframe_equal(top.drop(columns="reason"), full.head(3).drop(columns="reason"))


def test_incidents_in_lat_lng_give_the_same_ranking(weekly, wards, settings):
    """A GeoDataFrame of points in any CRS is taken as well as `x`, `y`."""
    a = rank_hotspots(weekly, category="asb", period="2025-W23", wards=wards, settings=settings)
    b = rank_hotspots(to_geodataframe(weekly).to_crs(4326), category="asb", period="2025-W23",
                      wards=wards.to_crs(4326), settings=settings)
    pd.testing.assert_series_equal(a["h3_cell"], b["h3_cell"])
    pd.testing.assert_series_equal(a["count"], b["count"])


def test_priority_wards_by_default(settings):
    rows = [((431000.0, 432400.0, 0), week_day("2025-W23"), ASB, 2)]  # Hunslet & Riverside area
    got = rank_hotspots(incidents(rows, settings), category="asb", period="2025-W23", settings=settings)
    assert got.attrs["wards"] == sorted(settings.priority_wards)
    assert set(got["ward_code"]) <= set(settings.priority_wards)


def test_period_slots_follow_local_midnight_across_the_clock_change():
    periods = parse_period("2025-W43").history(2)  # W42, W43 (clocks go back on 26 October)
    times = pd.Series(pd.to_datetime(["2025-10-19 23:30", "2025-10-20 00:30", "2025-10-26 23:59",
                                      "2025-10-27 00:00", "2025-10-12 12:00"]).tz_localize("Europe/London"))
    np.testing.assert_array_equal(period_slots(times, periods, tz="Europe/London"), [0, 1, 1, -1, -1])


def test_window_period(settings):
    assert window_period("2025-W23", settings=settings).label == "2025-04-14..2025-06-08"
    assert window_period("2025-06", settings=settings).label == "2025-01-01..2025-06-30"
    assert window_period("2025-06", n=2, settings=settings).label == "2025-05-01..2025-06-30"


# ----------------------------------------------------------------------------- ward table


def test_ward_table_checks(weekly, wards, settings):
    with pytest.raises(InputError, match=r"^`category` is 'x'; allowed values: asb, serious_violence, other, all\.$"):
        rank_wards(weekly, category="x", period="2025-W23", wards=wards, settings=settings)
    with pytest.raises(InputError, match=r"^`incidents` contains zero rows\."):
        rank_wards(weekly.iloc[:0], category="asb", period="2025-W23", wards=wards, settings=settings)


def test_ward_table(settings, wards):
    near_edge = (431499.0, 433500.0, 0)  # in W1 by point in polygon, whatever its cell's majority
    rows = [(A, week_day("2025-W23"), ASB, 6), (near_edge, week_day("2025-W23"), ASB, 2),
            (B, week_day("2025-W23"), ASB, 2), (B, week_day("2025-W22"), ASB, 10),
            ((425000.0, 425000.0, 0), week_day("2025-W23"), ASB, 4)]
    got = rank_wards(incidents(rows, settings), category="asb", period="2025-W23", wards=wards,
                     weight="count", settings=settings, coverage=WHOLE_2025)
    assert got.columns.tolist() == WARD_TABLE_COLUMNS
    assert got["ward_code"].tolist() == ["W1", "W2"]
    np.testing.assert_array_equal(got["count"], [8, 2])
    assert got["previous_count"].tolist() == [0, 10]
    assert got["change"].tolist() == [8, -8]
    np.testing.assert_allclose(got["change_pct"], [np.nan, -80.0])
    assert got["change_significant"].tolist() == [True, True]
    np.testing.assert_allclose(got["area_km2"], [1.5 * 1.2, 1.1 * 1.0])
    np.testing.assert_allclose(got["count_per_km2"], [8 / 1.8, 2 / 1.1])
    np.testing.assert_allclose(got["share_pct"], [80.0, 20.0])
    np.testing.assert_allclose(got["harm_share_pct"].sum(), 100.0)
    np.testing.assert_array_equal(got["rank"], [1, 2])
    assert got.attrs["unassigned"] == 4
    assert got.crs.to_epsg() == 27700


# ----------------------------------------------------------------------------- default period


def test_latest_complete_period(settings):
    daily = incidents([(A, pd.Timestamp("2025-06-08 22:00"), ASB, 1)], settings)  # a Sunday
    assert latest_complete_period(daily, settings=settings).label == "2025-W23"
    midweek = incidents([(A, pd.Timestamp("2025-06-11 10:00"), ASB, 1)], settings)
    assert latest_complete_period(midweek, settings=settings).label == "2025-W23"
    assert latest_complete_period(midweek, kind="month", settings=settings).label == "2025-05"
    month_end = incidents([(A, pd.Timestamp("2025-06-30 10:00"), ASB, 1)], settings)
    assert latest_complete_period(month_end, kind="month", settings=settings).label == "2025-06"
    monthly = incidents([(A, pd.Timestamp("2025-06-01"), ASB, 1)], settings, precision="month")
    assert latest_complete_period(monthly, settings=settings).label == "2025-06"
    with pytest.raises(InputError, match=r"^the latest incidents carry only their month \(police\.uk\); analyse months, e\.g\. '2025-06'\.$"):
        latest_complete_period(monthly, kind="week", settings=settings)
    with pytest.raises(InputError, match=r"^there are no serious_violence incidents; load some first \(hotspots ingest or demo\)\.$"):
        latest_complete_period(monthly, category="serious_violence", settings=settings)
    assert dt.date(2025, 6, 1) == latest_complete_period(monthly, settings=settings).start.date()
