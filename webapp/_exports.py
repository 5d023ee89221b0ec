"""Rankings as downloads and API bodies, through `hotspots.export`.

GeoJSON follows RFC 7946 (longitude/latitude, no `crs` member, `h3_cell` as the hexadecimal
string); CSV carries each cell's centre as `longitude`/`latitude`, formula-safe.
"""

from __future__ import annotations

import geopandas as gpd

from webapp.presentation import CLASS_LABELS

#: The ranking's columns, then the map class; in this order in every download.
COLUMNS = ["h3_cell", "rank", "ward_code", "ward_name", "place", "count", "harm",
           "institution_count", "institution", "top_point_share", "gi_z", "gi_p", "hot", "near_hot",
           "change", "change_pct", "change_significant", "trend", "map_class", "class_label",
           "reason"]


def _frame(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = cells.copy()
    out["class_label"] = out["map_class"].map(CLASS_LABELS).fillna("") if len(out) else ""
    return out[[c for c in COLUMNS if c in out.columns] + [out.geometry.name]]


def ranking_geojson(cells: gpd.GeoDataFrame, *, notes: list[str] | None = None) -> str:
    """A FeatureCollection of ranked cells (`webapp.presentation.shown_cells`); `notes` (what the
    data does not allow to claim, e.g. no baseline) go in a foreign member `notes` (RFC 7946 6.1)."""
    import json

    from hotspots.export import to_geojson

    text = to_geojson(_frame(cells))
    head = '{"type":"FeatureCollection",'
    return head + f'"notes":{json.dumps(list(notes or []), ensure_ascii=False)},' + text[len(head):]


def ranking_csv(cells: gpd.GeoDataFrame) -> str:
    """CSV of ranked cells with the centre's `longitude` and `latitude`."""
    from hotspots.export import to_csv

    return to_csv(_frame(cells))
