"""The compiled CSV scanner (`hotspots/_csvscan.c`) against pyarrow's reader.

The scanner must give exactly the table pyarrow gives, or decline the file so that pyarrow reads
it: never a different table. Every test reads the same bytes both ways.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hotspots import _ingest_csv
from hotspots._ingest_sources import Source
from hotspots.ingest import POLICEUK_READ, POLICEUK_TYPES, _key, read_incidents_report
from hotspots.settings import get_settings
from tests.hotspots.compiled import compiled

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context")
ROW = ("{id},2024-05,West Yorkshire Police,West Yorkshire Police,{lon},{lat},On or near Park Row,"
       "E01011365,Leeds 111B,{type},Under investigation,{context}")


def row(i: int = 0, *, lon="-1.548567", lat="53.801277", crime_type="Robbery", context="",
        crime_id=None) -> str:
    return ROW.format(id=f"{i:064x}" if crime_id is None else crime_id, lon=lon, lat=lat,
                      type=crime_type, context=context)


def scanner():
    return compiled(_ingest_csv._csvscan, "_csvscan")


def source_of(path: Path) -> Source:
    return Source(str(path), path, None, path.stat().st_size)


def policeuk_read(source: Source, monkeypatch, *, scan: bool, types: bool = True):
    """`read_table` of a police.uk file as ingest calls it, with the scanner on or off."""
    monkeypatch.setattr(_ingest_csv, "SCAN", scan)
    head = _ingest_csv.sniff(source, source.head(_ingest_csv.HEAD_BYTES))
    assert not isinstance(head, _ingest_csv.Problem), head
    wanted = {_key(c) for c in POLICEUK_READ}
    names = [h for h in head.header if _key(h) in wanted]
    column_types = {h: POLICEUK_TYPES[_key(h)] for h in names
                    if _key(h) in POLICEUK_TYPES} if types else {}
    return _ingest_csv.read_table(source, head, column_types, include=names,
                                  newlines_in_values=False)


def scanned(source: Source, monkeypatch) -> pa.Table | None:
    """The scanner's own table for the police.uk columns (None: it declines)."""
    head = _ingest_csv.sniff(source, source.head(_ingest_csv.HEAD_BYTES))
    wanted = {_key(c) for c in POLICEUK_READ}
    names = [h for h in head.header if _key(h) in wanted]
    column_types = {name: _ingest_csv.STRING for name in head.header}
    column_types |= {h: POLICEUK_TYPES[_key(h)] for h in names if _key(h) in POLICEUK_TYPES}
    whole = None
    if source.member is not None:
        with source.open() as fh:
            whole = fh.read()
    return _ingest_csv._scanned(source, whole, column_types, names, None)


def values(table: pa.Table) -> dict[str, list]:
    """Each column as Python values; dictionaries decoded, floats by their exact bits."""
    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        items = col.to_pylist()
        if pa.types.is_floating(col.type):
            items = [None if v is None else v.hex() for v in items]
        out[name] = items
    return out


def assert_same_read(source: Source, monkeypatch, *, types: bool = True):
    """Scanner on and off give the same read: the same table (names, types, values), the same
    rows skipped as malformed, or the same problem. Returns the read."""
    on = policeuk_read(source, monkeypatch, scan=True, types=types)
    off = policeuk_read(source, monkeypatch, scan=False, types=types)
    assert type(on) is type(off)
    if isinstance(off, _ingest_csv.Problem):
        assert str(on) == str(off)
        return on
    assert on.table.schema == off.table.schema
    assert values(on.table) == values(off.table)
    assert on.malformed == off.malformed and on.encoding == off.encoding
    return on


def write(tmp_path: Path, data: bytes, name: str = "x.csv") -> Source:
    path = tmp_path / name
    path.write_bytes(data)
    return source_of(path)


# --- files the scanner reads ----------------------------------------------------------------------


READ = {
    "plain": HEADER + "\n" + "\n".join(row(i) for i in range(5)) + "\n",
    "CR LF line ends": (HEADER + "\r\n" + "\r\n".join(row(i) for i in range(5)) + "\r\n"),
    "no line end at the end": HEADER + "\n" + "\n".join(row(i) for i in range(5)),
    "byte order mark": "\ufeff" + HEADER + "\n" + row(1) + "\n",
    "blank lines": "\n\n" + HEADER + "\n\n" + row(1) + "\n\r\n\n" + row(2) + "\n\n\n",
    "header only": HEADER + "\n",
    "empty and odd values": HEADER + "\n" + "\n".join([
        row(1, lon="", lat=""), row(2, lon="-0", lat="0.000"), row(3, crime_id=""),
        row(4, lon="-1.5", lat="53"), row(5, lon="123456789012345.6", lat="0.1234567890123456"),
        row(6, lon="-0.000001", lat="9007199254740992")]) + "\n",
    "quoted values in columns not converted": HEADER + "\n" + ROW.format(
        id="a" * 64, lon="-1.5", lat="53.8", type="Robbery", context="").replace(
        "On or near Park Row", '"On or near ""Park"", Row"').replace(
        "Under investigation", '"Under, investigation"') + "\n",
    "text that is not ASCII": HEADER + "\n" + row(1, crime_type="Caf\u00e9 fight",
                                                  context="\u00a3 \u2014 \U0001f600") + "\n",
    "months and types of many values": HEADER + "\n" + "\n".join(
        row(i, crime_type=f"type {i % 200}").replace("2024-05", f"{2000 + i % 10}-{1 + i % 12:02d}")
        for i in range(600)) + "\n",
}


@pytest.mark.parametrize("text", list(READ.values()), ids=list(READ))
def test_the_scanner_reads_plain_files_as_pyarrow_does(tmp_path, monkeypatch, text):
    scanner()
    source = write(tmp_path, text.encode("utf-8"))
    assert scanned(source, monkeypatch) is not None  # read by the scanner, not declined
    assert_same_read(source, monkeypatch)


def test_the_scanner_keeps_the_header_order_and_types(tmp_path, monkeypatch):
    scanner()
    # Columns in another order, some missing: the read columns come in the file's order.
    text = "Context,Crime type,Latitude,Longitude,Month,Crime ID\n,Robbery,53.8,-1.5,2024-05,x\n"
    source = write(tmp_path, text.encode())
    table = scanned(source, monkeypatch)
    assert table.column_names == ["Context", "Crime type", "Latitude", "Longitude", "Month",
                                  "Crime ID"]
    assert table.schema.field("Latitude").type == pa.float64()
    assert pa.types.is_dictionary(table.schema.field("Month").type)
    assert values(table)["Latitude"] == [(53.8).hex()]
    assert_same_read(source, monkeypatch)


# --- files the scanner declines -------------------------------------------------------------------


DECLINED = {
    "quoted converted value": HEADER + "\n" + row(1).replace("Robbery", '"Robbery"') + "\n",
    "quote inside a value": HEADER + "\n" + row(1).replace("Park Row", 'Park "Row"') + "\n",
    "line break inside quotes": HEADER + "\n" + row(1).replace("Park Row", '"Park\nRow"') + "\n",
    "carriage return inside a line": HEADER + "\n" + row(1).replace("Park Row", "Park\rRow") + "\n",
    "text after a closing quote": HEADER + "\n" + row(1).replace("Park Row", '"Park"Row') + "\n",
    "too many fields": HEADER + "\n" + row(1) + ",extra\n" + row(2) + "\n",
    "too few fields": HEADER + "\n" + row(1).rsplit(",", 2)[0] + "\n" + row(2) + "\n",
    "exponent": HEADER + "\n" + row(1, lon="-1.5e0") + "\n",
    "plus sign": HEADER + "\n" + row(1, lat="+53.8") + "\n",
    "padded number": HEADER + "\n" + row(1, lat=" 53.8") + "\n",
    "no integer digits": HEADER + "\n" + row(1, lat=".8") + "\n",
    "no decimals": HEADER + "\n" + row(1, lat="53.") + "\n",
    "too many digits": HEADER + "\n" + row(1, lat="53.80000000000000001") + "\n",
    "a word for a number": HEADER + "\n" + row(1, lat="north") + "\n",
    "too many distinct months": HEADER + "\n" + "\n".join(
        row(i).replace("2024-05", f"month {i}") for i in range(300)) + "\n",
    "padded header name": HEADER.replace("Crime type", "Crime type ") + "\n" + row(1) + "\n",
    "header without a line end": HEADER,
    "quoted header name": HEADER.replace("Crime type", '"Crime type"') + "\n" + row(1) + "\n",
}


@pytest.mark.parametrize("text", list(DECLINED.values()), ids=list(DECLINED))
def test_the_scanner_declines_other_shapes_and_pyarrow_reads_them(tmp_path, monkeypatch, text):
    scanner()
    source = write(tmp_path, text.encode("utf-8"))
    assert scanned(source, monkeypatch) is None
    assert_same_read(source, monkeypatch)


def test_text_that_is_not_utf8_is_read_again_as_windows_1252(tmp_path, monkeypatch):
    scanner()
    text = HEADER + "\n" + "\n".join(row(i) for i in range(3000)) + "\n" + row(
        9, crime_type="Caf\u00e9 fight") + "\n"
    source = write(tmp_path, text.encode("cp1252"))
    read = assert_same_read(source, monkeypatch)
    assert read.encoding == "cp1252"
    assert values(read.table)["Crime type"][-1] == "Caf\u00e9 fight"


# --- byte ranges, zip members, progress -----------------------------------------------------------


def _many_rows(n: int, seed: int = 3) -> bytes:
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for i in range(n):
        lon = "" if i % 17 == 0 else f"{-1.6 + rng.random() / 10:.6f}"
        lat = "" if i % 17 == 0 else f"{53.7 + rng.random() / 10:.6f}"
        lines.append(row(i, lon=lon, lat=lat, crime_type=["Robbery", "Shoplifting", "Drugs"][i % 3],
                         crime_id="" if i % 5 == 0 else None, context=f"c{i % 4}" * (i % 2)))
    return ("\r\n".join(lines) + "\r\n").encode()


def test_many_byte_ranges_give_the_table_of_one(tmp_path, monkeypatch):
    scanner()
    source = write(tmp_path, _many_rows(3000))
    one = scanned(source, monkeypatch)
    monkeypatch.setattr(_ingest_csv, "SCAN_CHUNK_BYTES", 1)
    monkeypatch.setattr(_ingest_csv, "BLOCK_BYTES", 1000)
    many = scanned(source, monkeypatch)
    assert one.column("Crime ID").num_chunks == 1 and many.column("Crime ID").num_chunks > 100
    assert many.schema == one.schema and values(many) == values(one)
    assert_same_read(source, monkeypatch)


def test_progress_counts_every_byte_once(tmp_path, monkeypatch):
    scanner()
    source = write(tmp_path, _many_rows(2000))
    monkeypatch.setattr(_ingest_csv, "SCAN_CHUNK_BYTES", 1)
    monkeypatch.setattr(_ingest_csv, "BLOCK_BYTES", 4096)
    steps: list[int] = []
    head = _ingest_csv.sniff(source, source.head(_ingest_csv.HEAD_BYTES))
    table = _ingest_csv.read_table(source, head, {}, newlines_in_values=False,
                                   advance=steps.append)
    assert table.table.num_rows == 2000
    assert len(steps) > 10 and sum(steps) == source.size


def test_a_zip_member_is_scanned_from_memory(tmp_path, monkeypatch):
    scanner()
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2024-05/2024-05-x-street.csv", _many_rows(500))
    info = zipfile.ZipFile(path).infolist()[0]
    source = Source(f"{path}/{info.filename}", path, info.filename, info.file_size)
    assert scanned(source, monkeypatch) is not None
    assert_same_read(source, monkeypatch)


def test_incident_frames_are_the_same_with_and_without_the_scanner(tmp_path, monkeypatch):
    scanner()
    path = tmp_path / "2024-05-x-street.csv"
    path.write_bytes(_many_rows(2500))
    settings = get_settings(tmp_path / "home")
    monkeypatch.setattr(_ingest_csv, "SCAN_CHUNK_BYTES", 1)
    monkeypatch.setattr(_ingest_csv, "BLOCK_BYTES", 8192)
    on, on_report = read_incidents_report(path, settings=settings)
    monkeypatch.setattr(_ingest_csv, "SCAN", False)
    off, off_report = read_incidents_report(path, settings=settings)
    assert on_report == off_report and on_report.no_location > 0
    assert_geodataframe_equal(on, off)
    asb_located = sum(1 for i in range(2500) if i % 5 == 0 and i % 17 != 0)
    assert on["incident_id"].str.startswith("derived-").sum() == asb_located


# --- the C function's own checks ------------------------------------------------------------------


def test_the_scan_function_checks_its_arguments():
    scan = scanner().scan
    data = b"a,1.5\nb,\n"
    rows, columns = scan(data, 0, len(data), bytes([1, 3]))
    assert rows == 2
    (kind, offsets, text), (fkind, floats, valid, nulls) = columns
    assert (kind, fkind, nulls) == (1, 3, 1)
    assert bytes(text) == b"ab" and np.frombuffer(offsets, dtype=np.int32).tolist() == [0, 1, 2]
    assert np.frombuffer(floats, dtype=np.float64)[0] == 1.5 and valid[0] & 3 == 1
    with pytest.raises(ValueError, match="byte range"):
        scan(data, 0, len(data) + 1, bytes([1, 3]))
    with pytest.raises(ValueError, match="byte range"):
        scan(data, 5, 2, bytes([1, 3]))
    with pytest.raises(ValueError, match="no columns"):
        scan(data, 0, len(data), b"")
    with pytest.raises(ValueError, match="kind 7"):
        scan(data, 0, len(data), bytes([1, 7]))
    assert scan(data, 0, len(data), bytes([1, 3, 1])) == "a row has fewer fields than the header"


# --- random files ---------------------------------------------------------------------------------

_PIECES = ["", "0", "-1.5", "53.8", "007", "a", "Robbery", " ", ",", '"', '""', "\r", "\n", "\r\n",
           "\u00e9", "1e5", ".5", "-", "x y"]
_values = st.lists(st.sampled_from(_PIECES), max_size=3).map("".join)


@st.composite
def _files(draw) -> bytes:
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        fields = row(draw(st.integers(0, 99))).split(",")
        for i in draw(st.lists(st.integers(0, 11), max_size=3)):
            value = draw(_values)
            if draw(st.booleans()):
                value = '"' + value.replace('"', '""') + '"'
            fields[i] = value
        rows.append(",".join(fields))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = HEADER + end + end.join(rows) + draw(st.sampled_from(["", end, end + end]))
    return text.encode("utf-8")


@hsettings(max_examples=150, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_files(), types=st.booleans())
def test_random_files_read_the_same_with_and_without_the_scanner(tmp_path, monkeypatch, data,
                                                                 types):
    scanner()
    assert_same_read(write(tmp_path, data), monkeypatch, types=types)
