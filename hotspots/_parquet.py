"""Reading and writing the store's month files with pyarrow: the data model's columns in fixed
Arrow types, filters pushed into the read, and stores written before `x`/`y` (a GeoParquet
`geometry` column) read the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from hotspots.schema import INCIDENT_COLUMNS, LABEL_COLUMNS, fix_dtypes

#: Rows per Parquet row group: small enough that a week's read skips most of a national month
#: (the files are sorted by time), large enough to keep the footer small.
ROW_GROUP_ROWS = 65_536

_DICT8 = pa.dictionary(pa.int8(), pa.string())
_DICT32 = pa.dictionary(pa.int32(), pa.string())


def arrow_types(tz: str) -> dict[str, pa.DataType]:
    """The Arrow type of each data-model column in the store's files."""
    return {
        "incident_id": pa.string(),
        "occurred_at": pa.timestamp("ns", tz=tz),
        "time_precision": _DICT8,
        "crime_type": _DICT32,
        "category": _DICT8,
        "harm": pa.float64(),
        "source": _DICT32,
        "location": _DICT32,
        "x": pa.float64(),
        "y": pa.float64(),
    }


@dataclass(frozen=True)
class RowFilter:
    """Which rows a read keeps: a time interval [start, end), categories, sources, a box (EPSG:27700).

    Each part is pushed into the Parquet read (row groups whose statistics rule it out are skipped,
    and the rest filtered as they are decoded); None keeps every row for that part.
    """

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    categories: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None

    def expression(self, schema: pa.Schema, *, xy: bool = True) -> pc.Expression | None:
        """The filter as a pyarrow expression over a file of `schema` (None: keep everything).
        `xy` False leaves out the box (for files that hold no `x`/`y` columns)."""
        parts = []
        if self.start is not None or self.end is not None:
            kind = schema.field("occurred_at").type
            if self.start is not None:
                parts.append(pc.field("occurred_at") >= pa.scalar(self.start, type=kind))
            if self.end is not None:
                parts.append(pc.field("occurred_at") < pa.scalar(self.end, type=kind))
        if self.categories is not None:
            parts.append(pc.field("category").isin(list(self.categories)))
        if self.sources is not None:
            parts.append(pc.field("source").isin(list(self.sources)))
        if self.bbox is not None and xy:
            x0, y0, x1, y1 = self.bbox
            parts += [pc.field("x") >= x0, pc.field("x") <= x1, pc.field("y") >= y0, pc.field("y") <= y1]
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out = out & part
        return out

    @property
    def needs(self) -> set[str]:
        """Columns the filter reads."""
        out = set()
        if self.start is not None or self.end is not None:
            out.add("occurred_at")
        if self.categories is not None:
            out.add("category")
        if self.sources is not None:
            out.add("source")
        if self.bbox is not None:
            out |= {"x", "y"}
        return out


def to_arrow(frame: pd.DataFrame, tz: str) -> pa.Table:
    """A conformed incident frame (`schema.conform`) as an Arrow table in the store's file types:
    text labels as plain strings (Parquet dictionary-encodes them in the file, and `read` gives
    them back as dictionaries: a file never carries labels of other months)."""
    types = {**arrow_types(tz), **{c: pa.string() for c in LABEL_COLUMNS}}
    arrays = []
    for column in INCIDENT_COLUMNS:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            arr = pa.array(values.array, from_pandas=True)
        else:
            arr = pa.array(values, from_pandas=True)
        arrays.append(arr.cast(types[column]) if arr.type != types[column] else arr)
    return pa.Table.from_arrays(arrays, names=INCIDENT_COLUMNS)


#: Columns with few distinct values: dictionary-encoded in the files (the others are plain, which
#: reads faster for ids, times and coordinates).
_DICTIONARY_ENCODED = ["time_precision", "category", *LABEL_COLUMNS, "harm"]


def write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, compression="zstd",
                   use_dictionary=_DICTIONARY_ENCODED)


def read_files(paths: Sequence[Path], *, columns: Sequence[str] | None = None,
               rows: RowFilter | None = None, tz: str) -> pa.Table:
    """`read` of several month files as one table, in file order: the files of the current layout
    in one dataset scan (its threads read ahead across files), the older ones file by file."""
    wanted = list(INCIDENT_COLUMNS if columns is None else columns)
    schemas = [pq.read_schema(p) for p in paths]
    current = [p for p, s in zip(paths, schemas, strict=True) if "x" in s.names]
    if not paths:
        msg = "`paths` must not be empty."
        raise ValueError(msg)
    if len(current) != len(paths) or len(current) == 1:
        return pa.concat_tables([read(p, columns=wanted, rows=rows, tz=tz) for p in paths])
    labels = [c for c in wanted if c in LABEL_COLUMNS]
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=labels))
    schema = schemas[0]
    for name in labels:  # read as dictionaries, as `dictionary_columns` gives them
        schema = schema.set(schema.get_field_index(name), pa.field(name, _DICT32))
    dataset = ds.dataset([str(p) for p in paths], format=fmt, schema=schema)
    expr = rows.expression(schemas[0]) if rows is not None else None
    return _conformed(dataset.to_table(columns=wanted, filter=expr), wanted, tz, paths[0])


def read(path: Path, *, columns: Sequence[str] | None = None, rows: RowFilter | None = None,
         tz: str) -> pa.Table:
    """The `columns` (default: all) of one month file, only the rows `rows` keeps, in the store's
    Arrow types; files written before `x`/`y` give them from their point geometries."""
    wanted = list(INCIDENT_COLUMNS if columns is None else columns)
    schema = pq.read_schema(path)
    legacy = "x" not in schema.names
    present = [c for c in wanted if c in schema.names]
    expr = rows.expression(schema, xy=not legacy) if rows is not None else None
    read_cols = list(present)
    if legacy and {"x", "y"} & (set(wanted) | (rows.needs if rows is not None else set())):
        read_cols.append("geometry")
    labels = [c for c in read_cols if c in LABEL_COLUMNS]
    table = pq.read_table(path, columns=read_cols, filters=expr, read_dictionary=labels or None)
    if legacy and "geometry" in read_cols:
        x, y = _geometry_xy(table.column("geometry"))
        table = table.drop_columns(["geometry"]).append_column("x", x).append_column("y", y)
        if rows is not None and rows.bbox is not None:
            x0, y0, x1, y1 = rows.bbox
            keep = pc.and_(pc.and_(pc.greater_equal(x, x0), pc.less_equal(x, x1)),
                           pc.and_(pc.greater_equal(y, y0), pc.less_equal(y, y1)))
            table = table.filter(keep)
    return _conformed(table, wanted, tz, path)


def _conformed(table: pa.Table, wanted: list[str], tz: str, path: Path) -> pa.Table:
    """`table`'s `wanted` columns in the store's Arrow types (`location` "" where it is missing)."""
    types = arrow_types(tz)
    arrays = []
    for column in wanted:
        if column in table.column_names:
            arr = table.column(column)
            arrays.append(arr.cast(types[column]) if arr.type != types[column] else arr)
        elif column == "location":  # stores written before it: no label
            arrays.append(pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([""], pa.string())))
        else:
            msg = f"{path}: the store's file lacks the column {column!r}."
            raise KeyError(msg)
    return pa.Table.from_arrays(arrays, names=wanted)


def _geometry_xy(geometry: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """x and y of a GeoParquet point column: geoarrow `point` (a struct of x, y) or WKB."""
    if pa.types.is_struct(geometry.type):
        return (pc.struct_field(geometry, "x").combine_chunks() if geometry.num_chunks else pa.array([], pa.float64()),
                pc.struct_field(geometry, "y").combine_chunks() if geometry.num_chunks else pa.array([], pa.float64()))
    import shapely

    geoms = shapely.from_wkb(geometry.to_numpy(zero_copy_only=False))
    return pa.array(shapely.get_x(geoms), pa.float64()), pa.array(shapely.get_y(geoms), pa.float64())


def to_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """One pandas frame of the tables (same columns): dictionary columns become categoricals
    without decoding their text. Converted column by column, each column's Arrow buffers given
    back before the next, so that memory holds little more than the frame."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    del tables
    names = table.column_names
    columns = {}
    for name in names:
        columns[name] = table.column(name).to_pandas()
        table = table.drop_columns([name])
        pa.default_memory_pool().release_unused()
    frame = pd.DataFrame(columns, copy=False)
    return fix_dtypes(frame)
