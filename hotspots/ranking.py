"""The ranked hotspot list and the ward table for a category and a period: the weekly review.

`rank_hotspots` gives one row per H3 cell of the chosen wards with its counts, harm, Gi* z,
FDR-controlled hotspot flag, change against the previous period, trend class and a sentence
saying why it ranks where it does; `rank_wards` gives the per-ward table.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import cells as h3cells
from hotspots.binning import StudyArea, check_wards, study_area
from hotspots.coverage import Coverage
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.history import History, coverage_of, window_history
from hotspots.periods import Period, month_period, parse_period, range_period, week_period
from hotspots.places import CellPlaces, cell_places
from hotspots.selection import (
    ANALYSIS_COLUMNS,
    Totals,
    cell_matrices,
    cell_positions,
    check_incidents,
    select_incidents,
    store_incidents,
    ward_matrices_snapped,
)
from hotspots.settings import CATEGORIES, Settings, get_settings
from hotspots.stats import change_test, fdr_reject, gi_star, local_count_p, trend_classes
from hotspots.wards import load_wards, select_wards

if TYPE_CHECKING:
    import os

    from hotspots.store import IncidentStore

    #: What the analysis functions read: a frame, or a store or its path (only what is needed is read).
    Incidents = pd.DataFrame | IncidentStore | str | os.PathLike

log = logging.getLogger(__name__)


#: `category` values: one category or all of them.
CATEGORY_CHOICES: tuple[str, ...] = (*CATEGORIES, "all")
#: What Gi* and the ranking weigh each incident by.
WEIGHTS: tuple[str, ...] = ("harm", "count")
#: Where the incidents are counted: in this process, or partition by partition on a Dask cluster
#: (`hotspots.engines`); everything after the counting is the same code.
ENGINES: tuple[str, ...] = ("memory", "dask")
#: Significance level of the per-cell change flag (two-sided, not corrected for many cells: it
#: is a guide to which changes are larger than chance, not a discovery).
CHANGE_ALPHA = 0.05

HOTSPOT_COLUMNS: list[str] = [
    "h3_cell", "ward_code", "ward_name", "place", "count", "harm", "institution_count", "institution",
    "top_point_share", "gi_z", "gi_p", "hot", "near_hot", "change",
    "change_pct", "change_significant", "trend", "rank", "reason", "geometry",
]

WARD_TABLE_COLUMNS: list[str] = [
    "ward_code", "ward_name", "count", "harm", "area_km2", "count_per_km2", "harm_per_km2",
    "previous_count", "change", "change_pct", "change_significant", "share_pct", "harm_share_pct",
    "rank", "geometry",
]

_LABELS = {"asb": "ASB", "serious_violence": "serious violence", "other": "other", "all": ""}


# --------------------------------------------------------------------------- input checks


def check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    """Return `value` if it is one of `allowed`, else raise `InputError` listing them."""
    if not isinstance(value, str) or value not in allowed:
        msg = f"`{name}` is {value!r}; allowed values: {', '.join(allowed)}."
        raise InputError(msg)
    return value


def _check_top(top: Any) -> int | None:
    if top is None:
        return None
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        msg = f"`top` must be a whole number of at least 1 (or None for every cell), not {top!r}."
        raise InputError(msg)
    return int(top)


def resolve_wards(wards: Any, settings: Settings) -> gpd.GeoDataFrame:
    """Ward polygons from a GeoDataFrame or a spec (None/`priority`, `all`, codes or names)."""
    return _chosen_and_all(wards, settings)[0]


def _chosen_and_all(wards: Any, settings: Settings) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    if isinstance(wards, gpd.GeoDataFrame):
        return check_wards(wards), None
    if wards is not None and not isinstance(wards, (str, list, tuple)):
        msg = (f"`wards` must be a GeoDataFrame or a ward spec ('priority', 'all' or codes), not "
               f"{type(wards).__name__}.")
        raise InputError(msg)
    every = load_wards(settings=settings)
    return select_wards(every, wards), every


def resolve_study_area(wards: Any, *, resolution: int, settings: Settings) -> StudyArea:
    """The study area of the chosen wards (a GeoDataFrame or a spec): each cell in the ward of the
    boundary file holding most of its area, only cells mostly in the chosen wards kept, points
    within `ward_snap_m` outside every ward placed in the nearest."""
    chosen, every = _chosen_and_all(wards, settings)
    return study_area(chosen, resolution=resolution, all_wards=every, snap_m=float(settings.ward_snap_m),
                      cache_dir=study_area_cache(settings))


def study_area_cache(settings: Settings) -> Path | None:
    """Where study areas are kept between processes: `cache` in the instance folder (None when
    there is no instance folder: an analysis does not create one)."""
    return settings.home / "cache" if settings.home.is_dir() else None


def trend_length(period: Period, settings: Settings) -> int:
    """How many periods (this one included) the trend classes look back over."""
    return settings.trend_months if period.kind == "month" else settings.trend_weeks


def window_period(period: str | Period, *, n: int | None = None, settings: Settings | None = None) -> Period:
    """The date range covering `period` and the `n - 1` periods before it (default: the trend
    window), for loading just the incidents an analysis needs from the store."""
    settings = settings or get_settings()
    chosen = parse_period(period, tz=settings.timezone)
    n = trend_length(chosen, settings) if n is None else n
    first = chosen.shift(-(n - 1))
    return range_period(first.start.date(), (chosen.end - pd.Timedelta(days=1)).date(), tz=settings.timezone)


def check_source(incidents: Any, engine: str, settings: Settings) -> Any:
    """Check the incidents argument for an engine: a frame, or a store or its path (each engine
    then reads only the months, category and columns it counts)."""
    from hotspots.engines import resolve_source

    return resolve_source(incidents, settings=settings)


def cell_totals(incidents: Any, *, category: str, period_sets: list[list[Period]], area: StudyArea,
                settings: Settings, engine: str = "memory") -> list[Totals]:
    """`Totals` per study-area cell for each list of consecutive periods in `period_sets`."""
    if engine == "dask":
        from hotspots.engines import dask_cell_totals

        return dask_cell_totals(incidents, category=category, period_sets=period_sets, area=area,
                                settings=settings)
    if not isinstance(incidents, pd.DataFrame):  # a store
        incidents = store_incidents(incidents, category=category,
                                    periods=[p for periods in period_sets for p in periods])
    out = []
    for periods in period_sets:
        sel = select_incidents(incidents, category=category, periods=periods, settings=settings)
        counts, harm, outside = cell_matrices(sel, area)
        out.append(Totals(counts, harm, outside, sel.proxy))
    return out


def ward_totals(incidents: Any, *, category: str, periods: list[Period], area: StudyArea,
                settings: Settings, engine: str = "memory") -> Totals:
    """`Totals` per ward of `area` over consecutive `periods`."""
    if engine == "dask":
        from hotspots.engines import dask_ward_totals

        return dask_ward_totals(incidents, category=category, periods=periods, area=area,
                                settings=settings)
    if not isinstance(incidents, pd.DataFrame):  # a store
        incidents = store_incidents(incidents, category=category, periods=periods)
    sel = select_incidents(incidents, category=category, periods=periods, settings=settings)
    counts, harm, unassigned, snapped = ward_matrices_snapped(sel, area)
    return Totals(counts, harm, unassigned, sel.proxy, snapped)


# --------------------------------------------------------------------------- ranking


def rank_hotspots(
    incidents: Incidents,
    *,
    category: str,
    period: str | Period,
    wards: Any = None,
    resolution: int = 10,
    weight: str = "harm",
    top: int | None = None,
    settings: Settings | None = None,
    engine: str = "memory",
    coverage: Coverage | None = None,
) -> gpd.GeoDataFrame:
    """Rank the H3 cells of the chosen wards for one category and period.

    Per cell: incidents and harm in the period; Getis-Ord Gi* over the cell and its k-ring-1
    neighbours in the study area (binary weights, cells without incidents included) on the
    `weight` of each incident; a hotspot flag; the change against the previous period; and
    the trend class over the last `trend_weeks` (or `trend_months`) periods.

    Parameters
    ----------
    incidents
        Incidents in the data model (`x`, `y` in EPSG:27700; a GeoDataFrame of points also
        serves). Cells count every incident inside their hexagon, also where a boundary cell
        reaches beyond the chosen wards, so pass incidents unclipped. Not modified. Or an
        `IncidentStore` or the path of one (its instance folder or its `store` folder): only the
        months, the category's rows and the columns needed are read.
    category
        `asb`, `serious_violence`, `other` or `all`.
    period
        ISO week (`2025-W23`), month (`2025-06`), dates (`2025-06-01..2025-06-14`) or a `Period`,
        in the settings' timezone. A week of month-precision incidents is an error.
    wards
        Ward polygons (GeoDataFrame) or a spec: None or `priority` (the settings' priority
        wards), `all`, or ward codes/names (list or comma-separated text).
    resolution
        H3 resolution (10: ~0.015 km2 cells).
    weight
        `harm` (harm-weighted: Cambridge Crime Harm Index days) or `count`.
    top
        Keep the `top` best-ranked cells; None keeps every cell.
    settings
        Resolved settings (timezone, trend length, `fdr_alpha`, `dask_scheduler`);
        `get_settings()` when None.
    engine
        `memory`: count in this process. `dask`: count partition by partition on a Dask cluster
        (see `hotspots.engines`: the `dask_scheduler` setting, else the current
        `distributed.Client`, else a local cluster) and gather only per-cell totals; the
        statistics that follow are the same code, so the result is the same.
    coverage
        Which periods hold data (`IncidentStore.coverage()`); None: the store's own record, or
        for a frame what the frame shows (`Coverage.from_incidents`). A missing period is
        missing, not zero: see Notes.

    Returns
    -------
    GeoDataFrame
        One row per study-area cell, best first, EPSG:27700 hexagons, columns `HOTSPOT_COLUMNS`:

        - `h3_cell` (uint64), `ward_code`, `ward_name`: the ward of the boundary file holding most
          of its area (cells mostly in other wards than the chosen ones are left out; their
          number is ``attrs["cells_left_out"]``);
        - `count` (int), `harm` (float, days): this period;
        - `gi_z`: Gi* z-score (as esda's analytic `Zs`); `gi_p`: exact two-sided p-value of
          the cell's local count (cell and neighbours) under one Poisson rate for the whole
          study area (`hotspots.stats.local_count_p`);
        - `hot`: at least `hot_min_count` incidents this period (setting, default 1), z > 0 and
          `gi_p` significant after Benjamini-Hochberg at `fdr_alpha` over all cells;
        - `near_hot`: z > 0 and significant, but with fewer incidents than `hot_min_count` (an
          empty cell beside a cluster): next to a hotspot, not one;
        - `change` (Int64), `change_pct` (float, NaN when the previous period had none): count
          against the previous period; `change_significant` (boolean): exact conditional
          binomial test of equal Poisson rates at 5% (two-sided; 1 -> 3 is not significant).
          All three are NA when the previous period holds no data (or only part of it);
        - `trend`: see `hotspots.stats.trend_classes`, over the periods of the window that hold
          data; NA when fewer than three do;
        - `rank` (1 = first): hot cells first, then the other cells with incidents by `weight`
          this period, then by z; cells without incidents always come last;
        - `reason`: one sentence a patrol lead can read.

        ``attrs`` records the period, previous period, category, weight, resolution, ward codes,
        trend length, number of study cells, incidents counted and those outside the cells, and
        `notes`: plain sentences saying what is missing (``no baseline: the store holds no data
        for 2025-01, so no change is shown.``), for every header to show.

    Notes
    -----
    Gi*'s normal approximation is far too generous with sparse counts (a week of one category
    over thousands of cells): a lone incident reaches z of 5 to 7. So the z-score is reported
    for ranking and comparison with other tools, but whether a cell is hot is decided on the
    exact Poisson tail of its local count, with false-discovery-rate control over all cells.
    With `weight="harm"` the z ranks harm, while significance still needs enough incidents:
    one very harmful incident ranks high but is not, by itself, a statistical hotspot.

    Change and trend use only periods that hold data. Where the previous period holds none,
    change is NA and no reason mentions change; a trend window partly covered is computed over
    its covered periods and `notes` says so, and with fewer than three there is no trend.

    Raises
    ------
    InputError
        Bad arguments or incidents, with a message naming the argument; a period with no data at
        all (``no data for 2025-01: the store holds 2025-02, 2025-05.``).
    """
    settings = settings or get_settings()
    category = check_choice(category, "category", CATEGORY_CHOICES)
    weight = check_choice(weight, "weight", WEIGHTS)
    top = _check_top(top)
    resolution = h3cells.check_resolution(resolution)
    engine = check_choice(engine, "engine", ENGINES)
    incidents = check_source(incidents, engine, settings)
    chosen = parse_period(period, tz=settings.timezone)
    area = resolve_study_area(wards, resolution=resolution, settings=settings)
    n_periods = trend_length(chosen, settings)
    periods = chosen.history(n_periods)
    noun = _period_noun(chosen)
    past = window_history(coverage_of(incidents, coverage), periods, noun=noun)
    labelled = _labelled_frame(incidents, category=category, periods=periods)
    if engine == "memory":
        # One selection and one binning serve the counts and the places.
        sel = select_incidents(labelled, category=category, periods=periods, settings=settings)
        pos = cell_positions(sel, area)
        totals = Totals(*cell_matrices(sel, area, pos=pos), sel.proxy)
    else:
        [totals] = cell_totals(incidents, category=category, period_sets=[periods], area=area,
                               settings=settings, engine=engine)
        sel = pos = None
    counts, harm, outside = totals.counts, totals.harm, totals.outside
    places = cell_places(labelled, category=category, periods=periods, area=area, settings=settings,
                         selection=sel, positions=pos)
    del labelled, sel, pos  # every incident's row is counted: give the memory back before the statistics
    # Crime recorded at a police station, a prison or a hospital is no street crime a patrol
    # can prevent: the statistics see the street incidents only.
    street = counts - places.institution_counts
    street_harm = np.maximum(harm - places.institution_harm, 0.0)
    values = street_harm if weight == "harm" else street.astype(np.float64)
    # The z-scores and the p-values are independent and, nationally, seconds each of numpy
    # work that releases the GIL: a second thread computes the z-scores meanwhile.
    with ThreadPoolExecutor(max_workers=1) as pool:
        gi = pool.submit(gi_star, values, area.neighbours, p_values=False)
        # Significance from the exact Poisson tail of the local count, not Gi*'s normal curve,
        # which is far too generous with sparse weekly counts (see `local_count_p`).
        p = local_count_p(street, area.neighbours)
        z, _ = gi.result()
    significant = fdr_reject(p, alpha=settings.fdr_alpha)
    # A cluster's empty neighbour is significant too (its local count is the cluster's), but
    # nothing happened there: it is next to a hotspot, not one.
    enough = street >= settings.hot_min_count
    hot = significant & (z > 0) & enough
    near_hot = significant & (z > 0) & ~enough
    cold = significant & (z < 0)
    cols = past.trend_columns
    if past.trend:
        trend, hot_periods = trend_classes(hot[:, cols], cold[:, cols], z[:, cols])
    else:
        trend = np.full(area.n, None, dtype=object)
        hot_periods = np.zeros(area.n, dtype=np.int64)

    cur, prev = counts[:, -1], counts[:, -2]
    previous = periods[-2]
    change, change_pct, change_sig = _changes(cur, prev, chosen, previous, past.baseline)

    # Hot cells first, then cells with street incidents, then cells whose incidents were all
    # recorded at institutions, then empty cells; ties to 1e-9 (float noise between equal
    # configurations) are broken by the cell index.
    group = np.where(hot[:, -1], 0, np.where(street[:, -1] > 0, 1, np.where(cur > 0, 2, 3)))
    order = np.lexsort((area.cells, -np.round(z[:, -1], 9), -np.round(values[:, -1], 9), group))
    if top is not None:
        order = order[:top]
    label = _category_label(category, totals.proxy)
    with_data = past.covered.copy()
    with_data[-1] = True
    reasons = _reasons(order, counts=counts[:, with_data], harm=harm, z=z[:, -1], hot=hot[:, -1],
                       near_hot=near_hot[:, -1], change=change, change_sig=change_sig, trend=trend,
                       hot_periods=hot_periods, label=label, noun=noun, weight=weight,
                       history=past, places=places)
    frame = gpd.GeoDataFrame(
        {
            "h3_cell": pd.Series(area.cells[order], dtype=h3cells.CELL_DTYPE),
            "ward_code": pd.Series(area.ward_codes[area.ward[order]], dtype="str"),
            "ward_name": pd.Series(area.ward_names[area.ward[order]], dtype="str"),
            "place": pd.Series(places.place[order], dtype="str"),
            "count": cur[order].astype(np.int64),
            "harm": harm[order, -1].astype(np.float64),
            "institution_count": places.institution_counts[order, -1],
            "institution": places.mostly_institution[order],
            "top_point_share": places.top_point_share[order],
            "gi_z": z[order, -1],
            "gi_p": p[order, -1],
            "hot": hot[order, -1],
            "near_hot": near_hot[order, -1],
            "change": change[order],
            "change_pct": change_pct[order],
            "change_significant": change_sig[order],
            "trend": pd.Series(trend[order], dtype="str"),
            "rank": np.arange(1, len(order) + 1, dtype=np.int64),
            "reason": pd.Series(reasons, dtype="str"),
        },
        geometry=area.polygons[order], crs=BNG,
    )
    frame.attrs.update({
        "period": chosen.label, "previous_period": previous.label, "category": category,
        "category_label": label, "weight": weight, "resolution": resolution,
        "wards": [str(c) for c in area.ward_codes], "trend_periods": n_periods,
        "study_cells": area.n, "cells_left_out": area.left_out, "incidents": int(cur.sum()),
        "outside": outside,
        "hot_cells": int(hot[:, -1].sum()), "near_hot_cells": int(near_hot[:, -1].sum()),
        "institution_cells": int(places.mostly_institution.sum()),
        "institution_incidents": int(places.institution_counts[:, -1].sum()),
        "institution_labels": list(settings.institution_labels),
        "fdr_alpha": settings.fdr_alpha, "hot_min_count": settings.hot_min_count,
        "baseline": past.baseline, "trend_used": past.trend_periods, "missing_periods": past.missing,
        "notes": list(past.notes),
    })
    if outside:
        log.info("%d selected incidents lie outside the study area and are not counted", outside)
    return frame


def _labelled_frame(incidents: Any, *, category: str, periods: list[Period]) -> pd.DataFrame:
    """The incidents as a frame with their place labels: a frame as it is; from a store the
    window's rows of the category (analysis columns and `location`)."""
    if isinstance(incidents, pd.DataFrame):
        return incidents
    start, end = periods[0].start, periods[-1].end
    span = Period("range", start, end, f"{start.date().isoformat()}..{end.date().isoformat()}")
    return incidents.load(period=span, categories=None if category == "all" else [category],
                          columns=[*ANALYSIS_COLUMNS, "location"])


def _changes(cur: np.ndarray, prev: np.ndarray, chosen: Period, previous: Period,
             baseline: bool) -> tuple[pd.array, np.ndarray, pd.array]:
    """Change in count, per cent change and whether it is larger than chance: NA throughout
    when there is no baseline (the previous period holds no data, or only part of it)."""
    n = len(cur)
    if not baseline:
        return (pd.array([pd.NA] * n, dtype="Int64"), np.full(n, np.nan),
                pd.array([pd.NA] * n, dtype="boolean"))
    change = cur - prev
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(prev > 0, 100.0 * change / np.maximum(prev, 1), np.nan)
    share = chosen.days / (chosen.days + previous.days)
    significant = change_test(cur, prev, share=share) < CHANGE_ALPHA
    return pd.array(change, dtype="Int64"), change_pct, pd.array(significant, dtype="boolean")


def _category_label(category: str, proxy: bool) -> str:
    label = _LABELS.get(category, category)
    if category == "serious_violence" and proxy:
        label = "serious violence (proxy)"
    return label


def _period_noun(period: Period) -> str:
    if period.kind in ("week", "month"):
        return period.kind
    return f"{period.days}-day period"


def _reasons(order: np.ndarray, *, counts: np.ndarray, harm: np.ndarray, z: np.ndarray,
             hot: np.ndarray, near_hot: np.ndarray, change: Any, change_sig: Any,
             trend: np.ndarray, hot_periods: np.ndarray, label: str, noun: str, weight: str,
             history: History, places: CellPlaces | None = None) -> list[str]:
    """One sentence per cell: what it holds, how it changed, whether it clusters, its history.

    `counts` holds the periods with data only (the analysed one last); change is mentioned only
    with a baseline, history only with a trend.
    """
    t = len(history.periods)
    k = counts.shape[1]
    what = f"{label} incident" if label else "incident"
    if k == 1:
        quiet = f"no {what}s this {noun}"
    elif k == t:
        quiet = f"no {what}s in the last {t} {noun}s"
    else:
        quiet = f"no {what}s in the {k} {noun}s with data of the last {t}"
    span = f"the last {t} {noun}s" if history.trend_periods == t else (
        f"the {history.trend_periods} {noun}s with data")
    active = ((counts[order].sum(axis=1) > 0) | hot[order] | near_hot[order]).tolist()
    # Python scalars format several times faster than numpy ones.
    cur = counts[order, -1].tolist()
    hrm = harm[order, -1].tolist()
    zs = z[order].tolist()
    hots = hot[order].tolist()
    nears = near_hot[order].tolist()
    baseline = history.baseline
    diff = np.asarray(change[order], dtype=object).tolist() if baseline else []
    sig = np.asarray(change_sig[order], dtype=object).tolist() if baseline else []
    trends = trend[order].tolist()
    hp = hot_periods[order].tolist()
    show_harm = weight == "harm"
    if places is not None:
        mostly = places.mostly_institution[order].tolist()
        inst_n = places.institution_counts[order, -1].tolist()
        inst_label = places.institution[order].tolist()
    else:
        mostly, inst_n, inst_label = [False] * len(order), [0] * len(order), [""] * len(order)
    out: list[str] = []
    for j, is_active in enumerate(active):
        if not is_active:
            out.append(quiet)
            continue
        c = cur[j]
        if c == 0:
            text = f"no {what}s this {noun}"
        else:
            text = f"{c:,} {what}{'' if c == 1 else 's'}"
            if show_harm or hrm[j] != c:
                text += f", harm {hrm[j]:,.0f}"
        if baseline:
            d = int(diff[j])
            if d > 0:
                text += f", up {d:,} on last {noun}" + (" (a significant rise)" if sig[j] else "")
            elif d < 0:
                text += f", down {-d:,} on last {noun}" + (" (a significant fall)" if sig[j] else "")
            elif c:
                text += f", the same as last {noun}"
        rest = ""
        if mostly[j]:
            every = inst_n[j] == c
            text += (f", {'all' if every else format(inst_n[j], ',')} of them recorded at a "
                     f"{inst_label[j].lower()}: not street crime a patrol can prevent")
            rest = "the rest are "
            if every and not nears[j]:
                out.append(text)
                continue
        if hots[j]:
            text += f"; {rest}a hotspot (Gi* z {zs[j]:.1f})"
        elif nears[j]:
            text += f"; next to a hotspot (Gi* z {zs[j]:.1f}), too few incidents to be one"
        else:
            text += f"; {rest}not a significant cluster (Gi* z {zs[j]:.1f})"
        if history.trend:
            if trends[j] not in (None, "none"):
                text += f"; {trends[j]}: a hotspot in {hp[j]} of {span}"
            elif hp[j]:
                text += f"; a hotspot in {hp[j]} of {span}"
        out.append(text)
    return out


# --------------------------------------------------------------------------- ward table


def rank_wards(
    incidents: Incidents,
    *,
    category: str,
    period: str | Period,
    wards: Any = None,
    weight: str = "harm",
    resolution: int | None = None,
    settings: Settings | None = None,
    engine: str = "memory",
    coverage: Coverage | None = None,
) -> gpd.GeoDataFrame:
    """The ward table: per chosen ward, incidents and harm this period, rates, change and share.

    Incidents are placed by point in polygon on the real ward boundaries; an incident outside
    every ward of the boundary file by at most `ward_snap_m` (setting, 50 m: police.uk snap points
    just past the generalised outlines) goes to the nearest ward, and their number is
    ``attrs["snapped"]``. Incidents in none of the chosen wards are
    left out (their number is ``attrs["unassigned"]``). `incidents`, `engine` and `coverage`
    are as for `rank_hotspots`: without data for the previous period, `previous_count`, `change`,
    `change_pct` and `change_significant` are NA and ``attrs["notes"]`` says why.

    Returns
    -------
    GeoDataFrame
        One row per ward, best first (by `weight`), columns `WARD_TABLE_COLUMNS`: `count`,
        `harm` (days), `area_km2`, `count_per_km2`, `harm_per_km2`, `previous_count` and
        `change` (Int64), `change_pct` (NaN when the previous period had none),
        `change_significant` (boolean; exact
        conditional binomial test at 5%), `share_pct` and `harm_share_pct` (per cent of the
        chosen wards' total), `rank`, and the ward polygon (EPSG:27700).
    """
    settings = settings or get_settings()
    category = check_choice(category, "category", CATEGORY_CHOICES)
    weight = check_choice(weight, "weight", WEIGHTS)
    resolution = h3cells.check_resolution(settings.h3_resolution if resolution is None else resolution)
    engine = check_choice(engine, "engine", ENGINES)
    incidents = check_source(incidents, engine, settings)
    chosen = parse_period(period, tz=settings.timezone)
    area = resolve_study_area(wards, resolution=resolution, settings=settings)
    periods = chosen.history(2)
    past = window_history(coverage_of(incidents, coverage), periods, noun=_period_noun(chosen),
                          with_trend=False)
    totals = ward_totals(incidents, category=category, periods=periods, area=area,
                         settings=settings, engine=engine)
    counts, harm = totals.counts, totals.harm
    n_w = len(area.ward_codes)
    cur, prev = counts[:, 1], counts[:, 0]
    change, change_pct, change_sig = _changes(cur, prev, chosen, periods[0], past.baseline)
    previous_count = pd.array(prev if past.baseline else [pd.NA] * n_w, dtype="Int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * cur / cur.sum() if cur.sum() else np.zeros(n_w)
        harm_share = 100.0 * harm[:, 1] / harm[:, 1].sum() if harm[:, 1].sum() else np.zeros(n_w)
    km2 = area.ward_area_km2
    value = harm[:, 1] if weight == "harm" else cur.astype(float)
    order = np.lexsort((area.ward_codes.astype(str), -cur, -value))
    frame = gpd.GeoDataFrame(
        {
            "ward_code": pd.Series(area.ward_codes[order], dtype="str"),
            "ward_name": pd.Series(area.ward_names[order], dtype="str"),
            "count": cur[order],
            "harm": harm[order, 1],
            "area_km2": km2[order],
            "count_per_km2": cur[order] / km2[order],
            "harm_per_km2": harm[order, 1] / km2[order],
            "previous_count": previous_count[order],
            "change": change[order],
            "change_pct": change_pct[order],
            "change_significant": change_sig[order],
            "share_pct": share[order],
            "harm_share_pct": harm_share[order],
            "rank": np.arange(1, n_w + 1, dtype=np.int64),
        },
        geometry=area.ward_geoms[order], crs=BNG,
    )
    frame.attrs.update({
        "period": chosen.label, "previous_period": periods[0].label, "category": category,
        "category_label": _category_label(category, totals.proxy), "weight": weight,
        "unassigned": totals.outside, "snapped": totals.snapped, "incidents": int(cur.sum()),
        "ward_snap_m": float(settings.ward_snap_m), "baseline": past.baseline,
        "notes": list(past.notes),
    })
    return frame


# --------------------------------------------------------------------------- default period


def latest_complete_period(incidents: pd.DataFrame, *, kind: str | None = None,
                           category: str = "all", settings: Settings | None = None) -> Period:
    """The latest period the incidents cover completely.

    `kind` `week` or `month`; None picks weeks when the latest month's incidents carry their day
    (or finer) and months for month-precision data (police.uk). A week (month) counts as
    complete when the latest incident falls on its last day, or police.uk-style data gives the
    month; otherwise the one before it is taken.
    """
    settings = settings or get_settings()
    category = check_choice(category, "category", CATEGORY_CHOICES)
    if kind is not None:
        kind = check_choice(kind, "kind", ("week", "month"))
    check_incidents(incidents)
    frame = incidents
    if category != "all":
        frame = incidents[(incidents["category"] == category).to_numpy(dtype=bool, na_value=False)]
        if frame.empty:
            msg = f"there are no {category} incidents; load some first (hotspots ingest or demo)."
            raise InputError(msg)
    times = frame["occurred_at"]
    if times.dt.tz is None:
        times = times.dt.tz_localize(settings.timezone, ambiguous="NaT", nonexistent="shift_forward")
    times = times.dt.tz_convert(settings.timezone)
    latest = times.max()
    last_month = month_period(latest.year, latest.month, tz=settings.timezone)
    in_last = last_month.contains(times)
    monthly = bool((frame["time_precision"].to_numpy()[in_last] == "month").all())
    if kind is None:
        kind = "month" if monthly else "week"
    if kind == "week":
        if monthly:
            msg = ("the latest incidents carry only their month (police.uk); analyse months, e.g. "
                   f"{last_month.label!r}.")
            raise InputError(msg)
        week = week_period(latest.date(), tz=settings.timezone)
        complete = latest.date() == (week.end - pd.Timedelta(days=1)).date()
        return week if complete else week.previous()
    if monthly:
        return last_month
    complete = latest.date() == (last_month.end - pd.Timedelta(days=1)).date()
    return last_month if complete else last_month.previous()


__all__ = [
    "CATEGORY_CHOICES",
    "ENGINES",
    "HOTSPOT_COLUMNS",
    "WARD_TABLE_COLUMNS",
    "WEIGHTS",
    "check_choice",
    "check_incidents",
    "latest_complete_period",
    "rank_hotspots",
    "rank_wards",
    "resolve_study_area",
    "resolve_wards",
    "study_area_cache",
    "window_period",
]

