"""Prize-collecting patrol routing: choose and order hotspot stops for every team's shift.

Each team is a vehicle of an OR-Tools routing model that starts and ends at its base. Every stop
may be dropped at a penalty equal to its prize, so the solver maximises the prize collected within
each shift (dwell included) and then, among plans of equal prize, minimises the time spent.

The search stops when it stops improving: after `PATIENCE` solutions in a row that collect no
more prize and save less than `MIN_SAVING_S` of time. Solutions are counted, not timed, so the
same stops and teams give the same plan on a busy machine as on an idle one; the time limit is
only a ceiling.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from hotspots._validate import check_geoframe
from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings
from routing._matrix import (
    UNREACHABLE_S,
    graph_index,
    nearest_nodes,
    path_line,
    path_positions,
    straight_matrix,
    street_distances,
    travel_matrix,
)
from routing.network import NEAR_STREET_M, check_network, network_mode
from routing.output import PatrolPlan, TeamRoute, Visit
from routing.stops import MAX_MUST_VISIT_DWELL_MIN, check_dwell, snap_stops
from routing.teams import Team, base_points

log = logging.getLogger(__name__)

#: Prizes are scaled to integers in 0..PRIZE_STEPS for the solver (OR-Tools costs are integers).
PRIZE_STEPS = 100_000

#: How far variants may move prizes (a share of each prize) to find other near-optimal plans.
VARIANT_JITTER = 0.12

#: The search stops after this many solutions in a row without a real improvement. Measured by
#: benchmarks/routing.py: 20 to 150 stops reach at least 99% of a full-time solve's prize.
PATIENCE = 30

#: An improvement of the time spent smaller than this (seconds, all teams) does not count.
MIN_SAVING_S = 60


@dataclass
class _ModeData:
    """Travel data of one mode over the solver's nodes (stops first, then one base per team)."""

    seconds: np.ndarray  # float travel times
    metres: np.ndarray  # straight-line metres times the circuity factor (for straight legs)
    off: np.ndarray  # per solver node: off the network (legs to and from it are straight lines)
    node_pos: np.ndarray | None  # network node position per solver node
    pred: np.ndarray | None
    sources: np.ndarray | None
    graph: nx.MultiDiGraph | None
    index: Any
    xy: np.ndarray  # (n, 2) metres: where each solver node is (snapped node when on a network)


def plan_patrols(
    stops: gpd.GeoDataFrame,
    teams: Sequence[Team],
    *,
    network: nx.MultiDiGraph | Mapping[str, nx.MultiDiGraph] | None = None,
    time_limit_s: float = 5,
    seed: int = 0,
    variants: int = 1,
    solution_limit: int | None = None,
    patience: int | None = PATIENCE,
    settings: Settings | None = None,
) -> PatrolPlan:
    """Plan patrol routes that collect the most prize within every team's shift.

    Parameters
    ----------
    stops
        Candidate stops from `routing.stops_from_ranking`: `stop_id`, `prize`, `dwell_min`
        (minutes), optional `window_start_min`/`window_end_min` (minutes after midnight),
        `ward_code`, `ward_name`, `category`, `reason`, `must_visit` and Point geometry. A
        must-visit stop (`routing.must_visit_stops`) is planned before any prize; one that no
        shift can fit is listed in `plan.missed`, never dropped silently.
    teams
        The teams on shift; each route starts and ends at its team's base.
    network
        A prepared street network (`routing.load_network`) or a mapping mode -> network (None
        for a mode without one). None: straight-line distance times the `circuity_factor`
        setting at each mode's speed, and the plan is marked `approximate`. A walking team may
        use a drive network (at walking speed); a driving team needs a drive network. A stop or
        base more than `NEAR_STREET_M` (250 m) from the network's streets is off it: the legs
        to and from it are straight lines too, each marked approximate (`Visit.approximate`,
        `TeamRoute.legs_approximate`), and `plan.off_network` lists such places.
    time_limit_s
        Most seconds one plan may take: the travel-time matrix and the search together (the
        search gets at least a quarter of it). A ceiling: the search usually stops long before,
        when it stops improving (see `patience`). Each further variant may take this long again.
    seed
        Seed of the variants after the first.
    variants
        How many different near-optimal plans to make. The first is the best plan found; the
        others are solved with seeded random changes to the prizes and travel costs, so routes
        are not predictable. All are in `plan.variants`.
    solution_limit
        Stop each search after this many solutions as well.
    patience
        Stop each search after this many solutions in a row that collect no more prize and save
        less than a minute (default `PATIENCE`). Stopping by count, not by the clock, makes
        the same stops, teams and seed give the same plans on any machine, unless the time
        limit comes first (`stats["stopped"]` says which). None: search until the time limit
        or the solution limit.
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    PatrolPlan
        The best plan; its `variants` lists every plan made.

    Raises
    ------
    InputError
        No stops, no teams, a bad dwell or prize, a shift shorter than one dwell, an unknown
        mode, a network in the wrong CRS or without travel times.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    stops = _check_stops(stops)
    teams = _check_teams(teams, stops)
    rows = stops.drop(columns=stops.geometry.name).to_dict("records")
    if variants < 1:
        msg = f"`variants` must be at least 1, not {variants}."
        raise InputError(msg)
    if not time_limit_s > 0:
        msg = f"`time_limit_s` must be positive, not {time_limit_s}."
        raise InputError(msg)
    for name, value in (("solution_limit", solution_limit), ("patience", patience)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                      and value >= 1):
            msg = f"`{name}` must be a whole number of at least 1, not {value!r}."
            raise InputError(msg)
    networks = _networks_for(network, teams)
    approximate = networks is None or all(g is None for g in networks.values())

    bases = base_points(list(teams), settings=settings)
    n_stops = len(stops)
    stop_xy = np.column_stack([stops.geometry.x.to_numpy(), stops.geometry.y.to_numpy()])
    base_xy = np.array([[p.x, p.y] for p in bases])
    modes = sorted({t.mode for t in teams})
    data: dict[str, _ModeData] = {}
    off_network: list[dict[str, Any]] = []
    for mode in modes:
        graph = None if networks is None else networks.get(mode)
        if graph is None:
            data[mode] = _straight_data(stop_xy, base_xy, mode, settings)
        else:
            data[mode], off = _network_data(stops, rows, stop_xy, base_xy, teams, graph, mode,
                                             settings)
            off_network.extend(off)
    matrix_s = time.perf_counter() - started

    dwell_min = stops["dwell_min"].to_numpy(dtype=float)
    prize = stops["prize"].to_numpy(dtype=float)
    must = stops["must_visit"].to_numpy(dtype=bool)
    windows = _windows(stops)
    only = _team_restrictions(stops, teams)
    plans = []
    statuses: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    solve_total = 0.0
    for v in range(variants):
        rng = np.random.default_rng([seed, v]) if v else None
        for attempt in range(4):
            t0 = time.perf_counter()
            # The first plan's budget covers the matrix too; a little is kept for building routes.
            budget = time_limit_s
            if v == 0 and attempt == 0:
                budget = max(time_limit_s - matrix_s - 0.002 * n_stops - 0.1,
                             0.25 * time_limit_s)
            sequences, status = _solve(teams, data, prize, must, dwell_min, windows, n_stops,
                                       only=only, time_limit_s=budget, rng=rng,
                                       avoid=list(plans) if v else [],
                                       solution_limit=solution_limit, patience=patience)
            solve_total += time.perf_counter() - t0
            key = tuple(tuple(s) for s in sequences)
            if key not in seen or attempt == 3:
                break
            rng = np.random.default_rng([seed, v, attempt + 1])
        seen.add(key)
        plans.append(sequences)
        statuses.append(status)

    prize_by = str(stops["prize_by"].iloc[0]) if "prize_by" in stops.columns else "prize"
    built = []
    for v, sequences in enumerate(plans):
        routes = [_build_route(team, k, sequences[k], rows, data[team.mode], dwell_min, windows,
                               n_stops)
                  for k, team in enumerate(teams)]
        visited = {s for seq in sequences for s in seq}
        missing = [i for i in range(n_stops) if i not in visited]
        unvisited = [_stop_record(rows, i) for i in missing]
        for u, i in zip(unvisited, missing, strict=True):
            if must[i]:
                u["why"] = _why_missed(i, teams, only[i], data, dwell_min, windows, sequences)
        built.append(PatrolPlan(
            routes=routes, approximate=approximate, prize_by=prize_by,
            prize_available=float(prize.sum()), unvisited=unvisited,
            off_network=list(off_network), variant=v,
            stats={"matrix_s": round(matrix_s, 3), "solve_s": round(solve_total, 3),
                   "time_limit_s": time_limit_s, "seed": seed, **statuses[v],
                   "stops": n_stops, "teams": len(teams)}))
    for p in built:
        p.variants = built if variants > 1 else []
    return built[0]


# ------------------------------------------------------------------------------------------
# Checks


def _check_stops(stops: Any) -> gpd.GeoDataFrame:
    check_geoframe(stops, "stops", expected="from stops_from_ranking",
                   empty_hint=": there is nothing to patrol. Has a filter removed every hotspot?",
                   crs_hint="set one with GeoDataFrame.set_crs (stops_from_ranking gives EPSG:27700).")
    for col in ("prize", "dwell_min"):
        if col not in stops.columns:
            msg = f"`stops` has no {col!r} column; build stops with routing.stops_from_ranking."
            raise InputError(msg)
    out = stops.to_crs(BNG) if stops.crs != BNG else stops.copy()
    if not (out.geom_type == "Point").all():
        bad = out.geom_type[out.geom_type != "Point"].iloc[0]
        msg = f"`stops` must hold Point geometries, not {bad}."
        raise InputError(msg)
    prize = out["prize"].to_numpy(dtype=float)
    if not np.isfinite(prize).all() or (prize < 0).any():
        i = int(np.flatnonzero(~np.isfinite(prize) | (prize < 0))[0])
        msg = f"`stops` row {i}: prize {float(prize[i])!r} must be a number of at least 0."
        raise InputError(msg)
    if "must_visit" not in out.columns:
        out["must_visit"] = False
    out["must_visit"] = out["must_visit"].fillna(False).astype(bool)
    for i, (d, must) in enumerate(zip(out["dwell_min"], out["must_visit"], strict=True)):
        if not must:
            check_dwell(d)
            continue
        value = pd.to_numeric(pd.Series([d]), errors="coerce").iloc[0]
        if not 0 < value <= MAX_MUST_VISIT_DWELL_MIN:
            msg = (f"`stops` row {i}: a must-visit dwell of {d!r} minutes is outside 0 to "
                   f"{MAX_MUST_VISIT_DWELL_MIN:g} minutes.")
            raise InputError(msg)
    if "stop_id" not in out.columns:
        out["stop_id"] = [f"stop-{i + 1}" for i in range(len(out))]
    for col in ("ward_code", "ward_name", "category", "reason"):
        if col not in out.columns:
            out[col] = ""
    return out.reset_index(drop=True)


def _check_teams(teams: Any, stops: gpd.GeoDataFrame) -> list[Team]:
    if isinstance(teams, Team):
        teams = [teams]
    teams = list(teams or [])
    if not teams:
        msg = "`teams` is empty: at least one team is needed to patrol."
        raise InputError(msg)
    for t in teams:
        if not isinstance(t, Team):
            msg = f"`teams` must hold routing.Team objects, not {type(t).__name__}."
            raise InputError(msg)
    names = [t.name for t in teams]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        msg = f"team names must differ; {sorted(dup)[0]!r} is used more than once."
        raise InputError(msg)
    shortest = float(stops["dwell_min"].min())
    for t in teams:
        if float(t.shift_min) < shortest:
            msg = (f"team {t.name!r}: a shift of {float(t.shift_min):g} min is shorter than one "
                   f"dwell ({shortest:g} min); no stop could be visited.")
            raise InputError(msg)
    return teams


def _networks_for(network: Any, teams: list[Team]) -> dict[str, nx.MultiDiGraph | None] | None:
    if network is None:
        return None
    if isinstance(network, Mapping):
        found = {}
        for mode, g in network.items():
            found[mode] = None if g is None else check_network(g, name=f"network[{mode!r}]")
        out = {}
        for t in teams:
            if t.mode in found:
                out[t.mode] = found[t.mode]
            elif t.mode == "walk" and found.get("drive") is not None:
                out["walk"] = found["drive"]
            else:
                msg = (f"team {t.name!r} patrols by {t.mode} but `network` has no {t.mode!r} "
                       f"network (it has {', '.join(found)}).")
                raise InputError(msg)
        return out
    graph = check_network(network)
    have = network_mode(graph) or "drive"
    for t in teams:
        if t.mode == "drive" and have == "walk":
            msg = (f"team {t.name!r} drives but the network is a walking network; load a drive "
                   "network or pass network={'drive': G_drive, 'walk': G_walk}.")
            raise InputError(msg)
    return {t.mode: graph for t in teams}


def _windows(stops: gpd.GeoDataFrame) -> np.ndarray:
    n = len(stops)
    out = np.full((n, 2), np.nan)
    if "window_start_min" in stops.columns and "window_end_min" in stops.columns:
        out[:, 0] = stops["window_start_min"].to_numpy(dtype=float)
        out[:, 1] = stops["window_end_min"].to_numpy(dtype=float)
    return out


# ------------------------------------------------------------------------------------------
# Travel data


def _speed_mps(mode: str, settings: Settings) -> float:
    kmh = settings.walk_speed_kmh if mode == "walk" else settings.drive_speed_kmh
    return float(kmh) / 3.6


def _straight_data(stop_xy: np.ndarray, base_xy: np.ndarray, mode: str,
                   settings: Settings) -> _ModeData:
    xy = np.vstack([stop_xy, base_xy])
    seconds, metres = straight_matrix(xy, speed_mps=_speed_mps(mode, settings),
                                      circuity=float(settings.circuity_factor))
    return _ModeData(seconds=seconds, metres=metres, off=np.ones(len(xy), dtype=bool),
                     node_pos=None, pred=None, sources=None, graph=None, index=None, xy=xy)


def _network_data(stops: gpd.GeoDataFrame, rows: list[dict[str, Any]], stop_xy: np.ndarray,
                  base_xy: np.ndarray, teams: list[Team], graph: nx.MultiDiGraph, mode: str,
                  settings: Settings) -> tuple[_ModeData, list[dict[str, Any]]]:
    own_mode = network_mode(graph) or "drive"
    if own_mode == mode:
        index = graph_index(graph, weight="travel_time")
        scale = 1.0
    else:
        # Walking on a drive network: the drive network's lengths at walking speed.
        index = graph_index(graph, weight="length")
        scale = 1.0 / (float(settings.walk_speed_kmh) / 3.6)
    snapped = snap_stops(stops, graph, weight="travel_time" if own_mode == mode else "length")
    base_pos, _ = nearest_nodes(index, base_xy)
    base_street = street_distances(index, base_xy)
    n = len(stop_xy)
    street_m = np.concatenate([snapped["street_m"].to_numpy(dtype=float), base_street])
    off = street_m > NEAR_STREET_M
    positions = np.concatenate([snapped["node_pos"].to_numpy(dtype=np.int64), base_pos])
    # A place on the network is where its nearest node is; one off it stays where it is.
    xy = np.where(off[:, None], np.vstack([stop_xy, base_xy]), index.xy[positions])
    straight_s, metres = straight_matrix(xy, speed_mps=_speed_mps(mode, settings),
                                         circuity=float(settings.circuity_factor))
    seconds = straight_s
    pred = sources = None
    on = np.flatnonzero(~off)
    if len(on):
        net_s, pred, sources = travel_matrix(index, positions[on])
        seconds = straight_s.copy()
        seconds[np.ix_(on, on)] = net_s * scale
    found = []
    for i in np.flatnonzero(off):
        if i < n:
            rec = _stop_record(rows, int(i))
            rec["kind"] = "stop"
        else:
            team = teams[int(i) - n]
            if team.mode != mode:
                continue
            rec = {"kind": "base", "team": team.name}
        rec.update({"mode": mode, "street_m": round(float(street_m[i]), 1)})
        found.append(rec)
    if found:
        log.info("%d stops and bases of %s teams are more than %.0f m from the network's streets; "
                 "legs to them are straight lines", len(found), mode, NEAR_STREET_M)
    return _ModeData(seconds=seconds, metres=metres, off=off, node_pos=positions, pred=pred,
                     sources=sources, graph=graph, index=index, xy=xy), found


# ------------------------------------------------------------------------------------------
# Solver


def _solve(teams: list[Team], data: dict[str, _ModeData], prize: np.ndarray, must: np.ndarray,
           dwell_min: np.ndarray, windows: np.ndarray, n_stops: int, *,
           only: list[list[int] | None] | None = None, time_limit_s: float,
           rng: np.random.Generator | None, avoid: list, solution_limit: int | None = None,
           patience: int | None = PATIENCE) -> tuple[list[list[int]], dict[str, Any]]:
    """Solve one prize-collecting routing problem.

    Returns each team's stop sequence and what ended the search: `status` (OR-Tools),
    `stopped` (`no improvement`, `time limit`, `solution limit` or `search complete`) and
    `solutions` (how many the search found).
    """
    n_teams = len(teams)
    n = n_stops + n_teams
    depots = [n_stops + k for k in range(n_teams)]
    manager = pywrapcp.RoutingIndexManager(n, n_teams, depots, depots)
    routing = pywrapcp.RoutingModel(manager)

    service = np.zeros(n, dtype=np.int64)
    service[:n_stops] = np.round(dwell_min * 60).astype(np.int64)
    time_cb: dict[str, int] = {}
    cost_cb: dict[str, int] = {}
    for mode, d in data.items():
        travel = np.where(np.isfinite(d.seconds), np.ceil(d.seconds), UNREACHABLE_S)
        travel = np.minimum(travel, UNREACHABLE_S).astype(np.int64)
        np.fill_diagonal(travel, 0)
        transit = travel + service[:, None]
        time_cb[mode] = routing.RegisterTransitMatrix(transit.tolist())
        # Costs count the dwell too, so a stop worth nothing is never visited just because it
        # lies on the way.
        cost = transit.astype(float)
        if rng is not None:
            # Seeded noise on travel costs, and a surcharge on arcs earlier variants used,
            # steer the search to a different plan; true times still bound every shift.
            cost = cost * rng.uniform(1.0, 1.5, size=cost.shape)
            used = np.zeros(cost.shape, dtype=bool)
            for prev in avoid:
                for seq in prev:
                    for a, b in zip(seq[:-1], seq[1:], strict=True):
                        used[a, b] = True
            cost[used] *= 2.0
        cost_cb[mode] = routing.RegisterTransitMatrix(np.round(cost).astype(np.int64).tolist())
    for k, t in enumerate(teams):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[t.mode], k)

    starts = [int(round(t.start_minute * 60)) for t in teams]
    shifts = [int(round(float(t.shift_min) * 60)) for t in teams]
    horizon = max(s + h for s, h in zip(starts, shifts, strict=True))
    routing.AddDimensionWithVehicleTransits([time_cb[t.mode] for t in teams], max(shifts),
                                            horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for k in range(n_teams):
        time_dim.CumulVar(routing.Start(k)).SetRange(starts[k], starts[k])
        time_dim.CumulVar(routing.End(k)).SetRange(starts[k], starts[k] + shifts[k])
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(k)))
    for i in range(n_stops):
        ws, we = windows[i]
        if np.isfinite(ws) and np.isfinite(we):
            lo = int(round(ws * 60))
            hi = min(int(round(we * 60)) - int(service[i]), horizon)
            idx = manager.NodeToIndex(i)
            if lo <= hi:
                time_dim.CumulVar(idx).SetRange(lo, hi)
            else:
                # The window is shorter than the dwell or lies after every shift: an empty
                # range would make the whole model infeasible, so the stop is closed instead.
                routing.VehicleVar(idx).SetValues([-1])

    # Lexicographic objective: one prize step is worth more than all the time of all teams,
    # and one must-visit stop more than every prize.
    top = float(prize.max()) if len(prize) else 0.0
    weight = prize.copy()
    if rng is not None:
        weight = weight * rng.uniform(1 - VARIANT_JITTER, 1 + VARIANT_JITTER, size=len(weight))
        top = float(weight.max())
    steps = np.zeros(n_stops, dtype=np.int64)
    if top > 0:
        steps = np.round(weight / top * PRIZE_STEPS).astype(np.int64)
        steps[(weight > 0) & (steps == 0)] = 1
    big = int(sum(shifts) * (3.0 if rng is not None else 1.0)) + 1
    must_penalty = (int(steps.sum()) + 1) * big
    for i in range(n_stops):
        idx = manager.NodeToIndex(i)
        routing.AddDisjunction([idx], must_penalty if must[i] else int(steps[i]) * big)
        # Stops kept for other teams (their owner, or their home wards) are closed to the rest.
        allowed = [k for k in range(n_teams) if only is None or only[i] is None or k in only[i]]
        if len(allowed) < n_teams:
            routing.VehicleVar(idx).SetValues([-1, *allowed])

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if solution_limit is not None:
        params.solution_limit = solution_limit
    watch = _Stagnation(routing, big=big, patience=patience)
    routing.AddAtSolutionCallback(watch)
    t0 = time.perf_counter()
    solution = routing.SolveWithParameters(params)
    status = _STATUS.get(routing.status(), str(routing.status()))
    if watch.stopped:
        stopped = "no improvement"
    elif solution_limit is not None and watch.solutions >= solution_limit:
        stopped = "solution limit"
    elif time.perf_counter() - t0 >= 0.95 * time_limit_s:
        stopped = "time limit"
    else:
        stopped = "search complete"
    report = {"status": status, "stopped": stopped, "solutions": watch.solutions}
    if solution is None:
        log.warning("the solver found no plan (%s); every route stays at its base", status)
        return [[] for _ in teams], report
    sequences = []
    for k in range(n_teams):
        seq = []
        idx = solution.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(idx):
            seq.append(manager.IndexToNode(idx))
            idx = solution.Value(routing.NextVar(idx))
        sequences.append(seq)
    return sequences, report


class _Stagnation:
    """Solution callback that stops the search once it stops improving.

    The objective is lexicographic (see `_solve`): `cost // big` is the prize left uncollected
    (in prize steps) and `cost % big` the time spent. A solution improves when it collects more
    prize, or the same prize in at least `MIN_SAVING_S` less time than the last improvement.
    """

    def __init__(self, routing: pywrapcp.RoutingModel, *, big: int, patience: int | None) -> None:
        self.routing = routing
        self.big = big
        self.patience = patience
        self.solutions = 0
        self.since = 0
        self.best: tuple[int, int] | None = None
        self.stopped = False

    def __call__(self) -> None:
        self.solutions += 1
        lost, spent = divmod(self.routing.CostVar().Value(), self.big)
        if (self.best is None or lost < self.best[0]
                or (lost == self.best[0] and spent <= self.best[1] - MIN_SAVING_S)):
            self.best = (lost, spent)
            self.since = 0
            return
        self.since += 1
        if self.patience is not None and self.since >= self.patience and not self.stopped:
            self.stopped = True
            self.routing.solver().FinishCurrentSearch()


_STATUS = {value: name.removeprefix("ROUTING_").lower().replace("_", " ")
           for name, value in routing_enums_pb2.RoutingSearchStatus.Value.items()}


# ------------------------------------------------------------------------------------------
# From solver output to routes


def _build_route(team: Team, k: int, seq: list[int], rows: list[dict[str, Any]], d: _ModeData,
                 dwell_min: np.ndarray, windows: np.ndarray, n_stops: int) -> TeamRoute:
    depot = n_stops + k
    to_lonlat = _to_lonlat()
    now = team.start_minute
    visits: list[Visit] = []
    coords: list[tuple[float, float]] = [tuple(d.xy[depot])]
    legs: list[list[tuple[float, float]]] = []
    legs_approximate: list[bool] = []
    node_path: list[Any] = [] if d.off[depot] else [_node_id(d, depot)]
    travel_total = dwell_total = wait_total = dist_total = 0.0
    prev = depot
    prize_total = 0.0
    for seq_no, i in enumerate([*seq, depot]):
        leg_min = float(d.seconds[prev, i]) / 60.0
        leg_coords, leg_m, leg_nodes, leg_approx = _leg(d, prev, i)
        coords.extend(leg_coords[1:])
        legs.append(leg_coords if len(leg_coords) > 1 else [leg_coords[0], leg_coords[0]])
        legs_approximate.append(leg_approx)
        node_path.extend(leg_nodes[1:])
        travel_total += leg_min
        dist_total += leg_m
        now += leg_min
        if i == depot:
            return_min = leg_min
            break
        arrival = now
        ws = windows[i, 0]
        start = max(arrival, ws) if np.isfinite(ws) else arrival
        wait = start - arrival
        dwell = float(dwell_min[i])
        now = start + dwell
        wait_total += wait
        dwell_total += dwell
        row = rows[i]
        prize_i = float(row["prize"])
        prize_total += prize_i
        x, y = d.xy[i]
        lon, lat = to_lonlat.transform(x, y)
        visits.append(Visit(
            seq=seq_no + 1, stop_id=str(row["stop_id"]), ward_code=_text(row.get("ward_code")),
            ward_name=_text(row.get("ward_name")), category=_text(row.get("category")),
            prize=prize_i, reason=_text(row.get("reason")), arrival_min=arrival, start_min=start,
            departure_min=now, dwell_min=dwell, travel_min=leg_min, wait_min=wait,
            distance_m=leg_m, x=float(x), y=float(y), lon=float(lon), lat=float(lat),
            node=_node_id(d, i), must_visit=bool(row.get("must_visit", False)),
            hotspot_id=_hotspot_id(row.get("hotspot_id")),
            hotspot_name=_text(row.get("hotspot_name")), approximate=leg_approx,
            place=_text(row.get("place")), cells=[c for c in _text(row.get("cells")).split(",") if c]))
        prev = i
    if len(coords) < 2:
        coords.append(coords[0])
    return TeamRoute(team=team, visits=visits, start_min=team.start_minute, end_min=now,
                     travel_min=travel_total, dwell_min=dwell_total, wait_min=wait_total,
                     distance_m=dist_total, prize=prize_total,
                     path=shapely.LineString(coords), base_xy=(float(d.xy[depot][0]),
                                                               float(d.xy[depot][1])),
                     base_node=_node_id(d, depot), nodes=node_path, return_travel_min=return_min,
                     approximate=any(legs_approximate),
                     legs=[shapely.LineString(c) for c in legs],
                     legs_approximate=legs_approximate)


@functools.cache
def _to_lonlat() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(BNG, WGS84, always_xy=True)


def _leg(d: _ModeData, a: int, b: int) -> tuple[list[tuple[float, float]], float, list[Any], bool]:
    """Coordinates, metres and network nodes of the leg from solver node `a` to `b`, and whether
    it is a straight line (no network, or an end off it)."""
    if d.graph is None or d.off[a] or d.off[b]:
        return [tuple(d.xy[a]), tuple(d.xy[b])], float(d.metres[a, b]), [], True
    pa, pb = int(d.node_pos[a]), int(d.node_pos[b])
    positions = path_positions(d.pred, d.sources, pa, pb)
    nodes = [_py(d.index.nodes[p]) for p in positions]
    if len(positions) == 1:
        return [tuple(d.xy[a])], 0.0, nodes, False
    coords, metres = path_line(d.graph, d.index, positions)
    return coords, metres, nodes, False


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _node_id(d: _ModeData, i: int) -> Any:
    if d.index is None or d.node_pos is None or d.off[i]:
        return None
    return _py(d.index.nodes[d.node_pos[i]])


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _stop_record(rows: list[dict[str, Any]], i: int) -> dict[str, Any]:
    row = rows[i]
    out = {"stop_id": str(row["stop_id"]), "ward_code": _text(row.get("ward_code")),
           "ward_name": _text(row.get("ward_name")), "category": _text(row.get("category")),
           "prize": float(row["prize"]), "reason": _text(row.get("reason")),
           "must_visit": bool(row.get("must_visit", False)),
           "dwell_min": float(row["dwell_min"])}
    hotspot = _hotspot_id(row.get("hotspot_id"))
    if hotspot is not None:
        out["hotspot_id"] = hotspot
        out["hotspot_name"] = _text(row.get("hotspot_name"))
    return out


def _hotspot_id(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _team_restrictions(stops: gpd.GeoDataFrame, teams: list[Team]) -> list[list[int] | None]:
    """Per stop, the positions of the teams that may visit it (None: any), from the `teams`
    column of team names (`routing.designated.team_scope`)."""
    if "teams" not in stops.columns:
        return [None] * len(stops)
    where = {t.name: k for k, t in enumerate(teams)}
    out: list[list[int] | None] = []
    for names in stops["teams"]:
        if isinstance(names, tuple | list | np.ndarray) and len(names):
            out.append([where[n] for n in names if n in where])
        else:
            out.append(None)
    return out


def _why_missed(i: int, teams: list[Team], only: list[int] | None, data: dict[str, _ModeData],
                dwell_min: np.ndarray, windows: np.ndarray, sequences: list[list[int]]) -> str:
    """Why a must-visit stop is in no route, in words a planner can act on."""
    n_stops = len(dwell_min)
    allowed = [k for k in range(len(teams)) if only is None or k in only]
    if not allowed:
        return "no team on this plan may visit it"
    dwell = float(dwell_min[i])
    reasons = []
    for k in allowed:
        team = teams[k]
        d = data[team.mode]
        depot = n_stops + k
        there = float(d.seconds[depot, i]) / 60.0
        back = float(d.seconds[i, depot]) / 60.0
        need = there + dwell + back
        ws, we = windows[i]
        shift = float(team.shift_min)
        if not math.isfinite(need) or need > shift:
            reasons.append(f"{team.name}: going there and back takes {there + back:.0f} min and "
                           f"the visit {dwell:g} min, more than the {shift:g}-minute shift")
        elif np.isfinite(ws) and np.isfinite(we) and (
                we - dwell < team.start_minute + there or ws + dwell + back > team.start_minute + shift):
            reasons.append(f"{team.name}: its visiting window {_hhmm(ws)}-{_hhmm(we)} does not "
                           "fit the shift")
        else:
            busy = sum(1 for s in sequences[k] if s < n_stops)
            reasons.append(f"{team.name}: the shift is full ({busy} other stops, "
                           f"{dwell:g} min needed here)")
    return "; ".join(reasons)


def _hhmm(minute: float) -> str:
    total = int(round(minute)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"
