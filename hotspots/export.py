"""Analysis results for other tools: GeoJSON (RFC 7946), spreadsheet-safe CSV and GeoPackage.

Serialised outputs write H3 cells as their canonical hex strings (`8a194254508ffff`), never the
uint64 the analysis uses.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots import cells as h3cells
from hotspots.crs import WGS84
from hotspots.errors import InputError

FORMATS: tuple[str, ...] = ("geojson", "csv", "gpkg")

#: A text cell starting with one of these is run as a formula by spreadsheets, also after
#: leading spaces or line breaks (which spreadsheets skip); a tab or carriage return at the very
#: start is escaped too.
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r")


def _check_frame(frame: Any, name: str = "frame") -> None:
    if not isinstance(frame, pd.DataFrame):
        msg = f"`{name}` must be a DataFrame or GeoDataFrame to export, not {type(frame).__name__}."
        raise InputError(msg)
    if _has_geometry(frame) and frame.crs is None:
        msg = f"`{name}` has no CRS; set it (set_crs('EPSG:27700') for the analysis' output) before exporting."
        raise InputError(msg)


def _has_geometry(frame: pd.DataFrame) -> bool:
    return isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name in frame.columns


def _with_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Incidents (`x`, `y` in EPSG:27700, no geometry) as points; any other frame unchanged."""
    if not _has_geometry(frame) and isinstance(frame, pd.DataFrame) and {"x", "y"} <= set(frame.columns):
        from hotspots.schema import to_geodataframe

        return to_geodataframe(frame)
    return frame


def _plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Attributes as plain values: cells as hex strings, categoricals as strings, no geometry."""
    out = pd.DataFrame(frame.drop(columns=frame.active_geometry_name) if _has_geometry(frame) else frame)
    out = out.copy()
    for col in out.columns:
        series = out[col]
        if col == "h3_cell" and series.dtype.kind in "ui":
            out[col] = pd.Series(h3cells.cells_to_str(series.to_numpy()), index=out.index, dtype="str")
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[col] = series.astype("str")
        elif isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
            out[col] = series.map(lambda t: None if pd.isna(t) else t.isoformat()).astype("str")
    return out


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


# --------------------------------------------------------------------------- GeoJSON


def to_geojson(frame: gpd.GeoDataFrame, *, precision: int = 7) -> str:
    """A FeatureCollection text following RFC 7946.

    Longitude/latitude (WGS84) with `precision` decimals (7: about 1 cm), polygons with
    counter-clockwise exterior rings, no `crs` member; every other column is a property (cells
    as hex strings, NaN as null). Features of a frame with `h3_cell` carry the cell as their id.
    Incidents (`x`, `y` in EPSG:27700) are written as points.
    """
    _check_frame(frame)
    frame = _with_points(frame)
    if not _has_geometry(frame):
        msg = "`frame` has no geometry to write as GeoJSON; use CSV for tables."
        raise InputError(msg)
    geoms = frame.geometry.to_crs(WGS84).to_numpy() if not frame.crs.equals(WGS84) else frame.geometry.to_numpy()
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, precision))
    geometry_text = shapely.to_geojson(geoms)
    props = _plain_columns(frame)
    columns = [str(c) for c in props.columns]
    values = [props[c].to_numpy(dtype=object) for c in props.columns]
    ids = props["h3_cell"].to_numpy(dtype=object) if "h3_cell" in props.columns else None
    parts = []
    for i, geom in enumerate(geometry_text):
        properties = {c: _json_value(v[i]) for c, v in zip(columns, values, strict=True)}
        feature = '{"type":"Feature",'
        if ids is not None and isinstance(ids[i], str):
            feature += f'"id":{json.dumps(ids[i])},'
        feature += f'"geometry":{geom if geom is not None else "null"},'
        feature += f'"properties":{json.dumps(properties, allow_nan=False, ensure_ascii=False)}}}'
        parts.append(feature)
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


# --------------------------------------------------------------------------- CSV


def escape_formulas(values: pd.Series) -> pd.Series:
    """Text values starting with = + - @, also after leading whitespace (spaces, tabs, line
    breaks), or starting with a tab or carriage return, prefixed with an apostrophe, so
    spreadsheets show them instead of running them; missing values stay missing."""
    text = values.astype("str")
    risky = text.str.lstrip().str.startswith(_FORMULA_START, na=False)
    risky |= text.str.startswith(_CONTROL_START, na=False)
    return text.where(~risky, "'" + text)


def to_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """A CSV of the attributes, with `longitude` and `latitude` of each geometry's centroid.

    The centroid is taken in the frame's own CRS (metres for EPSG:27700), then reprojected.
    Incidents keep their `x`, `y` (EPSG:27700) beside the longitude and latitude. Text columns
    are escaped against formula injection (`escape_formulas`); numbers are written as numbers.
    Returns the text when `path` is None, else writes it there.
    """
    _check_frame(frame)
    if not _has_geometry(frame) and {"x", "y"} <= set(frame.columns):
        from hotspots.schema import to_geodataframe

        frame = to_geodataframe(frame, keep_xy=True)
    out = _plain_columns(frame)
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object:
            out[col] = escape_formulas(out[col])
    if _has_geometry(frame):
        centroids = gpd.GeoSeries(shapely.centroid(frame.geometry.to_numpy()), crs=frame.crs)
        if not frame.crs.equals(WGS84):
            centroids = centroids.to_crs(WGS84)
        out["longitude"] = np.round(centroids.x.to_numpy(), 7)
        out["latitude"] = np.round(centroids.y.to_numpy(), 7)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    text = buffer.getvalue()
    if path is None:
        return text
    Path(path).write_text(text, encoding="utf-8")
    return None


# --------------------------------------------------------------------------- GeoPackage


def to_gpkg(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str = "hotspots") -> None:
    """Write a GeoPackage layer (replacing a layer of that name) in the frame's CRS (incidents:
    points in EPSG:27700)."""
    _check_frame(frame)
    frame = _with_points(frame)
    if not _has_geometry(frame):
        msg = "`frame` has no geometry to write as a GeoPackage; use CSV for tables."
        raise InputError(msg)
    out = gpd.GeoDataFrame(_plain_columns(frame), geometry=frame.geometry.to_numpy(), crs=frame.crs)
    out.to_file(Path(path), layer=layer, driver="GPKG", engine="pyogrio")


# --------------------------------------------------------------------------- one entry point


def export(frame: pd.DataFrame, fmt: str, path: str | Path | None = None, *, layer: str = "hotspots") -> str | None:
    """Write `frame` as `fmt` (geojson, csv, gpkg) to `path`, or return the text when `path` is
    None (GeoPackage needs a path)."""
    if fmt not in FORMATS:
        msg = f"`format` is {fmt!r}; allowed values: {', '.join(FORMATS)}."
        raise InputError(msg)
    if fmt == "gpkg":
        if path is None:
            msg = "a GeoPackage is a binary file: give an output path (--out hotspots.gpkg)."
            raise InputError(msg)
        to_gpkg(frame, path, layer=layer)
        return None
    if fmt == "csv":
        return to_csv(frame, path)
    text = to_geojson(frame)
    if path is None:
        return text
    Path(path).write_text(text, encoding="utf-8")
    return None
