"""What the register's drawing map needs (`static/draw.js`): the ward outlines to draw on, the
app's own Leaflet, the optional tile layer and, when changing a hotspot, its current area."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import current_app
from markupsafe import Markup

from webapp.assets import map_assets
from webapp.services import get_data


def _json(value: Any) -> Markup:
    # Safe inside <script type="application/json">: no "</" can end the block early.
    return Markup(json.dumps(value, separators=(",", ":")).replace("</", "<\\/"))


def draw_context(*, area_cells: Iterable[str] = ()) -> dict[str, Any]:
    """Template values for `_draw_map.html`: `draw_assets`, `draw_tiles`, `draw_wards` (GeoJSON
    of the priority wards, longitude/latitude, about 5 m detail) and `draw_area` (the outline of
    `area_cells`, or None)."""
    import shapely

    data = get_data()
    wards = data.wards_wgs84()
    wards = wards[wards["ward_code"].isin(data.resolve_wards("priority"))]
    feats = []
    for name, geom in zip(wards["ward_name"], shapely.set_precision(wards.geometry.to_numpy(), 1e-5),
                          strict=True):
        feats.append({"type": "Feature", "properties": {"ward": str(name)},
                      "geometry": json.loads(shapely.to_geojson(geom))})
    area = None
    cells = [str(c) for c in area_cells]
    if cells:
        from hotspots.areas import area_geojson

        area = area_geojson(cells)
    return {
        "draw_assets": map_assets(),
        "draw_tiles": (current_app.config.get("MAP_TILES_URL", ""),
                       current_app.config.get("MAP_TILES_ATTRIBUTION", "")),
        "draw_wards": _json({"type": "FeatureCollection", "features": feats}),
        "draw_area": _json(area) if area else None,
    }
