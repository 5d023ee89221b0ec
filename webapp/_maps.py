"""Folium maps of hotspots and patrol plans, built to need only Leaflet served by the app.

Folium's default JavaScript and CSS (Leaflet, jQuery, Bootstrap, Font Awesome from CDNs) are
replaced by the app's own Leaflet and one small stylesheet. There is no tile layer unless a tile
URL is configured, so the maps draw with no internet: ward outlines and hexagons on a plain ground.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from hotspots.crs import WGS84
from webapp.presentation import CLASS_COLOURS, CLASS_LABELS, HOT_CLASSES, cell_hex

#: Route colours, one per team (ColorBrewer Dark2 plus two; readable on white).
TEAM_COLOURS: tuple[str, ...] = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                                 "#a6761d", "#666666", "#1f78b4", "#b2182b", "#4d9221", "#542788")


class _SpreadStops(MacroElement):
    """Calls `hsSpreadStops` (static/maps.js) on the map once it exists."""

    _template = Template("{% macro script(this, kwargs) %}"
                         "hsSpreadStops({{ this._parent.get_name() }});"
                         "{% endmacro %}")


class _Streets(MacroElement):
    """Calls `hsStreets` (static/maps.js): the street network, fetched from the app, drawn
    faintly under everything else."""

    _template = Template("{% macro script(this, kwargs) %}"
                         "hsStreets({{ this._parent.get_name() }}, {{ this.url|tojson }});"
                         "{% endmacro %}")

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class _FitOnPrint(MacroElement):
    """Calls `hsFitOnPrint` (static/maps.js): a printed map shows all it was fitted to."""

    _template = Template("{% macro script(this, kwargs) %}"
                         "hsFitOnPrint({{ this._parent.get_name() }}, {{ this.bounds|tojson }});"
                         "{% endmacro %}")

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self.bounds = bounds


def _new_map(bounds: tuple[float, float, float, float] | None, *, assets: dict[str, str],
             tiles: tuple[str, str]) -> folium.Map:
    fmap = folium.Map(location=[53.8, -1.55], zoom_start=12, tiles=None, control_scale=True,
                      prefer_canvas=False, zoom_snap=0.25)
    # Only what these maps use, from the app itself.
    fmap.default_js = [("leaflet", assets["leaflet_js"])]
    if assets.get("map_js"):
        fmap.default_js.append(("maps", assets["map_js"]))
    fmap.default_css = [("leaflet_css", assets["leaflet_css"]), ("map_css", assets["map_css"])]
    url, attribution = tiles
    if url:
        folium.TileLayer(tiles=url, attr=attribution or " ", name="Background").add_to(fmap)
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        fmap.fit_bounds([[miny, minx], [maxy, maxx]], padding=(18, 18))
        if assets.get("map_js"):
            _FitOnPrint([[float(miny), float(minx)], [float(maxy), float(maxx)]]).add_to(fmap)
    return fmap


def _document(fmap: folium.Map, title: str) -> str:
    """The map as a whole HTML document with a title and a language (read by screen readers)."""
    root = fmap.get_root()
    root.title = html.escape(title)
    return root.render().replace("<html>", '<html lang="en">', 1)


def _rounded(geoms: np.ndarray) -> np.ndarray:
    # 1e-6 degrees is about 10 cm: plenty for 150 m hexagons, and it halves the page.
    return shapely.set_precision(geoms, 1e-6)


def _features(frame: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = _rounded(frame.geometry.to_numpy())
    feats = [{"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
             for p, g in zip(props, geoms, strict=True)]
    return {"type": "FeatureCollection", "features": feats}


def _cell_layer(fmap: folium.Map, cells: gpd.GeoDataFrame, props: list[dict[str, Any]], *,
                name: str, opacity: float, tooltip: list[str]) -> None:
    """Add the cells as one GeoJSON layer filled with each feature's `colour`, outlined thinly
    (a feature whose `hot` property is true: boldly, so that a hotspot stands out at any zoom),
    with a tooltip of the `tooltip` properties."""
    folium.GeoJson(
        _features(cells, props), name=name,
        style_function=lambda f: ({"fillColor": f["properties"]["colour"], "fillOpacity": 0.9,
                                   "color": "#1a1a1a", "weight": 2}
                                  if f["properties"].get("hot") else
                                  {"fillColor": f["properties"]["colour"], "fillOpacity": opacity,
                                   "color": "#333333", "weight": 0.6}),
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(tooltip, labels=False, class_name="hs-tooltip"),
    ).add_to(fmap)


def _ward_names(wards: gpd.GeoDataFrame, fmap: folium.Map) -> None:
    """Each ward's name written on the map inside it (the map reads without a background)."""
    wards = wards.to_crs(WGS84)
    for name, geom in zip(wards["ward_name"], wards.geometry, strict=True):
        point = geom.representative_point()
        folium.Marker(
            (point.y, point.x), interactive=False, keyboard=False,
            icon=folium.DivIcon(html=f'<span class="ward-label">{html.escape(str(name))}</span>',
                                class_name="ward-label-icon", icon_size=(110, 32),
                                icon_anchor=(55, 16)),
        ).add_to(fmap)


def _ward_layer(wards: gpd.GeoDataFrame) -> folium.GeoJson:
    wards = wards.to_crs(WGS84)
    props = [{"ward": str(n), "code": str(c)} for n, c in zip(wards["ward_name"], wards["ward_code"],
                                                             strict=True)]
    return folium.GeoJson(
        _features(wards, props), name="Wards",
        style_function=lambda _f: {"color": "#1a1a1a", "weight": 2, "fill": False,
                                   "dashArray": "6 4"},
        tooltip=folium.GeoJsonTooltip(["ward"], labels=False),
        interactive=False,
    )


def hotspot_map(cells: gpd.GeoDataFrame, wards: gpd.GeoDataFrame, *, assets: dict[str, str],
                tiles: tuple[str, str] = ("", ""), streets: str | None = None) -> str:
    """The hotspot map as a whole HTML document.

    Parameters
    ----------
    cells
        The cells to draw: `webapp.presentation.shown_cells` of a ranking (EPSG:27700 hexagons).
    wards
        The chosen wards (any CRS), drawn as outlines.
    assets
        URLs of `leaflet_js`, `leaflet_css` and `map_css` (see `webapp.assets.map_assets`).
    tiles
        (URL template, attribution) of a background layer; ('', '') for none.
    streets
        URL of the loaded street network's GeoJSON (`/map/streets.geojson`), drawn faintly
        under the cells; None for none.
    """
    cells = cells.to_crs(WGS84)
    # Hotspots last, so that their bold outlines are drawn over their neighbours'.
    hot = cells["map_class"].isin(HOT_CLASSES).to_numpy()
    cells = cells.iloc[np.argsort(hot, kind="stable")]
    bounds = tuple(wards.to_crs(WGS84).total_bounds) if len(wards) else None
    fmap = _new_map(bounds, assets=assets, tiles=tiles)
    if streets and assets.get("map_js"):
        _Streets(streets).add_to(fmap)
    _ward_layer(wards).add_to(fmap)
    props = []
    for row in cells.itertuples(index=False):
        props.append({
            "cell": cell_hex(row.h3_cell),
            "title": _title(row),
            "class": CLASS_LABELS.get(row.map_class, ""),
            "reason": str(row.reason),
            "colour": CLASS_COLOURS.get(row.map_class, "#d9d9d9"),
            "hot": row.map_class in HOT_CLASSES,
        })
    if props:
        _cell_layer(fmap, cells, props, name="Hotspot cells", opacity=0.75,
                    tooltip=["title", "class", "reason"])
    _ward_names(wards, fmap)
    return _document(fmap, "Hotspot map")


def _title(row: Any) -> str:
    """`#3 Roundhay Road, Gipton & Harehills`: the rank, the cell's place and its ward."""
    parts = [str(v) for v in (getattr(row, "place", ""), row.ward_name) if isinstance(v, str) and v]
    return f"#{int(row.rank)} {', '.join(parts)}".strip()


def _team_legend(shown: list[str], colour: dict[str, str], stops: dict[str, int],
                 teams: list[str], *, dashed: bool, some_dashed: bool) -> str:
    """The plan map's legend: per team its colour (line and numbered stop) and its stops."""
    items = []
    for name in shown:
        index = teams.index(name) % len(TEAM_COLOURS)
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        items.append(
            f'<li><svg width="30" height="14" aria-hidden="true"><line x1="0" y1="7" x2="16" y2="7" '
            f'stroke="{colour[name]}" stroke-width="4"{dash}/></svg>'
            f'<span class="legend-dot team-{index}" aria-hidden="true"></span> '
            f'{html.escape(name)} <span class="muted">({int(stops.get(name, 0))} stops)</span></li>')
    note = ('<p class="muted">Dashed: straight lines, not streets (approximate).</p>'
            if some_dashed else "")
    return ('<section class="map-legend" aria-label="Legend"><h2>Teams</h2><ul>' + "".join(items)
            + "</ul>" + note + "</section>")


def plan_map(plan_geojson: dict[str, Any], wards: gpd.GeoDataFrame, *, assets: dict[str, str],
             tiles: tuple[str, str] = ("", ""), team: str | None = None,
             done: set[int] | frozenset[int] = frozenset(), next_seq: int | None = None) -> str:
    """A patrol plan as a whole HTML document: a colour per team, numbered stops, the paths.

    `plan_geojson` is `PatrolPlan.to_geojson()` parsed: route LineStrings and stop Points.
    With `team`, only that team's route is drawn (in its plan colour), its `done` stops in grey
    and its next stop ringed.
    """
    feats = plan_geojson.get("features", [])
    teams = list(dict.fromkeys(f["properties"].get("team", "") for f in feats))
    if team is not None:
        feats = [f for f in feats if f["properties"].get("team", "") == team]
    colour = {t: TEAM_COLOURS[i % len(TEAM_COLOURS)] for i, t in enumerate(teams)}
    lines = [f for f in feats if f["geometry"]["type"] == "LineString" and f["geometry"]["coordinates"]]
    # Plans with legs draw each leg, dashed where it is a straight line; older plans their routes.
    legs = [f for f in lines if f["properties"].get("kind") == "leg"]
    if legs:
        lines = legs
    points = [f for f in feats if f["geometry"]["type"] == "Point"]
    coords = [c for f in lines for c in f["geometry"]["coordinates"]] + [
        f["geometry"]["coordinates"] for f in points]
    if coords:
        arr = np.asarray(coords, dtype=float)
        bounds = (arr[:, 0].min(), arr[:, 1].min(), arr[:, 0].max(), arr[:, 1].max())
    else:
        bounds = tuple(wards.to_crs(WGS84).total_bounds) if len(wards) else None
    fmap = _new_map(bounds, assets=assets, tiles=tiles)
    if len(wards):
        _ward_layer(wards).add_to(fmap)
        _ward_names(wards, fmap)
    plan_approximate = bool(plan_geojson.get("approximate"))
    for f in lines:
        props = f["properties"]
        name = props.get("team", "")
        approximate = plan_approximate or bool(props.get("approximate"))
        what = (f"{name}: {props.get('stops', 0)} stops" if props.get("kind") != "leg" else
                f"{name}: back to base" if props.get("seq") == "return" else
                f"{name}: to stop {props.get('seq')}")
        folium.PolyLine(
            [(lat, lon) for lon, lat in f["geometry"]["coordinates"]],
            color=colour[name], weight=4, opacity=0.85,
            dash_array="8 6" if approximate else None,
            tooltip=what + (" (approximate: a straight line, not streets)" if approximate else ""),
        ).add_to(fmap)
    for f in points:
        p = f["properties"]
        name = p.get("team", "")
        lon, lat = f["geometry"]["coordinates"]
        index = teams.index(name) % len(TEAM_COLOURS)
        label = html.escape(str(p.get("seq", "")))
        state = ""
        if p.get("seq") in done:
            state = " done"
        elif next_seq is not None and p.get("seq") == next_seq:
            state = " next"
        folium.CircleMarker((lat, lon), radius=3, weight=1, color="#1a1a1a", fill=True,
                            fill_color=colour[name], fill_opacity=1, interactive=False).add_to(fmap)
        folium.Marker(
            (lat, lon),
            icon=folium.DivIcon(html=f'<span class="stop-num team-{index}{state}">{label}</span>',
                                class_name="stop-icon", icon_size=(26, 26), icon_anchor=(13, 13)),
            tooltip=html.escape(f"{name} stop {p.get('seq')}: arrive {p.get('arrival')}, leave "
                                f"{p.get('departure')}. {p.get('reason', '')}"),
        ).add_to(fmap)
    shown = [t for t in teams if any(f["properties"].get("team", "") == t for f in lines + points)]
    if shown:
        stops = Counter(f["properties"].get("team", "") for f in points)
        some = plan_approximate or any(f["properties"].get("approximate") for f in lines)
        fmap.get_root().html.add_child(Element(_team_legend(
            shown, colour, stops, teams, dashed=plan_approximate, some_dashed=some)))
    _SpreadStops().add_to(fmap)
    return _document(fmap, f"Patrol route of {team}" if team else "Patrol routes")


def change_map(cells: gpd.GeoDataFrame, wards: gpd.GeoDataFrame, *, assets: dict[str, str],
               tiles: tuple[str, str] = ("", ""), now: str = "", before: str = "") -> str:
    """Two periods' change per cell as a whole HTML document (`webapp._compare.compare_cells`),
    coloured by `webapp._compare.CHANGE_CLASSES`, with the ward outlines and names."""
    from webapp._compare import CHANGE_COLOURS, CHANGE_LABELS

    cells = cells.to_crs(WGS84)
    bounds = tuple(wards.to_crs(WGS84).total_bounds) if len(wards) else None
    fmap = _new_map(bounds, assets=assets, tiles=tiles)
    _ward_layer(wards).add_to(fmap)
    props = []
    for row in cells.itertuples(index=False):
        place = getattr(row, "place", "") or ""
        where = ", ".join(str(v) for v in (place, row.ward_name) if isinstance(v, str) and v)
        props.append({
            "title": where or cell_hex(row.h3_cell),
            "counts": f"{before}: {int(row.count_before)}, {now}: {int(row.count_now)} "
                      f"({int(row.change):+d})",
            "class": CHANGE_LABELS[row.change_class],
            "colour": CHANGE_COLOURS[row.change_class],
        })
    if props:
        _cell_layer(fmap, cells, props, name="Change per cell", opacity=0.85,
                    tooltip=["title", "counts", "class"])
    _ward_names(wards, fmap)
    return _document(fmap, f"Change from {before} to {now}")
