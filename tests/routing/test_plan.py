"""Patrol planning: input checks, then routes that are real, fit their shifts and are optimal."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest

from hotspots import InputError
from routing import Team, base_points, plan_patrols, stops_from_ranking
from routing._matrix import graph_index, nearest_nodes, straight_matrix, travel_matrix
from routing.stops import snap_stops
from tests.routing.conftest import GRID_XML, grid_lonlat, ranking_frame


@pytest.fixture
def settings(home):
    """These small rankings put hotspots in touching cells to test one thing at a time, so each
    cell stays its own stop here; joining neighbours is tested on its own (test_stops.py)."""
    from hotspots.settings import get_settings

    return get_settings(home, patrol_join_ring=0)

BASE = grid_lonlat(0, 0)  # south-west corner of the grid fixture


def _grid_stops(settings, n=8, *, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    spots = [(r + 0.5, c + 0.5) for r in range(4) for c in range(4)]
    chosen = rng.choice(len(spots), size=n, replace=False)
    pts = [grid_lonlat(*spots[i]) for i in chosen]
    harm = rng.uniform(10, 100, n).round(2)
    return stops_from_ranking(ranking_frame(pts, harm=harm), top=n, settings=settings, **kwargs)


def _city_stops(settings, n, *, seed=0):
    rng = np.random.default_rng(seed)
    pts = list(zip(rng.uniform(-1.575, -1.550, n), rng.uniform(53.799, 53.810, n), strict=True))
    harm = rng.lognormal(3, 1, n)
    return stops_from_ranking(ranking_frame(pts, harm=harm), top=n, settings=settings)


def check_route_is_real(route, graph, base_lonlat, settings):
    """A route is a connected path on the graph from its base back to its base, within its shift."""
    nodes = route.nodes
    assert len(nodes) >= 1
    for u, v in itertools.pairwise(nodes):
        assert graph.has_edge(u, v), (u, v)
    index = graph_index(graph)
    base_xy = base_points([route.team], settings=settings)[0]
    pos, _ = nearest_nodes(index, np.array([[base_xy.x, base_xy.y]]))
    base_node = index.nodes[pos[0]].item()
    assert nodes[0] == nodes[-1] == route.base_node == base_node
    # The drawn path starts and ends at the base node too.
    start, end = route.path.coords[0], route.path.coords[-1]
    np.testing.assert_allclose(start, (graph.nodes[base_node]["x"], graph.nodes[base_node]["y"]))
    np.testing.assert_allclose(end, start)
    # Every visit's node is on the path, in order.
    at = 0
    for v in route.visits:
        at = nodes.index(v.node, at)
    check_route_fits_shift(route)


def check_route_fits_shift(route):
    shift = float(route.team.shift_min)
    assert route.start_min == route.team.start_minute
    assert route.end_min - route.start_min <= shift + 1e-6
    total = sum(v.travel_min for v in route.visits) + route.return_travel_min
    np.testing.assert_allclose(route.travel_min, total)
    np.testing.assert_allclose(route.end_min - route.start_min,
                               route.travel_min + route.dwell_min + route.wait_min)
    prev = route.start_min
    for k, v in enumerate(route.visits, start=1):
        assert v.seq == k
        np.testing.assert_allclose(v.arrival_min, prev + v.travel_min)
        np.testing.assert_allclose(v.departure_min - v.start_min, v.dwell_min)
        assert v.start_min >= v.arrival_min
        prev = v.departure_min
    np.testing.assert_allclose(route.dwell_min, sum(v.dwell_min for v in route.visits))


def brute_force_prize(seconds, prize, dwell_s, shift_s):
    """Best prize of one base-to-base tour (Held-Karp over subsets; node n is the base)."""
    n = len(prize)
    best = 0.0
    inf = float("inf")
    # cost[mask][last]: least time from the base through `mask` ending at `last` (dwell included).
    cost = np.full((1 << n, n), inf)
    for i in range(n):
        cost[1 << i][i] = seconds[n, i] + dwell_s[i]
    for mask in range(1, 1 << n):
        for last in range(n):
            c = cost[mask][last]
            if c == inf or not mask >> last & 1:
                continue
            if c + seconds[last, n] <= shift_s:
                best = max(best, float(sum(prize[i] for i in range(n) if mask >> i & 1)))
            for nxt in range(n):
                if mask >> nxt & 1:
                    continue
                m2 = mask | 1 << nxt
                c2 = c + seconds[last, nxt] + dwell_s[nxt]
                if c2 < cost[m2][nxt]:
                    cost[m2][nxt] = c2
    return best


# ------------------------------------------------------------------ input checks


def test_no_stops(settings, grid_drive):
    stops = _grid_stops(settings).iloc[0:0]
    with pytest.raises(InputError, match="`stops` contains zero rows"):
        plan_patrols(stops, [Team("A", BASE)], network=grid_drive, settings=settings)


@pytest.mark.parametrize("limit", [0, -3, 2.5, "10"])
def test_bad_solution_limit(settings, limit):
    with pytest.raises(InputError, match="`solution_limit` must be a whole number of at least 1"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE)], solution_limit=limit,
                     settings=settings)


def test_no_teams(settings):
    with pytest.raises(InputError, match="`teams` is empty"):
        plan_patrols(_grid_stops(settings), [], settings=settings)


def test_base_far_from_any_street_is_reached_by_straight_legs(settings, grid_drive):
    far = grid_lonlat(-20, 0)  # about 1.8 km south of the grid
    stops = _grid_stops(settings, 4)
    plan = plan_patrols(stops, [Team("Far", far, "16:00", 120)], network=grid_drive,
                        time_limit_s=1, settings=settings)
    route = plan.routes[0]
    assert not plan.approximate and len(route.visits) == 4
    # Out from the base and back are straight lines; between stops the streets.
    assert route.legs_approximate == [True, False, False, False, True]
    assert route.visits[0].approximate and not route.visits[1].approximate
    assert route.return_approximate and route.base_node is None
    assert [u["kind"] for u in plan.off_network] == ["base"]
    assert plan.off_network[0]["team"] == "Far" and plan.off_network[0]["street_m"] > 1500
    # A straight leg is its distance times the circuity factor, at the mode's speed.
    base = base_points([route.team], settings=settings)[0]
    first = route.visits[0]
    straight = np.hypot(first.x - base.x, first.y - base.y) * settings.circuity_factor
    np.testing.assert_allclose(first.distance_m, straight, rtol=1e-9)
    np.testing.assert_allclose(first.travel_min, straight / (settings.drive_speed_kmh / 0.06),
                               rtol=1e-9)
    # The legs on the network follow its edges.
    for u, v in itertools.pairwise(route.nodes):
        assert grid_drive.has_edge(u, v)
    assert plan.note.startswith("PARTLY APPROXIMATE: 2 of 5 legs")


def test_shift_shorter_than_one_dwell(settings):
    with pytest.raises(InputError, match="shift of 12 min is shorter than one dwell"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE, "16:00", 12)], settings=settings)


def test_unknown_mode(settings):
    with pytest.raises(InputError, match="`mode` is 'horse'"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE, mode="horse")], settings=settings)


def test_network_in_the_wrong_crs(settings):
    raw = ox.graph_from_xml(GRID_XML)
    with pytest.raises(InputError, match="but plans need EPSG:27700"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE)], network=raw, settings=settings)


def test_driving_on_a_walking_network(settings, grid_walk):
    with pytest.raises(InputError, match="drives but the network is a walking network"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE)], network=grid_walk,
                     settings=settings)


def test_missing_mode_in_a_network_mapping(settings, grid_walk):
    with pytest.raises(InputError, match="has no 'drive' network"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE)], network={"walk": grid_walk},
                     settings=settings)


def test_duplicate_team_names(settings):
    with pytest.raises(InputError, match="'A' is used more than once"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE), Team("A", BASE)], settings=settings)


def test_negative_prize(settings):
    stops = _grid_stops(settings)
    stops.loc[2, "prize"] = -1
    with pytest.raises(InputError, match="row 2: prize -1.0 must be a number of at least 0"):
        plan_patrols(stops, [Team("A", BASE)], settings=settings)


def test_bad_variants(settings):
    with pytest.raises(InputError, match="`variants` must be at least 1"):
        plan_patrols(_grid_stops(settings), [Team("A", BASE)], variants=0, settings=settings)


# ------------------------------------------------------------------ routes on the grid fixture


def test_routes_on_the_grid_are_real_and_fit(settings, grid_drive):
    stops = _grid_stops(settings, 10)
    teams = [Team("A", BASE, "16:00", 60), Team("B", grid_lonlat(4, 4), "17:30", 45)]
    plan = plan_patrols(stops, teams, network=grid_drive, time_limit_s=1, settings=settings)
    assert not plan.approximate
    assert [r.team.name for r in plan.routes] == ["A", "B"]
    for r in plan.routes:
        check_route_is_real(r, grid_drive, r.team.base, settings)
        assert not r.approximate
    # 105 minutes of shifts hold at most 7 dwells of 15 minutes; the grid is small enough for 6.
    assert 5 <= plan.visits <= 7
    visited = [v.stop_id for r in plan.routes for v in r.visits]
    assert len(visited) == len(set(visited))
    assert len(plan.unvisited) == len(stops) - plan.visits
    np.testing.assert_allclose(plan.prize, sum(v.prize for r in plan.routes for v in r.visits))


def test_walking_team_on_the_walk_network(settings, grid_walk):
    stops = _grid_stops(settings, 6)
    plan = plan_patrols(stops, [Team("Foot", BASE, "10:00", 70, "walk")], network=grid_walk,
                        time_limit_s=1, settings=settings)
    route = plan.routes[0]
    check_route_is_real(route, grid_walk, BASE, settings)
    # At 4.8 km/h a 100 m block takes about 1.25 minutes.
    legs = [v.travel_min for v in route.visits if v.distance_m > 50]
    assert legs
    for v in route.visits:
        np.testing.assert_allclose(v.travel_min, v.distance_m / (4.8 / 0.06), rtol=1e-6)


def test_mixed_teams_with_a_network_per_mode(settings, grid_drive, grid_walk):
    stops = _grid_stops(settings, 8)
    teams = [Team("Car", BASE, "16:00", 50), Team("Foot", grid_lonlat(4, 4), "16:00", 50, "walk")]
    plan = plan_patrols(stops, teams, network={"drive": grid_drive, "walk": grid_walk},
                        time_limit_s=1, settings=settings)
    car, foot = plan.route("Car"), plan.route("Foot")
    check_route_is_real(car, grid_drive, BASE, settings)
    check_route_is_real(foot, grid_walk, grid_lonlat(4, 4), settings)
    # Each team moved: 50 minutes hold three stops each, and no stop is visited twice.
    assert len(car.visits) >= 2 and len(foot.visits) >= 2
    ids = [v.stop_id for r in plan.routes for v in r.visits]
    assert len(ids) == len(set(ids))
    # Each at its own speed: the foot patrol at 4.8 km/h, the car faster on every leg.
    walk_min = [v.distance_m / (4.8 / 0.06) for v in foot.visits]
    np.testing.assert_allclose([v.travel_min for v in foot.visits], walk_min, rtol=1e-6)
    for v in car.visits:
        if v.distance_m > 0:
            assert v.travel_min < v.distance_m / (4.8 / 0.06) / 2


def test_walking_team_may_use_a_drive_network(settings, grid_drive):
    # 90 minutes hold the four 15-minute stops and the walking between them (under 30 minutes).
    plan = plan_patrols(_grid_stops(settings, 4), [Team("Foot", BASE, "16:00", 90, "walk")],
                        network=grid_drive, time_limit_s=0.5, settings=settings)
    route = plan.routes[0]
    check_route_is_real(route, grid_drive, BASE, settings)
    assert len(route.visits) == 4
    assert sum(v.distance_m for v in route.visits) > 200
    for v in route.visits:
        np.testing.assert_allclose(v.travel_min, v.distance_m / (4.8 / 0.06), rtol=1e-6)
    np.testing.assert_allclose(route.return_travel_min * (4.8 / 0.06),
                               route.distance_m - sum(v.distance_m for v in route.visits),
                               rtol=1e-6)


def test_time_window_is_kept(settings, grid_drive):
    stops = _grid_stops(settings, 4, windows="18:00-18:40")
    plan = plan_patrols(stops, [Team("A", BASE, "17:00", 120)], network=grid_drive,
                        time_limit_s=1, settings=settings)
    route = plan.routes[0]
    check_route_fits_shift(route)
    assert len(route.visits) == 2  # 40 minutes hold two 15-minute stops
    for v in route.visits:
        assert v.start_min >= 18 * 60 - 1e-6
        assert v.departure_min <= 18 * 60 + 40 + 1e-6
    assert route.visits[0].wait_min > 50


def test_window_shorter_than_the_dwell_is_never_visited(settings, grid_drive):
    stops = _grid_stops(settings, 3, windows="18:00-18:10")
    plan = plan_patrols(stops, [Team("A", BASE, "17:00", 120)], network=grid_drive,
                        time_limit_s=0.5, settings=settings)
    assert plan.visits == 0
    assert len(plan.unvisited) == 3


def test_window_after_every_shift_leaves_the_other_stops_planned(settings, grid_drive):
    early = _grid_stops(settings, 3)
    late = _grid_stops(settings, 3, seed=9, windows="22:00-23:00")
    late["stop_id"] = late["stop_id"] + "-late"
    stops = type(early)(pd.concat([early, late], ignore_index=True), crs=early.crs)
    plan = plan_patrols(stops, [Team("A", BASE, "16:00", 120)], network=grid_drive,
                        time_limit_s=0.5, settings=settings)
    visited = {v.stop_id for v in plan.routes[0].visits}
    assert visited == set(early["stop_id"])


def test_far_hotspot_is_planned_by_straight_legs_not_moved(settings, grid_drive):
    pts = [grid_lonlat(1.5, 1.5), grid_lonlat(2.5, 2.5), grid_lonlat(-9, 2)]
    stops = stops_from_ranking(ranking_frame(pts, harm=[10, 20, 1000]), top=3, settings=settings)
    plan = plan_patrols(stops, [Team("A", BASE, "16:00", 120)], network=grid_drive,
                        time_limit_s=0.5, settings=settings)
    assert plan.visits == 3
    far_id = stops["stop_id"].iloc[0]
    assert [u["stop_id"] for u in plan.off_network] == [far_id]
    assert plan.off_network[0]["street_m"] > 500
    np.testing.assert_allclose(plan.prize_available, 1030)
    route = plan.routes[0]
    k = [v.stop_id for v in route.visits].index(far_id)
    far = route.visits[k]
    # Where the hotspot is, not moved to a street; the legs to and from it are straight lines.
    np.testing.assert_allclose((far.x, far.y), (stops.geometry.x.iloc[0], stops.geometry.y.iloc[0]))
    assert far.approximate and far.node is None
    assert route.legs_approximate[k] and route.legs_approximate[k + 1]
    assert sum(route.legs_approximate) == 2


def test_zero_prize_stops_are_not_visited(settings, grid_drive):
    stops = _grid_stops(settings, 4)
    stops["prize"] = [0.0, 5.0, 0.0, 7.0]
    plan = plan_patrols(stops, [Team("A", BASE, "16:00", 120)], network=grid_drive,
                        time_limit_s=0.5, settings=settings)
    assert sorted(v.prize for v in plan.routes[0].visits) == [5.0, 7.0]


def test_must_visit_stop_comes_before_any_prize(settings, grid_drive):
    from routing import add_must_visit, must_visit_stops

    stops = _grid_stops(settings, 6)
    far = gpd.GeoDataFrame({"stop_id": ["Designated"], "dwell_min": [20.0]},
                           geometry=gpd.points_from_xy([grid_lonlat(3.5, 3.5)[0]],
                                                       [grid_lonlat(3.5, 3.5)[1]]),
                           crs="EPSG:4326")
    joined = add_must_visit(stops, must_visit_stops(far, settings=settings))
    # 50 minutes hold three 15-minute stops, or the 20-minute must-visit stop and two others.
    team = Team("A", BASE, "16:00", 50)
    without = plan_patrols(stops, [team], network=grid_drive, time_limit_s=1, settings=settings)
    plan = plan_patrols(joined, [team], network=grid_drive, time_limit_s=1, settings=settings)
    visits = {v.stop_id: v for v in plan.routes[0].visits}
    assert "Designated" in visits and visits["Designated"].must_visit
    assert visits["Designated"].dwell_min == 20.0
    assert plan.missed == []
    assert plan.prize < without.prize  # the prize given up for it
    check_route_fits_shift(plan.routes[0])


def test_must_visit_stop_that_fits_no_shift_is_reported(settings, grid_drive):
    from routing import add_must_visit, must_visit_stops

    stops = _grid_stops(settings, 3)
    late = gpd.GeoDataFrame({"stop_id": ["Late"], "window_start_min": [23 * 60.0],
                             "window_end_min": [23 * 60 + 30.0]},
                            geometry=gpd.points_from_xy([grid_lonlat(2, 2)[0]],
                                                        [grid_lonlat(2, 2)[1]]), crs="EPSG:4326")
    joined = add_must_visit(stops, must_visit_stops(late, settings=settings))
    plan = plan_patrols(joined, [Team("A", BASE, "16:00", 120)], network=grid_drive,
                        time_limit_s=1, settings=settings)
    assert [u["stop_id"] for u in plan.missed] == ["Late"]
    assert plan.missed[0]["must_visit"] is True
    assert plan.to_dict()["missed_must_visit"][0]["stop_id"] == "Late"
    assert plan.missed[0]["why"] == "A: its visiting window 23:00-23:30 does not fit the shift"
    sheet = plan.to_sheet_html()
    assert "Must-visit stops no shift can fit:" in sheet
    assert "stop Late: A: its visiting window 23:00-23:30 does not fit the shift" in sheet
    assert plan.visits == 3  # the others are still planned


# ------------------------------------------------------------------ optimality


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prize_equals_brute_force_on_the_grid(settings, grid_walk, seed):
    stops = _grid_stops(settings, 8, seed=seed)
    shift = 66  # four 15-minute dwells and little walking: the walking decides
    team = Team("Foot", BASE, "16:00", shift, "walk")
    plan = plan_patrols(stops, [team], network=grid_walk, time_limit_s=1, settings=settings)

    index = graph_index(grid_walk)
    snapped = snap_stops(stops, grid_walk)
    base = base_points([team], settings=settings)[0]
    base_pos, _ = nearest_nodes(index, np.array([[base.x, base.y]]))
    positions = np.concatenate([snapped["node_pos"].to_numpy(), base_pos])
    seconds, _, _ = travel_matrix(index, positions)
    best = brute_force_prize(np.ceil(seconds), stops["prize"].to_numpy(), np.full(8, 900), shift * 60)
    assert best > 0
    np.testing.assert_allclose(plan.prize, best, atol=1e-4 * stops["prize"].max())


@pytest.mark.parametrize("seed", [3, 4])
def test_prize_equals_brute_force_without_a_network(settings, seed):
    rng = np.random.default_rng(seed)
    pts = list(zip(rng.uniform(-1.58, -1.54, 8), rng.uniform(53.79, 53.81, 8), strict=True))
    stops = stops_from_ranking(ranking_frame(pts, harm=rng.uniform(1, 50, 8)), top=8,
                               settings=settings)
    team = Team("Car", (-1.56, 53.80), "16:00", 75, "drive")
    plan = plan_patrols(stops, [team], time_limit_s=1, settings=settings)
    assert plan.approximate
    base = base_points([team], settings=settings)[0]
    xy = np.vstack([np.column_stack([stops.geometry.x, stops.geometry.y]), [[base.x, base.y]]])
    seconds, _ = straight_matrix(xy, speed_mps=settings.drive_speed_kmh / 3.6,
                                 circuity=settings.circuity_factor)
    best = brute_force_prize(np.ceil(seconds), stops["prize"].to_numpy(), np.full(8, 900), 75 * 60)
    np.testing.assert_allclose(plan.prize, best, atol=1e-4 * stops["prize"].max())


# ------------------------------------------------------------------ approximate plans and variants


def test_approximate_plan_uses_straight_lines_times_circuity(settings):
    stops = _grid_stops(settings, 5)
    plan = plan_patrols(stops, [Team("A", BASE, "16:00", 120)], time_limit_s=0.5,
                        settings=settings)
    assert plan.approximate
    route = plan.routes[0]
    assert route.approximate and route.nodes == []
    check_route_fits_shift(route)
    first = route.visits[0]
    base = base_points([route.team], settings=settings)[0]
    straight = np.hypot(first.x - base.x, first.y - base.y)
    np.testing.assert_allclose(first.distance_m, straight * 1.3)
    np.testing.assert_allclose(first.travel_min, straight * 1.3 / (30 / 0.06))


def test_variants_differ_are_seeded_and_near_optimal(settings, grid_drive):
    # A solution limit, not the clock, ends each search: the same seed must give the same plans
    # however busy the machine is.
    stops = _grid_stops(settings, 12, seed=5)
    teams = [Team("A", BASE, "16:00", 50), Team("B", grid_lonlat(4, 4), "16:00", 50)]
    plan = plan_patrols(stops, teams, network=grid_drive, time_limit_s=30, seed=7, variants=3,
                        solution_limit=200, settings=settings)
    assert len(plan.variants) == 3
    assert plan.variants[0] is plan
    routes = [tuple(tuple(v.stop_id for v in r.visits) for r in p.routes) for p in plan.variants]
    assert len(set(routes)) == 3
    for p in plan.variants:
        assert p.prize >= 0.75 * plan.prize
        for r in p.routes:
            check_route_is_real(r, grid_drive, r.team.base, settings)
    again = plan_patrols(stops, teams, network=grid_drive, time_limit_s=30, seed=7, variants=3,
                         solution_limit=200, settings=settings)
    assert [tuple(tuple(v.stop_id for v in r.visits) for r in p.routes)
            for p in again.variants] == routes


# ------------------------------------------------------------------ the real city-centre extract


def test_city_centre_plan(settings, city_drive):
    stops = _city_stops(settings, 20)
    teams = [Team("City Square", (-1.5500, 53.7990), "16:00", 120),
             Team("Park Square", (-1.5530, 53.7985), "18:00", 90)]
    plan = plan_patrols(stops, teams, network=city_drive, time_limit_s=1.5, settings=settings)
    assert not plan.approximate
    assert plan.off_network == [] and plan.approximate_legs == 0
    for r in plan.routes:
        check_route_is_real(r, city_drive, r.team.base, settings)
        assert r.distance_m > 0
        # Street paths are longer than the straight line between stops.
        assert r.path.length >= 0.99 * r.distance_m
    assert plan.visits >= 8
    assert nx.is_strongly_connected(city_drive)


def test_city_centre_plan_with_stops_beyond_the_extract(settings, city_drive):
    """Stops in the centre follow the streets; stops in the priority wards beyond the extract's
    streets are reached by straight lines, and the plan is made instead of failing."""
    inside = _city_stops(settings, 8, seed=3)
    beyond = stops_from_ranking(ranking_frame([(-1.5150, 53.8100), (-1.5350, 53.7800),
                                               (-1.5200, 53.8050)], harm=[500, 400, 300]),
                                top=3, settings=settings)
    beyond["stop_id"] = ["Harehills", "Beeston", "Burmantofts"]
    stops = type(inside)(pd.concat([inside, beyond], ignore_index=True), crs=inside.crs)
    team = Team("City Square", (-1.5500, 53.7990), "16:00", 240)
    plan = plan_patrols(stops, [team], network=city_drive, time_limit_s=5, settings=settings)
    route = plan.routes[0]
    assert {u["stop_id"] for u in plan.off_network} == {"Harehills", "Beeston", "Burmantofts"}
    visited = [v.stop_id for v in route.visits]
    assert {"Harehills", "Beeston", "Burmantofts"} <= set(visited)
    ends = ["base", *visited, "base"]
    for k, approx in enumerate(route.legs_approximate):
        off = ends[k] in {"Harehills", "Beeston", "Burmantofts"} or \
            ends[k + 1] in {"Harehills", "Beeston", "Burmantofts"}
        assert approx == off, (k, ends[k], ends[k + 1])
        leg = route.legs[k]
        if approx:
            assert len(leg.coords) == 2  # a straight line
        else:
            assert leg.length >= 0.99 * np.hypot(*np.subtract(leg.coords[-1], leg.coords[0]))
    assert 0 < plan.approximate_legs < plan.legs
    assert plan.note.startswith(f"PARTLY APPROXIMATE: {plan.approximate_legs} of {plan.legs}")
    check_route_fits_shift(route)
