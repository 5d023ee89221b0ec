"""Street networks: loading OSM XML and GraphML, mode filters, travel times, caching, downloads."""

from __future__ import annotations

import socket
import threading
import time

import networkx as nx
import numpy as np
import osmnx as ox
import pytest

from hotspots import InputError
from hotspots.settings import get_settings
from routing import (
    check_network,
    download_network,
    import_network,
    load_network,
    network_info,
    network_path,
    prepare_network,
)
from routing.network import parse_maxspeed_kmh
from tests.routing.conftest import GRID_XML

MPH = 1.609344


def _names(graph):
    out = set()
    for _, _, d in graph.edges(data=True):
        name = d.get("name")
        out.update(name if isinstance(name, list) else [name])
    return out


def _highways(graph):
    out = set()
    for _, _, d in graph.edges(data=True):
        hw = d.get("highway")
        out.update(hw if isinstance(hw, list) else [hw])
    return out


# ------------------------------------------------------------------ input checks


def test_unknown_mode(settings):
    with pytest.raises(InputError, match="`mode` is 'bike'; expected one of drive, walk"):
        load_network(GRID_XML, mode="bike", settings=settings)


def test_missing_file(tmp_path, settings):
    with pytest.raises(InputError, match="network file not found"):
        load_network(tmp_path / "nope.osm", settings=settings)


def test_unknown_file_type(tmp_path, settings):
    path = tmp_path / "streets.csv"
    path.write_text("a,b\n")
    with pytest.raises(InputError, match="unknown network file type"):
        load_network(path, settings=settings)


def test_pbf_gets_a_conversion_hint(tmp_path, settings):
    path = tmp_path / "leeds.osm.pbf"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(InputError, match="osmium cat"):
        load_network(path, settings=settings)


def test_broken_xml(tmp_path, settings):
    path = tmp_path / "broken.osm.xml"
    path.write_text("<osm><node id='1' lat='53.8'")
    with pytest.raises(InputError, match="cannot read OSM XML"):
        load_network(path, settings=settings)


def test_wrong_crs_is_refused_with_both_crs_named():
    raw = ox.graph_from_xml(GRID_XML, simplify=False)
    with pytest.raises(InputError, match=r"epsg:4326.*EPSG:27700.*project_graph"):
        check_network(raw)


def test_network_without_travel_times_is_refused():
    raw = ox.project_graph(ox.graph_from_xml(GRID_XML, simplify=False), to_crs="EPSG:27700")
    with pytest.raises(InputError, match="no `travel_time`"):
        check_network(raw)


def test_not_a_graph():
    with pytest.raises(InputError, match="must be a networkx graph"):
        check_network("streets.graphml")


def test_graph_without_crs(settings):
    g = nx.MultiDiGraph()
    g.add_edge(1, 2, highway="residential", length=10.0)
    with pytest.raises(InputError, match="no `crs`"):
        prepare_network(g, settings=settings)


def test_drive_graphml_loaded_as_walk_is_refused(grid_drive, tmp_path, settings):
    path = tmp_path / "grid_drive.graphml"
    ox.save_graphml(grid_drive, path)
    with pytest.raises(InputError, match="is a 'drive' network but mode 'walk'"):
        load_network(path, mode="walk", settings=settings)


# ------------------------------------------------------------------ output contract


def test_drive_network_contract(grid_drive):
    g = grid_drive
    assert g.graph["crs"] == "EPSG:27700"
    assert g.graph["mode"] == "drive"
    assert nx.is_strongly_connected(g)
    for _, _, d in g.edges(data=True):
        assert d["length"] > 0
        assert d["travel_time"] > 0
        np.testing.assert_allclose(d["travel_time"], d["length"] / (d["speed_kph"] / 3.6), rtol=1e-3)
    # Projected metres: the grid's nodes lie in south Leeds on the British National Grid.
    xs = [d["x"] for _, d in g.nodes(data=True)]
    ys = [d["y"] for _, d in g.nodes(data=True)]
    assert 420_000 < min(xs) < max(xs) < 440_000
    assert 425_000 < min(ys) < max(ys) < 440_000


def test_drive_keeps_only_drivable_ways(grid_drive):
    names = _names(grid_drive)
    assert {"Low Road", "One Way Street", "Test Motorway"} <= names
    for gone in ("Park Path", "Test Railway", "Car Park", "Private Drive", "Island Road", "Dead End"):
        assert gone not in names, gone
    assert "footway" not in _highways(grid_drive)


def test_walk_keeps_footways_and_drops_motorways(grid_walk):
    names = _names(grid_walk)
    assert {"Park Path", "Car Park", "Dead End"} <= names
    for gone in ("Test Motorway", "Test Railway", "Private Drive", "Island Road"):
        assert gone not in names, gone
    assert nx.is_strongly_connected(grid_walk)
    speeds = {d["speed_kph"] for _, _, d in grid_walk.edges(data=True)}
    assert speeds == {4.8}


def test_one_way_street_runs_one_way_when_driving(grid_drive, grid_walk):
    def directions(g):
        found = set()
        for u, v, d in g.edges(data=True):
            name = d.get("name")
            if name == "One Way Street":
                found.add(np.sign(g.nodes[v]["x"] - g.nodes[u]["x"]))
        return found

    assert directions(grid_drive) == {1.0}  # west to east only
    assert directions(grid_walk) == {1.0, -1.0}


def test_drive_speeds_use_maxspeed_then_uk_defaults(grid_drive, settings):
    factor = settings.patrol_speed_factor
    by_name = {}
    for _, _, d in grid_drive.edges(data=True):
        if isinstance(d.get("name"), str):
            by_name[d["name"]] = d["speed_kph"]
    np.testing.assert_allclose(by_name["Low Road"], 30 * MPH * factor, atol=0.01)  # maxspeed 30 mph
    np.testing.assert_allclose(by_name["Quiet Lane"], 20 * MPH * factor, atol=0.01)  # 20 mph
    np.testing.assert_allclose(by_name["Test Motorway"], 70 * MPH * factor, atol=0.01)
    # No maxspeed: the road_speeds_mph setting for its type (residential 30 mph).
    np.testing.assert_allclose(by_name["Second Street"], 30 * MPH * factor, atol=0.01)


def test_patrol_speed_factor_setting_changes_travel_times(tmp_path):
    slow = get_settings(tmp_path, patrol_speed_factor=0.5)
    g = load_network(GRID_XML, mode="drive", settings=slow)
    speeds = {d["name"]: d["speed_kph"] for _, _, d in g.edges(data=True)
              if isinstance(d.get("name"), str)}
    np.testing.assert_allclose(speeds["Low Road"], 30 * MPH * 0.5, atol=0.01)


@pytest.mark.parametrize(("tag", "kmh"), [
    ("30 mph", 30 * MPH), ("48", 48.0), ("50 km/h", 50.0), ("national", 60 * MPH),
    ("GB:nsl_dual", 70 * MPH), ("GB:zone20", 20 * MPH), (["20 mph", "30 mph"], 25 * MPH),
    ("20 mph;30 mph", 25 * MPH), ("['20 mph', '40 mph']", 30 * MPH), (None, None), ("signals", None),
])
def test_parse_maxspeed(tag, kmh):
    got = parse_maxspeed_kmh(tag)
    if kmh is None:
        assert got is None
    else:
        np.testing.assert_allclose(got, kmh, rtol=1e-6)


def test_import_caches_graphml_and_reloads_it(settings):
    graph, path = import_network(GRID_XML, mode="walk", area="test grid", settings=settings)
    assert path == settings.home / "networks" / "test-grid_walk.graphml"
    assert path.is_file()
    again = load_network(path, mode="walk", settings=settings)
    assert set(again.nodes) == set(graph.nodes)
    assert again.number_of_edges() == graph.number_of_edges()
    assert again.graph["mode"] == "walk"
    total = sum(d["travel_time"] for _, _, d in graph.edges(data=True))
    np.testing.assert_allclose(sum(d["travel_time"] for _, _, d in again.edges(data=True)), total)


def test_network_info(grid_drive):
    info = network_info(grid_drive)
    assert info["mode"] == "drive"
    assert info["nodes"] == len(grid_drive)
    assert info["crs"] == "EPSG:27700"
    west, south, east, north = info["bounds_lonlat"]
    assert -1.57 < west < east < -1.54
    assert 53.79 < south < north < 53.80
    assert 1.0 < info["street_km"] < 10.0


def test_city_centre_extract(city_drive):
    assert len(city_drive) > 500
    assert nx.is_strongly_connected(city_drive)
    info = network_info(city_drive)
    assert 40 < info["street_km"] < 150
    assert "footway" not in _highways(city_drive)


# ------------------------------------------------------------------ downloads (never the internet)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_fails_fast_when_nothing_listens(tmp_path):
    port = _free_port()
    s = get_settings(tmp_path, network_overpass_url=f"http://127.0.0.1:{port}/api",
                     network_connect_timeout_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(InputError, match=r"cannot reach.*hotspots network import FILE"):
        download_network(mode="drive", settings=s)
    assert time.monotonic() - t0 < 5


def test_download_fails_fast_when_the_server_never_answers(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)  # accept and say nothing
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        s = get_settings(tmp_path, network_overpass_url=f"http://127.0.0.1:{port}/api",
                         network_connect_timeout_s=0.5)
        t0 = time.monotonic()
        with pytest.raises(InputError, match=r"within 0.5 s.*hotspots network import FILE --mode walk"):
            download_network(mode="walk", settings=s)
        assert time.monotonic() - t0 < 5
    finally:
        stop.set()
        thread.join(2)
        for c in held:
            c.close()
        server.close()


def test_download_uses_the_cache_without_a_request(tmp_path, grid_drive):
    port = _free_port()  # nothing listens: a request would fail
    s = get_settings(tmp_path, network_overpass_url=f"http://127.0.0.1:{port}/api")
    path = network_path("priority", "drive", settings=s)
    path.parent.mkdir(parents=True)
    ox.save_graphml(grid_drive, path)
    g = download_network(mode="drive", settings=s)
    assert len(g) == len(grid_drive)


def test_download_refuses_a_non_http_endpoint(tmp_path):
    s = get_settings(tmp_path, network_overpass_url="ftp://127.0.0.1/api")
    with pytest.raises(InputError, match="not an http"):
        download_network(mode="drive", settings=s)
