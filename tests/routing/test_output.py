"""The plan's forms: dict, GeoJSON (RFC 7946), GPX 1.1 read back with gpxpy, the printable sheet."""

from __future__ import annotations

import datetime as dt
import json

import gpxpy
import numpy as np
import pytest

from routing import Team, plan_patrols, stops_from_ranking
from routing.output import APPROXIMATE_NOTE, clock
from tests.routing.conftest import grid_lonlat, ranking_frame

BASE = grid_lonlat(0, 0)


@pytest.fixture(scope="module")
def plans(grid_drive, session_settings):
    pts = [grid_lonlat(r + 0.5, c + 0.5) for r, c in [(0, 0), (1, 2), (2, 1), (3, 3), (2, 3)]]
    frame = ranking_frame(pts, harm=[50, 40, 30, 20, 10])
    frame.loc[frame.index[0], "reason"] = "<script>alert('x')</script> & more"
    frame.loc[frame.index[0], "ward_name"] = "Beeston & Holbeck"
    stops = stops_from_ranking(frame, top=5, settings=session_settings)
    teams = [Team("Team <A>", BASE, dt.datetime(2025, 6, 2, 16, 0), 60),
             Team("Team B", grid_lonlat(4, 4), "18:00", 40)]
    street = plan_patrols(stops, teams, network=grid_drive, time_limit_s=0.5,
                          settings=session_settings)
    approx = plan_patrols(stops, teams, time_limit_s=0.5, settings=session_settings)
    return street, approx


def test_clock():
    assert clock(16 * 60 + 5.4) == "16:05"
    assert clock(24 * 60 + 30) == "00:30 +1"


def test_to_dict_is_json(plans):
    street, approx = plans
    data = json.loads(json.dumps(street.to_dict()))
    assert data["approximate"] is False
    assert data["note"] == ""
    assert [r["team"]["name"] for r in data["routes"]] == ["Team <A>", "Team B"]
    first = data["routes"][0]
    assert first["start"] == "16:00"
    assert first["visits"][0]["seq"] == 1
    assert first["visits"][0]["arrival_at"].startswith("2025-06-02T16:")
    assert "arrival_at" not in data["routes"][1]["visits"][0] if data["routes"][1]["visits"] else True
    np.testing.assert_allclose(data["prize"], street.prize, rtol=1e-6)
    a = approx.to_dict()
    assert a["approximate"] is True
    assert a["note"] == APPROXIMATE_NOTE
    assert all(r["approximate"] for r in a["routes"])


def test_geojson_is_rfc7946_lonlat(plans):
    street, _ = plans
    doc = json.loads(street.to_geojson())
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946: WGS84 longitude/latitude, no crs member
    routes = [f for f in doc["features"] if f["properties"]["kind"] == "route"]
    points = [f for f in doc["features"] if f["properties"]["kind"] == "stop"]
    assert len(routes) == 2
    assert len(points) == street.visits
    for f in routes:
        assert f["geometry"]["type"] == "LineString"
        coords = np.array(f["geometry"]["coordinates"])
        assert ((coords[:, 0] > -1.57) & (coords[:, 0] < -1.54)).all()  # longitude first
        assert ((coords[:, 1] > 53.79) & (coords[:, 1] < 53.80)).all()
        np.testing.assert_allclose(coords[0], coords[-1])  # back at base
        assert f["properties"]["approximate"] is False
    for f in points:
        assert f["geometry"]["type"] == "Point"
        assert {"seq", "arrival", "departure", "dwell_min", "ward_name", "reason"} <= set(f["properties"])


def test_geojson_of_an_approximate_plan_says_so(plans):
    _, approx = plans
    doc = json.loads(approx.to_geojson())
    assert doc["approximate"] is True
    assert doc["note"] == APPROXIMATE_NOTE
    assert all(f["properties"]["approximate"] for f in doc["features"])


def test_gpx_reads_back_with_gpxpy(plans):
    street, _ = plans
    text = street.to_gpx()
    assert 'version="1.1"' in text
    assert "http://www.topografix.com/GPX/1/1" in text
    gpx = gpxpy.parse(text)
    assert len(gpx.routes) == 2
    assert len(gpx.waypoints) == street.visits
    for rte, r in zip(gpx.routes, street.routes, strict=True):
        assert rte.name == r.team.name
        first, last = rte.points[0], rte.points[-1]
        assert (first.latitude, first.longitude) == pytest.approx((last.latitude, last.longitude))
        assert 53.79 < first.latitude < 53.80 and -1.57 < first.longitude < -1.54
    names = [w.name for w in gpx.waypoints]
    assert names[0].startswith("Team <A>: 01")


def test_gpx_for_one_team(plans):
    street, _ = plans
    gpx = gpxpy.parse(street.to_gpx(team="Team B"))
    assert [r.name for r in gpx.routes] == ["Team B"]
    route_b = street.route("Team B")
    assert [w.name.split()[0] for w in gpx.waypoints] == [f"{v.seq:02d}" for v in route_b.visits]
    with pytest.raises(KeyError, match="no team 'C'"):
        street.to_gpx(team="C")


def test_gpx_of_an_approximate_plan_says_so(plans):
    _, approx = plans
    gpx = gpxpy.parse(approx.to_gpx())
    assert "APPROXIMATE" in gpx.name
    assert all("APPROXIMATE" in r.description for r in gpx.routes)


def test_sheet_is_escaped_and_complete(plans):
    street, approx = plans
    page = street.to_sheet_html(title="Plan <W23>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Team &lt;A&gt;" in page
    assert "Plan &lt;W23&gt;" in page
    assert "Beeston &amp; Holbeck" in page or street.route("Team <A>").visits == []
    for r in street.routes:
        for v in r.visits:
            assert clock(v.arrival_min) in page
    assert "2025-06-02" in page
    assert "APPROXIMATE" not in page
    assert "APPROXIMATE" in approx.to_sheet_html()
