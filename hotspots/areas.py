"""Designated areas: the H3 cells of a drawn or uploaded polygon, an area's outline, and the
street label it is known by (pure functions, for the hotspot register)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from hotspots import cells as h3cells
from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError

#: The most cells a designated area may hold (about 1.5 km2 at resolution 10): a hotspot is a
#: patrol box or a few streets, not a ward.
MAX_AREA_CELLS = 100

_ON_OR_NEAR = re.compile(r"^\s*on or near\s+", re.IGNORECASE)


def read_geometry(value: Any, *, name: str = "polygon") -> shapely.Geometry:
    """A Polygon or MultiPolygon in longitude/latitude from GeoJSON (a geometry, a Feature, or a
    FeatureCollection of polygons, as text or parsed).

    Raises
    ------
    InputError
        Not JSON, not a polygon, coordinates that are not longitude/latitude, or an invalid ring.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            msg = f"`{name}` is not GeoJSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            raise InputError(msg) from None
    if not isinstance(value, dict):
        msg = f"`{name}` must be a GeoJSON object (a Polygon, a Feature or a FeatureCollection)."
        raise InputError(msg)
    kind = value.get("type")
    if kind == "FeatureCollection":
        feats = value.get("features") or []
        if not feats:
            msg = f"`{name}` is a FeatureCollection with no features; draw or upload one polygon."
            raise InputError(msg)
        geoms = [read_geometry(f, name=f"{name} feature {i + 1}") for i, f in enumerate(feats)]
        return shapely.union_all(geoms)
    if kind == "Feature":
        value = value.get("geometry") or {}
        kind = value.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        msg = f"`{name}` is a {kind or 'GeoJSON object without a type'}; expected a Polygon or MultiPolygon."
        raise InputError(msg)
    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        msg = f"`{name}`: the coordinates cannot be read as a {kind} ({exc})."
        raise InputError(msg) from None
    if geom.is_empty:
        msg = f"`{name}` is an empty {kind}."
        raise InputError(msg)
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        msg = (f"`{name}` has coordinates outside longitude/latitude ranges ({xmin:g}, {ymin:g}); "
               "GeoJSON is longitude, latitude in degrees (EPSG:4326).")
        raise InputError(msg)
    if abs(xmin) > 10 and abs(ymin) < 10:
        msg = f"`{name}` looks like latitude, longitude; GeoJSON puts the longitude first."
        raise InputError(msg)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        msg = f"`{name}` is not a valid polygon: {reason}."
        raise InputError(msg)
    return geom


def polygon_to_cells(geometry: shapely.Geometry, *, resolution: int = 10, crs: Any = WGS84) -> np.ndarray:
    """The cells whose centre lies in the polygon; when none does (a polygon smaller than a cell),
    the cell holding the polygon's representative point.

    Returns
    -------
    numpy.ndarray
        Sorted distinct uint64 cells.
    """
    import geopandas as gpd

    resolution = h3cells.check_resolution(resolution)
    projected = gpd.GeoSeries([geometry], crs=crs).to_crs(BNG).iloc[0]
    candidates = h3cells.polygons_to_cells([projected], crs=BNG, resolution=resolution)
    lat, lng = h3cells.cells_to_latlng(candidates)
    wgs = gpd.GeoSeries([geometry], crs=crs).to_crs(WGS84).iloc[0]
    inside = shapely.contains_xy(wgs, lng, lat) if len(candidates) else np.zeros(0, dtype=bool)
    chosen = candidates[inside]
    if not len(chosen):
        point = wgs.representative_point()
        chosen = h3cells.latlng_to_cells([point.y], [point.x], resolution=resolution)
    return np.unique(chosen)


def check_area_cells(cells: Iterable[Any], *, name: str = "cells") -> list[str]:
    """Hex strings of an area's cells: distinct, one resolution, at most `MAX_AREA_CELLS`.

    Raises
    ------
    InputError
        Naming the first bad cell, or the mix of resolutions, or the size.
    """
    items = [c.strip() for c in cells] if not isinstance(cells, str) else [
        c.strip() for c in re.split(r"[\s,;]+", cells)]
    items = [c for c in items if c]
    if not items:
        msg = f"`{name}`: a designated area needs at least one H3 cell."
        raise InputError(msg)
    try:
        arr = np.unique(h3cells.str_to_cells(items))
    except InputError as exc:
        msg = f"`{name}`: {exc}"
        raise InputError(msg) from None
    res = np.unique(h3cells.get_resolutions(arr))
    if len(res) > 1:
        msg = (f"`{name}` mixes H3 resolutions ({', '.join(str(int(r)) for r in res)}); an area's "
               "cells must share one.")
        raise InputError(msg)
    if len(arr) > MAX_AREA_CELLS:
        msg = (f"`{name}` holds {len(arr)} cells; a designated hotspot may hold at most "
               f"{MAX_AREA_CELLS} (split a larger area into several hotspots).")
        raise InputError(msg)
    return [str(c) for c in h3cells.cells_to_str(arr)]


def area_outline(cells: Iterable[Any], *, crs: Any = WGS84) -> shapely.Geometry:
    """The union of the cells' hexagons (in `crs`, longitude/latitude by default)."""
    arr = np.asarray(list(cells), dtype=object)
    polys = h3cells.cells_to_polygons(arr, crs=crs)
    return shapely.union_all(polys)


def area_geojson(cells: Iterable[Any]) -> dict[str, Any]:
    """The outline of the cells as a GeoJSON geometry (longitude/latitude)."""
    return mapping(area_outline(cells))


def street_label(location: str) -> str:
    """`On or near Roundhay Road` -> `Roundhay Road`; other labels unchanged (trimmed)."""
    return _ON_OR_NEAR.sub("", str(location or "")).strip()


def area_label(incidents: Any, cells: Iterable[Any]) -> str:
    """The street label most incidents in the cells carry (police.uk `location`, "On or near"
    dropped), or "" when none has one.

    A place such as `Police Station` or `Supermarket` is skipped in favour of a street when the
    area has both: the street is where patrols go.
    """
    if incidents is None or "location" not in getattr(incidents, "columns", ()) or not len(incidents):
        return ""
    from hotspots.impact import incident_xy

    arr = np.unique(h3cells.str_to_cells([str(c) for c in cells]))
    if not len(arr):
        return ""
    res = int(h3cells.get_resolutions(arr[:1])[0])
    x, y = incident_xy(incidents)
    inside = np.isin(h3cells.xy_to_cells(x, y, crs=BNG, resolution=res), arr)
    labels = [street_label(v) for v in np.asarray(incidents["location"], dtype=object)[inside]]
    counts = Counter(v for v in labels if v)
    if not counts:
        return ""
    streets = [(n, v) for v, n in counts.items() if _looks_like_street(v)]
    pool = streets or [(n, v) for v, n in counts.items()]
    return max(pool, key=lambda t: (t[0], t[1]))[1]


_STREET_WORDS = re.compile(
    r"\b(road|street|lane|avenue|drive|way|place|terrace|close|crescent|grove|gardens|hill|row|"
    r"walk|court|square|mount|view|rise|parade|vale|green|gate|fold|approach|croft|bank)\b",
    re.IGNORECASE)


def _looks_like_street(label: str) -> bool:
    return bool(_STREET_WORDS.search(label))


def cell_labels(incidents: Any, cells: Iterable[Any]) -> dict[str, str]:
    """The commonest street label of each cell's incidents (as `area_label`), by hex cell id;
    cells without a labelled incident are left out."""
    out: dict[str, str] = {}
    wanted = [str(c) for c in cells]
    if incidents is None or "location" not in getattr(incidents, "columns", ()) or not wanted or not len(incidents):
        return out
    from hotspots.impact import incident_xy

    arr = h3cells.str_to_cells(wanted)
    res = int(h3cells.get_resolutions(arr[:1])[0])
    x, y = incident_xy(incidents)
    of = h3cells.xy_to_cells(x, y, crs=BNG, resolution=res)
    inside = np.isin(of, arr)
    labels = np.asarray(incidents["location"], dtype=object)[inside]
    by_cell: dict[int, Counter] = {}
    for cell, label in zip(of[inside].tolist(), labels, strict=True):
        text = street_label(label)
        if text:
            by_cell.setdefault(cell, Counter())[text] += 1
    for cell, hexid in zip(arr.tolist(), wanted, strict=True):
        counts = by_cell.get(cell)
        if counts:
            streets = [(n, v) for v, n in counts.items() if _looks_like_street(v)]
            pool = streets or [(n, v) for v, n in counts.items()]
            out[hexid] = max(pool, key=lambda t: (t[0], t[1]))[1]
    return out
