"""Analysis results for other tools: GeoJSON (RFC 7946), spreadsheet-safe CSV and GeoPackage.

Serialised outputs write H3 cells as their canonical hex strings (`8a194254508ffff`), never the
uint64 the analysis uses. Every export can carry its context (`export_context`): what it is of
(period, category, wards, weighting), the settings that shaped it, when it was made, the data
sources with their coverage, and whether the data is synthetic. GeoJSON holds it as a top-level
`context` member and a few properties per feature; CSV and GeoPackage as columns and, written to
a file, a sidecar `<name>.context.json`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots import cells as h3cells
from hotspots.crs import WGS84
from hotspots.errors import InputError

if TYPE_CHECKING:
    from hotspots.coverage import Coverage
    from hotspots.settings import Settings

FORMATS: tuple[str, ...] = ("geojson", "csv", "gpkg")

#: The settings that shape each kind of export, written into its context.
CONTEXT_SETTINGS: dict[str, tuple[str, ...]] = {
    "hotspots": ("h3_resolution", "fdr_alpha", "hot_min_count", "trend_weeks", "trend_months",
                 "asb_harm_days", "unknown_harm_days", "ward_snap_m"),
    "wards": ("ward_snap_m", "asb_harm_days", "unknown_harm_days"),
    "evaluation": ("h3_resolution", "fdr_alpha", "hot_min_count", "asb_harm_days"),
    "plan": ("dwell_min", "patrol_prize", "patrol_stops_per_ward", "patrol_speed_factor",
             "drive_speed_kmh", "walk_speed_kmh", "circuity_factor", "h3_resolution"),
}
#: Context members repeated on every feature (GeoJSON) or row (CSV, GeoPackage), so that they
#: survive tools that keep only the features or the table.
CONTEXT_COLUMNS: tuple[str, ...] = ("period", "category", "weight", "synthetic")
HARM_SOURCE = "Cambridge Crime Harm Index, rolled up to police.uk categories"

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


# --------------------------------------------------------------------------- context


def export_context(
    kind: str,
    *,
    settings: Settings,
    coverage: Coverage | None = None,
    attrs: Mapping[str, Any] | None = None,
    period: str | None = None,
    category: str | None = None,
    wards: Any = None,
    weight: str | None = None,
    extra: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The context an export carries: what it is of, how and when it was made, from which data.

    The one function every export (the CLI's and the web app's) builds its context with.

    Parameters
    ----------
    kind
        `hotspots`, `wards`, `evaluation` or `plan`: picks the settings recorded
        (`CONTEXT_SETTINGS`).
    settings
        The settings the result was made with.
    coverage
        What the store (or the incidents) cover (`hotspots.coverage.Coverage`): each source's
        months, gaps and possibly partial months; a `demo` source makes the export synthetic.
    attrs
        A result's `attrs` (`rank_hotspots`, `rank_wards`, an evaluation): period, previous
        period, category, wards, weight, resolution and notes are read from it.
    period, category, wards, weight
        Given values win over `attrs`.
    extra
        Further members (e.g. a plan's teams, shift and network), added last.
    now
        The generation time (UTC); now when None.

    Returns
    -------
    dict
        JSON-ready: `kind`, `generated_at` (ISO 8601, UTC), `generator`, `period`, `category`,
        `wards`, `weight`, `settings`, `sources` (per source: `months`, `gaps`, `partial`),
        `coverage` (one line), `synthetic`, `notes`, and whatever `attrs` and `extra` add.
    """
    from importlib.metadata import PackageNotFoundError, version

    a = dict(attrs or {})
    try:
        generator = f"leeds-hotspots {version('leeds-hotspots')}"
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        generator = "leeds-hotspots"
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    weight = weight or a.get("weight")
    chosen = wards if wards is not None else a.get("wards")
    if isinstance(chosen, str):
        chosen = [w.strip() for w in chosen.split(",") if w.strip()]
    used = {name: _json_value(getattr(settings, name)) for name in CONTEXT_SETTINGS.get(kind, ())}
    if a.get("resolution") is not None:
        used["h3_resolution"] = int(a["resolution"])
    label = str(period or a.get("period") or "")
    if label:  # only the trend length of the period's kind
        used.pop("trend_months" if label[4:6] == "-W" else "trend_weeks", None)
    out: dict[str, Any] = {
        "kind": kind,
        "generated_at": when.isoformat().replace("+00:00", "Z"),
        "generator": generator,
        "period": period or a.get("period"),
        "previous_period": a.get("previous_period"),
        "category": category or a.get("category"),
        "category_label": a.get("category_label"),
        "wards": [str(w) for w in (chosen or [])],
        "weight": weight,
        "harm_weights": HARM_SOURCE if weight == "harm" else None,
        "settings": used,
    }
    sources = coverage.sources() if coverage is not None else []
    out["sources"] = [{"source": src, "months": coverage.covered_months(src),
                       "gaps": coverage.gaps(src), "partial": coverage.partial(src)}
                      for src in sources]
    out["coverage"] = coverage.describe() if coverage is not None else None
    out["synthetic"] = "demo" in sources
    out["notes"] = [str(n) for n in a.get("notes", [])]
    out.update(dict(extra or {}))
    return {k: v for k, v in out.items() if v is not None}


def context_path(path: str | Path) -> Path:
    """The sidecar of an export file: `hotspots.csv` -> `hotspots.context.json`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.context.json")


def demo_path(path: str | Path, context: Mapping[str, Any] | None) -> Path:
    """`path`, with `-demo` before its suffix when the context is synthetic and the name does
    not say so already (so a file of demo data can never pass for real data)."""
    path = Path(path)
    if not context or not context.get("synthetic") or "demo" in path.name.lower():
        return path
    return path.with_name(f"{path.stem}-demo{path.suffix}")


def write_context(context: Mapping[str, Any], path: str | Path) -> Path:
    """Write the sidecar of the export at `path`; returns the sidecar's path."""
    target = context_path(path)
    target.write_text(json.dumps(context, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _context_columns(context: Mapping[str, Any] | None, have: Any) -> dict[str, Any]:
    """The context members repeated per row or feature that the frame does not hold already."""
    if not context:
        return {}
    return {c: context[c] for c in CONTEXT_COLUMNS if c in context and c not in set(have)}


# --------------------------------------------------------------------------- GeoJSON


def to_geojson(frame: gpd.GeoDataFrame, *, precision: int = 7,
               context: Mapping[str, Any] | None = None) -> str:
    """A FeatureCollection text following RFC 7946.

    Longitude/latitude (WGS84) with `precision` decimals (7: about 1 cm), polygons with
    counter-clockwise exterior rings, no `crs` member; every other column is a property (cells
    as hex strings, NaN as null). Features of a frame with `h3_cell` carry the cell as their id.
    Incidents (`x`, `y` in EPSG:27700) are written as points. A `context` (`export_context`) is
    written as the foreign member `context` (RFC 7946 section 6.1), its `synthetic` flag also
    at the top, and its `CONTEXT_COLUMNS` in every feature's properties.
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
    constant = _context_columns(context, columns)
    parts = []
    for i, geom in enumerate(geometry_text):
        properties = {c: _json_value(v[i]) for c, v in zip(columns, values, strict=True)}
        properties.update(constant)
        feature = '{"type":"Feature",'
        if ids is not None and isinstance(ids[i], str):
            feature += f'"id":{json.dumps(ids[i])},'
        feature += f'"geometry":{geom if geom is not None else "null"},'
        feature += f'"properties":{json.dumps(properties, allow_nan=False, ensure_ascii=False)}}}'
        parts.append(feature)
    head = '{"type":"FeatureCollection",'
    if context:
        head += f'"synthetic":{json.dumps(bool(context.get("synthetic")))},'
        head += f'"context":{json.dumps(dict(context), ensure_ascii=False, default=str)},'
    return head + '"features":[' + ",".join(parts) + "]}"


# --------------------------------------------------------------------------- CSV


def escape_formulas(values: pd.Series) -> pd.Series:
    """Text values starting with = + - @, also after leading whitespace (spaces, tabs, line
    breaks), or starting with a tab or carriage return, prefixed with an apostrophe, so
    spreadsheets show them instead of running them; missing values stay missing."""
    text = values.astype("str")
    risky = text.str.lstrip().str.startswith(_FORMULA_START, na=False)
    risky |= text.str.startswith(_CONTROL_START, na=False)
    return text.where(~risky, "'" + text)


def to_csv(frame: pd.DataFrame, path: str | Path | None = None, *,
           context: Mapping[str, Any] | None = None) -> str | None:
    """A CSV of the attributes, with `longitude` and `latitude` of each geometry's centroid.

    The centroid is taken in the frame's own CRS (metres for EPSG:27700), then reprojected.
    Incidents keep their `x`, `y` (EPSG:27700) beside the longitude and latitude. Text columns
    are escaped against formula injection (`escape_formulas`); numbers are written as numbers.
    A `context` adds its `CONTEXT_COLUMNS` and `generated_at` as columns and, with a `path`,
    is written whole beside it (`context_path`). Returns the text when `path` is None, else
    writes it there.
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
    for col, value in _context_columns(context, out.columns).items():
        out[col] = value
    if context and "generated_at" in context and "generated_at" not in out.columns:
        out["generated_at"] = context["generated_at"]
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    text = buffer.getvalue()
    if path is None:
        return text
    Path(path).write_text(text, encoding="utf-8")
    if context:
        write_context(context, path)
    return None


# --------------------------------------------------------------------------- GeoPackage


def to_gpkg(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str = "hotspots",
            context: Mapping[str, Any] | None = None) -> None:
    """Write a GeoPackage layer (replacing a layer of that name) in the frame's CRS (incidents:
    points in EPSG:27700); a `context` as columns and its sidecar (as `to_csv`)."""
    _check_frame(frame)
    frame = _with_points(frame)
    if not _has_geometry(frame):
        msg = "`frame` has no geometry to write as a GeoPackage; use CSV for tables."
        raise InputError(msg)
    out = gpd.GeoDataFrame(_plain_columns(frame), geometry=frame.geometry.to_numpy(), crs=frame.crs)
    for col, value in _context_columns(context, out.columns).items():
        out[col] = value
    out.to_file(Path(path), layer=layer, driver="GPKG", engine="pyogrio")
    if context:
        write_context(context, path)


# --------------------------------------------------------------------------- one entry point


def export(frame: pd.DataFrame, fmt: str, path: str | Path | None = None, *, layer: str = "hotspots",
           context: Mapping[str, Any] | None = None) -> str | None:
    """Write `frame` as `fmt` (geojson, csv, gpkg) to `path`, or return the text when `path` is
    None (GeoPackage needs a path); with its `context` (`export_context`) when given."""
    if fmt not in FORMATS:
        msg = f"`format` is {fmt!r}; allowed values: {', '.join(FORMATS)}."
        raise InputError(msg)
    if fmt == "gpkg":
        if path is None:
            msg = "a GeoPackage is a binary file: give an output path (--out hotspots.gpkg)."
            raise InputError(msg)
        to_gpkg(frame, path, layer=layer, context=context)
        return None
    if fmt == "csv":
        return to_csv(frame, path, context=context)
    text = to_geojson(frame, context=context)
    if path is None:
        return text
    Path(path).write_text(text, encoding="utf-8")
    return None
