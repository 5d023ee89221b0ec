"""Read one CSV file into an Arrow table: detect the text encoding, read the header, parse with
the compiled scanner (plain UTF-8 text) or pyarrow's multithreaded reader (any other), and map
table rows back to the rows a spreadsheet shows."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import mmap
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hotspots._ingest_sources import Source
from hotspots.errors import Problem

try:  # optional C extension (built at install when a C compiler is present)
    from hotspots import _csvscan
except ImportError:  # pragma: no cover - depends on the build
    _csvscan = None

log = logging.getLogger(__name__)

HEAD_BYTES = 1 << 16
BLOCK_BYTES = 2 << 20
MEMBER_IN_MEMORY_BYTES = 256 * 2**20  # zip members up to this size are decompressed at once

STRING = pa.string()
WORDS = pa.dictionary(pa.int32(), pa.string())
#: Whether files of a plain shape are read with the compiled scanner (see `_scanned`).
SCAN = True

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass
class CsvHead:
    """What the first bytes of a file say: its encoding and its header."""

    encoding: str  # a Python codec name: utf-8, cp1252 or utf-16
    header: list[str]
    first_line: str


@dataclass
class CsvTable:
    """A parsed CSV file (maybe only some of its columns) and how to find its rows again."""

    table: pa.Table | None
    encoding: str
    rows: RowMap
    header: list[str]  # every column of the file
    malformed: list[str] = field(default_factory=list)  # texts of rows with the wrong field count
    source: Source | None = None
    head: CsvHead | None = None
    newlines_in_values: bool = True
    _full: pa.Table | None = field(default=None, repr=False)

    def full(self) -> pa.Table | None:
        """Every column of the file as text (read again when only some were, or some were read
        as numbers), or None if that fails. Kept once read: only files with problems need it."""
        if self._full is not None:
            return self._full
        t = self.table
        if (t is not None and t.num_columns == len(self.header)
                and all(pa.types.is_string(c.type) for c in t.columns)):
            return t
        if self.source is None or self.head is None:
            return None
        head = CsvHead(self.encoding, self.head.header, self.head.first_line)
        again = read_table(self.source, head, {}, newlines_in_values=self.newlines_in_values)
        if isinstance(again, Problem):
            return None
        self._full = again.table
        return self._full


def not_text(source: Source, why: str) -> Problem:
    return Problem(source.name, None, None, None,
                   f"is not a CSV text file ({why}); expected a CSV file with a header row",
                   kind="not CSV")


def sniff(source: Source, head: bytes) -> CsvHead | Problem:
    """Detect the encoding and read the header from the first bytes of `source`."""
    if not head.strip(b" \t\r\n\x0c"):
        return Problem(source.name, None, None, None,
                       "the file is empty" if not head else "the file is empty (only blank lines)",
                       kind="empty file")
    whole = len(head) >= source.size
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        return not_text(source, "it holds binary data")
    else:
        encoding = "utf-8"
    text = _decode(head, encoding, final=whole)
    if text is None and encoding == "utf-8":
        encoding = "cp1252"
        text = _decode(head, encoding, final=True)
    if text is None:
        return not_text(source, "its bytes are neither UTF-8 nor Windows-1252 text")
    text = text.lstrip("\ufeff")
    lines = text.lstrip("\r\n").splitlines()
    if not lines or (len(lines) == 1 and not whole and not text.endswith(("\n", "\r"))):
        return not_text(source, f"no line ends within its first {HEAD_BYTES // 1024} KB")
    first_line = lines[0]
    if _CONTROL.search(first_line):
        return not_text(source, "its first line holds control characters")
    if len(_CONTROL.findall(text)) > len(text) // 100:
        return not_text(source, "it holds binary data")
    try:
        header = next(csv.reader(io.StringIO(text.lstrip("\r\n"), newline="")))
    except (csv.Error, StopIteration):
        return not_text(source, "its first line is not a CSV header")
    return CsvHead(encoding, [h.strip() for h in header], first_line)


def _decode(data: bytes, encoding: str, *, final: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError:
        return None


class _CountingFile:
    """A read-only file that counts the bytes read, for the progress bar."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.count = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self._raw.close()


class _Poller:
    """Report a reader's position to `advance` every fraction of a second while it runs."""

    def __init__(self, position: Callable[[], int], advance: Callable[[int], None] | None) -> None:
        self._position = position
        self._advance = advance
        self._done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _tick(self) -> None:
        try:
            pos = int(self._position())
        except (OSError, ValueError, pa.ArrowException):
            return
        if pos > self._done and self._advance is not None:
            self._advance(pos - self._done)
            self._done = pos

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._tick()

    def __enter__(self) -> _Poller:
        if self._advance is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def finish(self, total: int) -> None:
        if self._advance is not None and total > self._done:
            self._advance(total - self._done)
            self._done = total


def read_table(source: Source, head: CsvHead, types: dict[str, pa.DataType], *,
               include: list[str] | None = None, newlines_in_values: bool = True,
               advance: Callable[[int], None] | None = None) -> CsvTable | Problem:
    """Parse `source` with the column `types` given by header name (others read as strings).

    `include` names the columns to convert (all when None): the others are only split off,
    which saves time and memory. `newlines_in_values=False` is faster, for files known to have
    no line breaks inside quoted values (a break there splits the row, which is then reported
    as malformed).

    Types other than text are a shortcut for clean files: should a typed column hold a value
    that does not convert (or a number that is not finite), the file is read again with every
    column as text, so that the checks can quote each bad value as the file has it.
    """
    text_types = {name: STRING for name in head.header}
    column_types = text_types | {name: t for name, t in types.items() if name in text_types}
    typed = any(t != STRING for t in column_types.values())
    encoding = head.encoding
    advance = _Clamped(source.size, advance) if advance is not None else None
    for _attempt in range(3):
        malformed: list[str] = []

        def on_bad_row(row, malformed=malformed) -> str:
            malformed.append(row.text)
            return "skip"

        try:
            table = _parse(source, encoding, column_types, on_bad_row, advance, newlines_in_values,
                           include or [])
        except pa.ArrowInvalid as exc:
            text = str(exc)
            if "UTF8" in text and encoding == "utf-8":
                encoding = "cp1252"  # UTF-8 in the first bytes, Windows-1252 further on
                continue
            if typed and "conversion error" in text:
                column_types, typed = text_types, False
                continue
            text = text.replace("CSV parse error: ", "")
            return Problem(source.name, None, None, None, f"cannot be read as CSV ({text})",
                           kind="not CSV")
        except UnicodeDecodeError:
            return not_text(source, f"its bytes are neither UTF-8 nor {encoding} text")
        except (OSError, pa.ArrowException, EOFError) as exc:
            return Problem(source.name, None, None, None, f"cannot be read ({exc})",
                           kind="unreadable")
        if typed and not _all_finite(table):
            column_types, typed = text_types, False
            continue
        rows = RowMap(source, encoding, len(head.header), table.num_rows, bool(malformed))
        return CsvTable(table, encoding, rows, list(head.header), malformed, source, head,
                        newlines_in_values)
    return not_text(source, "its bytes are neither UTF-8 nor Windows-1252 text")  # pragma: no cover


def _all_finite(table: pa.Table) -> bool:
    """False when a floating-point column holds NaN or an infinity (nulls are fine)."""
    for col in table.columns:
        if pa.types.is_floating(col.type) and pc.any(pc.invert(pc.is_finite(col))).as_py():
            return False
    return True


class _Clamped:
    """Progress for one file that never passes the file's size (a file read twice)."""

    def __init__(self, total: int, advance: Callable[[int], None]) -> None:
        self._left = total
        self._advance = advance

    def __call__(self, step: int) -> None:
        step = min(step, self._left)
        if step > 0:
            self._left -= step
            self._advance(step)


def _parse(source: Source, encoding: str, column_types, on_bad_row, advance,
           newlines_in_values: bool, include: list[str]) -> pa.Table:
    read_options = pacsv.ReadOptions(
        use_threads=True, block_size=BLOCK_BYTES,
        encoding="utf8" if encoding == "utf-8" else encoding,
    )
    parse_options = pacsv.ParseOptions(newlines_in_values=newlines_in_values,
                                       invalid_row_handler=on_bad_row)
    convert_options = pacsv.ConvertOptions(
        column_types=column_types, strings_can_be_null=False, quoted_strings_can_be_null=False,
        null_values=[""],  # only an empty number is missing: "NA" or "null" is a bad value
        include_columns=include,
        # Checked after the read instead, much faster for text that is all ASCII.
        check_utf8=encoding != "utf-8",
    )
    whole: bytes | None = None
    if source.member is not None and source.size <= MEMBER_IN_MEMORY_BYTES:
        # Decompressing a member whole is much faster than Arrow pulling it through Python.
        with source.open() as fh:
            whole = fh.read()
    if encoding == "utf-8":
        table = _scanned(source, whole, column_types, include, advance)
        if table is not None:
            if not _valid_utf8(table):
                raise pa.ArrowInvalid("CSV conversion error: invalid UTF8 data")
            return table
    if source.member is None:
        stream = pa.OSFile(str(source.path))
        position: Callable[[], int] = stream.tell
    elif whole is not None:
        stream = pa.BufferReader(whole)
        position = stream.tell
    else:
        stream = _CountingFile(source.open())
        position = lambda: stream.count  # noqa: E731
    try:
        with _Poller(position, advance) as poller:
            table = pacsv.read_csv(stream, read_options=read_options, parse_options=parse_options,
                                   convert_options=convert_options)
            poller.finish(source.size)
    finally:
        stream.close()
    if encoding == "utf-8" and not _valid_utf8(table):
        raise pa.ArrowInvalid("CSV conversion error: invalid UTF8 data")
    return table


_KINDS = {STRING: 1, WORDS: 2, pa.float64(): 3}  # the scanner's codes for the column types
_KIND_TYPES = {kind: t for t, kind in _KINDS.items()}
SCAN_CHUNK_BYTES = 8 * 2**20


def _scanned(source: Source, whole: bytes | None, column_types: dict[str, pa.DataType],
             include: list[str], advance) -> pa.Table | None:
    """The table pyarrow's reader would give for a UTF-8 file of plain shape, read by the
    compiled scanner (`hotspots/_csvscan.c`) in parallel byte ranges; None when the scanner is
    not built or declines the file (quotes in a converted column, rows of another length, ...),
    which pyarrow then reads.

    pyarrow's general reader copies every field of every row before it converts the columns
    asked for; of a police.uk file ingest converts 7 of 12 columns, and the scanner reads them
    in place at about a third of the CPU time.
    """
    if not SCAN or _csvscan is None or (source.member is not None and whole is None):
        return None
    header_names = list(column_types)  # every column of the file, in order
    wanted = include or header_names
    if len(set(wanted)) != len(wanted) or any(name not in column_types for name in wanted):
        return None
    kinds = bytearray()
    for name in header_names:
        kind = _KINDS.get(column_types[name]) if name in wanted else 0
        if kind is None:
            return None
        kinds.append(kind)
    if whole is not None:
        return _scan_bytes(source, whole, bytes(kinds), header_names, wanted, advance)
    try:
        with source.path.open("rb") as fh:
            # The file's pages are read in place; the table holds copies of its values. (An
            # empty file cannot be mapped: ValueError.)
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _scan_bytes(source, mm, bytes(kinds), header_names, wanted, advance)
    except (OSError, ValueError):
        return None


def _scan_bytes(source: Source, data, kinds: bytes, header_names: list[str], wanted: list[str],
                advance) -> pa.Table | None:
    """`_scanned` of the file's bytes `data` (bytes or a memory map); the threads have all
    stopped when this returns."""
    size = len(data)
    start = 3 if data[:3] == codecs.BOM_UTF8 else 0
    while start < size and data[start] in b"\r\n":  # blank lines before the header
        start += 1
    end_of_header = data.find(b"\n", start)
    if end_of_header < 0:  # pyarrow does not read a header without a line end
        return None
    header = data[start:end_of_header].rstrip(b"\r")
    # The names must be the ones pyarrow would read: unquoted, unpadded, one per column.
    if b'"' in header or b"\r" in header or header.split(b",") != [
            name.encode("utf-8") for name in header_names]:
        return None
    body = end_of_header + 1
    # Byte ranges of about SCAN_CHUNK_BYTES (several per thread), each ending at a line end.
    workers = os.cpu_count() or 1
    step = max(min(SCAN_CHUNK_BYTES, -(-(size - body) // (2 * workers))), BLOCK_BYTES)
    bounds = [body]
    while bounds[-1] < size:
        cut = data.find(b"\n", min(bounds[-1] + step, size) - 1)
        bounds.append(size if cut < 0 else cut + 1)
    ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    pool = (ThreadPoolExecutor(max_workers=min(workers, len(ranges)))
            if len(ranges) > 1 and workers > 1 else None)
    results = []
    try:
        pending = [pool.submit(_csvscan.scan, data, lo, hi, kinds)
                   for lo, hi in ranges] if pool else []
        for i, (lo, hi) in enumerate(ranges):
            result = pending[i].result() if pool else _csvscan.scan(data, lo, hi, kinds)
            if isinstance(result, str):
                log.debug("%s: read with pyarrow (the scanner found %s)", source.name, result)
                return None
            results.append(result)
            if advance is not None:
                advance(hi - lo)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if advance is not None:
        advance(body)
    converted = [name for name, kind in zip(header_names, kinds, strict=True) if kind]
    chunks: dict[str, list[pa.Array]] = {name: [] for name in converted}
    for rows, columns in results:
        for name, column in zip(converted, columns, strict=True):
            chunks[name].append(_scanned_array(rows, column))
    return pa.Table.from_arrays(
        [pa.chunked_array(chunks[name], type=_KIND_TYPES[kinds[header_names.index(name)]])
         for name in wanted],
        names=wanted)


def _scanned_array(rows: int, column: tuple) -> pa.Array:
    """An Arrow array over the buffers of one column of one byte range (no copy)."""
    kind = column[0]
    if kind == _KINDS[STRING]:
        _, offsets, data = column
        return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
    if kind == _KINDS[WORDS]:
        _, codes, words = column
        indices = pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer(codes)])
        dictionary = pa.array(words, type=pa.binary()).view(STRING)
        return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)
    _, values, valid, nulls = column
    return pa.Array.from_buffers(pa.float64(), rows,
                                 [pa.py_buffer(valid) if nulls else None, pa.py_buffer(values)],
                                 null_count=nulls)


def _valid_utf8(table: pa.Table) -> bool:
    """Whether every text column (and every dictionary of text) holds valid UTF-8: bytes that
    are all ASCII are, and only a chunk with other bytes is validated in full."""
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = pa.chunked_array([c.dictionary for c in col.chunks], type=col.type.value_type)
        if not pa.types.is_string(col.type):
            continue
        for chunk in col.chunks:
            data = chunk.buffers()[2]
            if data is None or not data.size or np.frombuffer(data, dtype=np.uint8).max() < 0x80:
                continue
            try:
                chunk.validate(full=True)
            except pa.ArrowInvalid:
                return False
    return True


class RowMap:
    """Spreadsheet row numbers (header = row 1) of table rows.

    The table skips blank lines and rows with the wrong number of fields, which a spreadsheet still
    shows as rows; when a file may have either, one pass with Python's csv module numbers them.
    That pass runs only when a row number is asked for, which is rare (problems and examples).
    """

    def __init__(self, source: Source, encoding: str, ncols: int, nrows: int, malformed: bool) -> None:
        self.source = source
        self.encoding = encoding
        self.ncols = ncols
        self.nrows = nrows
        self._has_malformed = malformed
        self._done = False
        self._valid: np.ndarray | None = None
        self._bad: list[tuple[int, int, str]] | None = None

    def rows(self, idx) -> np.ndarray:
        """Row numbers of table rows `idx` (array-like of 0-based positions)."""
        idx = np.asarray(idx, dtype=np.int64)
        if not len(idx):
            return idx
        valid = self._numbering()
        if valid is None:
            return idx + 2
        return valid[idx]

    def row(self, i: int) -> int:
        return int(self.rows([i])[0])

    def malformed(self) -> list[tuple[int | None, int | None, str | None]]:
        """(row, number of fields, text) of each row pyarrow skipped for its field count."""
        self._numbering()
        return list(self._bad or [])

    def _numbering(self) -> np.ndarray | None:
        if self._done:
            return self._valid
        self._done = True
        if not self._has_malformed and not self._may_have_blank_lines():
            return None
        valid, bad = self._scan()
        self._bad = bad
        if len(valid) == self.nrows:  # else csv and pyarrow disagree: keep the simple numbering
            self._valid = np.asarray(valid, dtype=np.int64)
        return self._valid

    def _may_have_blank_lines(self) -> bool:
        if self.source.member is not None or self.encoding == "utf-16":
            return True
        try:
            with self.source.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                end = len(mm)
                while end > 0 and mm[end - 1] in b" \t\r\n":
                    end -= 1
                start = 0
                while start < end and mm[start] in b"\r\n":
                    start += 1
                return any(mm.find(pat, start, end) >= 0 for pat in (b"\n\n", b"\n\r\n", b"\r\r"))
        except (OSError, ValueError):
            return True

    def _scan(self) -> tuple[list[int], list[tuple[int, int, str]]]:
        valid: list[int] = []
        bad: list[tuple[int, int, str]] = []
        encoding = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        try:
            with self.source.open() as raw:
                text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
                record = 0
                header_seen = False
                for fields in csv.reader(text):
                    record += 1
                    if not header_seen:
                        if fields:
                            header_seen = True
                        continue
                    if not fields:
                        continue
                    if len(fields) != self.ncols:
                        bad.append((record, len(fields), ",".join(fields)))
                    else:
                        valid.append(record)
        except (OSError, csv.Error, UnicodeError, EOFError):
            return [], []
        return valid, bad
