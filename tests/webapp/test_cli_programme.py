"""`hotspots register|teams|dosage|impact`: the programme from the console, on the same database as
the web app; errors are one line and exit code 2, and nothing is stored."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from tests.webapp.conftest import HOTSPOT_START, busiest_cells, make_app
from webapp.cli import cli


@pytest.fixture
def instance(home, demo_store):
    """An instance folder holding the demo store (and, once a command ran, the database)."""
    shutil.copytree(demo_store, home / "store")
    return home


def run(home, *args):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result


@pytest.fixture
def cells(instance):
    return busiest_cells(make_app(instance), n=3)


def _audit(home, action):
    from webapp.db import AuditEntry, db_session

    with make_app(home).app_context():
        return [(e.username, e.detail) for e in db_session().query(AuditEntry).filter_by(action=action)]


def test_add_list_show_change_close_export(instance, cells):
    added = run(instance, "register", "add", "--cells", ",".join(cells[:2]), "--category", "asb",
                "--team", "Armley", "--start", HOTSPOT_START.isoformat(), "--reason", "tasking",
                "--user", "sam")
    assert added.exit_code == 0, added.output
    assert added.output.startswith("designated hotspot 1: ")
    assert "2 cell(s), active" in added.output
    [(who, detail)] = _audit(instance, "hotspot_designated")
    assert who == "(console) sam" and detail["reason"] == "tasking"

    listing = run(instance, "register", "list")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split()[:4] == ["id", "name", "category", "status"]
    assert lines[1].split()[0] == "1" and "Armley" in lines[1]

    shown = run(instance, "register", "show", "1")
    assert "impact:" in shown.output and "dosage:" in shown.output and "history:" in shown.output
    assert '"tasking"' in shown.output
    as_json = json.loads(run(instance, "register", "show", "1", "--json").output)
    assert as_json["team"] == "Armley" and as_json["impact"]["reading"]

    changed = run(instance, "register", "change", "1", "--review", "2025-09-30", "--reason", "later")
    assert changed.exit_code == 0 and "review_date" in changed.output
    closed = run(instance, "register", "close", "1", "--reason", "finished", "--on", "2025-07-20")
    assert closed.exit_code == 0 and "on 2025-07-20" in closed.output
    assert run(instance, "register", "list").output.startswith("no designated hotspots")
    assert "closed" in run(instance, "register", "list", "--status", "all").output

    csv_text = run(instance, "register", "export").output
    assert csv_text.splitlines()[0].startswith("id,name,category,status,team")
    out = instance / "register.geojson"
    assert run(instance, "register", "export", "--format", "geojson", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["features"][0]["properties"]["status"] == "closed"


@pytest.mark.parametrize(("args", "words"), [
    (["register", "add", "--category", "asb"], "give the area"),
    (["register", "add", "--cells", "zz", "--category", "asb"], "`cells`: 'zz' is not an H3 cell"),
    (["register", "add", "--cells", "8a194254508ffff", "--category", "asb", "--start", "June"],
     "--start 'June' is not a date"),
    (["register", "add", "--cells", "8a194254508ffff", "--category", "asb", "--team", "Nobody"],
     "there is no team 'Nobody'"),
    (["register", "add", "--geojson", "/no/such/file.geojson", "--category", "asb"], "cannot be read"),
    (["register", "show", "7"], "there is no designated hotspot 7"),
    (["register", "show", "seven"], "`hotspot` is 'seven'"),
    (["register", "close", "7", "--reason", "x"], "there is no designated hotspot 7"),
    (["impact", "--hotspot", "3"], "there is no designated hotspot 3"),
    (["teams", "add", "X", "--base", "nowhere"], "`base`"),
    (["teams", "change", "Nobody", "--mode", "walk"], "there is no team 'Nobody'"),
])
def test_errors_are_one_line_with_exit_code_2_and_store_nothing(instance, args, words):
    result = run(instance, *args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and words in lines[0], result.output
    from webapp.db import DesignatedHotspot, db_session

    with make_app(instance).app_context():
        assert db_session().query(DesignatedHotspot).count() == 0


def test_teams_list_add_change(instance):
    listing = run(instance, "teams", "list")
    assert listing.exit_code == 0 and len(listing.output.splitlines()) == 6
    added = run(instance, "teams", "add", "Night foot patrol", "--base", "E05011399", "--mode", "walk",
                "--members", "pc1,pc2")
    assert added.exit_code == 0, added.output
    changed = run(instance, "teams", "change", "night foot patrol", "--inactive", "--reason", "rota")
    assert changed.exit_code == 0 and "active -> False" in changed.output
    teams = {t["name"]: t for t in json.loads(run(instance, "teams", "list", "--json").output)["teams"]}
    assert teams["Night foot patrol"]["members"] == ["pc1", "pc2"]
    assert teams["Night foot patrol"]["active"] is False


def test_impact_and_dosage(instance, cells):
    run(instance, "register", "add", "--cells", cells[0], "--category", "asb", "--team", "Armley",
        "--start", HOTSPOT_START.isoformat())
    run(instance, "register", "add", "--cells", cells[1], "--category", "asb", "--status", "proposed")
    text = run(instance, "impact")
    assert text.exit_code == 0
    assert "SYNTHETIC demo incidents" in text.output
    assert "hotspot 1:" in text.output and "hotspot 2" not in text.output  # proposed: not started
    assert "Programme (1 of 1 ASB hotspots" in text.output
    one = json.loads(run(instance, "impact", "--hotspot", "1", "--json", "--comparison", "matched").output)
    assert one["key"] == 1 and one["comparison_kind"] == "matched" and one["demo"] is True
    refused = run(instance, "impact", "--hotspot", "2")
    assert refused.exit_code == 2 and "proposed: impact is measured once it is active" in refused.output
    dosage = run(instance, "dosage", "--as-of", "2025-07-23")
    assert dosage.exit_code == 0
    assert "team Armley" in dosage.output
    body = json.loads(run(instance, "dosage", "--format", "json", "--weeks", "1", "--as-of", "2025-07-23").output)
    assert body["hotspots"][0]["this_week"]["week"] == "2025-W30"
    assert body["hotspots"][0]["this_week"]["elapsed_days"] == 3
    csv_lines = run(instance, "dosage", "--format", "csv", "--as-of", "2025-07-23").output.splitlines()
    assert csv_lines[0].startswith("kind,id,name,team,week")


def test_brief_writes_html_and_refuses_other_files(instance, cells):
    run(instance, "register", "add", "--cells", cells[0], "--category", "asb", "--team", "Armley",
        "--start", HOTSPOT_START.isoformat())
    out = instance / "brief.html"
    result = run(instance, "brief", "--week", "2025-W30", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Hotspot briefing: 2025-W30" in html and "SYNTHETIC DEMO DATA" in html
    assert "<svg class=\"brief-map\"" in html and ">Legend<" in html
    assert "New:" in html and "Persisting:" in html and "Fading:" in html
    bad = run(instance, "brief", "--out", str(instance / "brief.txt"))
    assert bad.exit_code == 2 and "give a .pdf or .html file" in bad.output
    wrong = run(instance, "brief", "--week", "2025-06", "--out", str(out))
    assert wrong.exit_code == 2 and "`week`" in wrong.output
