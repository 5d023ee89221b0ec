"""Selecting one category's incidents in consecutive periods as plain arrays, and counting them
per study-area cell or ward: the step every engine shares before the statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hotspots import cells as h3cells
from hotspots.binning import StudyArea
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.periods import Period
from hotspots.schema import incident_xy
from hotspots.settings import Settings

_NEEDED = ("occurred_at", "time_precision", "category", "harm")
#: The columns the analyses read of the incidents (`IncidentStore.load(columns=...)`).
ANALYSIS_COLUMNS: list[str] = ["occurred_at", "time_precision", "crime_type", "category", "harm", "x", "y"]


def check_incidents(incidents: Any, *, name: str = "incidents") -> None:
    """The one validator of incident frames given to the analysis functions (cheap: columns and
    dtypes; the rows an analysis selects are checked by `select_incidents`).

    Raises
    ------
    InputError
        Naming the argument, what was expected, what came and a hint.
    """
    import geopandas as gpd

    if not isinstance(incidents, pd.DataFrame):
        msg = (f"`{name}` must be a DataFrame of incidents (see hotspots.schema), not "
               f"{type(incidents).__name__}.")
        raise InputError(msg)
    if len(incidents) == 0:
        msg = f"`{name}` contains zero rows. Has a filter removed every row?"
        raise InputError(msg)
    points = isinstance(incidents, gpd.GeoDataFrame) and incidents.active_geometry_name in incidents.columns
    has_xy = "x" in incidents.columns and "y" in incidents.columns
    missing = [c for c in _NEEDED if c not in incidents.columns]
    if not has_xy and not points:
        missing += ["x", "y"]
    if missing:
        msg = (f"`{name}` lacks the column(s) {', '.join(missing)}; expected the incident data "
               "model's columns (load incidents with IncidentStore.load or hotspots.ingest).")
        raise InputError(msg)
    if points and not has_xy and incidents.crs is None:
        msg = f"`{name}` has no CRS; incidents are in EPSG:27700 (use set_crs('EPSG:27700') if they are)."
        raise InputError(msg)
    if not pd.api.types.is_datetime64_any_dtype(incidents["occurred_at"]):
        msg = (f"`{name}` column occurred_at is {incidents['occurred_at'].dtype}, not a datetime; "
               "build incidents with hotspots.schema.make_incidents.")
        raise InputError(msg)


def store_incidents(store: Any, *, category: str, periods: list[Period]) -> pd.DataFrame:
    """What the counting needs of an `IncidentStore`: the `ANALYSIS_COLUMNS` of `category`'s
    incidents from the start of the first period to the end of the last (only those months'
    files are opened, and the category and time are filtered in the Parquet read)."""
    start, end = min(p.start for p in periods), max(p.end for p in periods)
    span = Period("range", start, end, f"{start.date().isoformat()}..{end.date().isoformat()}")
    return store.load(period=span, categories=None if category == "all" else [category],
                      columns=ANALYSIS_COLUMNS)


def period_slots(times: pd.Series, periods: list[Period], *, tz: str) -> np.ndarray:
    """Which of consecutive `periods` (oldest first) holds each timestamp: 0..len-1, or -1."""
    if times.dt.tz is None:
        times = times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    utc = times.dt.tz_convert(None).to_numpy()  # the UTC instants: a view, no copy
    unit = np.datetime_data(utc.dtype)[0]
    edges = np.array([p.start.tz_convert("UTC").tz_localize(None).to_datetime64() for p in periods]
                     + [periods[-1].end.tz_convert("UTC").tz_localize(None).to_datetime64()],
                     dtype="datetime64[ns]").astype(f"datetime64[{unit}]")
    slot = np.searchsorted(edges, utc, side="right") - 1
    slot[(slot >= len(periods)) | np.isnat(utc)] = -1
    return slot.astype(np.int64)


@dataclass
class Selection:
    """The incidents of one category in consecutive periods, as plain arrays (EPSG:27700)."""

    periods: list[Period]
    slot: np.ndarray
    x: np.ndarray
    y: np.ndarray
    harm: np.ndarray
    monthly: np.ndarray  # month-precision rows, marked only when the last period is not month-aligned
    violent: np.ndarray  # police.uk's "Violence and sexual offences" rows (serious violence or all)
    rows: np.ndarray  # positions of the selected rows in the frame

    @property
    def proxy(self) -> bool:
        """Serious violence from police.uk labels (a proxy for the Home Office definition)."""
        return bool(self.violent.any())


def _month_aligned(period: Period) -> bool:
    return period.kind == "month" or (
        period.start.day == 1 and period.end.day == 1 and period.start.hour == 0)


def check_precision(period: Period, monthly: int) -> None:
    """Refuse a week or a date range when `monthly` of its incidents carry only their month."""
    if monthly:
        what = "a week" if period.kind == "week" else "a date range"
        msg = (f"period {period.label!r} is {what}, but {monthly:,} of the incidents "
               "analysed with it carry only their month (police.uk publishes months, not days); analyse "
               f"the month instead, e.g. {period.months()[0]!r}.")
        raise InputError(msg)


def select_incidents(incidents: pd.DataFrame, *, category: str, periods: list[Period],
                     settings: Settings, check: bool = True) -> Selection:
    """Incidents of `category` in `periods`, without copying the frame.

    The category's rows are found first; only they are placed in periods, and only the selected
    rows are checked (coordinates, harm). `check=False` leaves the precision check to the caller
    (the Dask engine checks the total over all partitions with `check_precision`).

    Raises
    ------
    InputError
        A week or a date range asked of incidents that carry only their month (police.uk); a
        selected row without coordinates or with a bad harm.
    """
    t, edges = _utc_ticks(incidents["occurred_at"], periods, tz=settings.timezone)
    mask = (t >= edges[0]) & (t < edges[-1])
    if category != "all":
        mask &= _equals(incidents["category"], category)
    rows = np.flatnonzero(mask)
    slot = np.searchsorted(edges, t[rows], side="right").astype(np.int64) - 1
    if len(rows) and not _month_aligned(periods[-1]):
        monthly = _equals(incidents["time_precision"], "month", rows)
    else:
        monthly = np.zeros(len(rows), dtype=bool)
    if check:
        check_precision(periods[-1], int(monthly.sum()))
    all_x, all_y = incident_xy(incidents)
    x, y = all_x[rows], all_y[rows]
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        i = rows[int(np.argmax(bad))]
        msg = (f"`incidents` row {incidents.index[i]!r} has no point location (x, y); every row needs "
               f"one ({int(bad.sum())} row(s) affected).")
        raise InputError(msg)
    harm = incidents["harm"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    bad = ~np.isfinite(harm) | (harm < 0)
    if bad.any():
        i = rows[int(np.argmax(bad))]
        msg = (f"`incidents` row {incidents.index[i]!r} has harm {float(harm[int(np.argmax(bad))])!r}; harm "
               f"must be a non-negative number of days ({int(bad.sum())} row(s) affected).")
        raise InputError(msg)
    violent = np.zeros(len(rows), dtype=bool)
    if category in ("serious_violence", "all") and "crime_type" in incidents.columns and len(rows):
        violent = _equals(incidents["crime_type"], "Violence and sexual offences", rows)
    return Selection(periods, slot, x, y, harm, monthly, violent, rows)


def _utc_ticks(times: pd.Series, periods: list[Period], *, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """The instants of `times` as int64 ticks since the epoch (UTC; a view of a tz-aware column,
    NaT the smallest int64), and the periods' edges (starts, then the last end) in the same unit."""
    if times.dt.tz is None:
        times = times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    values = times.array
    unit = getattr(values, "unit", "ns")
    ticks = np.asarray(values.asi8)
    edges = np.array([p.start.as_unit(unit).value for p in periods] + [periods[-1].end.as_unit(unit).value],
                     dtype=np.int64)
    return ticks, edges


def _equals(values: pd.Series, wanted: str, rows: np.ndarray | None = None) -> np.ndarray:
    """`values == wanted` as a bool array (of `rows` only, when given): on a categorical's
    integer codes, without touching its text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.array.codes
        if rows is not None:
            codes = codes[rows]
        found = values.cat.categories.get_indexer([wanted])[0]
        return codes == found if found >= 0 else np.zeros(len(codes), dtype=bool)
    if rows is not None:
        values = values.iloc[rows]
    return (values == wanted).to_numpy(dtype=bool, na_value=False)


def cell_positions(sel: Selection, area: StudyArea) -> np.ndarray:
    """Position in the study area of each selected incident's cell (int64), -1 outside it (points
    beyond the study area's `reach` are not binned: a local analysis of national data)."""
    x0, y0, x1, y1 = area.reach
    near = (sel.x >= x0) & (sel.x <= x1) & (sel.y >= y0) & (sel.y <= y1)
    if near.all():
        return area.locate(h3cells.xy_to_cells(sel.x, sel.y, crs=BNG, resolution=area.resolution))
    pos = np.full(len(sel.x), -1, dtype=np.int64)
    if near.any():
        pos[near] = area.locate(h3cells.xy_to_cells(sel.x[near], sel.y[near], crs=BNG,
                                                     resolution=area.resolution))
    return pos


def cell_matrices(sel: Selection, area: StudyArea, *,
                  pos: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts and harm per study-area cell and period (cells x periods), and how many of the
    last period's selected incidents fell outside the study area. `pos`: the incidents'
    `cell_positions`, when the caller has them already."""
    n, t = area.n, len(sel.periods)
    if pos is None:
        pos = cell_positions(sel, area)
    inside = pos >= 0
    key = pos[inside] * t + sel.slot[inside]
    counts = np.bincount(key, minlength=n * t).reshape(n, t).astype(np.int64)
    harm = np.bincount(key, weights=sel.harm[inside], minlength=n * t).reshape(n, t)
    return counts, harm, int((~inside & (sel.slot == t - 1)).sum())


@dataclass
class Totals:
    """What the statistics need of the incidents: counts and harm (days) per row (a study-area
    cell or a ward) and period, oldest period first, and what the counting noticed."""

    counts: np.ndarray  # rows x periods, int64
    harm: np.ndarray  # rows x periods, float64
    outside: int  # incidents of the last period in no row (outside the study area or the wards)
    proxy: bool  # serious violence from police.uk labels
    snapped: int = 0  # of the last period, placed in the nearest ward from outside every ward


def ward_matrices(sel: Selection, area: StudyArea) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts and harm per ward of the study area and period (wards x periods), placing points by
    point in polygon, and how many of the last period's selected incidents lie in no ward."""
    counts, harm, outside, _ = ward_matrices_snapped(sel, area)
    return counts, harm, outside


def ward_matrices_snapped(sel: Selection, area: StudyArea) -> tuple[np.ndarray, np.ndarray, int, int]:
    """`ward_matrices` and how many of the last period's incidents lie outside every ward and
    were placed in the nearest (within the study area's snap distance)."""
    n_w, t = len(area.ward_codes), len(sel.periods)
    ward, snapped = area.place_points(sel.x, sel.y)
    inside = ward >= 0
    key = ward[inside] * t + sel.slot[inside]
    counts = np.bincount(key, minlength=n_w * t).reshape(n_w, t).astype(np.int64)
    harm = np.bincount(key, weights=sel.harm[inside], minlength=n_w * t).reshape(n_w, t)
    last = sel.slot == t - 1
    return counts, harm, int((~inside & last).sum()), int((snapped & last).sum())
