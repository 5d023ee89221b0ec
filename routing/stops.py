"""Candidate patrol stops: the top hotspots of a ranking, each with a prize, a dwell and a window.

A stop is a hotspot cell's centre. Which cells may become stops is decided in one place,
`select_stop_cells`; places that must be visited (designated hotspots) join them through
`must_visit_stops` and `add_must_visit`. A stop is snapped to the nearest node of a street network
when the plan is made; one further than 250 m from every street stays where it is, off the
network, and is reached by a straight line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from hotspots import cells as h3cells
from hotspots._validate import check_geoframe
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.report import counted
from hotspots.settings import CATEGORIES, Settings, get_settings
from routing._matrix import graph_index, nearest_nodes, street_distances
from routing.network import NEAR_STREET_M

log = logging.getLogger(__name__)

#: Koper curve: stops of 10 to 16 minutes give the longest residual deterrence.
DWELL_RANGE_MIN: tuple[float, float] = (10.0, 16.0)

PRIZES: tuple[str, ...] = ("harm", "gi_z", "count")

#: Columns of a stops frame, in order (plus `geometry`).
STOP_COLUMNS: list[str] = [
    "stop_id", "h3_cell", "cells", "ward_code", "ward_name", "place", "category", "rank", "prize",
    "prize_by", "count", "harm", "gi_z", "hot", "trend", "reason", "dwell_min", "window_start_min",
    "window_end_min", "must_visit",
]

#: Longest dwell a must-visit stop may ask for (minutes); hotspot stops keep the Koper range.
MAX_MUST_VISIT_DWELL_MIN = 240.0

_WINDOW = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_window(text: str) -> tuple[float, float]:
    """'16:00-23:00' as minutes after midnight (an end before the start means the next day)."""
    m = _WINDOW.match(text or "")
    if not m:
        msg = f"time window {text!r} is not in the form 'HH:MM-HH:MM', such as '16:00-23:00'."
        raise InputError(msg)
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    if end <= start:
        end += 24 * 60
    return float(start), float(end)


def select_stop_cells(
    ranking: gpd.GeoDataFrame,
    *,
    prize: str = "harm",
    with_empty: bool = False,
    hot_only: bool = False,
    with_institutions: bool | None = None,
    settings: Settings | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """The cells of a ranking that may become patrol stops: the one place the stop rules live.

    Rules, applied in this order, each counted in the report:

    - `no incidents`: a cell with no incident in the period is never a stop (a cell beside a
      cluster can score a high Gi* with nothing of its own), unless `with_empty`;
    - `institution`: a cell whose incidents are mostly recorded at an institution (a police
      station, a prison, a hospital: the ranking's `institution` column) is no stop: no street
      patrol prevents that crime. Unless `with_institutions` (default: not the
      `patrol_skip_institutions` setting);
    - `not hot`: with `hot_only`, a cell the ranking does not call hot;
    - `nothing to win`: a cell whose `prize` column is 0, negative or missing.

    Parameters
    ----------
    ranking
        A ranking from `hotspots.ranking.rank_hotspots` (or a frame with its columns).
    prize
        The column a stop's prize is taken from (`harm`, `gi_z` or `count`).
    with_empty
        Keep cells with no incident in the period.
    hot_only
        Keep only cells the ranking calls hot (`hot` column).
    with_institutions
        Keep cells mostly at institutions; None: as the `patrol_skip_institutions` setting says.
    settings
        Resolved settings; read with `get_settings()` when None (for rules that read settings).

    Returns
    -------
    (cells, left_out)
        The rows that may be stops, in the ranking's order, and one record per rule that left
        cells out: `rule`, `cells` (how many) and `note` (a sentence for people).
    """
    keep, left_out = _stop_mask(ranking, prize=prize, with_empty=with_empty, hot_only=hot_only,
                                with_institutions=with_institutions, settings=settings)
    return ranking[keep], left_out


def _stop_mask(ranking: pd.DataFrame, *, prize: str, with_empty: bool, hot_only: bool,
               with_institutions: bool | None, settings: Settings | None,
               ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """`select_stop_cells` as a boolean mask over the ranking's rows, with its report."""
    settings = settings or get_settings()
    if with_institutions is None:
        with_institutions = not settings.patrol_skip_institutions
    keep = np.ones(len(ranking), dtype=bool)
    left_out: list[dict[str, Any]] = []

    def apply(rule: str, ok: np.ndarray, one: str, many: str) -> None:
        nonlocal keep
        dropped = int((keep & ~ok).sum())
        if dropped:
            note = one if dropped == 1 else many.format(n=dropped)
            left_out.append({"rule": rule, "cells": dropped, "note": note})
        keep &= ok

    if not with_empty and "count" in ranking.columns:
        counts = pd.to_numeric(ranking["count"], errors="coerce").fillna(0).to_numpy()
        # A cluster's empty neighbour is only next to a hotspot: nothing happened there.
        apply("no incidents", counts > 0,
              "1 cell with no incident in the period is not a stop (it may sit beside a "
              "cluster, but there is nothing there to patrol).",
              "{n} cells with no incident in the period are not stops (they may sit beside a "
              "cluster, but there is nothing there to patrol).")
    if not with_institutions and "institution" in ranking.columns:
        mostly = ranking["institution"].fillna(False).astype(bool).to_numpy()
        apply("institution", ~mostly,
              "1 cell whose incidents were mostly recorded at a police station, prison or "
              "hospital is not a stop (no street patrol prevents that crime).",
              "{n} cells whose incidents were mostly recorded at a police station, prison or "
              "hospital are not stops (no street patrol prevents that crime).")
    if hot_only:
        apply("not hot", ranking["hot"].fillna(False).astype(bool).to_numpy(),
              "1 cell that is not a hotspot is left out (hot cells only).",
              "{n} cells that are not hotspots are left out (hot cells only).")
    values = pd.to_numeric(ranking[prize], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    apply("nothing to win", values > 0,
          f"1 cell with a {prize} of 0 or less is not a stop (nothing to win there).",
          f"{{n}} cells with a {prize} of 0 or less are not stops (nothing to win there).")
    return keep, left_out


def stops_from_ranking(
    ranking: gpd.GeoDataFrame,
    *,
    per_ward: int | None = None,
    top: int | None = None,
    prize: str | None = None,
    dwell_min: float | None = None,
    windows: Mapping[str, str] | str | None = None,
    category: str | None = None,
    hot_only: bool = False,
    with_empty: bool = False,
    with_institutions: bool | None = None,
    allow_empty: bool = False,
    join_ring: int | None = None,
    settings: Settings | None = None,
) -> gpd.GeoDataFrame:
    """Choose candidate patrol stops from a hotspot ranking.

    The cells that may be stops are chosen by `select_stop_cells` (no stops in cells without
    incidents, unless asked). Best first, each cell becomes a stop and takes in the cells of the
    same ward within `join_ring` H3 steps of it that are not yet in a stop (`cells`; their
    incidents, harm and prize are added), so a hotspot spanning neighbouring cells is one place
    with one dwell; the best such places per ward (or overall) are the stops.

    Parameters
    ----------
    ranking
        Output of `hotspots.ranking.rank_hotspots`: one row per H3 cell with `rank`, `ward_code`,
        `ward_name`, `count`, `harm`, `gi_z`, `reason` and hexagon `geometry`.
    per_ward
        Take the best `per_ward` cells of each ward (default: the `patrol_stops_per_ward`
        setting, 15). Ignored when `top` is given.
    top
        Take the best `top` cells overall instead.
    prize
        What a stop is worth: `harm`, `gi_z` or `count` (default: the `patrol_prize` setting).
        Cells worth nothing (no harm, no incidents or a z-score of 0 or less) are left out.
    dwell_min
        Minutes to stay at each stop, 10 to 16 (default: the `dwell_min` setting, 15).
    windows
        Visiting windows: one 'HH:MM-HH:MM' for every stop, or a mapping category -> window
        (default: the `patrol_windows` setting). Stops of other categories have none.
    category
        Category of the ranking (`asb`, `serious_violence`) when it has no `category` column.
    hot_only
        Keep only cells the ranking calls hot (`hot` column).
    with_empty
        Let cells with no incident in the period be stops too.
    with_institutions
        Let cells mostly at institutions be stops too (default: not `patrol_skip_institutions`).
    allow_empty
        Return an empty frame instead of raising when no cell may be a stop.
    join_ring
        H3 steps within which a cell joins a better cell's stop (default: the `patrol_join_ring`
        setting, 1); 0 makes every cell its own stop.
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    GeoDataFrame
        One row per stop, best first, in EPSG:27700 with `STOP_COLUMNS` and Point geometry (the
        best cell's centre; `cells` lists the hex cells of the stop, that one first).
        `window_start_min`/`window_end_min` are minutes after midnight or NaN; `must_visit` is
        False. ``attrs["left_out"]`` lists what the stop rules left out
        (see `select_stop_cells`).

    Raises
    ------
    InputError
        An empty ranking, missing columns, a bad prize, dwell or window; no cell that may be a
        stop (unless `allow_empty`).
    """
    settings = settings or get_settings()
    check_geoframe(ranking, "ranking", expected="from rank_hotspots",
                   empty_hint=", so there are no stops. Has a filter removed every row?",
                   crs_hint="set one with GeoDataFrame.set_crs (rank_hotspots gives EPSG:27700).")
    prize = prize or settings.patrol_prize
    if prize not in PRIZES:
        msg = f"`prize` is {prize!r}; expected one of {', '.join(PRIZES)}."
        raise InputError(msg)
    needed = [prize] + (["hot"] if hot_only else [])
    missing = [c for c in needed if c not in ranking.columns]
    if missing:
        msg = f"`ranking` has no column {missing[0]!r}; expected the columns of rank_hotspots."
        raise InputError(msg)
    dwell = settings.dwell_min if dwell_min is None else dwell_min
    check_dwell(dwell)
    if category is not None and category not in CATEGORIES:
        msg = f"`category` is {category!r}; expected one of {', '.join(CATEGORIES)}."
        raise InputError(msg)

    # pandas deep-copies a frame's attrs into every column it hands out, and a ranking's attrs
    # describe it at length: read the columns from a shallow copy without them.
    ranking = ranking.copy(deep=False)
    ranking.attrs = {}
    keep, left_out = _stop_mask(ranking, prize=prize, with_empty=with_empty, hot_only=hot_only,
                                with_institutions=with_institutions, settings=settings)
    if not keep.any():
        if allow_empty:
            return _empty_stops(left_out)
        why = " ".join(r["note"] for r in left_out)
        if hot_only and any(r["rule"] == "not hot" for r in left_out):
            msg = "no cell of `ranking` is hot, so there are no stops; use hot_only=False."
        elif left_out and left_out[0]["rule"] == "no incidents" and left_out[0]["cells"] == len(ranking):
            msg = ("no cell of `ranking` holds an incident in the period, so there are no stops. "
                   + why)
        else:
            msg = (f"no cell of `ranking` has a {prize} above 0, so there are no stops; is the "
                   f"period empty? {why}").strip()
        raise InputError(msg)
    # The rows to keep, in order, found on plain arrays; the frame is cut once (a plan makes
    # this for every request while the page's other requests wait).
    rows = np.flatnonzero(keep)
    if "rank" in ranking.columns:
        key = pd.to_numeric(ranking["rank"], errors="coerce").to_numpy(dtype=float)[rows]
    else:
        key = -pd.to_numeric(ranking[prize], errors="coerce").to_numpy(dtype=float)[rows]
    rows = rows[np.argsort(key, kind="stable")]  # best first, ties in the ranking's order
    n = settings.patrol_stops_per_ward if per_ward is None else per_ward
    if top is not None and top < 1:
        msg = f"`top` must be at least 1, not {top}."
        raise InputError(msg)
    if top is None and n < 1:
        msg = f"`per_ward` must be at least 1, not {n}."
        raise InputError(msg)
    ring = settings.patrol_join_ring if join_ring is None else int(join_ring)
    cells = (_cell_ints(ranking["h3_cell"].to_numpy()[rows]) if "h3_cell" in ranking.columns
             else np.zeros(len(rows), dtype=np.uint64))
    wards = (ranking["ward_code"].to_numpy()[rows] if "ward_code" in ranking.columns
             else np.zeros(len(rows), dtype=object))
    groups = neighbour_groups(cells, wards, ring=ring, top=top,
                              per_ward=None if top is not None or "ward_code" not in ranking.columns
                              else n)
    if top is None and "ward_code" not in ranking.columns:
        groups = groups[:n]
    frame = ranking.iloc[rows[[g[0] for g in groups]]]
    frame = frame.to_crs(BNG) if frame.crs != BNG else frame

    all_values = pd.to_numeric(ranking[prize], errors="coerce").to_numpy(dtype=float)[rows]
    values = np.array([all_values[g].sum() for g in groups], dtype=float)
    counts, harms = _col(frame, "count", np.nan), _col(frame, "harm", np.nan)
    reasons = _col(frame, "reason", "")
    if any(len(g) > 1 for g in groups):
        all_counts = (pd.to_numeric(ranking["count"], errors="coerce").fillna(0).to_numpy()[rows]
                      if "count" in ranking.columns else None)
        all_harms = (pd.to_numeric(ranking["harm"], errors="coerce").fillna(0).to_numpy()[rows]
                     if "harm" in ranking.columns else None)
        counts, harms, reasons = counts.astype(float), harms.astype(float), reasons.astype(object)
        for i, g in enumerate(groups):
            if len(g) == 1:
                continue
            if all_counts is not None:
                counts[i] = all_counts[g].sum()
            if all_harms is not None:
                harms[i] = all_harms[g].sum()
            reasons[i] = _joined_reason(reasons[i], len(g) - 1,
                                        None if all_counts is None else all_counts[g[1:]].sum())
    cats = (frame["category"].astype(str).to_numpy() if "category" in frame.columns
            else np.full(len(frame), category or "", dtype=object))
    out = pd.DataFrame({
        "stop_id": _stop_ids(frame),
        "h3_cell": frame["h3_cell"].to_numpy() if "h3_cell" in frame.columns else np.nan,
        "cells": [",".join(format(int(c), "x") for c in cells[g] if c) for g in groups],
        "ward_code": _col(frame, "ward_code", ""),
        "ward_name": _col(frame, "ward_name", ""),
        "place": _col(frame, "place", ""),
        "category": cats,
        "rank": _col(frame, "rank", np.nan),
        "prize": values,
        "prize_by": prize,
        "count": counts,
        "harm": harms,
        "gi_z": _col(frame, "gi_z", np.nan),
        "hot": (frame["hot"].fillna(False).astype(bool).to_numpy() if "hot" in frame.columns
                else np.zeros(len(frame), dtype=bool)),
        "trend": _col(frame, "trend", ""),
        "reason": reasons,
        "dwell_min": float(dwell),
    })
    starts, ends = _windows_for(cats, settings.patrol_windows if windows is None else windows)
    out["window_start_min"] = starts
    out["window_end_min"] = ends
    out["must_visit"] = False
    centres = frame.geometry.centroid.to_numpy()
    stops = gpd.GeoDataFrame(out, geometry=centres, crs=BNG)
    stops.attrs["left_out"] = left_out
    return stops


def neighbour_groups(cells: np.ndarray, wards: np.ndarray, *, ring: int = 1,
                     fixed: np.ndarray | None = None, per_ward: int | None = None,
                     top: int | None = None) -> list[list[int]]:
    """Places from candidate cells given best first: greedily, each cell not yet in a place
    starts one and takes in the cells of the same ward within `ring` H3 steps of it that are not
    yet in one.

    Parameters
    ----------
    cells
        H3 cells as uint64 (0 for a stop that is no cell), best first.
    wards
        The ward of each (a place never crosses a ward boundary: teams keep to their wards).
    ring
        H3 steps (1: the six touching cells); 0 makes every cell its own place.
    fixed
        Positions that neither join another place nor take one in (must-visit places).
    per_ward, top
        Stop after `per_ward` places in each ward, or `top` places in all.

    Returns
    -------
    list of list of int
        The positions of each place, its first cell first, in the order of the places.
    """
    n = len(cells)
    fixed = np.zeros(n, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    where: dict[int, int] = {}
    if ring > 0:
        for i, c in enumerate(np.asarray(cells, dtype=h3cells.CELL_DTYPE).tolist()):
            if c and not fixed[i]:
                where.setdefault(c, i)
    taken = np.zeros(n, dtype=bool)
    per: dict[Any, int] = {}
    groups: list[list[int]] = []
    for i in range(n):
        if taken[i]:
            continue
        if top is not None and len(groups) >= top:
            break
        w = wards[i]
        if per_ward is not None and per.get(w, 0) >= per_ward:
            continue
        taken[i] = True
        group = [i]
        if where and cells[i] and not fixed[i]:
            # Only the places kept look for neighbours: a few dozen lookups, not one per cell.
            _, near = h3cells.grid_disk_pairs(np.asarray([cells[i]], dtype=h3cells.CELL_DTYPE),
                                              k=ring)
            for j in sorted(where[c] for c in near.tolist() if c in where):
                if not taken[j] and wards[j] == w:
                    taken[j] = True
                    group.append(j)
        groups.append(group)
        per[w] = per.get(w, 0) + 1
    return groups


def _cell_ints(values: Any) -> np.ndarray:
    """uint64 cells of a column of cells (uint64, or hex text; 0 where there is none)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "ui":
        return arr.astype(h3cells.CELL_DTYPE)
    keys = [_cell_key(v) for v in arr]
    out = np.zeros(len(keys), dtype=h3cells.CELL_DTYPE)
    have = [i for i, k in enumerate(keys) if k]
    if have:
        try:
            out[have] = h3cells.str_to_cells([keys[i] for i in have])
        except InputError:  # a stop id that is no cell: no neighbours
            pass
    return out


def _joined_reason(reason: Any, joined: int, incidents: float | None) -> str:
    text = "" if reason is None or (isinstance(reason, float) and np.isnan(reason)) else str(reason)
    more = "" if incidents is None else f": {int(incidents):,} more incident{'s' if incidents != 1 else ''}"
    tail = f"with {counted(joined, 'neighbouring cell')}{more}"
    return f"{text}; {tail}" if text else tail[0].upper() + tail[1:]


def join_neighbours(stops: gpd.GeoDataFrame, *, ring: int = 1) -> gpd.GeoDataFrame:
    """Stops of neighbouring cells in the same ward joined into one (`neighbour_groups`), best
    prize first: e.g. an ASB stop beside a serious-violence stop once both rankings' stops are
    merged. Must-visit stops are left as they are. The joined stop keeps the best stop's place
    and id; prizes, incidents and harm are added, categories joined (as `merge_stops`), and its
    reason says what each joined stop holds ("...; beside it: ...")."""
    if stops is None or len(stops) < 2 or ring < 1 or "h3_cell" not in stops.columns:
        return stops
    order = np.argsort(-pd.to_numeric(stops["prize"], errors="coerce").fillna(0).to_numpy(),
                       kind="stable")
    ordered = stops.iloc[order].reset_index(drop=True)
    fixed = (ordered["must_visit"].fillna(False).astype(bool).to_numpy()
             if "must_visit" in ordered.columns else None)
    wards = (ordered["ward_code"].to_numpy() if "ward_code" in ordered.columns
             else np.zeros(len(ordered), dtype=object))
    groups = neighbour_groups(_cell_ints(_merge_keys(ordered)), wards, ring=ring, fixed=fixed)
    if all(len(g) == 1 for g in groups):
        return stops
    # Rows as plain records, combined, and one frame made of them (setting cells one by one
    # on a GeoDataFrame costs more than the whole join).
    records = _records(ordered)
    rows = []
    for g in groups:
        row = dict(records[g[0]])
        if len(g) == 1:
            row["cells"] = ",".join(_stop_cells(row))
        else:
            group = [records[j] for j in g]
            row.update({k: v for k, v in _combined(group).items() if k in row or k == "cells"})
            reasons = [r["reason"] for r in group if isinstance(r.get("reason"), str) and r["reason"]]
            if len(reasons) > 1:  # each joined stop says what it is (its category may differ)
                row["reason"] = f"{reasons[0]}; beside it: {'; '.join(reasons[1:])}"
        rows.append(row)
    columns = list(ordered.columns) + ([] if "cells" in ordered.columns else ["cells"])
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry="geometry", crs=stops.crs)
    out.attrs = dict(stops.attrs)
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts, read column by column (`DataFrame.to_dict("records")` boxes every
    value of pandas' Arrow-backed strings one at a time, several milliseconds a frame)."""
    columns = list(frame.columns)
    arrays = [frame[c].to_numpy() for c in columns]
    return [dict(zip(columns, values, strict=True)) for values in zip(*arrays, strict=True)]


def _stop_cells(row: Mapping[str, Any]) -> list[str]:
    """The hex cells of a stop record: its `cells`, else its own cell."""
    cells = row.get("cells")
    if isinstance(cells, str) and cells:
        return cells.split(",")
    key = _cell_key(row.get("h3_cell"))
    return [key] if key else []


def _empty_stops(left_out: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in STOP_COLUMNS},
                           geometry=gpd.GeoSeries([], crs=BNG), crs=BNG)
    out.attrs["left_out"] = left_out
    return out


def must_visit_stops(places: gpd.GeoDataFrame, *, dwell_min: float | None = None,
                     settings: Settings | None = None) -> gpd.GeoDataFrame:
    """Stops that every plan must visit if any shift can fit them (e.g. designated hotspots).

    Parameters
    ----------
    places
        One row per place: Point geometry (a polygon is visited at its centre), any CRS.
        Optional columns: `stop_id` (default `must-1`, `must-2`, ...), `h3_cell` (a cell of the
        ranking: the stop then merges with that cell's candidate stop), `dwell_min` (minutes,
        up to 240), `prize`, `ward_code`, `ward_name`, `place`, `category`, `reason`,
        `window_start_min`, `window_end_min`.
    dwell_min
        Dwell of rows without their own (default: the `dwell_min` setting).
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    GeoDataFrame
        A stops frame (`STOP_COLUMNS`) with `must_visit` True, in EPSG:27700.

    Raises
    ------
    InputError
        No geometry or CRS, an empty geometry, a bad dwell, duplicate stop ids.
    """
    settings = settings or get_settings()
    check_geoframe(places, "must_visit", expected="of places to visit",
                   empty_hint=": pass None when no place must be visited.",
                   crs_hint="set one with GeoDataFrame.set_crs.")
    frame = places.to_crs(BNG) if places.crs != BNG else places
    if frame.geometry.is_empty.any() or frame.geometry.isna().any():
        i = int(np.flatnonzero((frame.geometry.is_empty | frame.geometry.isna()).to_numpy())[0])
        msg = f"`must_visit` row {i}: the place has no geometry."
        raise InputError(msg)
    n = len(frame)
    default_dwell = settings.dwell_min if dwell_min is None else dwell_min
    dwell = (pd.to_numeric(frame["dwell_min"], errors="coerce").fillna(default_dwell)
             if "dwell_min" in frame.columns else pd.Series(default_dwell, index=frame.index))
    for i, d in enumerate(dwell.to_numpy(dtype=float)):
        if not 0 < d <= MAX_MUST_VISIT_DWELL_MIN:
            msg = (f"`must_visit` row {i}: a dwell of {d:g} minutes is outside 0 to "
                   f"{MAX_MUST_VISIT_DWELL_MIN:g} minutes.")
            raise InputError(msg)
    ids = (frame["stop_id"].astype(str).to_numpy() if "stop_id" in frame.columns
           else np.array([f"must-{i + 1}" for i in range(n)], dtype=object))
    if len(set(ids)) != n:
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        msg = f"`must_visit`: stop id {dup!r} is used more than once."
        raise InputError(msg)
    out = pd.DataFrame({
        "stop_id": ids,
        "h3_cell": _col(frame, "h3_cell", np.nan),
        "cells": [_cell_key(c) or "" for c in _col(frame, "h3_cell", np.nan)],
        "ward_code": _col(frame, "ward_code", ""),
        "ward_name": _col(frame, "ward_name", ""),
        "place": _col(frame, "place", ""),
        "category": _col(frame, "category", ""),
        "rank": np.nan,
        "prize": pd.to_numeric(pd.Series(_col(frame, "prize", 0.0)), errors="coerce")
        .fillna(0.0).clip(lower=0.0).to_numpy(),
        "prize_by": "",
        "count": np.nan,
        "harm": np.nan,
        "gi_z": np.nan,
        "hot": False,
        "trend": "",
        "reason": _col(frame, "reason", "must be visited"),
        "dwell_min": dwell.to_numpy(dtype=float),
        "window_start_min": _col(frame, "window_start_min", np.nan),
        "window_end_min": _col(frame, "window_end_min", np.nan),
        "must_visit": True,
    })
    points = frame.geometry.to_numpy()
    centres = [g if g.geom_type == "Point" else g.representative_point() for g in points]
    return gpd.GeoDataFrame(out, geometry=centres, crs=BNG).reset_index(drop=True)


def add_must_visit(stops: gpd.GeoDataFrame | None, must: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Join must-visit stops (`must_visit_stops`) to candidate stops.

    A must-visit place in the same H3 cell (or with the same `stop_id`) as a candidate stop
    makes that stop a must-visit one with the place's dwell; the others are added at the end.
    """
    if must is None or len(must) == 0:
        if stops is None:
            msg = "no stops: neither candidate stops nor must-visit places were given."
            raise InputError(msg)
        return stops
    if stops is None or len(stops) == 0:
        out = must.copy()
        out.attrs["left_out"] = list(stops.attrs.get("left_out", [])) if stops is not None else []
        return out
    out = stops.copy()
    if "must_visit" not in out.columns:
        out["must_visit"] = False
    cells = _merge_keys(out)
    ids = out["stop_id"].astype(str).to_numpy()
    extra = []
    for _, row in must.iterrows():
        match = ids == str(row["stop_id"])
        cell = _cell_key(row.get("h3_cell"))
        if cell is not None:
            match |= cells == cell
        hit = np.flatnonzero(match)
        if len(hit):
            i = out.index[hit[0]]
            out.loc[i, "must_visit"] = True
            out.loc[i, "dwell_min"] = float(row["dwell_min"])
            out.loc[i, "prize"] = float(out.loc[i, "prize"]) + float(row["prize"])
            reason = str(row["reason"] or "")
            out.loc[i, "reason"] = "; ".join(r for r in (reason, str(out.loc[i, "reason"])) if r)
        else:
            extra.append(row)
    if extra:
        added = gpd.GeoDataFrame(extra, geometry="geometry", crs=BNG)
        out = gpd.GeoDataFrame(pd.concat([out, added], ignore_index=True), geometry="geometry",
                               crs=BNG)
    out.attrs["left_out"] = list(stops.attrs.get("left_out", []))
    return out.reset_index(drop=True)


def _cell_key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, str) else format(int(value), "x")


def _merge_keys(stops: pd.DataFrame) -> np.ndarray:
    if "h3_cell" not in stops.columns:
        return np.full(len(stops), None, dtype=object)
    return np.array([_cell_key(v) for v in stops["h3_cell"]], dtype=object)


def sparse_advisory(stops: pd.DataFrame, *, period: Any = None, share: float = 0.5) -> str | None:
    """A warning when most candidate stops are single incidents that are not significant hotspots.

    Weekly ASB at resolution 10 is sparse: most cells with an incident hold just one, and none is
    a significant cluster, so a plan through them chases chance. When more than `share` of the
    `stops` (from `stops_from_ranking` or `merge_stops`: `count` and `hot`) hold no more than
    one incident per cell (`cells`) and are not hot, this returns a sentence saying so and
    suggesting a longer period; else None.

    Parameters
    ----------
    stops
        Candidate stops.
    period
        The plan's period (a `hotspots.periods.Period` or its label), to name a longer one.
    share
        The share of single, non-significant stops above which the plan is called sparse.
    """
    if stops is None or len(stops) == 0 or "count" not in stops.columns:
        return None
    count = pd.to_numeric(stops["count"], errors="coerce").fillna(0).to_numpy()
    hot = (stops["hot"].fillna(False).astype(bool).to_numpy() if "hot" in stops.columns
           else np.zeros(len(stops), dtype=bool))
    # A stop that joined its neighbours' cells is as sparse as one incident in each of them.
    n_cells = (np.array([max(1, len(_stop_cells(r))) for r in _records(stops[["cells", "h3_cell"]])])
               if "cells" in stops.columns and "h3_cell" in stops.columns else np.ones(len(stops)))
    single = int(((count <= n_cells) & ~hot).sum())
    if single <= share * len(stops):
        return None
    text = (f"{single} of {len(stops)} candidate stops hold a single incident per cell and are "
            "not a significant hotspot: this period is too sparse to show where incidents persist")
    longer = _longer_period(period)
    return text + (f"; plan on a longer period, such as {longer}." if longer else
                   "; plan on a longer period, such as a month.")


def _longer_period(period: Any) -> str | None:
    """A longer period around `period` to suggest: the month of a week, the quarter of a month."""
    if period is None:
        return None
    from hotspots.periods import parse_period, range_period

    try:
        p = parse_period(period) if isinstance(period, str) else period
    except InputError:
        return None
    if p.kind == "week":
        last = (p.end - pd.Timedelta(days=1)).date()
        four = range_period(p.start.date() - pd.Timedelta(weeks=3), last, tz=p.tz)
        return f"the month {p.months()[-1]} or the four weeks {four.label}"
    if p.kind == "month":
        first = p.shift(-2)
        three = range_period(first.start.date(), (p.end - pd.Timedelta(days=1)).date(), tz=p.tz)
        return f"the three months {three.label}"
    return None


def check_dwell(dwell: Any) -> float:
    """Return the dwell in minutes if it is within the Koper range (10 to 16), else raise."""
    try:
        value = float(dwell)
    except (TypeError, ValueError):
        value = np.nan
    lo, hi = DWELL_RANGE_MIN
    if not lo <= value <= hi:
        msg = (f"a dwell of {dwell!r} minutes is outside the {lo:g} to {hi:g} minutes the Koper "
               "curve supports; use 15 minutes unless there is a reason not to.")
        raise InputError(msg)
    return value


def merge_stops(*frames: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join stops from several rankings (e.g. ASB and serious violence) into one set.

    A cell in more than one frame becomes one stop: prizes are added, categories and reasons
    joined, and its window is the widest of the windows (none if any frame has none).
    """
    frames = tuple(f for f in frames if f is not None and len(f))
    if not frames:
        msg = "no stops to merge: every ranking was empty."
        raise InputError(msg)
    all_stops = pd.concat([f.to_crs(BNG) for f in frames], ignore_index=True)
    if "must_visit" not in all_stops.columns:
        all_stops["must_visit"] = False
    all_stops["must_visit"] = all_stops["must_visit"].fillna(False).astype(bool)
    if "hot" not in all_stops.columns:
        all_stops["hot"] = False
    if "cells" not in all_stops.columns:
        all_stops["cells"] = [",".join(_stop_cells(r)) for r in _records(all_stops)]
    # The first row of each cell is kept; cells in several frames get their columns combined
    # (on plain records: setting cells one by one on a frame costs more than the whole merge).
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in _records(all_stops):
        groups.setdefault(str(row["stop_id"]), []).append(row)
    rows = []
    for group in groups.values():
        row = dict(group[0])
        if len(group) > 1:
            row.update(_combined(group))
        rows.append(row)
    merged = pd.DataFrame(rows, columns=all_stops.columns)
    merged = merged.iloc[np.argsort(-merged["prize"].to_numpy(dtype=float), kind="stable")]
    merged = gpd.GeoDataFrame(merged.reset_index(drop=True), geometry="geometry", crs=BNG)
    merged.attrs["left_out"] = [r for f in frames for r in f.attrs.get("left_out", [])]
    return merged


def _combined(group: list[dict[str, Any]]) -> dict[str, Any]:
    """The columns of one cell that is a stop of several frames: prizes, counts and harm added,
    categories and reasons joined, the best rank and z, the widest window (none if any has none)."""
    def values(col: str) -> list[Any]:
        return [r[col] for r in group]

    starts, ends = values("window_start_min"), values("window_end_min")
    no_window = any(pd.isna(v) for v in starts)
    cells = [c for r in group for c in _stop_cells(r) if c]
    return {
        "cells": ",".join(dict.fromkeys(cells)),
        "prize": float(sum(values("prize"))),
        "category": "+".join(dict.fromkeys(str(c) for c in values("category"))),
        "reason": "; ".join(str(r) for r in values("reason") if r and not pd.isna(r)),
        "rank": min(values("rank")),
        "count": sum(values("count")),
        "harm": sum(values("harm")),
        "gi_z": max(values("gi_z")),
        "hot": any(bool(h) for h in values("hot")),
        "must_visit": any(values("must_visit")),
        "dwell_min": max(values("dwell_min")),
        "window_start_min": np.nan if no_window else min(starts),
        "window_end_min": np.nan if no_window else max(ends),
    }


def snap_stops(stops: gpd.GeoDataFrame, network: nx.MultiDiGraph, *,
               near_m: float = NEAR_STREET_M, weight: str = "travel_time") -> pd.DataFrame:
    """Snap stops to the nearest network node.

    Returns
    -------
    DataFrame
        Aligned to `stops`: `node` (network node id), `node_pos`, `snap_m` (metres to that node),
        `street_m` (metres to the nearest street) and `on_network` (street_m <= near_m). A stop
        off the network is not moved: a plan reaches it by a straight line.
    """
    index = graph_index(network, weight=weight)
    xy = np.column_stack([stops.geometry.x.to_numpy(), stops.geometry.y.to_numpy()])
    pos, snap = nearest_nodes(index, xy)
    street = street_distances(index, xy)
    out = pd.DataFrame({
        "node": index.nodes[pos] if len(pos) else np.array([], dtype=object),
        "node_pos": pos,
        "snap_m": snap,
        "street_m": street,
        "on_network": street <= near_m,
    }, index=stops.index)
    far = np.flatnonzero(~out["on_network"].to_numpy())
    if len(far):
        log.warning("%d of %d stops are more than %.0f m from the nearest street (e.g. %s, %.0f m); "
                    "legs to them are straight lines", len(far), len(stops), near_m,
                    stops["stop_id"].iloc[far[0]], street[far[0]])
    return out


def _col(frame: pd.DataFrame, name: str, default: Any) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), default, dtype=object if isinstance(default, str) else float)


def _stop_ids(frame: pd.DataFrame) -> list[str]:
    if "h3_cell" in frame.columns:
        ids = []
        for cell in frame["h3_cell"]:
            if isinstance(cell, str):
                ids.append(cell)
            else:
                ids.append(format(int(cell), "x"))
        return ids
    return [f"stop-{i + 1}" for i in range(len(frame))]


def _windows_for(cats: np.ndarray, windows: Mapping[str, str] | str | None) -> tuple[
        np.ndarray, np.ndarray]:
    n = len(cats)
    starts = np.full(n, np.nan)
    ends = np.full(n, np.nan)
    if not windows:
        return starts, ends
    if isinstance(windows, str):
        s, e = parse_window(windows)
        starts[:] = s
        ends[:] = e
        return starts, ends
    parsed = {k: parse_window(v) for k, v in windows.items()}
    for i, cat in enumerate(cats):
        for part in str(cat).split("+"):
            if part in parsed:
                starts[i], ends[i] = parsed[part]
                break
    return starts, ends
