"""Where incidents fall: the study area of H3 cells over the chosen wards, and the ward of each point.

The study area is every H3 cell whose hexagon lies mostly in the chosen wards, with or without
incidents (Gi* needs the zeros). A cell split by a ward boundary belongs to the ward of the whole
boundary file that holds most of its area, whatever wards were chosen; a point belongs to the ward
whose real boundary holds it (point in polygon, never the cell's ward), or to the nearest ward when
it lies just outside every ward (police.uk snap points on the city edge).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

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
class WardLocator:
    """Places points in the chosen wards: point in polygon on the real boundaries, and a point
    outside every ward of the boundary file by at most `snap_m` goes to the nearest ward.

    `cells` (sorted) are the H3 cells overlapping the chosen wards widened by `snap_m`;
    `interior` is the chosen ward (index into `ward_geoms`) wholly holding a cell's hexagon, else
    -1; `cand_indptr`/`cand_ward` list the chosen wards each cell overlaps (CSR); `edge` marks cells
    not wholly inside the district (the union of every ward, `outline`), where a point may lie in
    no ward. `all_geoms` are every ward of the boundary file and `all_to_chosen` maps them to the
    chosen ones (-1 for the others).
    """

    resolution: int
    snap_m: float
    ward_geoms: np.ndarray
    cells: np.ndarray
    index: pd.Index
    interior: np.ndarray
    cand_indptr: np.ndarray
    cand_ward: np.ndarray
    edge: np.ndarray
    outline: object
    all_geoms: np.ndarray
    all_to_chosen: np.ndarray
    bounds: tuple[float, float, float, float]

    def place(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ward of EPSG:27700 points (index into the chosen wards, -1 for none) and which of them
        were placed by snapping to the nearest ward (they lie outside every ward)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        out = np.full(len(x), -1, dtype=np.int64)
        snapped = np.zeros(len(x), dtype=bool)
        if not len(x) or not len(self.cells):
            return out, snapped
        x0, y0, x1, y1 = self.bounds
        near = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        pos = np.full(len(x), -1, dtype=np.int64)
        if len(near):
            cells = h3cells.xy_to_cells(x[near], y[near], crs=BNG, resolution=self.resolution)
            pos[near] = self.index.get_indexer(cells)
        inside = pos >= 0
        out[inside] = self.interior[pos[inside]]
        todo = np.flatnonzero(inside & (out < 0))
        if len(todo):
            shapely.prepare(self.ward_geoms)
            cell_pos = pos[todo]
            starts = self.cand_indptr[cell_pos]
            counts = self.cand_indptr[cell_pos + 1] - starts
            point_of_pair = np.repeat(todo, counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            ward_of_pair = self.cand_ward[np.repeat(starts, counts) + offsets]
            for w in np.unique(ward_of_pair):
                pts = point_of_pair[ward_of_pair == w]
                pts = pts[out[pts] < 0]  # wards meet along edges: the first ward holding a point keeps it
                if len(pts):
                    hit = shapely.intersects_xy(self.ward_geoms[w], x[pts], y[pts])
                    out[pts[hit]] = w
        if self.snap_m <= 0:
            return out, snapped
        loose = np.flatnonzero(inside & (out < 0))
        loose = loose[self.edge[pos[loose]]]
        if not len(loose):
            return out, snapped
        shapely.prepare(self.outline)
        loose = loose[~shapely.intersects_xy(self.outline, x[loose], y[loose])]
        if not len(loose):
            return out, snapped
        points = shapely.points(x[loose], y[loose])
        found, ward = shapely.STRtree(self.all_geoms).query_nearest(
            points, max_distance=self.snap_m, all_matches=False)
        chosen = self.all_to_chosen[ward]
        hit = chosen >= 0
        out[loose[found[hit]]] = chosen[hit]
        snapped[loose[found[hit]]] = True
        return out, snapped


@dataclass(frozen=True, eq=False)
class StudyArea:
    """The H3 cells over a set of wards, with each cell's ward and its k-ring neighbours.

    A cell belongs to the ward of the boundary file holding most of its area, whatever wards were
    chosen; the study area keeps the cells whose ward is a chosen one (`left_out` counts the cells
    that overlap the chosen wards but lie mostly in others). Arrays are aligned to `cells`
    (sorted uint64); `ward` indexes the chosen ward arrays. `neighbours` is the binary k-ring
    weights matrix with the cell itself included; neighbours outside the study area are absent.
    `locator` places points in the chosen wards (`point_wards`, `place_points`).
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
    left_out: int
    neighbours: sp.csr_matrix
    index: pd.Index  # hash index over `cells`, for `locate`
    locator: WardLocator

    @property
    def n(self) -> int:
        return len(self.cells)

    @cached_property
    def reach(self) -> tuple[float, float, float, float]:
        """The extent (EPSG:27700) widened by more than a cell's width: a point beyond it is in
        no study cell, so it need not be binned."""
        x0, y0, x1, y1 = shapely.total_bounds(self.polygons) if self.n else (0.0, 0.0, 0.0, 0.0)
        margin = 1.5 * float(np.sqrt(h3cells.cell_area_km2(self.resolution)) * 1000.0)
        return (float(x0 - margin), float(y0 - margin), float(x1 + margin), float(y1 + margin))

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

    def point_wards(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ward index (into `ward_codes`) of points at x/y (EPSG:27700); -1 for none. By point in
        polygon on the real boundaries, whatever cell the point is in; a point within
        `locator.snap_m` outside every ward goes to the nearest ward."""
        return self.locator.place(x, y)[0]

    def place_points(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`point_wards` and a mask of the points placed by snapping (outside every ward)."""
        return self.locator.place(x, y)


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


def study_area(wards: gpd.GeoDataFrame, *, resolution: int = 10, k: int = 1,
               all_wards: gpd.GeoDataFrame | None = None, snap_m: float = 0.0,
               cache_dir: str | os.PathLike | None = None) -> StudyArea:
    """The H3 cells over `wards`, each with its majority ward and its k-ring neighbours.

    Parameters
    ----------
    wards
        The chosen ward polygons with `ward_code` and `ward_name` (from `load_wards`/`select_wards`).
    resolution
        H3 resolution.
    k
        Neighbourhood size for the Gi* weights (1: the cell and its six neighbours).
    all_wards
        Every ward of the boundary file `wards` were chosen from (None: `wards` alone). A cell's
        ward is the ward of `all_wards` holding most of its area; cells whose ward is not chosen
        are left out of the study area (counted in `left_out`).
    snap_m
        Points outside every ward of `all_wards` by at most this many metres are placed in the
        nearest ward (`StudyArea.point_wards`); 0 places points by point in polygon only.
    cache_dir
        A folder to keep built study areas in between processes (`hotspots rank` builds the
        national res-8 one in seconds and reads it back in a fraction of one), one file per
        wards, all wards, resolution, k and snap distance (named by a hash of them and of the
        H3 and PROJ versions), written atomically; the newest `DISK_CACHE_FILES` are kept.
        None: no files.

    Returns
    -------
    StudyArea
        Cached per (wards, all wards, resolution, k, snap_m): repeated calls return the same object.
    """
    wards = check_wards(wards)
    resolution = h3cells.check_resolution(resolution)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 5:
        msg = f"`k` must be a whole number from 1 to 5, not {k!r}."
        raise InputError(msg)
    if isinstance(snap_m, bool) or not isinstance(snap_m, (int, float, np.number)) or not 0 <= snap_m <= 5000:
        msg = f"`snap_m` must be a distance from 0 to 5000 metres, not {snap_m!r}."
        raise InputError(msg)
    codes = tuple(wards["ward_code"].astype(str))
    names = tuple(wards["ward_name"].astype(str))
    wkb = tuple(shapely.to_wkb(wards.geometry.to_numpy()))
    if all_wards is None:
        all_codes, all_wkb = codes, wkb
    else:
        all_wards = check_wards(all_wards, name="all_wards")
        all_codes = tuple(all_wards["ward_code"].astype(str))
        all_wkb = tuple(shapely.to_wkb(all_wards.geometry.to_numpy()))
        missing = [c for c in codes if c not in set(all_codes)]
        if missing:
            msg = f"`wards` holds ward {missing[0]!r}, which `all_wards` lacks."
            raise InputError(msg)
    digest = hashlib.sha1(b"".join(wkb) + b"|" + b"".join(all_wkb)).hexdigest()
    folder = None if cache_dir is None else str(Path(cache_dir).expanduser().resolve())
    return _build_study_area(resolution, int(k), float(snap_m), codes, names, wkb, all_codes,
                             all_wkb, digest, folder)


def _check_valid(geoms: np.ndarray, codes: tuple[str, ...]) -> None:
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.argmax(invalid))
        msg = (f"ward {codes[i]!r} has invalid geometry ({shapely.is_valid_reason(geoms[i])}); "
               "repair it (e.g. shapely.make_valid) first.")
        raise InputError(msg)


def _overlaps(polys: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ward, cell) pairs of hexagons overlapping wards by more than an edge or a point: the
    ward and cell positions, the overlap area (m2; the whole hexagon where only one ward
    overlaps it, which is all a majority needs) and whether the ward wholly holds the hexagon."""
    ward_i, cell_i = shapely.STRtree(polys).query(geoms, predicate="intersects")
    inside = shapely.contains_properly(geoms[ward_i], polys[cell_i])
    area = shapely.area(polys[cell_i])
    n_wards = np.bincount(cell_i, minlength=len(polys))
    shared = ~inside & (n_wards[cell_i] > 1)
    if shared.any():
        area[shared] = shapely.area(shapely.intersection(polys[cell_i[shared]], geoms[ward_i[shared]]))
    edge = ~inside & ~shared
    if edge.any():
        area[edge] = np.where(shapely.touches(geoms[ward_i[edge]], polys[cell_i[edge]]), 0.0, area[edge])
    keep = area > _MIN_AREA_M2
    return ward_i[keep], cell_i[keep], area[keep], inside[keep]


@lru_cache(maxsize=8)
def _build_study_area(resolution: int, k: int, snap_m: float, codes: tuple[str, ...],
                      names: tuple[str, ...], wkb: tuple[bytes, ...], all_codes: tuple[str, ...],
                      all_wkb: tuple[bytes, ...], digest: str, cache_dir: str | None) -> StudyArea:
    del digest  # part of the cache key only
    geoms = shapely.from_wkb(np.array(wkb, dtype=object))
    _check_valid(geoms, codes)
    all_geoms = shapely.from_wkb(np.array(all_wkb, dtype=object))
    _check_valid(all_geoms, all_codes)
    shapely.prepare(geoms)
    shapely.prepare(all_geoms)
    chosen_of = {c: i for i, c in enumerate(codes)}
    all_to_chosen = np.array([chosen_of.get(c, -1) for c in all_codes], dtype=np.int64)
    path = None
    if cache_dir is not None:
        key = _disk_key(resolution, k, snap_m, codes, names, wkb, all_codes, all_wkb)
        path = Path(cache_dir) / f"study-area-r{resolution}-{key}.npz"
        area = _read_study_area(path, resolution=resolution, k=k, snap_m=snap_m, codes=codes,
                                names=names, geoms=geoms, all_geoms=all_geoms,
                                all_to_chosen=all_to_chosen)
        if area is not None:
            return area
    area = _new_study_area(resolution, k, snap_m, codes, names, geoms, all_geoms, all_to_chosen)
    if path is not None:
        _write_study_area(area, path)
    return area


def _new_study_area(resolution: int, k: int, snap_m: float, codes: tuple[str, ...],
                    names: tuple[str, ...], geoms: np.ndarray, all_geoms: np.ndarray,
                    all_to_chosen: np.ndarray) -> StudyArea:

    # One set of candidate cells serves both the study area and the point locator: every cell
    # overlapping the chosen wards widened by the snap distance.
    reach = shapely.buffer(geoms, snap_m, quad_segs=4) if snap_m > 0 else geoms
    candidates = h3cells.polygons_to_cells(reach, crs=BNG, resolution=resolution)
    polys = h3cells.cells_to_polygons(candidates, crs=BNG)
    ward_i, cell_i, area, inside = _overlaps(polys, all_geoms)
    # A cell's ward is the ward of the whole boundary file holding most of its area.
    order = np.lexsort((ward_i, -area, cell_i))
    cell_s, ward_s = cell_i[order], ward_i[order]
    first = np.r_[True, cell_s[1:] != cell_s[:-1]] if len(cell_s) else np.zeros(0, dtype=bool)
    majority = np.full(len(candidates), -1, dtype=np.int64)
    majority[cell_s[first]] = all_to_chosen[ward_s[first]]
    chosen_pair = all_to_chosen[ward_i] >= 0
    touches_chosen = np.zeros(len(candidates), dtype=bool)
    touches_chosen[cell_i[chosen_pair]] = True
    kept = np.flatnonzero(majority >= 0)
    left_out = int((touches_chosen & (majority < 0)).sum())
    cells = candidates[kept]  # candidates are sorted, so cells are too
    polygons = polys[kept]
    area_km2 = shapely.area(polygons) / 1e6
    ward = majority[kept]
    neighbours = _neighbour_matrix(cells, k)
    ward_area = shapely.area(geoms) / 1e6
    # Points in a cell wholly inside one ward lie in that ward; elsewhere a point may lie in no ward.
    wholly = np.zeros(len(candidates), dtype=bool)
    wholly[cell_i[inside]] = True
    locator = _locator(resolution, snap_m, candidates, polys, geoms, all_geoms, all_to_chosen,
                       pairs=(all_to_chosen[ward_i[chosen_pair]], cell_i[chosen_pair],
                              inside[chosen_pair]),
                       edge=~wholly)
    # The object is cached and shared: make its arrays read-only.
    for arr in (cells, polygons, area_km2, ward, ward_area):
        arr.flags.writeable = False
    log.debug("study area: %d wards, %d cells at resolution %d (%d mostly in other wards left out)",
              len(codes), len(cells), resolution, left_out)
    return StudyArea(
        resolution=resolution, k=k,
        ward_codes=np.array(codes, dtype=object), ward_names=np.array(names, dtype=object),
        ward_area_km2=ward_area, ward_geoms=geoms, cells=cells, polygons=polygons,
        area_km2=area_km2, ward=ward, left_out=left_out, neighbours=neighbours,
        index=pd.Index(cells), locator=locator,
    )


# --------------------------------------------------------------------------- the disk cache

#: Study-area files kept in a cache folder (the newest by modification time).
DISK_CACHE_FILES = 16
#: Bumped when the file layout or what a study area holds changes: old files are then ignored.
_DISK_FORMAT = 1


def _disk_key(resolution: int, k: int, snap_m: float, codes: tuple[str, ...], names: tuple[str, ...],
              wkb: tuple[bytes, ...], all_codes: tuple[str, ...], all_wkb: tuple[bytes, ...]) -> str:
    """A hash of everything a study area is built from, the libraries that place cells and
    reproject them included."""
    import h3ronpy
    import pyproj

    head = json.dumps([_DISK_FORMAT, resolution, k, repr(snap_m), codes, names, all_codes,
                       h3ronpy.__version__, pyproj.proj_version_str, shapely.__version__])
    digest = hashlib.sha256(head.encode())
    for part in (*wkb, b"|", *all_wkb):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:32]


def _write_study_area(area: StudyArea, path: Path) -> None:
    """Write `area` to `path` atomically (a temporary file renamed over it); a folder that cannot
    be written only costs the next process the build."""
    if not area.n:
        return
    loc = area.locator
    kind, coords, (ring_offsets, poly_offsets) = shapely.to_ragged_array(area.polygons)
    outline = np.frombuffer(shapely.to_wkb(loc.outline), dtype=np.uint8)
    arrays = {
        "left_out": np.array([area.left_out]), "cells": area.cells, "area_km2": area.area_km2,
        "ward": area.ward, "nb_indptr": area.neighbours.indptr, "nb_indices": area.neighbours.indices,
        "poly_kind": np.array([int(kind)]), "poly_coords": coords, "poly_rings": ring_offsets,
        "poly_offsets": poly_offsets, "loc_cells": loc.cells, "loc_interior": loc.interior,
        "loc_indptr": loc.cand_indptr, "loc_ward": loc.cand_ward, "loc_edge": loc.edge,
        "loc_bounds": np.array(loc.bounds), "loc_outline": outline,
    }
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".study-area-", suffix=".tmp",
                                         delete=False) as fh:
            tmp = Path(fh.name)
            np.savez(fh, **arrays)
        tmp.chmod(0o644)  # readable like the store's files (a temporary file is private)
        os.replace(tmp, path)
        tmp = None
        kept = sorted(path.parent.glob("study-area-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[DISK_CACHE_FILES:]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:  # an unwritable folder; geometry that has no ragged form
        log.warning("could not keep the study area in %s: %s", path.parent, exc)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _read_study_area(path: Path, *, resolution: int, k: int, snap_m: float, codes: tuple[str, ...],
                     names: tuple[str, ...], geoms: np.ndarray, all_geoms: np.ndarray,
                     all_to_chosen: np.ndarray) -> StudyArea | None:
    """The study area kept in `path`, or None when there is none (or it cannot be read: then it
    is built again and the file replaced)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            a = {name: data[name] for name in data.files}
        polygons = shapely.from_ragged_array(shapely.GeometryType(int(a["poly_kind"][0])), a["poly_coords"],
                                             (a["poly_rings"], a["poly_offsets"]))
        outline = shapely.from_wkb(a["loc_outline"].tobytes())
        cells = a["cells"]
        n = len(cells)
        neighbours = sp.csr_matrix((np.ones(len(a["nb_indices"])), a["nb_indices"], a["nb_indptr"]),
                                   shape=(n, n))
        if len(polygons) != n or len(a["ward"]) != n or cells.dtype != h3cells.CELL_DTYPE:
            msg = "arrays of different lengths"
            raise ValueError(msg)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, shapely.errors.GEOSException) as exc:
        log.warning("ignoring the unreadable study-area file %s: %s", path, exc)
        return None
    area_km2, ward = a["area_km2"], a["ward"]
    ward_area = shapely.area(geoms) / 1e6
    loc_cells, interior, indptr, cand_ward, edge = (a["loc_cells"], a["loc_interior"], a["loc_indptr"],
                                                    a["loc_ward"], a["loc_edge"])
    for arr in (cells, polygons, area_km2, ward, ward_area, loc_cells, interior, indptr, cand_ward, edge,
                all_to_chosen):
        arr.flags.writeable = False
    locator = WardLocator(resolution=resolution, snap_m=float(snap_m), ward_geoms=geoms, cells=loc_cells,
                          index=pd.Index(loc_cells), interior=interior, cand_indptr=indptr,
                          cand_ward=cand_ward, edge=edge, outline=outline, all_geoms=all_geoms,
                          all_to_chosen=all_to_chosen,
                          bounds=tuple(float(v) for v in a["loc_bounds"]))
    log.debug("study area read from %s", path)
    return StudyArea(
        resolution=resolution, k=k,
        ward_codes=np.array(codes, dtype=object), ward_names=np.array(names, dtype=object),
        ward_area_km2=ward_area, ward_geoms=geoms, cells=cells, polygons=polygons,
        area_km2=area_km2, ward=ward, left_out=int(a["left_out"][0]), neighbours=neighbours,
        index=pd.Index(cells), locator=locator,
    )


# --------------------------------------------------------------------------- helpers


def _locator(resolution: int, snap_m: float, candidates: np.ndarray, polys: np.ndarray,
             geoms: np.ndarray, all_geoms: np.ndarray, all_to_chosen: np.ndarray, *,
             pairs: tuple[np.ndarray, np.ndarray, np.ndarray], edge: np.ndarray) -> WardLocator:
    """The cells and candidate wards for placing points in the chosen wards (see `WardLocator`):
    `pairs` are the (chosen ward, candidate cell, ward wholly holds the cell) overlaps; `edge`
    marks candidate cells not wholly inside one ward."""
    ward_i, cell_i, inside = pairs
    # Keep the cells a chosen ward overlaps, and those within reach where a point may be in no ward.
    keep = np.zeros(len(candidates), dtype=bool)
    keep[cell_i] = True
    if snap_m > 0:
        keep |= edge
    kept = np.flatnonzero(keep)
    remap = np.full(len(candidates), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    pos = remap[cell_i]
    interior = np.full(len(kept), -1, dtype=np.int64)
    interior[pos[inside]] = ward_i[inside]
    by_cell = np.lexsort((ward_i, pos))
    counts = np.bincount(pos, minlength=len(kept))
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    cand_ward = ward_i[by_cell].astype(np.int64)
    cells = candidates[kept]
    edge = edge[kept]
    outline = shapely.union_all(all_geoms) if snap_m > 0 else shapely.Polygon()
    for arr in (cells, interior, indptr, cand_ward, edge, all_to_chosen):
        arr.flags.writeable = False
    bounds = shapely.total_bounds(polys[kept]) if len(kept) else np.zeros(4)
    return WardLocator(resolution=resolution, snap_m=float(snap_m), ward_geoms=geoms, cells=cells,
                       index=pd.Index(cells), interior=interior, cand_indptr=indptr,
                       cand_ward=cand_ward, edge=edge, outline=outline, all_geoms=all_geoms,
                       all_to_chosen=all_to_chosen, bounds=tuple(float(v) for v in bounds))


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


def assign_wards(points: pd.DataFrame | gpd.GeoSeries, wards: gpd.GeoDataFrame, *,
                 resolution: int = 10) -> pd.Series:
    """The ward of each point, by point in polygon on the real ward boundaries.

    Parameters
    ----------
    points
        Incidents (`x`, `y` in EPSG:27700) or point geometries in any CRS.
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
    x, y, crs = h3cells.points_xy(points, hint="first")
    area = study_area(wards, resolution=resolution)
    if not crs.equals(BNG):
        x, y = _reproject(x, y, crs)
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
    return area.point_wards(x, y)


def _reproject(x: np.ndarray, y: np.ndarray, crs) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs).to_crs(BNG)
    return pts.x.to_numpy(), pts.y.to_numpy()
