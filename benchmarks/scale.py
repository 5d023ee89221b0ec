"""Benchmark: the in-memory engine against the Dask engine (2 workers) on national, multi-year data.

Generates seeded incidents over an England-and-Wales-sized extent (530 x 650 km of British National
Grid), month by month straight into an incident store (36 month files, police.uk-like: month
precision, points snapped to a 20 m grid, clustered around towns and their hotspots), then
measures, each in a fresh subprocess so peak memory (`resource.getrusage`) is its own:

1. `rank_hotspots` of every category for the last month with a 36-month trend (reads every
   incident), over a grid of 40 km "wards" covering the extent, H3 resolution 8 (the national
   overview; the study area is timed apart: built afresh, then read back from the instance
   folder, where every analysis after the first of a ward set and resolution finds it);
2. `rank_wards` for the last month against the one before (two month files);
3. `rank_hotspots` of the six Leeds priority wards at resolution 10 with a 6-month trend, on
   the national store (a local analysis of national data);
4. `rank_wards` of the 33 Leeds wards for the last month (the Leeds ward table on the national
   store).

The in-memory engine is given the store, as `hotspots rank` reads it: it reads only the months of
the period and trend window, the category's rows and the columns it counts, and runs in one
process; it is skipped when the machine has too little free memory for it. Targets (issue 18):
the Leeds ward table <= 2 s, the national res-8 ranking <= 15 s in memory (both with the study
area read back; printed as time / target, and the first run's time with the build), the same
frames on Dask. The Dask engine
runs on a `LocalCluster` of 2 worker processes (1 thread each); its peak memory is reported per
worker and for the client process (which holds the scheduler and runs the statistics). The two
engines' results are compared frame by frame.

    python benchmarks/scale.py [--n 20000000] [--months 36] [--seed 0] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import crime_shares  # benchmarks/crime_shares.py, beside this script
from _children import (  # benchmarks/_children.py, beside this script
    available_mb,
    peak_mb,
    run_child,
)

# numpy, pandas and the project are imported inside the functions: the parent only orchestrates,
# so each child's peak RSS is its own work.

END_MONTH = "2025-07"
#: The extent (EPSG:27700 metres): about England and Wales.
EXTENT = (130_000, 10_000, 660_000, 660_000)
GRID_M = 40_000
RESOLUTION = 8
#: Bytes of RSS per incident the in-memory engine needs (loaded frame and peak while ranking),
#: measured on this benchmark; used to skip it where it would not fit.
MEMORY_BYTES_PER_INCIDENT = 600


# --------------------------------------------------------------------------- helpers


def _months(n: int) -> list[str]:
    import pandas as pd

    end = pd.Period(END_MONTH, freq="M")
    return [str(end - k) for k in range(n - 1, -1, -1)]


def _settings(home: str):
    from hotspots.settings import get_settings

    return get_settings(home, trend_months=36)


def grid_wards():
    """40 km squares over the extent, as wards (`G<col><row>`)."""
    import geopandas as gpd
    import shapely

    x0, y0, x1, y1 = EXTENT
    boxes, codes = [], []
    for i, x in enumerate(range(x0, x1, GRID_M)):
        for j, y in enumerate(range(y0, y1, GRID_M)):
            boxes.append(shapely.box(x, y, min(x + GRID_M, x1), min(y + GRID_M, y1)))
            codes.append(f"G{i:02d}{j:02d}")
    return gpd.GeoDataFrame({"ward_code": codes, "ward_name": codes}, geometry=boxes, crs=27700)


# --------------------------------------------------------------------------- data


def child_generate(home: str, n: int, months: int, seed: int) -> dict:
    """Write `n` incidents over `months` months into the store at `home`, one month at a time."""
    import numpy as np
    import pandas as pd

    from hotspots.schema import make_incidents
    from hotspots.store import IncidentStore
    from hotspots.wards import load_wards

    t0 = time.perf_counter()
    settings = _settings(home)
    store = IncidentStore(home, settings=settings)
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = EXTENT
    # Towns (Leeds among them, so the local analysis has data), each with its own hotspots.
    n_towns = 90
    leeds = load_wards(settings=settings).union_all().centroid
    tx = np.r_[leeds.x, rng.uniform(x0 + 20_000, x1 - 20_000, n_towns - 1)]
    ty = np.r_[leeds.y, rng.uniform(y0 + 20_000, y1 - 20_000, n_towns - 1)]
    town_w = rng.lognormal(0.0, 1.0, n_towns)
    town_w[0] = np.sort(town_w)[-3]
    town_sd = rng.uniform(2_000, 9_000, n_towns)
    hot_per_town = 25
    hx = tx[:, None] + rng.normal(0, 1, (n_towns, hot_per_town)) * town_sd[:, None]
    hy = ty[:, None] + rng.normal(0, 1, (n_towns, hot_per_town)) * town_sd[:, None]
    hot_w = rng.lognormal(0.0, 1.0, (n_towns, hot_per_town))
    hot_sd = rng.uniform(80, 300, (n_towns, hot_per_town))
    names = np.array(list(crime_shares.NATIONAL), dtype=object)
    shares = np.array(list(crime_shares.NATIONAL.values()))
    labels = _months(months)
    per_month = np.full(months, n // months)
    per_month[: n - per_month.sum()] += 1
    for k, (month, m) in enumerate(zip(labels, per_month, strict=True)):
        r = np.random.default_rng([seed, k])
        # Hotspots drift: each month some strengthen and some fade.
        drift = hot_w * np.exp(0.3 * np.sin(k / 4.0 + np.arange(hot_per_town)[None, :]))
        kind = r.random(m)
        town = r.choice(n_towns, m, p=town_w / town_w.sum())
        x = np.empty(m)
        y = np.empty(m)
        back = kind < 0.12
        x[back] = r.uniform(x0, x1, int(back.sum()))
        y[back] = r.uniform(y0, y1, int(back.sum()))
        spread = (kind >= 0.12) & (kind < 0.6)
        x[spread] = tx[town[spread]] + r.normal(0, 1, int(spread.sum())) * town_sd[town[spread]]
        y[spread] = ty[town[spread]] + r.normal(0, 1, int(spread.sum())) * town_sd[town[spread]]
        hot = kind >= 0.6
        ht = town[hot]
        p = drift[ht] / drift[ht].sum(axis=1, keepdims=True)
        pick = (r.random(len(ht))[:, None] < np.cumsum(p, axis=1)).argmax(axis=1)
        x[hot] = hx[ht, pick] + r.normal(0, 1, len(ht)) * hot_sd[ht, pick]
        y[hot] = hy[ht, pick] + r.normal(0, 1, len(ht)) * hot_sd[ht, pick]
        # Police.uk publishes snapped map points: a 20 m grid, inside the extent.
        x = np.clip(np.floor(x / 20.0) * 20.0 + 10.0, x0 + 10, x1 - 10)
        y = np.clip(np.floor(y / 20.0) * 20.0 + 10.0, y0 + 10, y1 - 10)
        types = names[r.choice(len(names), m, p=shares / shares.sum())]
        start = pd.Timestamp(f"{month}-01")
        frame = make_incidents(
            incident_id=np.char.add(f"{month}-", np.arange(m).astype(str)), occurred_at=pd.Series(np.full(m, start)),
            time_precision="month", crime_type=types, x=x, y=y, source="bench", settings=settings)
        store.add(frame)
        del frame, x, y, types
    files = store.files()
    return {"seconds": time.perf_counter() - t0, "files": len(files),
            "mb": sum(f.stat().st_size for f in files) / 2**20, "incidents": len(store),
            "peak_mb": peak_mb()}


# --------------------------------------------------------------------------- the analyses


def _analysis(name: str, settings):
    """(function, keyword arguments, window months) of one analysis."""
    from hotspots.ranking import rank_hotspots, rank_wards, window_period

    if name == "national":
        kw = {"category": "all", "period": END_MONTH, "wards": grid_wards(), "resolution": RESOLUTION,
              "settings": settings}
        return rank_hotspots, kw, window_period(END_MONTH, settings=settings)
    if name == "wards":
        kw = {"category": "all", "period": END_MONTH, "wards": grid_wards(), "resolution": RESOLUTION,
              "settings": settings}
        return rank_wards, kw, window_period(END_MONTH, n=2, settings=settings)
    if name == "leeds":
        kw = {"category": "serious_violence", "period": END_MONTH, "wards": "priority", "resolution": 10,
              "settings": settings}
        return rank_hotspots, kw, window_period(END_MONTH, n=6, settings=settings)
    if name == "leeds_wards":
        kw = {"category": "serious_violence", "period": END_MONTH, "wards": "all", "resolution": 10,
              "settings": settings}
        return rank_wards, kw, window_period(END_MONTH, n=2, settings=settings)
    raise SystemExit(f"unknown analysis {name}")


def _leeds_settings(home: str):
    from hotspots.settings import get_settings

    return get_settings(home)  # the 6-month default trend


def _prepare(name: str, home: str):
    from hotspots.ranking import resolve_study_area

    settings = _leeds_settings(home) if name.startswith("leeds") else _settings(home)
    func, kw, window = _analysis(name, settings)
    t0 = time.perf_counter()
    resolve_study_area(kw["wards"], resolution=kw["resolution"], settings=settings)  # as the ranking does
    return settings, func, kw, window, time.perf_counter() - t0


def _time_counting() -> dict:
    """Time reading the store (`IncidentStore.load`), counting (selecting the rows, binning them
    in cells or wards, counting per cell and period, the cells' places) and, by difference, the
    statistics and the table. Each time is exclusive: a timed call inside another (a count that
    reads the store) counts once, in its own part."""
    import hotspots.ranking as ranking
    from hotspots.store import IncidentStore

    timings = {"count_s": 0.0, "load_s": 0.0, "rows_read": 0}
    inner: list[float] = []

    def timer(original, key):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            inner.append(0.0)
            try:
                out = original(*args, **kwargs)
                if key == "load_s":
                    timings["rows_read"] += len(out)
                return out
            finally:
                nested = inner.pop()
                total = time.perf_counter() - t0
                timings[key] += total - nested
                if inner:
                    inner[-1] += total
        return timed

    for name in ("cell_totals", "ward_totals", "select_incidents", "cell_positions", "cell_matrices",
                 "cell_places"):
        setattr(ranking, name, timer(getattr(ranking, name), "count_s"))
    IncidentStore.load = timer(IncidentStore.load, "load_s")
    return timings


def child_area(name: str, home: str) -> dict:
    """Build the study area of an analysis without the disk cache (what the first analysis of a
    ward set and resolution costs), then as an analysis does: kept in the instance folder."""
    from hotspots.binning import _build_study_area, study_area
    from hotspots.ranking import _chosen_and_all, resolve_study_area

    settings = _leeds_settings(home) if name.startswith("leeds") else _settings(home)
    _, kw, _ = _analysis(name, settings)
    t0 = time.perf_counter()
    chosen, every = _chosen_and_all(kw["wards"], settings)
    area = study_area(chosen, resolution=kw["resolution"], all_wards=every,
                      snap_m=float(settings.ward_snap_m))
    build_s = time.perf_counter() - t0
    _build_study_area.cache_clear()
    resolve_study_area(kw["wards"], resolution=kw["resolution"], settings=settings)
    return {"build_s": build_s, "cells": area.n, "peak_mb": peak_mb()}


def child_memory(name: str, home: str, result: str) -> dict:
    from hotspots.store import IncidentStore

    settings, func, kw, window, area_s = _prepare(name, home)
    timings = _time_counting()
    store = IncidentStore(home, settings=settings)
    t0 = time.perf_counter()
    out = func(store, **kw)
    run_s = time.perf_counter() - t0
    out.to_parquet(result)
    return {"study_area_s": area_s, "load_s": timings["load_s"], "count_s": timings["count_s"],
            "stats_s": run_s - timings["count_s"] - timings["load_s"], "seconds": run_s,
            "rows_read": timings["rows_read"], "peak_mb": peak_mb(), "incidents": out.attrs.get("incidents")}


def _warm_up() -> None:
    import dask_geopandas  # noqa: F401

    import hotspots.engines  # noqa: F401


def child_dask(name: str, home: str, result: str, workers: int) -> dict:
    import pyarrow.parquet as pq
    from distributed import Client

    from hotspots.engines import local_cluster
    from hotspots.store import IncidentStore

    t0 = time.perf_counter()
    with local_cluster(n_workers=workers) as cluster, Client(cluster) as client:
        # A running cluster has imported the project already: do it before the clock starts.
        import dask_geopandas  # noqa: F401

        client.run(_warm_up)
        start_s = time.perf_counter() - t0
        settings, func, kw, window, area_s = _prepare(name, home)
        store = IncidentStore(home, settings=settings)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in store.files(window.months()))
        timings = _time_counting()
        t0 = time.perf_counter()
        out = func(store, engine="dask", **kw)
        run_s = time.perf_counter() - t0
        peaks = client.run(peak_mb)
    out.to_parquet(result)
    return {"study_area_s": area_s, "cluster_start_s": start_s, "seconds": run_s, "rows_read": rows,
            "count_s": timings["count_s"], "load_s": timings["load_s"],
            "stats_s": run_s - timings["count_s"] - timings["load_s"],
            "worker_peak_mb": sorted(peaks.values()), "client_peak_mb": peak_mb(),
            "incidents": out.attrs.get("incidents")}


def child_compare(a: str, b: str) -> dict:
    import geopandas as gpd
    from geopandas.testing import assert_geodataframe_equal

    left, right = gpd.read_parquet(a), gpd.read_parquet(b)
    try:
        assert_geodataframe_equal(left, right)
        exact = all((left[c] == right[c]).all() for c in left.columns
                    if c != "geometry" and left[c].dtype.kind == "f" and not left[c].isna().any())
        return {"identical": True, "bit_identical_floats": bool(exact), "rows": len(left)}
    except AssertionError as exc:
        return {"identical": False, "why": str(exc).splitlines()[0], "rows": len(left)}


# --------------------------------------------------------------------------- report


def _line(label: str, memory: str, dask: str, ratio: str = "") -> None:
    print(f"  {label:<44} {memory:>22} {dask:>30} {ratio:>7}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000_000, help="incidents to generate")
    parser.add_argument("--months", type=int, default=36, help="months they span (ending 2025-07)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep (and reuse) the generated store in this folder")
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory engine")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--name", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--other", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.child == "generate":
            res = child_generate(args.home, args.n, args.months, args.seed)
        elif args.child == "area":
            res = child_area(args.name, args.home)
        elif args.child == "memory":
            res = child_memory(args.name, args.home, args.result)
        elif args.child == "dask":
            res = child_dask(args.name, args.home, args.result, args.workers)
        elif args.child == "compare":
            res = child_compare(args.result, args.other)
        else:
            raise SystemExit(f"unknown child {args.child}")
        print(json.dumps(res))
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hotspots-scale-"))
    home = folder / f"home_{args.n}_{args.months}_{args.seed}"
    x0, y0, x1, y1 = EXTENT
    print(f"scale-out benchmark: {args.n:,} generated incidents over {args.months} months to {END_MONTH}, "
          f"{(x1 - x0) / 1000:.0f} x {(y1 - y0) / 1000:.0f} km (England and Wales); cpu count "
          f"{os.cpu_count()}, load {os.getloadavg()[0]:.1f}, {available_mb() / 1024:.1f} GB available")
    if (home / "store" / "manifest.json").exists():
        print(f"  reusing the store in {home}")
    else:
        gen = run_child(__file__, "generate", home=home, n=args.n, months=args.months, seed=args.seed)
        print(f"  generated into the store in {gen['seconds']:.0f} s: {gen['files']} month files, "
              f"{gen['mb']:,.0f} MB, generator peak {gen['peak_mb']:,.0f} MB")

    analyses = [
        ("national", f"rank_hotspots, all categories, {END_MONTH}, {args.months}-month trend, 40 km grid "
                     f"wards, H3 res {RESOLUTION}"),
        ("wards", f"rank_wards, {END_MONTH} vs the month before, 40 km grid wards"),
        ("leeds", f"rank_hotspots, serious violence, {END_MONTH}, 6 Leeds priority wards, res 10, "
                  "6-month trend"),
        ("leeds_wards", f"rank_wards, serious violence, {END_MONTH} vs the month before, the 33 Leeds "
                        "wards (target <= 2 s)"),
    ]
    targets = {"national": 15.0, "leeds_wards": 2.0}
    print()
    _line("", "in-memory (1 process)", f"dask ({args.workers} workers x 1 thread)", "ratio")
    for name, title in analyses:
        print(title)
        mem_out, dask_out = folder / f"{name}_memory.parquet", folder / f"{name}_dask.parquet"
        area = run_child(__file__, "area", name=name, home=home)
        dask = run_child(__file__, "dask", name=name, home=home, result=dask_out, workers=args.workers)
        need_mb = dask["rows_read"] * MEMORY_BYTES_PER_INCIDENT / 2**20
        mem = None
        if args.no_memory:
            print("  in-memory engine skipped (--no-memory)")
        elif need_mb > 0.8 * available_mb():
            print(f"  in-memory engine skipped: ~{need_mb:,.0f} MB needed, {available_mb():,.0f} MB available")
        else:
            try:
                mem = run_child(__file__, "memory", name=name, home=home, result=mem_out)
            except RuntimeError as exc:  # e.g. killed for want of memory
                print(f"  in-memory engine failed: {exc}")
        _line("incidents read (dask: rows of the files)", f"{mem['rows_read']:,}" if mem else "-",
              f"{dask['rows_read']:,}")
        if mem:
            _line("wall time (load + count + statistics)", f"{mem['seconds']:.1f} s", f"{dask['seconds']:.1f} s",
                  f"{mem['seconds'] / dask['seconds']:.2f}x")
            _line("  reading the store (dask: the client's)", f"{mem['load_s']:.1f} s", f"{dask['load_s']:.1f} s")
            _line("  counting (dask: workers read too)", f"{mem['count_s']:.1f} s", f"{dask['count_s']:.1f} s",
                  f"{mem['count_s'] / dask['count_s']:.2f}x")
            _line("  statistics and the table (the same code)", f"{mem['stats_s']:.1f} s", f"{dask['stats_s']:.1f} s")
        else:
            _line("wall time (count + statistics)", "-", f"{dask['seconds']:.1f} s")
        _line(f"study area, built ({area['cells']:,} cells)", f"{area['build_s']:.1f} s", "")
        _line("study area, read back from the instance", f"{mem['study_area_s']:.1f} s" if mem else "-",
              f"{dask['study_area_s']:.1f} s",
              f"{mem['study_area_s'] / area['build_s']:.2f}x" if mem else "")
        if mem and name in targets:
            target = targets[name]
            kept = mem["seconds"] + mem["study_area_s"]
            first = mem["seconds"] + area["build_s"]
            _line(f"in memory with the study area <= {target:.0f} s", f"{kept:.1f} s "
                  f"{'ok' if kept <= target else 'MISSED'}", "", f"{kept / target:.2f}x")
            _line("  the first time (building the study area)", f"{first:.1f} s "
                  f"{'ok' if first <= target else 'MISSED'}", "", f"{first / target:.2f}x")
        workers = " / ".join(f"{p:,.0f}" for p in dask["worker_peak_mb"])
        _line("peak memory per worker process", f"{mem['peak_mb']:,.0f} MB" if mem else "-", f"{workers} MB",
              f"{mem['peak_mb'] / max(dask['worker_peak_mb']):.1f}x" if mem else "")
        _line("peak memory, client process", "(the same process)", f"{dask['client_peak_mb']:,.0f} MB",
              f"{mem['peak_mb'] / dask['client_peak_mb']:.1f}x" if mem else "")
        _line("cluster start and imports (not timed)", "", f"{dask['cluster_start_s']:.1f} s")
        if mem:
            cmp_ = run_child(__file__, "compare", result=mem_out, other=dask_out)
            same = "identical" if cmp_["identical"] else f"DIFFERENT: {cmp_['why']}"
            if cmp_["identical"]:
                same += " (floats bit for bit)" if cmp_["bit_identical_floats"] else " (floats to 1e-5)"
            _line("results (frames compared)", "", f"{cmp_['rows']:,} rows {same}")
    print("ratio: in-memory / dask (above 1: dask is faster or uses less memory per process); study area "
          "read back / built; a target line: the time / the target (above 1: missed)")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
