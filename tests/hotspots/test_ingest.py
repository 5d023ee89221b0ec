"""Tests of `hotspots.ingest`: first every input check and its message, then the output contract."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hotspots.errors import InputError
from hotspots.ingest import (
    POLICEUK_COLUMNS,
    ForceColumns,
    read_incidents,
    read_incidents_report,
)
from hotspots.ingest import sources as ingest_sources
from hotspots.report import ReadReport
from hotspots.schema import INCIDENT_COLUMNS, has_model_dtypes, make_incidents, to_geodataframe
from hotspots.settings import get_settings
from hotspots.store import IncidentStore

WYP = "West Yorkshire Police"


def crime(crime_id="a" * 64, month="2024-05", lon="-1.548567", lat="53.801277",
          crime_type="Violence and sexual offences", location="On or near Park Row",
          reported_by=WYP, outcome="Under investigation", context=""):
    return {"Crime ID": crime_id, "Month": month, "Reported by": reported_by, "Falls within": WYP,
            "Longitude": lon, "Latitude": lat, "Location": location, "LSOA code": "E01011365",
            "LSOA name": "Leeds 111B", "Crime type": crime_type, "Last outcome category": outcome,
            "Context": context}


def asb(**kw):
    return crime(crime_id="", crime_type="Anti-social behaviour", outcome="", **kw)


def policeuk_text(rows, header=POLICEUK_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def sample_rows():
    """Three crimes, two identical ASB rows and one other, a BTP row and a row with no location."""
    return [
        crime("a" * 64),
        crime("b" * 64, crime_type="Robbery", lon="-1.520000", lat="53.810000"),
        crime("c" * 64, crime_type="Shoplifting"),
        asb(lon="-1.530000", lat="53.790000"),
        asb(lon="-1.530000", lat="53.790000"),
        asb(lon="-1.531000", lat="53.791000", location="On or near Caf\u00e9 Street",
            context="Reported at the caf\u00e9"),
        crime("d" * 64, reported_by="British Transport Police"),
        crime("e" * 64, lon="", lat="", location="No location"),
    ]


@pytest.fixture
def settings(tmp_path):
    return get_settings(tmp_path / "home")


@pytest.fixture
def home_store(tmp_path, settings):
    return IncidentStore(tmp_path / "home", settings=settings)


@pytest.fixture
def street_csv(tmp_path):
    return write(tmp_path / "2024-05-west-yorkshire-street.csv", policeuk_text(sample_rows()))


def problems_of(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


# --- input checks -------------------------------------------------------------------------------


def test_nonexistent_path(tmp_path, settings):
    with pytest.raises(InputError, match=r"nope\.csv: no such file or folder"):
        read_incidents(tmp_path / "nope.csv", settings=settings)


def test_empty_paths(settings):
    with pytest.raises(InputError, match="`paths` is empty"):
        read_incidents([], settings=settings)


def test_bad_format_argument(street_csv, settings):
    with pytest.raises(InputError, match="`format` must be one of auto, police.uk, force, geo"):
        read_incidents(street_csv, format="xls", settings=settings)


def test_empty_file(tmp_path, settings):
    path = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_incidents(path, settings=settings)


def test_binary_file(tmp_path, settings):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match=r"photo\.csv: is not a CSV text file \(it holds binary data\)"):
        read_incidents(path, settings=settings)


def test_no_recognisable_header(tmp_path, settings):
    path = write(tmp_path / "notes.csv", "Dear analyst,\nplease find the data attached.\n")
    with pytest.raises(InputError, match=r"notes\.csv: has no recognisable header .*expected the "
                                         r"police\.uk columns \(Crime ID, Month"):
        read_incidents(path, settings=settings)


def test_missing_required_columns_lists_the_columns_found(tmp_path, settings):
    header = [c for c in POLICEUK_COLUMNS if c not in ("Latitude", "Month")]
    path = write(tmp_path / "x.csv", policeuk_text([crime()], header=header))
    with pytest.raises(InputError, match=r"missing the required columns 'Month', 'Latitude'; the "
                                         r"columns found are: Crime ID, Reported by, Falls within"):
        read_incidents(path, settings=settings)


def test_unparseable_month_names_row_column_and_value(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(), crime("b" * 64, month="Spring 2024")]))
    with pytest.raises(InputError, match=r"x\.csv, row 3, column 'Month': 'Spring 2024' is not a month "
                                         r"like 2024-05"):
        read_incidents(path, settings=settings)


def test_non_numeric_coordinates(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(lon="-1.5x")]))
    with pytest.raises(InputError, match=r"row 2, column 'Longitude': '-1.5x' is not a number"):
        read_incidents(path, settings=settings)


def test_one_coordinate_missing(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(lat="")]))
    with pytest.raises(InputError, match=r"column 'Latitude': is empty while Longitude is given"):
        read_incidents(path, settings=settings)


def test_coordinates_outside_great_britain(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(lon="2.3522", lat="48.8566")]))
    with pytest.raises(InputError, match=r"'2.3522, 48.8566' is outside Great Britain \(expected "
                                         r"longitude -8.7 to 1.9"):
        read_incidents(path, settings=settings)


def test_points_stay_apart(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([
        crime("a" * 64, lon="-1.540000", lat="53.800000"),
        crime("b" * 64, lon="-1.550000", lat="53.800000"),
        crime("c" * 64, lon="-1.540000", lat="53.800000"),
        crime("d" * 64, lon="", lat="")]))
    frame = read_incidents(path, settings=settings)
    assert frame["x"].iloc[0] != frame["x"].iloc[1]
    assert frame["x"].iloc[0] == frame["x"].iloc[2]


def test_coordinate_messages_quote_the_file_text(tmp_path, settings):
    # Clean numbers are read as numbers; a message still quotes the text as the file has it.
    path = write(tmp_path / "x.csv", policeuk_text([crime(), crime("b" * 64, lon="2.352200",
                                                                   lat="48.856600")]))
    with pytest.raises(InputError, match=r"row 3, column 'Longitude/Latitude': '2.352200, "
                                         r"48.856600' is outside Great Britain"):
        read_incidents(path, settings=settings)


@pytest.mark.parametrize("value", ["NaN", "inf", "NA", "null", "1,5"])
def test_coordinate_words_are_not_numbers(tmp_path, settings, value):
    path = write(tmp_path / "x.csv", policeuk_text([crime(), crime("b" * 64, lat=value)]))
    with pytest.raises(InputError) as caught:
        read_incidents(path, settings=settings)
    assert f"row 3, column 'Latitude': {value!r} is not a number" in str(caught.value)


def test_asb_ids_do_not_depend_on_coordinate_formatting(tmp_path, settings):
    # A spreadsheet that re-saves -1.530000 as -1.53 must not turn ASB rows into new incidents.
    six = write(tmp_path / "six.csv", policeuk_text([asb(lon="-1.530000", lat="53.790000")]))
    short = write(tmp_path / "short.csv", policeuk_text([asb(lon="-1.53", lat=" 53.79 ")]))
    ids = read_incidents(six, settings=settings)["incident_id"].tolist()
    assert read_incidents(short, settings=settings)["incident_id"].tolist() == ids
    # The same holds when a word among the coordinates (here in a British Transport Police row,
    # which is left out) has the file read as text.
    text = write(tmp_path / "text.csv", policeuk_text([
        asb(lon="-1.53", lat="53.79"),
        crime(reported_by="British Transport Police", lon="n/a", lat="n/a")]))
    frame, report = read_incidents_report(text, settings=settings)
    assert report.excluded["British Transport Police"] == 1
    assert frame["incident_id"].tolist() == ids


def test_ids_of_only_white_space_count_as_missing(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([asb(), crime(crime_id="   ",
                                                                 crime_type="Anti-social behaviour",
                                                                 outcome="")]))
    ids = read_incidents(path, settings=settings)["incident_id"].tolist()
    assert ids[0].startswith("derived-") and ids[0].endswith("-1")
    assert ids[1] == ids[0][:-1] + "2"


def test_swapped_latitude_and_longitude(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(lon="53.801277", lat="-1.548567")]))
    with pytest.raises(InputError, match="latitude and longitude look swapped"):
        read_incidents(path, settings=settings)


def test_swapped_easting_and_northing(tmp_path, settings):
    text = "id,occurred_at,crime_type,easting,northing\nX1,01/05/2024 10:00,Robbery,833000,430000\n"
    path = write(tmp_path / "force.csv", text)
    with pytest.raises(InputError, match="easting and northing look swapped"):
        read_incidents(path, settings=settings)


def test_unknown_crime_type_is_an_error_when_strict(tmp_path, settings):
    from dataclasses import replace

    strict = replace(settings, unknown_crime_type="error")
    path = write(tmp_path / "x.csv", policeuk_text([crime(crime_type="Alien abduction")]))
    with pytest.raises(InputError, match=r"column 'Crime type': 'Alien abduction' is not in the "
                                         r"category table"):
        read_incidents(path, settings=strict)


def test_duplicate_id_with_different_content(tmp_path, settings):
    rows = [crime("f" * 64), crime("f" * 64, crime_type="Robbery")]
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    with pytest.raises(InputError, match=r"row 3, column 'Crime ID': 'f{57}\.\.\.' is also the id "
                                         r"of row 2, which has different content"):
        read_incidents(path, settings=settings)


def test_duplicate_id_differing_in_a_column_not_otherwise_read(tmp_path, settings):
    rows = [crime("f" * 64), crime("f" * 64, outcome="Local resolution")]
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    with pytest.raises(InputError, match="is also the id of row 2, which has different content"):
        read_incidents(path, settings=settings)


def test_force_export_duplicate_ids(tmp_path, settings):
    header = "id,occurred_at,crime_type,easting,northing\n"
    same = write(tmp_path / "same.csv", header + "X1,01/05/2024 10:00,Robbery,430000,433000\n" * 2)
    frame, report = read_incidents_report(same, settings=settings)
    assert len(frame) == 1 and report.warnings["duplicate row within file"] == 1
    differ = write(tmp_path / "differ.csv", header + "X1,01/05/2024 10:00,Robbery,430000,433000\n"
                   "X1,02/05/2024 10:00,Robbery,430000,433000\n")
    with pytest.raises(InputError, match=r"row 3, column 'id': 'X1' is also the id of row 2"):
        read_incidents(differ, settings=settings)


def test_malformed_row(tmp_path, settings):
    text = policeuk_text([crime()]) + "only,three,fields\n"
    path = write(tmp_path / "x.csv", text)
    with pytest.raises(InputError, match=r"x\.csv, row 3: 'only,three,fields' has 3 fields; "
                                         r"expected 12 as in the header"):
        read_incidents(path, settings=settings)


def test_row_numbers_count_blank_lines_like_a_spreadsheet(tmp_path, settings):
    text = policeuk_text([crime()]) + "\n" + policeuk_text([crime("b" * 64, month="2024-13")]).split("\n", 1)[1]
    path = write(tmp_path / "x.csv", text)
    with pytest.raises(InputError, match=r"row 4, column 'Month': '2024-13'"):
        read_incidents(path, settings=settings)


def test_every_problem_is_collected_across_files(tmp_path, settings):
    one = write(tmp_path / "one.csv", policeuk_text([
        crime(month="2024/05"), crime("b" * 64, lon="abc"), crime("c" * 64, crime_type="")]))
    two = write(tmp_path / "two.csv", "")
    with pytest.raises(InputError, match=r"three\.csv: no such file or folder \(and 4 more problems: "
                                         r"empty file, missing crime type, missing file, not a "
                                         r"number, unparseable month\)") as excinfo:
        read_incidents([one, two, tmp_path / "three.csv"], settings=settings)
    kinds = [p.kind for p in excinfo.value.problems]
    assert kinds == ["missing file", "unparseable month", "not a number", "missing crime type",
                     "empty file"]


def test_many_problems_of_one_kind_are_summarised(tmp_path, settings):
    rows = [crime(f"{i:064x}", month="bad") for i in range(130)]
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    with pytest.raises(InputError) as excinfo:
        read_incidents(path, settings=settings)
    problems = excinfo.value.problems
    assert len(problems) == 101
    assert str(problems[-1]) == f"{path}, column 'Month': 30 more rows like this (unparseable month)"


def test_unreadable_zip(tmp_path, settings):
    path = tmp_path / "archive.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(InputError, match=r"archive\.zip: cannot be read as a zip archive"):
        read_incidents(path, settings=settings)


def test_folder_without_csv_files(tmp_path, settings):
    folder = tmp_path / "downloads"
    write(folder / "readme.txt", "nothing here")
    with pytest.raises(InputError, match=r"downloads: holds no CSV files of incidents"):
        read_incidents(folder, settings=settings)


def test_an_outcomes_file_given_by_name(tmp_path, settings):
    path = write(tmp_path / "2024-05-west-yorkshire-outcomes.csv", "Crime ID,Month\n")
    with pytest.raises(InputError, match="is a police.uk outcomes or stop-and-search file"):
        read_incidents(path, settings=settings)


def test_force_export_missing_columns(tmp_path, settings):
    path = write(tmp_path / "force.csv", "id,occurred_at,easting\nX1,01/05/2024,430000\n")
    with pytest.raises(InputError, match=r"missing the required columns 'crime type', 'northing or "
                                         r"latitude'; the columns found are: id, occurred_at, easting"):
        read_incidents(path, format="force", settings=settings)


def test_force_export_unparseable_date(tmp_path, settings):
    text = "id,occurred_at,crime_type,easting,northing\nX1,31/02/2024 10:00,Robbery,430000,433000\n"
    path = write(tmp_path / "force.csv", text)
    with pytest.raises(InputError, match=r"row 2, column 'occurred_at': '31/02/2024 10:00' is not a "
                                         r"date or date and time like 31/12/2024 23:59 \(day first\)"):
        read_incidents(path, settings=settings)


def test_force_columns_options():
    with pytest.raises(InputError, match="`x_col` and `y_col` go together"):
        ForceColumns.from_options(id_col=None, datetime_col=None, type_col=None, x_col="E",
                                  y_col=None, crs=None, dayfirst=True)
    with pytest.raises(InputError, match="`crs` 'EPSG:1' is not a coordinate reference system"):
        ForceColumns.from_options(id_col=None, datetime_col=None, type_col=None, x_col=None,
                                  y_col=None, crs="EPSG:1", dayfirst=True)
    cols = ForceColumns.from_options(id_col=" ", datetime_col="When", type_col=None, x_col=None,
                                     y_col=None, crs=None, dayfirst=None)
    assert cols == ForceColumns(datetime_col="When")


def _points_frame(geoms, crs):
    return gpd.GeoDataFrame({"id": [f"G{i}" for i in range(len(geoms))],
                             "occurred_at": ["2024-05-01T10:00:00"] * len(geoms),
                             "crime_type": ["Robbery"] * len(geoms)}, geometry=geoms, crs=crs)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_geo_file_without_crs(tmp_path, settings):
    path = tmp_path / "points.gpkg"
    _points_frame([shapely.Point(430000, 433000)], None).to_file(path)
    with pytest.raises(InputError, match=r"points\.gpkg: has no coordinate reference system \(CRS\)"):
        read_incidents(path, settings=settings)


def test_geo_file_without_the_required_fields(tmp_path, settings):
    path = tmp_path / "bare.gpkg"
    frame = _points_frame([shapely.Point(430000, 433000)], "EPSG:27700")
    frame[["geometry"]].assign(note="x").to_file(path)
    with pytest.raises(InputError, match=r"bare\.gpkg: is missing the required columns 'date and "
                                         r"time', 'crime type'; the columns found are: note"):
        read_incidents(path, settings=settings)
    with pytest.raises(InputError, match=r"missing the required columns 'ref', 'when'"):
        read_incidents(path, settings=settings,
                       columns=ForceColumns(id_col="ref", datetime_col="when"))


def test_geo_file_with_non_points(tmp_path, settings):
    path = tmp_path / "areas.gpkg"
    square = shapely.box(430000, 433000, 430100, 433100)
    _points_frame([shapely.Point(430000, 433000), square], "EPSG:27700").to_file(path)
    with pytest.raises(InputError, match=r"areas\.gpkg, row 3, column 'geometry': 'Polygon' geometry "
                                         r"is not a Point"):
        read_incidents(path, settings=settings)


def test_geo_file_that_is_not_one(tmp_path, settings):
    path = write(tmp_path / "broken.geojson", '{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match=r"broken\.geojson: cannot be read as a GeoJSON"):
        read_incidents(path, settings=settings)


# --- output contract ----------------------------------------------------------------------------


def test_output_columns_dtypes_and_crs(street_csv, settings):
    frame = read_incidents(street_csv, settings=settings)
    assert list(frame.columns) == INCIDENT_COLUMNS
    assert has_model_dtypes(frame, settings)
    assert type(frame) is pd.DataFrame
    assert isinstance(frame.index, pd.RangeIndex)
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()


def test_output_equals_the_schema_builder(street_csv, settings):
    frame = read_incidents(street_csv, settings=settings)
    expected = make_incidents(
        incident_id=frame["incident_id"].tolist(), occurred_at=frame["occurred_at"],
        time_precision=frame["time_precision"].astype(str).tolist(),
        crime_type=frame["crime_type"].tolist(), x=frame["x"], y=frame["y"],
        source=frame["source"].tolist(), settings=settings, location=frame["location"].tolist())
    frame.attrs = {}
    pd.testing.assert_frame_equal(frame, expected)


def test_policeuk_values(street_csv, settings):
    frame, report = read_incidents_report(street_csv, settings=settings)
    assert frame.attrs["read_report"] == report.to_dict()
    assert report.rows_read == 8 and report.excluded == {"British Transport Police": 1, "no location": 1}
    assert len(frame) == 6
    assert (frame["occurred_at"] == pd.Timestamp("2024-05-01", tz="Europe/London")).all()
    assert set(frame["time_precision"]) == {"month"}
    assert set(frame["source"]) == {"police.uk"}
    first = frame.iloc[0]
    assert first["incident_id"] == "a" * 64
    assert first["crime_type"] == "Violence and sexual offences"
    assert first["category"] == "serious_violence"
    np.testing.assert_allclose(first["harm"], settings.harm_days["Violence and sexual offences"])
    assert frame.loc[frame["crime_type"] == "Anti-social behaviour", "category"].eq("asb").all()
    assert report.rows_read == 8
    assert report.files == [str(street_csv)]


def test_location_labels_are_kept_and_never_enter_the_ids(street_csv, tmp_path, settings):
    frame = read_incidents(street_csv, settings=settings)
    assert frame["location"].tolist() == [
        "On or near Park Row", "On or near Park Row", "On or near Park Row",
        "On or near Park Row", "On or near Park Row", "On or near Caf\u00e9 Street"]
    # Another label on the same rows (police.uk renames snap points) gives the same ids.
    rows = sample_rows()
    for r in rows:
        r["Location"] = "On or near Supermarket"
    renamed = read_incidents(write(tmp_path / "renamed.csv", policeuk_text(rows)), settings=settings)
    assert renamed["incident_id"].tolist() == frame["incident_id"].tolist()
    assert set(renamed["location"]) == {"On or near Supermarket"}
    # No Location column at all: "" for every row.
    header = [c for c in POLICEUK_COLUMNS if c != "Location"]
    bare = read_incidents(write(tmp_path / "bare.csv", policeuk_text(sample_rows(), header=header)),
                          settings=settings)
    assert set(bare["location"]) == {""}
    assert bare["incident_id"].tolist() == frame["incident_id"].tolist()


def test_force_export_and_geo_file_locations(tmp_path, settings):
    text = ("id,occurred_at,crime_type,easting,northing,Street\n"
            "X1,01/05/2024 10:00,Robbery,430000,433000,Roundhay Road\n"
            "X2,01/05/2024 11:00,Robbery,430000,433000,\n")
    frame = read_incidents(write(tmp_path / "force.csv", text), settings=settings)
    assert frame["location"].tolist() == ["Roundhay Road", ""]
    geo = _points_frame([shapely.Point(430000, 433000)], "EPSG:27700").assign(address="Harehills Lane")
    geo.to_file(tmp_path / "points.gpkg")
    assert read_incidents(tmp_path / "points.gpkg", settings=settings)["location"].tolist() == [
        "Harehills Lane"]


def test_lon_lat_land_at_the_right_easting_northing(tmp_path, settings):
    lon, lat = -1.548567, 53.801277  # Leeds Town Hall
    path = write(tmp_path / "x.csv", policeuk_text([crime(lon=str(lon), lat=str(lat))]))
    frame = read_incidents(path, settings=settings)
    point = shapely.Point(frame["x"].iloc[0], frame["y"].iloc[0])
    reference = gpd.GeoSeries.from_xy([lon], [lat], crs="EPSG:4326").to_crs("EPSG:27700").iloc[0]
    assert point.distance(reference) < 1.0
    # The town hall is in grid square SE 29 33.
    assert 429_000 < point.x < 430_000 and 433_000 < point.y < 434_000


def test_btp_rows_are_excluded_and_counted(street_csv, settings):
    from dataclasses import replace

    frame, report = read_incidents_report(street_csv, settings=settings)
    assert report.excluded["British Transport Police"] == 1
    assert "d" * 64 not in set(frame["incident_id"])
    keep = read_incidents(street_csv, settings=replace(settings, exclude_btp=False))
    assert "d" * 64 in set(keep["incident_id"])


def test_rows_without_location_are_counted(street_csv, settings):
    frame, report = read_incidents_report(street_csv, settings=settings)
    assert report.no_location == 1
    assert report.excluded["no location"] == 1
    assert "e" * 64 not in set(frame["incident_id"])


def test_asb_ids_are_derived_stable_and_distinct(street_csv, tmp_path, settings):
    first = read_incidents(street_csv, settings=settings)
    again = read_incidents(street_csv, settings=settings)
    ids = first.loc[first["category"] == "asb", "incident_id"].tolist()
    assert ids == again.loc[again["category"] == "asb", "incident_id"].tolist()
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(i.startswith("derived-") for i in ids)
    # The two identical rows differ only by their occurrence counter.
    assert ids[0][:-2] == ids[1][:-2] and ids[0].endswith("-1") and ids[1].endswith("-2")
    # The same rows in another file (another name, more rows) get the same ids.
    other = write(tmp_path / "other.csv", policeuk_text([crime("z" * 64), *sample_rows()[3:6]]))
    assert read_incidents(other, settings=settings)["incident_id"].tolist()[1:] == ids


def test_asb_rows_repeated_ten_times_or_more_count_on(tmp_path, settings):
    rows = [asb(lon="-1.530000", lat="53.790000")] * 12 + [asb()]
    ids = read_incidents(write(tmp_path / "x.csv", policeuk_text(rows)), settings=settings)[
        "incident_id"].tolist()
    stem = ids[0].rsplit("-", 1)[0]
    assert ids[:12] == [f"{stem}-{k}" for k in range(1, 13)]
    assert ids[12].endswith("-1") and not ids[12].startswith(stem)
    # Fewer than ten repeats give the same ids as within a longer run.
    few = read_incidents(write(tmp_path / "y.csv", policeuk_text(rows[:3])), settings=settings)
    assert few["incident_id"].tolist() == ids[:3]


def test_derived_id_scheme_is_pinned(tmp_path, settings):
    # Ids already in a store must not change: BLAKE2b of the identifying fields, in this order,
    # plus the occurrence number among identical rows.
    import hashlib

    path = write(tmp_path / "x.csv", policeuk_text([asb(lon="-1.530000", lat="53.790000")] * 2))
    fields = ["2024-05", WYP, "-1.530000", "53.790000", "Anti-social behaviour", ""]
    digest = hashlib.blake2b("\x1f".join(fields).encode(), digest_size=10,
                             person=b"hotspots-row").hexdigest()
    assert read_incidents(path, settings=settings)["incident_id"].tolist() == [
        f"derived-{digest}-1", f"derived-{digest}-2"]


def test_ids_are_trimmed_and_kept_as_text(tmp_path, settings):
    text = ("id,occurred_at,crime_type,easting,northing\n"
            " 007 ,01/05/2024 10:00,Robbery,430000,433000\n"
            "\u00a3\u00e9,01/05/2024 10:00,Robbery,430000,433000\n")
    frame = read_incidents(write(tmp_path / "e.csv", text), settings=settings)
    assert frame["incident_id"].tolist() == ["007", "\u00a3\u00e9"]


def test_identical_duplicate_rows_warn_and_keep_one(tmp_path, settings):
    path = write(tmp_path / "x.csv", policeuk_text([crime(), crime(), crime("b" * 64)]))
    frame, report = read_incidents_report(path, settings=settings)
    assert frame["incident_id"].tolist() == ["a" * 64, "b" * 64]
    assert report.warnings["duplicate row within file"] == 1
    assert "repeats row 2 exactly" in str(report.examples["duplicate row within file"][0])


def test_unknown_crime_types_map_to_other_with_a_warning(tmp_path, settings):
    rows = [crime(crime_type="Alien abduction"), crime("b" * 64, crime_type="Alien abduction"),
            crime("c" * 64, crime_type="Time travel")]
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    frame, report = read_incidents_report(path, settings=settings)
    assert frame["category"].tolist() == ["other"] * 3
    np.testing.assert_allclose(frame["harm"], settings.unknown_harm_days)
    assert report.warnings["unknown crime type mapped to other"] == 3
    examples = report.examples["unknown crime type mapped to other"]
    assert [(p.row, p.value) for p in examples] == [(2, "Alien abduction"), (4, "Time travel")]


def test_many_blocks_give_the_same_frame_as_one(tmp_path, settings, monkeypatch):
    """The reader streams a file in blocks and checks it block by block (identical ASB rows
    counted across blocks): a file read in many small blocks gives the frame it gives in one."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(400):
        lon, lat = f"{-1.55 + rng.integers(0, 30) / 1000:.6f}", f"{53.80 + rng.integers(0, 30) / 1000:.6f}"
        if 120 <= i < 200:  # a stretch with no ASB rows: whole chunks without derived ids
            rows.append(crime(f"{i:064x}", lon=lon, lat=lat))
        elif i % 7 == 0:
            rows.append(asb(lon=lon, lat=lat, context=f"note {i % 3}"))
        elif i % 31 == 0:
            rows.append(crime(f"{i:064x}", lon="", lat=""))
        elif i % 37 == 0:
            rows.append(crime(f"{i:064x}", reported_by="British Transport Police"))
        else:
            rows.append(crime(f"{i:064x}", lon=lon, lat=lat, crime_type="Robbery"))
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    whole, report = read_incidents_report(path, settings=settings)
    monkeypatch.setattr(ingest_sources, "BLOCK_BYTES", 4096)
    blocks, block_report = read_incidents_report(path, settings=settings)
    assert blocks.attrs == whole.attrs and block_report == report
    pd.testing.assert_frame_equal(blocks, whole)
    asb_rows = sum(r["Crime ID"] == "" for r in rows)
    assert whole["incident_id"].str.startswith("derived-").sum() == asb_rows
    assert len(whole) == len(rows) - report.no_location - report.excluded["British Transport Police"]


def test_frame_writes_to_parquet_with_its_report(tmp_path, settings, home_store):
    """The report rides in `attrs` as plain JSON types: a frame straight from the reader writes
    to Parquet, reads back with the same report, and the store still finds it there."""
    rows = [crime(crime_type="Alien abduction"), crime("b" * 64), crime("b" * 64), asb()]
    path = write(tmp_path / "x.csv", policeuk_text(rows))
    frame, report = read_incidents_report(path, settings=settings)
    assert report.warnings == {"unknown crime type mapped to other": 1, "duplicate row within file": 1}
    frame.to_parquet(tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert back.attrs["read_report"] == report.to_dict()
    assert ReadReport.from_dict(back.attrs["read_report"]) == report
    added = home_store.add(back)
    assert added.read == report and added.rows_read == 4 and added.added == 3
    assert any("Alien abduction" in line for line in added.lines())


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_bom_and_windows_1252_files_decode(tmp_path, settings, street_csv, encoding):
    text = policeuk_text(sample_rows()).replace("Park Row", "Park Row \u00a3 shop")
    path = write(tmp_path / f"{encoding}.csv", text, encoding=encoding)
    utf8 = write(tmp_path / "plain.csv", text)
    frame = read_incidents(path, settings=settings)
    # An ASB row's Context holds an é: the id derived from it matches only if it was decoded right.
    assert frame["incident_id"].tolist() == read_incidents(utf8, settings=settings)["incident_id"].tolist()
    assert len(frame) == 6


@pytest.mark.parametrize("where", ["Crime type", "Context"])
def test_windows_1252_after_the_first_block_of_ascii(tmp_path, settings, where):
    # The encoding is guessed from the first 64 KB; a Windows-1252 byte far below them still
    # has the whole file read as Windows-1252, in whichever column it appears (Context enters
    # the derived id of an ASB row).
    rows = [crime(f"{i:064x}") for i in range(1500)]
    rows.append(crime("f" * 64, crime_type="Caf\u00e9 fight") if where == "Crime type"
                else asb(context="Caf\u00e9"))
    text = policeuk_text(rows)
    path = write(tmp_path / "late.csv", text, encoding="cp1252")
    assert path.stat().st_size > 2 * 65536
    frame = read_incidents(path, settings=settings)
    same = read_incidents(write(tmp_path / "utf8.csv", text), settings=settings)
    assert len(frame) == 1501
    assert frame["incident_id"].tolist() == same["incident_id"].tolist()
    assert frame["crime_type"].tolist() == same["crime_type"].tolist()


def test_force_export_in_windows_1252(tmp_path, settings):
    text = "id,occurred_at,crime_type,easting,northing\nX1,01/05/2024 10:00,Caf\u00e9 fight,430000,433000\n"
    path = write(tmp_path / "force.csv", text, encoding="cp1252")
    frame = read_incidents(path, settings=settings)
    assert frame["crime_type"].tolist() == ["Caf\u00e9 fight"]


def test_policeuk_archive_zip(tmp_path, settings):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2024-05/2024-05-west-yorkshire-street.csv", policeuk_text(sample_rows()))
        archive.writestr("2024-06/2024-06-west-yorkshire-street.csv",
                         policeuk_text([crime("9" * 64, month="2024-06")]))
        archive.writestr("2024-05/2024-05-west-yorkshire-outcomes.csv", "Crime ID,Month\n")
        archive.writestr("2024-05/2024-05-west-yorkshire-stop-and-search.csv", "Type,Date\n")
    frame, report = read_incidents_report(path, settings=settings)
    assert len(frame) == 7
    assert sorted(frame["occurred_at"].dt.month.unique()) == [5, 6]
    assert report.excluded["police.uk outcomes files (not read)"] == 1
    assert report.excluded["police.uk stop-and-search files (not read)"] == 1
    assert report.files == [f"{path}/2024-05/2024-05-west-yorkshire-street.csv",
                            f"{path}/2024-06/2024-06-west-yorkshire-street.csv"]


def test_zip_problems_name_the_member(tmp_path, settings):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2024-05/2024-05-x-street.csv", policeuk_text([crime(month="2024-5x")]))
    with pytest.raises(InputError, match=r"archive\.zip/2024-05/2024-05-x-street\.csv, row 2"):
        read_incidents(path, settings=settings)


def test_folder_of_monthly_files(tmp_path, settings):
    folder = tmp_path / "download"
    write(folder / "2024-05" / "2024-05-west-yorkshire-street.csv", policeuk_text(sample_rows()))
    write(folder / "2024-06" / "2024-06-west-yorkshire-street.csv",
          policeuk_text([crime("9" * 64, month="2024-06")]))
    write(folder / "2024-06" / "2024-06-west-yorkshire-outcomes.csv", "Crime ID,Month\n")
    frame, report = read_incidents_report(folder, settings=settings)
    assert len(frame) == 7
    assert len(report.files) == 2
    assert report.excluded["police.uk outcomes files (not read)"] == 1


def test_force_export_times(tmp_path, settings):
    text = (
        "Incident ID,Occurred,Offence Type,Easting,Northing\n"
        "A1,05/03/2024 14:30,Violence with injury,430000,433000\n"
        "A2,27/10/2024 01:30,Youth nuisance,430100,433100\n"   # clocks go back: hour repeats
        "A3,31/03/2024 01:30,Criminal damage,430200,433200\n"  # clocks go forward: no such time
        "A4,06/03/2024,Noise,430300,433300\n"
        "A5,2024-06-01T10:00:00+02:00,Robbery of personal property,430400,433400\n"
    )
    path = write(tmp_path / "export.csv", text)
    frame = read_incidents(path, settings=settings)
    utc = frame["occurred_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert utc == ["2024-03-05 14:30", "2024-10-27 00:30", "2024-03-31 01:00", "2024-03-06 00:00",
                   "2024-06-01 08:00"]
    assert frame["time_precision"].tolist() == ["minute", "minute", "minute", "day", "minute"]
    assert set(frame["source"]) == {"force-export"}
    assert frame["category"].tolist() == ["serious_violence", "asb", "other", "asb", "serious_violence"]
    np.testing.assert_allclose(frame["x"], [430000, 430100, 430200, 430300, 430400])


def test_force_export_named_columns_month_first_and_lon_lat(tmp_path, settings):
    text = "Ref,When,What,X,Y\nR1,03/05/2024 09:15,Robbery,-1.548567,53.801277\n"
    path = write(tmp_path / "export.csv", text)
    cols = ForceColumns.from_options(id_col="Ref", datetime_col="When", type_col="What",
                                     x_col="X", y_col="Y", crs="EPSG:4326", dayfirst=False)
    frame = read_incidents(path, columns=cols, source="wyp-niche", settings=settings)
    assert frame["occurred_at"].iloc[0] == pd.Timestamp("2024-03-05 09:15", tz="Europe/London")
    assert frame["source"].iloc[0] == "wyp-niche"
    assert 429_000 < frame["x"].iloc[0] < 430_000


def test_force_export_separate_date_and_time_columns(tmp_path, settings):
    text = "id,date,time,crime_type,longitude,latitude\nX1,05/03/2024,23:10,Robbery,-1.55,53.80\n"
    frame = read_incidents(write(tmp_path / "e.csv", text), settings=settings)
    assert frame["occurred_at"].iloc[0] == pd.Timestamp("2024-03-05 23:10", tz="Europe/London")
    assert frame["time_precision"].iloc[0] == "minute"


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_geo_files_are_reprojected(tmp_path, settings, suffix):
    lon, lat = -1.548567, 53.801277
    frame = _points_frame([shapely.Point(lon, lat), shapely.Point(-1.52, 53.81)], "EPSG:4326")
    path = tmp_path / f"points{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    out = read_incidents(path, settings=settings)
    assert type(out) is pd.DataFrame
    assert out["incident_id"].tolist() == ["G0", "G1"]
    reference = gpd.GeoSeries.from_xy([lon], [lat], crs="EPSG:4326").to_crs("EPSG:27700").iloc[0]
    assert shapely.Point(out["x"].iloc[0], out["y"].iloc[0]).distance(reference) < 1.0
    assert out["occurred_at"].iloc[0] == pd.Timestamp("2024-05-01 10:00", tz="Europe/London")


def test_geo_file_round_trip_of_an_export(tmp_path, settings, street_csv):
    frame = read_incidents(street_csv, settings=settings)
    frame.attrs = {}
    path = tmp_path / "export.gpkg"
    to_geodataframe(frame).to_file(path)
    again = read_incidents(path, settings=settings)
    assert again["time_precision"].tolist() == frame["time_precision"].tolist()
    assert again["incident_id"].tolist() == frame["incident_id"].tolist()


def test_progress_bar_shows_for_large_inputs_on_a_terminal(street_csv, settings, capsys,
                                                          monkeypatch):
    import hotspots.ingest as ingest

    monkeypatch.setattr(ingest, "PROGRESS_BYTES", 1)
    read_incidents(street_csv, settings=settings)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(ingest.sys.stderr, "isatty", lambda: True, raising=False)
    read_incidents(street_csv, settings=settings)
    assert "reading incidents" in capsys.readouterr().err


def test_progress_bar_on_request(street_csv, settings, capsys):
    read_incidents(street_csv, settings=settings, progress=True)
    assert "reading incidents" in capsys.readouterr().err
    read_incidents(street_csv, settings=settings, progress=False)
    assert capsys.readouterr().err == ""


# --- never any other exception ------------------------------------------------------------------


def _valid_frame(frame, settings):
    assert list(frame.columns) == INCIDENT_COLUMNS
    assert has_model_dtypes(frame, settings)
    assert type(frame) is pd.DataFrame


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_give_a_frame_or_an_input_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bytes")
    settings = get_settings(folder)
    path = folder / "random.csv"
    path.write_bytes(data)
    try:
        frame = read_incidents(path, settings=settings)
    except InputError:
        return
    _valid_frame(frame, settings)


_field_values = st.one_of(
    st.sampled_from(["", " ", "2024-13", "53.8", "-1.55", "nan", "inf", "1e400", "0", "\"", ",",
                     "Robbery", "British Transport Police", "\u00e9", "\n", "99999999999"]),
    st.text(max_size=12),
)


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(POLICEUK_COLUMNS), _field_values),
                      max_size=6),
       drop=st.sets(st.integers(0, 7), max_size=2),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_mutated_rows_give_a_frame_or_an_input_error(tmp_path_factory, edits, drop, encoding):
    rows = sample_rows()
    for i, column, value in edits:
        rows[i][column] = value
    rows = [r for i, r in enumerate(rows) if i not in drop]
    folder = tmp_path_factory.mktemp("mutated")
    settings = get_settings(folder)
    text = policeuk_text(rows)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    path = folder / "2024-05-x-street.csv"
    path.write_bytes(data)
    try:
        frame = read_incidents(path, settings=settings)
    except InputError as exc:
        assert exc.problems
        return
    _valid_frame(frame, settings)
    assert frame["incident_id"].is_unique


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=10), st.text(max_size=10)),
                       min_size=1, max_size=5),
       dayfirst=st.booleans())
def test_mutated_force_exports_give_a_frame_or_an_input_error(tmp_path_factory, values, dayfirst):
    folder = tmp_path_factory.mktemp("force")
    settings = get_settings(folder)
    lines = ["id,occurred_at,crime_type,easting,northing"]
    for i, (when, east, north) in enumerate(values):
        lines.append(",".join(f'"{v.replace(chr(34), chr(34) * 2)}"'
                              for v in (f"X{i}", when, "Robbery", east, north)))
    path = folder / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    cols = ForceColumns.from_options(dayfirst=dayfirst)
    try:
        frame = read_incidents(path, columns=cols, settings=settings)
    except InputError:
        return
    _valid_frame(frame, settings)


_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                     st.sampled_from([-1.55, 53.8, 430000, 433000]))
_geometries = st.one_of(
    st.none(),
    st.builds(lambda x, y: {"type": "Point", "coordinates": [x, y]}, _numbers, _numbers),
    st.builds(lambda x, y: {"type": "LineString", "coordinates": [[x, y], [y, x]]}, _numbers, _numbers),
    st.just({"type": "MultiPoint", "coordinates": [[-1.5, 53.8]]}),
)
_properties = st.one_of(st.none(), st.text(max_size=10), _numbers, st.booleans(),
                        st.sampled_from(["2024-05-01T10:00:00", "05/03/2024 14:30", "Robbery",
                                         "2024-05-01T10:00:00+01:00", ""]))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.lists(st.tuples(_geometries, _properties, _properties, _properties), max_size=4))
def test_random_geojson_gives_a_frame_or_an_input_error(tmp_path_factory, features):
    folder = tmp_path_factory.mktemp("geo")
    settings = get_settings(folder)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {"id": a, "occurred_at": b, "crime_type": c}}
        for g, a, b, c in features]}
    path = folder / "points.geojson"
    path.write_text(json.dumps(doc))
    try:
        frame = read_incidents(path, settings=settings)
    except InputError:
        return
    _valid_frame(frame, settings)
