"""Impact of designated hotspots: incidents and harm before and after each start, against a
comparison area and a buffer ring, with exact intervals suited to small counts.

Pure functions over an incident frame (DESIGN.md, "The hotspot programme"). For one designated
area and its start date:

- **Windows.** The time since the start (up to `as_of`) and the same length of time just before it;
  the same two windows a year earlier show the season. Police.uk data gives only the month, so
  with month-precision incidents the windows are whole months and the month holding the start
  (partly before, partly after) is left out.
- **Coverage.** Only covered time counts (`hotspots.coverage.Coverage`: whole months for
  police.uk, days for force exports): a month with no data is missing, not zero. Each window's
  exposure is its number of covered days, and counts are compared as rates per covered day.
- **Tests.** Counts are small, so intervals are exact: the after/before rate ratio of one area from
  the conditional binomial test (`scipy.stats.binomtest`), the area against its comparison from the
  conditional (Fisher) odds ratio of the 2x2 table, which equals the ratio of the two rate ratios
  (`scipy.stats.contingency.odds_ratio`). Harm is a weighted sum with no exact test: its change is
  shown, and the verdict rests on counts.
- **Comparison.** `wards`: the rest of the wards holding the area; `matched`: cells of those wards
  with before-counts like the area's cells, which guards against regression to the mean (places
  picked for a high count tend to fall anyway).
- **Buffer.** The ring of cells within `buffer_k` steps of the area: its change against the
  comparison and the weighted displacement quotient (Bowers & Johnson 2003):
  WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb) for the area R, buffer D and comparison C, before b and
  after a. Above 0: diffusion of benefit; below 0: displacement. It means something only when the
  area fell against the comparison.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from hotspots import cells as h3cells
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.schema import incident_xy
from hotspots.settings import Settings, get_settings

#: Comparison areas `hotspot_impact` knows.
COMPARISONS: tuple[str, ...] = ("wards", "matched")
#: Categories a hotspot is designated for.
CATEGORIES: tuple[str, ...] = ("asb", "serious_violence")
#: Statuses of an impact estimate.
STATUSES: tuple[str, ...] = ("measured", "too_short", "no_baseline", "no_incidents")
#: Verdicts of a measured impact.
VERDICTS: tuple[str, ...] = ("fall", "rise", "no_clear_change")

_LABELS = {"asb": "ASB", "serious_violence": "serious violence"}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DesignatedArea:
    """What impact needs to know of one designated hotspot.

    Parameters
    ----------
    cells
        The area's H3 cells (uint64 or hex strings), all of one resolution.
    start
        The day the designation started (local date).
    category
        `asb` or `serious_violence`.
    name, key
        How the hotspot is shown and identified in the results.
    end
        The day a closed designation ended: its after window stops there.
    """

    cells: tuple[Any, ...]
    start: dt.date
    category: str
    name: str = ""
    key: Any = None
    end: dt.date | None = None


class ImpactData:
    """An incident frame prepared once for many impact estimates (arrays, cells per resolution).

    Parameters
    ----------
    incidents
        Incidents in the data model's columns: `occurred_at`, `time_precision`, `category`, `harm`
        and a location (x/y columns in EPSG:27700, or point geometries).
    wards
        Ward polygons (`ward_code`, geometry) for the `wards` comparison and for choosing matched
        cells; None: the whole area of the data is the comparison.
    coverage
        What the data covers: a `hotspots.coverage.Coverage` (`IncidentStore.coverage()`), or
        months (`YYYY-MM`); None: `Coverage.from_incidents(incidents)`.
    settings
        Resolved settings (timezone, minimum days, buffer width).
    """

    def __init__(self, incidents: Any, *, wards: Any = None, coverage: Any = None,
                 settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        tz = self.settings.timezone
        _check_frame(incidents)
        times = incidents["occurred_at"]
        if not pd.api.types.is_datetime64_any_dtype(times):
            msg = (f"`incidents` column occurred_at is {times.dtype}, not a datetime; build "
                   "incidents with hotspots.schema.make_incidents.")
            raise InputError(msg)
        if times.dt.tz is None:
            times = times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        local = times.dt.tz_convert(tz)
        self.t = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
        self.month = (local.dt.year.to_numpy() * 12 + local.dt.month.to_numpy() - 1).astype(np.int64)
        self.category = np.asarray(incidents["category"].astype(str).to_numpy(), dtype=object)
        self.harm = incidents["harm"].to_numpy(dtype=np.float64, na_value=0.0)
        self.monthly = np.asarray(incidents["time_precision"].astype(str).to_numpy(), dtype=object) == "month"
        self.x, self.y = incident_xy(incidents)
        self.latest = local.max() if len(local) else None
        self.cover = _Cover.of(coverage, incidents)
        self.covered = self.cover.months
        self.wards = _ward_frame(wards)
        self._cells: dict[int, np.ndarray] = {}
        self._ward_of: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    def cells(self, resolution: int) -> np.ndarray:
        """The H3 cell (uint64) of each incident at `resolution`, computed once."""
        if resolution not in self._cells:
            self._cells[resolution] = h3cells.xy_to_cells(self.x, self.y, crs=BNG, resolution=resolution)
        return self._cells[resolution]

    def ward_of_incidents(self) -> np.ndarray:
        """Position in `wards` of the ward holding each incident, -1 outside every ward."""
        if self._ward_of is None:
            self._ward_of = _locate(self.wards, self.x, self.y)
        return self._ward_of

    def monthly_category(self, category: str) -> bool:
        """True when some incidents of `category` carry only their month (police.uk)."""
        return bool(self.monthly[self.category == category].any())


def _check_frame(incidents: Any) -> None:
    if not isinstance(incidents, pd.DataFrame):
        msg = f"`incidents` must be a DataFrame of incidents, not {type(incidents).__name__}."
        raise InputError(msg)
    missing = [c for c in ("occurred_at", "time_precision", "category", "harm") if c not in incidents.columns]
    if missing:
        msg = (f"`incidents` lacks the column(s) {', '.join(missing)}; expected the incident data "
               "model's columns (load incidents with IncidentStore.load).")
        raise InputError(msg)


class _Cover:
    """Which days count: a `Coverage`'s days (whole months for police.uk) or a set of months."""

    def __init__(self, months: frozenset[int], coverage: Any = None) -> None:
        self.months = months
        self.coverage = coverage

    @classmethod
    def of(cls, coverage: Any, incidents: Any) -> _Cover:
        if coverage is None:
            from hotspots.coverage import Coverage

            if "source" not in incidents.columns:
                incidents = incidents.assign(source="incidents")
            coverage = Coverage.from_incidents(incidents)
        if hasattr(coverage, "is_day_covered"):
            return cls(frozenset(_month_number(m) for m in coverage.covered_months()), coverage)
        if isinstance(coverage, str):
            coverage = [coverage]
        return cls(frozenset(_month_number(str(m)) for m in coverage))

    def day(self, day: dt.date) -> bool:
        if self.coverage is not None:
            return bool(self.coverage.is_day_covered(day))
        return day.year * 12 + day.month - 1 in self.months


def _month_number(label: str) -> int:
    try:
        year, month = (int(p) for p in label[:7].split("-"))
    except ValueError:
        msg = f"covered month {label!r} is not a month such as '2025-06'."
        raise InputError(msg) from None
    return year * 12 + month - 1


def _month_label(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def _ward_frame(wards: Any):
    if wards is None:
        return None
    import geopandas as gpd

    if not isinstance(wards, gpd.GeoDataFrame) or "ward_code" not in wards.columns:
        msg = "`wards` must be a GeoDataFrame of ward polygons with a ward_code column (load_wards)."
        raise InputError(msg)
    if wards.crs is None:
        msg = "`wards` has no CRS; ward boundaries are in EPSG:27700 (load_wards gives them so)."
        raise InputError(msg)
    return wards.to_crs(BNG).reset_index(drop=True) if not wards.crs.equals(BNG) else wards.reset_index(drop=True)


def _locate(wards, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.full(len(x), -1, dtype=np.int64)
    if wards is None or not len(x):
        return out
    for i, geom in enumerate(wards.geometry.to_numpy()):
        shapely.prepare(geom)
        inside = shapely.contains_xy(geom, x, y) & (out < 0)
        out[inside] = i
    return out


def as_cells(cells: Iterable[Any]) -> np.ndarray:
    """Distinct uint64 cells from hex strings or integers; `InputError` naming a bad one."""
    if isinstance(cells, np.ndarray) and cells.dtype == h3cells.CELL_DTYPE:
        return np.unique(cells)
    items = list(cells)
    if not items:
        return np.zeros(0, dtype=h3cells.CELL_DTYPE)
    if all(isinstance(c, str) for c in items):
        arr = h3cells.str_to_cells(items)
    else:
        arr = np.asarray(items, dtype=h3cells.CELL_DTYPE)
        bad = ~h3cells.is_valid_cells(arr)
        if bad.any():
            msg = f"{items[int(np.argmax(bad))]!r} is not an H3 cell."
            raise InputError(msg)
    return np.unique(arr)


def area_resolution(cells: np.ndarray) -> int:
    """The one resolution of an area's cells; `InputError` when they mix resolutions."""
    res = np.unique(h3cells.get_resolutions(cells))
    if len(res) != 1:
        msg = (f"a designated area's cells must share one H3 resolution; these have "
               f"{', '.join(str(int(r)) for r in res)}.")
        raise InputError(msg)
    return int(res[0])


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """A half-open stretch of local time [start, end) and how much of it the data covers."""

    start: pd.Timestamp
    end: pd.Timestamp
    covered_days: float
    missing_months: tuple[str, ...]

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days

    @property
    def label(self) -> str:
        last = (self.end - pd.Timedelta(days=1)).date()
        return f"{self.start.date().isoformat()}..{last.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.date().isoformat(), "end": self.end.date().isoformat(),
                "days": self.days, "covered_days": self.covered_days,
                "missing_months": list(self.missing_months)}


@dataclass(frozen=True)
class Windows:
    """The before and after windows of one start, and the same two a year earlier."""

    unit: str  # "day" or "month"
    before: Window
    after: Window
    year_before: Window
    year_after: Window
    as_of: dt.date
    length: int  # days, or months when unit is "month"


def _midnight(day: dt.date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz)


def _window(first: dt.date, end: dt.date, cover: _Cover | None, tz: str) -> Window:
    """[first, end) with its covered days and the months in which no day is covered."""
    covered_days = 0
    by_month: dict[str, bool] = {}
    day = first
    while day < end:
        ok = True if cover is None else cover.day(day)
        covered_days += ok
        key = f"{day.year:04d}-{day.month:02d}"
        by_month[key] = by_month.get(key, False) or ok
        day += dt.timedelta(days=1)
    missing = tuple(m for m, ok in by_month.items() if not ok)
    return Window(_midnight(first, tz), _midnight(max(first, end), tz), float(covered_days), missing)


def _add_months(day: dt.date, n: int) -> dt.date:
    m = day.year * 12 + day.month - 1 + n
    return dt.date(m // 12, m % 12 + 1, 1)


def impact_windows(start: dt.date, *, as_of: dt.date, unit: str, coverage: Any = None,
                   tz: str = "Europe/London") -> Windows:
    """Before and after windows of a designation that started on `start`, up to `as_of` (exclusive).

    `unit` `day`: after is [start, as_of), before the same number of days just before the start,
    and the year-earlier windows are 364 days (52 weeks, same weekdays) earlier. `unit` `month`
    (month-precision data): after is the whole months from the first one starting on or after
    `start` to the last one ending by `as_of`; before is as many months ending where the start's
    month begins (the start's own month, part before and part after, is left out); a year earlier
    is 12 months earlier. `coverage`: a `Coverage`, months (`YYYY-MM`), or None (all covered).
    """
    cover = coverage if isinstance(coverage, _Cover) or coverage is None else _Cover.of(coverage, None)

    def win(a: dt.date, b: dt.date) -> Window:
        return _window(a, b, cover, tz)

    if unit == "day":
        length = max(0, (as_of - start).days)
        before_start = start - dt.timedelta(days=length)
        shift = dt.timedelta(days=364)
        return Windows("day", win(before_start, start), win(start, start + dt.timedelta(days=length)),
                       win(before_start - shift, start - shift), win(start - shift, start + dt.timedelta(days=length) - shift),
                       as_of, length)
    if unit != "month":
        msg = f"`unit` is {unit!r}; expected day or month."
        raise InputError(msg)
    first_after = start if start.day == 1 else _add_months(start, 1)
    end_after = dt.date(as_of.year, as_of.month, 1)
    n = max(0, (end_after.year * 12 + end_after.month) - (first_after.year * 12 + first_after.month))
    after_end = _add_months(first_after, n)
    before_end = dt.date(start.year, start.month, 1)
    before_start = _add_months(before_end, -n)
    return Windows("month", win(before_start, before_end), win(first_after, after_end),
                   win(_add_months(before_start, -12), _add_months(before_end, -12)),
                   win(_add_months(first_after, -12), _add_months(after_end, -12)), as_of, n)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Change:
    """Counts and harm of one area before and after, and the exact after/before rate ratio."""

    before: int
    after: int
    harm_before: float
    harm_after: float
    ratio: float | None  # rate after / rate before (per covered day); None when nothing before
    low: float | None
    high: float | None
    p_value: float | None
    cells: int = 0

    @property
    def harm_ratio(self) -> float | None:
        return None if self.harm_before <= 0 else self.harm_after / self.harm_before

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["harm_ratio"] = self.harm_ratio
        return _clean(out)


@dataclass(frozen=True)
class Relative:
    """The ratio of two rate ratios (area against comparison) with its exact interval."""

    ratio: float | None
    low: float | None
    high: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


def rate_ratio(after: int, before: int, *, after_days: float, before_days: float,
               level: float = 0.95) -> tuple[float | None, float | None, float | None, float | None]:
    """The after/before rate ratio of two Poisson counts with their exposures, exact interval.

    Conditional on the total, `after` is binomial with p = after_days / (after_days + before_days)
    when the rates are equal (`scipy.stats.binomtest`); the Clopper-Pearson interval of p maps to
    the rate ratio.

    Returns
    -------
    (ratio, low, high, p_value)
        None for each where it is undefined (no exposure, or no incidents at all).
    """
    from scipy.stats import binomtest

    n = int(after) + int(before)
    if after_days <= 0 or before_days <= 0 or n == 0:
        return None, None, None, None
    p0 = after_days / (after_days + before_days)
    res = binomtest(int(after), n, p0)
    ci = res.proportion_ci(confidence_level=level, method="exact")
    scale = before_days / after_days

    def to_ratio(p: float) -> float:
        return math.inf if p >= 1 else p / (1 - p) * scale

    ratio = None if before == 0 else (after / after_days) / (before / before_days)
    return ratio, to_ratio(ci.low), to_ratio(ci.high), float(res.pvalue)


def relative_change(area: tuple[int, int], comparison: tuple[int, int], *,
                    level: float = 0.95) -> Relative:
    """How the area's after/before ratio compares with the comparison's: exact conditional test.

    The 2x2 table [[area after, area before], [comparison after, comparison before]] has the
    conditional odds ratio (area after/before) / (comparison after/before): with the same windows
    for both, the exposures cancel. Interval and p-value are exact (Fisher).
    """
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import odds_ratio

    table = [[int(area[0]), int(area[1])], [int(comparison[0]), int(comparison[1])]]
    if min(sum(table[0]), sum(table[1]), table[0][0] + table[1][0], table[0][1] + table[1][1]) == 0:
        return Relative(None, None, None, None)
    res = odds_ratio(table, kind="conditional")
    ci = res.confidence_interval(confidence_level=level)
    stat = float(res.statistic)
    return Relative(None if not math.isfinite(stat) else stat, float(ci.low), float(ci.high),
                    float(fisher_exact(table).pvalue))


def wdq(area: tuple[int, int], buffer: tuple[int, int], comparison: tuple[int, int]) -> float | None:
    """Weighted displacement quotient (Bowers & Johnson 2003) from (after, before) counts.

    (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb); None when the comparison has no incidents in a window or
    the area did not change against it (the quotient is then undefined).
    """
    ra, rb = area
    da, db = buffer
    ca, cb = comparison
    if ca <= 0 or cb <= 0:
        return None
    success = ra / ca - rb / cb
    if success == 0:
        return None
    return (da / ca - db / cb) / success


def _change(mask_after: np.ndarray, mask_before: np.ndarray, harm: np.ndarray, windows: Windows,
            level: float, n_cells: int = 0) -> Change:
    a, b = int(mask_after.sum()), int(mask_before.sum())
    ratio, low, high, p = rate_ratio(a, b, after_days=windows.after.covered_days,
                                     before_days=windows.before.covered_days, level=level)
    return Change(b, a, float(harm[mask_before].sum()), float(harm[mask_after].sum()), ratio, low, high, p,
                  n_cells)


# --------------------------------------------------------------------------- results


@dataclass
class Impact:
    """The impact estimate of one designated area (see `hotspot_impact`)."""

    name: str
    key: Any
    category: str
    start: dt.date
    as_of: dt.date
    status: str
    verdict: str | None
    windows: Windows
    comparison_kind: str
    buffer_k: int
    area: Change | None = None
    comparison: Change | None = None
    buffer: Change | None = None
    relative: Relative | None = None
    buffer_relative: Relative | None = None
    wdq: float | None = None
    season_area: Change | None = None
    season_comparison: Change | None = None
    reading: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        """The first sentence of the plain reading."""
        return self.reading[0] if self.reading else ""

    def to_dict(self) -> dict[str, Any]:
        w = self.windows
        out = {
            "name": self.name, "key": self.key, "category": self.category,
            "start": self.start.isoformat(), "as_of": self.as_of.isoformat(),
            "status": self.status, "verdict": self.verdict, "unit": w.unit, "length": w.length,
            "windows": {"before": w.before.to_dict(), "after": w.after.to_dict(),
                        "year_before": w.year_before.to_dict(), "year_after": w.year_after.to_dict()},
            "comparison_kind": self.comparison_kind, "buffer_k": self.buffer_k,
        }
        for name in ("area", "comparison", "buffer", "relative", "buffer_relative", "season_area",
                     "season_comparison"):
            value = getattr(self, name)
            out[name] = value.to_dict() if value is not None else None
        out["wdq"] = _finite(self.wdq)
        out["reading"] = list(self.reading)
        out["notes"] = list(self.notes)
        return out


def _finite(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return float(v)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_finite(v) if isinstance(v, float) else v) for k, v in d.items()}


# --------------------------------------------------------------------------- one area


def default_as_of(data: ImpactData, category: str | None = None) -> dt.date:
    """Where the data ends: the day after the latest incident, or the end of the last covered
    month for month-precision data."""
    if data.latest is None:
        return dt.date.today()
    latest = data.latest.date()
    monthly = data.monthly_category(category) if category else bool(data.monthly.any())
    if monthly:
        return _add_months(dt.date(latest.year, latest.month, 1), 1)
    return latest + dt.timedelta(days=1)


def hotspot_impact(incidents: Any, cells: Iterable[Any], *, start: dt.date | str, category: str,
                   as_of: dt.date | str | None = None, comparison: str | None = None,
                   buffer_k: int | None = None, exclude_cells: Iterable[Any] = (),
                   wards: Any = None, coverage: Any = None, matched_per_cell: int = 5,
                   seed: int = 0, level: float = 0.95, name: str = "", key: Any = None,
                   settings: Settings | None = None) -> Impact:
    """Incidents and harm before and after a designation, against a comparison area and a buffer.

    Parameters
    ----------
    incidents
        An incident frame, or an `ImpactData` prepared from one (to share work across hotspots).
    cells
        The designated area's H3 cells (uint64 or hex strings, one resolution).
    start
        The designation's first day (a date or `YYYY-MM-DD`).
    category
        `asb` or `serious_violence`: the incidents counted.
    as_of
        End of the after window (exclusive); default: where the data ends.
    comparison
        `wards` (the rest of the wards holding the area; with no `wards`, the rest of the data's
        area) or `matched` (cells of those wards whose before-counts match the area's cells);
        default: the `impact_comparison` setting.
    buffer_k
        Width of the buffer ring in cells (1 or 2); default: the `impact_buffer_k` setting.
    exclude_cells
        Cells kept out of the comparison and the buffer (other designated hotspots).
    wards, coverage
        As for `ImpactData` (used only when `incidents` is a frame).
    matched_per_cell
        Comparison cells chosen per designated cell by the `matched` comparison.
    seed
        Breaks ties between equally good matched cells (reproducibly).
    level
        Confidence level of the intervals.

    Returns
    -------
    Impact
        Counts, harm, exact intervals, WDQ, the season check, a plain `reading` and `notes`.

    Raises
    ------
    InputError
        A bad cell, category, comparison, buffer width or date.
    """
    data = incidents if isinstance(incidents, ImpactData) else ImpactData(
        incidents, wards=wards, coverage=coverage, settings=settings)
    s = data.settings
    category = _choice(category, "category", CATEGORIES)
    comparison = _choice(comparison or s.impact_comparison, "comparison", COMPARISONS)
    buffer_k = int(s.impact_buffer_k if buffer_k is None else buffer_k)
    if buffer_k not in (1, 2):
        msg = f"`buffer_k` is {buffer_k!r}; expected 1 or 2 (cells around the area)."
        raise InputError(msg)
    start = _date(start, "start")
    as_of = default_as_of(data, category) if as_of is None else _date(as_of, "as_of")
    area_cells = as_cells(cells)
    if not len(area_cells):
        msg = "a designated area needs at least one cell."
        raise InputError(msg)
    res = area_resolution(area_cells)
    unit = "month" if data.monthly_category(category) else "day"
    windows = impact_windows(start, as_of=as_of, unit=unit, coverage=data.cover, tz=s.timezone)
    result = Impact(name=name, key=key, category=category, start=start, as_of=as_of, status="measured",
                    verdict=None, windows=windows, comparison_kind=comparison, buffer_k=buffer_k)
    noun = _noun(category)

    min_days = float(s.impact_min_days)
    if start >= as_of or windows.after.covered_days < min_days:
        result.status = "too_short"
        result.reading.append(_too_short(windows, start, as_of, min_days, unit))
        return result
    if windows.before.covered_days <= 0:
        result.status = "no_baseline"
        result.reading.append(
            f"No data for the {_span(windows)} before the start ({windows.before.label}): there is "
            "nothing to compare the time since with.")
        return result

    cell_of = data.cells(res)
    in_cat = data.category == category
    t = data.t
    covered_rows = np.isin(data.month, np.fromiter(data.covered, dtype=np.int64)) if data.covered else np.zeros(len(t), bool)
    base = in_cat & covered_rows

    def between(w: Window) -> np.ndarray:
        return base & (t >= w.start.value) & (t < w.end.value)

    before, after = between(windows.before), between(windows.after)
    in_area = np.isin(cell_of, area_cells)
    _origin, disk = h3cells.grid_disk_pairs(area_cells, k=buffer_k)
    excluded = as_cells(exclude_cells)
    ring = np.setdiff1d(np.setdiff1d(np.unique(disk), area_cells), excluded)
    in_ring = np.isin(cell_of, ring)
    outside = ~in_area & ~in_ring & ~np.isin(cell_of, excluded)

    result.area = _change(after & in_area, before & in_area, data.harm, windows, level, len(area_cells))
    if result.area.before + result.area.after == 0:
        result.status = "no_incidents"
        result.reading.append(
            f"No {noun} in the area in the {_span(windows)} before or after the start: there is "
            "no change to measure.")
        return result

    wards_of_area = _area_wards(data, area_cells)
    if comparison == "wards":
        if data.wards is not None and len(wards_of_area):
            in_comp = outside & np.isin(data.ward_of_incidents(), wards_of_area)
            comp_cells = 0
        else:
            in_comp = outside
            comp_cells = 0
            if data.wards is not None:
                result.notes.append("The area lies in no known ward: the comparison is the rest of the data's area.")
    else:
        chosen, note = _matched_cells(data, cell_of, base, before, windows, area_cells, ring, excluded,
                                      wards_of_area, per_cell=matched_per_cell, seed=seed)
        if note:
            result.notes.append(note)
        in_comp = np.isin(cell_of, chosen)
        comp_cells = len(chosen)
    result.comparison = _change(after & in_comp, before & in_comp, data.harm, windows, level, comp_cells)
    result.buffer = _change(after & in_ring, before & in_ring, data.harm, windows, level, len(ring))
    pair = (result.area.after, result.area.before)
    comp_pair = (result.comparison.after, result.comparison.before)
    ring_pair = (result.buffer.after, result.buffer.before)
    result.relative = relative_change(pair, comp_pair, level=level)
    result.buffer_relative = relative_change(ring_pair, comp_pair, level=level)
    result.wdq = wdq(pair, ring_pair, comp_pair)

    if windows.year_before.covered_days > 0 and windows.year_after.covered_days > 0:
        yb, ya = between(windows.year_before), between(windows.year_after)
        season = Windows(windows.unit, windows.year_before, windows.year_after, windows.year_before,
                         windows.year_after, as_of, windows.length)
        result.season_area = _change(ya & in_area, yb & in_area, data.harm, season, level, len(area_cells))
        result.season_comparison = _change(ya & in_comp, yb & in_comp, data.harm, season, level, comp_cells)

    result.verdict = _verdict(result)
    result.reading = _reading(result, noun, level)
    result.notes.extend(_notes(result))
    return result


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        msg = f"`{name}` is {value!r}; expected one of {', '.join(allowed)}."
        raise InputError(msg)
    return str(value)


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        msg = f"`{name}` is {value!r}; expected a date such as 2025-06-02."
        raise InputError(msg) from None


def _noun(category: str) -> str:
    return {"asb": "ASB incidents", "serious_violence": "serious violence offences (proxy)"}[category]


def _span(w: Windows) -> str:
    if w.unit == "month":
        return f"{w.length} month{'s' if w.length != 1 else ''}"
    return f"{w.length} day{'s' if w.length != 1 else ''}"


def _too_short(w: Windows, start: dt.date, as_of: dt.date, min_days: float, unit: str) -> str:
    have = max(0.0, w.after.covered_days)
    if unit == "month":
        return (f"Too soon to tell: the data gives months only (police.uk), the first whole month "
                f"after the start ({start.isoformat()}) is {w.after.start.strftime('%Y-%m')}, and "
                f"{int(have)} covered day(s) of whole months follow the start, fewer than the "
                f"{int(min_days)} needed.")
    return (f"Too soon to tell: {int(have)} covered day(s) of data since the start "
            f"({start.isoformat()}, data to {(as_of - dt.timedelta(days=1)).isoformat()}); at least "
            f"{int(min_days)} are needed.")


def _area_wards(data: ImpactData, area_cells: np.ndarray) -> np.ndarray:
    """Positions in `data.wards` of the wards holding the area's cell centres."""
    if data.wards is None:
        return np.zeros(0, dtype=np.int64)
    lat, lng = h3cells.cells_to_latlng(area_cells)
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", BNG, always_xy=True).transform(lng, lat)
    pos = _locate(data.wards, np.asarray(x), np.asarray(y))
    return np.unique(pos[pos >= 0])


def _matched_cells(data: ImpactData, cell_of: np.ndarray, base: np.ndarray, before: np.ndarray,
                   windows: Windows, area_cells: np.ndarray, ring: np.ndarray, excluded: np.ndarray,
                   wards_of_area: np.ndarray, *, per_cell: int, seed: int) -> tuple[np.ndarray, str]:
    """Cells like the area's before the start, from the same wards (outside the area, its buffer
    and other hotspots).

    For each designated cell (busiest first) the `per_cell` free cells nearest in two counts: the
    before window (what a hotspot is picked on, so the matched cells carry the same luck and fall
    back the same way) and the covered time before it, scaled to the window's length (the cell's
    usual level). Distances are in Poisson standard deviations; ties are broken by `seed`.
    """
    pool = base.copy()
    if data.wards is not None and len(wards_of_area):
        pool &= np.isin(data.ward_of_incidents(), wards_of_area)
    candidates = np.setdiff1d(np.unique(cell_of[pool]), np.concatenate([area_cells, ring, excluded]))
    if not len(candidates):
        return candidates, "No cells like the area's were found for a matched comparison."
    history = base & (data.t < windows.before.start.value)
    first = min(data.covered) if data.covered else None
    hist_days = 0.0
    if first is not None:
        first_day = dt.date(first // 12, first % 12 + 1, 1)
        hist_days = _window(first_day, windows.before.start.date(), data.cover,
                            str(windows.before.start.tz)).covered_days
    scale = windows.before.covered_days / hist_days if hist_days > 0 else 0.0

    def counts(mask: np.ndarray, which: np.ndarray) -> np.ndarray:
        found, n = np.unique(cell_of[mask], return_counts=True)
        lookup = dict(zip(found.tolist(), n.tolist(), strict=True))
        return np.array([lookup.get(int(c), 0) for c in which], dtype=np.float64)

    cand_b, area_b = counts(before, candidates), counts(before, area_cells)
    cand_h, area_h = counts(history, candidates) * scale, counts(history, area_cells) * scale
    rng = np.random.default_rng(seed)
    free = np.ones(len(candidates), dtype=bool)
    chosen: list[int] = []
    for i in np.argsort(-area_b, kind="stable"):
        idx = np.flatnonzero(free)
        if not len(idx):
            break
        dist = np.abs(cand_b[idx] - area_b[i]) / math.sqrt(area_b[i] + 1)
        if scale > 0:
            dist = dist + np.abs(cand_h[idx] - area_h[i]) / math.sqrt(area_h[i] + 1)
        order = np.lexsort((rng.random(len(idx)), dist))
        take = idx[order[:per_cell]]
        free[take] = False
        chosen.extend(int(c) for c in candidates[take])
    picked = np.array(sorted(chosen), dtype=h3cells.CELL_DTYPE)
    notes = []
    if len(picked) < per_cell * len(area_cells):
        notes.append(f"Only {len(picked)} cells were available for the matched comparison "
                     f"({per_cell} per designated cell wanted).")
    sel = np.isin(candidates, picked)
    for what, cand, area in (("in the window before the start", cand_b, area_b),
                             ("per window before that", cand_h, area_h)):
        if what.startswith("per") and scale <= 0:
            continue
        m_c, m_a = float(cand[sel].mean()) if sel.any() else 0.0, float(area.mean())
        if abs(m_c - m_a) > max(1.0, 0.25 * m_a):
            notes.append(f"The matched cells had {m_c:.1f} incidents {what} against the area's "
                         f"{m_a:.1f} per cell: no cells are much like the area's, so the matched "
                         "comparison is loose.")
            break
    return picked, " ".join(notes)


def _judge(relative: Relative | None, comparison_total: int, area: Change | None) -> str:
    """fall, rise or no_clear_change: on the area against its comparison when the comparison has
    incidents, else on the area's own interval."""
    if relative is not None and relative.low is not None and relative.high is not None and comparison_total > 0:
        if relative.high < 1:
            return "fall"
        if relative.low > 1:
            return "rise"
        return "no_clear_change"
    if area is not None and area.high is not None and area.high < 1:
        return "fall"
    if area is not None and area.low is not None and area.low > 1:
        return "rise"
    return "no_clear_change"


def _verdict(r: Impact) -> str:
    total = 0 if r.comparison is None else r.comparison.before + r.comparison.after
    return _judge(r.relative, total, r.area)


def _p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pct(ratio: float | None) -> str:
    """'down 13%', 'up 8%', 'unchanged' or 'from none'."""
    if ratio is None:
        return "from none before"
    if not math.isfinite(ratio):
        return "from none before"
    pct = (ratio - 1) * 100
    if abs(pct) < 0.5:
        return "unchanged"
    return f"{'down' if pct < 0 else 'up'} {abs(pct):.0f}%"


def _comparison_phrase(ratio: float | None) -> str:
    if ratio is None or not math.isfinite(ratio):
        return "the comparison area had none before"
    pct = (ratio - 1) * 100
    if abs(pct) < 0.5:
        return "the comparison area's no change"
    return f"the comparison area's {abs(pct):.0f}% {'fall' if pct < 0 else 'rise'}"


def _signed(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    if not math.isfinite(ratio):
        return "no upper limit"
    return f"{(ratio - 1) * 100:+.0f}%"


def _interval(rel: Relative | Change, level: float) -> str:
    return f"{level * 100:.0f}% interval {_signed(rel.low)} to {_signed(rel.high)}"


def _reading(r: Impact, noun: str, level: float) -> list[str]:
    a, c, w = r.area, r.comparison, r.windows
    if a is None or c is None:
        return []
    span = _span(w)
    exposure = (" (as rates per covered day: months with no data are left out)"
                if w.before.missing_months or w.after.missing_months else "")
    first = (f"{noun[0].upper()}{noun[1:]} {_pct(a.ratio)} ({a.before} in the {span} before the "
             f"start, {a.after} in the {span} since){exposure} against {_comparison_phrase(c.ratio)}")
    rel = r.relative
    if rel is not None and rel.low is not None:
        if r.verdict == "no_clear_change":
            first += f" ({_interval(rel, level)} relative to it): not more than chance."
        else:
            what = "fall" if r.verdict == "fall" else "rise"
            shown = "n/a" if rel.ratio is None else f"{abs(rel.ratio - 1) * 100:.0f}%"
            first += (f": a relative {what} of {shown} ({_interval(rel, level)}, "
                      f"{_p(rel.p_value)}), more than chance alone would give.")
    else:
        first += ("; the comparison area had no incidents in a window, so the change is judged "
                  f"on the area alone ({_interval(a, level)}): "
                  + ("not more than chance." if r.verdict == "no_clear_change" else "more than chance."))
    out = [first]
    if a.harm_before > 0 or a.harm_after > 0:
        hr = a.harm_ratio
        harm = "from none before" if hr is None else _pct(hr)
        out.append(f"Harm {harm} ({a.harm_before:,.0f} to {a.harm_after:,.0f} days); harm is a "
                   "weighted sum and is not tested, the verdict rests on counts.")
    b, br = r.buffer, r.buffer_relative
    if b is not None:
        ring = f"The buffer ring ({r.buffer_k} cell{'s' if r.buffer_k > 1 else ''} around)"
        if br is None or br.low is None:
            out.append(f"{ring} had too few incidents to say anything about displacement "
                       f"({b.before} before, {b.after} since).")
        else:
            chance = "not more than chance" if br.low <= 1 <= br.high else "more than chance"
            line = (f"{ring} was {_pct(b.ratio)} ({b.before} to {b.after}), "
                    f"{_signed(br.ratio)} against the comparison ({chance})")
            success = rel is not None and rel.ratio is not None and rel.ratio < 1
            if r.wdq is not None and success:
                kind = ("a diffusion of benefit" if r.wdq > 0 else "displacement" if r.wdq < 0
                        else "neither displacement nor diffusion")
                line += f"; WDQ {r.wdq:.2f} points to {kind}"
                if chance == "not more than chance":
                    line += ", though the buffer's change is within chance"
                line += "."
            else:
                line += "; the WDQ means something only when the area fell against the comparison."
            out.append(line)
    if r.season_area is not None and r.season_comparison is not None:
        sa, sc = r.season_area, r.season_comparison
        holes = w.year_before.missing_months or w.year_after.missing_months
        rates = " (as rates per covered day)" if holes else ""
        out.append(f"A year earlier, the same {span} changed{rates}: area {_pct(sa.ratio)} "
                   f"({sa.before} to {sa.after}), comparison {_pct(sc.ratio)}; a fall then too "
                   "would point to season, not the designation.")
    else:
        out.append("No data for the same months a year earlier: the season is not checked.")
    return out


def _notes(r: Impact) -> list[str]:
    notes = []
    w = r.windows
    missing = sorted(set(w.before.missing_months) | set(w.after.missing_months))
    if missing:
        notes.append(f"Months with no data left out: {', '.join(missing)}.")
    if w.unit == "month":
        notes.append("Police.uk data gives months only: the windows are whole months and the "
                     "month of the start is left out.")
    if r.comparison_kind == "wards":
        notes.append("The comparison is the rest of the area's wards. Places picked for a high count "
                     "tend to fall anyway (regression to the mean); the matched comparison guards "
                     "against that.")
    if r.category == "serious_violence":
        notes.append("Serious violence here is a proxy for the Home Office definition (police.uk "
                     "violence and sexual offences, robbery, possession of weapons).")
    return notes


# --------------------------------------------------------------------------- the programme


@dataclass
class ProgrammeImpact:
    """Every designated hotspot's impact and, per category, the programme's pooled figures."""

    hotspots: list[Impact]
    pooled: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"hotspots": [h.to_dict() for h in self.hotspots], "pooled": self.pooled}


def programme_impact(incidents: Any, areas: Sequence[DesignatedArea], *, as_of: Any = None,
                     comparison: str | None = None, buffer_k: int | None = None, wards: Any = None,
                     coverage: Any = None, seed: int = 0, level: float = 0.95,
                     settings: Settings | None = None) -> ProgrammeImpact:
    """`hotspot_impact` for each area (other areas kept out of its comparison and buffer), and the
    programme per category: the measured hotspots' counts summed into one table and tested the
    same way.

    The pooled test is approximate when hotspots share comparison areas (a shared ward counts once
    per hotspot); each hotspot's own figures are exact.
    """
    data = incidents if isinstance(incidents, ImpactData) else ImpactData(
        incidents, wards=wards, coverage=coverage, settings=settings)
    all_cells = [as_cells(a.cells) for a in areas]
    results = []
    overall = None if as_of is None else _date(as_of, "as_of")
    for i, a in enumerate(areas):
        others = [c for j, c in enumerate(all_cells) if j != i]
        exclude = np.unique(np.concatenate(others)) if others else ()
        until = overall
        if a.end is not None:
            until = min(a.end, overall or default_as_of(data, a.category))
        results.append(hotspot_impact(data, all_cells[i], start=a.start, category=a.category,
                                      as_of=until, comparison=comparison, buffer_k=buffer_k,
                                      exclude_cells=exclude, seed=seed, level=level,
                                      name=a.name, key=a.key))
    pooled: dict[str, dict[str, Any]] = {}
    for cat in CATEGORIES:
        measured = [r for r in results if r.category == cat and r.status == "measured"]
        total = sum(1 for r in results if r.category == cat)
        if not total:
            continue
        entry: dict[str, Any] = {"category": cat, "hotspots": total, "measured": len(measured)}
        if measured:
            area = _total(measured, "area")
            comp = _total(measured, "comparison")
            ring = _total(measured, "buffer")
            rel = relative_change(area, comp, level=level)
            entry.update({
                "area": {"after": area[0], "before": area[1]},
                "comparison": {"after": comp[0], "before": comp[1]},
                "buffer": {"after": ring[0], "before": ring[1]},
                "relative": rel.to_dict(), "wdq": _finite(wdq(area, ring, comp)),
            })
            verdict = _judge(rel, comp[0] + comp[1], None)
            entry["verdict"] = verdict
            entry["reading"] = (
                f"Programme ({len(measured)} of {total} {_LABELS[cat]} hotspots measured): "
                f"{_noun(cat)} {_pct(_ratio(area))} ({area[1]} before, {area[0]} since) against "
                f"{_comparison_phrase(_ratio(comp))}"
                + (f" ({_interval(rel, level)}): not more than chance." if verdict == "no_clear_change"
                   and rel.low is not None else
                   f": {_signed(rel.ratio)} relative ({_interval(rel, level)}), more than chance."
                   if rel.low is not None else ": too few incidents to test."))
        else:
            entry["verdict"] = None
            entry["reading"] = (f"Programme: none of the {total} {_LABELS[cat]} hotspots can be measured yet "
                                "(too soon, or no data before the start).")
        pooled[cat] = entry
    return ProgrammeImpact(results, pooled)


def _total(results: list[Impact], attr: str) -> tuple[int, int]:
    """(after, before) summed over the results' `attr` changes."""
    changes = [getattr(r, attr) for r in results]
    return (int(sum(c.after for c in changes if c is not None)),
            int(sum(c.before for c in changes if c is not None)))


def _ratio(pair: tuple[int, int]) -> float | None:
    after, before = pair
    return None if before == 0 else after / before
