"""Map assets served by the app itself, from installed packages: the maps work with no internet.

Leaflet comes from the XStatic-Leaflet package (the Leaflet release folium is written for); nothing
is fetched from a CDN and nothing is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory, url_for

bp = Blueprint("assets", __name__, url_prefix="/assets")

ONE_YEAR_S = 365 * 24 * 3600


def leaflet_dir() -> tuple[Path, str]:
    """Folder and version of the installed Leaflet."""
    try:
        import xstatic.pkg.leaflet as leaflet
    except ImportError:  # pragma: no cover - a packaging error
        msg = "XStatic-Leaflet is not installed; install it with `pip install XStatic-Leaflet`."
        raise RuntimeError(msg) from None
    return Path(leaflet.BASE_DIR), str(leaflet.VERSION)


def map_assets() -> dict[str, str]:
    """URLs of the only JavaScript and CSS the Folium maps need."""
    _, version = leaflet_dir()
    return {
        "leaflet_js": url_for("assets.leaflet", version=version, filename="leaflet.js"),
        "leaflet_css": url_for("assets.leaflet", version=version, filename="leaflet.css"),
        "map_css": url_for("static", filename="map.css"),
        "map_js": url_for("static", filename="maps.js"),
    }


@bp.route("/leaflet/<version>/<path:filename>")
def leaflet(version: str, filename: str):
    folder, installed = leaflet_dir()
    if version != installed:
        abort(404)
    return send_from_directory(folder, filename, max_age=ONE_YEAR_S)
