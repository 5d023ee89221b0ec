"""Designated areas: polygons to cells, outlines, street labels; every input error named."""

from __future__ import annotations

import json

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from hotspots.areas import (
    MAX_AREA_CELLS,
    area_geojson,
    area_label,
    check_area_cells,
    polygon_to_cells,
    read_geometry,
    street_label,
)
from hotspots.errors import InputError
from hotspots.schema import make_incidents

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
CELL = h3.latlng_to_cell(53.7990, -1.5900, 10)


def square(lon: float, lat: float, half: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def test_polygon_to_cells_takes_the_cells_whose_centre_is_inside():
    poly = read_geometry(square(-1.59, 53.799, 0.003))
    cells = polygon_to_cells(poly, resolution=10)
    assert len(cells) > 3
    lat, lng = zip(*(h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells), strict=True)
    assert shapely.contains_xy(poly, np.array(lng), np.array(lat)).all()
    # A polygon smaller than a cell still gives the cell it lies in.
    tiny = read_geometry(square(-1.59, 53.799, 0.00005))
    assert [h3.int_to_str(int(c)) for c in polygon_to_cells(tiny, resolution=10)] == [
        h3.latlng_to_cell(53.799, -1.59, 10)]


def test_read_geometry_takes_features_and_collections():
    feature = {"type": "Feature", "properties": {}, "geometry": square(-1.59, 53.799, 0.001)}
    assert read_geometry(json.dumps(feature)).geom_type == "Polygon"
    coll = {"type": "FeatureCollection", "features": [feature, {**feature, "geometry": square(-1.58, 53.799, 0.001)}]}
    assert read_geometry(coll).geom_type == "MultiPolygon"


@pytest.mark.parametrize(("value", "words"), [
    ("{not json", "is not GeoJSON"),
    ({"type": "Point", "coordinates": [-1.5, 53.8]}, "is a Point; expected a Polygon"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    (square(430000, 433000, 100), "outside longitude/latitude"),
    (square(53.799, -1.59, 0.001), "latitude, longitude"),
    ({"type": "Polygon", "coordinates": [[[-1.5, 53.8], [-1.4, 53.9], [-1.4, 53.8], [-1.5, 53.9], [-1.5, 53.8]]]},
     "not a valid polygon"),
    ({"type": "Polygon", "coordinates": "x"}, "cannot be read"),
])
def test_bad_geometry_is_named(value, words):
    with pytest.raises(InputError, match=words):
        read_geometry(value, name="polygon")


def test_check_area_cells():
    ring = sorted(h3.grid_disk(CELL, 1))
    assert check_area_cells(", ".join(ring + [ring[0]])) == sorted(ring)
    with pytest.raises(InputError, match="`cells`: 'zz' is not an H3 cell"):
        check_area_cells(["zz"])
    with pytest.raises(InputError, match="mixes H3 resolutions"):
        check_area_cells([CELL, h3.cell_to_parent(CELL, 9)])
    with pytest.raises(InputError, match="at least one"):
        check_area_cells("  ")
    with pytest.raises(InputError, match=f"at most {MAX_AREA_CELLS}"):
        check_area_cells(sorted(h3.grid_disk(CELL, 6)))


def test_outline_is_lonlat():
    geom = area_geojson(sorted(h3.grid_disk(CELL, 1)))
    assert geom["type"] == "Polygon"
    lon, lat = geom["coordinates"][0][0]
    assert -2 < lon < -1 and 53 < lat < 54


def test_area_label_prefers_the_commonest_street(settings):
    lat, lng = h3.cell_to_latlng(CELL)
    x, y = TO_BNG.transform(lng, lat)
    far = TO_BNG.transform(-1.50, 53.80)
    locs = ["On or near Police Station"] * 5 + ["On or near Town Street"] * 3 + ["On or near Lane End"] * 2
    xs = [x] * 10 + [far[0]] * 4
    ys = [y] * 10 + [far[1]] * 4
    locs += ["On or near Elsewhere Road"] * 4
    frame = make_incidents(incident_id=[str(i) for i in range(14)],
                           occurred_at=pd.Series(pd.to_datetime(["2025-06-01"] * 14)),
                           time_precision="month", crime_type=["Anti-social behaviour"] * 14,
                           x=xs, y=ys, source="police.uk", settings=settings)
    frame["location"] = locs
    # The police station is the commonest label, but a street is where patrols go.
    assert area_label(frame, [CELL]) == "Town Street"
    assert area_label(frame.drop(columns="location"), [CELL]) == ""
    assert street_label("On or near Roundhay Road") == "Roundhay Road"
