"""Where rows come from: the files given (plain files, the CSVs of a folder, the CSV members of a
zip), read as a stream of bytes within the limits of an upload, and CSV text read in blocks with
the rows numbered as a spreadsheet numbers them (the header is row 1)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hotspots.errors import InputError, Problem
from hotspots.report import ReadReport
from hotspots.settings import Settings

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".parquet", ".geoparquet", ".fgb", ".shp"}
#: Police.uk archive files that are not street-level incidents: skipped and counted.
SKIPPED_KINDS = {"-outcomes.csv": "police.uk outcomes files (not read)",
                 "-stop-and-search.csv": "police.uk stop-and-search files (not read)"}
HEAD_BYTES = 1 << 16
BLOCK_BYTES = 4 << 20
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Source:
    """One file to read: a file on disk or a member of a zip archive."""

    name: str  # as messages show it: the path, or "archive.zip/2024-05/2024-05-x-street.csv"
    path: Path  # the file, or the zip holding the member
    member: str | None = None
    size: int = 0  # bytes (uncompressed for a zip member)
    compressed: int = 0  # a zip member's compressed bytes

    @property
    def suffix(self) -> str:
        return Path(self.member or self.path.name).suffix.lower()

    def open(self) -> IO[bytes]:
        if self.member is None:
            return self.path.open("rb")
        with zipfile.ZipFile(self.path) as archive:  # the member keeps the file open
            return archive.open(self.member)

    def head(self, size: int = HEAD_BYTES) -> bytes:
        with self.open() as fh:
            return fh.read(size)


@dataclass(frozen=True)
class Limits:
    """What one read may take in: bytes once unzipped, the compression ratio of a zip member and
    rows; None for no limit. `from_settings` gives the upload limits of the settings."""

    inflated_mb: float | None = None
    ratio: float | None = None
    rows: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.upload_max_inflated_mb, settings.upload_max_ratio,
                   settings.upload_max_rows)


class Budget:
    """Counts what a read took in against its `Limits`; refuses past one, naming the file."""

    RATIO_FROM_BYTES = 1 << 20  # smaller members may have any ratio

    def __init__(self, limits: Limits | None) -> None:
        self.limits = limits or Limits()
        self.bytes = 0
        self.rows = 0

    def take_bytes(self, src: Source, n: int, member_total: int, packed: int = 0) -> None:
        """Count `n` more bytes of `src`: `member_total` read of it so far, from `packed` bytes
        of the zip archive."""
        self.bytes += n
        lim = self.limits
        if lim.inflated_mb is not None and self.bytes > lim.inflated_mb * 2**20:
            msg = (f"{src.name}: the upload holds more than {lim.inflated_mb:,g} MB once unzipped "
                   "(setting upload_max_inflated_mb); nothing was stored. Ingest fewer files at a "
                   "time, or a police.uk archive with `hotspots ingest --stream`.")
            raise InputError(msg, problems=[Problem(src.name, None, None, None, msg.split(": ", 1)[1],
                                                    "too large")])
        if (lim.ratio is not None and src.member is not None
                and member_total > self.RATIO_FROM_BYTES
                and member_total > lim.ratio * max(packed, 1)):
            msg = (f"{src.name}: unzips to more than {lim.ratio:,g} times its compressed size "
                   "(setting upload_max_ratio), which no police.uk file does; nothing was stored.")
            raise InputError(msg, problems=[Problem(src.name, None, None, None, msg.split(": ", 1)[1],
                                                    "too large")])

    def take_rows(self, src: Source, n: int) -> None:
        self.rows += n
        if self.limits.rows is not None and self.rows > self.limits.rows:
            msg = (f"{src.name}: the upload holds more than {self.limits.rows:,} rows (setting "
                   "upload_max_rows); nothing was stored. Ingest fewer months at a time, or a "
                   "police.uk archive with `hotspots ingest --stream`.")
            raise InputError(msg, problems=[Problem(src.name, None, None, None, msg.split(": ", 1)[1],
                                                    "too large")])


class _Counted(io.FileIO):
    """A file that counts the bytes read from it (of a zip: the compressed bytes)."""

    count = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.count += len(data)
        return data


class Metered(io.RawIOBase):
    """A source's bytes, read in blocks, counted against the budget and the progress bar; of a
    zip member also the compressed bytes they came from, for the compression ratio."""

    def __init__(self, src: Source, budget: Budget, advance: Callable[[int], None] | None) -> None:
        self.src, self.budget, self.advance = src, budget, advance
        self.count = 0
        self.packed: _Counted | None = None
        if src.member is None:
            self.raw = src.open()
        else:
            self.packed = _Counted(src.path)
            self.raw = zipfile.ZipFile(self.packed).open(src.member)
            self.start = self.packed.count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view, done = memoryview(buffer), 0
        # zipfile reads as many compressed bytes as the bytes asked for, ahead of what it
        # inflates: a member is read in small pieces, so that the count of compressed bytes
        # stays close to what the bytes given came from.
        step = len(view) if self.packed is None else 1 << 13
        while done < len(view):
            n = self.raw.readinto(view[done:done + step])
            if not n:
                break
            done += n
            self.count += n
            packed = self.packed.count - self.start if self.packed is not None else 0
            self.budget.take_bytes(self.src, n, self.count, packed)
            if self.advance is not None:
                self.advance(n)
        return done

    def close(self) -> None:
        self.raw.close()
        if self.packed is not None:
            self.packed.close()
        super().close()


# --- files, folders, zips -----------------------------------------------------------------------


def skipped_kind(name: str) -> str | None:
    """The report reason when `name` is a police.uk outcomes or stop-and-search file."""
    return next((why for end, why in SKIPPED_KINDS.items() if name.lower().endswith(end)), None)


def _hidden(parts: Iterable[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _as_paths(paths: object) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    if not isinstance(paths, Iterable):
        msg = f"`paths` must be a path or a list of paths; got {type(paths).__name__}."
        raise TypeError(msg)
    out = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            msg = f"`paths` must hold file, folder or zip paths; got {type(p).__name__}."
            raise TypeError(msg)
        out.append(Path(p))
    return out


def expand_paths(paths: object, problems: list[Problem], report: ReadReport,
                 members: Iterable[str] | None = None) -> list[Source]:
    """The files to read, in a stable order; a `Problem` for each path that cannot be read.
    `members`: of a zip, only these."""
    wanted = None if members is None else set(members)
    sources: list[Source] = []
    for path in _as_paths(paths):
        name = str(path)
        if path.is_dir():
            found = [(p.relative_to(path).parts, p) for p in sorted(path.rglob("*"))]
            found = [(str(p), p, None, p.stat().st_size, 0) for parts, p in found
                     if not _hidden(parts) and p.suffix.lower() == ".csv" and p.is_file()]
            sources += _keep(name, found, problems, report, " in it or its subfolders")
        elif not path.exists():
            problems.append(Problem(name, None, None, None, "no such file or folder", "missing file"))
        elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    infos = sorted(archive.infolist(), key=lambda i: i.filename)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
                problems.append(Problem(name, None, None, None,
                                        f"cannot be read as a zip archive ({exc})", "unreadable"))
                continue
            found = [(f"{name}/{i.filename}", path, i.filename, i.file_size, i.compress_size)
                     for i in infos if not i.is_dir() and i.filename.lower().endswith(".csv")
                     and (wanted is None or i.filename in wanted)
                     and not _hidden(p for p in i.filename.split("/") if p)]
            sources += _keep(name, found, problems, report, "")
        elif skipped_kind(path.name) is not None:
            problems.append(Problem(name, None, None, None,
                                    "is a police.uk outcomes or stop-and-search file, which holds no "
                                    "incidents to map; give the -street.csv files instead",
                                    "wrong file"))
        else:
            sources.append(Source(name, path, None, path.stat().st_size))
    return sources


def _keep(name: str, found: list[tuple], problems: list[Problem], report: ReadReport,
          where: str) -> list[Source]:
    """The sources of a folder or zip, leaving out (and counting) police.uk's other files."""
    kept, skipped = [], 0
    for item in found:
        reason = skipped_kind(item[0])
        if reason is not None:
            report.exclude(reason, 1)
            skipped += 1
        else:
            kept.append(Source(*item))
    if not kept:
        extra = f" (only {skipped} outcomes or stop-and-search files, which are not read)" if skipped else ""
        problems.append(Problem(name, None, None, None,
                                f"holds no CSV files of incidents{where}{extra}", "no files"))
    return kept


# --- CSV text -----------------------------------------------------------------------------------


@dataclass
class CsvHead:
    encoding: str  # utf-8, cp1252 or utf-16
    header: list[str]
    first_line: str
    skip: int  # records before the first data row (blank lines, then the header)


def _not_text(src: Source, why: str) -> Problem:
    return Problem(src.name, None, None, None,
                   f"is not a CSV text file ({why}); expected a CSV file with a header row", "not CSV")


def sniff(src: Source, head: bytes) -> CsvHead | Problem:
    """The encoding and header of a CSV file, from its first bytes."""
    if not head.strip(b" \t\r\n\x0c"):
        return Problem(src.name, None, None, None,
                       "the file is empty" if not head else "the file is empty (only blank lines)",
                       "empty file")
    whole = len(head) >= src.size
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        return _not_text(src, "it holds binary data")
    else:
        encoding = "utf-8"
    text = None
    for guess in (encoding, "cp1252") if encoding == "utf-8" else (encoding,):
        try:
            text = codecs.getincrementaldecoder(guess)().decode(head, final=whole or guess != "utf-8")
            encoding = guess
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return _not_text(src, "its bytes are neither UTF-8 nor Windows-1252 text")
    text = text.lstrip("\ufeff")
    body = text.lstrip("\r\n")
    lines = body.splitlines()
    if not lines or (len(lines) == 1 and not whole and not text.endswith(("\n", "\r"))):
        return _not_text(src, f"no line ends within its first {HEAD_BYTES // 1024} KB")
    if _CONTROL.search(lines[0]) or len(_CONTROL.findall(text)) > len(text) // 100:
        return _not_text(src, "it holds binary data")
    try:
        header = next(csv.reader(io.StringIO(body, newline="")))
    except (csv.Error, StopIteration):
        return _not_text(src, "its first line is not a CSV header")
    blank = text[: len(text) - len(body)]
    skip = blank.count("\n") + blank.replace("\r\n", "\n").count("\r") + 1
    return CsvHead(encoding, [h.strip() for h in header], lines[0], skip)


class Recode(Exception):
    """A file thought UTF-8 holds other bytes further on: read it again as Windows-1252."""


@dataclass
class CsvRows:
    """The rows of one CSV file in blocks (only the columns `include`, all as text), and after
    the last block the rows pyarrow left out for their number of fields."""

    src: Source
    head: CsvHead
    encoding: str
    include: list[int]
    budget: Budget
    advance: Callable[[int], None] | None = None
    threads: bool = True
    invalid: list[int | None] = field(default_factory=list)  # record numbers of the rows left out
    malformed: list[tuple[int | None, int, str]] = field(default_factory=list)  # the first few

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        names = [f"c{i}" for i in range(len(self.head.header))]

        def left_out(row) -> str:
            self.invalid.append(row.number)
            if len(self.malformed) < 100:
                self.malformed.append((row.number, row.actual_columns, row.text))
            return "skip"

        stream = Metered(self.src, self.budget, self.advance)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=self.threads, block_size=BLOCK_BYTES, column_names=names,
                    skip_rows=self.head.skip, encoding=self.encoding.replace("-", "")),
                parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                 ignore_empty_lines=False,
                                                 invalid_row_handler=left_out),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                    include_columns=[names[i] for i in self.include]))
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) and self.encoding == "utf-8":
                raise Recode from None
            text = str(exc).replace("CSV parse error: ", "")
            msg = f"{self.src.name}: cannot be read as CSV ({text})"
            raise InputError(msg, problems=[Problem(self.src.name, None, None, None,
                                                    f"cannot be read as CSV ({text})", "not CSV")]) from None
        except UnicodeDecodeError:
            msg = f"{self.src.name}: is not a CSV text file (its bytes are neither UTF-8 nor Windows-1252 text)"
            raise InputError(msg, problems=[_not_text(
                self.src, "its bytes are neither UTF-8 nor Windows-1252 text")]) from None
        finally:
            stream.close()

    def numbered(self) -> None:
        """Number the rows left out: pyarrow numbers them only when it reads in one thread, so
        a file that has such rows (and is refused for them) is read once more that way."""
        if self.invalid and None in self.invalid:
            again = CsvRows(self.src, self.head, self.encoding, self.include[:1], Budget(None),
                            threads=False)
            for _ in again:
                pass
            self.invalid, self.malformed = again.invalid, again.malformed

    def rownum(self, pos: np.ndarray) -> np.ndarray:
        """Spreadsheet row numbers of the rows delivered at positions `pos` (0-based)."""
        self.numbered()
        first = self.head.skip + 1
        skipped = np.sort(np.asarray(self.invalid, dtype=np.int64))
        before = skipped - first - np.arange(len(skipped))
        return pos + first + np.searchsorted(before, pos, side="right")


def read_csv(src: Source, head: CsvHead, include: list[int], budget: Budget, advance,
             process: Callable[[CsvRows], object]) -> object:
    """`process` the rows of `src`; again as Windows-1252 when the UTF-8 guess turns out wrong."""
    for encoding in (head.encoding, "cp1252") if head.encoding == "utf-8" else (head.encoding,):
        start = budget.bytes, budget.rows
        try:
            return process(CsvRows(src, head, encoding, include, budget, advance))
        except Recode:
            budget.bytes, budget.rows = start
            advance = None  # the bar has counted the file once
    raise AssertionError("unreachable")  # pragma: no cover


def blank_rows(batch: pa.RecordBatch) -> np.ndarray:
    """Rows whose every field read is empty: blank lines, which a spreadsheet shows as rows."""
    blank = np.ones(batch.num_rows, dtype=bool)
    for col in batch.columns:
        blank &= np.diff(col.buffers()[1] and np.frombuffer(col.buffers()[1], np.int32,
                                                             len(col) + 1, col.offset * 4)) == 0
        if not blank.any():
            break
    return blank
