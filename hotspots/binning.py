"""Where incidents fall: the study area of H3 cells over the chosen wards, and the ward of each point.

The study area is every H3 cell whose hexagon overlaps the chosen wards, with or without
incidents (Gi* needs the zeros). A cell split by a ward boundary belongs to the chosen ward that
holds most of its area; a point belongs to the ward whose real boundary holds it (point in
polygon, never the cell's ward).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from hotspots import cells as h3cells
from hotspots.crs import BNG
from hotspots.errors import InputError

log = logging.getLogger(__name__)


#: Intersections smaller than this (m2) are boundary noise, not area.
_MIN_AREA_M2 = 1e-6


@dataclass(frozen=True, eq=False)
class StudyArea:
    """The H3 cells over a set of wards, with each cell's ward and its k-ring neighbours.

    Arrays are aligned to `cells` (sorted uint64). `ward` and `interior` index into the ward
    arrays: `ward` is the chosen ward holding most of the cell's area; `interior` is that ward
    when the hexagon lies wholly inside it (its points need no point-in-polygon test), else -1.
    `neighbours` is the binary k-ring weights matrix with the cell itself included; neighbours
    outside the study area are absent.
    """

    resolution: int
    k: int
    ward_codes: np.ndarray
    ward_names: np.ndarray
    ward_area_km2: np.ndarray
    ward_geoms: np.ndarray
    cells: np.ndarray
    polygons: np.ndarray
    area_km2: np.ndarray
    ward: np.ndarray
    interior: np.ndarray
    cand_indptr: np.ndarray
    cand_ward: np.ndarray
    neighbours: sp.csr_matrix
    index: pd.Index  # hash index over `cells`, for `locate`

    @property
    def n(self) -> int:
        return len(self.cells)

    @property
    def total_area_km2(self) -> float:
        return float(self.area_km2.sum())

    def locate(self, cells: np.ndarray) -> np.ndarray:
        """Position of each cell in the study area (int64), -1 for cells outside it."""
        return self.index.get_indexer(np.asarray(cells, dtype=h3cells.CELL_DTYPE)).astype(np.int64, copy=False)

    def frame(self) -> gpd.GeoDataFrame:
        """The study area as a frame: h3_cell, ward_code, ward_name, area_km2, geometry (EPSG:27700)."""
        return gpd.GeoDataFrame(
            {
                "h3_cell": pd.Series(self.cells, dtype=h3cells.CELL_DTYPE),
                "ward_code": pd.Series(self.ward_codes[self.ward], dtype="str"),
                "ward_name": pd.Series(self.ward_names[self.ward], dtype="str"),
                "area_km2": self.area_km2,
            },
            geometry=self.polygons, crs=BNG,
        )

    def point_wards(self, x: np.ndarray, y: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Ward index (into `ward_codes`) of points at x/y (EPSG:27700) in cells `pos`; -1 for none.

        Points in a cell wholly inside one ward take that ward; the others are tested against
        the real boundaries of the wards their cell overlaps.
        """
        out = np.full(len(pos), -1, dtype=np.int64)
        inside = pos >= 0
        out[inside] = self.interior[pos[inside]]
        todo = np.flatnonzero(inside & (out < 0))
        if not len(todo):
            return out
        cell_pos = pos[todo]
        starts = self.cand_indptr[cell_pos]
        counts = self.cand_indptr[cell_pos + 1] - starts
        point_of_pair = np.repeat(todo, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        ward_of_pair = self.cand_ward[np.repeat(starts, counts) + offsets]
        for w in np.unique(ward_of_pair):
            sel = ward_of_pair == w
            pts = point_of_pair[sel]
            pts = pts[out[pts] < 0]  # wards meet along edges: the first ward holding a point keeps it
            if not len(pts):
                continue
            hit = shapely.intersects_xy(self.ward_geoms[w], x[pts], y[pts])
            out[pts[hit]] = w
        return out


def check_wards(wards: object, *, name: str = "wards") -> gpd.GeoDataFrame:
    """Check a ward frame and return it in EPSG:27700 (the input is not changed)."""
    if not isinstance(wards, gpd.GeoDataFrame):
        msg = (f"`{name}` must be a GeoDataFrame of ward polygons (see hotspots.load_wards) or a "
               f"ward spec ('priority', 'all' or codes), not {type(wards).__name__}.")
        raise InputError(msg)
    missing = [c for c in ("ward_code", "ward_name") if c not in wards.columns]
    if missing:
        msg = (f"`{name}` lacks the column(s) {', '.join(missing)}; load boundaries with "
               "hotspots.load_wards, which names them.")
        raise InputError(msg)
    if wards.empty:
        msg = f"`{name}` contains zero wards. Has a filter removed every ward?"
        raise InputError(msg)
    if wards.crs is None:
        msg = f"`{name}` has no CRS; set it (e.g. set_crs('EPSG:27700')) before using the wards."
        raise InputError(msg)
    geoms = wards.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, (3, 6)) | shapely.is_empty(geoms)
    if bad.any():
        i = int(np.argmax(bad))
        msg = (f"`{name}` ward {wards['ward_code'].iloc[i]!r} is not a polygon; ward boundaries must "
               "be Polygon or MultiPolygon.")
        raise InputError(msg)
    codes = wards["ward_code"].astype(str)
    if codes.duplicated().any():
        msg = f"`{name}` has ward code {codes[codes.duplicated()].iloc[0]!r} more than once."
        raise InputError(msg)
    return wards.to_crs(BNG) if not wards.crs.equals(BNG) else wards


def study_area(wards: gpd.GeoDataFrame, *, resolution: int = 10, k: int = 1) -> StudyArea:
    """The H3 cells over `wards`, each with its majority ward and its k-ring neighbours.

    Parameters
    ----------
    wards
        Ward polygons with `ward_code` and `ward_name` (from `load_wards`/`select_wards`).
    resolution
        H3 resolution.
    k
        Neighbourhood size for the Gi* weights (1: the cell and its six neighbours).

    Returns
    -------
    StudyArea
        Cached per (wards, resolution, k): repeated calls return the same object.
    """
    wards = check_wards(wards)
    resolution = h3cells.check_resolution(resolution)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 5:
        msg = f"`k` must be a whole number from 1 to 5, not {k!r}."
        raise InputError(msg)
    wkb = shapely.to_wkb(wards.geometry.to_numpy())
    digest = hashlib.sha1(b"".join(wkb)).hexdigest()
    codes = tuple(wards["ward_code"].astype(str))
    names = tuple(wards["ward_name"].astype(str))
    return _build_study_area(resolution, int(k), codes, names, tuple(wkb), digest)


@lru_cache(maxsize=8)
def _build_study_area(resolution: int, k: int, codes: tuple[str, ...], names: tuple[str, ...],
                      wkb: tuple[bytes, ...], digest: str) -> StudyArea:
    del digest  # part of the cache key only
    geoms = shapely.from_wkb(np.array(wkb, dtype=object))
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.argmax(invalid))
        msg = (f"ward {codes[i]!r} has invalid geometry ({shapely.is_valid_reason(geoms[i])}); "
               "repair it (e.g. shapely.make_valid) first.")
        raise InputError(msg)
    shapely.prepare(geoms)
    candidates = h3cells.polygons_to_cells(geoms, crs=BNG, resolution=resolution)
    polys = h3cells.cells_to_polygons(candidates, crs=BNG)
    # Query with the (prepared) wards against a tree of hexagons: one prepared polygon per ward.
    ward_i, cell_i = shapely.STRtree(polys).query(geoms, predicate="intersects")
    inside = shapely.contains_properly(geoms[ward_i], polys[cell_i])
    area = shapely.area(polys[cell_i])
    # Areas matter only where a cell overlaps several wards (for its majority ward); a cell
    # overlapping one ward needs only to overlap it by more than an edge or a point.
    n_wards = np.bincount(cell_i, minlength=len(candidates))
    shared = ~inside & (n_wards[cell_i] > 1)
    if shared.any():
        area[shared] = shapely.area(shapely.intersection(polys[cell_i[shared]], geoms[ward_i[shared]]))
    edge = ~inside & ~shared
    if edge.any():
        area[edge] = np.where(shapely.touches(geoms[ward_i[edge]], polys[cell_i[edge]]), 0.0, area[edge])
    keep_pair = area > _MIN_AREA_M2
    cell_i, ward_i, area, inside = cell_i[keep_pair], ward_i[keep_pair], area[keep_pair], inside[keep_pair]
    kept = np.unique(cell_i)
    cells = candidates[kept]  # candidates are sorted, so cells are too
    remap = np.full(len(candidates), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    pos = remap[cell_i]
    # Majority ward: sort pairs by cell, then area descending, then ward order.
    order = np.lexsort((ward_i, -area, pos))
    pos_s, ward_s = pos[order], ward_i[order]
    first = np.r_[True, pos_s[1:] != pos_s[:-1]]
    majority = np.empty(len(cells), dtype=np.int64)
    majority[pos_s[first]] = ward_s[first]
    interior = np.full(len(cells), -1, dtype=np.int64)
    interior[pos[inside]] = ward_i[inside]
    # Candidate wards per cell (CSR), for point-in-polygon tests of boundary cells.
    by_cell = np.lexsort((ward_i, pos))
    counts = np.bincount(pos, minlength=len(cells))
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    cand_ward = ward_i[by_cell].astype(np.int64)
    polygons = polys[kept]
    area_km2 = shapely.area(polygons) / 1e6
    neighbours = _neighbour_matrix(cells, k)
    ward_area = shapely.area(geoms) / 1e6
    # The object is cached and shared: make its arrays read-only.
    for arr in (cells, polygons, area_km2, majority, interior, indptr, cand_ward, ward_area):
        arr.flags.writeable = False
    log.debug("study area: %d wards, %d cells at resolution %d", len(codes), len(cells), resolution)
    return StudyArea(
        resolution=resolution, k=k,
        ward_codes=np.array(codes, dtype=object), ward_names=np.array(names, dtype=object),
        ward_area_km2=ward_area, ward_geoms=geoms, cells=cells, polygons=polygons,
        area_km2=area_km2, ward=majority, interior=interior, cand_indptr=indptr,
        cand_ward=cand_ward, neighbours=neighbours, index=pd.Index(cells),
    )


def _neighbour_matrix(cells: np.ndarray, k: int) -> sp.csr_matrix:
    n = len(cells)
    origin, neighbour = h3cells.grid_disk_pairs(cells, k=k)
    pos = np.searchsorted(cells, neighbour)
    pos[pos == n] = 0
    found = cells[pos] == neighbour if n else np.zeros(0, dtype=bool)
    data = np.ones(int(found.sum()), dtype=np.float64)
    matrix = sp.csr_matrix((data, (origin[found], pos[found])), shape=(n, n))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def assign_wards(points: gpd.GeoDataFrame | gpd.GeoSeries, wards: gpd.GeoDataFrame, *,
                 resolution: int = 10) -> pd.Series:
    """The ward of each point, by point in polygon on the real ward boundaries.

    Parameters
    ----------
    points
        Point geometries in any CRS.
    wards
        Ward polygons with `ward_code` and `ward_name`.
    resolution
        H3 resolution used to skip the polygon test for points in cells wholly inside one ward
        (the result does not depend on it).

    Returns
    -------
    pandas.Series
        `ward_code` aligned to `points`' index, categorical over the codes of `wards` (cheap
        for millions of points; ``.astype(str)`` for plain strings); NA for points in none of
        the wards. Their number is in ``result.attrs["unassigned"]`` (and logged).
    """
    if not isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)):
        msg = f"`points` must be a GeoDataFrame or GeoSeries, not {type(points).__name__}."
        raise InputError(msg)
    if points.crs is None:
        msg = "`points` has no CRS; set one (e.g. EPSG:27700) with set_crs first."
        raise InputError(msg)
    area = study_area(wards, resolution=resolution)
    x, y = h3cells.point_coordinates(points)
    if not points.crs.equals(BNG):
        x, y = _reproject(x, y, points.crs)
    idx = ward_index(x, y, area)
    codes = pd.Categorical.from_codes(idx, categories=pd.Index(area.ward_codes, dtype="str"))
    out = pd.Series(codes, index=points.index, name="ward_code")
    unassigned = int((idx < 0).sum())
    out.attrs["unassigned"] = unassigned
    if unassigned:
        log.info("%d of %d points lie in none of the %d wards", unassigned, len(idx), len(area.ward_codes))
    return out


def ward_index(x: np.ndarray, y: np.ndarray, area: StudyArea) -> np.ndarray:
    """Ward position (into `area.ward_codes`) of EPSG:27700 points; -1 for points in no ward."""
    cells = h3cells.xy_to_cells(x, y, crs=BNG, resolution=area.resolution)
    return area.point_wards(x, y, area.locate(cells))


def _reproject(x: np.ndarray, y: np.ndarray, crs) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs).to_crs(BNG)
    return pts.x.to_numpy(), pts.y.to_numpy()
