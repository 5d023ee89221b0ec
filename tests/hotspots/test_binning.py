"""Study area and ward assignment: input checks first, then the output contract."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import InputError, binning
from hotspots import cells as C
from hotspots.binning import assign_wards, study_area
from hotspots.settings import get_settings
from hotspots.wards import load_wards, select_wards


@pytest.fixture
def two_wards():
    """Two hand-made wards sharing an edge at x = 431000, in EPSG:27700."""
    return gpd.GeoDataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["West", "East"]},
        geometry=[shapely.box(430000, 433000, 431000, 434000), shapely.box(431000, 433000, 431800, 433600)],
        crs=27700,
    )


def pts(x, y, crs=27700):
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs)


# ----------------------------------------------------------------------------- input checks


def test_wards_must_be_a_frame_with_codes(two_wards):
    with pytest.raises(InputError, match=r"^`wards` must be a GeoDataFrame of ward polygons \(see hotspots\.load_wards\) or a ward spec \('priority', 'all' or codes\), not list\.$"):
        study_area([1, 2])
    with pytest.raises(InputError, match=r"^`wards` lacks the column\(s\) ward_name; load boundaries with hotspots\.load_wards, which names them\.$"):
        study_area(two_wards.drop(columns="ward_name"))
    with pytest.raises(InputError, match=r"^`wards` contains zero wards\. Has a filter removed every ward\?$"):
        study_area(two_wards.iloc[:0])
    with pytest.raises(InputError, match=r"^`wards` has no CRS; set it \(e\.g\. set_crs\('EPSG:27700'\)\) before using the wards\.$"):
        study_area(gpd.GeoDataFrame(two_wards.drop(columns="geometry"), geometry=list(two_wards.geometry)))


def test_wards_must_be_distinct_valid_polygons(two_wards):
    lines = two_wards.copy()
    lines["geometry"] = [shapely.LineString([(0, 0), (1, 1)]), two_wards.geometry.iloc[1]]
    with pytest.raises(InputError, match=r"^`wards` ward 'W1' is not a polygon; ward boundaries must be Polygon or MultiPolygon\.$"):
        study_area(lines)
    dup = two_wards.assign(ward_code=["W1", "W1"])
    with pytest.raises(InputError, match=r"^`wards` has ward code 'W1' more than once\.$"):
        study_area(dup)
    bowtie = two_wards.copy()
    bowtie["geometry"] = [shapely.Polygon([(430000, 433000), (431000, 434000), (431000, 433000), (430000, 434000)]),
                          two_wards.geometry.iloc[1]]
    with pytest.raises(InputError, match=r"^ward 'W1' has invalid geometry \(Self-intersection.*\); repair it \(e\.g\. shapely\.make_valid\) first\.$"):
        study_area(bowtie)


def test_k_and_resolution_are_checked(two_wards):
    with pytest.raises(InputError, match=r"^`k` must be a whole number from 1 to 5, not 0\.$"):
        study_area(two_wards, k=0)
    with pytest.raises(InputError, match=r"^`resolution` is 3; allowed H3 resolutions are 5 to 13"):
        study_area(two_wards, resolution=3)


def test_assign_wards_checks_points(two_wards):
    with pytest.raises(InputError, match=r"^`points` must be a frame with x and y columns \(EPSG:27700\), "
                                         r"a GeoDataFrame or a GeoSeries, not list\.$"):
        assign_wards([1], two_wards)
    with pytest.raises(InputError, match=r"^`points` row 1 has no point location \(x, y\); every row needs one"):
        assign_wards(pd.DataFrame({"x": [431000.0, np.nan], "y": [433300.0, 433300.0]}), two_wards)
    with pytest.raises(InputError, match=r"^`points` has no CRS; set one \(e\.g\. EPSG:27700\) with set_crs first\.$"):
        assign_wards(gpd.GeoDataFrame(geometry=gpd.points_from_xy([1.0], [1.0])), two_wards)


# ----------------------------------------------------------------------------- output contract


def test_study_area_is_every_overlapping_cell_with_its_majority_ward(two_wards):
    area = study_area(two_wards, resolution=10)
    # Brute force: every cell of a fine grid of points around the wards, kept if it overlaps them.
    gx, gy = np.meshgrid(np.arange(429700, 432100, 10.0), np.arange(432700, 434300, 10.0))
    cand = np.unique(C.xy_to_cells(gx.ravel(), gy.ravel(), resolution=10, method="exact"))
    hexes = C.cells_to_polygons(cand)
    union = shapely.union_all(two_wards.geometry.to_numpy())
    overlap = shapely.area(shapely.intersection(hexes, union)) > 1e-6
    np.testing.assert_array_equal(area.cells, np.sort(cand[overlap]))
    assert np.all(np.diff(area.cells.astype(np.float64)) > 0)
    # Majority ward, by overlay areas.
    frame = area.frame()
    shares = np.stack([shapely.area(shapely.intersection(frame.geometry.to_numpy(), g)) for g in two_wards.geometry], axis=1)
    np.testing.assert_array_equal(frame["ward_code"].to_numpy(), np.array(["W1", "W2"])[shares.argmax(axis=1)])
    assert frame.columns.tolist() == ["h3_cell", "ward_code", "ward_name", "area_km2", "geometry"]
    np.testing.assert_allclose(frame["area_km2"], frame.area / 1e6)
    assert area.left_out == 0
    # The locator's interior cells lie wholly inside their ward.
    loc = area.locator
    inner = loc.interior >= 0
    assert inner.any() and (~inner).any()
    hexes = C.cells_to_polygons(loc.cells)
    assert all(two_wards.geometry.iloc[w].contains(g) for w, g in zip(loc.interior[inner], hexes[inner], strict=True))


def test_a_cells_ward_is_its_majority_ward_whatever_wards_are_chosen(two_wards):
    every = study_area(two_wards, resolution=10)
    east = study_area(two_wards.iloc[[1]], resolution=10, all_wards=two_wards)
    alone = study_area(two_wards.iloc[[1]], resolution=10)
    by_cell = dict(zip(every.cells.tolist(), every.frame()["ward_code"], strict=True))
    # Choosing East keeps exactly the cells mostly in East, labelled East.
    assert sorted(east.cells.tolist()) == sorted(c for c, w in by_cell.items() if w == "W2")
    assert (east.frame()["ward_code"] == "W2").all()
    # The cells that overlap East but lie mostly in West are left out and counted.
    overlapping = set(alone.cells.tolist())
    assert east.left_out == len(overlapping - set(east.cells.tolist())) > 0
    assert all(by_cell[c] == "W1" for c in overlapping - set(east.cells.tolist()))


def test_points_just_outside_every_ward_go_to_the_nearest(two_wards):
    area = study_area(two_wards, resolution=10, snap_m=50.0)
    # 10 m south of West, 30 m east of East, 80 m north of West, inside West, inside East.
    x = np.array([430500.0, 431830.0, 430500.0, 430500.0, 431400.0])
    y = np.array([432990.0, 433300.0, 434080.0, 433500.0, 433300.0])
    ward, snapped = area.place_points(x, y)
    assert ward.tolist() == [0, 1, -1, 0, 1]
    assert snapped.tolist() == [True, True, False, False, False]
    # Without snapping only point in polygon counts.
    assert study_area(two_wards, resolution=10).point_wards(x, y).tolist() == [-1, -1, -1, 0, 1]
    # A point in a ward that was not chosen is never snapped into a chosen one.
    east = study_area(two_wards.iloc[[1]], resolution=10, all_wards=two_wards, snap_m=50.0)
    ward, snapped = east.place_points(np.array([430990.0, 431810.0]), np.array([433300.0, 433300.0]))
    assert ward.tolist() == [-1, 0] and snapped.tolist() == [False, True]


def test_neighbours_are_the_k_ring_inside_the_study_area(two_wards):
    area = study_area(two_wards, resolution=10, k=1)
    m = area.neighbours
    assert (m != m.T).nnz == 0
    np.testing.assert_array_equal(m.diagonal(), 1.0)
    members = set(area.cells.tolist())
    for i in (0, area.n // 2, area.n - 1):
        ring = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(area.cells[i])), 1)}
        expected = sorted(ring & members)
        np.testing.assert_array_equal(area.cells[m[i].indices], expected)


def test_study_area_is_cached(two_wards):
    assert study_area(two_wards) is study_area(two_wards.copy())
    assert study_area(two_wards) is not study_area(two_wards, resolution=9)


def _assert_same_area(a, b):
    """Two study areas hold the same cells, wards, hexagons, neighbours and point locator."""
    assert a is not b
    assert (a.resolution, a.k, a.left_out) == (b.resolution, b.k, b.left_out)
    for name in ("cells", "area_km2", "ward", "ward_area_km2", "ward_codes", "ward_names"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert shapely.equals_exact(a.polygons, b.polygons, tolerance=0).all()
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a.neighbours, name), getattr(b.neighbours, name))
    la, lb = a.locator, b.locator
    for name in ("cells", "interior", "cand_indptr", "cand_ward", "edge", "all_to_chosen"):
        np.testing.assert_array_equal(getattr(la, name), getattr(lb, name))
    assert la.bounds == lb.bounds and la.snap_m == lb.snap_m
    assert shapely.equals_exact(la.outline, lb.outline, tolerance=0)


def _kept(folder):
    return sorted(p.name for p in folder.glob("study-area-*.npz"))


def test_a_study_area_kept_on_disk_equals_a_fresh_one(two_wards, tmp_path, monkeypatch):
    fresh = study_area(two_wards.iloc[[1]], resolution=10, all_wards=two_wards, snap_m=50.0)
    built = study_area(two_wards.iloc[[1]], resolution=10, all_wards=two_wards, snap_m=50.0, cache_dir=tmp_path)
    [name] = _kept(tmp_path)
    assert name.startswith("study-area-r10-")
    _assert_same_area(fresh, built)
    # A new process (here: the in-memory cache emptied) reads the file instead of building.
    binning._build_study_area.cache_clear()
    monkeypatch.setattr(binning, "_new_study_area", lambda *a, **k: pytest.fail("built, not read"))
    read = study_area(two_wards.iloc[[1]], resolution=10, all_wards=two_wards, snap_m=50.0, cache_dir=tmp_path)
    _assert_same_area(fresh, read)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(429900, 431900, 2000), rng.uniform(432900, 434100, 2000)
    for got, want in zip(read.place_points(x, y), fresh.place_points(x, y), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(read.locate(fresh.cells), np.arange(fresh.n))
    assert not read.cells.flags.writeable and not read.polygons.flags.writeable


def test_a_changed_ward_set_or_resolution_does_not_reuse_a_kept_study_area(two_wards, tmp_path):
    study_area(two_wards, resolution=10, cache_dir=tmp_path)
    moved = two_wards.copy()
    moved["geometry"] = [shapely.box(430000, 433000, 431000, 434200), two_wards.geometry.iloc[1]]
    renamed = two_wards.assign(ward_name=["West", "East side"])
    variants = [
        {"wards": two_wards, "resolution": 9},
        {"wards": two_wards, "resolution": 10, "k": 2},
        {"wards": two_wards, "resolution": 10, "snap_m": 50.0},
        {"wards": moved, "resolution": 10},
        {"wards": renamed, "resolution": 10},
        {"wards": two_wards.iloc[[0]], "resolution": 10, "all_wards": two_wards},
    ]
    for n, kw in enumerate(variants, start=2):
        binning._build_study_area.cache_clear()
        kept = study_area(cache_dir=tmp_path, **kw)
        assert len(_kept(tmp_path)) == n  # a file of its own, not the first one's
        binning._build_study_area.cache_clear()
        _assert_same_area(study_area(**kw), kept)
    assert study_area(moved, resolution=10).n != study_area(two_wards, resolution=10).n


def test_a_damaged_or_unwritable_cache_only_costs_a_build(two_wards, tmp_path):
    fresh = study_area(two_wards, resolution=10)
    study_area(two_wards, resolution=10, cache_dir=tmp_path)
    [name] = _kept(tmp_path)
    (tmp_path / name).write_bytes(b"not a study area")
    binning._build_study_area.cache_clear()
    _assert_same_area(fresh, study_area(two_wards, resolution=10, cache_dir=tmp_path))
    binning._build_study_area.cache_clear()
    _assert_same_area(fresh, study_area(two_wards, resolution=10, cache_dir=tmp_path))  # rewritten
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    binning._build_study_area.cache_clear()
    _assert_same_area(fresh, study_area(two_wards, resolution=10, cache_dir=blocked / "cache"))
    assert not list(tmp_path.glob(".study-area-*"))  # no temporary file left behind


def test_analyses_keep_study_areas_in_the_instance_folder(settings, tmp_path):
    from hotspots.ranking import resolve_study_area, study_area_cache

    settings.home.mkdir(parents=True)
    assert study_area_cache(settings) == settings.home / "cache"
    assert study_area_cache(get_settings(tmp_path / "absent")) is None
    binning._build_study_area.cache_clear()
    area = resolve_study_area("priority", resolution=9, settings=settings)
    [name] = _kept(settings.home / "cache")
    assert name.startswith("study-area-r9-")
    binning._build_study_area.cache_clear()
    _assert_same_area(area, resolve_study_area("priority", resolution=9, settings=settings))


def test_assign_wards_is_point_in_polygon(two_wards):
    rng = np.random.default_rng(5)
    x = np.r_[rng.uniform(429800, 432000, 3000), 431000.0, 430500.0]
    y = np.r_[rng.uniform(432800, 434200, 3000), 433300.0, 435000.0]
    frame = pts(x, y)
    frame.index = frame.index + 100
    got = assign_wards(frame, two_wards)
    assert got.name == "ward_code"
    pd.testing.assert_index_equal(got.index, frame.index)
    joined = gpd.sjoin(frame.iloc[:3000], two_wards, how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated()]
    np.testing.assert_array_equal(got.iloc[:3000].astype(object).fillna("NA").to_numpy(),
                                  joined["ward_code"].fillna("NA").to_numpy())
    assert got.attrs["unassigned"] == int(got.isna().sum()) > 0
    assert got.iloc[-2] == "W1"  # on the shared edge: the first ward keeps it
    assert pd.isna(got.iloc[-1])
    # Incidents with x, y (EPSG:27700) get the same wards without any geometry.
    plain = pd.DataFrame({"x": x, "y": y}, index=frame.index)
    pd.testing.assert_series_equal(assign_wards(plain, two_wards), got)


def test_assign_wards_on_leeds_wards(settings):
    wards = select_wards(load_wards(settings=settings), "priority")
    rng = np.random.default_rng(6)
    frame = pts(rng.uniform(418000, 440000, 30_000), rng.uniform(425000, 440000, 30_000))
    got = assign_wards(frame, wards)
    joined = gpd.sjoin(frame, wards[["ward_code", "geometry"]], how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated()]
    np.testing.assert_array_equal(got.astype(object).fillna("NA").to_numpy(), joined["ward_code"].fillna("NA").to_numpy())
    # Points given in latitude/longitude get the same wards.
    again = assign_wards(frame.to_crs(4326), wards)
    assert (again.astype(object).fillna("NA").to_numpy() == got.astype(object).fillna("NA").to_numpy()).mean() > 0.9999
