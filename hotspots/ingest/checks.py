"""Checks and conversions shared by the readers, one batch of rows at a time: problems with their
rows, numbers and coordinates, months and dates, crime types and ids. Each distinct value is
looked at once (police.uk files repeat their months, forces, types and snap points)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj

from hotspots.crs import BNG, WGS84
from hotspots.errors import Problem
from hotspots.report import ReadReport
from hotspots.schema import categorise
from hotspots.settings import CATEGORIES, Settings

#: Problems kept per file, kind and column; the rest are counted (every one of them).
MAX_PROBLEMS_PER_KIND = 100
#: Great Britain, with a margin: longitude/latitude (WGS84) and British National Grid metres.
GB_LON, GB_LAT = (-8.7, 1.9), (49.8, 60.9)
GB_EASTING, GB_NORTHING = (0.0, 700_000.0), (0.0, 1_300_000.0)
#: The BLAKE2b digest of a row without an id: `derived-<20 hex digits>-<occurrence>`. Changing
#: any of these changes every derived id (and so the ids of stores already written).
DERIVED_PREFIX, ROW_DIGEST_SIZE, ROW_DIGEST_PERSON = "derived-", 10, b"hotspots-row"
SEP = "\x1f"
PRECISIONS = ("month", "day", "minute")


class ProblemLog:
    """Problems in the order first met, grouped by (file, kind, column); past `cap` in a group
    they are counted, so `total` is the true number however many there are."""

    def __init__(self, cap: int = MAX_PROBLEMS_PER_KIND) -> None:
        self.cap = cap
        self.total = 0
        self._slots: list[Problem | tuple] = []
        self._groups: dict[tuple, list[tuple[int, str | None, str]]] = {}
        self._more: Counter = Counter()
        self.rownum: dict[str, Callable[[np.ndarray], np.ndarray]] = {}

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, problem: Problem) -> None:
        self._slots.append(problem)
        self.total += 1

    def rows(self, file: str, pos: np.ndarray, column: str | None, values, expected: str,
             kind: str) -> None:
        """One problem per row at the file positions `pos`; `values(pos)` gives the texts shown
        (asked only for the rows kept)."""
        pos = np.asarray(pos, dtype=np.int64)
        if not len(pos):
            return
        key = (file, kind, column)
        if key not in self._groups:
            self._groups[key] = []
            self._slots.append(key)
        group = self._groups[key]
        room = max(0, self.cap - len(group))
        shown = pos[:room]
        texts = list(values(shown)) if values is not None and len(shown) else [None] * len(shown)
        group.extend((int(p), None if t is None else str(t), expected)
                     for p, t in zip(shown, texts, strict=True))
        self._more[key] += len(pos) - len(shown)
        self.total += len(pos)

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for slot in self._slots:
            if isinstance(slot, Problem):
                out.append(slot)
                continue
            file, kind, column = slot
            group = self._groups[slot]
            number = self.rownum.get(file, lambda p: p + 2)
            rows = number(np.array([p for p, _, _ in group], dtype=np.int64))
            out += [Problem(file, int(r), column, v, e, kind)
                    for r, (_, v, e) in zip(rows, group, strict=True)]
            if self._more[slot]:
                out.append(Problem(file, None, column, None,
                                   f"{self._more[slot]:,} more rows like this ({kind})", kind))
        return out


def texts(col: pa.Array) -> Callable[[np.ndarray], list]:
    """The values of a column at some positions of its batch (for messages)."""
    return lambda pos: col.take(pa.array(pos, type=pa.int64())).to_pylist()


def trim(col: pa.Array) -> pa.Array:
    """Text without surrounding white space ("" for missing)."""
    col = col.cast(pa.string()).fill_null("")
    return pc.utf8_trim_whitespace(col) if _may_have_space(col) else col


#: ASCII white space and the bytes that start or continue a Unicode space in UTF-8.
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32, 0x80, 0x85, 0xA0, 0xC2, 0xE1, 0xE2, 0xE3]] = True


def _may_have_space(col: pa.Array) -> bool:
    """False when no value starts or ends with a byte of a white-space character (a look at
    two bytes a value, instead of trimming a copy of the column)."""
    if not len(col) or col.buffers()[2] is None:
        return False
    offsets = np.frombuffer(col.buffers()[1], np.int32, len(col) + 1, col.offset * 4)
    data = np.frombuffer(col.buffers()[2], np.uint8)
    filled = offsets[1:] > offsets[:-1]
    return bool(_SPACE[data[offsets[:-1][filled]]].any() or _SPACE[data[offsets[1:][filled] - 1]].any())


def encode(col: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code per row, distinct values) of a text column."""
    d = pc.dictionary_encode(col)
    return d.indices.to_numpy(zero_copy_only=False).astype(np.int64), d.dictionary


def empty(col: pa.Array) -> np.ndarray:
    return pc.equal(pc.binary_length(col), 0).to_numpy(zero_copy_only=False)


# --- numbers and coordinates ---------------------------------------------------------------------


def numbers(words: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, empty, bad) of each text: NaN where empty or not a finite number."""
    words = trim(words)
    blank = empty(words)
    try:
        values = pc.cast(pc.if_else(pa.array(blank), None, words), pa.float64())
        values = values.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = pd.to_numeric(pd.Series(words.to_pylist(), dtype=object), errors="coerce")
        values = values.to_numpy(dtype="float64", na_value=np.nan)
    values = np.array(values, dtype="float64")
    bad = ~blank & ~np.isfinite(values)
    values[bad | blank] = np.nan
    return values, blank, bad


def coordinate_text(values: np.ndarray) -> list[str]:
    """Canonical text of coordinates in derived ids: six decimals (as police.uk writes them)
    when that reads back as the same number, else the shortest text that does; "" for none. So a
    file whose spreadsheet trimmed -1.530000 to -1.53 gives the same ids."""
    out = []
    for v in np.asarray(values, dtype="float64").tolist():
        if v != v:
            out.append("")
        elif abs(v) < 2**52 / 1e6 and round(v * 1e6) / 1e6 == v:
            out.append(f"{v:.6f}")
        else:
            out.append(repr(v))
    return out


@dataclass
class Points:
    """Where each row of a batch is: British National Grid metres, and what is wrong."""

    x: np.ndarray
    y: np.ndarray
    good: np.ndarray
    none: np.ndarray  # no coordinates at all


def points(x_text: pa.Array, y_text: pa.Array, crs: pyproj.CRS, *, file: str, offset: int,
           active: np.ndarray, names: tuple[str, str], problems: ProblemLog,
           xy: tuple[np.ndarray, np.ndarray] | None = None, project=None) -> Points:
    """Parse, check and project coordinates (text, or the numbers `xy`); records the problems of
    the `active` rows and says which rows have a good point."""
    if xy is None:
        xc, xd = encode(x_text)
        yc, yd = encode(y_text)
        (xv, xe, xb), (yv, ye, yb) = numbers(xd), numbers(yd)
        pair, distinct = pd.factorize(xc * max(len(yd), 1) + yc)
        keep = np.empty(len(distinct), dtype=np.int64)
        keep[pair] = np.arange(len(pair))  # a row of each pair (any: they are equal)
        px, py = xv[xc[keep]], yv[yc[keep]]
        flags = [f[c[keep]] for f, c in ((xe, xc), (ye, yc), (xb, xc), (yb, yc))]
    else:
        valid = np.isfinite(xy[0]) & np.isfinite(xy[1])
        pair = np.zeros(len(valid), dtype=np.int64)  # pair 0: no coordinates
        codes, uniq = pd.factorize(xy[0][valid] + 1j * xy[1][valid])
        pair[valid] = codes + 1
        px, py = np.r_[np.nan, np.real(uniq)], np.r_[np.nan, np.imag(uniq)]
        flags = [np.isnan(px), np.isnan(py), np.zeros(len(px), bool), np.zeros(len(px), bool)]
    x_empty, y_empty, x_bad, y_bad = flags
    valid = ~(x_empty | y_empty | x_bad | y_bad)
    east, north = (project or Projector())(px, py, crs)

    def inside(a, b, ra, rb):
        with np.errstate(invalid="ignore"):
            return (a >= ra[0]) & (a <= ra[1]) & (b >= rb[0]) & (b <= rb[1])

    if crs.is_geographic:
        ok = valid & inside(px, py, GB_LON, GB_LAT)
        swapped = valid & ~ok & inside(py, px, GB_LON, GB_LAT)
        where = f"longitude {GB_LON[0]} to {GB_LON[1]} and latitude {GB_LAT[0]} to {GB_LAT[1]}"
        swap_text = "latitude and longitude look swapped"
    else:
        ok = valid & inside(east, north, GB_EASTING, GB_NORTHING)
        swapped = valid & ~ok & inside(north, east, GB_EASTING, GB_NORTHING)
        where = (f"easting {GB_EASTING[0]:.0f} to {GB_EASTING[1]:.0f} and northing "
                 f"{GB_NORTHING[0]:.0f} to {GB_NORTHING[1]:.0f} metres in British National Grid")
        swap_text = "easting and northing look swapped"
    outside = valid & ~ok & ~swapped
    what = "converted to British National Grid is outside" if (
        not crs.is_geographic and not crs.equals(BNG_CRS)) else "is outside"
    xn, yn = names
    xt = texts(x_text) if x_text is not None else (lambda p: [repr(float(v)) for v in xy[0][p]])
    yt = texts(y_text) if y_text is not None else (lambda p: [repr(float(v)) for v in xy[1][p]])

    def both(p):
        return [f"{a}, {b}" for a, b in zip(xt(p), yt(p), strict=True)]

    for flag, column, values, expected, kind in (
            (x_empty & ~y_empty, xn, None, f"is empty while {yn} is given; give both coordinates or "
             "neither", "missing coordinate"),
            (y_empty & ~x_empty, yn, None, f"is empty while {xn} is given; give both coordinates or "
             "neither", "missing coordinate"),
            (x_bad, xn, xt, "is not a number", "not a number"),
            (y_bad, yn, yt, "is not a number", "not a number"),
            (swapped, f"{xn}/{yn}", both,
             f"{swap_text} (the other way round they are in Great Britain)", "swapped coordinates"),
            (outside, f"{xn}/{yn}", both, f"{what} Great Britain (expected {where})",
             "outside Great Britain")):
        if flag.any():
            pos = np.flatnonzero(flag[pair] & active)
            problems.rows(file, pos + offset, column, (lambda p, v=values: v(p - offset))
                          if values else None, expected, kind)
    return Points(east[pair], north[pair], ok[pair], (x_empty & y_empty)[pair])


class Projector:
    """Coordinates to British National Grid, each distinct pair projected once per read (police.uk
    snaps incidents to the same anonymous points month after month)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple] = {}

    def __call__(self, x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
        if crs.equals(BNG_CRS):
            return x, y
        wkt = crs.to_wkt()
        if wkt not in self._known:
            self._known[wkt] = (pyproj.Transformer.from_crs(crs, BNG, always_xy=True),
                                pd.Index([], dtype=complex), np.zeros(0), np.zeros(0))
        transformer, index, east, north = self._known[wkt]
        valid = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        keys = x[valid] + 1j * y[valid]
        at = index.get_indexer(keys)
        new = pd.Index(keys[at < 0]).drop_duplicates()
        if len(new):
            with np.errstate(all="ignore"):
                e, n = transformer.transform(np.real(new.to_numpy()), np.imag(new.to_numpy()),
                                             errcheck=False)
            index, east, north = index.append(new), np.r_[east, e], np.r_[north, n]
            self._known[wkt] = (transformer, index, east, north)
            at = index.get_indexer(keys)
        out_e, out_n = np.full(len(x), np.nan), np.full(len(x), np.nan)
        out_e[valid], out_n[valid] = east[at], north[at]
        return out_e, out_n


BNG_CRS = pyproj.CRS(BNG)
LONLAT = pyproj.CRS(WGS84)


# --- crime types ----------------------------------------------------------------------------------


@dataclass
class Types:
    label: pa.Array  # per row, trimmed
    category: np.ndarray  # per row: index into CATEGORIES
    harm: np.ndarray  # per row
    empty: np.ndarray
    unknown: np.ndarray


def crime_types(col: pa.Array, settings: Settings) -> Types:
    """Each row's crime type through the settings' category and harm tables (once per label)."""
    label = trim(col)
    codes, words = encode(label)
    names = words.to_pylist()
    cats, harms = categorise(pd.Series(names, dtype=object), settings)
    unknown = np.array([c is None and n != "" for c, n in zip(cats, names, strict=True)], bool)
    category = np.array([CATEGORIES.index(c or "other") for c in cats], dtype=np.int8)
    blank = np.array([n == "" for n in names], dtype=bool)
    return Types(label, category[codes], np.asarray(harms, "float64")[codes], blank[codes],
                 unknown[codes])


def type_problems(types: Types, *, file: str, offset: int, active: np.ndarray, column: str,
                  settings: Settings, problems: ProblemLog, warn: Callable) -> None:
    problems.rows(file, np.flatnonzero(types.empty & active) + offset, column, None,
                  "is empty; expected a crime type", "missing crime type")
    pos = np.flatnonzero(types.unknown & active)
    if not len(pos):
        return
    if settings.unknown_crime_type == "error":
        problems.rows(file, pos + offset, column, lambda p: texts(types.label)(p - offset),
                      "is not in the category table (setting `categories`)", "unknown crime type")
        return
    labels = types.label.take(pa.array(pos)).to_pylist()
    _, first = np.unique(np.array(labels, dtype=object), return_index=True)
    warn("unknown crime type mapped to other", len(pos),
         [(pos[i] + offset, column, labels[i], "is not in the category table; counted as other")
          for i in np.sort(first)])


# --- months and dates ---------------------------------------------------------------------------

#: Month forms a police.uk `Month` column is read in: the file's own, and what a spreadsheet
#: makes of it. A file must use one of them throughout.
_MON = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
MONTH_FORMS: dict[str, re.Pattern] = {
    "2025-02": re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})"),
    "Feb-25": re.compile(_MON + r"-(?P<yy>\d{2})", re.I),
    "Feb 2025": re.compile(_MON + r"[ -](?P<y>\d{4})", re.I),
    "01/02/2025": re.compile(r"0?1/(?P<m>\d{1,2})/(?P<y>\d{4})(?: 0?0:00(?::00)?)?"),
    "2025-02-01": re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-0?1(?:[ T]0?0:00(?::00)?)?"),
}
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}


def month_of(text: str) -> tuple[str, str] | None:
    """(form, `YYYY-MM`) of a police.uk month text, or None when it is none of `MONTH_FORMS`."""
    for form, pattern in MONTH_FORMS.items():
        m = pattern.fullmatch(text)
        if m is None:
            continue
        groups = m.groupdict()
        year = int(groups["y"]) if groups.get("y") else 2000 + int(groups["yy"])
        month = int(groups["m"]) if groups.get("m") else _MONTH_NUMBER[groups["mon"][:3].lower()]
        if 1 <= month <= 12 and 1900 <= year < 2200:
            return form, f"{year:04d}-{month:02d}"
    return None


@functools.lru_cache(maxsize=4096)
def month_start_ns(month: str, tz: str) -> int:
    """First instant of a `YYYY-MM` month in `tz`, as UTC nanoseconds."""
    return pd.Timestamp(f"{month}-01").tz_localize(tz, nonexistent="shift_forward",
                                                  ambiguous=True).value


_TIME = (r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
         r"\s*(?P<p>[AaPp]\.?[Mm]\.?)?)?")
#: Date layouts of force exports, most common first; in `numeric`, `a` and `b` are day and month
#: in the order `dayfirst` says, `z` a UTC offset.
_LAYOUTS: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(p)) for name, p in (
    ("numeric", r"(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4}|\d{2})" + _TIME),
    ("iso", r"(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})" + _TIME
            + r"\s*(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"),
    ("named", r"(?P<d>\d{1,2})(?:st|nd|rd|th)?[ -](?P<mon>[A-Za-z]{3,9})\.?[ ,-]+(?P<y>\d{4})"
              + _TIME),
    ("compact", r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:T?(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?"),
    ("month", r"(?P<y>\d{4})-(?P<m>\d{1,2})"),
))


def _datetime_of(text: str, dayfirst: bool) -> tuple[pd.Timestamp, int, bool] | None:
    """(naive or UTC time, precision code, had an offset) of one date text, or None."""
    for layout, pattern in _LAYOUTS:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        g = {k: v for k, v in m.groupdict().items() if v}
        if layout == "numeric":
            a, b = int(g["a"]), int(g["b"])
            day, month = (a, b) if dayfirst else (b, a)
        elif layout == "named":
            day, month = int(g["d"]), _MONTH_NUMBER.get(g["mon"][:3].lower(), 0)
            if g["mon"].lower() not in _MONTH_NAMES:
                return None
        else:
            day, month = int(g.get("d", 1)), int(g["m"])
        year = int(g["y"])
        if year < 100:
            year += 2000 if year < 70 else 1900
        hour, minute, second = int(g.get("H", 0)), int(g.get("M", 0)), int(g.get("S", 0))
        half = g.get("p", "")[:1].lower()
        if half and not 1 <= hour <= 12:
            return None
        hour = hour + 12 if half == "p" and hour < 12 else 0 if half == "a" and hour == 12 else hour
        try:
            when = pd.Timestamp(year, month, day, hour, minute, second,
                                int(g.get("f", "0").ljust(9, "0")[:9]) // 1000)
        except ValueError:
            return None
        if not 1900 <= year < 2200:
            return None
        zone = g.get("z", "")
        if zone[:1] in "+-" and zone:
            digits = zone[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
            when -= pd.Timedelta(minutes=minutes if zone[0] == "+" else -minutes)
        precision = 2 if "H" in g else 0 if layout == "month" else 1
        return when, precision, bool(zone)
    return None


_MONTH_NAMES = {n for n in (
    "jan january feb february mar march apr april may jun june jul july aug august sep sept "
    "september oct october nov november dec december").split()}


def datetimes(col: pa.Array, *, dayfirst: bool, tz: str) -> tuple[np.ndarray, ...]:
    """(UTC nanoseconds, precision code, bad, empty) per row of a text column of dates, each
    distinct text read once. Naive times are local to `tz`: the hour repeated when clocks go back
    is read as its first occurrence, the hour skipped when they go forward moved forward."""
    codes, words = encode(trim(col))
    parsed = [_datetime_of(w, dayfirst) if w else None for w in words.to_pylist()]
    blank = np.array([w == "" for w in words.to_pylist()], dtype=bool)
    bad = np.array([p is None for p in parsed], dtype=bool) & ~blank
    ns = np.zeros(len(parsed), dtype=np.int64)
    precision = np.zeros(len(parsed), dtype=np.int8)
    naive = [i for i, p in enumerate(parsed) if p is not None and not p[2]]
    for i, p in enumerate(parsed):
        if p is not None:
            ns[i], precision[i] = p[0].value, p[1]
    if naive:
        local = pd.DatetimeIndex(ns[naive].view("datetime64[ns]")).tz_localize(
            tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
        ns[naive] = local.as_unit("ns").asi8
    return ns[codes], precision[codes], bad[codes], blank[codes]


# --- ids ----------------------------------------------------------------------------------------


def derived_ids(keys: pa.Array) -> pa.Array:
    """Ids of rows without one: ``derived-<BLAKE2b of the row's key>-<n>``, n counting the rows
    with the same key in file order, so that identical rows stay distinct incidents and reading
    the same file again gives the same ids. Each distinct key is hashed once."""
    if not len(keys):
        return pa.array([], pa.string())
    codes, distinct = encode(keys)
    digests = [hashlib.blake2b(k.encode("utf-8"), digest_size=ROW_DIGEST_SIZE,
                               person=ROW_DIGEST_PERSON).hexdigest() for k in distinct.to_pylist()]
    occurrence = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1
    heads = np.array([f"{DERIVED_PREFIX}{d}-" for d in digests], dtype=object)[codes]
    return pa.array(heads + occurrence.astype(str).astype(object), pa.string())


def _distinct(ids: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the non-empty ids all differ. Ids of one width (police.uk's 64 hex digits) are
    first told apart by a 64-bit mix of their first and last 8 bytes, sorted as integers (empty
    ids take no bytes, so the others lie back to back); only when two mixes agree, or the ids
    differ in width, are the ids themselves compared."""
    mixes = []
    for chunk in ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]:
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk) + 1, chunk.offset * 4)
        lengths = np.diff(offsets)
        width = int(lengths.max()) if len(lengths) else 0
        if chunk.null_count or width < 8 or ((lengths != width) & (lengths != 0)).any():
            mixes = None
            break
        data = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
        rows = data.reshape(-1, width)
        head = np.ascontiguousarray(rows[:, :8]).view("<u8").ravel()
        tail = np.ascontiguousarray(rows[:, -8:]).view("<u8").ravel()
        with np.errstate(over="ignore"):
            mixes.append(head * np.uint64(0x9E3779B97F4A7C15) ^ tail)
    if mixes is not None:
        mix = np.sort(np.concatenate(mixes)) if mixes else np.zeros(0, np.uint64)
        if not (mix[1:] == mix[:-1]).any():
            return True
    present = ids.filter(pc.invert(pc.equal(pc.binary_length(ids), 0)))
    return len(pc.unique(present)) == len(present)


def join_fields(fields: Sequence[pa.Array]) -> pa.Array:
    return pc.binary_join_element_wise(*fields, SEP)


def repeated_ids(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions of the non-empty ids that occur more than once."""
    if _distinct(ids):  # the usual case, and the quickest question
        return np.zeros(0, dtype=np.int64)
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    codes, _ = encode(ids)
    dup = (np.bincount(codes)[codes] > 1) & ~empty(ids)
    return np.flatnonzero(dup)


PRECISION_NAMES = np.array(PRECISIONS, dtype=object)
CATEGORY_NAMES = np.array(CATEGORIES, dtype=object)


# --- one file's rows ----------------------------------------------------------------------------


class FileState:
    """What reading one file found: the rows kept (column by column), the keys of the rows to
    derive ids for, what was left out or warned about. Merged into the read's report at the end,
    so a file read again (another encoding) starts afresh."""

    def __init__(self, name: str, problems: ProblemLog) -> None:
        self.name, self.problems = name, problems
        self.report = ReadReport(files=[name])
        self.kept: dict[str, list] = {}
        self.keys: list[pa.Array] = []  # per batch: keys of the rows without an id
        self.keys_kept: list[np.ndarray] = []  # per batch: which of those rows are kept
        self.pending: list[tuple[str, int, list[tuple]]] = []  # warnings: (kind, n, examples)
        self.offset = 0

    def keep(self, mask: np.ndarray, **columns) -> None:
        for name, values in columns.items():
            part = values.filter(pa.array(mask)) if isinstance(values, pa.Array) else values[mask]
            self.kept.setdefault(name, []).append(part)

    def column(self, name: str):
        """A kept column: text as the blocks' arrays chained (not copied), numbers joined."""
        parts = self.kept.get(name, [])
        if parts and isinstance(parts[0], pa.Array):
            return pa.chunked_array(parts)
        return np.concatenate(parts) if parts else np.zeros(0)

    def warn(self, kind: str, count: int, examples: Sequence[tuple] = ()) -> None:
        if count:
            self.pending.append((kind, count, list(examples)[: ReadReport.MAX_EXAMPLES]))

    def finish(self, rownum: Callable[[np.ndarray], np.ndarray], id_column: str,
               full_rows: Callable[[np.ndarray], list[tuple]]) -> dict | None:
        """Derive the missing ids, drop repeated rows, and return the kept columns (None when
        the file has problems)."""
        self.problems.rownum[self.name] = rownum
        out = {}
        for name in list(self.kept):  # one column at a time: the parts go as it is made
            out[name] = self.column(name)
            del self.kept[name]
        ids = out.pop("own_id", pa.chunked_array([], pa.string()))
        missing = out.pop("missing", None)
        repeated = repeated_ids(ids) if len(ids) else np.zeros(0, np.int64)
        if self.keys:
            derived = derived_ids(pa.concat_arrays(self.keys)).filter(
                pa.array(np.concatenate(self.keys_kept)))
            self.keys = []
            pick = np.arange(len(ids))
            pick[missing] = len(ids) + np.arange(int(missing.sum()))
            # One contiguous array to pick from: a take over many chunks is about twice as slow.
            ids = pa.concat_arrays([*ids.chunks, derived.cast(pa.string())]).take(pa.array(pick))
        out["incident_id"] = ids
        out.setdefault("ns", np.zeros(0, dtype=np.int64))
        if len(repeated):
            drop = self._repeats(ids, out["pos"], repeated, rownum, id_column, full_rows)
            out = {k: (v.filter(pa.array(~drop)) if isinstance(v, (pa.Array, pa.ChunkedArray)) else v[~drop])
                   for k, v in out.items()}
        for kind, count, examples in self.pending:
            rows = rownum(np.array([e[0] for e in examples], dtype=np.int64))
            shown = [Problem(self.name, int(r), *e[1:], kind) for r, e in zip(rows, examples,
                                                                              strict=True)]
            self.report.warn(kind, count, shown[0] if shown else None)
            self.report.examples.setdefault(kind, []).extend(shown[1:])
        out["report"] = self.report
        return out

    def _repeats(self, ids: pa.Array, pos: np.ndarray, repeated: np.ndarray, rownum,
                 id_column: str, full_rows) -> np.ndarray:
        """Rows to drop: later copies of a row with the same id and content (warned); a problem
        for an id shared by rows whose content differs (compared over every column)."""
        drop = np.zeros(len(ids), dtype=bool)
        rows = full_rows(pos[repeated])
        numbers = rownum(pos[repeated])
        first: dict[str, tuple[int, tuple]] = {}
        same = []
        for i, number, row in zip(repeated.tolist(), numbers.tolist(), rows, strict=True):
            ident = ids[i].as_py()
            if ident not in first:
                first[ident] = (number, row)
            elif first[ident][1] == row:
                drop[i] = True
                same.append(Problem(self.name, number, id_column, ident,
                                    f"repeats row {first[ident][0]} exactly; kept once",
                                    "duplicate row"))
            else:
                self.problems.add(Problem(self.name, number, id_column, ident,
                                          f"is also the id of row {first[ident][0]}, which has "
                                          "different content", "duplicate id"))
        if same:
            self.report.warn("duplicate row within file", len(same), same[0])
            self.report.examples["duplicate row within file"].extend(
                same[1: ReadReport.MAX_EXAMPLES])
        return drop
