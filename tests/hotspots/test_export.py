"""Exports: input checks first, then RFC 7946 GeoJSON, spreadsheet-safe CSV and GeoPackage."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import InputError
from hotspots.cells import cells_to_gdf
from hotspots.export import escape_formulas, export, to_csv, to_geojson, to_gpkg


@pytest.fixture
def ranked():
    """A small frame shaped like rank_hotspots' output."""
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(53.7945, -1.5410, 10)),
                      h3.str_to_int(h3.latlng_to_cell(53.7970, -1.5330, 10))], dtype=np.uint64)
    hexes = cells_to_gdf(cells)
    return gpd.GeoDataFrame({
        "h3_cell": hexes["h3_cell"],
        "ward_code": pd.Series(["E05011399", "E05011385"], dtype="str"),
        "ward_name": pd.Series(["=HYPERLINK(\"http://x\")", "Armley"], dtype="str"),
        "count": np.array([5, 0], dtype=np.int64),
        "harm": [5.0, 0.0],
        "gi_z": [3.2, -0.4],
        "hot": [True, False],
        "change": np.array([-3, 0], dtype=np.int64),
        "change_pct": [np.nan, 0.0],
        "trend": pd.Series(["new", "none"], dtype="str"),
        "reason": pd.Series(["-5 on last week", "@risk +1"], dtype="str"),
    }, geometry=hexes.geometry, crs=27700)


# ----------------------------------------------------------------------------- input checks


def test_exports_check_their_input(ranked):
    with pytest.raises(InputError, match=r"^`frame` must be a DataFrame or GeoDataFrame to export, not list\.$"):
        to_csv([1, 2])
    with pytest.raises(InputError, match=r"^`frame` has no CRS; set it \(set_crs\('EPSG:27700'\) for the analysis' output\) before exporting\.$"):
        to_geojson(ranked.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match=r"^`frame` has no geometry to write as GeoJSON; use CSV for tables\.$"):
        to_geojson(pd.DataFrame({"a": [1]}))
    with pytest.raises(InputError, match=r"^`format` is 'xlsx'; allowed values: geojson, csv, gpkg\.$"):
        export(ranked, "xlsx")
    with pytest.raises(InputError, match=r"^a GeoPackage is a binary file: give an output path \(--out hotspots\.gpkg\)\.$"):
        export(ranked, "gpkg")


# ----------------------------------------------------------------------------- GeoJSON


def test_geojson_follows_rfc_7946(ranked):
    doc = json.loads(to_geojson(ranked))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    assert len(doc["features"]) == 2
    first = doc["features"][0]
    assert first["type"] == "Feature"
    assert first["id"] == first["properties"]["h3_cell"] == h3.latlng_to_cell(53.7945, -1.5410, 10)
    ring = np.array(first["geometry"]["coordinates"][0])
    assert first["geometry"]["type"] == "Polygon"
    assert (ring[0] == ring[-1]).all()
    assert shapely.LinearRing(ring).is_ccw  # exterior rings counter-clockwise
    assert np.all((ring[:, 0] > -1.6) & (ring[:, 0] < -1.5) & (ring[:, 1] > 53.7) & (ring[:, 1] < 53.9))  # lon, lat
    # Coordinates match the cell's own boundary from h3 (lat/lng swapped to lng/lat).
    expected = np.array(h3.cell_to_boundary(first["id"]))[:, ::-1]
    for point in ring[:-1]:
        assert np.min(np.hypot(*(expected - point).T)) < 2e-7
    props = first["properties"]
    assert props["count"] == 5 and props["hot"] is True and props["change"] == -3
    assert props["change_pct"] is None  # NaN becomes null
    assert props["gi_z"] == 3.2
    assert set(props) == set(ranked.columns) - {"geometry"}


def test_geojson_round_trips_through_geopandas(ranked):
    back = gpd.read_file(io.StringIO(to_geojson(ranked)))
    assert back.crs.to_epsg() == 4326
    expected = ranked.to_crs(4326).geometry.normalize().to_numpy()
    assert shapely.equals_exact(back.geometry.normalize().to_numpy(), expected, tolerance=1e-6).all()
    assert back["h3_cell"].tolist() == [h3.int_to_str(int(c)) for c in ranked["h3_cell"]]


# ----------------------------------------------------------------------------- CSV


def test_csv_escapes_formulas_and_gives_centroids(ranked):
    text = to_csv(ranked)
    back = pd.read_csv(io.StringIO(text), dtype={"h3_cell": str})
    assert back.columns.tolist() == [c for c in ranked.columns if c != "geometry"] + ["longitude", "latitude"]
    assert back["ward_name"].tolist() == ["'=HYPERLINK(\"http://x\")", "Armley"]
    assert back["reason"].tolist() == ["'-5 on last week", "'@risk +1"]
    assert back["change"].tolist() == [-3, 0]  # numbers are numbers, not escaped
    assert back["h3_cell"].tolist() == [h3.int_to_str(int(c)) for c in ranked["h3_cell"]]
    centroids = gpd.GeoSeries(ranked.geometry.centroid, crs=27700).to_crs(4326)
    np.testing.assert_allclose(back["longitude"], centroids.x, atol=1e-7)
    np.testing.assert_allclose(back["latitude"], centroids.y, atol=1e-7)
    assert np.isnan(back["change_pct"].iloc[0])


def test_escape_formulas():
    got = escape_formulas(pd.Series(["=1+1", "+44 113", "-x", "@sum", "\tcmd", "safe", None], dtype=object))
    assert got.tolist()[:6] == ["'=1+1", "'+44 113", "'-x", "'@sum", "'\tcmd", "safe"]
    assert pd.isna(got.iloc[6])


def test_escape_formulas_after_leading_whitespace():
    risky = [" =1+1", "\n=cmd|' /C calc'!A0", "\r\n+44", "  @SUM(A1)", " \t-2+3", "\u00a0=HYPERLINK(1)",
             "\n\n-x", "\r", "\tplain"]
    got = escape_formulas(pd.Series(risky, dtype=object))
    assert got.tolist() == ["'" + v for v in risky]
    safe = [" plain", "\nnote", "On or near =", "a-b", "", "   "]
    assert escape_formulas(pd.Series(safe, dtype=object)).tolist() == safe


def test_csv_of_a_table_without_geometry(tmp_path):
    table = pd.DataFrame({"coverage": [0.01], "pai": [3.5], "test_period": ["2025-W23"]})
    path = tmp_path / "eval.csv"
    assert export(table, "csv", path) is None
    assert path.read_text(encoding="utf-8") == "coverage,pai,test_period\n0.01,3.5,2025-W23\n"


# ----------------------------------------------------------------------------- GeoPackage


def test_geopackage_keeps_bng_and_hex_cells(ranked, tmp_path):
    path = tmp_path / "out.gpkg"
    to_gpkg(ranked, path)
    back = gpd.read_file(path, layer="hotspots")
    assert back.crs.to_epsg() == 27700
    assert back["h3_cell"].tolist() == [h3.int_to_str(int(c)) for c in ranked["h3_cell"]]
    assert back["ward_name"].iloc[0] == ranked["ward_name"].iloc[0]  # binary format: no escaping needed
    assert back["hot"].tolist() == [True, False]
    assert shapely.equals_exact(back.geometry.to_numpy(), ranked.geometry.to_numpy(), tolerance=1e-6).all()
    # GeoJSON to a file as well.
    export(ranked, "geojson", tmp_path / "out.geojson")
    assert json.loads((tmp_path / "out.geojson").read_text(encoding="utf-8"))["type"] == "FeatureCollection"


# ----------------------------------------------------------------------------- context


def _context(tmp_path, sources=("police.uk",)):
    import datetime as dt

    from hotspots.coverage import Coverage, MonthCoverage
    from hotspots.export import export_context
    from hotspots.settings import get_settings

    coverage = Coverage(tuple(MonthCoverage(src, m, 100, True) for src in sources
                              for m in ("2025-01", "2025-03")))
    attrs = {"period": "2025-03", "previous_period": "2025-02", "category": "asb",
             "weight": "harm", "resolution": 9, "wards": ["E05011385"], "notes": ["no baseline"]}
    return export_context("hotspots", settings=get_settings(tmp_path), coverage=coverage,
                          attrs=attrs, now=dt.datetime(2025, 4, 2, 9, 30, tzinfo=dt.UTC))


def test_export_context_says_what_how_when_and_from_which_data(tmp_path):
    ctx = _context(tmp_path)
    assert ctx["generated_at"] == "2025-04-02T09:30:00Z"
    assert (ctx["period"], ctx["category"], ctx["wards"], ctx["weight"]) == (
        "2025-03", "asb", ["E05011385"], "harm")
    assert ctx["settings"]["h3_resolution"] == 9  # the result's own, not the setting's default
    assert "trend_months" in ctx["settings"] and "trend_weeks" not in ctx["settings"]
    assert ctx["sources"] == [{"source": "police.uk", "months": ["2025-01", "2025-03"],
                               "gaps": ["2025-02"], "partial": []}]
    assert "2025-02 missing" in ctx["coverage"] and ctx["notes"] == ["no baseline"]
    assert ctx["synthetic"] is False
    assert _context(tmp_path, ("demo", "police.uk"))["synthetic"] is True
    json.dumps(ctx)  # JSON-ready


def test_exports_carry_the_context(ranked, tmp_path):
    from hotspots.export import context_path, demo_path

    ctx = _context(tmp_path, ("demo",))
    doc = json.loads(to_geojson(ranked, context=ctx))
    assert doc["synthetic"] is True and doc["context"] == ctx
    assert all(f["properties"]["period"] == "2025-03" and f["properties"]["synthetic"] is True
               for f in doc["features"])
    out = tmp_path / "cells.csv"
    to_csv(ranked, out, context=ctx)
    table = pd.read_csv(out)
    assert table["synthetic"].all() and set(table["generated_at"]) == {"2025-04-02T09:30:00Z"}
    assert json.loads(context_path(out).read_text()) == ctx
    assert context_path(out).name == "cells.context.json"
    assert demo_path(out, ctx).name == "cells-demo.csv"
    assert demo_path(tmp_path / "demo.csv", ctx).name == "demo.csv"
    assert demo_path(out, {"synthetic": False}) == out
