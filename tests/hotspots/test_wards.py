"""Ward boundaries: every rejection message, then the embedded Leeds wards."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon

from hotspots import InputError, load_wards
from hotspots.settings import PRIORITY_WARDS
from hotspots.wards import select_wards

SQUARE = Polygon([(430000, 430000), (431000, 430000), (431000, 431000), (430000, 431000)])
BOWTIE = Polygon([(430000, 430000), (431000, 431000), (431000, 430000), (430000, 431000)])


def write(tmp_path, frame, name="wards.gpkg"):
    path = tmp_path / name
    frame.to_file(path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope.geojson: ward boundary file not found"):
        load_wards(tmp_path / "nope.geojson")


def test_not_a_boundary_file(tmp_path):
    path = tmp_path / "wards.geojson"
    path.write_text("this is not json")
    with pytest.raises(InputError, match=r"cannot read ward boundaries"):
        load_wards(path)


@pytest.mark.filterwarnings("ignore:.crs. was not provided")
def test_missing_crs(tmp_path):
    frame = gpd.GeoDataFrame({"ward_code": ["A"], "ward_name": ["a"]}, geometry=[SQUARE])
    path = write(tmp_path, frame, "nocrs.shp")
    with pytest.raises(InputError, match=r"has no CRS; set one"):
        load_wards(path)


def test_missing_fields_lists_those_found(tmp_path):
    frame = gpd.GeoDataFrame({"WD19CD": ["A"], "WD19NM": ["a"]}, geometry=[SQUARE], crs=27700)
    path = write(tmp_path, frame)
    with pytest.raises(InputError, match=r"ward_code, ward_name not found; fields found: WD19CD, WD19NM"):
        load_wards(path)
    wards = load_wards(path, code_field="WD19CD", name_field="WD19NM")
    assert list(wards["ward_code"]) == ["A"]


def test_non_polygon_invalid_and_duplicates(tmp_path):
    lines = gpd.GeoDataFrame({"ward_code": ["A"], "ward_name": ["a"]},
                             geometry=[LineString([(0, 0), (1, 1)])], crs=27700)
    with pytest.raises(InputError, match=r"ward 'A' \(feature 1\) is a LineString; ward boundaries must be"):
        load_wards(write(tmp_path, lines, "lines.gpkg"))
    bad = gpd.GeoDataFrame({"ward_code": ["A", "B"], "ward_name": ["a", "b"]},
                           geometry=[SQUARE, BOWTIE], crs=27700)
    with pytest.raises(InputError, match=r"ward 'B' \(feature 2\) has invalid geometry \(Self-intersection"):
        load_wards(write(tmp_path, bad, "bowtie.gpkg"))
    dup = gpd.GeoDataFrame({"ward_code": ["A", "A"], "ward_name": ["a", "b"]},
                           geometry=[SQUARE, SQUARE], crs=27700)
    with pytest.raises(InputError, match=r"duplicate ward code 'A'"):
        load_wards(write(tmp_path, dup, "dup.gpkg"))


def test_priority_only_needs_a_priority_ward(tmp_path):
    frame = gpd.GeoDataFrame({"ward_code": ["A"], "ward_name": ["a"]}, geometry=[SQUARE], crs=27700)
    with pytest.raises(InputError, match=r"none of the priority wards"):
        load_wards(write(tmp_path, frame), priority_only=True)


def test_embedded_leeds_wards():
    wards = load_wards()
    assert list(wards.columns) == ["ward_code", "ward_name", "priority", "area_km2", "geometry"]
    assert wards.crs == "EPSG:27700"
    assert len(wards) == 33 and wards["ward_code"].is_unique
    assert set(wards.geom_type) == {"MultiPolygon"}
    assert wards["priority"].dtype == bool and wards["priority"].sum() == 6
    assert set(wards.loc[wards["priority"], "ward_code"]) == set(PRIORITY_WARDS)
    # Areas from ../shared/data/README.md (ONS boundaries in EPSG:27700).
    areas = dict(zip(wards["ward_code"], wards["area_km2"], strict=True))
    expected = {"E05011394": 4.003, "E05011388": 8.762, "E05012647": 7.755,
                "E05011400": 6.500, "E05011385": 5.901, "E05011399": 8.868}
    for code, km2 in expected.items():
        np.testing.assert_allclose(areas[code], km2, atol=0.002)
    # A point in Leeds city centre falls in Little London & Woodhouse, not a priority ward.
    centre = Point(430200, 434200)
    hit = wards[wards.contains(centre)]
    assert len(hit) == 1 and not bool(hit["priority"].iloc[0])


def test_priority_only_and_select():
    six = load_wards(priority_only=True)
    assert sorted(six["ward_code"]) == sorted(PRIORITY_WARDS)
    wards = load_wards()
    assert len(select_wards(wards, None)) == 6
    assert len(select_wards(wards, "all")) == 33
    picked = select_wards(wards, "E05011385, gipton & harehills")
    assert list(picked["ward_name"]) == ["Armley", "Gipton & Harehills"]
    with pytest.raises(InputError, match=r"ward 'Atlantis' is not in the boundary file; use a ward code"):
        select_wards(wards, "Atlantis")


@pytest.mark.parametrize(("spec", "suggestion"), [
    ("Gipton and Harehills", "'Gipton & Harehills'"),
    ("Armely", "'Armley'"),
    ("armley, Hunslet and Riverside", "'Hunslet & Riverside'"),
    ("Killingbeck Seacroft", "'Killingbeck & Seacroft'"),
])
def test_a_near_miss_suggests_the_ward(spec, suggestion):
    wards = load_wards()
    bad = spec.split(",")[-1].strip()
    with pytest.raises(InputError, match=rf"^ward '{bad}' is not in the boundary file; did you mean {suggestion}\?$"):
        select_wards(wards, spec)
