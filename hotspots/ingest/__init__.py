"""Read incident files into the incident data model: police.uk street-level CSVs (a file, a folder
of monthly files or the archive zip), force export CSVs with real timestamps, and GeoJSON,
GeoPackage or GeoParquet points. Files are read as streams in blocks; every problem of every file
is collected before anything is returned, so a user can fix a file in one go.

Where things are: `sources` (files, folders, zip members, upload limits, CSV blocks), `policeuk`,
`force` and `geo` (one module per format), `checks` (values, problems and ids)."""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike

import numpy as np
import pandas as pd
import pyarrow as pa

from hotspots.errors import InputError, Problem
from hotspots.ingest import checks, force, geo, policeuk
from hotspots.ingest.force import ForceColumns
from hotspots.ingest.policeuk import POLICEUK_COLUMNS
from hotspots.ingest.sources import Budget, CsvRows, Limits, Source, expand_paths, sniff
from hotspots.report import ReadReport
from hotspots.schema import PRECISION_DTYPE, empty_incidents, make_incidents
from hotspots.settings import Settings, get_settings

__all__ = ["FORMATS", "POLICEUK_COLUMNS", "ForceColumns", "Limits", "read_incidents",
           "read_incidents_report"]

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("auto", "police.uk", "force", "geo")
#: Inputs of this many bytes or more get a progress bar on a terminal (about 150,000 rows).
PROGRESS_BYTES = 32 * 2**20


@dataclass
class Context:
    """What the readers of one `read_incidents` call share."""

    settings: Settings
    columns: ForceColumns
    problems: checks.ProblemLog
    budget: Budget
    advance: object = None
    first_error: bool = False
    project: checks.Projector = field(default_factory=checks.Projector)

    def missing_columns(self, file: str, missing: Sequence[str], header: Sequence[str],
                        hint: str = "") -> None:
        names = ", ".join(repr(m) for m in missing)
        found = ", ".join(header) if header else "(none)"
        self.problems.add(Problem(file, None, None, None,
                                  f"is missing the required column{'s' if len(missing) > 1 else ''} "
                                  f"{names}; the columns found are: {found}{hint}", "missing columns"))

    def malformed(self, rows: CsvRows) -> None:
        rows.numbered()
        ncols = len(rows.head.header)
        for number, fields, text in rows.malformed:
            self.problems.add(Problem(rows.src.name, number, None, text,
                                      f"has {fields} fields; expected {ncols} as in the header",
                                      "malformed row"))
        if len(rows.invalid) > len(rows.malformed):
            self.problems.add(Problem(rows.src.name, None, None, None,
                                      f"{len(rows.invalid) - len(rows.malformed):,} more rows "
                                      "like this (malformed row)", "malformed row"))
            self.problems.total += len(rows.invalid) - len(rows.malformed) - 1

    def full_rows(self, rows: CsvRows, pos: np.ndarray) -> list[bytes]:
        """A digest of every field (trimmed) of the rows at `pos`, read again: only repeated ids
        need it."""
        again = CsvRows(rows.src, rows.head, rows.encoding, list(range(len(rows.head.header))),
                        Budget(None))
        out: dict[int, tuple] = {}
        start = 0
        for batch in again:
            inside = pos[(pos >= start) & (pos < start + batch.num_rows)]
            if len(inside):
                take = pa.array(inside - start)
                joined = checks.join_fields([checks.trim(c.take(take)) for c in batch.columns])
                # A digest per row, not the row: a file may repeat a million rows.
                out.update(zip(inside.tolist(), (hashlib.blake2b(r.encode(), digest_size=16).digest()
                                                 for r in joined.to_pylist()), strict=True))
            start += batch.num_rows
        return [out.get(p, b"") for p in pos.tolist()]


def read_incidents(paths: str | PathLike | Sequence[str | PathLike], *, format: str = "auto",
                   columns: ForceColumns | None = None, source: str | None = None,
                   settings: Settings | None = None, progress: bool | None = None,
                   limits: Limits | None = None, first_error: bool = False,
                   members: Sequence[str] | None = None) -> pd.DataFrame:
    """Read incident files into one incident frame.

    Parameters
    ----------
    paths
        A file, a folder (its CSVs, in subfolders too) or a police.uk archive zip, or a list of
        them. Police.uk outcomes and stop-and-search files are skipped and counted.
    format
        `auto` (by file name and header), `police.uk`, `force` (a CSV with timestamps) or `geo`
        (GeoJSON, GeoPackage, GeoParquet points).
    columns
        Column names and coordinate CRS of force exports and geo files; found by name when None.
    source
        Label for the `source` column; default `police.uk` for police.uk files and
        `force-export` for the others.
    settings
        Category and harm tables, timezone, `exclude_btp`, `unknown_crime_type`; read from the
        instance folder when None.
    progress
        Show a progress bar on stderr: True always, False never, None for large inputs when stderr
        is a terminal.
    limits
        Bytes once unzipped, compression ratio and rows the read may take in (`Limits`; the web
        upload and the CLI pass `Limits.from_settings`); None: no limits.
    first_error
        Stop at the first problem (a dry run) instead of collecting every one.
    members
        Of a zip, read only these members (`hotspots.streaming` reads an archive month by month).

    Returns
    -------
    DataFrame
        The data model's columns, points as `x`, `y` in EPSG:27700 (metres); `attrs["read_report"]` holds the
        `ReadReport` (`ReadReport.to_dict`); `read_incidents_report` gives the object itself.

    Raises
    ------
    InputError
        Anything wrong with any file, with the problems found in `problems` (file, row as a
        spreadsheet numbers it with the header as row 1, column, value, what was expected) and
        their true number in `total`. Past 100 problems of one kind in one column of a file, the
        rest are counted in one more. A limit passed stops the read at once.

    Notes
    -----
    A row without an id (police.uk ASB) gets ``derived-<BLAKE2b of its fields>-<n>``, n counting
    identical rows in the file, so reading the same file again gives the same ids; the fields are
    police.uk's Month, Reported by, Longitude, Latitude, Crime type and Context (coordinates as
    six-decimal numbers, months as YYYY-MM, so a spreadsheet's re-save changes no id), or every
    field of another file. Police.uk times are the first instant of the month (`time_precision`
    "month"); force exports' naive times are local (Europe/London by default).
    """
    frame, _ = read_incidents_report(paths, format=format, columns=columns, source=source,
                                     settings=settings, progress=progress, limits=limits,
                                     first_error=first_error, members=members)
    return frame


def read_incidents_report(paths: str | PathLike | Sequence[str | PathLike], *, format: str = "auto",
                          columns: ForceColumns | None = None, source: str | None = None,
                          settings: Settings | None = None, progress: bool | None = None,
                          limits: Limits | None = None, first_error: bool = False,
                          members: Sequence[str] | None = None,
                          ) -> tuple[pd.DataFrame, ReadReport]:
    """Like `read_incidents`, also returning the `ReadReport`."""
    if format not in FORMATS:
        msg = f"`format` must be one of {', '.join(FORMATS)}; got {format!r}."
        raise InputError(msg)
    if columns is None:
        columns = ForceColumns()
    elif not isinstance(columns, ForceColumns):
        msg = f"`columns` must be a ForceColumns; got {type(columns).__name__}."
        raise TypeError(msg)
    if source is not None and not str(source).strip():
        msg = "`source` must not be empty; leave it out for the default label."
        raise InputError(msg)
    settings = settings if settings is not None else get_settings()
    report = ReadReport()
    found: list[Problem] = []
    sources = expand_paths(paths, found, report, members)
    if not sources and not found:
        msg = "`paths` is empty: give at least one file, folder or zip archive."
        raise InputError(msg)
    ctx = Context(settings, columns, checks.ProblemLog(), Budget(limits), first_error=first_error)
    for problem in found:
        ctx.problems.add(problem)
    bar = _progress_bar(sum(s.size for s in sources), progress)
    ctx.advance = bar.update if bar is not None else None
    parts = []
    try:
        for src in sources:
            if first_error and ctx.problems:
                break
            part, kind = _read_source(src, format, ctx)
            if part is not None:
                label = source or ("police.uk" if kind == "police.uk" else "force-export")
                parts.append((part, label))
    finally:
        if bar is not None:
            bar.close()
    if ctx.problems:
        raise InputError.from_problems(ctx.problems.problems(), total=ctx.problems.total)
    for part, _ in parts:
        report.merge(part.pop("report"))
    frame = _frame(parts, settings)
    frame.attrs["read_report"] = report.to_dict()
    log.info("read %d incidents from %d files", len(frame), len(report.files))
    return frame, report


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = total >= PROGRESS_BYTES and sys.stderr is not None and sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc="reading incidents", file=sys.stderr, dynamic_ncols=True)


def _read_source(src: Source, format: str, ctx: Context) -> tuple[dict | None, str]:
    try:
        head = src.head()
    except (OSError, EOFError, RuntimeError, ValueError) as exc:
        # RuntimeError: zipfile's answer for an encrypted member.
        ctx.problems.add(Problem(src.name, None, None, None, f"cannot be read ({exc})", "unreadable"))
        return None, format
    kind = format
    if format == "geo" or (format == "auto" and geo.is_geo(src, head)):
        return geo.read(src, ctx), "geo"
    sniffed = sniff(src, head)
    if isinstance(sniffed, Problem):
        ctx.problems.add(sniffed)
        return None, kind
    if kind == "auto":
        kind = _csv_kind(src, sniffed.header, sniffed.first_line, ctx)
        if kind is None:
            return None, format
    reader = policeuk.read if kind == "police.uk" else force.read
    return reader(src, sniffed, ctx), kind


def _csv_kind(src: Source, header: list[str], first_line: str, ctx: Context) -> str | None:
    keys = {policeuk.key(h) for h in header}
    marks = keys & {policeuk.key(c) for c in POLICEUK_COLUMNS}
    cols = ctx.columns
    explicit = any(getattr(cols, f) for f in ("id_col", "datetime_col", "type_col", "x_col"))
    if not explicit and ({"month", "crimetype"} <= keys or len(marks) >= 4):
        return "police.uk"
    found = force.roles(header, cols)
    if explicit or sum(found[r] is not None for r in ("id", "datetime", "type", "x", "y")) >= 2:
        return "force"
    if (src.member or str(src.path)).lower().endswith("-street.csv"):
        return "police.uk"
    shown = first_line if len(first_line) <= 80 else first_line[:77] + "..."
    ctx.problems.add(Problem(
        src.name, None, None, None,
        f"has no recognisable header (its first line is {shown!r}); expected the police.uk "
        f"columns ({', '.join(POLICEUK_COLUMNS)}) or a force export with columns for the date and "
        "time, the crime type and easting/northing or longitude/latitude", "not CSV"))
    return None


def _frame(parts: list[tuple[dict, str]], settings: Settings) -> pd.DataFrame:
    """The incident frame of the kept rows of every file (through the data model's builder)."""
    parts = [(p, label) for p, label in parts if len(p["ns"])]
    if not parts:
        return empty_incidents(settings)

    def joined(name: str, *, few: bool = False, arrow: bool = False):
        values = [p.pop(name) for p, _ in parts]
        if not isinstance(values[0], (pa.Array, pa.ChunkedArray)):
            return np.concatenate(values)
        values = pa.chunked_array([c for v in values for c in getattr(v, "chunks", [v])],
                                  pa.string())
        if arrow:  # kept as Arrow strings into the frame's string column
            return values
        if not few:
            return values.to_numpy()
        values = values.combine_chunks()
        # Few distinct values (types, snap-point labels): one Python string each, not one a row.
        codes, words = checks.encode(values)
        return words.to_numpy(zero_copy_only=False)[codes]

    precision = np.concatenate([p.get("precision", np.zeros(len(p["ns"]), np.int8))
                                for p, _ in parts])
    labels = np.concatenate([np.where(p["demo"], "demo", label) if "demo" in p else
                             np.full(len(p["ns"]), label, dtype=object) for p, label in parts])
    ns = joined("ns")
    return make_incidents(
        incident_id=joined("incident_id", arrow=True),
        occurred_at=pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")),
        time_precision=pd.Categorical.from_codes(precision, dtype=PRECISION_DTYPE),
        crime_type=joined("type", few=True),
        x=joined("x"), y=joined("y"), source=labels, settings=settings,
        category=checks.CATEGORY_NAMES[joined("category")], harm=joined("harm"),
        location=joined("location", few=True))
