"""Designated hotspots in a patrol plan: their must-visit stops, which teams may visit each stop,
and when a team visits its hotspots from one shift to the next.

The register lives in the application's database; this module takes its hotspots as plain
records (`designated_stops`), so the CLI, the web app and the API plan them the same way through
`routing.plan_deployment`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots import cells as h3cells
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings
from routing.stops import MAX_MUST_VISIT_DWELL_MIN, must_visit_stops
from routing.teams import Team

#: The keys of a designated hotspot record (`designated_stops`); `team` and `dwell_min` may be
#: left out.
HOTSPOT_KEYS: tuple[str, ...] = ("id", "name", "category", "cells", "team", "dwell_min")

#: Columns a designated stop carries besides the stop columns.
DESIGNATED_COLUMNS: tuple[str, ...] = ("hotspot_id", "hotspot_name", "area_cells", "teams")

#: Fewest time slots a shift is split into when designated stops are varied (three, so that a
#: shift can always differ from both the shift before and the shift after it).
MIN_SLOTS = 3


def designated_stops(hotspots: Sequence[Mapping[str, Any]], *, wards: gpd.GeoDataFrame | None = None,
                     settings: Settings | None = None) -> gpd.GeoDataFrame | None:
    """Must-visit stops for designated hotspots given as plain records.

    Parameters
    ----------
    hotspots
        One mapping per hotspot: `id` (int), `name`, `category`, `cells` (the area's H3 cells as
        hex text, one resolution), optional `team` (the owner team's name; None or '' when any
        team on the plan may visit it) and `dwell_min` (minutes per visit of its dosage target,
        default the `hotspot_minutes_per_visit` setting).
    wards
        Ward polygons to name each stop's ward (default: the settings' boundary file).
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    GeoDataFrame or None
        One must-visit stop per hotspot (None when there is none), in EPSG:27700: the centre of
        the area's cell nearest the area's centroid (its `stop_id` and `h3_cell`, so a visit
        logged there counts towards the hotspot's dosage), with the stop columns of
        `routing.must_visit_stops` and `hotspot_id`, `hotspot_name`, `area_cells` (tuple of hex
        cells) and `teams` (a one-name tuple for an owned hotspot, None for any team).

    Raises
    ------
    InputError
        A record without an id or cells, a bad cell, a dwell outside 0 to 240 minutes, a
        repeated id.
    """
    settings = settings or get_settings()
    if not hotspots:
        return None
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, h in enumerate(hotspots):
        row = _record(h, i, settings)
        if row["hotspot_id"] in seen:
            msg = f"designated hotspot {row['hotspot_id']} is given more than once."
            raise InputError(msg)
        seen.add(row["hotspot_id"])
        same = next((r for r in rows if r["stop_id"] == row["stop_id"]
                     and (r["teams"] == row["teams"] or row["teams"] is None)), None)
        if same is not None:
            # Two hotspots (of two categories) centred on one cell: one visit serves both.
            same["hotspot_name"] = f"{same['hotspot_name']} + {row['hotspot_name']}"
            same["dwell_min"] = max(same["dwell_min"], row["dwell_min"])
            same["reason"] = f"{same['reason']}; {row['reason']}"
            same["category"] = "+".join(dict.fromkeys([same["category"], row["category"]]))
            continue
        rows.append(row)
    used = [r["stop_id"] for r in rows]
    if len(set(used)) < len(used):
        msg = (f"designated hotspots of different teams share the cell {_first_repeat(used)}; "
               "give each its own cells.")
        raise InputError(msg)
    frame = gpd.GeoDataFrame(pd.DataFrame(rows).drop(columns="point"),
                             geometry=[r["point"] for r in rows], crs=BNG)
    _name_wards(frame, wards, settings)
    stops = must_visit_stops(frame.drop(columns=list(DESIGNATED_COLUMNS)), settings=settings)
    for col in DESIGNATED_COLUMNS:
        stops[col] = frame[col].to_numpy()
    return stops


def _first_repeat(values: list[str]) -> str:
    return next(v for i, v in enumerate(values) if v in values[:i])


def _record(h: Mapping[str, Any], i: int, settings: Settings) -> dict[str, Any]:
    try:
        key = int(h["id"])
    except (KeyError, TypeError, ValueError):
        msg = f"designated hotspot record {i + 1} has no `id` (a whole number)."
        raise InputError(msg) from None
    cells = h.get("cells") or []
    if isinstance(cells, str):
        cells = [c for c in cells.replace(",", " ").split() if c]
    if not cells:
        msg = f"designated hotspot {key} has no `cells`."
        raise InputError(msg)
    try:
        arr = np.unique(h3cells.str_to_cells(list(cells)))
    except InputError as exc:
        msg = f"designated hotspot {key}: {exc}"
        raise InputError(msg) from None
    centre = _centre_cell(arr)
    lat, lng = h3cells.cells_to_latlng(np.array([centre], dtype=h3cells.CELL_DTYPE))
    point = gpd.GeoSeries(gpd.points_from_xy(lng, lat), crs="EPSG:4326").to_crs(BNG).iloc[0]
    dwell = h.get("dwell_min")
    dwell = float(settings.hotspot_minutes_per_visit if dwell in (None, "") else dwell)
    if not (math.isfinite(dwell) and 0 < dwell <= MAX_MUST_VISIT_DWELL_MIN):
        msg = (f"designated hotspot {key}: a visit of {dwell:g} minutes is outside 0 to "
               f"{MAX_MUST_VISIT_DWELL_MIN:g} minutes.")
        raise InputError(msg)
    name = str(h.get("name") or f"hotspot {key}")
    team = str(h.get("team") or "").strip()
    hex_cells = tuple(str(c) for c in h3cells.cells_to_str(arr))
    centre_hex = str(h3cells.cells_to_str(np.array([centre], dtype=h3cells.CELL_DTYPE))[0])
    reason = f"designated hotspot {key}: {name} ({dwell:g} min a visit)"
    return {"stop_id": centre_hex, "h3_cell": centre_hex, "category": str(h.get("category") or ""),
            "dwell_min": dwell, "prize": 0.0, "reason": reason, "hotspot_id": key,
            "hotspot_name": name, "area_cells": hex_cells, "teams": (team,) if team else None,
            "point": point}


def _centre_cell(cells: np.ndarray) -> int:
    """The cell of an area whose centre is nearest the area's centroid (inside the area)."""
    if len(cells) == 1:
        return int(cells[0])
    polys = h3cells.cells_to_polygons(cells, crs=BNG)
    centroid = shapely.union_all(polys).centroid
    centres = shapely.centroid(polys)
    return int(cells[int(np.argmin(shapely.distance(centres, centroid)))])


def _name_wards(frame: gpd.GeoDataFrame, wards: gpd.GeoDataFrame | None, settings: Settings) -> None:
    """Fill `ward_code` and `ward_name` of each stop from the ward holding its point."""
    if wards is None:
        from hotspots.wards import load_wards

        wards = load_wards(settings=settings)
    wards = wards.to_crs(BNG) if wards.crs != BNG else wards
    codes = np.full(len(frame), "", dtype=object)
    names = np.full(len(frame), "", dtype=object)
    for i, point in enumerate(frame.geometry):
        hit = np.flatnonzero(wards.geometry.contains(point).to_numpy())
        if len(hit):
            codes[i] = str(wards["ward_code"].iloc[hit[0]])
            names[i] = str(wards["ward_name"].iloc[hit[0]])
    frame["ward_code"] = codes
    frame["ward_name"] = names


def absorb_ranked(stops: gpd.GeoDataFrame | None,
                  designated: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame]:
    """Merge candidate stops that lie in a designated area into that area's stop.

    A ranked cell whose centre falls in a designated hotspot's cells is patrolled by visiting
    the hotspot: its prize is added to the hotspot's stop and its reason kept; it is no longer a
    stop of its own.

    Returns
    -------
    (stops, designated)
        The candidate stops left (None when none is) and the designated stops with the prizes
        and reasons of the cells they took in.
    """
    designated = designated.copy()
    if stops is None or len(stops) == 0 or "h3_cell" not in stops.columns:
        return stops, designated
    ranked = [_cell(v) for v in stops["h3_cell"]]
    valid = np.array([c is not None for c in ranked])
    if not valid.any():
        return stops, designated
    lat, lng = h3cells.cells_to_latlng(np.array([c for c in ranked if c is not None],
                                                dtype=h3cells.CELL_DTYPE))
    where = np.flatnonzero(valid)
    taken = np.zeros(len(stops), dtype=bool)
    for j, area in enumerate(designated["area_cells"]):
        cells = h3cells.str_to_cells(list(area))
        res = int(h3cells.get_resolutions(cells[:1])[0])
        inside = np.isin(h3cells.latlng_to_cells(lat, lng, resolution=res), cells) & ~taken[where]
        if not inside.any():
            continue
        rows = where[inside]
        taken[rows] = True
        label = designated.index[j]
        designated.loc[label, "prize"] = float(designated.loc[label, "prize"]) + float(
            pd.to_numeric(stops["prize"].iloc[rows], errors="coerce").fillna(0).sum())
        reasons = [str(r) for r in stops["reason"].iloc[rows] if isinstance(r, str) and r]
        if reasons:
            designated.loc[label, "reason"] = "; ".join([str(designated.loc[label, "reason"]),
                                                         *reasons])
    if not taken.any():
        return stops, designated
    left = stops[~taken].reset_index(drop=True)
    left.attrs = dict(stops.attrs)
    return (left if len(left) else None), designated


def _cell(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        try:
            return int(h3cells.str_to_cells([value])[0])
        except InputError:
            return None
    return int(value)


def team_scope(stops: gpd.GeoDataFrame, teams: Sequence[Team], *,
               any_ward: bool = False) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Say which teams may visit each stop (the `teams` column; None: any team).

    An owned designated stop keeps its owner. Other stops go to the teams whose home wards hold
    them (a team without home wards goes anywhere), unless `any_ward`. A candidate stop no team
    may visit is left out; so is a designated stop whose owner is not on the plan, or an unowned
    one outside every team's home wards (each reported, never dropped silently).

    Returns
    -------
    (stops, left_out)
        The stops with a `teams` column, and one record per stop left out (`stop_id`,
        `hotspot_id` when designated, `why`).
    """
    names = {t.name for t in teams}
    free = tuple(t.name for t in teams if not t.home_wards)
    homes = [(t.name, set(t.home_wards)) for t in teams if t.home_wards]
    out = stops.copy()
    if "teams" not in out.columns:
        out["teams"] = None
    allowed: list[tuple[str, ...] | None] = []
    keep = np.ones(len(out), dtype=bool)
    left_out: list[dict[str, Any]] = []
    hotspot = out["hotspot_id"] if "hotspot_id" in out.columns else pd.Series(np.nan, index=out.index)
    for i, (own, ward, must, hid) in enumerate(zip(out["teams"], out["ward_code"], out["must_visit"],
                                                   hotspot, strict=True)):
        designated = not (hid is None or (isinstance(hid, float) and np.isnan(hid)))
        if isinstance(own, tuple | list) and own:
            missing = [n for n in own if n not in names]
            if missing:
                keep[i] = False
                left_out.append(_left(out, i, hid, f"its team {missing[0]} is not on this plan"))
            allowed.append(tuple(own))
            continue
        if any_ward or not homes:
            allowed.append(None)
            continue
        may = free + tuple(n for n, wards in homes if str(ward) in wards)
        if not may:
            keep[i] = False
            if designated or bool(must):
                left_out.append(_left(out, i, hid, "it has no owner team and lies outside every "
                                                   "chosen team's home wards"))
            else:
                left_out.append(_left(out, i, None, "outside every chosen team's home wards"))
        allowed.append(may if len(may) < len(teams) else None)
    out["teams"] = pd.Series(allowed, index=out.index, dtype=object)
    result = out[keep].reset_index(drop=True)
    result.attrs = dict(stops.attrs)
    return result, left_out


def _left(frame: pd.DataFrame, i: int, hid: Any, why: str) -> dict[str, Any]:
    rec = {"stop_id": str(frame["stop_id"].iloc[i]), "ward_name": str(frame["ward_name"].iloc[i]),
           "why": why}
    if hid is not None and not (isinstance(hid, float) and np.isnan(hid)):
        rec["hotspot_id"] = int(hid)
        rec["hotspot_name"] = str(frame["hotspot_name"].iloc[i])
    return rec


# ------------------------------------------------------------------------------------------
# Variation


def shift_slots(key: str, shift: int, k: int) -> tuple[int, ...]:
    """The time slot (0 to n-1, n = max(k, 3)) of each of k stops on shift number `shift`.

    Reproducible from `key` and `shift`, and never the same as on shift `shift - 1` or
    `shift + 1`: with two or more stops their order differs (two stops swap; three or more take a
    seeded order that differs from both neighbours'), and a single stop moves to another slot.
    Which slots the stops take is drawn too, so the times change as well as the order.
    """
    if k < 1:
        return ()
    n = max(k, MIN_SLOTS)
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")

    def rng(s: int, attempt: int, what: int) -> np.random.Generator:
        return np.random.default_rng([seed, s & 0xFFFFFFFF, attempt, what])

    def apart(draw: Any) -> tuple[int, ...]:
        # An even shift takes its draw; an odd one the first of its draws that differs from both
        # even neighbours' (there are always three or more to choose from).
        if shift % 2 == 0:
            return draw(shift, 0)
        avoid = {draw(shift - 1, 0), draw(shift + 1, 0)}
        attempt = 0
        while (chosen := draw(shift, attempt)) in avoid:
            attempt += 1
        return chosen

    if k == 1:
        return apart(lambda s, a: (int(rng(s, a, 0).integers(n)),))
    if k == 2:
        first = int(rng(0, 0, 1).integers(2))
        order = (first, 1 - first) if shift % 2 == 0 else (1 - first, first)
    else:
        order = apart(lambda s, a: tuple(int(v) for v in rng(s, a, 1).permutation(k)))
    taken = sorted(int(v) for v in rng(shift, 0, 2).choice(n, size=k, replace=False))
    slots = [0] * k
    for position, stop in enumerate(order):
        slots[stop] = taken[position]
    return tuple(slots)


def vary_windows(stops: gpd.GeoDataFrame, teams: Sequence[Team]) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Give each team's designated stops a time slot of its shift that changes from shift to shift.

    The shift is cut into n = max(k, 3) equal slots for a team's k designated stops; which stop
    takes which slot is drawn from the team's name, start time and stops, and the shift's date
    (`shift_slots`), so consecutive days visit them in a different order and at different times,
    every one of them still visited with its dwell (the same dosage). A team without a date, or
    whose slots are shorter than a dwell, keeps the solver's order.

    Returns
    -------
    (stops, notes)
        The stops with `window_start_min`/`window_end_min` set on the varied ones (and a bool
        `varied` column), and sentences about what was (not) varied.
    """
    out = stops.copy()
    out["varied"] = False
    notes: list[str] = []
    if "hotspot_id" not in out.columns:
        return out, notes
    for team in teams:
        mine = [i for i, own in enumerate(out["teams"])
                if isinstance(own, tuple | list) and tuple(own) == (team.name,)
                and bool(out["must_visit"].iloc[i])
                and not pd.isna(out["hotspot_id"].iloc[i])]
        if not mine:
            continue
        if team.date is None:
            notes.append(f"{team.name}: the plan has no date, so its designated stops are not "
                         "varied")
            continue
        mine.sort(key=lambda i: str(out["stop_id"].iloc[i]))
        n = max(len(mine), MIN_SLOTS)
        slot = float(team.shift_min) / n
        longest = float(out["dwell_min"].iloc[mine].max())
        if slot < longest:
            notes.append(f"{team.name}: a {float(team.shift_min):g}-minute shift cut into {n} "
                         f"slots is too short for {longest:g}-minute visits, so its designated "
                         "stops are not varied")
            continue
        key = "|".join([team.name, f"{team.start_minute:g}",
                        *(str(out["stop_id"].iloc[i]) for i in mine)])
        slots = shift_slots(key, team.date.toordinal(), len(mine))
        start = team.start_minute
        for i, s in zip(mine, slots, strict=True):
            out.iloc[i, out.columns.get_loc("window_start_min")] = start + s * slot
            out.iloc[i, out.columns.get_loc("window_end_min")] = start + (s + 1) * slot
            out.iloc[i, out.columns.get_loc("varied")] = True
        notes.append(f"{team.name}: {len(mine)} designated stops visited in a varied order "
                     f"(slots of {slot:.0f} minutes drawn for {team.date.isoformat()})")
    return out, notes


def clear_varied(stops: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The stops without the windows `vary_windows` set."""
    out = stops.copy()
    if "varied" in out.columns:
        varied = out["varied"].fillna(False).astype(bool).to_numpy()
        out.loc[varied, "window_start_min"] = np.nan
        out.loc[varied, "window_end_min"] = np.nan
        out["varied"] = False
    return out
