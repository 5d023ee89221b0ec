"""Benchmark: the hotspot analytics against a naive reference, side by side in one run.

Generates seeded, demo-like incidents over all 33 Leeds wards for two years (clustered around
planted hotspots, snapped to "address points" like police.uk, 40% jittered by a few metres), then
measures, each in a fresh subprocess so peak memory (`resource.getrusage`) is its own:

1. binning throughput on one core: `xy_to_cells` (x/y in EPSG:27700 -> H3 cells, exactly what
   `h3.latlng_to_cell` gives) against a Python loop of `h3.latlng_to_cell` after `to_crs`, and
   `assign_wards` against `geopandas.sjoin`;
2. the whole `rank_hotspots` (binning, Gi*, FDR, change, trend classes, reasons) for one category
   and one week over all 33 wards, first call (building the study area) and repeated call
   (study area cached), against a naive reference written here: a Python loop of
   `h3.latlng_to_cell`, `geopandas.sjoin` for the cells' wards, libpysal weights and
   `esda.G_Local` for Gi*, per-cell scipy tests and a per-cell trend loop. The two results are
   compared cell by cell;
3. `rank_hotspots` on 10 M incidents: time and peak memory.

Targets: rank_hotspots >= 10x faster than the reference, <= 1.5 s, peak <= 1.5 GB on 1 M
incidents; binning >= 3 M points/s on one core; 10 M incidents with peak <= 6 GB.

    python benchmarks/analytics.py [--n 1000000] [--big 10000000 | --no-big] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import crime_shares  # benchmarks/crime_shares.py, beside this script
from _children import peak_mb, rss_mb, run_child  # benchmarks/_children.py, beside this script

# One core for the H3 kernels (h3ronpy uses rayon) and BLAS; set before anything imports them.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# numpy, pandas and the project are imported inside the functions: the parent only orchestrates,
# so each child's peak RSS is its own work.

CATEGORY = "serious_violence"
WEEK = "2025-W30"
END = "2025-07-27"  # a Sunday: the last day of the generated data
WEEKS = 104


# --------------------------------------------------------------------------- helpers


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})


# --------------------------------------------------------------------------- data


def generate_incidents(n: int, *, seed: int):
    """Demo-like incidents over all 33 Leeds wards for two years, in the data model (x, y)."""
    import numpy as np
    import pandas as pd
    import shapely

    from hotspots.schema import (
        CATEGORY_DTYPE,
        PRECISION_DTYPE,
        categorise,
        labels,
        occurred_at_dtype,
    )
    from hotspots.settings import get_settings
    from hotspots.wards import load_wards

    settings = get_settings(Path(tempfile.gettempdir()) / "hotspots-bench-home")
    rng = np.random.default_rng(seed)
    wards = load_wards(settings=settings)
    geoms = wards.geometry.to_numpy()
    shapely.prepare(geoms)
    # Address points: the anonymous map points incidents are snapped to.
    ax, ay = [], []
    for geom, km2 in zip(geoms, wards["area_km2"], strict=True):
        want = int(900 + 60 * km2)
        x0, y0, x1, y1 = geom.bounds
        got_x, got_y = [], []
        while sum(len(v) for v in got_x) < want:
            px = rng.uniform(x0, x1, want)
            py = rng.uniform(y0, y1, want)
            inside = shapely.contains_xy(geom, px, py)
            got_x.append(px[inside])
            got_y.append(py[inside])
        ax.append(np.concatenate(got_x)[:want])
        ay.append(np.concatenate(got_y)[:want])
    ax, ay = np.concatenate(ax), np.concatenate(ay)
    # Planted hotspots: 12 per ward, of varied strength and size.
    centres = rng.choice(len(ax), 12 * len(wards), replace=False)
    strength = rng.lognormal(1.0, 1.0, len(centres))
    sigma = rng.uniform(60, 220, len(centres))
    weight = np.full(len(ax), 0.15)
    for c, s, sd in zip(centres, strength, sigma, strict=True):
        weight += s * np.exp(-((ax - ax[c]) ** 2 + (ay - ay[c]) ** 2) / (2 * sd * sd))
    pick = rng.choice(len(ax), size=n, p=weight / weight.sum())
    x, y = ax[pick], ay[pick]
    del pick
    jitter = rng.random(n) < 0.4
    x[jitter] += rng.normal(0, 4.0, int(jitter.sum()))
    y[jitter] += rng.normal(0, 4.0, int(jitter.sum()))
    del jitter
    end = pd.Timestamp(END, tz=settings.timezone) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(weeks=WEEKS)
    stamps = start.value + rng.integers(0, end.value - start.value, n)
    occurred = pd.Series(pd.DatetimeIndex(stamps, tz="UTC").tz_convert(settings.timezone)).astype(
        occurred_at_dtype(settings.timezone))
    del stamps
    names = np.array(list(crime_shares.LEEDS), dtype=object)
    shares = np.array(list(crime_shares.LEEDS.values()))
    codes = rng.choice(len(names), size=n, p=shares / shares.sum())
    cats, harms = categorise(pd.Series(names, dtype="str"), settings)
    crime_type = labels(pd.Categorical.from_codes(codes, names))
    # Snap points carry police.uk-style labels: one per address point.
    streets = np.array([f"On or near Street {k}" for k in range(len(ax))], dtype=object)
    place = np.searchsorted(np.sort(ax), x)  # a label per point, stable for repeated points
    frame = pd.DataFrame(
        {
            "incident_id": pd.Series(np.arange(n)).astype("str"),
            "occurred_at": occurred,
            "time_precision": pd.Categorical.from_codes(np.full(n, 2, dtype=np.int8), dtype=PRECISION_DTYPE),
            "crime_type": crime_type,
            "category": pd.Categorical(np.asarray(cats, dtype=object)[codes], dtype=CATEGORY_DTYPE),
            "harm": harms[codes],
            "source": labels(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), ["demo"])),
            "location": labels(pd.Categorical.from_codes(np.minimum(place, len(ax) - 1), streets)),
            "x": x,
            "y": y,
        }
    )
    return frame


def _load(path: str):
    """The incidents of a Parquet file, read as the store reads its month files."""
    from hotspots import _parquet
    from hotspots.settings import get_settings

    settings = get_settings(Path(tempfile.gettempdir()) / "hotspots-bench-home")
    tz = settings.timezone
    return _parquet.to_frame([_parquet.read(Path(path), tz=tz)]), settings


# --------------------------------------------------------------------------- the naive reference


def reference_study_area(wards, resolution: int):
    """Cells over the wards with Python loops of h3, geopandas.sjoin and libpysal weights."""
    import geopandas as gpd
    import h3
    import libpysal
    import numpy as np
    import shapely

    radius = 1.5 * h3.average_hexagon_edge_length(resolution, unit="m")
    outline = gpd.GeoSeries([wards.union_all().buffer(radius)], crs=wards.crs).to_crs(4326).iloc[0]
    candidates = h3.geo_to_cells(outline, resolution)
    hexes = gpd.GeoDataFrame(
        {"h3_cell": [h3.str_to_int(c) for c in candidates]},
        geometry=[shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in candidates],
        crs=4326,
    ).to_crs(wards.crs)
    pairs = gpd.sjoin(hexes, wards[["ward_code", "ward_name", "geometry"]], predicate="intersects")
    ward_geom = wards.set_index("ward_code").geometry
    pairs["overlap"] = shapely.area(shapely.intersection(pairs.geometry.to_numpy(),
                                                          ward_geom.loc[pairs["ward_code"]].to_numpy()))
    pairs = pairs[pairs["overlap"] > 1e-6]
    best = pairs.sort_values(["h3_cell", "overlap"], ascending=[True, False]).drop_duplicates("h3_cell")
    best = best.sort_values("h3_cell").reset_index(drop=True)
    members = set(best["h3_cell"].tolist())
    position = {c: i for i, c in enumerate(best["h3_cell"].tolist())}
    neighbours = {}
    for cell in best["h3_cell"].tolist():
        ring = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(cell), 1)]
        neighbours[position[cell]] = [position[c] for c in ring if c in members and c != cell]
    weights = libpysal.weights.W(neighbours, silence_warnings=True)
    return best, weights, np.array(best["h3_cell"].tolist(), dtype=np.uint64)


def reference_rank(incidents, area, *, category: str, week: str, settings):
    """The same ranking written plainly: loops, sjoin'd wards and esda for Gi*."""
    import itertools
    import math
    import warnings

    import esda
    import h3
    import numpy as np
    import pandas as pd
    from scipy import stats

    from hotspots.periods import parse_period
    from hotspots.schema import to_geodataframe

    best, weights, cells = area
    period = parse_period(week, tz=settings.timezone)
    history = period.history(settings.trend_weeks)
    times = incidents["occurred_at"]
    sel = incidents[(incidents["category"] == category) & (times >= history[0].start) & (times < period.end)]
    lnglat = to_geodataframe(sel).geometry.to_crs(4326)
    sel_cells = [h3.str_to_int(h3.latlng_to_cell(p.y, p.x, 10)) for p in lnglat]
    slot = np.zeros(len(sel), dtype=int)
    for k, p in enumerate(history):
        slot[((sel["occurred_at"] >= p.start) & (sel["occurred_at"] < p.end)).to_numpy()] = k
    table = pd.DataFrame({"h3_cell": sel_cells, "slot": slot, "harm": sel["harm"].to_numpy()})
    harm = table.pivot_table(index="h3_cell", columns="slot", values="harm", aggfunc="sum", fill_value=0)
    count = table.pivot_table(index="h3_cell", columns="slot", values="harm", aggfunc="count", fill_value=0)
    harm = harm.reindex(index=cells, columns=range(len(history)), fill_value=0)
    count = count.reindex(index=cells, columns=range(len(history)), fill_value=0)
    z = np.zeros(harm.shape)
    # Each cell's neighbourhood (itself and its neighbours), the same in every period.
    members = [[i, *weights.neighbors[i]] for i in range(len(cells))]
    sizes = np.array([len(m) for m in members])
    hot = np.zeros(harm.shape, dtype=bool)
    cold = np.zeros(harm.shape, dtype=bool)
    for k in range(len(history)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = esda.G_Local(harm[k].to_numpy(dtype=float), weights, transform="B", star=True, permutations=0)
        z[:, k] = np.nan_to_num(g.Zs)
        # Significance: the exact Poisson tail of each cell's local count (itself and its
        # neighbours), cell by cell, as the service decides it (see hotspots.stats.local_count_p).
        # The tails are taken for all cells at once: the reference is meant to be plain, not
        # slowed by a scipy call per cell.
        counts_k = count[k].to_numpy(dtype=float)
        local = np.array([counts_k[m].sum() for m in members])
        lam = sizes * counts_k.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            tails = np.minimum(stats.poisson.sf(local - 1, lam), stats.poisson.cdf(local, lam))
        p = np.where(lam > 0, np.minimum(1.0, 2 * tails), 1.0)
        sig = stats.false_discovery_control(p, method="bh") <= settings.fdr_alpha
        hot[:, k] = sig & (z[:, k] > 0)
        cold[:, k] = sig & (z[:, k] < 0)
    cur, prev = count[len(history) - 1].to_numpy(), count[len(history) - 2].to_numpy()
    significant = [bool(stats.binomtest(int(c), int(c + q), 0.5).pvalue < 0.05) if c + q else False
                   for c, q in zip(cur, prev, strict=True)]

    def mk(series):
        n = len(series)
        s = sum(np.sign(series[j] - series[i]) for i, j in itertools.combinations(range(n), 2))
        ties = np.unique(series, return_counts=True)[1]
        var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
        zz = 0.0 if var <= 0 else (s - np.sign(s)) / math.sqrt(var)
        return zz, 2 * stats.norm.sf(abs(zz))

    trends = []
    t = len(history)
    for i in range(len(cells)):
        h_row, c_row = hot[i], cold[i]
        h = int(h_row.sum())
        if h_row[-1]:
            if h >= math.ceil(0.8 * t):
                mz, mp = mk(z[i])
                trends.append("intensifying" if mp < 0.05 and mz > 0 else
                              "diminishing" if mp < 0.05 and mz < 0 else "persistent")
            elif h == 1:
                trends.append("new")
            else:
                run = 0
                for flag in h_row[::-1]:
                    if not flag:
                        break
                    run += 1
                if run == h:
                    trends.append("consecutive")
                elif c_row[:-1].any():
                    trends.append("oscillating")
                else:
                    trends.append("sporadic")
        else:
            earlier = int(h_row[:-1].sum())
            trends.append("historical" if earlier and earlier >= math.ceil(0.8 * (t - 1)) else "none")
    out = pd.DataFrame({
        "h3_cell": cells, "ward_code": best["ward_code"].to_numpy(), "count": cur,
        "harm": harm[t - 1].to_numpy(), "gi_z": z[:, -1], "hot": hot[:, -1], "change": cur - prev,
        "change_significant": significant, "trend": trends,
    })
    out["z_key"] = out["gi_z"].round(9)
    out["harm_key"] = out["harm"].round(9)
    out = out.sort_values(["hot", "harm_key", "z_key", "h3_cell"], ascending=[False, False, False, True])
    out = out.drop(columns=["z_key", "harm_key"])
    out["rank"] = np.arange(1, len(out) + 1)
    out["reason"] = [f"{c} incidents, harm {h:.0f}, change {d:+d}; Gi* z {zz:.1f}; {tr}"
                     for c, h, d, zz, tr in zip(out["count"], out["harm"], out["change"], out["gi_z"],
                                                out["trend"], strict=True)]
    return out.merge(best[["h3_cell", "geometry"]], on="h3_cell")


# --------------------------------------------------------------------------- children


def child_generate(n: int, seed: int, out: str) -> dict:
    t0 = time.perf_counter()
    frame = generate_incidents(n, seed=seed)
    seconds = time.perf_counter() - t0
    from hotspots import _parquet

    _parquet.write(_parquet.to_arrow(frame, frame["occurred_at"].dt.tz.key), Path(out))
    return {"rows": len(frame), "seconds": seconds, "peak_mb": peak_mb()}


def child_binning(data: str) -> dict:
    _pin_one_core()
    import geopandas as gpd
    import h3
    import numpy as np

    from hotspots.binning import assign_wards
    from hotspots.cells import points_to_cells, xy_to_cells
    from hotspots.schema import to_geodataframe
    from hotspots.wards import load_wards

    frame, settings = _load(data)
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    n = len(x)
    out = {"points": n, "unique_points": int(len(np.unique(x + 1j * y)))}
    t0 = time.perf_counter()
    first = xy_to_cells(x, y, resolution=10)
    out["xy_first_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = xy_to_cells(x, y, resolution=10)
    out["xy_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = xy_to_cells(x, y, resolution=10, method="exact")
    out["exact_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    points_to_cells(frame, resolution=10)
    out["points_to_cells_s"] = time.perf_counter() - t0
    # Baseline: to_crs, then h3.latlng_to_cell point by point (on a sample; rate scaled).
    m = min(n, 200_000)
    t0 = time.perf_counter()
    lnglat = to_geodataframe(frame.iloc[:m]).geometry.to_crs(4326)
    loop = np.array([h3.str_to_int(h3.latlng_to_cell(p.y, p.x, 10)) for p in lnglat], dtype=np.uint64)
    out["loop_s_per_point"] = (time.perf_counter() - t0) / m
    out["agree_with_loop"] = bool((loop == first[:m]).all() and (first == again).all() and (first == exact).all())
    wards = load_wards(settings=settings)
    assign_wards(frame.iloc[:1000], wards)  # build the study area outside the timing
    t0 = time.perf_counter()
    ours = assign_wards(frame, wards)
    out["assign_s"] = time.perf_counter() - t0
    points = to_geodataframe(frame[["x", "y"]])  # the baseline's input, made outside its timing
    t0 = time.perf_counter()
    joined = gpd.sjoin(points, wards[["ward_code", "geometry"]], how="left", predicate="within")
    out["sjoin_s"] = time.perf_counter() - t0
    joined = joined[~joined.index.duplicated()]
    out["assign_agree"] = bool((ours.astype(object).fillna("-").to_numpy()
                                == joined["ward_code"].fillna("-").to_numpy()).mean() > 0.99999)
    out["peak_mb"] = peak_mb()
    return out


def child_rank(data: str, result: str, repeat: int = 1) -> dict:
    _pin_one_core()
    from hotspots.ranking import rank_hotspots

    frame, settings = _load(data)
    out = {"rss_after_load_mb": rss_mb(), "peak_after_load_mb": peak_mb()}
    times = []
    ranking = None
    for _ in range(1 + repeat):
        t0 = time.perf_counter()
        ranking = rank_hotspots(frame, category=CATEGORY, period=WEEK, wards="all", resolution=10,
                                weight="harm", settings=settings)
        times.append(time.perf_counter() - t0)
    out["first_s"] = times[0]
    out["repeat_s"] = min(times[1:]) if len(times) > 1 else None
    out["peak_mb"] = peak_mb()
    out["rows"] = len(ranking)
    out["hot"] = int(ranking["hot"].sum())
    out["incidents_in_week"] = int(ranking.attrs["incidents"])
    if result != "-":
        ranking.to_parquet(result)
    return out


def child_reference(data: str, result: str) -> dict:
    _pin_one_core()
    from hotspots.wards import load_wards

    frame, settings = _load(data)
    wards = load_wards(settings=settings)
    t0 = time.perf_counter()
    area = reference_study_area(wards, 10)
    area_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranking = reference_rank(frame, area, category=CATEGORY, week=WEEK, settings=settings)
    rank_s = time.perf_counter() - t0
    ranking.drop(columns="geometry").to_parquet(result)
    return {"study_area_s": area_s, "rank_s": rank_s, "first_s": area_s + rank_s, "peak_mb": peak_mb(),
            "rows": len(ranking)}


def child_compare(ours: str, reference: str) -> dict:
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(ours).set_index("h3_cell")
    b = pd.read_parquet(reference).set_index("h3_cell")
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    return {
        "cells_ours": int(len(pd.read_parquet(ours, columns=["h3_cell"]))),
        "cells_reference": int(len(pd.read_parquet(reference, columns=["h3_cell"]))),
        "cells_common": int(len(common)),
        "max_abs_z_diff": float(np.abs(a["gi_z"].to_numpy() - b["gi_z"].to_numpy()).max()),
        "count_mismatch": int((a["count"] != b["count"]).sum()),
        "hot_mismatch": int((a["hot"] != b["hot"]).sum()),
        "trend_mismatch": int((a["trend"].astype(str) != b["trend"].astype(str)).sum()),
        "change_flag_mismatch": int((a["change_significant"] != b["change_significant"]).sum()),
        "ward_mismatch": int((a["ward_code"].astype(str) != b["ward_code"].astype(str)).sum()),
        "rank_mismatch": int((a["rank"] != b["rank"]).sum()),
    }


# --------------------------------------------------------------------------- report


def _line(label: str, value: str, baseline: str = "", ratio: str = "", target: str = "") -> None:
    print(f"  {label:<44} {value:>14} {baseline:>14} {ratio:>9}  {target}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents for the main runs")
    parser.add_argument("--big", type=int, default=10_000_000, help="incidents for the large run")
    parser.add_argument("--no-big", action="store_true", help="skip the large run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep the generated data in this folder")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default="-", help=argparse.SUPPRESS)
    parser.add_argument("--other", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.child == "generate":
            res = child_generate(args.n, args.seed, args.out)
        elif args.child == "binning":
            res = child_binning(args.data)
        elif args.child == "rank":
            res = child_rank(args.data, args.result, args.repeat)
        elif args.child == "reference":
            res = child_reference(args.data, args.result)
        elif args.child == "compare":
            res = child_compare(args.data, args.other)
        else:
            raise SystemExit(f"unknown child {args.child}")
        print(json.dumps(res))
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hotspots-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"incidents_{args.n}.parquet"
    print(f"hotspot analytics benchmark: {args.n:,} demo-like incidents, 33 Leeds wards, "
          f"{WEEKS} weeks to {END}; category {CATEGORY}, week {WEEK}, H3 resolution 10; "
          f"one core per process; cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    gen = run_child(__file__, "generate", n=args.n, seed=args.seed, out=data)
    print(f"  generated in {gen['seconds']:.1f} s")

    binning = run_child(__file__, "binning", data=data)
    ours_rank = run_child(__file__, "rank", data=data, result=folder / "ours.parquet", repeat=2)
    ref = run_child(__file__, "reference", data=data, result=folder / "reference.parquet")
    cmp_ = run_child(__file__, "compare", data=folder / "ours.parquet", other=folder / "reference.parquet")

    n = binning["points"]
    loop_rate = 1.0 / binning["loop_s_per_point"]
    print()
    print(f"  {'':<44} {'ours':>14} {'baseline':>14} {'ratio':>9}  target")
    print(f"binning ({n:,} points, {binning['unique_points']:,} distinct; baseline: to_crs + h3.latlng_to_cell loop)")
    rate = n / binning["xy_s"]
    _line("xy_to_cells, points/s (repeat call)", f"{rate / 1e6:.2f} M/s", f"{loop_rate / 1e6:.2f} M/s",
          f"{rate / loop_rate:.1f}x", f">= 3 M/s: {_verdict(rate >= 3e6)}")
    _line("xy_to_cells, points/s (first call, fits lattice)", f"{n / binning['xy_first_s'] / 1e6:.2f} M/s",
          f"{loop_rate / 1e6:.2f} M/s", f"{n / binning['xy_first_s'] / loop_rate:.1f}x")
    _line("exact route (pyproj + h3ronpy, distinct points)", f"{n / binning['exact_s'] / 1e6:.2f} M/s",
          f"{loop_rate / 1e6:.2f} M/s", f"{n / binning['exact_s'] / loop_rate:.1f}x")
    _line("points_to_cells from the x, y columns", f"{n / binning['points_to_cells_s'] / 1e6:.2f} M/s",
          f"{loop_rate / 1e6:.2f} M/s", f"{n / binning['points_to_cells_s'] / loop_rate:.1f}x")
    _line("cells identical to h3.latlng_to_cell", str(binning["agree_with_loop"]))
    _line("assign_wards vs geopandas.sjoin, s", f"{binning['assign_s']:.2f} s", f"{binning['sjoin_s']:.2f} s",
          f"{binning['sjoin_s'] / binning['assign_s']:.1f}x", f"same wards: {binning['assign_agree']}")

    print(f"rank_hotspots ({args.n:,} incidents, all 33 wards; {ours_rank['rows']:,} cells, "
          f"{ours_rank['incidents_in_week']:,} incidents in the week, {ours_rank['hot']:,} hot)")
    warm, cold = ours_rank["repeat_s"], ours_rank["first_s"]
    _line("repeat call (study area cached) vs reference", f"{warm:.2f} s", f"{ref['rank_s']:.2f} s",
          f"{ref['rank_s'] / warm:.1f}x", f">= 10x: {_verdict(ref['rank_s'] / warm >= 10)}, "
          f"<= 1.5 s: {_verdict(warm <= 1.5)}")
    _line("first call (builds study area) vs reference", f"{cold:.2f} s", f"{ref['first_s']:.2f} s",
          f"{ref['first_s'] / cold:.1f}x", f">= 10x: {_verdict(ref['first_s'] / cold >= 10)}, "
          f"<= 1.5 s: {_verdict(cold <= 1.5)}")
    _line("  reference study area alone", "", f"{ref['study_area_s']:.2f} s")
    _line("peak memory (process, data loaded)", f"{ours_rank['peak_mb']:,.0f} MB", f"{ref['peak_mb']:,.0f} MB",
          f"{ours_rank['peak_mb'] / ref['peak_mb']:.2f}x", f"<= 1,500 MB: {_verdict(ours_rank['peak_mb'] <= 1500)}")
    _line("  RSS with the incidents loaded", f"{ours_rank['rss_after_load_mb']:,.0f} MB")
    _line("  peak while loading them (parquet)", f"{ours_rank['peak_after_load_mb']:,.0f} MB")
    print(f"  agreement with the reference on {cmp_['cells_common']:,} common cells "
          f"(ours {cmp_['cells_ours']:,}, reference {cmp_['cells_reference']:,}): max |z diff| "
          f"{cmp_['max_abs_z_diff']:.2e}; mismatches: count {cmp_['count_mismatch']}, hot "
          f"{cmp_['hot_mismatch']}, trend {cmp_['trend_mismatch']}, change flag "
          f"{cmp_['change_flag_mismatch']}, ward {cmp_['ward_mismatch']}, rank {cmp_['rank_mismatch']}")

    if not args.no_big:
        big = folder / f"incidents_{args.big}.parquet"
        gen_big = run_child(__file__, "generate", n=args.big, seed=args.seed + 1, out=big)
        print(f"rank_hotspots on {args.big:,} incidents (generated in {gen_big['seconds']:.0f} s)")
        res = run_child(__file__, "rank", data=big, result="-", repeat=1)
        _line("first call / repeat call", f"{res['first_s']:.2f} s", f"{res['repeat_s']:.2f} s")
        _line("peak memory (process, data loaded)", f"{res['peak_mb']:,.0f} MB", "", "",
              f"<= 6,000 MB: {_verdict(res['peak_mb'] <= 6000)}")
        _line("  RSS with the incidents loaded", f"{res['rss_after_load_mb']:,.0f} MB")
        _line("  peak while loading them (parquet)", f"{res['peak_after_load_mb']:,.0f} MB")
        if not args.keep:
            big.unlink(missing_ok=True)
    if not args.keep:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
