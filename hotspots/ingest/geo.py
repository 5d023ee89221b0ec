"""Geo files of points: GeoJSON, GeoPackage or GeoParquet (an export of this program, or a force's
GIS layer), with the date and time and type among their fields."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely

from hotspots.errors import Problem
from hotspots.ingest import checks, force
from hotspots.ingest.checks import FileState
from hotspots.ingest.sources import Source


def is_geo(src: Source, head: bytes) -> bool:
    if src.member is not None:
        return False
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return (src.suffix in {".geojson", ".json", ".gpkg", ".parquet", ".geoparquet", ".fgb", ".shp"}
            or head.startswith((b"PAR1", b"SQLite format 3\x00")) or start.startswith(b"{"))


def _frame(src: Source) -> gpd.GeoDataFrame:
    with src.path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or src.suffix in {".parquet", ".geoparquet"}:
        return gpd.read_parquet(src.path)
    import pyogrio

    with warnings.catch_warnings():
        # GDAL's notes on values it reads anyway (mixed UTC offsets, mixed types): every value
        # is checked here.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return pyogrio.read_dataframe(src.path)


def read(src: Source, ctx) -> dict | None:
    name = src.name
    ctx.budget.take_bytes(src, src.size, src.size)
    try:
        gdf = _frame(src)
    except Exception as exc:  # noqa: BLE001 - the readers raise many types for a bad file
        ctx.problems.add(Problem(name, None, None, None, "cannot be read as a GeoJSON, GeoPackage "
                                 f"or GeoParquet file ({type(exc).__name__}: {exc})", "unreadable"))
        return None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.active_geometry_name not in gdf.columns:
        ctx.problems.add(Problem(name, None, None, None, "holds no geometry column; expected points",
                                 "not a point"))
        return None
    gdf = gdf.reset_index(drop=True)
    n = len(gdf)
    ctx.budget.take_rows(src, n)
    if gdf.crs is None:
        ctx.problems.add(Problem(name, None, None, None,
                                 "has no coordinate reference system (CRS); save it with one, e.g. "
                                 "EPSG:27700 for British National Grid or EPSG:4326 for "
                                 "longitude/latitude", "missing CRS"))
        return None
    state = FileState(name, ctx.problems)
    if n == 0:
        return None
    attrs = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    cols = ctx.columns
    found = force.roles(attrs, force.ForceColumns(id_col=cols.id_col,
                                                  datetime_col=cols.datetime_col,
                                                  type_col=cols.type_col))
    missing = force.missing_roles(found, cols, (("datetime", "date and time"), ("type", "crime type")))
    if missing:
        ctx.missing_columns(name, missing, attrs,
                            " (name the columns with `columns`: id_col, datetime_col, type_col)")
        return None

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    type_id = shapely.get_type_id(geoms)
    none = (type_id < 0) | shapely.is_empty(geoms)
    not_point = (type_id != 0) & ~none
    ctx.problems.rows(name, np.flatnonzero(not_point), gdf.geometry.name,
                      lambda p: [geoms[i].geom_type for i in p],
                      "geometry is not a Point; expected one point per incident", "not a point")
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    point = ~none & ~not_point
    x[point], y[point] = shapely.get_x(geoms[point]), shapely.get_y(geoms[point])
    crs = pyproj.CRS.from_user_input(gdf.crs)
    names = ("longitude", "latitude") if crs.is_geographic else ("x", "y")
    dt = gdf[attrs[found["datetime"]]]
    when = _datetimes(dt, tz=ctx.settings.timezone, dayfirst=cols.dayfirst)
    if "time_precision" in gdf.columns:  # a file this program exported: keep its precision
        given = gdf["time_precision"].astype(object).map(
            {p: i for i, p in enumerate(checks.PRECISIONS)}).fillna(-1).to_numpy(dtype=np.int8)
        when = (when[0], np.where(given >= 0, given, when[1]).astype(np.int8), *when[2:])
    # The ids of rows without one come from every field and the coordinates as text (written
    # with numpy's repr, as earlier versions did: the ids of stored incidents depend on it).
    header = [*attrs, "__x", "__y"]
    texts = [_text(gdf[c]) for c in attrs] + [
        pa.array(np.char.mod("%r", v).tolist() if n else [], pa.string()) for v in (x, y)]
    found["x"], found["y"] = len(attrs), len(attrs) + 1
    found["time"] = None
    force.add_batch(state, texts, header, found, ctx, crs=crs, blank=not_point,
                    xy=(np.where(none, np.nan, x), np.where(none, np.nan, y), names), when=when)
    state.report.rows_read = n  # non-point rows too
    if ctx.advance is not None:
        ctx.advance(src.size)
    return state.finish(lambda p: np.asarray(p, dtype=np.int64) + 2, attrs[found["id"]]
                        if found["id"] is not None else "id",
                        lambda pos: list(zip(*(t.take(pa.array(pos)).to_pylist() for t in texts),
                                             strict=True)))


def _text(values: pd.Series) -> pa.Array:
    """A field as text ("" where missing; whole floats without ".0")."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna().to_numpy()
        with np.errstate(invalid="ignore"):
            whole = len(finite) and np.all((np.mod(finite, 1) == 0) & (np.abs(finite) < 2**53))
        if whole:
            values = values.astype("Int64")
    text = values.astype(object).where(values.notna(), "").map(str)
    return pa.array(text.to_numpy(dtype=object), type=pa.string())


def _datetimes(values: pd.Series, *, tz: str, dayfirst: bool) -> tuple[np.ndarray, ...]:
    """Like `checks.datetimes` for a field that may hold datetimes already: a field whose every
    time is midnight holds dates."""
    if not (isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype)):
        return checks.datetimes(_text(values), dayfirst=dayfirst, tz=tz)
    times = pd.DatetimeIndex(values).as_unit("ns")
    naive = times.tz_convert("UTC").tz_localize(None) if times.tz is not None else times
    empty = np.asarray(times.isna())
    ok = ~empty & np.asarray((naive >= pd.Timestamp("1900-01-01")) & (naive < pd.Timestamp("2200-01-01")))
    times = times.where(ok)
    if times.tz is None:
        times = times.tz_localize(tz, ambiguous=np.ones(len(times), dtype=bool),
                                  nonexistent="shift_forward")
    local = times.tz_convert(tz)
    midnight = np.asarray((local.hour == 0) & (local.minute == 0) & (local.second == 0))
    dates = bool(ok.any() and midnight[ok].all())
    return (np.where(ok, times.asi8, 0), np.full(len(times), 1 if dates else 2, np.int8),
            ~empty & ~ok, empty)
