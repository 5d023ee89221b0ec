"""Read incident files into the incident data model: police.uk street-level CSVs (a file, a folder
of monthly files or the archive zip), force export CSVs with real timestamps, and GeoJSON,
GeoPackage or GeoParquet points. Every problem in every file is collected before anything is
returned, so a user can fix a file in one go."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from hotspots import _ingest_checks as checks
from hotspots._ingest_csv import HEAD_BYTES, WORDS, CsvHead, CsvTable, read_table, sniff
from hotspots._ingest_sources import GEO_SUFFIXES, Source, expand_paths
from hotspots.errors import InputError, Problem
from hotspots.report import ReadReport
from hotspots.schema import (
    BNG,
    CATEGORY_DTYPE,
    INCIDENT_COLUMNS,
    PRECISION_DTYPE,
    TIME_PRECISIONS,
    empty_incidents,
    make_incidents,
)
from hotspots.settings import CATEGORIES, Settings, get_settings

__all__ = [
    "FORMATS",
    "POLICEUK_COLUMNS",
    "ForceColumns",
    "read_incidents",
    "read_incidents_report",
]

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("auto", "police.uk", "force", "geo")

#: The header of a police.uk street-level CSV.
POLICEUK_COLUMNS: tuple[str, ...] = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
POLICEUK_REQUIRED: tuple[str, ...] = ("Crime ID", "Month", "Longitude", "Latitude", "Crime type")
#: The police.uk columns read. An ASB row's id is derived from all but Crime ID. The others
#: follow from these (Falls within from the force, Location and LSOA from the map point, and LSOA
#: codes were revised in 2023) or change when police.uk republishes a month (the outcome), so
#: none of them may change an incident's id.
POLICEUK_READ: tuple[str, ...] = ("Crime ID", "Month", "Reported by", "Longitude", "Latitude",
                                  "Crime type", "Context")
#: Kept with each incident (`location`), never part of a derived id.
POLICEUK_LOCATION = "Location"
BTP = "British Transport Police"
#: How the police.uk columns are read, by `_key` of their names (others as text).
POLICEUK_TYPES: dict[str, pa.DataType] = {
    "longitude": pa.float64(), "latitude": pa.float64(),
    "month": WORDS, "reportedby": WORDS, "crimetype": WORDS,
}

#: Files of this many bytes or more get a progress bar on a terminal (about 150,000 police.uk
#: rows or 400,000 force-export rows; every file of a million rows is over it).
PROGRESS_BYTES = 32 * 2**20

# Column names recognised in force exports and geo files, best first, compared after removing
# everything but letters and digits and folding case.
ID_NAMES = ("incident_id", "incidentid", "id", "reference", "ref", "crime_id", "crime_reference",
            "crime_ref", "crime_number", "crime_no", "incident_number", "incident_no",
            "incident_ref", "occurrence_id", "occurrence_number", "occurrence_ref", "urn",
            "log_number", "cad_number", "cad_ref", "event_id", "record_id", "report_id")
DATETIME_NAMES = ("occurred_at", "datetime", "date_time", "occurred_datetime", "occurred",
                  "occurred_on", "incident_datetime", "incident_date", "offence_datetime",
                  "offence_date", "committed_datetime", "committed_date", "date_committed",
                  "date_occurred", "start_datetime", "start_date", "event_datetime", "event_date",
                  "reported_datetime", "reported_date", "reported_at", "date", "timestamp", "month")
TIME_NAMES = ("time", "occurred_time", "time_occurred", "incident_time", "offence_time",
              "committed_time", "start_time", "event_time")
TYPE_NAMES = ("crime_type", "type", "offence", "offence_type", "offence_description",
              "incident_type", "crime_category", "incident_category", "category",
              "classification", "offence_subgroup", "subgroup", "ho_class", "asb_type",
              "crime_description")
EASTING_NAMES = ("easting", "eastings", "x", "x_coord", "x_coordinate", "grid_x", "bng_x",
                 "location_x", "map_x")
NORTHING_NAMES = ("northing", "northings", "y", "y_coord", "y_coordinate", "grid_y", "bng_y",
                  "location_y", "map_y")
LON_NAMES = ("longitude", "lon", "long", "lng", "x_lon")
LAT_NAMES = ("latitude", "lat", "y_lat")
LOCATION_NAMES = ("location", "street", "street_name", "location_description", "address",
                  "place", "locus", "location_name", "street_location")
GENERIC_XY = {"x", "y", "xcoord", "ycoord", "xcoordinate", "ycoordinate", "mapx", "mapy"}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


@dataclass(frozen=True)
class ForceColumns:
    """Which columns of a force export (or geo file) hold what; None means find it by name.

    `crs` is the CRS of `x_col`/`y_col`: None reads easting/northing as EPSG:27700 and
    longitude/latitude as EPSG:4326. `dayfirst` reads `03/05/2025` as 3 May (UK style).
    """

    id_col: str | None = None
    datetime_col: str | None = None
    type_col: str | None = None
    x_col: str | None = None
    y_col: str | None = None
    crs: str | None = None
    dayfirst: bool = True

    @classmethod
    def from_options(cls, *, id_col: str | None = None, datetime_col: str | None = None,
                     type_col: str | None = None, x_col: str | None = None,
                     y_col: str | None = None, crs: str | None = None,
                     dayfirst: bool | None = None) -> ForceColumns:
        """Build from command-line style options (empty strings count as not given).

        Raises
        ------
        InputError
            Only one of `x_col` and `y_col` given, or a `crs` pyproj does not know.
        """
        def clean(value: str | None) -> str | None:
            if value is None:
                return None
            value = str(value).strip()
            return value or None

        x_col, y_col, crs = clean(x_col), clean(y_col), clean(crs)
        if (x_col is None) != (y_col is None):
            msg = "`x_col` and `y_col` go together: give both coordinate columns or neither."
            raise InputError(msg)
        if crs is not None:
            try:
                pyproj.CRS.from_user_input(crs)
            except pyproj.exceptions.CRSError:
                msg = (f"`crs` {crs!r} is not a coordinate reference system pyproj knows; use for "
                       "example EPSG:27700 (British National Grid) or EPSG:4326 (longitude/latitude).")
                raise InputError(msg) from None
        return cls(id_col=clean(id_col), datetime_col=clean(datetime_col),
                   type_col=clean(type_col), x_col=x_col, y_col=y_col, crs=crs,
                   dayfirst=True if dayfirst is None else bool(dayfirst))


@dataclass
class _Part:
    """The rows kept from one file, column by column."""

    ids: Future  # of a pa.ChunkedArray: gathered while the other columns are built
    occurred_ns: np.ndarray
    precision: np.ndarray  # codes of PRECISION_DTYPE
    types: pa.Array
    category: np.ndarray  # codes of CATEGORY_DTYPE
    harm: np.ndarray  # float64
    geometry: np.ndarray
    source: pa.Array  # large strings
    location: pa.Array  # large strings


@dataclass
class _Rows:
    """What one file's columns say, before the rows are kept or the file refused."""

    file: str
    n: int
    rows: Callable[[np.ndarray], np.ndarray]
    problems: checks.ProblemLog
    report: ReadReport
    settings: Settings
    active: np.ndarray = field(default=None)  # rows still being read
    points: checks.PointCache | None = None  # shared by the files of one read

    def __post_init__(self) -> None:
        if self.active is None:
            self.active = np.ones(self.n, dtype=bool)

    def at(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.flatnonzero(mask)
        return pos, self.rows(pos)


def read_incidents(paths: str | PathLike | Sequence[str | PathLike], *, format: str = "auto",
                   columns: ForceColumns | None = None, source: str | None = None,
                   settings: Settings | None = None, progress: bool | None = None,
                   ) -> gpd.GeoDataFrame:
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

    Returns
    -------
    GeoDataFrame
        The data model's columns in EPSG:27700 (metres); `attrs["read_report"]` holds the
        `ReadReport` (rows read, rows left out by reason, warnings with examples) as plain JSON
        types (`ReadReport.to_dict`), so the frame can be written to Parquet as it is;
        `read_incidents_report` gives the report object itself.

    Raises
    ------
    InputError
        Anything wrong with any file, with every problem found in `problems` (file, row as a
        spreadsheet numbers it with the header as row 1, column, value, what was expected). Past
        100 problems of one kind in one column of a file, the rest are counted in one more.

    Notes
    -----
    Rows keep their file order. A row without an id (police.uk ASB) gets
    ``derived-<BLAKE2b of its identifying fields>-<n>``, n counting identical rows in the file,
    so reading the same file again gives the same ids (police.uk coordinates enter as numbers
    with six decimals, so trimmed trailing zeros change no id). Police.uk times are the first
    instant of the month (`time_precision` "month"); force exports' naive times are local
    (Europe/London by default), the repeated hour when clocks go back read as its first
    occurrence and the missing hour when they go forward moved forward.
    """
    frame, _report = read_incidents_report(paths, format=format, columns=columns, source=source,
                                           settings=settings, progress=progress)
    return frame


def read_incidents_report(paths: str | PathLike | Sequence[str | PathLike], *, format: str = "auto",
                          columns: ForceColumns | None = None, source: str | None = None,
                          settings: Settings | None = None, progress: bool | None = None,
                          ) -> tuple[gpd.GeoDataFrame, ReadReport]:
    """Like `read_incidents`, also returning the `ReadReport` (`attrs["read_report"]` holds the
    same report as a dict)."""
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
    sources = expand_paths(paths, found, report)
    if not sources and not found:
        msg = "`paths` is empty: give at least one file, folder or zip archive."
        raise InputError(msg)
    problems = checks.ProblemLog()
    problems.extend(found)

    parts: list[_Part] = []
    points = checks.PointCache()
    bar = _progress_bar(sum(s.size for s in sources), progress)
    try:
        for src in sources:
            part = _read_source(src, format=format, columns=columns, source=source,
                                settings=settings, report=report, problems=problems,
                                advance=bar.update if bar is not None else None, points=points)
            if part is not None:
                parts.append(part)
    finally:
        if bar is not None:
            bar.close()
    if problems:
        raise InputError.from_problems(problems.problems())
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


def _read_source(src: Source, *, format: str, columns: ForceColumns, source: str | None,
                 settings: Settings, report: ReadReport, problems: checks.ProblemLog,
                 advance, points: checks.PointCache | None = None) -> _Part | None:
    try:
        head = src.head(HEAD_BYTES)
    except (OSError, EOFError, RuntimeError, ValueError) as exc:
        # RuntimeError: zipfile's answer for an encrypted member.
        problems.add(Problem(src.name, None, None, None, f"cannot be read ({exc})",
                             kind="unreadable"))
        return None
    kind = format
    if format == "auto":
        kind = "geo" if _is_geo(src, head) else "csv"
    if kind == "geo":
        part = _read_geo(src, columns=columns, source=source, settings=settings, report=report,
                         problems=problems)
        if advance is not None:
            advance(src.size)
        return part

    sniffed = sniff(src, head)
    if isinstance(sniffed, Problem):
        problems.add(sniffed)
        return None
    if kind == "csv":
        kind = _csv_kind(src, sniffed, columns)
        if isinstance(kind, Problem):
            problems.add(kind)
            return None
    # Every column is read as text and checked here. Police.uk values hold no line breaks, which
    # lets the reader split the file into blocks without tracking quotes; and of a police.uk
    # file only the columns that are checked or identify an incident are converted, the
    # coordinates straight to numbers (the reader falls back to text should one not be a
    # number), and the columns of few values (month, force, crime type) to dictionaries, which
    # the reader's threads build block by block: each distinct value is then looked up once.
    include = None
    types: dict[str, pa.DataType] = {}
    if kind == "police.uk":
        wanted = {_key(c) for c in (*POLICEUK_READ, POLICEUK_LOCATION)}
        names = [h for h in sniffed.header if _key(h) in wanted]
        if len(set(names)) == len(names):
            include = names
            types = {h: POLICEUK_TYPES[_key(h)] for h in names if _key(h) in POLICEUK_TYPES}

    def read() -> CsvTable | Problem:
        return read_table(src, sniffed, types, include=include,
                          newlines_in_values=kind != "police.uk", advance=advance)

    def meanwhile() -> None:
        # Work this thread can do while Arrow parses: PROJ's choice of transformation (made
        # once per thread, so here) and the data model's dtypes.
        if kind == "police.uk":
            checks.prepare_transform(pyproj.CRS.from_user_input("EPSG:4326"))
        _model_dtypes(settings.timezone, settings)

    _, table = _run(meanwhile, read)
    if isinstance(table, Problem):
        problems.add(table)
        return None
    report.files.append(src.name)
    report.rows_read += table.table.num_rows
    rows = _Rows(src.name, table.table.num_rows, table.rows.rows, problems, report, settings,
                 points=points)
    _malformed(table, rows)
    if kind == "police.uk":
        return _police_uk(table, rows, label=source or "police.uk")
    return _force(table, rows, columns, label=source or "force-export")


def _is_geo(src: Source, head: bytes) -> bool:
    if src.member is not None:
        return False
    if src.suffix in GEO_SUFFIXES:
        return True
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"PAR1", b"SQLite format 3\x00")) or start.startswith(b"{")


def _csv_kind(src: Source, head: CsvHead, columns: ForceColumns) -> str | Problem:
    keys = {_key(h) for h in head.header}
    marks = keys & {_key(c) for c in POLICEUK_COLUMNS}
    explicit = any(getattr(columns, f) for f in ("id_col", "datetime_col", "type_col", "x_col"))
    if not explicit and ({"month", "crimetype"} <= keys or len(marks) >= 4):
        return "police.uk"
    roles = _force_roles(head.header, columns)
    if explicit or sum(v is not None for k, v in roles.items() if k != "location") >= 2:
        return "force"
    if src.suffix == ".csv" and (src.member or str(src.path)).lower().endswith("-street.csv"):
        return "police.uk"
    shown = head.first_line if len(head.first_line) <= 80 else head.first_line[:77] + "..."
    return Problem(src.name, None, None, None,
                   f"has no recognisable header (its first line is {shown!r}); expected the police.uk "
                   f"columns ({', '.join(POLICEUK_COLUMNS)}) or a force export with columns for the "
                   "date and time, the crime type and easting/northing or longitude/latitude",
                   kind="not CSV")


def _find(header: Sequence[str], explicit: str | None, names: Sequence[str]) -> int | None:
    """Index of the column named `explicit` (exactly, then loosely) or of the best of `names`."""
    keys = [_key(h) for h in header]
    if explicit is not None:
        if explicit in header:
            return list(header).index(explicit)
        k = _key(explicit)
        return keys.index(k) if k and k in keys else None
    for name in names:
        k = _key(name)
        if k in keys:
            return keys.index(k)
    return None


def _force_roles(header: Sequence[str], columns: ForceColumns) -> dict[str, int | None]:
    roles = {
        "id": _find(header, columns.id_col, ID_NAMES),
        "datetime": _find(header, columns.datetime_col, DATETIME_NAMES),
        "type": _find(header, columns.type_col, TYPE_NAMES),
        "location": _find(header, None, LOCATION_NAMES),
    }
    if columns.x_col is not None:
        roles["x"] = _find(header, columns.x_col, ())
        roles["y"] = _find(header, columns.y_col, ())
    else:
        x, y = _find(header, None, EASTING_NAMES), _find(header, None, NORTHING_NAMES)
        if x is None or y is None:
            x2, y2 = _find(header, None, LON_NAMES), _find(header, None, LAT_NAMES)
            if x2 is not None and y2 is not None:
                x, y = x2, y2
        roles["x"], roles["y"] = x, y
    return roles


def _missing_roles(roles: dict[str, int | None], columns: ForceColumns,
                   needed: Sequence[tuple[str, str]]) -> list[str]:
    """The required columns not found: for each role in `needed` the name the user gave
    (`<role>_col`) or what the column holds; a named id column that is missing comes first."""
    missing = [getattr(columns, f"{role}_col") or what for role, what in needed
               if roles[role] is None]
    if columns.id_col is not None and roles["id"] is None:
        missing.insert(0, columns.id_col)
    return missing


def _malformed(table: CsvTable, rows: _Rows) -> None:
    if not table.malformed:
        return
    numbered = table.rows.malformed()
    ncols = len(table.header)
    if numbered:
        for row, nfields, text in numbered:
            rows.problems.add(Problem(rows.file, row, None, text,
                                      f"has {nfields} fields; expected {ncols} as in the header",
                                      kind="malformed row"))
        return
    for text in table.malformed:
        rows.problems.add(Problem(rows.file, None, None, text,
                                  f"is a row without {ncols} fields as in the header",
                                  kind="malformed row"))


def _missing_columns(rows: _Rows, missing: Sequence[str], header: Sequence[str], hint: str = "") -> None:
    names = ", ".join(repr(m) for m in missing)
    plural = "s" if len(missing) > 1 else ""
    found = ", ".join(header) if header else "(none)"
    rows.problems.add(Problem(rows.file, None, None, None,
                              f"is missing the required column{plural} {names}; the columns found "
                              f"are: {found}{hint}", kind="missing columns"))


# --- police.uk ----------------------------------------------------------------------------------


def _police_uk(table: CsvTable, rows: _Rows, *, label: str) -> _Part | None:
    t = table.table
    keys = [_key(h) for h in t.column_names]
    where = {c: (keys.index(_key(c)) if _key(c) in keys else None) for c in POLICEUK_COLUMNS}
    missing = [c for c in POLICEUK_REQUIRED if where[c] is None]
    if missing:
        _missing_columns(rows, missing, table.header)
        return None
    col = {c: t.column(i) for c, i in where.items() if i is not None}
    settings = rows.settings
    wgs84 = pyproj.CRS.from_user_input("EPSG:4326")
    as_numbers = all(pa.types.is_floating(col[c].type) for c in ("Longitude", "Latitude"))

    def own_ids() -> tuple[checks.IdColumn, np.ndarray]:
        own = checks.id_column(col["Crime ID"])
        return own, checks.duplicated_positions(own, ~own.missing)

    def points() -> checks.Located:  # here: PROJ is set up for this thread
        pairs = (checks.float_pairs if as_numbers else checks.text_pairs)(
            col["Longitude"], col["Latitude"])
        return checks.locate(pairs, wgs84, rows.points)

    # This thread looks up the points (PROJ is set up here) while others read the ids and look
    # up the month, force and crime type. The ASB ids are made from those rows' own text in one
    # more thread, started first: the kept rows cannot be gathered without them.
    no_id = checks.lengths(col["Crime ID"]) == 0
    derived = _later(_police_derived, no_id, col)
    fields_later = _later(checks.police_fields, col["Month"], col.get("Reported by"),
                          col["Crime type"], settings)
    located, (own, repeated) = _run(points, own_ids)
    fields = fields_later.result()
    if not np.array_equal(own.missing, no_id):  # ids of only white space
        derived = _later(_police_derived, own.missing, col)
    ids = _Ids(own.own, own.missing, derived, repeated)
    types = fields.types
    if as_numbers:
        # Only a message needs the text: read it again then (the numbers are all good).
        x_text, y_text = _file_text(table, where["Longitude"]), _file_text(table, where["Latitude"])
    else:
        x_text, y_text = checks.values_at(col["Longitude"]), checks.values_at(col["Latitude"])
    # Free the columns no message will quote (repeated ids read the whole rows again).
    col = {c: col[c] for c in ("Month", "Longitude", "Latitude", "Location") if c in col}
    table.table = t = None
    if settings.exclude_btp and fields.btp is not None:
        rows.report.exclude(BTP, int(fields.btp.sum()))
        rows.active &= ~fields.btp
    if fields.bad_month.any():
        pos, at = rows.at(fields.bad_month[fields.month_codes] & rows.active)
        rows.problems.add_rows(rows.file, at, "Month", checks.values_at(col["Month"]),
                               "is not a month like 2024-05", "unparseable month", pos)
    good_point = _coordinates(rows, located, x_text, y_text, "Longitude", "Latitude", wgs84)
    _type_problems(rows, types, "Crime type")
    keep = _duplicates(table, ids, rows, "Crime ID") & good_point
    if rows.problems:
        return None
    location = col.get("Location")
    table.table = t = col = None
    precision = np.zeros(rows.n, dtype=np.int8)  # month
    return _part(keep, ids, lambda k: fields.month_ns[fields.month_codes[k]], precision, types,
                 located, label, location)


def _police_derived(missing: np.ndarray, col: dict[str, pa.ChunkedArray]) -> pa.Array:
    """Ids of the rows without a Crime ID (ASB), from their fields in `POLICEUK_READ` order
    (Month, Reported by, Longitude, Latitude, Crime type, Context; those the file has).

    The fields enter as trimmed text, the coordinates as canonical text
    (`checks.coordinate_text`): police.uk writes six decimals, so its files give the same ids
    as hashing their text would.
    """
    if not missing.any():
        return pa.array([], type=pa.string())
    pos = np.flatnonzero(missing)

    def coordinate(name: str) -> pa.Array:
        # Each distinct number is printed once (police.uk's points repeat).
        encoded = pc.dictionary_encode(pa.array(checks.numbers_at(col[name], pos)))
        used = encoded.dictionary.to_numpy(zero_copy_only=False)
        return checks.coordinate_text(used).take(encoded.indices)

    parts: dict[str, pa.Array] = {name: coordinate(name) for name in ("Longitude", "Latitude")}
    for name in ("Month", "Reported by", "Crime type", "Context"):
        if name in col:
            parts[name] = checks.as_strings(checks.rows_at(col[name], pos))
    return checks.derive_ids([parts[name] for name in POLICEUK_READ[1:] if name in parts])


def _file_text(table: CsvTable, index: int) -> Callable[[np.ndarray], list[str | None]]:
    """The text of the file's column `index` (of the columns read) at some rows, read again
    from the file when first asked for (for messages)."""
    name = table.table.column_names[index]

    def take(pos: np.ndarray) -> list[str | None]:
        full = table.full()
        if full is None:
            return [None] * len(pos)
        return checks.values_at(full.column(name))(pos)
    return take


# --- force exports ------------------------------------------------------------------------------


def _force(table: CsvTable, rows: _Rows, columns: ForceColumns, *, label: str) -> _Part | None:
    t = table.table
    header = t.column_names
    roles = _force_roles(header, columns)
    missing = _missing_roles(roles, columns, (("datetime", "date and time"), ("type", "crime type"),
                                              ("x", "easting or longitude"),
                                              ("y", "northing or latitude")))
    if missing:
        _missing_columns(rows, missing, header,
                         " (name the columns with `columns`: id_col, datetime_col, type_col, "
                         "x_col, y_col)")
        return None
    settings = rows.settings
    dt_name = header[roles["datetime"]]
    dt_col = t.column(roles["datetime"])
    time_i = _find(header, None, TIME_NAMES) if columns.datetime_col is None else None
    if time_i is not None and time_i != roles["datetime"]:
        dt_col = _with_times(dt_col, t.column(time_i))
        dt_name = f"{dt_name} + {header[time_i]}"
    x_name, y_name = header[roles["x"]], header[roles["y"]]
    x_col, y_col = t.column(roles["x"]), t.column(roles["y"])

    ids, (pairs, (ns, precision, bad, empty), types), _ = _ids(
        t, roles["id"], order=(),
        also=(lambda: checks.text_pairs(x_col, y_col),
              lambda: checks.parse_datetimes(dt_col, dayfirst=columns.dayfirst,
                                             tz=settings.timezone),
              lambda: checks.crime_types(t.column(roles["type"]), settings)))
    crs = _coordinate_crs(columns, x_name, y_name, pairs)
    located = checks.locate(pairs, crs, rows.points)
    if roles["id"] is None and rows.n:
        rows.report.warn("no id column: ids derived from row content", rows.n)
    example = "31/12/2024 23:59" if columns.dayfirst else "12/31/2024 11:59 PM"
    pos, at = rows.at(empty & rows.active)
    rows.problems.add_rows(rows.file, at, dt_name, None, "is empty; expected a date",
                           "missing date", pos)
    pos, at = rows.at(bad & ~empty & rows.active)
    rows.problems.add_rows(rows.file, at, dt_name, checks.values_at(dt_col),
                           f"is not a date or date and time like {example}"
                           f" ({'day' if columns.dayfirst else 'month'} first)",
                           "unparseable date", pos)

    good_point = _coordinates(rows, located, checks.values_at(x_col), checks.values_at(y_col),
                              x_name, y_name, crs)
    _type_problems(rows, types, header[roles["type"]])
    id_name = header[roles["id"]] if roles["id"] is not None else "id"
    keep = _duplicates(table, ids, rows, id_name) & good_point
    if rows.problems:
        return None
    location = t.column(roles["location"]) if roles["location"] is not None else None
    table.table = t = x_col = y_col = dt_col = None
    return _part(keep, ids, lambda k: ns[k], precision, types, located, label, location)


def _with_times(dates, times):
    """Date text joined with a separate time column where the date has no time of its own."""
    d = checks.as_strings(dates)
    tm = checks.as_strings(times)
    join = pc.and_(pc.invert(pc.match_substring(d, ":")), pc.greater(pc.utf8_length(tm), 0))
    return pc.if_else(join, pc.binary_join_element_wise(d, tm, " "), d)


def _coordinate_crs(columns: ForceColumns, x_name: str, y_name: str,
                    pairs: checks.Pairs) -> pyproj.CRS:
    if columns.crs is not None:
        return pyproj.CRS.from_user_input(columns.crs)
    kx, ky = _key(x_name), _key(y_name)
    lonlat = {_key(n) for n in LON_NAMES + LAT_NAMES}
    if kx in lonlat or ky in lonlat:
        return pyproj.CRS.from_user_input("EPSG:4326")
    if kx in GENERIC_XY and ky in GENERIC_XY:
        # Names that do not say: small numbers are degrees, large ones metres.
        x, y = pairs.x, pairs.y
        with np.errstate(invalid="ignore"):
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            if len(x) and len(y) and np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90):
                log.info("coordinates %s/%s read as longitude/latitude (EPSG:4326)", x_name, y_name)
                return pyproj.CRS.from_user_input("EPSG:4326")
    return pyproj.CRS.from_user_input(BNG)


# --- geo files ----------------------------------------------------------------------------------


def _read_geo_frame(src: Source) -> gpd.GeoDataFrame:
    with src.path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or src.suffix in {".parquet", ".geoparquet"}:
        return gpd.read_parquet(src.path)
    import pyogrio

    with warnings.catch_warnings():
        # GDAL's and pyogrio's notes on values they read anyway (times with mixed UTC offsets,
        # properties of mixed types kept as text): every value is checked here.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return pyogrio.read_dataframe(src.path)


def _read_geo(src: Source, *, columns: ForceColumns, source: str | None, settings: Settings,
              report: ReadReport, problems: checks.ProblemLog) -> _Part | None:
    if src.member is not None:
        problems.add(Problem(src.name, None, None, None,
                             "is inside a zip archive; unpack geo files before reading them",
                             kind="unreadable"))
        return None
    try:
        gdf = _read_geo_frame(src)
    except Exception as exc:  # noqa: BLE001 - the readers raise many types for a bad file
        problems.add(Problem(src.name, None, None, None,
                             "cannot be read as a GeoJSON, GeoPackage or GeoParquet file "
                             f"({type(exc).__name__}: {exc})", kind="unreadable"))
        return None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.active_geometry_name not in gdf.columns:
        problems.add(Problem(src.name, None, None, None, "holds no geometry column; expected points",
                             kind="not a point"))
        return None
    gdf = gdf.reset_index(drop=True)
    n = len(gdf)
    report.files.append(src.name)
    report.rows_read += n
    rows = _Rows(src.name, n, lambda pos: np.asarray(pos, dtype=np.int64) + 2, problems, report,
                 settings)
    if gdf.crs is None:
        problems.add(Problem(src.name, None, None, None,
                             "has no coordinate reference system (CRS); save it with one, e.g. "
                             "EPSG:27700 for British National Grid or EPSG:4326 for "
                             "longitude/latitude", kind="missing CRS"))
        return None
    if n == 0:
        return None  # no features, hence perhaps no fields either: nothing to check
    attrs = [c for c in gdf.columns if c != gdf.geometry.name]
    roles = _force_roles(attrs, ForceColumns(id_col=columns.id_col,
                                             datetime_col=columns.datetime_col,
                                             type_col=columns.type_col))
    missing = _missing_roles(roles, columns, (("datetime", "date and time"), ("type", "crime type")))
    if missing:
        _missing_columns(rows, missing, attrs,
                         " (name the columns with `columns`: id_col, datetime_col, type_col)")
        return None

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    type_id = shapely.get_type_id(geoms)
    empty = (type_id < 0) | shapely.is_empty(geoms)
    non_point = (type_id != 0) & ~empty
    pos, at = rows.at(non_point)
    rows.problems.add_rows(src.name, at, gdf.geometry.name,
                           lambda p: [geoms[i].geom_type for i in p],
                           "geometry is not a Point; expected one point per incident",
                           "not a point", pos)
    rows.active &= ~non_point
    is_point = ~empty & ~non_point
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if is_point.any():
        x[is_point] = shapely.get_x(geoms[is_point])
        y[is_point] = shapely.get_y(geoms[is_point])
    crs = pyproj.CRS.from_user_input(gdf.crs)
    x_name, y_name = ("longitude", "latitude") if crs.is_geographic else ("x", "y")
    nan = ~np.isfinite(x) | ~np.isfinite(y)
    no_coords = empty | (is_point & nan)

    def text(values: np.ndarray):
        return lambda p: [repr(float(v)) for v in values[p]]

    located = checks.locate(checks.number_pairs(x, y, no_coords), crs)
    good_point = _coordinates(rows, located, text(x), text(y), x_name, y_name, crs)

    dt_name = attrs[roles["datetime"]]
    ns, precision, bad, dt_empty = checks.datetimes_from_values(
        gdf[dt_name], tz=settings.timezone, dayfirst=columns.dayfirst)
    if "time_precision" in gdf.columns:
        # A file this program exported: keep the precision it recorded.
        given = gdf["time_precision"].astype(object).map(
            lambda v: checks.PRECISION_CODES.get(v, -1)).to_numpy(dtype=np.int8)
        precision = np.where(given >= 0, given, precision).astype(np.int8)
    dt_text = _text_column(gdf[dt_name])
    pos, at = rows.at(dt_empty & rows.active)
    rows.problems.add_rows(src.name, at, dt_name, None, "is empty; expected a date",
                           "missing date", pos)
    pos, at = rows.at(bad & ~dt_empty & rows.active)
    rows.problems.add_rows(src.name, at, dt_name, checks.values_at(dt_text),
                           "is not a date or date and time", "unparseable date", pos)

    table = pa.table({str(c): _text_column(gdf[c]) for c in attrs}
                     | {"__x": pa.array(np.char.mod("%r", x).tolist() if n else [], pa.string()),
                        "__y": pa.array(np.char.mod("%r", y).tolist() if n else [], pa.string())})
    id_i = roles["id"]
    ids, _, _ = _ids(table, id_i, order=())
    if id_i is None and n:
        rows.report.warn("no id column: ids derived from row content", n)
    types = checks.crime_types(table.column(roles["type"]), settings)
    _type_problems(rows, types, attrs[roles["type"]])
    keep = _duplicates(table, ids, rows, attrs[id_i] if id_i is not None else "id") & good_point
    if rows.problems:
        return None
    location = table.column(roles["location"]) if roles["location"] is not None else None
    return _part(keep, ids, lambda k: ns[k], precision, types, located, source or "force-export",
                 location)


def _text_column(values: pd.Series) -> pa.Array:
    """A column of a geo file as text ("" where missing; whole floats without ".0")."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna().to_numpy()
        with np.errstate(invalid="ignore"):
            whole = len(finite) and np.all((np.mod(finite, 1) == 0) & (np.abs(finite) < 2**53))
        if whole:
            values = values.astype("Int64")
    text = values.astype(object).where(values.notna(), "").map(str)
    return pa.array(text.to_numpy(dtype=object), type=pa.string())


# --- shared steps -------------------------------------------------------------------------------


def _run(here: Callable[[], object], *jobs: Callable[[], object]) -> list:
    """Run `here` in this thread while `jobs` run in other threads; return all results in order.

    Threads suffice: the jobs work in Arrow, numpy and pandas, which release the GIL. PROJ work
    stays in this thread, because PROJ sets a transformation up again in every new thread.
    """
    if _WORKERS < 2 or not jobs:
        return [here(), *(job() for job in jobs)]
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        first = here()
        return [first, *(f.result() for f in futures)]


_WORKERS = min(4, os.cpu_count() or 1)  # threads besides the calling one


def _later(fn: Callable[..., object], *args: object) -> Future:
    """`fn(*args)` started in another thread (or run now when there is one core)."""
    if _WORKERS < 2:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            done.set_exception(exc)
        return done
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)


def _coordinates(rows: _Rows, located: checks.Located, x_text: Callable, y_text: Callable,
                 x_name: str, y_name: str, crs: pyproj.CRS) -> np.ndarray:
    """Leave out rows with no coordinates (counted), record the others' problems, and return
    which rows have a good point."""
    no_location = located.no_location & rows.active
    rows.report.exclude("no location", int(no_location.sum()))
    rows.active &= ~no_location
    return checks.check_located(
        located, active=rows.active, crs=crs, file=rows.file, rows=rows.rows, x_name=x_name,
        y_name=y_name, x_text=x_text, y_text=y_text, problems=rows.problems)


def _type_problems(rows: _Rows, types: checks.Types, name: str) -> None:
    if types.empty.any():
        pos, at = rows.at(types.per_row(types.empty) & rows.active)
        rows.problems.add_rows(rows.file, at, name, None, "is empty; expected a crime type",
                               "missing crime type", pos)
    if not types.unknown.any():
        return
    unknown = types.per_row(types.unknown) & rows.active
    if not unknown.any():
        return
    pos = np.flatnonzero(unknown)
    if rows.settings.unknown_crime_type == "error":
        rows.problems.add_rows(rows.file, rows.rows(pos), name, checks.values_at(types.labels),
                               "is not in the category table (setting `categories`)",
                               "unknown crime type", pos)
        return
    kind = "unknown crime type mapped to other"
    # One example per distinct unknown label, so a user sees which labels to add.
    labels = np.asarray(types.words.to_numpy(zero_copy_only=False), dtype=object)[types.codes[pos]]
    _, first = np.unique(labels, return_index=True)
    shown = np.sort(first)[: ReadReport.MAX_EXAMPLES]
    examples = [Problem(rows.file, int(r), name, str(labels[i]),
                        "is not in the category table; counted as other", kind)
                for r, i in zip(rows.rows(pos[shown]), shown, strict=True)]
    _warn(rows.report, kind, len(pos), examples)


def _warn(report: ReadReport, kind: str, count: int, examples: Sequence[Problem]) -> None:
    """Count a warning with up to `ReadReport.MAX_EXAMPLES` examples."""
    if count <= 0:
        return
    report.warn(kind, count, examples[0] if examples else None)
    bucket = report.examples.setdefault(kind, [])
    for example in examples[1:]:
        if len(bucket) >= ReadReport.MAX_EXAMPLES:
            break
        bucket.append(example)


@dataclass
class _Ids:
    """The file's own ids ("" where missing) and ids derived from the text of those rows."""

    own: pa.Array | pa.ChunkedArray
    missing: np.ndarray  # bool per row
    derived: pa.Array | Future  # one per missing row, in row order (or its future)
    repeated: np.ndarray  # positions of rows whose own id is not unique in the file

    def kept(self, keep: np.ndarray) -> pa.ChunkedArray:
        """The id of each kept row, chunk by chunk (so no second copy of the column is made):
        one gather from the chunk's own ids followed by its derived ones. The two halves of the
        chunks are gathered in two threads (Arrow releases the GIL)."""
        chunks = checks.chunks_of(self.own)
        bounds = checks.chunk_bounds(chunks)
        # How many rows before each chunk have derived ids: where its slice of them starts.
        before = [0]
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            before.append(before[-1] + int(self.missing[start:end].sum()))

        def gather(lo: int, hi: int) -> list[pa.Array]:
            derived = self.derived.result() if isinstance(self.derived, Future) else self.derived
            out = []
            for i in range(lo, hi):
                chunk, start, end = chunks[i], bounds[i], bounds[i + 1]
                missing = self.missing[start:end]
                k = before[i + 1] - before[i]
                if k:
                    pick = np.arange(len(chunk), dtype=np.int64)
                    pick[missing] = len(chunk) + np.arange(k)
                    whole = pa.concat_arrays([chunk, derived[before[i]:before[i + 1]]])
                    out.append(whole.take(pa.array(pick[keep[start:end]])))
                else:
                    out.append(chunk.filter(pa.array(keep[start:end])))
            return out

        half = len(chunks) // 2
        first, second = _run(lambda: gather(0, half), lambda: gather(half, len(chunks)))
        return pa.chunked_array(first + second, type=pa.string())


def _ids(table: pa.Table, id_index: int | None, *, order: Sequence[str],
         also: Sequence[Callable[[], object]] = (),
         before: Callable[[], object] | None = None) -> tuple[_Ids, list, object]:
    """Every row's id: the file's own, or one derived from the row's text where it has none.

    Meanwhile other threads run the jobs in `also`; `before` runs in this thread first. Returns
    the ids, the results of `also` and the result of `before`.
    """
    def here() -> tuple:
        first = before() if before is not None else None
        n = table.num_rows
        own = checks.id_column(_repeat("", n) if id_index is None else table.column(id_index))
        ids = _Ids(own.own, own.missing, _derive(table, id_index, own.missing, order),
                   checks.duplicated_positions(own, ~own.missing))
        return ids, first

    (ids, first), *extra = _run(here, *also)
    return ids, extra, first


def _derive(table: pa.Table, id_index: int | None, missing: np.ndarray,
            order: Sequence[str]) -> pa.Array:
    if not missing.any():
        return pa.array([], type=pa.string())
    # A fixed column order keeps ids stable if a later file orders its columns differently.
    names = table.column_names
    rank = {_key(c): i for i, c in enumerate(order)}
    others = [i for i in range(len(names)) if i != id_index]
    others.sort(key=lambda i: (rank.get(_key(names[i]), len(rank)), _key(names[i]), i))
    without = table.select(others).filter(pa.array(missing)).combine_chunks()
    return checks.derive_ids([checks.as_strings(c) for c in without.columns])


def _duplicates(source: CsvTable | pa.Table, ids: _Ids, rows: _Rows, id_name: str) -> np.ndarray:
    """Rows to keep after dropping exact duplicate rows; a problem for each id shared by rows
    with different content (compared over every column of the file)."""
    keep = rows.active.copy()
    dup = ids.repeated[rows.active[ids.repeated]]
    if len(dup) > 1:
        dup = dup[checks.duplicated_strings(ids.own.take(pa.array(dup, type=pa.int64())))]
    if len(dup) < 2:
        return keep
    table = source.full() if isinstance(source, CsvTable) else source
    if table is None or table.num_rows != len(keep):
        rows.problems.add(Problem(rows.file, None, id_name, None,
                                  "has repeated ids, and the file could not be read again to "
                                  "compare their rows", kind="duplicate id"))
        return keep
    own = ids.own
    take = pa.array(dup, type=pa.int64())
    id_text = own.take(take).to_pylist()
    content = list(zip(*(checks.as_strings(table.column(i).take(take)).to_pylist()
                         for i in range(table.num_columns)), strict=True))
    first: dict[str, tuple[int, tuple]] = {}
    same_rows = []
    for p, ident, row in zip(dup.tolist(), id_text, content, strict=True):
        if ident not in first:
            first[ident] = (p, row)
            continue
        p0, row0 = first[ident]
        r0, r = rows.rows(np.array([p0, p]))
        if row == row0:
            keep[p] = False
            same_rows.append(Problem(rows.file, int(r), id_name, ident,
                                     f"repeats row {int(r0)} exactly; kept once", "duplicate row"))
        else:
            rows.problems.add_rows(rows.file, np.array([r]), id_name, lambda _p, i=ident: [i],
                                   f"is also the id of row {int(r0)}, which has different content",
                                   "duplicate id", np.array([p]))
    _warn(rows.report, "duplicate row within file", len(same_rows), same_rows)
    return keep


def _part(keep: np.ndarray, ids: _Ids, occurred: Callable[[np.ndarray], np.ndarray],
          precision: np.ndarray, types: checks.Types, points: checks.Located,
          label: str, location=None) -> _Part:
    """The kept rows; the inputs' large arrays are released as soon as they are copied.
    `occurred(keep)` gives the kept rows' times in UTC nanoseconds."""
    type_codes = types.codes[keep]

    def others() -> tuple:
        # Large strings, as pandas keeps them: the frame takes them without a copy.
        labels = pc.take(types.words.cast(pa.large_string()), pa.array(type_codes, type=pa.int32()))
        category = _CATEGORY_CODES[types.category][type_codes]
        harm = types.harm[type_codes]
        places = (_repeat("", len(type_codes), large=True) if location is None else
                  pc.cast(checks.as_strings(location).filter(pa.array(keep)), pa.large_string()))
        return (labels, occurred(keep), _PRECISION_CODES[precision[keep]], category, harm,
                points.geometry(keep), _repeat(str(label), len(type_codes), large=True), places)

    def gather_ids() -> pa.ChunkedArray:
        try:
            return ids.kept(keep)
        finally:
            ids.own = ids.derived = None

    # The ids are gathered in other threads while this one goes on to the other columns and
    # the frame; the frame takes them last.
    kept_ids = _later(gather_ids)
    labels, ns, prec, category, harm, geometry, source, places = others()
    return _Part(ids=kept_ids, occurred_ns=ns, precision=prec, types=labels, category=category,
                 harm=harm, geometry=geometry, source=source, location=places)


#: The dtype codes of `TIME_PRECISIONS` and `CATEGORIES` (by their index there).
_PRECISION_CODES = np.array([list(PRECISION_DTYPE.categories).index(name)
                             for name in TIME_PRECISIONS], dtype=np.int8)
_CATEGORY_CODES = np.array([list(CATEGORY_DTYPE.categories).index(name) for name in CATEGORIES],
                           dtype=np.int8)


# --- the frame ----------------------------------------------------------------------------------


_MODEL_DTYPES: dict[str, pd.Series] = {}


def _model_dtypes(tz: str, settings: Settings) -> pd.Series:
    """Column dtypes of the schema's own (empty) incident frame, by timezone."""
    if tz not in _MODEL_DTYPES:
        _MODEL_DTYPES[tz] = empty_incidents(settings).dtypes
    return _MODEL_DTYPES[tz]


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _repeat(text: str, n: int, *, large: bool = False) -> pa.Array:
    """A string array (`large`: large_string) holding `text` `n` times, built straight from its
    buffers."""
    raw = text.encode("utf-8")
    return checks.fixed_width_strings(raw * n, n, len(raw), large=large)


def _frame(parts: list[_Part], settings: Settings) -> gpd.GeoDataFrame:
    """Build the incident frame from the parts.

    Equal to `schema.make_incidents` of the same values, built without the round trips through
    Python objects that would take seconds for a million rows: strings stay in Arrow, repeated
    points share one shapely object. The result is checked against the schema's own empty frame
    and built with `make_incidents` should the two ever disagree.
    """
    n = sum(len(p.occurred_ns) for p in parts)
    if n == 0:
        return empty_incidents(settings)
    types = pa.chunked_array([c for p in parts for c in checks.chunks_of(p.types)],
                             type=pa.large_string())
    sources = pa.chunked_array([c for p in parts for c in checks.chunks_of(p.source)],
                               type=pa.large_string())
    places = pa.chunked_array([c for p in parts for c in checks.chunks_of(p.location)],
                              type=pa.large_string())
    ns = _joined([p.occurred_ns for p in parts])
    prec_codes = _joined([p.precision for p in parts])
    cat_codes = _joined([p.category for p in parts])
    harm = _joined([p.harm for p in parts])
    geometry = _joined([p.geometry for p in parts])

    occurred = pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")
                         .tz_convert(settings.timezone))
    columns = pd.DataFrame(
        {
            "occurred_at": occurred,
            "time_precision": pd.Categorical.from_codes(prec_codes, dtype=PRECISION_DTYPE),
            "crime_type": pd.Series(types, dtype="str"),
            "category": pd.Categorical.from_codes(cat_codes, dtype=CATEGORY_DTYPE),
            "harm": harm,
            "source": pd.Series(sources, dtype="str"),
            "location": pd.Series(places, dtype="str"),
            "geometry": gpd.array.GeometryArray(geometry, crs=BNG),
        },
        copy=False,
    )
    # Made from a frame that has its geometry column (CRS set), geopandas takes the column as
    # it is; given the geometry as an argument, it would copy it.
    frame = gpd.GeoDataFrame(columns, geometry="geometry", copy=False)
    ids = pa.chunked_array([c for p in parts for c in checks.chunks_of(p.ids.result())],
                           type=pa.string())
    frame.insert(0, "incident_id", pd.Series(ids, dtype="str"))
    if list(frame.columns) != INCIDENT_COLUMNS:
        frame = frame[INCIDENT_COLUMNS]
    if frame.dtypes.equals(_model_dtypes(settings.timezone, settings)):
        return frame
    log.warning("incident frame built the slow way: the data model changed")
    return make_incidents(
        incident_id=frame["incident_id"].to_numpy(dtype=object),
        occurred_at=occurred,
        time_precision=frame["time_precision"].astype(object).to_numpy(),
        crime_type=frame["crime_type"].to_numpy(dtype=object),
        x=shapely.get_x(geometry), y=shapely.get_y(geometry),
        source=frame["source"].to_numpy(dtype=object),
        settings=settings,
        category=frame["category"].astype(object).to_numpy(),
        harm=harm,
        location=frame["location"].to_numpy(dtype=object),
    )
