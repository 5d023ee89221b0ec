"""Column-wise checks and conversions shared by the incident readers: numbers, coordinates, dates,
crime types, ids. Each works on whole columns (Arrow or numpy) and records what it finds in a
`ProblemLog`; Python loops run only over distinct values or over the rows that need a message."""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
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

from hotspots._errors import Problem
from hotspots.schema import BNG, categorise
from hotspots.settings import CATEGORIES, Settings

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
        self._kind_text: dict[tuple, str] = {}

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
            self._kind_text[key] = expected

    def problems(self) -> list[Problem]:
        """Every problem, with one summary per (file, kind, column) that went over the cap."""
        out = list(self.items)
        for (file, kind, column), more in self._more.items():
            out.append(Problem(file, None, column, None,
                               f"{more:,} more rows like this ({kind})", kind))
        return out


# --- text columns -------------------------------------------------------------------------------


def combined(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (dictionary chunks unified first)."""
    if isinstance(col, pa.ChunkedArray):
        if pa.types.is_dictionary(col.type) and col.num_chunks > 1:
            col = pa.chunked_array(col.chunks, type=col.type).unify_dictionaries()
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def as_dictionary(col) -> pa.DictionaryArray:
    """`col` as one dictionary array of strings."""
    arr = combined(col)
    if not pa.types.is_dictionary(arr.type):
        if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.string())
        arr = pc.dictionary_encode(arr)
    if arr.null_count:
        arr = pc.dictionary_encode(pc.fill_null(pc.cast(arr, pa.string()), ""))
    return arr


def as_strings(col) -> pa.Array:
    """`col` as one plain string array with surrounding whitespace removed ("" for missing)."""
    arr = combined(col)
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    if _may_need_trim(arr):
        arr = pc.utf8_trim_whitespace(arr)
    return arr


_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32, 0xC2, 0xE1, 0xE2, 0xE3, 0x80, 0x85, 0xA0]] = True  # ASCII, and bytes of
# Unicode spaces (no-break, general punctuation, ideographic), so any of them sends the column
# through the real trim.


def _may_need_trim(arr: pa.Array) -> bool:
    """False when no value starts or ends with a byte of a space character (cheap, vectorised)."""
    n = len(arr)
    if n == 0 or arr.null_count:
        return n > 0
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if arr.buffers()[2] is None:
        return False
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    nonempty = ends > starts
    return bool(_SPACE[data[starts[nonempty]]].any() or _SPACE[data[ends[nonempty] - 1]].any())


def lengths(arr: pa.Array) -> np.ndarray:
    return pc.utf8_length(arr).to_numpy(zero_copy_only=False)


def values_at(col) -> Callable[[np.ndarray], list[str | None]]:
    """A function giving the text of `col` at some positions (for problem messages)."""
    def take(pos: np.ndarray) -> list[str | None]:
        arr = combined(col).take(pa.array(pos, type=pa.int64()))
        out = []
        for v in arr.to_pylist():
            out.append(None if v is None else str(v))
        return out
    return take


# --- numbers and coordinates --------------------------------------------------------------------


def to_numbers(col) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Parse a text column as numbers.

    Returns (values with NaN where empty or bad, empty mask, bad mask, dictionary codes or None).
    Each distinct text is parsed once.
    """
    if isinstance(col, (pa.ChunkedArray, pa.Array)) and (
        pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
    ):
        vals = np.asarray(combined(col).to_numpy(zero_copy_only=False), dtype="float64")
        empty = np.isnan(vals)
        return vals, empty, np.zeros(len(vals), bool), None
    arr = as_dictionary(col)
    words = pc.utf8_trim_whitespace(arr.dictionary)
    word_empty = lengths(words) == 0
    try:
        parsed = pc.cast(pc.if_else(pa.array(word_empty), pa.scalar(None, pa.string()), words),
                         pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = pd.to_numeric(pd.Series(words.to_numpy(zero_copy_only=False), dtype=object),
                               errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    parsed = np.array(parsed, dtype="float64")  # a writable copy
    word_bad = ~word_empty & ~np.isfinite(parsed)
    parsed[word_bad | word_empty] = np.nan
    codes = arr.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return parsed[codes], word_empty[codes], word_bad[codes], codes


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    for w in caught:
        log.info("%s", w.message)
    return tr


def transform(x: np.ndarray, y: np.ndarray, src: str, dst: str = BNG) -> tuple[np.ndarray, np.ndarray]:
    if pyproj.CRS.from_user_input(src) == pyproj.CRS.from_user_input(dst):
        return x, y
    with np.errstate(all="ignore"):
        ox, oy = _transformer(src, dst).transform(x, y, errcheck=False)
    return np.asarray(ox, dtype="float64"), np.asarray(oy, dtype="float64")


def _within(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (v >= lo_hi[0]) & (v <= lo_hi[1])


@dataclass
class Points:
    """Located rows and their points in British National Grid."""

    located: np.ndarray  # bool per row: a valid point
    no_location: np.ndarray  # bool per row: both coordinates empty
    geometry: np.ndarray  # per row: a shapely Point where located, else None


def check_points(
    x: np.ndarray, y: np.ndarray, *, x_empty: np.ndarray, y_empty: np.ndarray,
    x_bad: np.ndarray, y_bad: np.ndarray, active: np.ndarray, crs: pyproj.CRS,
    file: str, rows: Callable[[np.ndarray], np.ndarray], x_name: str, y_name: str,
    x_text: Callable, y_text: Callable, problems: ProblemLog,
    pair_codes: np.ndarray | None = None,
) -> Points:
    """Check coordinates against Great Britain and build BNG points for the good rows.

    `active` marks rows being read (others, e.g. excluded rows, are not checked). `pair_codes`
    (optional) numbers distinct coordinate pairs so each is projected and built once.
    """
    no_location = x_empty & y_empty & active
    half = (x_empty ^ y_empty) & active
    for missing, m_name, o_name in ((x_empty, x_name, y_name), (y_empty, y_name, x_name)):
        pos = np.flatnonzero(half & missing)
        problems.add_rows(file, rows(pos), m_name, None,
                          f"is empty while {o_name} is given; give both coordinates or neither",
                          "missing coordinate", pos)
    for bad, name, text in ((x_bad, x_name, x_text), (y_bad, y_name, y_text)):
        pos = np.flatnonzero(bad & active)
        problems.add_rows(file, rows(pos), name, text, "is not a number", "not a number", pos)
    ok = active & ~x_empty & ~y_empty & ~x_bad & ~y_bad

    geographic = crs.is_geographic
    if geographic:
        xr, yr, what = GB_LON, GB_LAT, (
            f"is outside Great Britain (expected longitude {GB_LON[0]} to {GB_LON[1]} and "
            f"latitude {GB_LAT[0]} to {GB_LAT[1]})")
        swap_text = "latitude and longitude look swapped (the other way round they are in Great Britain)"
        cx, cy = x, y
    else:
        xr, yr, what = GB_EASTING, GB_NORTHING, (
            f"is outside Great Britain (expected easting {GB_EASTING[0]:.0f} to {GB_EASTING[1]:.0f} "
            f"and northing {GB_NORTHING[0]:.0f} to {GB_NORTHING[1]:.0f} metres in British National Grid)")
        swap_text = "easting and northing look swapped (the other way round they are in Great Britain)"
        cx, cy = x, y
        if crs != pyproj.CRS.from_user_input(BNG):
            cx, cy = transform(np.where(ok, x, np.nan), np.where(ok, y, np.nan), crs.to_string())
            what = what.replace("is outside", "converted to British National Grid is outside")
    inside = _within(cx, xr) & _within(cy, yr)
    swapped = ok & ~inside & _within(cy, xr) & _within(cx, yr)
    outside = ok & ~inside & ~swapped

    def pair(pos: np.ndarray) -> list[str]:
        return [f"{a}, {b}" for a, b in zip(x_text(pos), y_text(pos), strict=True)]

    pair_name = f"{x_name}/{y_name}"
    pos = np.flatnonzero(swapped)
    problems.add_rows(file, rows(pos), pair_name, pair, swap_text, "swapped coordinates", pos)
    pos = np.flatnonzero(outside)
    problems.add_rows(file, rows(pos), pair_name, pair, what, "outside Great Britain", pos)

    located = ok & inside
    geometry = _points(x, y, located, crs, pair_codes)
    return Points(located=located, no_location=no_location, geometry=geometry)


def _points(x: np.ndarray, y: np.ndarray, located: np.ndarray, crs: pyproj.CRS,
            pair_codes: np.ndarray | None) -> np.ndarray:
    """BNG shapely Points for the located rows (None elsewhere); each distinct pair built once."""
    idx = np.flatnonzero(located)
    if pair_codes is not None:
        inverse, uniq_keys = pd.factorize(pair_codes[idx])
        where = np.empty(len(uniq_keys), dtype=np.int64)
        where[inverse] = idx  # any row of a pair will do: they share the coordinates
        ux, uy = x[where], y[where]
    else:
        key = x[idx] + 1j * y[idx]
        inverse, uniq = pd.factorize(key)
        ux, uy = uniq.real, uniq.imag
    ex, ny = transform(np.ascontiguousarray(ux), np.ascontiguousarray(uy), crs.to_string())
    shapes = shapely.points(ex, ny)
    out = np.full(len(x), None, dtype=object)
    out[idx] = shapes[inverse]
    return out


# --- dates --------------------------------------------------------------------------------------

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def month_starts(col, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """First instant of each row's month (`YYYY-MM`) in `tz`, as UTC nanoseconds; and a bad mask."""
    arr = as_dictionary(col)
    words = arr.dictionary.to_pylist()
    ns = np.zeros(len(words), dtype=np.int64)
    bad = np.zeros(len(words), dtype=bool)
    for i, word in enumerate(words):
        m = _MONTH.match(word or "")
        if m is None or not 1 <= int(m.group(2)) <= 12 or not 1900 <= int(m.group(1)) <= 2200:
            bad[i] = True
            continue
        ns[i] = pd.Timestamp(int(m.group(1)), int(m.group(2)), 1).tz_localize(
            tz, nonexistent="shift_forward", ambiguous=True).value
    codes = arr.indices.to_numpy(zero_copy_only=False)
    return ns[codes], bad[codes]


def _formats(dayfirst: bool) -> list[tuple[str, int]]:
    """Date formats tried, each with its precision code."""
    dm = ("%d", "%m") if dayfirst else ("%m", "%d")
    out: list[tuple[str, int]] = []
    for sep in ("/", "-", "."):
        date = f"{dm[0]}{sep}{dm[1]}{sep}%Y"
        short = f"{dm[0]}{sep}{dm[1]}{sep}%y"
        for d in (date, short):
            out += [(f"{d} %H:%M:%S", 2), (f"{d} %H:%M", 2), (f"{d} %I:%M:%S %p", 2),
                    (f"{d} %I:%M %p", 2), (f"{d} %H:%M:%S.%f", 2), (d, 1)]
    for sep in ("-", "/"):
        d = f"%Y{sep}%m{sep}%d"
        out += [(f"{d} %H:%M:%S", 2), (f"{d}T%H:%M:%S", 2), (f"{d} %H:%M", 2), (f"{d}T%H:%M", 2),
                (f"{d} %H:%M:%S.%f", 2), (f"{d}T%H:%M:%S.%f", 2), (d, 1)]
    out += [("%d %b %Y %H:%M", 2), ("%d %B %Y %H:%M", 2), ("%d %b %Y", 1), ("%d %B %Y", 1),
            ("%Y%m%d%H%M%S", 2), ("%Y%m%d", 1), ("%Y-%m", 0)]
    return out


_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})$")


def _try(values: pd.Series, fmt: str) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values, format=fmt, errors="coerce")


def parse_datetimes(col, *, dayfirst: bool, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse a text column of dates or date-times.

    Returns (UTC nanoseconds, precision codes, bad mask, empty mask) per row. Naive times are
    local to `tz`: an ambiguous time (the repeated hour when clocks go back) is read as the first
    of the two, a time that does not exist (clocks going forward) is moved forward. Times with a
    UTC offset are converted. Each distinct text is parsed once.
    """
    arr = as_dictionary(col)
    words = pd.Series(pc.utf8_trim_whitespace(arr.dictionary).to_numpy(zero_copy_only=False),
                      dtype=object)
    n = len(words)
    ns = np.zeros(n, dtype=np.int64)
    prec = np.full(n, 2, dtype=np.int8)
    done = np.zeros(n, dtype=bool)
    empty = (words.str.len() == 0).to_numpy()
    done |= empty

    offset = words.str.match(_OFFSET).fillna(False).to_numpy(dtype=bool) & ~done
    if offset.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(words[offset], format="ISO8601", utc=True, errors="coerce")
        good = parsed.notna().to_numpy()
        where = np.flatnonzero(offset)[good]
        ns[where] = pd.DatetimeIndex(parsed[good]).as_unit("ns").asi8
        done[where] = True

    naive = np.zeros(n, dtype=np.int64)
    naive_done = np.zeros(n, dtype=bool)
    formats = _formats(dayfirst)

    def apply(fmt: str, code: int) -> None:
        todo = np.flatnonzero(~done & ~naive_done)
        if not len(todo):
            return
        parsed = _try(words.iloc[todo], fmt)
        good = parsed.notna().to_numpy()
        if good.any():
            where = todo[good]
            naive[where] = pd.DatetimeIndex(parsed[good]).as_unit("ns").asi8
            naive_done[where] = True
            prec[where] = code

    # Find the formats in use from sample values, then sweep every format over what is left.
    unparseable: set[int] = set()
    for _round in range(8):
        todo = np.flatnonzero(~done & ~naive_done)
        todo = [i for i in todo[: len(unparseable) + 1] if i not in unparseable]
        if not todo:
            break
        probe = words.iloc[todo[:1]]
        for fmt, code in formats:
            if _try(probe, fmt).notna().all():
                apply(fmt, code)
                break
        else:
            unparseable.add(todo[0])
    for fmt, code in formats:
        apply(fmt, code)

    if naive_done.any():
        where = np.flatnonzero(naive_done)
        local = pd.DatetimeIndex(naive[where].view("datetime64[ns]"))
        local = local.tz_localize(tz, ambiguous=np.ones(len(where), dtype=bool),
                                  nonexistent="shift_forward")
        ns[where] = local.as_unit("ns").asi8
        done |= naive_done
    bad = ~done
    codes = arr.indices.to_numpy(zero_copy_only=False)
    return ns[codes], prec[codes], bad[codes], empty[codes]


def datetimes_from_values(values: pd.Series, *, tz: str, dayfirst: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like `parse_datetimes` for a column of a geo file, which may already hold datetimes."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        times = pd.DatetimeIndex(values).as_unit("ns")
        empty = times.isna()
        if times.tz is None:
            times = times.tz_localize(tz, ambiguous=np.ones(len(times), dtype=bool),
                                      nonexistent="shift_forward")
        ns = np.where(empty, 0, times.asi8)
        local = times.tz_convert(tz)
        midnight = (local.hour == 0) & (local.minute == 0) & (local.second == 0)
        all_dates = bool(np.all(midnight[~empty])) if (~empty).any() else False
        prec = np.full(len(times), 1 if all_dates else 2, dtype=np.int8)
        return ns, prec, np.zeros(len(times), bool), np.asarray(empty)
    text = values.astype(object).where(values.notna(), "").map(str)
    return parse_datetimes(pa.array(text.to_numpy(), type=pa.string()), dayfirst=dayfirst, tz=tz)


# --- crime types --------------------------------------------------------------------------------


@dataclass
class Types:
    labels: pa.Array  # the source's labels, trimmed, one per row (dictionary)
    category: np.ndarray  # int8 codes into CATEGORIES
    harm: np.ndarray  # float64
    unknown: np.ndarray  # bool: not in the category table
    empty: np.ndarray  # bool: no type given


def crime_types(col, settings: Settings) -> Types:
    """Map a crime type column through the settings' category and harm tables, once per type."""
    arr = as_dictionary(col)
    words = pc.utf8_trim_whitespace(arr.dictionary)
    cats, harms = categorise(pd.Series(words.to_numpy(zero_copy_only=False), dtype=object), settings)
    word_unknown = np.array([c is None for c in cats], dtype=bool)
    word_cat = np.array([CATEGORIES.index(c) if c is not None else CATEGORIES.index("other")
                         for c in cats], dtype=np.int8)
    word_empty = lengths(words) == 0
    codes = arr.indices.to_numpy(zero_copy_only=False)
    labels = pa.DictionaryArray.from_arrays(arr.indices, words)
    return Types(labels=labels, category=word_cat[codes], harm=np.asarray(harms, "float64")[codes],
                 unknown=(word_unknown & ~word_empty)[codes], empty=word_empty[codes])


# --- ids ----------------------------------------------------------------------------------------


def duplicated_positions(ids: pa.Array, candidates: np.ndarray) -> np.ndarray:
    """Positions of the rows marked in `candidates` (bool) whose non-empty id occurs more than
    once among them.

    Ids of one width (police.uk's 64 hex digits) are first compared by a 64-bit mix of their
    bytes, which numpy computes for a million ids in milliseconds; only ids whose mix repeats
    are compared as strings.
    """
    n = len(ids)
    if n and ids.null_count == 0 and pa.types.is_string(ids.type) and ids.buffers()[2] is not None:
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=n + 1, offset=ids.offset * 4)
        lens = np.diff(offsets)
        nonempty = lens > 0
        candidates = candidates & nonempty
        widths = lens[nonempty]
        width = int(widths[0]) if len(widths) else 0
        if width >= 8 and width % 8 == 0 and int(widths.min()) == int(widths.max()) == width:
            # Empty ids take no bytes, so the others lie back to back in the data buffer.
            data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
            words = np.ascontiguousarray(data).view("<u8").reshape(-1, width // 8)
            mix = words[:, 0].copy()
            with np.errstate(over="ignore"):
                for k in range(1, width // 8):
                    mix = (mix * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, k]
            full = np.zeros(n, dtype=np.uint64)
            full[nonempty] = mix
            pos = np.flatnonzero(candidates)
            mixed = full[pos]
            ordered = np.sort(mixed)
            if not (ordered[1:] == ordered[:-1]).any():
                return np.zeros(0, dtype=np.int64)
            pos = pos[pd.Series(mixed).duplicated(keep=False).to_numpy()]
            return pos[_duplicated_strings(ids.take(pa.array(pos, type=pa.int64())))]
    else:
        candidates = candidates & (lengths(ids) > 0) if n else candidates
    pos = np.flatnonzero(candidates)
    if len(pos) < 2:
        return np.zeros(0, dtype=np.int64)
    return pos[_duplicated_strings(ids.take(pa.array(pos, type=pa.int64())))]


def _duplicated_strings(arr: pa.Array) -> np.ndarray:
    return pd.Series(arr, dtype="str").duplicated(keep=False).to_numpy()


def derive_ids(parts: Sequence[pa.Array]) -> list[str]:
    """Stable ids for rows without one, from the rows' text fields.

    `parts` are the rows' fields (string arrays of equal length, in a fixed column order). Two
    identical rows get the same digest and are told apart by their occurrence counter, so each
    stays an incident and reading the same file again gives the same ids.
    """
    if not parts or len(parts[0]) == 0:
        return []
    joined = pc.binary_join_element_wise(*parts, "\x1f").to_pylist()
    base = hashlib.blake2b(digest_size=10, person=b"hotspots-row")
    seen: dict[str, int] = {}
    out = []
    for text in joined:
        h = base.copy()
        h.update(text.encode("utf-8"))
        digest = h.hexdigest()
        k = seen.get(digest, 0) + 1
        seen[digest] = k
        out.append(f"{DERIVED_PREFIX}{digest}-{k}")
    return out
