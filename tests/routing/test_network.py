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
    done = import_network(GRID_XML, mode="walk", area="test grid", settings=settings)
    graph, path = done.graph, done.path
    assert path == settings.home / "networks" / "test-grid_walk.graphml"
    assert path.is_file()
    # Its street area is kept beside it, for choosing networks by coverage without loading them.
    assert path.with_name("test-grid_walk.area.wkb").is_file()
    assert done.kept is None and not done.replaced
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


# ------------------------------------------------------------------ coverage of the wards


@pytest.fixture(scope="module")
def city_graphml(city_drive, tmp_path_factory):
    """The city-centre extract's drive network as GraphML (quicker to import than the XML)."""
    from routing.network import save_network

    return save_network(city_drive, tmp_path_factory.mktemp("city") / "leeds_city_centre.graphml")


def test_coverage_of_the_priority_wards_by_the_city_centre_extract(city_drive, settings):
    from hotspots.wards import load_wards
    from routing.network import LOW_COVERAGE, coverage_sentence, network_coverage, street_area

    wards = load_wards(settings=settings)
    priority = wards[wards["priority"]]
    got = network_coverage(city_drive, priority)
    # Its streets touch Armley's east end; the other wards lie beyond them.
    assert 0 < got["share"] < 0.01
    assert got["by_ward"]["E05011400"] == 0.0  # Killingbeck & Seacroft, far east
    assert 0.01 < got["by_ward"]["E05011385"] < 0.05  # Armley
    # The wards' shares add up to the whole (weighted by area).
    areas = priority.to_crs("EPSG:27700").set_index("ward_code").area
    np.testing.assert_allclose(sum(got["by_ward"][c] * a for c, a in areas.items()) / areas.sum(),
                               got["share"], rtol=1e-9)
    # Most of a ward the extract holds (Little London & Woodhouse) is covered.
    inner = network_coverage(street_area(city_drive), wards[wards["ward_code"] == "E05011403"])
    assert 0.5 < inner["share"] < LOW_COVERAGE
    text = coverage_sentence(got)
    assert f"covers {got['share']:.0%} of the wards' area" in text and "WARNING" in text
    assert "WARNING" not in coverage_sentence({**got, "share": 0.95})


def test_import_reports_coverage_and_never_replaces_a_network_that_covers_more(
        city_graphml, settings):
    from hotspots.wards import load_wards, select_wards
    from routing.network import cached_networks, import_network

    # Two wards north of the centre: the extract covers much of them, the grid a corner.
    wards = select_wards(load_wards(settings=settings), "E05011403,E05011397")
    first = import_network(city_graphml, mode="drive", area="north", wards=wards,
                           settings=settings)
    assert first.path.name == "north_drive.graphml" and not first.replaced
    assert 0.4 < first.coverage["share"] < 0.8 and "WARNING" in first.sentences()[0]
    grid = import_network(GRID_XML, mode="drive", area="north", wards=wards, settings=settings)
    # The grid covers less: the cached network stays, the grid is kept beside it.
    assert grid.kept == first.path and grid.path.name == "grid_drive.graphml"
    assert grid.coverage["share"] < grid.kept_coverage["share"]
    assert "kept the cached network north_drive.graphml" in grid.sentences()[1]
    assert sorted(p.name for p in cached_networks(settings)) == ["grid_drive.graphml",
                                                                 "north_drive.graphml"]
    assert load_network(first.path, settings=settings).number_of_nodes() == len(first.graph)
    # Only when asked.
    forced = import_network(GRID_XML, mode="drive", area="north", wards=wards, replace=True,
                            settings=settings)
    assert forced.path == first.path and forced.replaced
    assert load_network(first.path, settings=settings).number_of_nodes() == len(grid.graph)


def test_plans_choose_the_network_that_covers_their_wards_best(city_graphml, settings):
    from routing.network import choose_network, import_network, network_list, remove_network

    import_network(GRID_XML, mode="drive", area="grid", settings=settings)
    import_network(city_graphml, mode="drive", area="city", settings=settings)
    # Of the north-of-centre wards the extract covers most; of the priority wards the grid.
    north = ["E05011403", "E05011397"]
    assert choose_network("drive", settings=settings).path.name == "grid_drive.graphml"
    chosen = choose_network("drive", wards=north, settings=settings)
    assert chosen.path.name == "city_drive.graphml"
    assert "covers" in chosen.note and "poorly" in chosen.note
    # A foot patrol walks the drive network when no walk network is cached.
    walking = choose_network("walk", wards=north, settings=settings)
    assert walking.load_as == "drive" and "walking the drive network" in walking.note
    listed = {r["name"]: r for r in network_list(wards=north, settings=settings)}
    assert set(listed) == {"grid", "city"}
    assert listed["city"]["coverage"]["share"] > listed["grid"]["coverage"]["share"]
    assert [p.name for p in remove_network("city", settings=settings)] == ["city_drive.graphml"]
    assert choose_network("drive", wards=north, settings=settings).path.name == "grid_drive.graphml"
    with pytest.raises(InputError, match="no cached network 'city'; cached: grid_drive"):
        remove_network("city", settings=settings)
