"""Benchmark: the incident frame against polars on the same store, side by side in one run.

Generates seeded, demo-like incidents over all 33 Leeds wards for two years (`analytics.py`'s
generator: clustered, snapped to address points, labelled) into an incident store (24 month files),
then measures, each in a fresh process so that memory is its own:

1. loading every incident: `IncidentStore.load()` against `polars.read_parquet` of the same month
   files, and, for reference, the frame as it was before `x`/`y` (geopandas reading the same
   incidents as GeoParquet points, labels as text): time, the RSS the loaded frame adds, peak RSS;
2. select + bin + count for one category over a week and its trend window (the counting step of
   `rank_hotspots`): `select_incidents` + `cell_matrices` on the loaded frame against polars
   (filter, pyproj to longitude/latitude, `polars_h3.latlng_to_cell`, `group_by` cell and period)
   on polars' frame. The two counts are compared cell by cell.

Targets (issue 18): 5 M incidents loaded in <= 0.6 GB and <= 1.5x polars; select + bin + count
>= 1.0x polars-h3 + group-by. polars and polars-h3 come with the `bench` extra
(`pip install -e '.[bench]'`).

    python benchmarks/frame.py [--n 5000000] [--seed 0] [--keep FOLDER] [--no-geopandas]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _children import peak_mb, rss_mb, run_child  # benchmarks/_children.py, beside this script

CATEGORY = "serious_violence"
WEEK = "2025-W30"


def _settings(home: str):
    from hotspots.settings import get_settings

    return get_settings(home)


def _periods(settings):
    from hotspots.periods import parse_period

    return parse_period(WEEK, tz=settings.timezone).history(settings.trend_weeks)


# --------------------------------------------------------------------------- children


def child_generate(home: str, n: int, seed: int, geo: str) -> dict:
    import analytics  # beside this script

    from hotspots.schema import to_geodataframe
    from hotspots.store import IncidentStore

    t0 = time.perf_counter()
    frame = analytics.generate_incidents(n, seed=seed)
    store = IncidentStore(home, settings=_settings(home))
    store.add(frame)
    if geo != "-":
        points = to_geodataframe(frame)
        for column in ("crime_type", "source", "location"):  # text, as the frame held it before
            points[column] = points[column].astype("str")
        points.to_parquet(geo, index=False, geometry_encoding="geoarrow", write_covering_bbox=False)
    files = store.files()
    return {"seconds": time.perf_counter() - t0, "files": len(files), "rows": len(store),
            "mb": sum(f.stat().st_size for f in files) / 2**20}


def _area(settings):
    from hotspots.binning import study_area
    from hotspots.wards import load_wards

    return study_area(load_wards(settings=settings), resolution=10)


def child_ours(home: str, result: str) -> dict:
    import numpy as np

    from hotspots.selection import cell_matrices, select_incidents
    from hotspots.store import IncidentStore

    settings = _settings(home)
    store = IncidentStore(home, settings=settings)
    area = _area(settings)
    periods = _periods(settings)
    store.load(period=store.months()[0], columns=["x"])  # imports and set-up outside the measure
    before = rss_mb()
    t0 = time.perf_counter()
    frame = store.load()
    load_s = time.perf_counter() - t0
    loaded_mb = rss_mb() - before
    deep_mb = frame.memory_usage(deep=True).sum() / 2**20
    peak_load = peak_mb()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        sel = select_incidents(frame, category=CATEGORY, periods=periods, settings=settings)
        counts, _, _ = cell_matrices(sel, area)
        times.append(time.perf_counter() - t0)
    np.save(result, counts)
    return {"rows": len(frame), "load_s": load_s, "loaded_mb": loaded_mb, "deep_mb": deep_mb,
            "peak_load_mb": peak_load, "count_s": min(times), "selected": len(sel.x),
            "peak_mb": peak_mb()}


def child_polars(home: str, result: str) -> dict:
    import numpy as np
    import polars as pl
    import polars_h3 as plh3
    import pyproj

    from hotspots.store import IncidentStore

    settings = _settings(home)
    files = [str(f) for f in IncidentStore(home, settings=settings).files()]
    area = _area(settings)
    periods = _periods(settings)
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    to_wgs84.transform(430000.0, 433000.0)  # PROJ's set-up outside the timing
    pl.read_parquet(files[0], columns=["x"])  # imports and set-up outside the measure
    before = rss_mb()
    t0 = time.perf_counter()
    frame = pl.read_parquet(files)
    load_s = time.perf_counter() - t0
    loaded_mb = rss_mb() - before
    deep_mb = frame.estimated_size() / 2**20
    peak_load = peak_mb()
    edges = pl.Series([p.start for p in periods] + [periods[-1].end]).dt.epoch("ns")
    start, end = periods[0].start, periods[-1].end
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        sel = frame.filter((pl.col("category") == CATEGORY) & (pl.col("occurred_at") >= start)
                           & (pl.col("occurred_at") < end))
        lon, lat = to_wgs84.transform(sel["x"].to_numpy(), sel["y"].to_numpy())
        slot = edges.search_sorted(sel["occurred_at"].dt.epoch("ns"), side="right") - 1
        grouped = (pl.DataFrame({"lat": lat, "lng": lon, "slot": slot})
                   .with_columns(plh3.latlng_to_cell("lat", "lng", 10).alias("cell"))
                   .group_by(["cell", "slot"]).len())
        times.append(time.perf_counter() - t0)
    cells = grouped["cell"].to_numpy().astype(np.uint64)
    pos = area.locate(cells)
    inside = pos >= 0
    counts = np.zeros((area.n, len(periods)), dtype=np.int64)
    counts[pos[inside], grouped["slot"].to_numpy()[inside]] = grouped["len"].to_numpy()[inside]
    np.save(result, counts)
    return {"rows": frame.height, "load_s": load_s, "loaded_mb": loaded_mb, "deep_mb": deep_mb,
            "peak_load_mb": peak_load, "count_s": min(times), "selected": sel.height,
            "peak_mb": peak_mb()}


def child_geopandas(geo: str) -> dict:
    """The frame as it was before x/y: points read from GeoParquet, labels as text."""
    import geopandas as gpd

    from hotspots.schema import CATEGORY_DTYPE, PRECISION_DTYPE

    before = rss_mb()
    t0 = time.perf_counter()
    frame = gpd.read_parquet(geo)
    # What the store's old reader did after reading: the categoricals' dtypes, on a copy.
    frame = frame.copy()
    frame["time_precision"] = frame["time_precision"].astype("object").astype(PRECISION_DTYPE)
    frame["category"] = frame["category"].astype("object").astype(CATEGORY_DTYPE)
    load_s = time.perf_counter() - t0
    return {"rows": len(frame), "load_s": load_s, "loaded_mb": rss_mb() - before,
            "deep_mb": frame.memory_usage(deep=True).sum() / 2**20, "peak_mb": peak_mb()}


def child_compare(ours: str, other: str) -> dict:
    import numpy as np

    a, b = np.load(ours), np.load(other)
    return {"identical": bool(a.shape == b.shape and (a == b).all()), "incidents": int(a.sum())}


# --------------------------------------------------------------------------- report


def _line(label: str, ours: str, base: str = "", ratio: str = "", target: str = "") -> None:
    print(f"  {label:<40} {ours:>12} {base:>12} {ratio:>8}  {target}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000, help="incidents to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep (and reuse) the generated store in this folder")
    parser.add_argument("--no-geopandas", action="store_true", help="skip the frame-before reference")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--geo", default="-", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--other", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.child == "generate":
            res = child_generate(args.home, args.n, args.seed, args.geo)
        elif args.child == "ours":
            res = child_ours(args.home, args.result)
        elif args.child == "polars":
            res = child_polars(args.home, args.result)
        elif args.child == "geopandas":
            res = child_geopandas(args.geo)
        elif args.child == "compare":
            res = child_compare(args.result, args.other)
        else:
            raise SystemExit(f"unknown child {args.child}")
        print(json.dumps(res))
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hotspots-frame-"))
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / f"home_{args.n}_{args.seed}"
    geo = folder / f"points_{args.n}_{args.seed}.parquet"
    print(f"incident frame benchmark: {args.n:,} demo-like incidents, 33 Leeds wards, 24 months; "
          f"{CATEGORY}, {WEEK} and its trend window, H3 res 10; cpu count {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}")
    if (home / "store" / "manifest.json").exists() and (args.no_geopandas or geo.exists()):
        print(f"  reusing the store in {home}")
    else:
        gen = run_child(__file__, "generate", home=home, n=args.n, seed=args.seed,
                     geo="-" if args.no_geopandas else geo)
        print(f"  generated into the store in {gen['seconds']:.0f} s: {gen['files']} month files, "
              f"{gen['mb']:,.0f} MB")
    for part in (home / "store").glob("month=*/*.parquet"):  # both read from the page cache
        part.read_bytes()
    ours = run_child(__file__, "ours", home=home, result=folder / "ours.npy")
    pol = run_child(__file__, "polars", home=home, result=folder / "polars.npy")
    cmp_ = run_child(__file__, "compare", result=folder / "ours.npy", other=folder / "polars.npy")
    old = None if args.no_geopandas else run_child(__file__, "geopandas", geo=geo)

    print()
    _line("", "ours", "polars", "ratio", "target")
    print(f"load every incident ({ours['rows']:,} rows; IncidentStore.load vs polars.read_parquet)")
    ratio = ours["loaded_mb"] / pol["loaded_mb"]
    _line("memory the loaded frame adds (RSS)", f"{ours['loaded_mb']:,.0f} MB", f"{pol['loaded_mb']:,.0f} MB",
          f"{ratio:.2f}x", f"<= 600 MB: {_verdict(ours['loaded_mb'] <= 600)}, <= 1.5x: {_verdict(ratio <= 1.5)}")
    _line("  frame's own count of its bytes", f"{ours['deep_mb']:,.0f} MB", f"{pol['deep_mb']:,.0f} MB",
          f"{ours['deep_mb'] / pol['deep_mb']:.2f}x")
    _line("  peak RSS of the process while loading", f"{ours['peak_load_mb']:,.0f} MB",
          f"{pol['peak_load_mb']:,.0f} MB", f"{ours['peak_load_mb'] / pol['peak_load_mb']:.2f}x")
    _line("time", f"{ours['load_s']:.2f} s", f"{pol['load_s']:.2f} s", f"{ours['load_s'] / pol['load_s']:.2f}x")
    if old:
        _line("before x/y: geopandas points (reference)", f"{old['loaded_mb']:,.0f} MB", "", "",
              f"ours is {old['loaded_mb'] / ours['loaded_mb']:.1f}x smaller; it took {old['load_s']:.1f} s")
    print(f"select + bin + count ({ours['selected']:,} incidents in {CATEGORY}, {WEEK} and its trend "
          "window; polars: filter, pyproj, polars_h3, group_by)")
    speed = pol["count_s"] / ours["count_s"]
    _line("time (best of 3)", f"{ours['count_s']:.3f} s", f"{pol['count_s']:.3f} s", f"{speed:.2f}x",
          f"speed >= 1.0x: {_verdict(speed >= 1.0)}")
    _line("counts per cell and week identical", str(cmp_["identical"]), "", "",
          f"{cmp_['incidents']:,} incidents in the study area")
    _line("peak RSS of the process", f"{ours['peak_mb']:,.0f} MB", f"{pol['peak_mb']:,.0f} MB",
          f"{ours['peak_mb'] / pol['peak_mb']:.2f}x")
    print("ratio: ours / polars for memory and time; polars / ours for speed")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
