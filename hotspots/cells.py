"""The one adapter between the project and H3: every call into `h3` or `h3ronpy` lives here.

Cell form. Inside the analysis an H3 cell is its 64-bit index held as ``numpy.uint64``: the
`h3_cell` column is uint64 everywhere a frame is passed between functions. Only serialised outputs
(GeoJSON properties, CSV, GeoPackage, the JSON API) write the canonical lower-case hex string
(`cells_to_str`); `str_to_cells` reads it back. The index 0 is never a cell (`NO_CELL`).

Coordinates. H3 works in latitude/longitude (WGS84), latitude first in `h3.latlng_to_cell`; the
rest of the project works in EPSG:27700 metres. The functions here take x/y in the frame's CRS,
reproject with the same pyproj transformation geopandas' `to_crs` uses, and give back hexagons in
EPSG:27700 unless asked otherwise.

Speed. `xy_to_cells` gives exactly what `h3.latlng_to_cell` gives point by point on the
reprojected coordinates. Reprojecting and indexing every point costs about 1.5 microseconds, so
for large inputs it first maps x/y straight onto the H3 lattice with a polynomial fitted to H3's
own cell centres (see `_Lattice`); only the few points within a hair's breadth of a cell edge (and
inputs where the fit cannot be validated) take the exact route, which bins each distinct
coordinate once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import h3
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely
from threadpoolctl import ThreadpoolController

from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError

log = logging.getLogger(__name__)


#: dtype of the `h3_cell` column.
CELL_DTYPE = np.dtype("uint64")
#: The index that is never a cell: used for points without one.
NO_CELL = np.uint64(0)

#: Resolutions the service accepts (10: ~0.015 km2 patrol boxes; 9: an overview).
MIN_RESOLUTION = 5
MAX_RESOLUTION = 13

#: Inputs smaller than this take the exact route: fitting the lattice would cost more.
_FAST_MIN_POINTS = 20_000
#: Points handled per step of the fast route (keeps temporaries small for 10 M points).
_CHUNK = 1 << 18
#: Largest dense lookup table of lattice coordinates -> cell, in entries (8 bytes each).
_MAX_TABLE = 4_000_000
#: Side (metres) of the square tiles that points spread over more than one lattice's reach are
#: binned in, each with its own lattice (about 40 cover England and Wales).
_TILE_M = 100_000.0
#: Fewest points of a tile worth fitting its lattice for (a fit costs about as much as binning
#: 40,000 points the exact way, but serves every later call of the process: a Dask worker bins
#: a national store month by month, a few thousand points per tile each time).
_TILE_MIN_POINTS = 5_000
#: Most tiles a tiled binning spans (Great Britain spans about 100; tile keys are 16-bit).
_MAX_TILES = 4_096


# --------------------------------------------------------------------------- basics


def check_resolution(resolution: object, *, name: str = "resolution") -> int:
    """Return `resolution` as an int, or raise `InputError` naming the allowed range."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        msg = (f"`{name}` must be a whole number from {MIN_RESOLUTION} to {MAX_RESOLUTION}, "
               f"not {resolution!r}.")
        raise InputError(msg)
    if not MIN_RESOLUTION <= int(resolution) <= MAX_RESOLUTION:
        msg = (f"`{name}` is {int(resolution)}; allowed H3 resolutions are {MIN_RESOLUTION} to "
               f"{MAX_RESOLUTION} (10 for ~0.015 km2 patrol boxes, 9 for an overview).")
        raise InputError(msg)
    return int(resolution)


def _as_cells(cells) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.dtype == object or arr.dtype.kind in "US":
        return str_to_cells(arr)
    return arr.astype(CELL_DTYPE, copy=False).ravel()


def _to_numpy(arrow_array, *, fill=None) -> np.ndarray:
    arr = pa.array(arrow_array)
    if fill is not None and arr.null_count:
        arr = arr.fill_null(fill)
    return arr.to_numpy(zero_copy_only=False)


def is_valid_cells(cells) -> np.ndarray:
    """Boolean array: which values are valid H3 cell indexes (never raises)."""
    try:
        arr = np.asarray(cells).astype(CELL_DTYPE, copy=False).ravel()
    except (TypeError, ValueError):
        return np.zeros(np.size(cells), dtype=bool)
    if not len(arr):
        return np.zeros(0, dtype=bool)
    return pa.array(h3ronpy.cells_valid(arr)).is_valid().to_numpy(zero_copy_only=False)


def get_resolutions(cells) -> np.ndarray:
    """The H3 resolution of each cell (uint8)."""
    arr = _as_cells(cells)
    if not len(arr):
        return np.zeros(0, dtype=np.uint8)
    return _to_numpy(h3ronpy.cells_resolution(arr)).astype(np.uint8)


def cells_to_str(cells) -> np.ndarray:
    """Canonical hex strings (`8a194254508ffff`) of uint64 cells; `NO_CELL` (or any invalid
    index) becomes None."""
    arr = _as_cells(cells)
    out = np.full(len(arr), None, dtype=object)
    valid = is_valid_cells(arr)
    if valid.any():
        out[valid] = _to_numpy(h3ronpy.cells_to_string(arr[valid])).astype(object)
    return out


def str_to_cells(values) -> np.ndarray:
    """uint64 cells from hex strings.

    Raises
    ------
    InputError
        A value that is not an H3 cell, naming the first one.
    """
    items = [str(v).strip().lower() for v in np.asarray(values, dtype=object).ravel()]
    if not items:
        return np.zeros(0, dtype=CELL_DTYPE)
    parsed = pa.array(h3ronpy.cells_parse(items, set_failing_to_invalid=True))
    out = parsed.fill_null(0).to_numpy(zero_copy_only=False).astype(CELL_DTYPE)
    # cells_parse also reads "x,y,res" and decimal forms: accept only hex here.
    bad = (out == NO_CELL) | np.array([not _is_hex(s) for s in items])
    if bad.any():
        i = int(np.argmax(bad))
        msg = f"{items[i]!r} is not an H3 cell; expected a hex index such as '8a194254508ffff'."
        raise InputError(msg)
    return out


def _is_hex(text: str) -> bool:
    return 1 <= len(text) <= 16 and all(c in "0123456789abcdef" for c in text)


# --------------------------------------------------------------------------- CRS plumbing


def _crs_key(crs) -> str:
    if crs is None:
        msg = "the points have no CRS; set one (e.g. EPSG:27700) with GeoDataFrame.set_crs."
        raise InputError(msg)
    return pyproj.CRS.from_user_input(crs).to_wkt()


@lru_cache(maxsize=16)
def _to_wgs84(crs_key: str) -> pyproj.Transformer:
    # The transformation geopandas' to_crs picks, so results match `to_crs(4326)` exactly.
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(crs_key), WGS84, always_xy=True)


@lru_cache(maxsize=16)
def _from_wgs84(crs_key: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(WGS84, pyproj.CRS.from_wkt(crs_key), always_xy=True)


@lru_cache(maxsize=16)
def _is_geographic(crs_key: str) -> bool:
    return pyproj.CRS.from_wkt(crs_key).is_geographic


# --------------------------------------------------------------------------- points -> cells


def latlng_to_cells(lat, lng, *, resolution: int) -> np.ndarray:
    """Exact vectorised `h3.latlng_to_cell` (degrees; latitude first like h3)."""
    lat = np.ascontiguousarray(lat, dtype="float64")
    lng = np.ascontiguousarray(lng, dtype="float64")
    if not len(lat):
        return np.zeros(0, dtype=CELL_DTYPE)
    return np.asarray(h3v.coordinates_to_cells(lat, lng, int(resolution))).astype(CELL_DTYPE, copy=False)


def _exact_xy_to_cells(x: np.ndarray, y: np.ndarray, crs_key: str, resolution: int) -> np.ndarray:
    """Reproject and index each distinct coordinate once (police.uk repeats its map points)."""
    if not len(x):
        return np.zeros(0, dtype=CELL_DTYPE)
    codes, uniques = pd.factorize(x + 1j * y)
    ux, uy = uniques.real, uniques.imag
    if _same_as_wgs84(crs_key):
        lng, lat = ux, uy
    else:
        lng, lat = _to_wgs84(crs_key).transform(ux, uy)
    return latlng_to_cells(lat, lng, resolution=resolution)[codes]


@lru_cache(maxsize=16)
def _same_as_wgs84(crs_key: str) -> bool:
    return pyproj.CRS.from_wkt(crs_key).equals(pyproj.CRS.from_user_input(WGS84))


def xy_to_cells(x, y, *, crs=BNG, resolution: int = 10, method: str = "auto") -> np.ndarray:
    """H3 cells of points given as x/y arrays in `crs`.

    Parameters
    ----------
    x, y
        Coordinates in `crs` (metres for EPSG:27700; longitude and latitude for EPSG:4326).
    crs
        Anything pyproj understands.
    resolution
        H3 resolution.
    method
        `auto` (fast route for large inputs), `exact` (reproject and index every distinct point)
        or `fast` (the fast route whatever the size; used by tests). All give the same cells.

    Returns
    -------
    numpy.ndarray
        uint64 cells, `NO_CELL` where a coordinate is not finite.
    """
    resolution = check_resolution(resolution)
    if method not in ("auto", "exact", "fast"):
        msg = f"`method` is {method!r}; allowed values: auto, exact, fast."
        raise InputError(msg)
    x = np.ascontiguousarray(x, dtype="float64").ravel()
    y = np.ascontiguousarray(y, dtype="float64").ravel()
    if x.shape != y.shape:
        msg = f"`x` and `y` must be of equal length ({len(x)} and {len(y)})."
        raise InputError(msg)
    key = _crs_key(crs)
    out = np.zeros(len(x), dtype=CELL_DTYPE)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        xs, ys = x[finite], y[finite]
    else:
        xs, ys = x, y
    if not len(xs):
        return out
    cells = None
    if method == "fast" or (method == "auto" and len(xs) >= _FAST_MIN_POINTS):
        cells = _fast_xy_to_cells(xs, ys, key, resolution,
                                  min_points=0 if method == "fast" else _TILE_MIN_POINTS)
    if cells is None:
        cells = _exact_xy_to_cells(xs, ys, key, resolution)
    else:
        todo = cells == NO_CELL
        if todo.any():
            cells[todo] = _exact_xy_to_cells(xs[todo], ys[todo], key, resolution)
    if finite.all():
        return cells
    out[finite] = cells
    return out


def point_coordinates(points: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "points") -> tuple[np.ndarray, np.ndarray]:
    """x and y of a frame's point geometries; `InputError` for a missing, empty or non-point one."""
    geoms = points.geometry.to_numpy() if isinstance(points, gpd.GeoDataFrame) else np.asarray(points.array)
    type_ids = shapely.get_type_id(geoms)
    bad = (type_ids != 0) | shapely.is_empty(geoms)
    if bad.any():
        i = int(np.argmax(bad))
        if type_ids[i] == -1:
            kind = "no geometry"
        elif type_ids[i] == 0:
            kind = "an empty point"
        else:
            kind = f"a {geoms[i].geom_type}"
        msg = (f"`{name}` row {points.index[i]!r} has {kind}; every row needs a point location "
               f"({int(bad.sum())} row(s) affected).")
        raise InputError(msg)
    return shapely.get_x(geoms), shapely.get_y(geoms)


def points_xy(points: pd.DataFrame | gpd.GeoSeries, *, name: str = "points", hint: str = "before binning") -> tuple[np.ndarray, np.ndarray, Any]:
    """x, y and CRS of points: a frame's `x`/`y` columns (EPSG:27700, as incidents hold them) or
    a GeoDataFrame's / GeoSeries' point geometries in their CRS.

    Raises
    ------
    InputError
        Neither, no CRS, or a row without a point.
    """
    if isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)) and not (
            isinstance(points, gpd.GeoDataFrame) and "x" in points.columns and "y" in points.columns):
        if points.crs is None:
            msg = f"`{name}` has no CRS; set one (e.g. EPSG:27700) with set_crs {hint}."
            raise InputError(msg)
        x, y = point_coordinates(points, name=name)
        return x, y, points.crs
    if isinstance(points, pd.DataFrame) and "x" in points.columns and "y" in points.columns:
        x = points["x"].to_numpy(dtype=np.float64, na_value=np.nan)
        y = points["y"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            i = int(np.argmax(bad))
            msg = (f"`{name}` row {points.index[i]!r} has no point location (x, y); every row needs "
                   f"one ({int(bad.sum())} row(s) affected).")
            raise InputError(msg)
        return x, y, pyproj.CRS.from_user_input(BNG)
    msg = (f"`{name}` must be a frame with x and y columns (EPSG:27700), a GeoDataFrame or a "
           f"GeoSeries, not {type(points).__name__}.")
    raise InputError(msg)


def points_to_cells(points: pd.DataFrame | gpd.GeoSeries, *, resolution: int = 10) -> pd.Series:
    """The H3 cell of each point, aligned to the input's index.

    Parameters
    ----------
    points
        Incidents (`x`, `y` in EPSG:27700) or point geometries in any CRS.
    resolution
        H3 resolution (10: ~0.015 km2 cells).

    Returns
    -------
    pandas.Series
        `h3_cell`, uint64, the same cells `h3.latlng_to_cell` gives on the points in EPSG:4326.

    Raises
    ------
    InputError
        Neither x/y columns nor a GeoDataFrame/GeoSeries, no CRS, or a row without a point.
    """
    x, y, crs = points_xy(points)
    cells = xy_to_cells(x, y, crs=crs, resolution=resolution)
    return pd.Series(cells, index=points.index, name="h3_cell", dtype=CELL_DTYPE)


# --------------------------------------------------------------------------- the fast route


@dataclass(frozen=True, eq=False)
class _Lattice:
    """A polynomial map from x/y in one CRS onto H3's hexagonal lattice at one resolution.

    H3 puts a point in the hexagon of its icosahedron face's gnomonic plane whose centre is
    nearest; in H3's local IJ coordinates those centres are the integer lattice points. Over a
    city the map from projected x/y to that plane is smooth, so a low-degree polynomial fitted
    to H3's own cell centres reproduces it to about 1e-9 of a cell; rounding to the nearest
    lattice point then gives the cell. Points whose distance to a hexagon edge is below `tol`
    (in units of the centre spacing) are left to the exact route, and the fit is validated
    against the exact route before it is used.
    """

    resolution: int
    bbox: tuple[float, float, float, float]
    centre: tuple[float, float]
    scale: float
    degree: int
    coef: np.ndarray  # (n_terms, 2): columns I and J
    tol: float
    anchor: int
    table: np.ndarray | None  # dense (ni, nj) uint64 lookup, 0 = not a cell
    i0: int
    j0: int

    def lattice(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Continuous local IJ coordinates of points."""
        u = x - self.centre[0]
        u *= 1.0 / self.scale
        w = y - self.centre[1]
        w *= 1.0 / self.scale
        return _poly_eval(u, w, self.coef[:, 0], self.degree), _poly_eval(u, w, self.coef[:, 1], self.degree)

    def cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cells of points; `NO_CELL` where the exact route must decide."""
        out = np.zeros(len(x), dtype=CELL_DTYPE)
        x0, y0, x1, y1 = self.bbox
        for start in range(0, len(x), _CHUNK):
            sl = slice(start, start + _CHUNK)
            xs, ys = x[sl], y[sl]
            inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            if not inside.all():
                xs, ys = xs[inside], ys[inside]
            ci, cj, ok = self._round(*self.lattice(xs, ys))
            cells = self._lookup(ci, cj)
            cells[~ok] = NO_CELL
            if inside.all():
                out[sl] = cells
            else:
                out[sl][inside] = cells
        return out

    def _round(self, fi: np.ndarray, fj: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Nearest hexagon centre by cube rounding: axial coordinates (q, r) = (I - J, J) use basis
        # vectors 60 degrees apart; the cube coordinate with the largest rounding error is redone.
        q = fi - fj
        s = -fi  # -q - r
        rq, rr, rs = np.rint(q), np.rint(fj), np.rint(s)
        dq, dr, ds = np.abs(rq - q), np.abs(rr - fj), np.abs(rs - s)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        rq = np.where(fix_q, -rr - rs, rq)
        rr = np.where(fix_r, -rq - rs, rr)
        ci = rq + rr
        cj = rr
        # Distance to the nearest hexagon edge: half the centre spacing minus the largest
        # projection of the offset on the three edge normals.
        di = fi - ci
        dj = fj - cj
        p = np.abs(di - 0.5 * dj)
        np.maximum(p, np.abs(0.5 * (di + dj)), out=p)
        np.maximum(p, np.abs(dj - 0.5 * di), out=p)
        ok = p < 0.5 - self.tol
        return ci.astype(np.int64), cj.astype(np.int64), ok

    def _lookup(self, ci: np.ndarray, cj: np.ndarray) -> np.ndarray:
        if self.table is not None:
            ni, nj = self.table.shape
            ri = ci - self.i0
            rj = cj - self.j0
            good = (ri >= 0) & (ri < ni) & (rj >= 0) & (rj < nj)
            cells = np.zeros(len(ci), dtype=CELL_DTYPE)
            cells[good] = self.table[ri[good], rj[good]]
            return cells
        keys = (ci << 32) ^ (cj & 0xFFFFFFFF)
        codes, uniq = pd.factorize(keys)
        ui = (uniq >> 32).astype(np.int32)
        uj = (uniq & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
        return _localij_to_cells(self.anchor, ui, uj)[codes]


def _poly_eval(u: np.ndarray, w: np.ndarray, c: np.ndarray, degree: int) -> np.ndarray:
    """Evaluate sum c[k] u^a w^b (terms ordered as `_terms`) by Horner's rule in w then u."""
    # Group the coefficients by the power of w: P = sum_b w^b Q_b(u), deg Q_b = degree - b.
    index = {t: k for k, t in enumerate(_terms(degree))}
    acc = None
    for b in range(degree, -1, -1):
        q = np.full_like(u, c[index[(degree - b, b)]])
        for a in range(degree - b - 1, -1, -1):
            q *= u
            q += c[index[(a, b)]]
        if acc is None:
            acc = q
        else:
            acc *= w
            acc += q
    return acc


def _terms(degree: int) -> list[tuple[int, int]]:
    return [(a, d - a) for d in range(degree + 1) for a in range(d, -1, -1)]


def _design(u: np.ndarray, w: np.ndarray, degree: int) -> np.ndarray:
    return np.stack([u**a * w**b for a, b in _terms(degree)], axis=1)


def _localij_to_cells(anchor: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if not len(i):
        return np.zeros(0, dtype=CELL_DTYPE)
    arr = h3ronpy.localij_to_cells(np.full(len(i), anchor, dtype=CELL_DTYPE),
                                   np.ascontiguousarray(i, dtype=np.int32),
                                   np.ascontiguousarray(j, dtype=np.int32),
                                   set_failing_to_invalid=True)
    return _to_numpy(arr, fill=0).astype(CELL_DTYPE)


def _snap_bbox(x: np.ndarray, y: np.ndarray, crs_key: str) -> tuple[float, float, float, float] | None:
    step, limit = (0.05, 2.0) if _is_geographic(crs_key) else (5000.0, 200_000.0)
    x0, x1 = float(x.min()), float(x.max())
    y0, y1 = float(y.min()), float(y.max())
    box = (math.floor(x0 / step) * step, math.floor(y0 / step) * step,
           math.ceil(x1 / step) * step + step * (x1 % step == 0),
           math.ceil(y1 / step) * step + step * (y1 % step == 0))
    if box[2] - box[0] > limit or box[3] - box[1] > limit:
        return None
    return box


def _fast_xy_to_cells(x: np.ndarray, y: np.ndarray, crs_key: str, resolution: int, *,
                      min_points: int = 0) -> np.ndarray | None:
    """Cells by the lattice route (`NO_CELL` where the exact route must decide), or None where
    there is no lattice. Points spread wider than one lattice can fit (a national store) are
    binned tile by tile: fixed `_TILE_M` squares, each with its own lattice, for tiles holding
    at least `min_points` points and half as many as they have cells (fitting a lattice for
    fewer costs more than it saves; 0: every tile)."""
    box = _snap_bbox(x, y, crs_key)
    if box is not None:
        lattice = _build_lattice(crs_key, resolution, box)
        return None if lattice is None else lattice.cells(x, y)
    if _is_geographic(crs_key):
        return None
    # Tile indices as small integers (computed in place: 20 M points make 160 MB arrays).
    fx = x / _TILE_M
    np.floor(fx, out=fx)
    fy = y / _TILE_M
    np.floor(fy, out=fy)
    tx0, ty0 = float(fx.min()), float(fy.min())
    nx, ny = int(fx.max() - tx0) + 1, int(fy.max() - ty0) + 1
    if nx * ny > _MAX_TILES:  # points a continent apart: no tiling
        return None
    fx -= tx0
    fx *= ny
    fy -= ty0
    fx += fy
    # Few tiles: a 16-bit key sorts in linear time (radix sort).
    tile = fx.astype(np.int16)
    del fx, fy
    if min_points:
        # A lattice's lookup table costs about as much as binning half as many points as the
        # tile has cells the exact way: at resolution 10 a tile needs some 300,000 points.
        tile_cells = _TILE_M**2 / float(h3.average_hexagon_area(resolution, unit="m^2"))
        min_points = max(min_points, int(tile_cells / 2))
    sizes = np.bincount(tile)
    worth = np.flatnonzero(sizes >= max(min_points, 1))
    if not len(worth):
        return None
    order = np.argsort(tile, kind="stable")
    ends = np.cumsum(sizes)
    out = np.zeros(len(x), dtype=CELL_DTYPE)
    for t in worth.tolist():
        rows = order[ends[t] - sizes[t]:ends[t]]
        i, j = divmod(t, ny)
        left, bottom = (tx0 + i) * _TILE_M, (ty0 + j) * _TILE_M
        box = (left, bottom, left + _TILE_M, bottom + _TILE_M)
        out[rows] = _tile_cells(x[rows], y[rows], crs_key, resolution, box, split=True)
    return out


def _tile_cells(x: np.ndarray, y: np.ndarray, crs_key: str, resolution: int,
                box: tuple[float, float, float, float], *, split: bool) -> np.ndarray:
    """Cells of points inside `box` by its lattice; where no lattice fits the box (an H3
    icosahedron face edge crosses it), by the lattices of its quarters, once (`split`)."""
    # Half the side of the widest single lattice: half the mesh samples it as densely.
    lattice = _build_lattice(crs_key, resolution, box, grid=32)
    if lattice is not None:
        return lattice.cells(x, y)
    out = np.zeros(len(x), dtype=CELL_DTYPE)
    if not split:
        return out
    left, bottom, right, top = box
    mx, my = (left + right) / 2, (bottom + top) / 2
    east, north = x >= mx, y >= my
    for is_east in (False, True):
        for is_north in (False, True):
            rows = np.flatnonzero((east == is_east) & (north == is_north))
            if len(rows):
                quarter = (mx if is_east else left, my if is_north else bottom,
                           right if is_east else mx, top if is_north else my)
                out[rows] = _tile_cells(x[rows], y[rows], crs_key, resolution, quarter, split=False)
    return out


@lru_cache(maxsize=128)
def _build_lattice(crs_key: str, resolution: int, bbox: tuple[float, float, float, float], *,
                   grid: int = 64) -> _Lattice | None:
    """Fit and validate the lattice map over `bbox` on H3 cells sampled on a `grid` x `grid`
    mesh; None when it cannot be trusted there."""
    fwd = _to_wgs84(crs_key)
    inv = _from_wgs84(crs_key)
    x0, y0, x1, y1 = bbox
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = max(x1 - x0, y1 - y0) / 2
    try:
        gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
        lng, lat = fwd.transform(gx.ravel(), gy.ravel())
        control = np.unique(latlng_to_cells(lat, lng, resolution=resolution))
        lng_c, lat_c = fwd.transform(cx, cy)
        anchor = int(latlng_to_cells([lat_c], [lng_c], resolution=resolution)[0])
        ij = pa.record_batch(h3ronpy.cells_to_localij(control, np.full(len(control), anchor, dtype=CELL_DTYPE),
                                                      set_failing_to_invalid=True))
        if ij.column("i").null_count or ij.column("j").null_count:
            return None
        target = np.stack([ij.column("i").to_numpy(), ij.column("j").to_numpy()], axis=1).astype(float)
        clat, clng = cells_to_latlng(control)
        px, py = _solve_forward(clng, clat, fwd, inv)
    except (pyproj.exceptions.ProjError, ValueError) as exc:  # pragma: no cover - exotic CRS
        log.debug("no fast H3 lattice for %s: %s", bbox, exc)
        return None
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        return None
    u, w = (px - cx) / scale, (py - cy) / scale
    chosen = None
    # A few thousand rows by 10-21 terms: one BLAS thread is several times faster than several
    # contending for a busy machine's cores (national data fits dozens of lattices).
    with _threads().limit(limits=1, user_api="blas"):
        for degree in (3, 4, 5):
            n_terms = len(_terms(degree))
            if len(control) < 4 * n_terms:
                return None
            a = _design(u, w, degree)
            fit_rows = np.arange(len(control)) % 2 == 0
            coef, *_ = np.linalg.lstsq(a[fit_rows], target[fit_rows], rcond=None)
            held_out = float(np.abs(a[~fit_rows] @ coef - target[~fit_rows]).max())
            if held_out <= 1e-6:
                coef, *_ = np.linalg.lstsq(a, target, rcond=None)
                resid = max(held_out, float(np.abs(a @ coef - target).max()))
                chosen = (degree, coef, resid)
                break
    if chosen is None:
        log.debug("H3 lattice fit over %s not precise enough; using the exact route", bbox)
        return None
    degree, coef, resid = chosen
    tol = max(1e-5, 100.0 * resid)
    lattice = _Lattice(resolution, bbox, (cx, cy), scale, degree, coef, tol, anchor, None, 0, 0)
    # The lattice coordinates the box can reach: the polynomial is close to affine, so the
    # extremes lie on the box's edge.
    edge = np.linspace(0.0, 1.0, 200)
    bx = np.concatenate([x0 + (x1 - x0) * edge, np.full(200, x1), x1 - (x1 - x0) * edge, np.full(200, x0)])
    by = np.concatenate([np.full(200, y0), y0 + (y1 - y0) * edge, np.full(200, y1), y1 - (y1 - y0) * edge])
    fi, fj = lattice.lattice(bx, by)
    i0, i1 = int(np.floor(fi.min())) - 2, int(np.ceil(fi.max())) + 2
    j0, j1 = int(np.floor(fj.min())) - 2, int(np.ceil(fj.max())) + 2
    if (i1 - i0 + 1) * (j1 - j0 + 1) <= _MAX_TABLE:
        gi, gj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
        table = _localij_to_cells(anchor, gi.ravel(), gj.ravel()).reshape(gi.shape)
        lattice = _Lattice(resolution, bbox, (cx, cy), scale, degree, coef, tol, anchor, table, i0, j0)
    # Validate against the exact route on points spread over the box.
    rng = np.random.default_rng(12345)
    vx = rng.uniform(x0, x1, 4000)
    vy = rng.uniform(y0, y1, 4000)
    fast = lattice.cells(vx, vy)
    exact = _exact_xy_to_cells(vx, vy, crs_key, resolution)
    decided = fast != NO_CELL
    if (fast[decided] != exact[decided]).any() or decided.mean() < 0.99:
        log.warning("the fast H3 lattice over %s disagrees with h3; using the exact route", bbox)
        return None
    return lattice


@lru_cache(maxsize=1)
def _threads() -> ThreadpoolController:
    """The loaded thread pools (found once: the search costs milliseconds per call)."""
    return ThreadpoolController()


def _solve_forward(lng: np.ndarray, lat: np.ndarray, fwd: pyproj.Transformer,
                   inv: pyproj.Transformer) -> tuple[np.ndarray, np.ndarray]:
    """x/y whose *forward* transformation gives lng/lat.

    The inverse transformation is not the exact inverse of the forward one (the Helmert step of
    OSGB36 -> WGS84 is linearised, about 1.5 mm apart), and points are binned through the forward
    one, so refine with two Newton steps.
    """
    px, py = inv.transform(lng, lat)
    eps = 1e-6
    ax, ay = inv.transform(lng + eps, lat)
    bx, by = inv.transform(lng, lat + eps)
    jxx, jyx = (ax - px) / eps, (ay - py) / eps
    jxy, jyy = (bx - px) / eps, (by - py) / eps
    for _ in range(2):
        flng, flat = fwd.transform(px, py)
        dlng, dlat = flng - lng, flat - lat
        px = px - (jxx * dlng + jxy * dlat)
        py = py - (jyx * dlng + jyy * dlat)
    return px, py


# --------------------------------------------------------------------------- cells -> geometry


def cells_to_latlng(cells) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of cell centres."""
    arr = _as_cells(cells)
    if not len(arr):
        return np.zeros(0), np.zeros(0)
    rb = pa.record_batch(h3v.cells_to_coordinates(arr))
    return rb.column("lat").to_numpy(), rb.column("lng").to_numpy()


def cells_to_polygons(cells, *, crs=BNG) -> np.ndarray:
    """Hexagons of cells as shapely Polygons in `crs` (vertices reprojected, edges straight)."""
    arr = _as_cells(cells)
    if not len(arr):
        return np.zeros(0, dtype=object)
    polys = shapely.from_wkb(_to_numpy(h3v.cells_to_wkb_polygons(arr)))
    key = _crs_key(crs)
    if _same_as_wgs84(key):
        return polys
    # Neighbouring hexagons share vertices: reproject each distinct vertex once.
    coords = shapely.get_coordinates(polys)
    codes, uniques = pd.factorize(coords[:, 0] + 1j * coords[:, 1])
    ux, uy = _from_wgs84(key).transform(uniques.real, uniques.imag)
    return shapely.set_coordinates(polys, np.column_stack([ux[codes], uy[codes]]))


def cells_to_gdf(cells, *, crs=BNG) -> gpd.GeoDataFrame:
    """A GeoDataFrame of cells: `h3_cell` (uint64) and the hexagon `geometry` in `crs` (EPSG:27700)."""
    arr = _as_cells(cells)
    return gpd.GeoDataFrame({"h3_cell": pd.Series(arr, dtype=CELL_DTYPE)},
                            geometry=cells_to_polygons(arr, crs=crs), crs=crs)


# --------------------------------------------------------------------------- areas and neighbours


def polygons_to_cells(geoms, *, crs=BNG, resolution: int = 10) -> np.ndarray:
    """Sorted distinct cells that may overlap the polygons: a superset for the caller to test.

    Every cell whose hexagon reaches the polygons has its centre within one circumradius of
    them, so this takes the cells whose centre lies in the polygons widened by 1.5 average edge
    lengths (the circumradius of a hexagon equals its edge).
    """
    resolution = check_resolution(resolution)
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return np.zeros(0, dtype=CELL_DTYPE)
    key = _crs_key(crs)
    if _is_geographic(key):  # pragma: no cover - the project passes EPSG:27700
        msg = "`crs` must be a projected CRS in metres, such as EPSG:27700."
        raise InputError(msg)
    radius_m = 1.5 * float(h3.average_hexagon_edge_length(resolution, unit="m"))
    widened = shapely.buffer(shapely.union_all(geoms), radius_m, quad_segs=4)
    transformer = _to_wgs84(key)
    widened = shapely.transform(widened, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    found = h3v.wkb_to_cells(shapely.to_wkb(np.array([widened], dtype=object)), resolution,
                             containment_mode=h3v.ContainmentMode.ContainsCentroid, flatten=True)
    return np.unique(_to_numpy(found).astype(CELL_DTYPE))


def grid_disk_pairs(cells, *, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every cell within `k` steps of each cell, itself included.

    Returns
    -------
    (origin, neighbour)
        `origin` is the position in `cells` (int64), `neighbour` the uint64 cell, one pair per
        neighbour.
    """
    arr = _as_cells(cells)
    if not len(arr):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=CELL_DTYPE)
    disks = pa.array(h3ronpy.grid_disk(arr, int(k)))
    offsets = disks.offsets.to_numpy()
    values = disks.values.to_numpy(zero_copy_only=False).astype(CELL_DTYPE)
    origin = np.repeat(np.arange(len(arr), dtype=np.int64), np.diff(offsets))
    return origin, values


def cell_area_km2(resolution: int) -> float:
    """Average hexagon area at a resolution, in km2 (for messages; real areas vary by a few %)."""
    return float(h3.average_hexagon_area(check_resolution(resolution), unit="km^2"))
