"""The H3 adapter: input checks first, then the output contract against h3 itself."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from hotspots import InputError
from hotspots import cells as C

TO_WGS = Transformer.from_crs(27700, 4326, always_xy=True)
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


def reference_cells(x, y, resolution):
    """What h3.latlng_to_cell gives point by point on the reprojected points."""
    lng, lat = TO_WGS.transform(np.asarray(x), np.asarray(y))
    return np.array([h3.str_to_int(h3.latlng_to_cell(a, b, resolution)) for a, b in zip(lat, lng, strict=True)],
                    dtype=np.uint64)


def points(x, y, crs="EPSG:27700", index=None):
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs, index=index)


# ----------------------------------------------------------------------------- input checks


def test_points_must_be_points_or_xy():
    with pytest.raises(InputError, match=r"^`points` must be a frame with x and y columns \(EPSG:27700\), a GeoDataFrame or a GeoSeries, not DataFrame\.$"):
        C.points_to_cells(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InputError, match=r"^`points` row 'b' has no point location \(x, y\); every row needs one \(1 row\(s\) affected\)\.$"):
        C.points_to_cells(pd.DataFrame({"x": [430000.0, np.nan], "y": [433000.0, 433000.0]}, index=["a", "b"]))


def test_incidents_x_y_give_the_cells_of_their_points():
    x, y = np.array([430000.0, 431234.5]), np.array([433000.0, 434321.0])
    frame = pd.DataFrame({"x": x, "y": y}, index=[7, 9])
    pd.testing.assert_series_equal(C.points_to_cells(frame), C.points_to_cells(points(x, y, index=[7, 9])))


def test_points_need_a_crs():
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy([430000.0], [433000.0]))
    with pytest.raises(InputError, match=r"^`points` has no CRS; set one \(e\.g\. EPSG:27700\) with set_crs before binning\.$"):
        C.points_to_cells(frame)


def test_rows_without_a_point_are_named():
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(430000, 433000), None], crs=27700, index=["a", "b"])
    with pytest.raises(InputError, match=r"^`points` row 'b' has no geometry; every row needs a point location \(1 row\(s\) affected\)\.$"):
        C.points_to_cells(frame)
    frame = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=27700)
    with pytest.raises(InputError, match=r"^`points` row 0 has a Polygon; every row needs a point location"):
        C.points_to_cells(frame)
    frame = gpd.GeoDataFrame(geometry=[shapely.Point()], crs=27700)
    with pytest.raises(InputError, match=r"^`points` row 0 has an empty point;"):
        C.points_to_cells(frame)


@pytest.mark.parametrize("bad", [16, 4, "10", 10.0, True])
def test_resolution_is_checked(bad):
    with pytest.raises(InputError, match=r"^`resolution` (is \d+; allowed H3 resolutions are 5 to 13 \(10 for ~0\.015 km2 patrol boxes, 9 for an overview\)|must be a whole number from 5 to 13, not .+)\.$"):
        C.points_to_cells(points([430000.0], [433000.0]), resolution=bad)


def test_xy_checks():
    with pytest.raises(InputError, match=r"^`method` is 'quick'; allowed values: auto, exact, fast\.$"):
        C.xy_to_cells([1.0], [2.0], method="quick")
    with pytest.raises(InputError, match=r"^`x` and `y` must be of equal length \(2 and 1\)\.$"):
        C.xy_to_cells([1.0, 2.0], [2.0])
    with pytest.raises(InputError, match=r"^the points have no CRS; set one \(e\.g\. EPSG:27700\) with GeoDataFrame\.set_crs\.$"):
        C.xy_to_cells([1.0], [2.0], crs=None)


def test_str_to_cells_names_the_bad_value():
    with pytest.raises(InputError, match=r"^'zz' is not an H3 cell; expected a hex index such as '8a194254508ffff'\.$"):
        C.str_to_cells(["8a194254508ffff", "zz"])
    with pytest.raises(InputError, match=r"^'10\.2,45\.5,5' is not an H3 cell"):
        C.str_to_cells(["10.2,45.5,5"])


def test_is_valid_cells_never_raises():
    good = h3.str_to_int("8a194254508ffff")
    np.testing.assert_array_equal(C.is_valid_cells(np.array([0, good, 5], dtype=np.uint64)), [False, True, False])
    np.testing.assert_array_equal(C.is_valid_cells(["not a cell"]), [False])


# ----------------------------------------------------------------------------- output contract


def test_points_to_cells_matches_h3_point_by_point():
    rng = np.random.default_rng(1)
    x = rng.uniform(415000, 445000, 500)
    y = rng.uniform(425000, 448000, 500)
    x[10:20] = x[0]  # repeated coordinates
    y[10:20] = y[0]
    frame = points(x, y, index=np.arange(500) * 3 + 7)
    got = C.points_to_cells(frame, resolution=10)
    assert got.name == "h3_cell"
    assert got.dtype == np.uint64
    pd.testing.assert_index_equal(got.index, frame.index)
    np.testing.assert_array_equal(got.to_numpy(), reference_cells(x, y, 10))
    assert frame.columns.tolist() == ["geometry"]  # input untouched


def test_points_in_lat_lng_are_binned_directly():
    lat = np.array([53.8, 53.79, 53.81])
    lng = np.array([-1.55, -1.54, -1.56])
    got = C.points_to_cells(points(lng, lat, crs="EPSG:4326"), resolution=9)
    expected = [h3.str_to_int(h3.latlng_to_cell(a, b, 9)) for a, b in zip(lat, lng, strict=True)]
    np.testing.assert_array_equal(got.to_numpy(), expected)


def _edge_points(resolution, n_cells=300, seed=2):
    """Points on and a hair's breadth either side of hexagon edges and vertices, in EPSG:27700."""
    rng = np.random.default_rng(seed)
    lng, lat = TO_WGS.transform(rng.uniform(418000, 442000, n_cells), rng.uniform(425000, 445000, n_cells))
    xs, ys = [], []
    for a, b in zip(lat, lng, strict=True):
        ring = np.array(h3.cell_to_boundary(h3.latlng_to_cell(a, b, resolution)))
        mids = (ring + np.roll(ring, -1, axis=0)) / 2
        for la, lo in np.vstack([ring, mids]):
            px, py = TO_BNG.transform(lo, la)
            for dx, dy in ((0, 0), (1e-6, 0), (-1e-6, 0), (0, 1e-6), (0, -1e-6), (1e-3, 1e-3)):
                xs.append(px + dx)
                ys.append(py + dy)
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("resolution", [9, 10, 11])
def test_fast_route_matches_h3_everywhere_including_edges(resolution):
    rng = np.random.default_rng(resolution)
    ex, ey = _edge_points(resolution)
    x = np.concatenate([rng.uniform(413000, 447000, 20_000), ex])
    y = np.concatenate([rng.uniform(422000, 450000, 20_000), ey])
    fast = C.xy_to_cells(x, y, resolution=resolution, method="fast")
    np.testing.assert_array_equal(fast, reference_cells(x, y, resolution))
    np.testing.assert_array_equal(C.xy_to_cells(x, y, resolution=resolution, method="exact"), fast)


def test_fast_route_over_england_and_wales_bins_tile_by_tile_as_h3_does():
    # Wider than one lattice reaches: binned in 100 km tiles, each with its own lattice; the
    # tiles east of 650 km straddle an H3 icosahedron face edge, where only quarters fit.
    rng = np.random.default_rng(8)
    x = np.r_[rng.uniform(130_000, 700_000, 30_000), rng.uniform(640_000, 700_000, 3_000)]
    y = np.r_[rng.uniform(10_000, 660_000, 30_000), rng.uniform(10_000, 660_000, 3_000)]
    key = C._crs_key("EPSG:27700")
    assert C._snap_bbox(x, y, key) is None  # too wide for one lattice
    assert C._build_lattice(key, 8, (600_000.0, 300_000.0, 700_000.0, 400_000.0)) is None
    fast = C.xy_to_cells(x, y, resolution=8, method="fast")
    np.testing.assert_array_equal(fast, reference_cells(x, y, 8))
    # West of the face edge points take the lattice, not the exact route.
    decided = C._fast_xy_to_cells(x, y, key, 8) != C.NO_CELL
    assert decided[x < 650_000].mean() > 0.99


def test_non_finite_coordinates_get_no_cell():
    got = C.xy_to_cells([430000.0, np.nan, 430000.0], [433000.0, 433000.0, np.inf], resolution=10)
    assert got[1] == C.NO_CELL and got[2] == C.NO_CELL
    assert got[0] == reference_cells([430000.0], [433000.0], 10)[0]


def test_cell_strings_round_trip():
    cells = reference_cells([430000.0, 431000.0], [433000.0, 434000.0], 10)
    text = C.cells_to_str(cells)
    assert list(text) == [h3.int_to_str(int(c)) for c in cells]
    np.testing.assert_array_equal(C.str_to_cells(text), cells)
    np.testing.assert_array_equal(C.str_to_cells([t.upper() for t in text]), cells)
    assert C.cells_to_str(np.array([0], dtype=np.uint64))[0] is None
    np.testing.assert_array_equal(C.get_resolutions(cells), [10, 10])


def test_cells_to_gdf_gives_hexagons_in_bng():
    cells = reference_cells([430000.0, 436000.0], [433000.0, 430000.0], 10)
    gdf = C.cells_to_gdf(cells)
    assert gdf.crs.to_epsg() == 27700
    assert gdf.columns.tolist() == ["h3_cell", "geometry"]
    assert gdf["h3_cell"].dtype == np.uint64
    assert (gdf.geom_type == "Polygon").all()
    for cell, geom in zip(cells, gdf.geometry, strict=True):
        ring = h3.cell_to_boundary(h3.int_to_str(int(cell)))
        bx, by = TO_BNG.transform([p[1] for p in ring], [p[0] for p in ring])
        got = shapely.get_coordinates(geom)[:-1]
        expected = np.column_stack([bx, by])
        # Same vertices (h3ronpy may start the ring elsewhere or turn the other way).
        order = [int(np.argmin(np.hypot(*(expected - p).T))) for p in got]
        np.testing.assert_allclose(got, expected[order], atol=1e-6)
        # h3 measures area on a sphere, BNG on the Airy ellipsoid scaled by ~0.9996: close, not equal.
        np.testing.assert_allclose(geom.area, h3.cell_area(h3.int_to_str(int(cell)), unit="m^2"), rtol=5e-3)
        assert geom.contains(shapely.Point(*TO_BNG.transform(*h3.cell_to_latlng(h3.int_to_str(int(cell)))[::-1])))


def test_grid_disk_pairs_include_the_cell():
    cells = reference_cells([430000.0, 436000.0], [433000.0, 430000.0], 10)
    origin, neighbour = C.grid_disk_pairs(cells, k=1)
    np.testing.assert_array_equal(np.bincount(origin), [7, 7])
    for i, cell in enumerate(cells):
        expected = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cell)), 1)}
        assert set(neighbour[origin == i].tolist()) == expected


def test_polygons_to_cells_covers_every_overlapping_cell():
    square = shapely.box(430000, 433000, 431000, 433700)
    found = set(C.polygons_to_cells([square], resolution=10).tolist())
    rng = np.random.default_rng(3)
    inside = reference_cells(rng.uniform(430000, 431000, 3000), rng.uniform(433000, 433700, 3000), 10)
    assert set(inside.tolist()) <= found
    # ... and not much more: the hexagons of the result all come near the square.
    hexes = C.cells_to_polygons(np.array(sorted(found), dtype=np.uint64))
    assert (shapely.distance(hexes, square) < 3 * 76).all()
