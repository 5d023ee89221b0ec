"""Force exports: a CSV with one row per incident, its date and time, type and easting/northing
(or longitude/latitude), the columns found by their common names or named by the user."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyproj

from hotspots.errors import InputError
from hotspots.ingest import checks
from hotspots.ingest.checks import FileState, trim
from hotspots.ingest.policeuk import key
from hotspots.ingest.sources import CsvHead, CsvRows, Source, blank_rows, read_csv

log = logging.getLogger(__name__)

# Column names recognised, best first, compared by `key` (letters and digits, case folded).
NAMES = {
    "id": ("incident_id", "incidentid", "id", "reference", "ref", "crime_id", "crime_reference",
           "crime_ref", "crime_number", "crime_no", "incident_number", "incident_no",
           "incident_ref", "occurrence_id", "occurrence_number", "occurrence_ref", "urn",
           "log_number", "cad_number", "cad_ref", "event_id", "record_id", "report_id"),
    "datetime": ("occurred_at", "datetime", "date_time", "occurred_datetime", "occurred",
                 "occurred_on", "incident_datetime", "incident_date", "offence_datetime",
                 "offence_date", "committed_datetime", "committed_date", "date_committed",
                 "date_occurred", "start_datetime", "start_date", "event_datetime", "event_date",
                 "reported_datetime", "reported_date", "reported_at", "date", "timestamp", "month"),
    "time": ("time", "occurred_time", "time_occurred", "incident_time", "offence_time",
             "committed_time", "start_time", "event_time"),
    "type": ("crime_type", "type", "offence", "offence_type", "offence_description",
             "incident_type", "crime_category", "incident_category", "category", "classification",
             "offence_subgroup", "subgroup", "ho_class", "asb_type", "crime_description"),
    "location": ("location", "street", "street_name", "location_description", "address", "place",
                 "locus", "location_name", "street_location"),
    "easting": ("easting", "eastings", "x", "x_coord", "x_coordinate", "grid_x", "bng_x",
                "location_x", "map_x"),
    "northing": ("northing", "northings", "y", "y_coord", "y_coordinate", "grid_y", "bng_y",
                 "location_y", "map_y"),
    "lon": ("longitude", "lon", "long", "lng", "x_lon"),
    "lat": ("latitude", "lat", "y_lat"),
}
GENERIC_XY = {"x", "y", "xcoord", "ycoord", "xcoordinate", "ycoordinate", "mapx", "mapy"}


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
            return (str(value).strip() or None) if value is not None else None

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


def find(header: Sequence[str], explicit: str | None, names: Sequence[str]) -> int | None:
    """Index of the column named `explicit` (exactly, then loosely) or of the best of `names`."""
    keys = [key(h) for h in header]
    if explicit is not None:
        if explicit in header:
            return list(header).index(explicit)
        return keys.index(key(explicit)) if key(explicit) in keys else None
    return next((keys.index(key(n)) for n in names if key(n) in keys), None)


def roles(header: Sequence[str], columns: ForceColumns) -> dict[str, int | None]:
    found = {role: find(header, getattr(columns, f"{role}_col", None), NAMES[role])
             for role in ("id", "datetime", "type")}
    found["location"] = find(header, None, NAMES["location"])
    found["time"] = find(header, None, NAMES["time"]) if columns.datetime_col is None else None
    if columns.x_col is not None:
        found["x"], found["y"] = find(header, columns.x_col, ()), find(header, columns.y_col, ())
    else:
        found["x"], found["y"] = find(header, None, NAMES["easting"]), find(header, None, NAMES["northing"])
        lon, lat = find(header, None, NAMES["lon"]), find(header, None, NAMES["lat"])
        if (found["x"] is None or found["y"] is None) and lon is not None and lat is not None:
            found["x"], found["y"] = lon, lat
    return found


def missing_roles(found: dict, columns: ForceColumns, needed: Sequence[tuple[str, str]]) -> list[str]:
    """The required columns not found: the name the user gave, or what the column holds."""
    missing = [getattr(columns, f"{role}_col") or what for role, what in needed if found[role] is None]
    if columns.id_col is not None and found["id"] is None:
        missing.insert(0, columns.id_col)
    return missing


def read(src: Source, head: CsvHead, ctx) -> dict | None:
    header = head.header
    found = roles(header, ctx.columns)
    missing = missing_roles(found, ctx.columns, (
        ("datetime", "date and time"), ("type", "crime type"), ("x", "easting or longitude"),
        ("y", "northing or latitude")))
    if missing:
        ctx.missing_columns(src.name, missing, header, " (name the columns with `columns`: id_col, "
                                                       "datetime_col, type_col, x_col, y_col)")
        return None

    def process(rows: CsvRows) -> dict | None:
        state = FileState(src.name, ctx.problems)
        crs = None
        for batch in rows:
            ctx.budget.take_rows(src, batch.num_rows)
            cols = [batch.column(i) for i in range(batch.num_columns)]
            crs = crs or coordinate_crs(ctx.columns, header[found["x"]], header[found["y"]],
                                        cols[found["x"]], cols[found["y"]])
            add_batch(state, cols, header, found, ctx, crs=crs, blank=blank_rows(batch))
            if ctx.first_error and ctx.problems:
                break
        ctx.malformed(rows)
        return state.finish(rows.rownum, header[found["id"]] if found["id"] is not None else "id",
                            lambda pos: ctx.full_rows(rows, pos))

    return read_csv(src, head, list(range(len(header))), ctx.budget, ctx.advance, process)


def add_batch(state: FileState, cols: list[pa.Array], header: Sequence[str], found: dict, ctx, *,
              crs: pyproj.CRS, blank: np.ndarray, xy=None, when=None) -> None:
    """Check a batch of rows and keep the good ones (shared with geo files, which give their
    coordinates as numbers `xy` and may give the times `when` already read)."""
    name, settings, off, n = state.name, ctx.settings, state.offset, len(blank)
    active = ~blank
    state.report.rows_read += int(active.sum())
    dt_name = header[found["datetime"]]
    dt = cols[found["datetime"]]
    if when is None:
        if found["time"] is not None and found["time"] != found["datetime"]:
            dates, times = trim(dt), trim(cols[found["time"]])
            join = [(f"{d} {t}" if t and ":" not in d else d)
                    for d, t in zip(dates.to_pylist(), times.to_pylist(), strict=True)]
            dt, dt_name = pa.array(join, pa.string()), f"{dt_name} + {header[found['time']]}"
        when = checks.datetimes(dt, dayfirst=ctx.columns.dayfirst, tz=settings.timezone)
    ns, precision, bad, empty = when
    ctx.problems.rows(name, np.flatnonzero(empty & active) + off, dt_name, None,
                      "is empty; expected a date", "missing date")
    example = "31/12/2024 23:59" if ctx.columns.dayfirst else "12/31/2024 11:59 PM"
    ctx.problems.rows(name, np.flatnonzero(bad & active) + off, dt_name,
                      lambda p: checks.texts(dt)(p - off),
                      f"is not a date or date and time like {example} "
                      f"({'day' if ctx.columns.dayfirst else 'month'} first)", "unparseable date")
    xi, yi = found["x"], found["y"]
    points = checks.points(cols[xi] if xy is None else None, cols[yi] if xy is None else None, crs,
                           file=name, offset=off, active=active,
                           names=(header[xi], header[yi]) if xy is None else xy[2],
                           problems=ctx.problems, xy=None if xy is None else xy[:2],
                           project=ctx.project)
    state.report.exclude("no location", int((points.none & active).sum()))
    active &= ~points.none
    types = checks.crime_types(cols[found["type"]], settings)
    checks.type_problems(types, file=name, offset=off, active=active, column=header[found["type"]],
                         settings=settings, problems=ctx.problems, warn=state.warn)
    if found["id"] is not None:
        own = trim(cols[found["id"]])
    else:
        own = pa.array([""] * n, pa.string())
        state.warn("no id column: ids derived from row content", n)
    no_id = checks.empty(own)
    keep = active & points.good & ~bad & ~empty & ~types.empty
    derive = no_id & ~blank
    if derive.any():
        # Every other column, in a fixed order, so the ids do not depend on the column order.
        order = sorted((i for i in range(len(cols)) if i != found["id"]),
                       key=lambda i: (key(header[i]), i))
        take = pa.array(np.flatnonzero(derive))
        state.keys.append(checks.join_fields([trim(cols[i]).take(take) for i in order]))
        state.keys_kept.append(keep[derive])
    location = (trim(cols[found["location"]]) if found["location"] is not None
                else pa.array([""] * n, pa.string()))
    state.keep(keep, own_id=own, missing=derive, ns=ns, precision=precision, type=types.label,
               category=types.category, harm=types.harm, x=points.x, y=points.y,
               location=location, pos=np.arange(off, off + n))
    state.offset += n


def coordinate_crs(columns: ForceColumns, x_name: str, y_name: str, x: pa.Array,
                   y: pa.Array) -> pyproj.CRS:
    """The CRS of the coordinates: given, or told by the column names, or (names that do not
    say) longitude/latitude when every value is within +-180/+-90, else British National Grid."""
    if columns.crs is not None:
        return pyproj.CRS.from_user_input(columns.crs)
    kx, ky = key(x_name), key(y_name)
    if {kx, ky} & {key(n) for n in NAMES["lon"] + NAMES["lat"]}:
        return checks.LONLAT
    if kx in GENERIC_XY and ky in GENERIC_XY:
        xv = checks.numbers(x)[0]
        yv = checks.numbers(y)[0]
        xv, yv = xv[np.isfinite(xv)], yv[np.isfinite(yv)]
        if len(xv) and len(yv) and np.all(np.abs(xv) <= 180) and np.all(np.abs(yv) <= 90):
            log.info("coordinates %s/%s read as longitude/latitude (EPSG:4326)", x_name, y_name)
            return checks.LONLAT
    return pyproj.CRS("EPSG:27700")
