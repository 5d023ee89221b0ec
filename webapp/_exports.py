"""Rankings as downloads and API bodies, through `hotspots.export`.

GeoJSON follows RFC 7946 (longitude/latitude, no `crs` member, `h3_cell` as the hexadecimal
string); CSV carries each cell's centre as `longitude`/`latitude`, formula-safe.
"""

from __future__ import annotations

import geopandas as gpd

from webapp.presentation import CLASS_LABELS

#: The ranking's columns, then the map class; in this order in every download.
COLUMNS = ["h3_cell", "rank", "ward_code", "ward_name", "count", "harm", "gi_z", "gi_p", "hot",
           "change", "change_pct", "change_significant", "trend", "map_class", "class_label",
           "reason"]


def _frame(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = cells.copy()
    out["class_label"] = out["map_class"].map(CLASS_LABELS).fillna("") if len(out) else ""
    return out[[c for c in COLUMNS if c in out.columns] + [out.geometry.name]]


def ranking_geojson(cells: gpd.GeoDataFrame) -> str:
    """A FeatureCollection of ranked cells (`webapp.presentation.shown_cells`)."""
    from hotspots.export import to_geojson

    return to_geojson(_frame(cells))


def ranking_csv(cells: gpd.GeoDataFrame) -> str:
    """CSV of ranked cells with the centre's `longitude` and `latitude`."""
    from hotspots.export import to_csv

    return to_csv(_frame(cells))
