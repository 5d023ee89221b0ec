"""The routing commands of the `hotspots` CLI: network fetch|import|info and plan."""

from __future__ import annotations

import json
import socket
import time

import gpxpy
import pytest
from click.testing import CliRunner

from tests.routing.conftest import GRID_XML, grid_lonlat, ranking_frame
from webapp.cli import cli


@pytest.fixture
def run(home):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=False)

    return invoke


def _grid_teams_toml(home):
    home.mkdir(parents=True, exist_ok=True)
    a, b = grid_lonlat(0, 0), grid_lonlat(4, 4)
    (home / "hotspots.toml").write_text(
        f'patrol_teams = ["Grid A={a[0]} {a[1]}", "Grid B={b[0]} {b[1]}"]\n', encoding="utf-8")


# ------------------------------------------------------------------ network


def test_network_import_then_info(run, home):
    result = run("network", "import", str(GRID_XML), "--mode", "walk")
    assert result.exit_code == 0, result.output
    path = home / "networks" / "priority_walk.graphml"
    assert path.is_file()
    assert f"network cached in {path}" in result.output
    info = run("network", "info")
    assert info.exit_code == 0
    assert "mode:      walk" in info.output
    as_json = json.loads(run("network", "info", "--json").output)
    assert as_json[0]["mode"] == "walk"
    assert as_json[0]["file"] == str(path)


def test_network_info_of_a_file(run):
    result = run("network", "info", str(GRID_XML), "--mode", "drive")
    assert result.exit_code == 0
    assert "mode:      drive" in result.output
    assert "crs:       EPSG:27700" in result.output


def test_network_info_with_nothing_cached(run):
    result = run("network", "info")
    assert result.exit_code == 0
    assert "no network cached" in result.output
    assert "hotspots network import FILE" in result.output


def test_network_import_missing_file(run, tmp_path):
    result = run("network", "import", str(tmp_path / "none.osm"))
    assert result.exit_code == 2
    assert "network file not found" in result.output


def test_network_fetch_without_internet_fails_fast(run, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HOTSPOTS_NETWORK_OVERPASS_URL", f"http://127.0.0.1:{port}/api")
    monkeypatch.setenv("HOTSPOTS_NETWORK_CONNECT_TIMEOUT_S", "1")
    t0 = time.monotonic()
    result = run("network", "fetch")
    assert time.monotonic() - t0 < 10
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "cannot reach" in error[0] and "hotspots network import FILE" in error[0]


# ------------------------------------------------------------------ plan (ranking and store faked)


@pytest.fixture
def fake_ranking(monkeypatch):
    """Replace the store and the ranking with a hand-made ranking on the grid fixture."""
    import hotspots.ranking
    import hotspots.store

    calls = []

    def load(self, *, period=None, categories=None, **kwargs):
        calls.append(("load", period, tuple(categories)))
        return [1]  # anything non-empty: the fake ranking ignores it

    def rank(incidents, *, category, period, wards=None, resolution=10, weight="harm", top=None,
             settings=None):
        calls.append(("rank", category, period.label))
        pts = [grid_lonlat(r + 0.5, c + 0.5) for r, c in [(0, 1), (1, 2), (2, 0), (3, 3), (1, 0)]]
        harm = [50, 40, 30, 20, 10] if category == "asb" else [5, 200, 3, 2, 1]
        frame = ranking_frame(pts, harm=harm)
        frame.loc[frame.index[0], "reason"] = f"{category} <b>hot</b>"
        return frame

    monkeypatch.setattr(hotspots.store.IncidentStore, "load", load)
    monkeypatch.setattr(hotspots.ranking, "rank_hotspots", rank)
    return calls


def test_plan_writes_every_output(run, home, tmp_path, fake_ranking):
    _grid_teams_toml(home)
    out, gpx_dir, sheet = tmp_path / "plan.geojson", tmp_path / "gpx", tmp_path / "plan.html"
    result = run("plan", "--week", "2025-W23", "--category", "both", "--teams", "2",
                 "--shift", "60", "--dwell", "15", "--network", str(GRID_XML), "--out", str(out),
                 "--gpx", str(gpx_dir), "--sheet", str(sheet), "--time-limit", "0.5")
    assert result.exit_code == 0, result.output
    assert "Grid A" in result.output and "Grid B" in result.output
    assert "APPROXIMATE" not in result.output
    # The history the ranking needs is loaded: 8 weeks ending with W23.
    load = [c for c in fake_ranking if c[0] == "load"][0]
    assert load[1].label == "2025-04-14..2025-06-08"
    assert load[2] == ("asb", "serious_violence")
    assert {c[1] for c in fake_ranking if c[0] == "rank"} == {"asb", "serious_violence"}

    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and doc["approximate"] is False
    files = sorted(p.name for p in gpx_dir.iterdir())
    assert files == ["grid-a.gpx", "grid-b.gpx"]
    for f in gpx_dir.iterdir():
        assert len(gpxpy.parse(f.read_text()).routes) == 1
    page = sheet.read_text()
    assert "Patrol plan 2025-W23 (both)" in page
    assert "&lt;b&gt;hot&lt;/b&gt;" in page


def test_plan_without_a_network_is_approximate(run, home, fake_ranking):
    _grid_teams_toml(home)
    result = run("plan", "--month", "2025-06", "--category", "asb", "--shift", "60",
                 "--time-limit", "0.3", "--json")
    assert result.exit_code == 0, result.output
    start = result.output.index("{")
    data = json.loads(result.output[start:])
    assert data["approximate"] is True
    assert len(data["routes"]) == 2


def test_plan_uses_the_cached_network(run, home, fake_ranking):
    _grid_teams_toml(home)
    assert run("network", "import", str(GRID_XML)).exit_code == 0
    result = run("plan", "--week", "2025-W23", "--category", "asb", "--shift", "45",
                 "--time-limit", "0.3", "--variants", "2")
    assert result.exit_code == 0, result.output
    assert "using the cached drive network" in result.output
    assert "plan 1 of 2" in result.output and "plan 2 of 2" in result.output
    assert "APPROXIMATE" not in result.output


def test_foot_patrols_walk_the_drive_network_when_no_walk_network_is_cached(run, home,
                                                                           fake_ranking):
    _grid_teams_toml(home)
    assert run("network", "import", str(GRID_XML), "--mode", "drive").exit_code == 0
    result = run("plan", "--week", "2025-W23", "--category", "asb", "--mode", "walk",
                 "--shift", "45", "--time-limit", "0.3")
    assert result.exit_code == 0, result.output
    assert "walking the drive network" in result.output
    assert " walk " in result.output


@pytest.mark.parametrize(("args", "message"), [
    ([], "the store is empty: run `hotspots demo`"),
    (["--week", "2025-W23", "--month", "2025-06"], "not both"),
    (["--week", "2025-W23", "--dwell", "20"], "outside the 10 to 16 minutes"),
    (["--week", "2025-W23", "--teams", "9"], "9 teams asked for"),
    (["--week", "2025-W99"], "no ISO week 99"),
])
def test_plan_input_errors(run, args, message, fake_ranking):
    result = run("plan", *args)
    assert result.exit_code == 2
    assert message in result.output


# ------------------------------------------------------------------ plan end to end


def test_plan_end_to_end_on_demo_incidents(run, home, tmp_path, settings):
    from hotspots.demo import generate_demo
    from hotspots.store import IncidentStore

    incidents = generate_demo(seed=1, weeks=9, settings=settings)
    IncidentStore(home, settings=settings).add(incidents)
    out, sheet = tmp_path / "plan.geojson", tmp_path / "plan.html"
    result = run("plan", "--week", "2025-W30", "--category", "both", "--teams", "3",
                 "--per-ward", "5", "--time-limit", "1", "--out", str(out), "--sheet", str(sheet))
    assert result.exit_code == 0, result.output
    assert "APPROXIMATE" in result.output
    # With no period named, the latest complete week in the store is planned, and announced.
    latest = run("plan", "--category", "asb", "--teams", "1", "--per-ward", "2", "--time-limit", "0.5")
    assert latest.exit_code == 0, latest.output
    assert "period: 2025-W30 (the latest complete week in the store" in latest.output
    doc = json.loads(out.read_text())
    assert doc["approximate"] is True
    stops = [f for f in doc["features"] if f["properties"]["kind"] == "stop"]
    assert len(stops) >= 10
    assert {f["properties"]["ward_code"] for f in stops} <= set(settings.priority_wards)
    assert "APPROXIMATE" in sheet.read_text()
