"""Selecting one category's incidents in consecutive periods as plain arrays, and counting them
per study-area cell or ward: the step every engine shares before the statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import cells as h3cells
from hotspots._validate import check_geoframe
from hotspots.binning import StudyArea
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.periods import Period
from hotspots.settings import Settings

_NEEDED = ("occurred_at", "time_precision", "category", "harm", "geometry")


def check_incidents(incidents: Any, *, name: str = "incidents") -> None:
    """The one validator of incident frames given to the analysis functions.

    Raises
    ------
    InputError
        Naming the argument, what was expected, what came and a hint.
    """
    check_geoframe(incidents, name, expected="of incidents (see hotspots.schema)",
                   empty_hint=". Has a filter removed every row?",
                   crs_hint="incidents are in EPSG:27700 (use set_crs('EPSG:27700') if they are).")
    missing = [c for c in _NEEDED if c not in incidents.columns]
    if missing:
        msg = (f"`{name}` lacks the column(s) {', '.join(missing)}; expected the incident data "
               "model's columns (load incidents with IncidentStore.load or hotspots.ingest).")
        raise InputError(msg)
    if not pd.api.types.is_datetime64_any_dtype(incidents["occurred_at"]):
        msg = (f"`{name}` column occurred_at is {incidents['occurred_at'].dtype}, not a datetime; "
               "build incidents with hotspots.schema.make_incidents.")
        raise InputError(msg)



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


def select_incidents(incidents: gpd.GeoDataFrame, *, category: str, periods: list[Period],
                     settings: Settings, check: bool = True) -> Selection:
    """Incidents of `category` in `periods`, without copying the frame.

    `check=False` leaves the precision check to the caller (the Dask engine checks the total
    over all partitions with `check_precision`).

    Raises
    ------
    InputError
        A week or a date range asked of incidents that carry only their month (police.uk).
    """
    slot = period_slots(incidents["occurred_at"], periods, tz=settings.timezone)
    mask = slot >= 0
    if category != "all":
        mask &= (incidents["category"] == category).to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(mask)
    if len(rows) and not _month_aligned(periods[-1]):
        monthly = np.asarray(incidents["time_precision"].iloc[rows], dtype=object) == "month"
    else:
        monthly = np.zeros(len(rows), dtype=bool)
    if check:
        check_precision(periods[-1], int(monthly.sum()))
    gs = gpd.GeoSeries(incidents.geometry.array[rows], index=incidents.index[rows], crs=incidents.crs)
    if not incidents.crs.equals(BNG):
        gs = gs.to_crs(BNG)
    x, y = h3cells.point_coordinates(gs, name="incidents")
    harm = incidents["harm"].iloc[rows].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(harm) | (harm < 0)
    if bad.any():
        i = rows[int(np.argmax(bad))]
        msg = (f"`incidents` row {incidents.index[i]!r} has harm {float(harm[int(np.argmax(bad))])!r}; harm "
               f"must be a non-negative number of days ({int(bad.sum())} row(s) affected).")
        raise InputError(msg)
    violent = np.zeros(len(rows), dtype=bool)
    if category in ("serious_violence", "all") and "crime_type" in incidents.columns and len(rows):
        violent = np.asarray(incidents["crime_type"].iloc[rows], dtype=object) == "Violence and sexual offences"
    return Selection(periods, slot[rows], x, y, harm, monthly, violent, rows)


def cell_matrices(sel: Selection, area: StudyArea) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts and harm per study-area cell and period (cells x periods), and how many of the
    last period's selected incidents fell outside the study area."""
    n, t = area.n, len(sel.periods)
    cells = h3cells.xy_to_cells(sel.x, sel.y, crs=BNG, resolution=area.resolution)
    pos = area.locate(cells)
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
