"""Benchmark: patrol planning speed and quality against a long solve of the same instance.

Instance (the issue's): 90 candidate stops (top 15 in each of the six priority wards), 5 drive
teams based at ward centroids, 4-hour shifts, 15-minute dwells. Networks: a generated street grid
over the six wards (>= 20,000 nodes, 70 m blocks, faster arterials every 8th street, a few streets
removed) and, when present, the real central Leeds OSM extract (stops drawn inside it).

For each network it times the travel-time matrix plus a 5-second solve (`plan_patrols` as a user
calls it), then solves the same instance for 60 seconds and prints the two prizes side by side.

Targets: matrix + solve at most 6 s; the 5-second prize at least 97% of the 60-second prize.

    python benchmarks/routing.py [--seed 0] [--limit 5] [--reference 60] [--no-extract]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# This file is called routing.py: run as a script, its folder would shadow the `routing` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import geopandas as gpd  # noqa: E402
import h3  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

from hotspots.crs import BNG, WGS84  # noqa: E402
from hotspots.settings import get_settings  # noqa: E402
from hotspots.wards import load_wards  # noqa: E402
from routing import Team, default_teams, load_network, plan_patrols, stops_from_ranking  # noqa: E402
from routing.network import NETWORK_FORMAT  # noqa: E402

EXTRACT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "osm" / "leeds_city_centre.osm"
MPH = 1.609344


def grid_network(bounds: tuple[float, float, float, float], *, spacing_m: float = 70.0,
                 seed: int = 0, speed_factor: float = 0.8) -> nx.MultiDiGraph:
    """A street grid over `bounds` (EPSG:27700) with arterials and a few missing streets."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    xs = np.arange(x0, x1 + spacing_m, spacing_m)
    ys = np.arange(y0, y1 + spacing_m, spacing_m)
    g = nx.MultiDiGraph(crs=BNG, mode="drive", network_format=NETWORK_FORMAT, simplified=True,
                        source="generated grid")
    nid = {}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            nid[i, j] = len(nid)
            g.add_node(nid[i, j], x=float(x), y=float(y))

    def add(a: tuple[int, int], b: tuple[int, int], arterial: bool) -> None:
        length = float(np.hypot(xs[a[0]] - xs[b[0]], ys[a[1]] - ys[b[1]]))
        kph = (30.0 if arterial else 20.0) * MPH * speed_factor
        for u, v in ((nid[a], nid[b]), (nid[b], nid[a])):
            g.add_edge(u, v, length=length, speed_kph=kph, travel_time=length / (kph / 3.6),
                       highway="primary" if arterial else "residential")

    for i in range(len(xs)):
        for j in range(len(ys)):
            if i + 1 < len(xs) and (j % 8 == 0 or rng.random() > 0.08):
                add((i, j), (i + 1, j), j % 8 == 0)
            if j + 1 < len(ys) and (i % 8 == 0 or rng.random() > 0.08):
                add((i, j), (i, j + 1), i % 8 == 0)
    largest = max(nx.strongly_connected_components(g), key=len)
    return g.subgraph(largest).copy()


def ranking_in(polygons: list[tuple[str, str, shapely.Geometry]], *, per_area: int, seed: int,
               crs: str = BNG) -> gpd.GeoDataFrame:
    """A ranking-like frame: `per_area` distinct H3 cells in each polygon, heavy-tailed harm."""
    rng = np.random.default_rng(seed)
    to_ll = gpd.GeoSeries([p for _, _, p in polygons], crs=crs).to_crs(WGS84)
    rows = []
    for (code, name, _), poly in zip(polygons, to_ll, strict=True):
        minx, miny, maxx, maxy = poly.bounds
        cells: list[str] = []
        while len(cells) < per_area:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if not poly.contains(shapely.Point(lon, lat)):
                continue
            cell = h3.latlng_to_cell(lat, lon, 10)
            if cell not in cells:
                cells.append(cell)
        harm = np.sort(rng.lognormal(4.0, 1.0, per_area))[::-1]
        for k, cell in enumerate(cells):
            ring = [(b, a) for a, b in h3.cell_to_boundary(cell)]
            rows.append({"h3_cell": np.uint64(h3.str_to_int(cell)), "ward_code": code,
                         "ward_name": name, "count": int(harm[k] // 20) + 1,
                         "harm": float(harm[k]), "gi_z": float(5 - k * 0.2), "rank": k + 1,
                         "reason": f"harm {harm[k]:.0f} days", "geometry": shapely.Polygon(ring)})
    return gpd.GeoDataFrame(rows, crs=WGS84).to_crs(BNG)


def run(name: str, graph: nx.MultiDiGraph | None, stops: gpd.GeoDataFrame, teams: list[Team], *,
        limit: float, reference: float, settings) -> dict:
    t0 = time.perf_counter()
    quick = plan_patrols(stops, teams, network=graph, time_limit_s=limit, settings=settings)
    wall = time.perf_counter() - t0
    long = plan_patrols(stops, teams, network=graph, time_limit_s=reference, settings=settings)
    return {
        "instance": name,
        "nodes": len(graph) if graph is not None else 0,
        "stops": len(stops),
        "teams": len(teams),
        "matrix_s": quick.stats["matrix_s"],
        "solve_s": quick.stats["solve_s"],
        "total_s": wall,
        "visits": quick.visits,
        "prize": quick.prize,
        "prize_ref": long.prize,
        "visits_ref": long.visits,
        "ratio": quick.prize / long.prize if long.prize else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=5.0, help="solver seconds of the timed plan")
    ap.add_argument("--reference", type=float, default=60.0, help="solver seconds of the reference")
    ap.add_argument("--no-extract", action="store_true", help="skip the real city-centre extract")
    args = ap.parse_args(argv)

    settings = get_settings(Path(tempfile.mkdtemp(prefix="hotspots-bench-")))
    wards = load_wards(priority_only=True, settings=settings)
    results = []

    t = time.perf_counter()
    grid = grid_network(tuple(wards.total_bounds), seed=args.seed,
                        speed_factor=settings.patrol_speed_factor)
    print(f"generated grid: {len(grid):,} nodes, {grid.number_of_edges():,} edges "
          f"({time.perf_counter() - t:.1f} s, not timed)", file=sys.stderr)
    ranking = ranking_in(list(zip(wards["ward_code"], wards["ward_name"], wards.geometry,
                                  strict=True)), per_area=15, seed=args.seed)
    stops = stops_from_ranking(ranking, per_ward=15, settings=settings)
    teams = default_teams(5, shift_min=240, mode="drive", settings=settings)
    results.append(run("grid over six wards", grid, stops, teams, limit=args.limit,
                       reference=args.reference, settings=settings))

    if not args.no_extract:
        if not EXTRACT.is_file():
            print(f"skipped the city-centre extract: {EXTRACT} not found", file=sys.stderr)
        else:
            city = load_network(EXTRACT, mode="drive", settings=settings)
            xs = [d["x"] for _, d in city.nodes(data=True)]
            ys = [d["y"] for _, d in city.nodes(data=True)]
            x0, x1 = np.percentile(xs, [5, 95])
            y0, y1 = np.percentile(ys, [5, 95])
            # Six pseudo-wards: a 3 x 2 split of the extract's core.
            boxes = []
            for i in range(3):
                for j in range(2):
                    bx = shapely.box(x0 + (x1 - x0) * i / 3, y0 + (y1 - y0) * j / 2,
                                     x0 + (x1 - x0) * (i + 1) / 3, y0 + (y1 - y0) * (j + 1) / 2)
                    boxes.append((f"box{i}{j}", f"Sector {i + 1}{'AB'[j]}", bx))
            ranking = ranking_in(boxes, per_area=15, seed=args.seed)
            stops = stops_from_ranking(ranking, per_ward=15, settings=settings)
            to_ll = gpd.GeoSeries([b.centroid for _, _, b in boxes[:5]], crs=BNG).to_crs(WGS84)
            teams = [Team(f"Team {k + 1}", (p.x, p.y), "16:00", 240, "drive")
                     for k, p in enumerate(to_ll)]
            results.append(run("central Leeds extract (real)", city, stops, teams,
                               limit=args.limit, reference=args.reference, settings=settings))

    print()
    print(f"{'instance':<30} {'nodes':>7} {'stops':>5} {'teams':>5} {'matrix s':>8} "
          f"{'solve s':>7} {'total s':>7} {'target':>6} | {'prize ' + f'{args.limit:g}s':>11} "
          f"{'prize ' + f'{args.reference:g}s':>11} {'ratio':>6} {'target':>6}")
    ok = True
    for r in results:
        fast = r["total_s"] <= 6.0
        good = r["ratio"] >= 0.97
        ok &= fast and good
        print(f"{r['instance']:<30} {r['nodes']:>7,} {r['stops']:>5} {r['teams']:>5} "
              f"{r['matrix_s']:>8.2f} {r['solve_s']:>7.2f} {r['total_s']:>7.2f} "
              f"{'<=6 ' + ('ok' if fast else 'MISS'):>6} | {r['prize']:>11,.1f} "
              f"{r['prize_ref']:>11,.1f} {r['ratio']:>6.3f} {'>=.97 ' + ('ok' if good else 'MISS'):>6}")
        print(f"{'':<30} visits: {r['visits']} in {args.limit:g} s, {r['visits_ref']} in "
              f"{args.reference:g} s; time ratio {r['total_s'] / args.reference:.3f} of the reference "
              "solve")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
