"""Impact of designated hotspots: synthetic stores with a known effect (or none) and what the
figures and the plain reading say about them. Seeded throughout."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from hotspots.errors import InputError
from hotspots.impact import (
    DesignatedArea,
    ImpactData,
    hotspot_impact,
    impact_windows,
    programme_impact,
    rate_ratio,
    relative_change,
    wdq,
)
from hotspots.schema import make_incidents

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
RES = 10
#: A cell in Armley (Leeds); the designated area is it and its six neighbours.
CENTRE = h3.latlng_to_cell(53.7990, -1.5900, RES)
AREA = sorted(h3.grid_disk(CENTRE, 1))
RING = sorted(set(h3.grid_disk(CENTRE, 2)) - set(AREA))
#: Comparison cells: a band further out (rings 4 to 7).
FAR = sorted(set(h3.grid_disk(CENTRE, 7)) - set(h3.grid_disk(CENTRE, 3)))
START = dt.date(2025, 3, 3)
FIRST = dt.date(2024, 1, 1)
END = dt.date(2025, 7, 1)  # exclusive


def _xy(cell: str) -> tuple[float, float]:
    lat, lng = h3.cell_to_latlng(cell)
    return TO_BNG.transform(lng, lat)


def one_ward() -> gpd.GeoDataFrame:
    """A box ward around every cell used, and a second ward far away."""
    pts = np.array([_xy(c) for c in h3.grid_disk(CENTRE, 9)])
    lo, hi = pts.min(axis=0) - 200, pts.max(axis=0) + 200
    return gpd.GeoDataFrame({"ward_code": ["W1", "W2"], "ward_name": ["Here", "Far away"]},
                            geometry=[shapely.box(lo[0], lo[1], hi[0], hi[1]),
                                      shapely.box(hi[0] + 5000, lo[1], hi[0] + 8000, hi[1])],
                            crs=27700)


def synthetic(settings, *, seed: int, effect: float = 1.0, area_rate: float = 0.12,
              far_rate: float = 0.05, ring_rate: float = 0.05, ring_after: float | None = None,
              first: dt.date = FIRST, end: dt.date = END, start: dt.date = START,
              extra: dict[str, float] | None = None) -> gpd.GeoDataFrame:
    """ASB incidents per cell and day, Poisson: the area's daily rate is multiplied by `effect`
    from `start` on; the ring's becomes `ring_after` (when given); the far cells stay as they are.
    `extra` maps cells to their own constant rate (replacing the above)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, end - dt.timedelta(days=1), freq="D")
    after = np.asarray(days.date >= start)
    rates: dict[str, np.ndarray] = {}
    for c in AREA:
        rates[c] = np.where(after, area_rate * effect, area_rate)
    for c in RING:
        rates[c] = np.where(after, ring_rate if ring_after is None else ring_after, ring_rate)
    for c in FAR:
        rates[c] = np.full(len(days), far_rate)
    for c, r in (extra or {}).items():
        rates[c] = np.full(len(days), r)
    xs, ys, times = [], [], []
    for c, r in rates.items():
        n = rng.poisson(r)
        x, y = _xy(c)
        day_of = np.repeat(days.to_numpy(), n)
        minutes = rng.integers(0, 24 * 60, len(day_of))
        times.append(day_of + minutes.astype("timedelta64[m]"))
        xs.append(np.full(len(day_of), x))
        ys.append(np.full(len(day_of), y))
    t = np.concatenate(times)
    n = len(t)
    return make_incidents(incident_id=[f"i{i}" for i in range(n)], occurred_at=pd.Series(t),
                          time_precision="minute", crime_type=["Anti-social behaviour"] * n,
                          x=np.concatenate(xs), y=np.concatenate(ys), source="test", settings=settings)


def monthly(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same incidents as police.uk gives them: the first of the month, month precision."""
    out = frame.copy()
    t = out["occurred_at"]
    out["occurred_at"] = (t.dt.tz_localize(None).dt.to_period("M").dt.start_time
                          .dt.tz_localize(t.dt.tz))
    out["time_precision"] = pd.Categorical(["month"] * len(out), dtype=out["time_precision"].dtype)
    return out


# --------------------------------------------------------------------------- statistics


def test_rate_ratio_is_exact_and_uses_exposure():
    ratio, low, high, p = rate_ratio(10, 10, after_days=30, before_days=30)
    assert ratio == 1.0 and p == pytest.approx(1.0)
    assert low < 1 < high
    # Half the exposure after with the same count: the rate doubled.
    ratio, low, high, _ = rate_ratio(10, 10, after_days=15, before_days=30)
    assert ratio == pytest.approx(2.0)
    assert low < 2 < high
    # scipy's exact Poisson comparison agrees on significance for a clear fall.
    from scipy.stats import poisson_means_test

    _, _, _, p = rate_ratio(5, 30, after_days=90, before_days=90)
    assert p < 0.001
    assert poisson_means_test(5, 90, 30, 90).pvalue < 0.001
    assert rate_ratio(0, 0, after_days=30, before_days=30) == (None, None, None, None)


def test_relative_change_is_the_ratio_of_rate_ratios():
    rel = relative_change((20, 40), (100, 100))
    np.testing.assert_allclose(rel.ratio, 0.5, rtol=0.05)  # conditional MLE, close to 20*100/(40*100)
    assert rel.low < 0.5 < rel.high < 1
    assert rel.p_value < 0.05
    assert relative_change((0, 0), (10, 10)).ratio is None


def test_wdq_signs():
    # Area fell against the comparison; buffer fell too: diffusion of benefit (WDQ > 0).
    assert wdq((50, 100), (80, 100), (100, 100)) > 0
    # Buffer rose while the area fell: displacement (WDQ < 0).
    assert wdq((50, 100), (130, 100), (100, 100)) < 0
    assert wdq((50, 100), (80, 100), (0, 100)) is None


def test_windows_by_day_and_by_month():
    w = impact_windows(START, as_of=dt.date(2025, 4, 2), unit="day")
    assert (w.after.start.date(), w.after.end.date()) == (START, dt.date(2025, 4, 2))
    assert w.before.days == w.after.days == 30
    assert w.before.end.date() == START
    assert w.year_after.start.date() == START - dt.timedelta(days=364)
    m = impact_windows(dt.date(2025, 3, 15), as_of=dt.date(2025, 7, 1), unit="month")
    # After: April to June; before: December to February; March (the start's month) left out.
    assert (m.after.start.date(), m.after.end.date()) == (dt.date(2025, 4, 1), dt.date(2025, 7, 1))
    assert (m.before.start.date(), m.before.end.date()) == (dt.date(2024, 12, 1), dt.date(2025, 3, 1))
    assert m.length == 3
    assert m.year_before.start.date() == dt.date(2023, 12, 1)
    gap = impact_windows(dt.date(2025, 3, 15), as_of=dt.date(2025, 7, 1), unit="month",
                         coverage=["2024-12", "2025-02", "2025-04", "2025-05", "2025-06"])
    assert gap.before.missing_months == ("2025-01",)
    assert gap.before.covered_days == 31 + 28


# --------------------------------------------------------------------------- known effects


@pytest.fixture(scope="module")
def effect_store(tmp_path_factory):
    from hotspots.settings import get_settings

    settings = get_settings(tmp_path_factory.mktemp("impact"))
    return settings, synthetic(settings, seed=1, effect=0.5)


def test_a_known_fall_is_recovered_within_its_interval(effect_store):
    settings, frame = effect_store
    r = hotspot_impact(frame, AREA, start=START, category="asb", wards=one_ward(), settings=settings)
    assert r.status == "measured"
    assert r.windows.unit == "day"
    assert r.verdict == "fall"
    assert r.relative.low <= 0.5 <= r.relative.high
    assert r.relative.high < 1
    assert r.area.low <= 0.5 <= r.area.high
    # The comparison did not change: its interval holds 1.
    assert r.comparison.low <= 1 <= r.comparison.high
    assert r.area.before > r.area.after > 0
    assert "down" in r.headline and "more than chance" in r.headline
    assert "not more than chance" not in r.headline
    # The far-away ward is not part of the comparison: its cells have no incidents here anyway,
    # and the comparison holds every far cell's incidents.
    assert r.comparison.before > 0
    d = r.to_dict()
    assert d["verdict"] == "fall" and d["windows"]["after"]["start"] == START.isoformat()


def test_no_effect_gives_not_more_than_chance(settings):
    frame = synthetic(settings, seed=2, effect=1.0)
    r = hotspot_impact(frame, AREA, start=START, category="asb", wards=one_ward(), settings=settings)
    assert r.status == "measured"
    assert r.verdict == "no_clear_change"
    assert "not more than chance" in r.headline
    assert r.relative.low <= 1 <= r.relative.high


@pytest.mark.parametrize("seed", [10, 11, 12, 13, 14])
def test_no_effect_across_seeds_is_never_called_an_effect_when_counts_are_tiny(seed, settings):
    frame = synthetic(settings, seed=seed, effect=1.0, area_rate=0.002, far_rate=0.01)
    r = hotspot_impact(frame, AREA, start=START, category="asb", settings=settings,
                       as_of=dt.date(2025, 4, 14))
    # A handful of incidents: whatever the counts, a change is not called.
    assert r.verdict in (None, "no_clear_change")
    assert r.status in ("measured", "no_incidents")


def test_too_short_since_the_start_says_so(effect_store):
    settings, frame = effect_store
    r = hotspot_impact(frame, AREA, start=END - dt.timedelta(days=10), category="asb", settings=settings)
    assert r.status == "too_short"
    assert r.verdict is None
    assert r.headline.startswith("Too soon to tell")
    assert "10 covered day" in r.headline


def test_no_data_before_the_start(effect_store):
    settings, frame = effect_store
    r = hotspot_impact(frame, AREA, start=FIRST, category="asb",
                       as_of=FIRST + dt.timedelta(days=60), settings=settings,
                       coverage=["2024-01", "2024-02", "2024-03"])
    # Before the first day of data nothing is covered.
    assert r.status == "no_baseline"
    assert "No data for the" in r.headline


def test_month_precision_uses_whole_months_and_drops_the_start_month(effect_store):
    settings, frame = effect_store
    r = hotspot_impact(monthly(frame), AREA, start=dt.date(2025, 3, 12), category="asb",
                       wards=one_ward(), settings=settings)
    assert r.windows.unit == "month"
    assert r.as_of == dt.date(2025, 7, 1)
    assert r.windows.after.start.date() == dt.date(2025, 4, 1)
    assert r.windows.before.end.date() == dt.date(2025, 3, 1)
    assert r.windows.length == 3
    assert any("months only" in n for n in r.notes)
    # The effect (which began on 3 March) shows in April to June against December to February.
    assert r.verdict == "fall"
    assert r.relative.low <= 0.5 <= r.relative.high


def test_month_precision_one_month_after_is_too_soon(effect_store):
    settings, frame = effect_store
    r = hotspot_impact(monthly(frame), AREA, start=dt.date(2025, 6, 10), category="asb", settings=settings)
    assert r.status == "too_short"
    assert "months only" in r.headline


def test_missing_months_are_left_out_not_counted_as_zero(effect_store):
    settings, frame = effect_store
    covered = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)
               if (y, m) != (2025, 1) and (y < 2025 or m <= 6)]
    # Drop January 2025's incidents, as when its file was never loaded.
    t = frame["occurred_at"]
    gap = frame[~((t.dt.year == 2025) & (t.dt.month == 1)).to_numpy()]
    full = hotspot_impact(frame, AREA, start=START, category="asb", settings=settings)
    holed = hotspot_impact(gap, AREA, start=START, category="asb", settings=settings,
                           coverage=covered)
    assert "2025-01" in holed.windows.before.missing_months
    assert holed.windows.before.covered_days < full.windows.before.covered_days
    assert any("2025-01" in n for n in holed.notes)
    # As rates per covered day the estimate stays near the truth instead of inventing a rise.
    assert holed.area.low <= 0.5 <= holed.area.high
    assert "rates per covered day" in holed.headline


def test_displacement_into_the_buffer_gives_a_negative_wdq(settings):
    frame = synthetic(settings, seed=4, effect=0.4, ring_rate=0.05, ring_after=0.12)
    r = hotspot_impact(frame, AREA, start=START, category="asb", settings=settings)
    assert r.verdict == "fall"
    assert r.wdq is not None and r.wdq < 0
    assert any("displacement" in line for line in r.reading)
    frame = synthetic(settings, seed=5, effect=0.4, ring_rate=0.05, ring_after=0.03)
    r = hotspot_impact(frame, AREA, start=START, category="asb", settings=settings)
    assert r.wdq is not None and r.wdq > 0
    assert any("diffusion of benefit" in line for line in r.reading)


def test_matched_comparison_guards_against_regression_to_the_mean(settings):
    """Every cell has the same rate; the designated cells are the busiest before the start. With
    no effect at all they fall back (regression to the mean): the ward comparison calls that a
    fall, the matched comparison (cells just as busy before) does not."""
    cells = sorted(h3.grid_disk(CENTRE, 9))
    frame = synthetic(settings, seed=6, area_rate=0, far_rate=0, ring_rate=0,
                      extra=dict.fromkeys(cells, 0.03), first=dt.date(2024, 10, 1))
    data = ImpactData(frame, wards=one_ward(), settings=settings)
    before = frame[(frame["occurred_at"] >= pd.Timestamp("2024-11-01", tz="Europe/London"))
                   & (frame["occurred_at"] < pd.Timestamp("2025-03-01", tz="Europe/London"))]
    counts = before.assign(c=data.cells(RES)[before.index]).groupby("c").size()
    busiest = counts.sort_values(ascending=False, kind="stable").index[:6].to_numpy()
    start = dt.date(2025, 3, 1)
    wards_r = hotspot_impact(data, busiest, start=start, category="asb", comparison="wards",
                             as_of=dt.date(2025, 7, 1))
    matched = hotspot_impact(data, busiest, start=start, category="asb", comparison="matched",
                             as_of=dt.date(2025, 7, 1), seed=0)
    assert wards_r.area.ratio < 0.8  # the busiest cells fell back on their own
    assert matched.verdict == "no_clear_change"
    assert matched.relative.low <= 1 <= matched.relative.high
    assert matched.comparison.cells > 0
    assert any("regression to the mean" in n for n in wards_r.notes)
    # Seeded: the same seed picks the same cells.
    again = hotspot_impact(data, busiest, start=start, category="asb", comparison="matched",
                           as_of=dt.date(2025, 7, 1), seed=0)
    assert again.comparison == matched.comparison


def test_programme_pools_its_hotspots_and_keeps_them_out_of_each_others_comparison(effect_store):
    settings, frame = effect_store
    other = [c for c in FAR[:3]]
    areas = [DesignatedArea(tuple(AREA), START, "asb", "Area", 1),
             DesignatedArea(tuple(other), START, "asb", "Far", 2),
             DesignatedArea(tuple(AREA), END - dt.timedelta(days=3), "serious_violence", "New", 3)]
    p = programme_impact(frame, areas, settings=settings)
    assert [h.key for h in p.hotspots] == [1, 2, 3]
    one = p.hotspots[0]
    alone = hotspot_impact(frame, AREA, start=START, category="asb", settings=settings)
    # Hotspot 2's cells are not comparison cells of hotspot 1.
    assert one.comparison.before < alone.comparison.before
    assert p.hotspots[2].status == "too_short"
    assert p.pooled["asb"]["measured"] == 2
    assert p.pooled["asb"]["area"]["before"] == one.area.before + p.hotspots[1].area.before
    assert p.pooled["serious_violence"]["verdict"] is None
    assert "none of the 1" in p.pooled["serious_violence"]["reading"]
    assert p.to_dict()["hotspots"][0]["key"] == 1


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"category": "burglary"}, "`category` is 'burglary'"),
    ({"comparison": "nearby"}, "`comparison` is 'nearby'"),
    ({"buffer_k": 3}, "`buffer_k` is 3"),
    ({"start": "2025-13-01"}, "`start` is '2025-13-01'"),
])
def test_bad_arguments_are_named(effect_store, kwargs, words):
    settings, frame = effect_store
    args = {"start": START, "category": "asb", **kwargs}
    with pytest.raises(InputError, match=words.replace("*", r"\*")):
        hotspot_impact(frame, AREA, settings=settings, **args)


def test_bad_cells_are_named(effect_store):
    settings, frame = effect_store
    with pytest.raises(InputError, match="not an H3 cell"):
        hotspot_impact(frame, ["not-a-cell"], start=START, category="asb", settings=settings)
    with pytest.raises(InputError, match="one H3 resolution"):
        hotspot_impact(frame, [AREA[0], h3.cell_to_parent(AREA[0], 9)], start=START, category="asb",
                       settings=settings)
    with pytest.raises(InputError, match="at least one cell"):
        hotspot_impact(frame, [], start=START, category="asb", settings=settings)


def test_frame_without_columns_is_refused(settings):
    with pytest.raises(InputError, match="lacks the column"):
        hotspot_impact(pd.DataFrame({"x": [1.0]}), AREA, start=START, category="asb", settings=settings)


def test_the_stores_coverage_is_used(home, effect_store):
    """A police.uk-style store with January 2025 never loaded: impact leaves the month out."""
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore

    _, frame = effect_store
    settings = get_settings(home)
    t = frame["occurred_at"]
    store = IncidentStore(home, settings=settings)
    store.add(monthly(frame[~((t.dt.year == 2025) & (t.dt.month == 1)).to_numpy()]))
    coverage = store.coverage()
    r = hotspot_impact(store.load(), AREA, start=dt.date(2025, 3, 1), category="asb",
                       coverage=coverage, settings=settings)
    assert r.windows.unit == "month"
    assert r.windows.before.missing_months == ("2025-01",)
    assert r.windows.before.covered_days == 30 + 31 + 28  # November, December and February
    assert r.status == "measured"
    # Without the coverage the same frame gives the same answer (inferred from the incidents).
    again = hotspot_impact(store.load(), AREA, start=dt.date(2025, 3, 1), category="asb", settings=settings)
    assert again.windows.before.missing_months == ("2025-01",)


def test_a_closed_hotspots_after_window_ends_at_its_closure(effect_store):
    settings, frame = effect_store
    end = dt.date(2025, 5, 1)
    p = programme_impact(frame, [DesignatedArea(tuple(AREA), START, "asb", "Closed", 1, end=end)],
                         settings=settings)
    r = p.hotspots[0]
    assert r.as_of == end
    assert r.windows.after.end.date() == end
    assert r.windows.before.days == (end - START).days
