"""Candidate patrol stops: the top hotspots of a ranking, each with a prize, a dwell and a window.

A stop is a hotspot cell's centre. It is snapped to the nearest node of a street network when the
plan is made; a hotspot further than 500 m from any street is reported as unreachable, never moved.
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

from hotspots._validate import check_geoframe
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.settings import CATEGORIES, Settings, get_settings
from routing._matrix import graph_index, nearest_nodes, street_distances

log = logging.getLogger(__name__)

#: Koper curve: stops of 10 to 16 minutes give the longest residual deterrence.
DWELL_RANGE_MIN: tuple[float, float] = (10.0, 16.0)

#: A hotspot further than this from every street cannot be patrolled from the network.
MAX_SNAP_M = 500.0

PRIZES: tuple[str, ...] = ("harm", "gi_z", "count")

#: Columns of a stops frame, in order (plus `geometry`).
STOP_COLUMNS: list[str] = [
    "stop_id", "h3_cell", "ward_code", "ward_name", "category", "rank", "prize", "prize_by",
    "count", "harm", "gi_z", "hot", "trend", "reason", "dwell_min", "window_start_min", "window_end_min",
]

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
    settings: Settings | None = None,
) -> gpd.GeoDataFrame:
    """Choose candidate patrol stops from a hotspot ranking.

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
        Also take cells with no incidents in the period (`count` 0), such as a cluster's empty
        neighbour that is only next to a hotspot. Off by default: nothing happened there.
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    GeoDataFrame
        One row per stop, best first, in EPSG:27700 with `STOP_COLUMNS` and Point geometry (the
        cell's centre). `window_start_min`/`window_end_min` are minutes after midnight or NaN.

    Raises
    ------
    InputError
        An empty ranking, missing columns, a bad prize, dwell or window.
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

    frame = ranking.to_crs(BNG) if ranking.crs != BNG else ranking
    if hot_only:
        frame = frame[frame["hot"].fillna(False).astype(bool)]
        if len(frame) == 0:
            msg = "no cell of `ranking` is hot, so there are no stops; use hot_only=False."
            raise InputError(msg)
    if not with_empty and "count" in frame.columns:
        busy = pd.to_numeric(frame["count"], errors="coerce").fillna(0).to_numpy() > 0
        if not busy.all():
            frame = frame[busy]
        if len(frame) == 0:
            msg = "no cell of `ranking` holds an incident in the period, so there are no stops."
            raise InputError(msg)
    order_by = ["rank"] if "rank" in frame.columns else [prize]
    frame = frame.sort_values(order_by, ascending="rank" in frame.columns, kind="stable")
    if top is not None:
        if top < 1:
            msg = f"`top` must be at least 1, not {top}."
            raise InputError(msg)
        frame = frame.head(top)
    else:
        n = settings.patrol_stops_per_ward if per_ward is None else per_ward
        if n < 1:
            msg = f"`per_ward` must be at least 1, not {n}."
            raise InputError(msg)
        if "ward_code" in frame.columns:
            frame = frame.groupby("ward_code", sort=False, dropna=False).head(n)
        else:
            frame = frame.head(n)

    values = pd.to_numeric(frame[prize], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    values = np.clip(values, 0.0, None)
    # A cell with nothing to win is no stop (a cold cell by Gi*, or one with no incidents).
    keep = values > 0
    if not keep.any():
        msg = (f"no cell of `ranking` has a {prize} above 0, so there are no stops; is the "
               "period empty?")
        raise InputError(msg)
    frame, values = frame[keep], values[keep]
    cats = (frame["category"].astype(str).to_numpy() if "category" in frame.columns
            else np.full(len(frame), category or "", dtype=object))
    out = pd.DataFrame({
        "stop_id": _stop_ids(frame),
        "h3_cell": frame["h3_cell"].to_numpy() if "h3_cell" in frame.columns else np.nan,
        "ward_code": _col(frame, "ward_code", ""),
        "ward_name": _col(frame, "ward_name", ""),
        "category": cats,
        "rank": _col(frame, "rank", np.nan),
        "prize": values,
        "prize_by": prize,
        "count": _col(frame, "count", np.nan),
        "harm": _col(frame, "harm", np.nan),
        "gi_z": _col(frame, "gi_z", np.nan),
        "hot": (frame["hot"].fillna(False).astype(bool).to_numpy() if "hot" in frame.columns
                else np.zeros(len(frame), dtype=bool)),
        "trend": _col(frame, "trend", ""),
        "reason": _col(frame, "reason", ""),
        "dwell_min": float(dwell),
    })
    starts, ends = _windows_for(cats, settings.patrol_windows if windows is None else windows)
    out["window_start_min"] = starts
    out["window_end_min"] = ends
    centres = frame.geometry.centroid.to_numpy()
    return gpd.GeoDataFrame(out, geometry=centres, crs=BNG).reset_index(drop=True)


def sparse_advisory(stops: pd.DataFrame, *, period: Any = None, share: float = 0.5) -> str | None:
    """A warning when most candidate stops are single incidents that are not significant hotspots.

    Weekly ASB at resolution 10 is sparse: most cells with an incident hold just one, and none is
    a significant cluster, so a plan through them chases chance. When more than `share` of the
    `stops` (from `stops_from_ranking` or `merge_stops`: `count` and `hot`) hold one incident
    and are not hot, this returns a sentence saying so and suggesting a longer period; else None.

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
    single = int(((count <= 1) & ~hot).sum())
    if single <= share * len(stops):
        return None
    text = (f"{single} of {len(stops)} candidate stops hold a single incident and are not a "
            "significant hotspot: this period is too sparse to show where incidents persist")
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
    key = all_stops["stop_id"].astype(str)
    rows = []
    for _, group in all_stops.groupby(key, sort=False):
        first = group.iloc[0].copy()
        if len(group) > 1:
            first["prize"] = float(group["prize"].sum())
            first["category"] = "+".join(dict.fromkeys(group["category"].astype(str)))
            first["reason"] = "; ".join(r for r in group["reason"].astype(str) if r)
            first["rank"] = group["rank"].min()
            for col in ("count", "harm"):
                first[col] = group[col].sum()
            first["gi_z"] = group["gi_z"].max()
            first["hot"] = bool(group["hot"].astype(bool).any())
            if group["window_start_min"].isna().any():
                first["window_start_min"] = np.nan
                first["window_end_min"] = np.nan
            else:
                first["window_start_min"] = group["window_start_min"].min()
                first["window_end_min"] = group["window_end_min"].max()
        rows.append(first)
    merged = gpd.GeoDataFrame(rows, geometry="geometry", crs=BNG).reset_index(drop=True)
    return merged.sort_values("prize", ascending=False, kind="stable").reset_index(drop=True)


def snap_stops(stops: gpd.GeoDataFrame, network: nx.MultiDiGraph, *,
               max_snap_m: float = MAX_SNAP_M, weight: str = "travel_time") -> pd.DataFrame:
    """Snap stops to the nearest network node.

    Returns
    -------
    DataFrame
        Aligned to `stops`: `node` (network node id), `node_pos`, `snap_m` (metres to that node),
        `street_m` (metres to the nearest street) and `reachable` (street_m <= max_snap_m).
        Unreachable stops are logged, not moved.
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
        "reachable": street <= max_snap_m,
    }, index=stops.index)
    far = np.flatnonzero(~out["reachable"].to_numpy())
    if len(far):
        log.warning("%d of %d stops are more than %.0f m from the nearest street (e.g. %s, %.0f m) "
                    "and are left out of the plan", len(far), len(stops), max_snap_m,
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
