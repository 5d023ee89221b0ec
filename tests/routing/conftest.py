"""Fixtures for routing tests: the hand-made grid network, the real city-centre extract, and
ranking-like frames built by hand (the shape `hotspots.ranking.rank_hotspots` returns)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from hotspots.settings import get_settings
from routing import load_network

FIXTURES = Path(__file__).parent / "fixtures"
GRID_XML = FIXTURES / "grid.osm.xml"


def _shared_file(*parts: str) -> Path:
    """A file of the machine's shared reference data (`../shared/data/` beside the checkout, or
    beside any folder above it, so git worktrees find it too); the first candidate if absent."""
    here = Path(__file__).resolve()
    candidates = [folder / "shared" / "data" / Path(*parts) for folder in here.parents]
    return next((c for c in candidates if c.is_file()), candidates[2])


CITY_CENTRE = _shared_file("osm", "leeds_city_centre.osm")

#: The grid fixture: south-west corner and block size in degrees (5 x 5 nodes, about 100 m blocks).
GRID_LON0, GRID_LAT0, GRID_DLON, GRID_DLAT = -1.5600, 53.7950, 0.0015, 0.0009


def grid_lonlat(row: float, col: float) -> tuple[float, float]:
    """Longitude and latitude of a position on the grid fixture (row, column in blocks)."""
    return GRID_LON0 + col * GRID_DLON, GRID_LAT0 + row * GRID_DLAT


def ranking_frame(points: list[tuple[float, float]], *, harm=None, ward_code="E05011399",
                  ward_name="Hunslet & Riverside", category=None) -> gpd.GeoDataFrame:
    """A ranking like rank_hotspots returns: one H3 resolution-10 hexagon per (lon, lat)."""
    n = len(points)
    harm = np.linspace(100.0, 10.0, n) if harm is None else np.asarray(harm, dtype=float)
    cells: list[str] = []
    for lon, lat in points:
        cell = h3.latlng_to_cell(lat, lon, 10)
        if cell in cells:
            # Two points in one cell: take the free neighbouring cell nearest to the point.
            free = [c for c in h3.grid_disk(cell, 2) if c not in cells]
            cell = min(free, key=lambda c: (h3.cell_to_latlng(c)[0] - lat) ** 2
                       + ((h3.cell_to_latlng(c)[1] - lon) * 0.59) ** 2)
        cells.append(cell)
    hexes = [shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in cells]
    codes = ward_code if isinstance(ward_code, list) else [ward_code] * n
    names = ward_name if isinstance(ward_name, list) else [ward_name] * n
    order = np.argsort(-harm, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    frame = gpd.GeoDataFrame({
        "h3_cell": np.array([h3.str_to_int(c) for c in cells], dtype=np.uint64),
        "ward_code": codes,
        "ward_name": names,
        "count": np.maximum(1, (harm // 10).astype(int)),
        "harm": harm,
        "gi_z": np.linspace(4.0, -1.0, n),
        "gi_p": np.full(n, 0.01),
        "hot": np.linspace(4.0, -1.0, n) > 1.96,
        "change": np.zeros(n),
        "change_pct": np.zeros(n),
        "change_significant": np.zeros(n, dtype=bool),
        "trend": ["persistent"] * n,
        "rank": rank,
        "reason": [f"harm {h:.0f} days" for h in harm],
    }, geometry=hexes, crs="EPSG:4326").to_crs("EPSG:27700")
    if category is not None:
        frame["category"] = category
    return frame


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory):
    return get_settings(tmp_path_factory.mktemp("routing-home"))


@pytest.fixture(scope="session")
def grid_drive(session_settings):
    return load_network(GRID_XML, mode="drive", settings=session_settings)


@pytest.fixture(scope="session")
def grid_walk(session_settings):
    return load_network(GRID_XML, mode="walk", settings=session_settings)


@pytest.fixture(scope="session")
def city_drive(session_settings):
    if not CITY_CENTRE.is_file():
        pytest.skip(f"the central Leeds OSM extract is not at {CITY_CENTRE}")
    return load_network(CITY_CENTRE, mode="drive", settings=session_settings)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """An instance folder whose store holds nine weeks of synthetic demo incidents (to 2025-W30)."""
    import datetime as dt

    from hotspots.demo import generate_demo
    from hotspots.store import IncidentStore

    home = tmp_path_factory.mktemp("deploy-home")
    settings = get_settings(home)
    IncidentStore(home, settings=settings).add(
        generate_demo(seed=2, weeks=9, end=dt.date(2025, 7, 27), settings=settings))
    return home
