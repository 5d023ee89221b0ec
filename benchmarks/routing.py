"""Benchmark: time to a patrol plan, and its prize, against a full-time solve of the same instance.

Instances: 20, 50, 90 and 150 candidate stops (the top cells of a heavy-tailed ranking, spread over
the six priority wards), 2 to 5 drive teams based at ward centroids, 4-hour shifts, 15-minute
dwells. Networks: a generated street grid over the six wards (>= 20,000 nodes, 70 m blocks, faster
arterials every 8th street, a few streets removed) and, when present, the real central Leeds OSM
extract (stops drawn inside it, six sectors standing in for wards).

Each instance is planned twice, as a user calls `plan_patrols` (travel-time matrix + search):
- baseline: the search runs to its full time limit (`patience=None`, as every plan did before);
- planner: the default search, which stops when it stops improving (the time limit a ceiling).
Printed per size: median wall time of each and their ratio, the planner's median CPU time (what
the wall time would be on an idle machine; the machine may be shared), the planner's prize as a
share of the baseline's (worst and median over the instances), and how each planner search ended.

Targets (issue 18): median plan time <= 1 s for <= 50 stops and <= 3 s for 90 stops, at >= 99%
of the full solve's prize.

    python benchmarks/routing.py [--instances 3] [--full 5] [--sizes 20,50,90,150] [--no-extract]
"""

from __future__ import annotations

import argparse
import statistics
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
from routing import Team, load_network, plan_patrols, stops_from_ranking  # noqa: E402
from routing.network import NETWORK_FORMAT  # noqa: E402

MPH = 1.609344

#: Median plan time targets (seconds) by the largest stop count they cover.
TIME_TARGETS_S = ((50, 1.0), (90, 3.0))
PRIZE_TARGET = 0.99


def shared_file(*parts: str) -> Path:
    """A file of the shared reference data (`shared/data/` beside this checkout or a folder above)."""
    here = Path(__file__).resolve()
    candidates = [folder / "shared" / "data" / Path(*parts) for folder in here.parents]
    return next((c for c in candidates if c.is_file()), candidates[1])


EXTRACT = shared_file("osm", "leeds_city_centre.osm")


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


def teams_for(n_stops: int, bases: list[tuple[float, float]]) -> list[Team]:
    """2 teams for 20 stops, 3 for 50, 5 from 75 (so that some stops never fit)."""
    k = min(len(bases), max(2, n_stops // 15))
    return [Team(f"Team {i + 1}", bases[i], "16:00", 240, "drive") for i in range(k)]


def measure(graph: nx.MultiDiGraph, areas: list[tuple[str, str, shapely.Geometry]],
            bases: list[tuple[float, float]], *, sizes: list[int], instances: int, full_s: float,
            settings) -> list[dict]:
    rows = []
    for n in sizes:
        per_area = -(-n // len(areas))
        for seed in range(instances):
            ranking = ranking_in(areas, per_area=per_area, seed=seed)
            stops = stops_from_ranking(ranking, top=n, join_ring=0, settings=settings)  # n stops exactly
            teams = teams_for(n, bases)
            t0 = time.perf_counter()
            full = plan_patrols(stops, teams, network=graph, time_limit_s=full_s, patience=None,
                                settings=settings)
            full_wall = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            quick = plan_patrols(stops, teams, network=graph, time_limit_s=full_s,
                                 settings=settings)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rows.append({"stops": n, "seed": seed, "teams": len(teams), "wall": wall, "cpu": cpu,
                         "full_wall": full_wall, "matrix_s": quick.stats["matrix_s"],
                         "prize": quick.prize, "prize_full": full.prize,
                         "ratio": quick.prize / full.prize if full.prize else 1.0,
                         "stopped": quick.stats["stopped"], "solutions": quick.stats["solutions"]})
            print(f"  {n:>3} stops, instance {seed}: {wall:.2f} s vs {full_wall:.2f} s, prize "
                  f"{rows[-1]['ratio']:.4f} of the full solve ({quick.stats['stopped']}, "
                  f"{quick.stats['solutions']} solutions)", file=sys.stderr, flush=True)
    return rows


def report(name: str, nodes: int, rows: list[dict], full_s: float) -> bool:
    print(f"\n{name}: {nodes:,} nodes; baseline = the full {full_s:g} s solve of the same instance")
    print(f"{'stops':>5} {'teams':>5} {'median s':>9} {'cpu s':>6} {'base s':>7} {'x base':>7} "
          f"{'target':>11} | "
          f"{'prize/base worst':>16} {'median':>7} {'target':>9} | stopped by")
    ok = True
    for n in sorted({r["stops"] for r in rows}):
        group = [r for r in rows if r["stops"] == n]
        wall = statistics.median(r["wall"] for r in group)
        cpu = statistics.median(r["cpu"] for r in group)
        base = statistics.median(r["full_wall"] for r in group)
        worst = min(r["ratio"] for r in group)
        med = statistics.median(r["ratio"] for r in group)
        target = next((t for limit, t in TIME_TARGETS_S if n <= limit), None)
        fast = target is None or wall <= target
        good = worst >= PRIZE_TARGET
        ok &= fast and good
        verdict = "none" if target is None else f"<={target:g} {'ok' if fast else 'MISS'}"
        stops_by = ", ".join(f"{k} x{sum(r['stopped'] == k for r in group)}"
                             for k in sorted({r["stopped"] for r in group}))
        print(f"{n:>5} {group[0]['teams']:>5} {wall:>9.2f} {cpu:>6.2f} {base:>7.2f} {wall / base:>7.3f} "
              f"{verdict:>11} | {worst:>16.4f} {med:>7.4f} {'>=.99 ' + ('ok' if good else 'MISS'):>9} "
              f"| {stops_by}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=3, help="instances (seeds) per size")
    ap.add_argument("--full", type=float, default=5.0,
                    help="time limit in seconds: the baseline's full solve and the planner's ceiling")
    ap.add_argument("--sizes", default="20,50,90,150", help="stop counts, comma-separated")
    ap.add_argument("--no-extract", action="store_true", help="skip the real city-centre extract")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    settings = get_settings(Path(tempfile.mkdtemp(prefix="hotspots-bench-")))
    wards = load_wards(priority_only=True, settings=settings)
    t = time.perf_counter()
    grid = grid_network(tuple(wards.total_bounds), seed=0,
                        speed_factor=settings.patrol_speed_factor)
    print(f"generated grid: {len(grid):,} nodes, {grid.number_of_edges():,} edges "
          f"({time.perf_counter() - t:.1f} s, not timed)", file=sys.stderr)
    areas = list(zip(wards["ward_code"], wards["ward_name"], wards.geometry, strict=True))
    centroids = gpd.GeoSeries(wards.geometry.centroid, crs=BNG).to_crs(WGS84)
    bases = [(p.x, p.y) for p in centroids][:5]
    results = [("grid over the six priority wards", len(grid),
                measure(grid, areas, bases, sizes=sizes, instances=args.instances,
                        full_s=args.full, settings=settings))]

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
            to_ll = gpd.GeoSeries([b.centroid for _, _, b in boxes[:5]], crs=BNG).to_crs(WGS84)
            city_bases = [(p.x, p.y) for p in to_ll]
            results.append(("central Leeds extract (real OSM)", len(city),
                            measure(city, boxes, city_bases, sizes=sizes,
                                    instances=args.instances, full_s=args.full,
                                    settings=settings)))
    ok = True
    for name, nodes, rows in results:
        ok &= report(name, nodes, rows, args.full)
    print(f"\ntargets: median plan time <= 1 s for <= 50 stops, <= 3 s for 90 stops, every plan "
          f">= 99% of the full solve's prize: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
