"""The routing commands of the `hotspots` CLI: network fetch|import|info and plan."""

from __future__ import annotations

import csv
import json
import re
import socket
import time

import gpxpy
import pytest
from click.testing import CliRunner

from tests.routing.conftest import GRID_XML, grid_lonlat
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


def test_network_import_reports_coverage_then_list_and_remove(run, home):
    result = run("network", "import", str(GRID_XML), "--mode", "drive")
    assert result.exit_code == 0, result.output
    # The grid is a few blocks of central Leeds: it covers little of the six priority wards.
    assert re.search(r"this drive network covers [01]% of the wards' area \(within 250 m of its "
                     r"streets\); WARNING: that is little: in 6 of 6 wards less than 80%",
                     result.output)
    listed = run("network", "list")
    assert listed.exit_code == 0
    row = [line for line in listed.output.splitlines() if line.startswith("priority")]
    assert len(row) == 1 and " drive " in row[0] and "(little)" in row[0]
    as_json = json.loads(run("network", "list", "--json").output)
    assert as_json[0]["name"] == "priority" and as_json[0]["mode"] == "drive"
    assert 0 < as_json[0]["coverage"]["share"] < 0.01
    # Measured on the grid's own wards it covers a good part of one of them.
    own = json.loads(run("network", "list", "--wards", GRID_WARD, "--json").output)
    assert own[0]["coverage"]["share"] > as_json[0]["coverage"]["share"]
    removed = run("network", "remove", "priority", "--mode", "drive")
    assert removed.exit_code == 0 and "priority_drive.graphml" in removed.output
    assert not (home / "networks" / "priority_drive.graphml").exists()
    assert not (home / "networks" / "priority_drive.area.wkb").exists()
    assert "no network cached" in run("network", "list").output
    missing = run("network", "remove", "priority")
    assert missing.exit_code == 2 and "no cached network 'priority'" in missing.output


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


# ------------------------------------------------------------------ plan (a real store on the grid)

#: The two wards the grid fixture lies in: Hunslet & Riverside, Little London & Woodhouse.
GRID_WARDS = ("E05011399", "E05011403")
GRID_WARD = ",".join(GRID_WARDS)


def _write_policeuk(path, months=("2025-05", "2025-06")):
    """A police.uk street-level file with incidents clustered at five spots of the grid fixture:
    ASB heaviest at the first spots, violence at the second (so `both` merges two rankings)."""
    import csv

    # Five spots in five different H3 cells.
    spots = [grid_lonlat(r + 0.5, c + 0.5) for r, c in [(0, 0), (1, 2), (2, 1), (3, 3), (1, 0)]]
    asb = [9, 7, 5, 3, 2]
    violence = [1, 8, 2, 1, 1]
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
              "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
              "Context"]
    rows = []
    for month in months:
        for k, (lon, lat) in enumerate(spots):
            for kind, n in (("Anti-social behaviour", asb[k]),
                            ("Violence and sexual offences", violence[k])):
                for j in range(n):
                    crime_id = "" if kind.startswith("Anti") else f"{month}-{k}-{j}".ljust(64, "0")
                    rows.append([crime_id, month, "West Yorkshire Police",
                                 "West Yorkshire Police", f"{lon + j * 1e-5:.6f}", f"{lat:.6f}",
                                 f"On or near Grid Street {k}", "", "", kind, "", ""])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def grid_store(run, home, tmp_path):
    """The store of `home` holds the police.uk file above, ingested by the CLI; two teams on the
    grid's corners."""
    _grid_teams_toml(home)
    ingested = run("ingest", str(_write_policeuk(tmp_path / "grid-street.csv")))
    assert ingested.exit_code == 0, ingested.output
    return home


def test_plan_writes_every_output(run, grid_store, tmp_path):
    out, gpx_dir, sheet = tmp_path / "plan.geojson", tmp_path / "gpx", tmp_path / "plan.html"
    table = tmp_path / "plan.csv"
    result = run("plan", "--month", "2025-06", "--category", "both", "--wards", GRID_WARD,
                 "--teams", "2", "--shift", "60", "--dwell", "15", "--network", str(GRID_XML),
                 "--out", str(out), "--gpx", str(gpx_dir), "--sheet", str(sheet),
                 "--csv", str(table), "--time-limit", "5")
    assert result.exit_code == 0, result.output
    assert "Grid A" in result.output and "Grid B" in result.output
    assert "APPROXIMATE" not in result.output
    # Both rankings were made from the store and merged: five cells, four places (the spots
    # at (0, 0) and (1, 0) are in touching cells: the lesser joins the better one's stop).
    assert "4 candidate stops from the asb ranking of 2025-06" in result.output
    assert "4 candidate stops from the serious_violence ranking of 2025-06" in result.output
    assert "1 cell joined the stop of a better cell within 1 H3 step" in result.output
    assert f"using the drive network {GRID_XML}" in result.output

    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and doc["approximate"] is False
    # Each file carries its context: what the plan was made from, when, from which data.
    context = doc["context"]
    assert (context["kind"], context["period"], context["category"]) == ("plan", "2025-06", "both")
    assert context["synthetic"] is False and doc["synthetic"] is False
    assert context["sources"][0]["source"] == "police.uk" and context["wards"] == GRID_WARD.split(",")
    assert [t["name"] for t in context["teams"]] == ["Grid A", "Grid B"]
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 4 and {r["period"] for r in rows} == {"2025-06"}
    assert sorted(len(r["cells"].split()) for r in rows) == [1, 1, 1, 2]
    assert all(r["street"].startswith("Grid Street") for r in rows)
    stops = [f for f in doc["features"] if f["properties"]["kind"] == "stop"]
    # Two hour-long shifts hold at most six 15-minute stops; all four fit.
    assert len(stops) == 4
    assert {f["properties"]["category"] for f in stops} >= {"asb+serious_violence"}
    assert {f["properties"]["ward_code"] for f in stops} <= set(GRID_WARDS)
    files = sorted(p.name for p in gpx_dir.iterdir())
    assert files == ["grid-a.gpx", "grid-b.gpx"]
    waypoints = 0
    for f in gpx_dir.iterdir():
        parsed = gpxpy.parse(f.read_text())
        assert len(parsed.routes) == 1 and len(parsed.routes[0].points) >= 2
        assert parsed.description.startswith("2025-06, both")
        waypoints += len(parsed.waypoints)
    assert waypoints == 4
    page = sheet.read_text()
    assert "Patrol plan 2025-06 (both)" in page
    assert page.count("<tr><td>") == 4


def test_plan_without_a_network_is_approximate(run, grid_store):
    result = run("plan", "--month", "2025-06", "--category", "asb", "--wards", GRID_WARD,
                 "--shift", "60", "--time-limit", "5", "--json")
    assert result.exit_code == 0, result.output
    assert "no street network: the plan is APPROXIMATE" in result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["approximate"] is True
    assert len(data["routes"]) == 2
    assert data["stops_visited"] == 4  # five cells, two of them touching: four places
    assert data["deployment"]["wards"] == list(GRID_WARDS)


def test_network_none_gives_a_straight_line_plan_even_with_a_cached_network(run, grid_store):
    assert run("network", "import", str(GRID_XML)).exit_code == 0
    result = run("plan", "--month", "2025-06", "--category", "asb", "--wards", GRID_WARD,
                 "--shift", "60", "--time-limit", "5", "--network", "none", "--json")
    assert result.exit_code == 0, result.output
    assert "no street network asked for" in result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["approximate"] is True and data["stops_visited"] == 4


def test_plan_uses_the_cached_network(run, grid_store):
    assert run("network", "import", str(GRID_XML)).exit_code == 0
    result = run("plan", "--month", "2025-06", "--category", "asb", "--wards", GRID_WARD,
                 "--shift", "45", "--time-limit", "5", "--variants", "2")
    assert result.exit_code == 0, result.output
    assert "using the cached drive network" in result.output
    assert "plan 1 of 2" in result.output and "plan 2 of 2" in result.output
    assert "APPROXIMATE" not in result.output


def test_foot_patrols_walk_the_drive_network_when_no_walk_network_is_cached(run, grid_store):
    assert run("network", "import", str(GRID_XML), "--mode", "drive").exit_code == 0
    result = run("plan", "--month", "2025-06", "--category", "asb", "--wards", GRID_WARD,
                 "--mode", "walk", "--shift", "45", "--time-limit", "5")
    assert result.exit_code == 0, result.output
    assert "walking the drive network" in result.output
    assert " walk " in result.output


def test_plan_of_a_month_without_incidents(run, grid_store):
    result = run("plan", "--month", "2024-01", "--category", "asb", "--wards", GRID_WARD)
    assert result.exit_code == 2
    assert "nothing to patrol" in result.output


@pytest.mark.parametrize(("args", "message"), [
    ([], "the store is empty: run `hotspots demo`"),
    (["--week", "2025-W23", "--month", "2025-06"], "not both"),
    (["--week", "2025-W23", "--dwell", "20"], "outside the 10 to 16 minutes"),
    (["--week", "2025-W23", "--teams", "9"], "`teams` is 9; there are 6 active teams"),
    (["--week", "2025-W23", "--team", "Nowhere"], "team 'Nowhere' does not exist"),
    (["--week", "2025-W23", "--team", "Armley", "--teams", "1"], "not both"),
    (["--week", "2025-W23", "--date", "2025-13-01"], "`date` is '2025-13-01'; expected a date"),
    (["--week", "2025-W99"], "no ISO week 99"),
])
def test_plan_input_errors(run, home, tmp_path, args, message):
    if args:  # every error but the first needs a store that holds something
        assert run("ingest", str(_write_policeuk(tmp_path / "grid-street.csv"))).exit_code == 0
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
    # Demo data: the file's name says so (plan-demo.geojson), and the command says where it went.
    written = tmp_path / "plan-demo.geojson"
    assert not out.exists() and f"wrote {written}" in result.output
    doc = json.loads(written.read_text())
    assert doc["approximate"] is True and doc["context"]["synthetic"] is True
    stops = [f for f in doc["features"] if f["properties"]["kind"] == "stop"]
    assert len(stops) >= 10
    assert {f["properties"]["ward_code"] for f in stops} <= set(settings.priority_wards)
    assert "APPROXIMATE" in sheet.read_text()
