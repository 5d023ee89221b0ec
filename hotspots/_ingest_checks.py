"""Column-wise checks and conversions shared by the incident readers: numbers, coordinates, dates,
crime types, ids. Each works on whole columns (Arrow or numpy) and records what it finds in a
`ProblemLog`; Python loops run only over distinct values or over the rows that need a message."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from hotspots.crs import BNG
from hotspots.errors import Problem
from hotspots.schema import categorise
from hotspots.settings import CATEGORIES, Settings

try:  # the optional C extension (setup.py): the same digests as hashlib, without the GIL
    from hotspots import _rowhash
except ImportError:  # pragma: no cover - built wherever a C compiler is present
    _rowhash = None

log = logging.getLogger(__name__)

#: Problems shown per file, kind and column; the rest are counted in one summary problem.
MAX_PROBLEMS_PER_KIND = 100

#: Great Britain, with a margin: longitude/latitude (WGS84) and British National Grid metres.
GB_LON = (-8.7, 1.9)
GB_LAT = (49.8, 60.9)
GB_EASTING = (0.0, 700_000.0)
GB_NORTHING = (0.0, 1_300_000.0)

DERIVED_PREFIX = "derived-"

PRECISION_CODES = {"month": 0, "day": 1, "minute": 2}


class ProblemLog:
    """Collects problems; beyond `cap` per (file, kind, column) it counts them instead."""

    def __init__(self, cap: int = MAX_PROBLEMS_PER_KIND) -> None:
        self.cap = cap
        self.items: list[Problem] = []
        self._shown: Counter = Counter()
        self._more: Counter = Counter()

    def __bool__(self) -> bool:
        return bool(self.items) or bool(self._more)

    def __len__(self) -> int:
        return len(self.items) + sum(self._more.values())

    def add(self, problem: Problem) -> None:
        self.items.append(problem)

    def extend(self, problems: Sequence[Problem]) -> None:
        self.items.extend(problems)

    def add_rows(self, file: str, rows: np.ndarray, column: str | None,
                 values: Callable[[np.ndarray], Sequence[str | None]] | None,
                 expected: str, kind: str, positions: np.ndarray | None = None) -> None:
        """One problem per row, up to the cap.

        `rows` are spreadsheet row numbers; `values(positions[:k])` gives the shown values for the
        first k rows (called once, only for the rows shown).
        """
        n = len(rows)
        if n == 0:
            return
        key = (file, kind, column)
        room = max(0, self.cap - self._shown[key])
        shown = min(room, n)
        if shown:
            pos = (positions if positions is not None else np.arange(n))[:shown]
            vals = list(values(pos)) if values is not None else [None] * shown
            for r, v in zip(rows[:shown], vals, strict=True):
                self.items.append(Problem(file, int(r), column, None if v is None else str(v),
                                          expected, kind))
            self._shown[key] += shown
        if n > shown:
            self._more[key] += n - shown

    def problems(self) -> list[Problem]:
        """Every problem, with one summary per (file, kind, column) that went over the cap."""
        out = list(self.items)
        for (file, kind, column), more in self._more.items():
            out.append(Problem(file, None, column, None,
                               f"{more:,} more rows like this ({kind})", kind))
        return out


# --- text columns -------------------------------------------------------------------------------


def chunks_of(col: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    """The chunks of a chunked array, or the array itself as its one chunk."""
    return list(col.chunks) if isinstance(col, pa.ChunkedArray) else [col]


def chunk_bounds(chunks: Sequence[pa.Array]) -> np.ndarray:
    """Where each chunk starts in the whole column, and (last) the column's length."""
    return np.cumsum([0, *(len(c) for c in chunks)])


def combined(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (dictionary chunks unified first)."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 0:
            return pa.array([], type=col.type)
        if pa.types.is_dictionary(col.type) and col.num_chunks > 1:
            col = col.unify_dictionaries()
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def as_dictionary(col) -> pa.DictionaryArray:
    """`col` as one dictionary array of strings ("" for missing values)."""
    if not pa.types.is_dictionary(col.type):
        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        if col.null_count:
            col = pc.fill_null(col, "")
        encoded = pc.dictionary_encode(col)
        if isinstance(encoded, pa.ChunkedArray):
            shared = _shared_dictionary(encoded)
            encoded = shared if shared is not None else pc.dictionary_encode(combined(col))
        return encoded
    arr = combined(col)
    if arr.null_count:
        arr = pc.dictionary_encode(pc.fill_null(pc.cast(arr, pa.string()), ""))
    return arr


def _shared_dictionary(encoded: pa.ChunkedArray) -> pa.DictionaryArray | None:
    """One array from the chunks of a dictionary-encoded column, without unifying them.

    Arrow encodes the chunks of a column with one memo table, so each chunk's dictionary is the
    start of the last one and the indices already agree; checked, since that is Arrow's
    behaviour rather than its promise (None when it does not hold).
    """
    if encoded.num_chunks == 0:
        return pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string()))
    chunks = encoded.chunks
    final = max((c.dictionary for c in chunks), key=len)
    for c in chunks:
        # A spot check at both ends of each chunk's dictionary (a full one would cost as much as
        # unifying the dictionaries for a column of mostly distinct values).
        d = c.dictionary
        if len(d) and (d[0] != final[0] or d[len(d) - 1] != final[len(d) - 1]):
            return None
    return pa.DictionaryArray.from_arrays(pa.concat_arrays([c.indices for c in chunks]), final)


def as_strings(col) -> pa.Array | pa.ChunkedArray:
    """`col` as strings with surrounding whitespace removed ("" for missing); chunks are kept."""
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    if col.null_count:
        col = pc.fill_null(col, "")
    chunks = chunks_of(col)
    if any(_may_need_trim(c) for c in chunks):
        col = pc.utf8_trim_whitespace(col)
    return col


_SPACE = np.zeros(256, dtype=bool)
# ASCII white space, and the lead and continuation bytes of Unicode spaces (no-break, Ogham,
# general punctuation, ideographic): any of them sends the column through the real trim.
_SPACE[[9, 10, 11, 12, 13, 32, 0xC2, 0xE1, 0xE2, 0xE3, 0x80, 0x85, 0xA0]] = True


def _offsets(arr: pa.Array) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)


def _may_need_trim(arr: pa.Array) -> bool:
    """False when no value starts or ends with a byte of a space character (cheap, vectorised)."""
    n = len(arr)
    if n == 0 or arr.null_count:
        return n > 0
    if arr.buffers()[2] is None:
        return False
    offsets = _offsets(arr)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    nonempty = ends > starts
    if not nonempty.all():
        starts, ends = starts[nonempty], ends[nonempty]
    return bool(_SPACE[data[starts]].any() or _SPACE[data[ends - 1]].any())


def lengths(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Length of each string in bytes (0 for missing)."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 0:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([lengths(c) for c in arr.chunks])
    if pa.types.is_string(arr.type) and not arr.null_count:
        return np.diff(_offsets(arr))
    return pc.binary_length(arr).fill_null(0).to_numpy(zero_copy_only=False)


def values_at(col) -> Callable[[np.ndarray], list[str | None]]:
    """A function giving the text of `col` at some positions (for problem messages)."""
    def take(pos: np.ndarray) -> list[str | None]:
        values = col.take(pa.array(np.asarray(pos, dtype=np.int64), type=pa.int64()))
        return [None if v is None else str(v) for v in values.to_pylist()]
    return take


# --- numbers and coordinates --------------------------------------------------------------------


def _parse_numbers(words: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with NaN where empty or bad, empty mask, bad mask) of a small array of texts."""
    words = pc.utf8_trim_whitespace(pc.fill_null(words, ""))
    empty = lengths(words) == 0
    try:
        parsed = pc.cast(pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), words),
                         pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = pd.to_numeric(pd.Series(words.to_numpy(zero_copy_only=False), dtype=object),
                               errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    parsed = np.array(parsed, dtype="float64")  # a writable copy
    bad = ~empty & ~np.isfinite(parsed)
    parsed[bad | empty] = np.nan
    return parsed, empty, bad


@dataclass
class Pairs:
    """The distinct coordinate pairs of a file and which one each row has."""

    x: np.ndarray  # per pair: float64, NaN where empty or not a number
    y: np.ndarray
    x_empty: np.ndarray  # per pair: bool
    y_empty: np.ndarray
    x_bad: np.ndarray  # per pair: text that is not a finite number
    y_bad: np.ndarray
    codes: np.ndarray  # per row: index of its pair


_SEP = "\x1f"


def text_pairs(x_col, y_col) -> Pairs:
    """Distinct pairs of two text columns: the pair texts are encoded as one column, so each
    distinct pair is parsed, checked and projected once (police.uk snaps points to a few
    thousand map points)."""
    x_col, y_col = _text(x_col), _text(y_col)
    encoded = as_dictionary(pc.binary_join_element_wise(x_col, y_col, _SEP))
    words = encoded.dictionary
    if len(words) and pc.max(pc.count_substring(words, _SEP)).as_py() > 1:
        # A value holds the separator itself: encode the columns one by one instead.
        xe, ye = as_dictionary(x_col), as_dictionary(y_col)
        xv, xem, xb = _parse_numbers(xe.dictionary)
        yv, yem, yb = _parse_numbers(ye.dictionary)
        xi = xe.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        yi = ye.indices.to_numpy(zero_copy_only=False)
        codes, keys = pd.factorize(xi * len(yv) + yi)
        xk, yk = keys // len(yv), keys % len(yv)
        return Pairs(xv[xk], yv[yk], xem[xk], yem[yk], xb[xk], yb[yk], codes)
    parts = pc.split_pattern(words, _SEP, max_splits=1)
    xv, xem, xb = _parse_numbers(pc.list_element(parts, 0))
    yv, yem, yb = _parse_numbers(pc.list_element(parts, 1))
    return Pairs(xv, yv, xem, yem, xb, yb, encoded.indices.to_numpy(zero_copy_only=False))


def float_pairs(x_col, y_col) -> Pairs:
    """Distinct pairs of two columns the reader parsed as finite numbers (null where empty).

    An empty coordinate is NaN in its pair: rows with no x (or no y, or neither) share pairs
    flagged empty."""
    x = _floats(x_col)
    y = _floats(y_col)
    codes, ux, uy = _factorize_pairs(x, y)
    xe, ye = np.isnan(ux), np.isnan(uy)
    no = np.zeros(len(ux), dtype=bool)
    return Pairs(ux, uy, xe, ye, no, no.copy(), codes)


def _factorize_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code of each (x, y) pair, and the distinct pairs, compared bit for bit.

    The pairs are first told apart by a 64-bit mix of their bits (one integer hash, several
    times faster than hashing the pairs as complex numbers). Rows with the same mix and the same
    x have the same y (the mix and x give y back), so checking x confirms that the mix merged
    only equal pairs; the slow way is taken in the unlikely case it did not.
    """
    xb, yb = x.view(np.uint64), y.view(np.uint64)
    with np.errstate(over="ignore"):
        mix = xb * _MIX
    mix ^= yb
    encoded = pc.dictionary_encode(pa.array(mix))  # Arrow's hash table: twice pandas' speed
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    some = np.empty(len(encoded.dictionary), dtype=np.int64)
    some[codes] = np.arange(len(x))  # a row of each code (any will do: the check follows)
    if not np.array_equal(xb[some][codes], xb):  # a collision of the mix: sort the pairs
        keys = np.empty(len(x), dtype=[("x", "<u8"), ("y", "<u8")])
        keys["x"], keys["y"] = xb, yb
        _, some, codes = np.unique(keys, return_index=True, return_inverse=True)
        codes = codes.ravel().astype(np.int32)
    return codes, x[some], y[some]


#: Odd 64-bit multiplier of the mixes that key ids and coordinate pairs (the golden ratio's
#: fraction, as in Fibonacci hashing).
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _floats(col) -> np.ndarray:
    """A float column as one numpy array, NaN where null (read-only when it is one chunk)."""
    chunks = chunks_of(col)
    if not chunks:
        return np.zeros(0, dtype="float64")
    parts = [c.to_numpy(zero_copy_only=False) for c in chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def rows_at(col: pa.Array | pa.ChunkedArray, pos: np.ndarray) -> pa.Array:
    """The values of `col` at the ascending positions `pos`, as one array (dictionaries
    decoded); each chunk gives its own rows, so the column is never copied whole."""
    chunks = chunks_of(col)
    bounds = chunk_bounds(chunks)
    cut = np.searchsorted(pos, bounds)
    out = []
    for chunk, start, lo, hi in zip(chunks, bounds[:-1], cut[:-1], cut[1:], strict=True):
        if hi > lo:
            part = chunk.take(pa.array(pos[lo:hi] - start, type=pa.int64()))
            out.append(part.dictionary_decode() if pa.types.is_dictionary(part.type) else part)
    value_type = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    return pa.concat_arrays(out) if out else pa.array([], type=value_type)


def numbers_at(col, pos: np.ndarray) -> np.ndarray:
    """The numbers of a coordinate column (numbers, or text parsed as `text_pairs` does) at the
    ascending rows `pos`; NaN where empty or not a number."""
    values = rows_at(col, pos)
    if pa.types.is_floating(col.type):
        return values.to_numpy(zero_copy_only=False)
    values, _, _ = _parse_numbers(values)
    return values


def coordinate_text(values: np.ndarray) -> pa.Array:
    """Each coordinate as canonical text: six decimals (as police.uk writes them) when that
    is exact, else the shortest text that reads back as the same number; "" for none.

    Derived ids are made from this text rather than the file's, so a file whose coordinates
    were re-saved as "-1.53" instead of "-1.530000" still gives the same ids. (Six decimals
    hold for values under about 4.5e9 in size; beyond, where no coordinate lies, the shortest
    text is used.)

    Vectorised: a value is a six-decimal number exactly when its millionths, rounded to an
    integer and divided back, give the value again (the quotient of two exact doubles is
    correctly rounded, and the next six-decimal number is much further away than the rounding
    error); those integers are printed in pieces. Only the others go through Python.
    """
    values = np.asarray(values, dtype="float64")
    with np.errstate(invalid="ignore", over="ignore"):
        small = np.isfinite(values) & (np.abs(values) < 2**52 / 1e6)
        millionths = np.where(small, np.round(values * 1e6), 0.0)
        exact = small & (millionths / 1e6 == values)
    whole = np.abs(millionths).astype(np.int64)
    sign = np.where(np.signbit(values), "-", "")
    text = pc.binary_join_element_wise(
        pa.array(sign, type=pa.string()),
        pc.cast(pa.array(whole // 1_000_000), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(whole % 1_000_000), pa.string()), 6, "0"),
        "",
    )
    text = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, -6), pc.utf8_slice_codeunits(text, -6), ".")
    other = np.flatnonzero(~exact)
    if len(other):
        patch = ["" if v != v else repr(v) for v in values[other].tolist()]
        text = pc.replace_with_mask(text, pa.array(~exact), pa.array(patch, type=pa.string()))
    return text


def number_pairs(x: np.ndarray, y: np.ndarray, missing: np.ndarray) -> Pairs:
    """Distinct pairs of two float columns; rows in `missing` have no coordinates."""
    valid = ~missing & np.isfinite(x) & np.isfinite(y)
    codes = np.empty(len(x), dtype=np.int64)
    inverse, uniq = pd.factorize(x[valid] + 1j * y[valid])
    codes[valid] = inverse
    codes[~valid] = len(uniq)  # one more pair: no coordinates
    empty = np.zeros(len(uniq) + 1, dtype=bool)
    empty[-1] = True
    ux = np.append(np.ascontiguousarray(uniq.real), np.nan)
    uy = np.append(np.ascontiguousarray(uniq.imag), np.nan)
    no = np.zeros(len(empty), dtype=bool)
    return Pairs(ux, uy, empty, empty.copy(), no, no.copy(), codes)


def _text(col):
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return pc.fill_null(col, "") if col.null_count else col


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> pyproj.Transformer | None:
    """The transformation geopandas' `to_crs` would use (the best available), or None for none."""
    if pyproj.CRS.from_user_input(src) == pyproj.CRS.from_user_input(dst):
        return None
    return pyproj.Transformer.from_crs(src, dst, always_xy=True, only_best=False)


def prepare_transform(crs: pyproj.CRS, dst: str = BNG) -> None:
    """Set the transformation from `crs` up ahead of use: PROJ lists the candidates when the
    transformer is made and picks one at the first point it transforms (here, one in Leeds)."""
    tr = _transformer(crs.to_string(), dst)
    if tr is not None:
        x, y = (-1.55, 53.8) if crs.is_geographic else (430_000.0, 433_000.0)
        if not crs.is_geographic:
            x, y = _transformer(BNG, crs.to_string()).transform(x, y, errcheck=False)
        with np.errstate(all="ignore"):
            tr.transform(x, y, errcheck=False)


def transform(x: np.ndarray, y: np.ndarray, src: str, dst: str = BNG) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates from CRS `src` to `dst` (longitude first for geographic CRSs)."""
    tr = _transformer(src, dst)
    if tr is None:
        return x, y
    with np.errstate(all="ignore"):
        ox, oy = tr.transform(x, y, errcheck=False)
    return np.asarray(ox, dtype="float64"), np.asarray(oy, dtype="float64")


def _within(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (v >= lo_hi[0]) & (v <= lo_hi[1])


@dataclass
class Located:
    """The distinct coordinate pairs checked against Great Britain and built as BNG points."""

    pairs: Pairs
    inside: np.ndarray  # per pair: within Great Britain
    swapped: np.ndarray  # per pair: within Great Britain the other way round
    shapes: np.ndarray  # per pair: the BNG Point where inside, else None
    projected: bool  # the CRS was neither geographic nor BNG (checked after converting)

    def per_row(self, per_pair: np.ndarray) -> np.ndarray:
        return per_pair[self.pairs.codes]

    @property
    def no_location(self) -> np.ndarray:
        return self.per_row(self.pairs.x_empty & self.pairs.y_empty)

    def geometry(self, keep: np.ndarray) -> np.ndarray:
        """The Points of the rows in `keep` (bool), in row order."""
        return self.shapes[self.pairs.codes[keep]]


class PointCache:
    """Coordinate pairs already checked and built during one read, by CRS and value: police.uk
    files repeat the same anonymous map points month after month."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]] = {}

    def lookup(self, crs: str, x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Index of each (x, y) in the cache, -1 where it is new or not `valid`."""
        found = np.full(len(x), -1, dtype=np.int64)
        if crs in self._known and valid.any():
            found[valid] = self._known[crs][0].get_indexer(x[valid] + 1j * y[valid])
        return found

    def get(self, crs: str) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
        return self._known[crs]

    def add(self, crs: str, x: np.ndarray, y: np.ndarray, valid: np.ndarray, inside: np.ndarray,
            swapped: np.ndarray, shapes: np.ndarray) -> None:
        """Remember the `valid` pairs (each value once)."""
        keys = x[valid] + 1j * y[valid]
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)
        take = np.flatnonzero(valid)[first]
        keys, inside, swapped, shapes = keys[first], inside[take], swapped[take], shapes[take]
        if crs in self._known:
            k, i, s, p = self._known[crs]
            keys = np.concatenate([k.to_numpy(), keys])
            inside, swapped = np.concatenate([i, inside]), np.concatenate([s, swapped])
            shapes = np.concatenate([p, shapes])
        self._known[crs] = (pd.Index(keys), inside, swapped, shapes)


def locate(pairs: Pairs, crs: pyproj.CRS, cache: PointCache | None = None) -> Located:
    """Check and project each distinct pair once and build its Point; records no problems.

    With a `cache`, pairs met in earlier files of the same read are not built again.
    """
    p = pairs
    src = crs.to_string()
    n = len(p.x)
    inside = np.zeros(n, dtype=bool)
    swapped = np.zeros(n, dtype=bool)
    shapes = np.full(n, None, dtype=object)
    valid_all = ~(p.x_empty | p.y_empty | p.x_bad | p.y_bad)
    todo = np.arange(n)
    if cache is not None:
        known = cache.lookup(src, p.x, p.y, valid_all)
        hit = known >= 0
        if hit.any():
            _, c_inside, c_swapped, c_shapes = cache.get(src)
            inside[hit], swapped[hit] = c_inside[known[hit]], c_swapped[known[hit]]
            shapes[hit] = c_shapes[known[hit]]
            todo = np.flatnonzero(~hit)
    x, y = p.x[todo], p.y[todo]
    valid = valid_all[todo]
    ex, en = transform(x, y, src)
    projected = not crs.is_geographic and _transformer(src, BNG) is not None
    if crs.is_geographic:
        cx, cy, xr, yr = x, y, GB_LON, GB_LAT
    else:
        cx, cy, xr, yr = ex, en, GB_EASTING, GB_NORTHING
    new_inside = valid & _within(cx, xr) & _within(cy, yr)
    new_swapped = valid & ~new_inside & _within(cy, xr) & _within(cx, yr)
    new_shapes = np.full(len(todo), None, dtype=object)
    where = np.flatnonzero(new_inside)
    new_shapes[where] = shapely.points(ex[where], en[where])
    inside[todo], swapped[todo], shapes[todo] = new_inside, new_swapped, new_shapes
    if cache is not None and len(todo):
        cache.add(src, x, y, valid, new_inside, new_swapped, new_shapes)
    return Located(pairs, inside, swapped, shapes, projected)


def check_located(
    loc: Located, *, active: np.ndarray, crs: pyproj.CRS, file: str,
    rows: Callable[[np.ndarray], np.ndarray], x_name: str, y_name: str, x_text: Callable,
    y_text: Callable, problems: ProblemLog,
) -> np.ndarray:
    """Record the coordinate problems of the `active` rows; return which rows have a good point.

    Each kind of problem is looked for among the distinct pairs first, so a clean file costs one
    lookup per row.
    """
    p = loc.pairs
    for m_pair, m_name, o_name in ((p.x_empty & ~p.y_empty, x_name, y_name),
                                   (p.y_empty & ~p.x_empty, y_name, x_name)):
        if m_pair.any():
            pos = np.flatnonzero(loc.per_row(m_pair) & active)
            problems.add_rows(file, rows(pos), m_name, None,
                              f"is empty while {o_name} is given; give both coordinates or neither",
                              "missing coordinate", pos)
    for bad, name, text in ((p.x_bad, x_name, x_text), (p.y_bad, y_name, y_text)):
        if bad.any():
            pos = np.flatnonzero(loc.per_row(bad) & active)
            problems.add_rows(file, rows(pos), name, text, "is not a number", "not a number", pos)

    if crs.is_geographic:
        what = (f"is outside Great Britain (expected longitude {GB_LON[0]} to {GB_LON[1]} and "
                f"latitude {GB_LAT[0]} to {GB_LAT[1]})")
        swap_text = "latitude and longitude look swapped (the other way round they are in Great Britain)"
    else:
        what = (f"is outside Great Britain (expected easting {GB_EASTING[0]:.0f} to "
                f"{GB_EASTING[1]:.0f} and northing {GB_NORTHING[0]:.0f} to {GB_NORTHING[1]:.0f} "
                "metres in British National Grid)")
        swap_text = "easting and northing look swapped (the other way round they are in Great Britain)"
        if loc.projected:
            what = what.replace("is outside", "converted to British National Grid is outside")
    valid = ~(p.x_empty | p.y_empty | p.x_bad | p.y_bad)
    outside = valid & ~loc.inside & ~loc.swapped

    def pair_text(pos: np.ndarray) -> list[str]:
        return [f"{a}, {b}" for a, b in zip(x_text(pos), y_text(pos), strict=True)]

    pair_name = f"{x_name}/{y_name}"
    for flag, expected, kind in ((loc.swapped, swap_text, "swapped coordinates"),
                                 (outside, what, "outside Great Britain")):
        if flag.any():
            pos = np.flatnonzero(loc.per_row(flag) & active)
            problems.add_rows(file, rows(pos), pair_name, pair_text, expected, kind, pos)
    return loc.per_row(loc.inside) & active


# --- dates --------------------------------------------------------------------------------------

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def _month_starts(words: Sequence[str | None], tz: str) -> tuple[np.ndarray, np.ndarray]:
    """First instant in `tz` of each `YYYY-MM` month, as UTC nanoseconds; and a bad mask."""
    ns = np.zeros(len(words), dtype=np.int64)
    bad = np.zeros(len(words), dtype=bool)
    for i, word in enumerate(words):
        m = _MONTH.match(word or "")
        if m is None or not 1 <= int(m.group(2)) <= 12 or not 1900 <= int(m.group(1)) < 2200:
            bad[i] = True
            continue
        ns[i] = pd.Timestamp(int(m.group(1)), int(m.group(2)), 1).tz_localize(
            tz, nonexistent="shift_forward", ambiguous=True).value
    return ns, bad


#: Dates outside these years are taken for typing errors (and stay within nanosecond times).
_EARLIEST, _LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01")


def _plausible(times) -> np.ndarray:
    """Which of `times` (naive or aware) are not NaT and fall within 1900 to 2199."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index.notna() & (index >= _EARLIEST) & (index < _LATEST), dtype=bool)


_TIME = (r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
         r"\s*(?P<p>[AaPp]\.?[Mm]\.?)?)?")

#: Date layouts read, most common first. In `numeric`, `a` and `b` are day and month in the
#: order `dayfirst` says; `z` is a UTC offset.
_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("numeric", r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4}|\d{2})" + _TIME + "$"),
    ("iso", r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})" + _TIME
            + r"\s*(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"),
    ("named", r"^(?P<d>\d{1,2})(?:st|nd|rd|th)?[ -](?P<mon>[A-Za-z]{3,9})\.?[ ,-]+(?P<y>\d{4})"
              + _TIME + "$"),
    ("compact", r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:T?(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?$"),
    ("month", r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"),
)

_MONTH_NAMES = {name: i + 1 for i, names in enumerate(
    ("jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
     "aug august", "sep sept september", "oct october", "nov november", "dec december"))
    for name in names.split()}


def _group(match: pa.StructArray, name: str) -> pa.Array | None:
    if match.type.get_field_index(name) < 0:
        return None
    return pc.fill_null(match.field(name), "")


def _number(match: pa.StructArray, name: str) -> np.ndarray:
    """A matched group as int64; -1 where it took no part."""
    text = _group(match, name)
    if text is None:
        return np.full(len(match), -1, dtype=np.int64)
    text = pc.if_else(pc.equal(text, ""), "-1", text)
    return np.asarray(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _datetimes_of(words: pa.Array, layout: str, pattern: str, dayfirst: bool,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read `words` in one layout: (matched and valid, nanoseconds (UTC where there was an
    offset, else naive), had an offset, precision code)."""
    n = len(words)
    match = pc.extract_regex(words, pattern)
    ok = ~np.asarray(match.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if layout == "numeric":
        a, b = _number(match, "a"), _number(match, "b")
        day, month = (a, b) if dayfirst else (b, a)
    elif layout == "named":
        day = _number(match, "d")
        names = pc.utf8_lower(_group(match, "mon")).to_pylist()
        month = np.array([_MONTH_NAMES.get(v, -1) for v in names], dtype=np.int64)
    elif layout == "month":
        day, month = np.ones(n, dtype=np.int64), _number(match, "m")
    else:
        day, month = _number(match, "d"), _number(match, "m")
    year = _number(match, "y")
    year = np.where((year >= 0) & (year < 100), np.where(year < 70, 2000 + year, 1900 + year), year)
    hour, minute, second = _number(match, "H"), _number(match, "M"), _number(match, "S")
    has_time = hour >= 0
    half = _group(match, "p")
    if half is not None:
        first = pc.utf8_slice_codeunits(pc.utf8_lower(half), 0, 1)
        pm = np.asarray(pc.equal(first, "p").to_numpy(zero_copy_only=False), dtype=bool)
        am = np.asarray(pc.equal(first, "a").to_numpy(zero_copy_only=False), dtype=bool)
        ok &= ~((am | pm) & ((hour < 1) | (hour > 12)))
        hour = np.where(pm & (hour < 12), hour + 12, np.where(am & (hour == 12), 0, hour))
    ok &= (year >= 1900) & (year < 2200) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    ok &= ~has_time | ((hour < 24) & (minute < 60) & (second < 60))
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + np.where(ok, day - 1, 0)
    ok &= dates.astype("datetime64[M]") == months  # no 31 February
    ns = dates.astype("datetime64[ns]").view(np.int64).copy()
    ns += np.maximum(hour, 0) * 3_600_000_000_000 + np.maximum(minute, 0) * 60_000_000_000
    ns += np.maximum(second, 0) * 1_000_000_000
    fraction = _group(match, "f")
    if fraction is not None:
        nines = pc.utf8_rpad(fraction, 9, "0")
        ns += np.where(ok & (lengths(fraction) > 0), _number(
            pa.StructArray.from_arrays([nines], ["f"]), "f"), 0)
    zone = _group(match, "z")
    aware = np.zeros(n, dtype=bool)
    if zone is not None:
        aware = ok & (lengths(zone) > 0)
        for i in np.flatnonzero(aware):  # offsets are few: a handful of distinct texts
            z = zone[int(i)].as_py()
            if z[0] in "+-":
                digits = z[1:].replace(":", "")
                minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
                ns[i] -= (1 if z[0] == "+" else -1) * minutes * 60_000_000_000
    precision = np.where(has_time, 2, 0 if layout == "month" else 1).astype(np.int8)
    return ok, ns, aware, precision


def parse_datetimes(col, *, dayfirst: bool, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse a text column of dates or date-times.

    Returns (UTC nanoseconds, precision codes, bad mask, empty mask) per row. Reads 31/12/2024
    23:59 (day first unless `dayfirst` is False; 2- or 4-digit years; / - or . between the parts;
    seconds and fractions optional; 12-hour times with am/pm), ISO 8601 with or without a UTC
    offset, 31 Dec 2024, 20241231[235959] and 2024-12 (a month). Naive times are local to `tz`:
    an ambiguous time (the hour repeated when clocks go back) is read as the first of the two, a
    time that does not exist (clocks going forward) is moved forward. Each distinct text is read
    once, by regular expressions in Arrow and arithmetic in numpy.
    """
    arr = as_dictionary(col)
    words = pc.utf8_trim_whitespace(pc.fill_null(arr.dictionary, ""))
    n = len(words)
    empty = lengths(words) == 0
    ns = np.zeros(n, dtype=np.int64)
    prec = np.full(n, 2, dtype=np.int8)
    done = empty.copy()
    aware = np.zeros(n, dtype=bool)
    for layout, pattern in _LAYOUTS:
        todo = np.flatnonzero(~done)
        if not len(todo):
            break
        ok, values, offset, precision = _datetimes_of(
            words.take(pa.array(todo, type=pa.int64())), layout, pattern, dayfirst)
        where = todo[ok]
        ns[where] = values[ok]
        prec[where] = precision[ok]
        aware[where] = offset[ok]
        done[where] = True
    naive = done & ~empty & ~aware
    if naive.any():
        where = np.flatnonzero(naive)
        local = pd.DatetimeIndex(ns[where].view("datetime64[ns]"))
        local = local.tz_localize(tz, ambiguous=np.ones(len(where), dtype=bool),
                                  nonexistent="shift_forward")
        ns[where] = local.as_unit("ns").asi8
    bad = ~done
    codes = arr.indices.to_numpy(zero_copy_only=False)
    return ns[codes], prec[codes], bad[codes], empty[codes]


def datetimes_from_values(values: pd.Series, *, tz: str, dayfirst: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like `parse_datetimes` for a column of a geo file, which may already hold datetimes."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        times = pd.DatetimeIndex(values)
        empty = np.asarray(times.isna())
        plausible = _plausible(times)
        bad = ~empty & ~plausible
        times = times.where(plausible).as_unit("ns")
        if times.tz is None:
            times = times.tz_localize(tz, ambiguous=np.ones(len(times), dtype=bool),
                                      nonexistent="shift_forward")
        ns = np.where(plausible, times.asi8, 0)
        local = times.tz_convert(tz)
        midnight = np.asarray((local.hour == 0) & (local.minute == 0) & (local.second == 0))
        # A column whose every time is midnight holds dates.
        all_dates = bool(plausible.any() and midnight[plausible].all())
        prec = np.full(len(times), 1 if all_dates else 2, dtype=np.int8)
        return ns, prec, bad, empty
    text = values.astype(object).where(values.notna(), "").map(str)
    return parse_datetimes(pa.array(text.to_numpy(), type=pa.string()), dayfirst=dayfirst, tz=tz)


# --- crime types --------------------------------------------------------------------------------


@dataclass
class Types:
    """Crime types, looked up once per distinct label."""

    codes: np.ndarray  # per row: index into the per-label arrays below
    words: pa.Array  # per label: the source's label, trimmed
    category: np.ndarray  # per label: int8 index into CATEGORIES
    harm: np.ndarray  # per label: float64 days
    unknown: np.ndarray  # per label: not in the category table
    empty: np.ndarray  # per label: no type given

    @property
    def labels(self) -> pa.DictionaryArray:
        """The label of every row."""
        return pa.DictionaryArray.from_arrays(pa.array(self.codes, type=pa.int32()), self.words)

    def per_row(self, per_label: np.ndarray) -> np.ndarray:
        return per_label[self.codes]


def crime_types(col, settings: Settings) -> Types:
    """Map a crime type column through the settings' category and harm tables, once per type."""
    arr = as_dictionary(col)
    return _types_of(arr.indices.to_numpy(zero_copy_only=False), arr.dictionary, settings)


def _types_of(codes: np.ndarray, words: pa.Array, settings: Settings) -> Types:
    words = pc.utf8_trim_whitespace(pc.fill_null(words, ""))
    texts, first = np.unique(words.to_numpy(zero_copy_only=False).astype(object), return_inverse=True)
    cats, harms = categorise(pd.Series(texts, dtype=object), settings)
    unknown = np.array([c is None for c in cats], dtype=bool)
    category = np.array([CATEGORIES.index(c) if c is not None else CATEGORIES.index("other")
                         for c in cats], dtype=np.int8)
    empty = np.array([t == "" for t in texts], dtype=bool)
    return Types(codes=codes, words=words, category=category[first],
                 harm=np.asarray(harms, dtype="float64")[first],
                 unknown=(unknown & ~empty)[first], empty=empty[first])


@dataclass
class PoliceFields:
    """Month, reporting force and crime type of police.uk rows, each looked up once per
    distinct value."""

    month_codes: np.ndarray  # per row
    month_words: pa.Array  # per month text: the text, trimmed
    month_ns: np.ndarray  # per month text: first instant of the month, UTC nanoseconds
    bad_month: np.ndarray  # per month text
    btp: np.ndarray | None  # per row: reported by British Transport Police (None: no column)
    reporter_codes: np.ndarray | None  # per row (None: no column)
    reporter_words: pa.Array | None  # per force text: the text, trimmed
    types: Types


def police_fields(month, reporter, crime_type, settings: Settings) -> PoliceFields:
    """Look up the month, force and crime type columns of a police.uk file."""
    months = as_dictionary(month)
    month_words = pc.utf8_trim_whitespace(months.dictionary)
    month_ns, bad_month = _month_starts(month_words.to_pylist(), settings.timezone)
    btp = reporter_codes = reporter_words = None
    if reporter is not None:
        reporters = as_dictionary(reporter)
        reporter_words = pc.utf8_trim_whitespace(reporters.dictionary)
        reporter_codes = reporters.indices.to_numpy(zero_copy_only=False)
        is_btp = np.asarray(pc.equal(pc.utf8_lower(reporter_words), "british transport police")
                            .to_numpy(zero_copy_only=False), dtype=bool)
        btp = is_btp[reporter_codes] if is_btp.any() else np.zeros(len(reporter_codes), dtype=bool)
    return PoliceFields(months.indices.to_numpy(zero_copy_only=False), month_words, month_ns,
                        bad_month, btp, reporter_codes, reporter_words,
                        crime_types(crime_type, settings))


# --- ids ----------------------------------------------------------------------------------------


@dataclass
class IdColumn:
    """A column of ids, trimmed, with what the duplicate search needs."""

    own: pa.Array | pa.ChunkedArray  # "" where missing
    missing: np.ndarray  # bool per row
    mix: np.ndarray | None  # per row: 64-bit mix of the id's bytes, when all ids share a width


def id_column(col, *, trimmed: bool = False) -> IdColumn:
    """Read an id column in one pass over its buffers: lengths, the duplicate-search mix, and
    whether any id may have white space to trim (then trimmed, and read again)."""
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    if col.null_count:
        col = pc.fill_null(col, "")
    chunks = chunks_of(col)
    widths = [np.diff(_offsets(c)) for c in chunks]
    missing = np.concatenate(widths) == 0 if widths else np.zeros(0, dtype=bool)
    present = np.concatenate(widths)[~missing] if widths else np.zeros(0, dtype=np.int32)
    width = int(present[0]) if len(present) else 0
    if not width or int(present.min()) != width or int(present.max()) != width:
        if not trimmed and any(_may_need_trim(c) for c in chunks):
            return id_column(pc.utf8_trim_whitespace(col), trimmed=True)
        return IdColumn(col, missing, None)
    mixes, spaced = [], False
    k = min(width, 8)
    for chunk, w in zip(chunks, widths, strict=True):
        nonempty = w > 0
        n_full = int(nonempty.sum())
        if not n_full:
            mixes.append(np.zeros(len(chunk), dtype=np.uint64))
            continue
        offsets = _offsets(chunk)
        # Empty ids take no bytes, so the others lie back to back in the data buffer.
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        if width % 8 == 0 and offsets[0] % 8 == 0 and data.ctypes.data % 8 == 0:
            # Whole 64-bit words: the first and last word of each id, read in place.
            words = data[offsets[0]:offsets[-1]].view("<u8").reshape(n_full, width // 8)
            head, tail = words[:, 0], words[:, -1]
            first, last = (head & np.uint64(0xFF)), (tail >> np.uint64(56))
        else:
            rows = data[offsets[0]:offsets[-1]].reshape(n_full, width)
            ends = np.zeros((n_full, 16), dtype=np.uint8)
            ends[:, :k], ends[:, 8:8 + k] = rows[:, :k], rows[:, width - k:]
            halves = ends.view("<u8")
            head, tail = halves[:, 0], halves[:, 1]
            first, last = ends[:, 0], ends[:, 7 + k]
        spaced = spaced or bool(_SPACE[first.astype(np.intp)].any()
                                or _SPACE[last.astype(np.intp)].any())
        mix = head * _MIX
        mix ^= tail
        if n_full == len(chunk):
            mixes.append(mix)
        else:
            full = np.zeros(len(chunk), dtype=np.uint64)
            full[nonempty] = mix
            mixes.append(full)
    if spaced and not trimmed:
        return id_column(pc.utf8_trim_whitespace(col), trimmed=True)
    return IdColumn(col, missing, np.concatenate(mixes))


def duplicated_positions(ids: IdColumn, candidates: np.ndarray) -> np.ndarray:
    """Positions of the rows marked in `candidates` (bool) whose non-empty id occurs more than
    once among them.

    Ids of one width (police.uk's 64 hex digits) are first compared by a 64-bit mix of their
    first and last 8 bytes (random ids differ anywhere, numbered ones at the end), which numpy
    computes for a million ids in milliseconds; only ids whose mix repeats are compared in full.
    """
    pos = np.flatnonzero(candidates & ~ids.missing)
    if ids.mix is not None:
        mixed = ids.mix[pos]
        ordered = np.sort(mixed)  # numpy's sort of integers beats any hash table here
        if not (ordered[1:] == ordered[:-1]).any():
            return np.zeros(0, dtype=np.int64)
        pos = pos[pd.Series(mixed).duplicated(keep=False).to_numpy()]
    if len(pos) < 2:
        return np.zeros(0, dtype=np.int64)
    return pos[duplicated_strings(ids.own.take(pa.array(pos, type=pa.int64())))]


def duplicated_strings(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which strings of `arr` occur more than once."""
    return pd.Series(combined(arr), dtype="str").duplicated(keep=False).to_numpy()


def derive_ids(parts: Sequence[pa.Array]) -> pa.Array:
    """Stable ids for rows without one, from the rows' text fields.

    `parts` are the rows' fields (string arrays of equal length, in a fixed column order). The id
    is a BLAKE2b digest of the fields plus the row's occurrence number among identical rows, so
    two identical rows stay two incidents and reading the same file again gives the same ids.
    Each distinct row is hashed once.
    """
    n = len(parts[0]) if parts else 0
    if n == 0:
        return pa.array([], type=pa.string())
    encoded = pc.dictionary_encode(
        pc.binary_join_element_wise(*(combined(p) for p in parts), "\x1f"))
    distinct = encoded.dictionary
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    digests = row_digests(distinct.buffers()[2] or b"", _offsets(distinct))
    # Occurrence number of each row among the identical ones, counted in file order.
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = ranked[1:] != ranked[:-1]
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - run_start + 1
    hexed = (_HEX[np.frombuffer(digests, dtype=np.uint8)].view(np.uint8)
             .reshape(-1, 2 * ROW_DIGEST_SIZE))
    # "derived-" + 20 hex digits + "-", 29 bytes, built in place; then the occurrence number
    # (in place too when every row occurs fewer than ten times, as nearly always).
    width = len(DERIVED_PREFIX) + 2 * ROW_DIGEST_SIZE + 1
    one_digit = int(occurrence.max()) < 10
    head = np.empty((n, width + one_digit), dtype=np.uint8)
    head[:, :len(DERIVED_PREFIX)] = np.frombuffer(DERIVED_PREFIX.encode(), dtype=np.uint8)
    head[:, len(DERIVED_PREFIX):width - 1] = hexed[codes]
    head[:, width - 1] = ord("-")
    if one_digit:
        head[:, width] = occurrence + ord("0")
        return fixed_width_strings(head, n, width + 1)
    return pc.binary_join_element_wise(fixed_width_strings(head, n, width),
                                       pc.cast(pa.array(occurrence), pa.string()), "")


#: Size and personalisation of the BLAKE2b digest of an ASB row (changing either changes ids).
ROW_DIGEST_SIZE = 10
ROW_DIGEST_PERSON = b"hotspots-row"


def row_digests(data, offsets: np.ndarray, *, compiled: bool | None = None) -> bytes:
    """The BLAKE2b digest of each message data[offsets[i]:offsets[i + 1]], back to back.

    The compiled `hotspots._rowhash` (built at install when a C compiler is present) hashes them
    all in one call without holding the GIL; hashlib gives the same digests one message at a
    time otherwise (or when `compiled` is False).
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    if compiled is None:
        compiled = _rowhash is not None
    if compiled:
        if _rowhash is None:
            raise RuntimeError("hotspots._rowhash is not built")
        return _rowhash.blake2b_many(data, offsets, ROW_DIGEST_SIZE, ROW_DIGEST_PERSON)
    view = memoryview(data)
    bounds = offsets.tolist()
    base = hashlib.blake2b(digest_size=ROW_DIGEST_SIZE, person=ROW_DIGEST_PERSON)
    digests = bytearray()
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        h = base.copy()
        h.update(view[start:end])
        digests += h.digest()
    return bytes(digests)


def fixed_width_strings(data, n: int, width: int, *, large: bool = False) -> pa.Array:
    """A string array (`large`: large_string, pandas' own) of `n` values of `width` bytes each,
    laid back to back in `data` (bytes or a uint8 array), built straight from the buffers."""
    offsets = np.arange(n + 1, dtype=np.int64 if large else np.int32) * width
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


#: The two hex digits of each byte value, as one 16-bit item.
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)
