"""Serialise rankings for the API and downloads: GeoJSON (RFC 7946) and CSV.

GeoJSON: longitude/latitude (EPSG:4326), no `crs` member, `h3_cell` as the hexadecimal string.
CSV: one row per cell with its centre's longitude and latitude; text that a spreadsheet would run
as a formula (starting with = + - @) is escaped.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from webapp.services import CLASS_LABELS, cell_hex, records

WGS84 = "EPSG:4326"

PROPERTIES = ["h3_cell", "rank", "ward_code", "ward_name", "count", "harm", "gi_z", "gi_p", "hot",
              "change", "change_pct", "change_significant", "trend", "map_class", "reason"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


def ranking_geojson(cells: gpd.GeoDataFrame) -> str:
    """A FeatureCollection of ranked cells (see `webapp.services.shown_cells`)."""
    if len(cells) == 0:
        return json.dumps({"type": "FeatureCollection", "features": []})
    wgs = cells.to_crs(WGS84)
    geoms = shapely.set_precision(wgs.geometry.to_numpy(), 1e-7)
    rows = records(wgs, PROPERTIES)
    features = []
    for row, geom in zip(rows, geoms, strict=True):
        props = {k: _clean(row.get(k)) for k in PROPERTIES if k in row}
        props["h3_cell"] = cell_hex(props["h3_cell"])
        if "map_class" in props:
            props["class_label"] = CLASS_LABELS.get(props["map_class"], "")
        features.append({"type": "Feature", "id": props["h3_cell"],
                         "geometry": json.loads(shapely.to_geojson(geom)), "properties": props})
    bbox = [round(float(v), 7) for v in wgs.total_bounds]
    return json.dumps({"type": "FeatureCollection", "bbox": bbox, "features": features},
                      separators=(",", ":"))


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def ranking_csv(cells: gpd.GeoDataFrame) -> str:
    """CSV of ranked cells with the centre's `longitude` and `latitude`."""
    out = io.StringIO()
    columns = [c for c in PROPERTIES if c in cells.columns or c == "h3_cell"] + ["longitude", "latitude"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    if len(cells):
        centres = gpd.GeoSeries(cells.geometry.centroid, crs=cells.crs).to_crs(WGS84)
        lon, lat = np.round(centres.x.to_numpy(), 6), np.round(centres.y.to_numpy(), 6)
        for i, row in enumerate(records(cells, PROPERTIES)):
            row["h3_cell"] = cell_hex(row["h3_cell"])
            values = [_safe(_clean(row.get(c))) for c in columns[:-2]] + [lon[i], lat[i]]
            writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()
