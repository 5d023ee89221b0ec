"""The data commands of the `hotspots` CLI: demo, ingest, store summary, settings."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hotspots.store import IncidentStore
from webapp.cli import cli


@pytest.fixture
def run(home):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=False)

    return invoke


def test_help_lists_the_commands(run):
    result = run("--help")
    assert result.exit_code == 0
    for name in ("demo", "ingest", "store", "settings", "rank", "plan"):
        assert f"  {name}" in result.output


def test_bad_setting_is_one_line_and_exit_2(run, home):
    home.mkdir(parents=True)
    (home / "hotspots.toml").write_text("h3_res = 9\n")
    result = run("store", "summary")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "unknown setting 'h3_res'" in lines[0]


def test_empty_store_summary_says_what_to_do(run):
    result = run("store", "summary")
    assert result.exit_code == 0
    assert "incidents: 0" in result.output and "hotspots demo" in result.output


def test_demo_then_police_uk_round_trip(run, home, tmp_path):
    result = run("demo", "--weeks", "6")
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output
    store = IncidentStore(home)
    stored = len(store.load())
    assert stored > 1000 and store.is_demo()
    summary = run("store", "summary")
    assert "SYNTHETIC" in summary.output and f"incidents: {stored:,}" in summary.output

    folder = tmp_path / "policeuk"
    result = run("demo", "--weeks", "6", "--police-uk-csv", str(folder))
    assert result.exit_code == 0 and len(list(folder.rglob("*-street.csv"))) >= 2

    other = tmp_path / "other-home"
    runner = CliRunner()
    first = runner.invoke(cli, ["--home", str(other), "ingest", "--json", str(folder)])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["added"] == report["rows_read"] == stored
    again = runner.invoke(cli, ["--home", str(other), "ingest", "--json", str(folder)])
    report = json.loads(again.stdout)
    assert (report["added"], report["duplicates_skipped"]) == (0, stored)
    frame = IncidentStore(other).load()
    # Still synthetic after the round trip: the files' Context says so.
    assert set(frame["time_precision"]) == {"month"} and set(frame["source"]) == {"demo"}
    assert "synthetic demo incidents" in first.stderr


def test_bad_file_is_one_line_exit_2_and_store_unchanged(run, home, tmp_path):
    run("demo", "--weeks", "2")
    manifest = (home / "store" / "manifest.json").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
        "Crime type,Last outcome category,Context\n"
        "abc,2025-13,West Yorkshire Police,West Yorkshire Police,-1.5,53.8,On or near X,,,"
        "Robbery,,\n"
    )
    result = run("ingest", str(bad))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "bad.csv" in lines[0] and "row 2" in lines[0] and "'Month'" in lines[0] and "2025-13" in lines[0]
    assert (home / "store" / "manifest.json").read_text() == manifest


def test_dry_run_stores_nothing(run, home, tmp_path):
    folder = tmp_path / "p"
    run("demo", "--weeks", "2", "--police-uk-csv", str(folder))
    result = run("ingest", "--dry-run", str(folder))
    assert result.exit_code == 0 and "dry run: nothing stored" in result.output
    assert IncidentStore(home).months() == []


def test_demo_replace(run, home):
    run("demo", "--weeks", "3")
    n = len(IncidentStore(home).load())
    result = run("demo", "--weeks", "3", "--seed", "1", "--replace")
    assert result.exit_code == 0
    frame = IncidentStore(home).load()
    assert frame["incident_id"].str.startswith("demo-1-").all()
    assert abs(len(frame) - n) < 0.2 * n


def test_settings_markdown(run):
    result = run("settings", "--markdown")
    assert result.exit_code == 0 and "| `h3_resolution` | 10 |" in result.output


def test_settings_never_print_secrets(run, home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "hotspots.toml").write_text(
        'secret_key = "s3cr3t-value"\ndatabase_url = "postgresql://hot:pa55word@db.local/hotspots"\n')
    result = run("settings")
    assert result.exit_code == 0
    assert "s3cr3t-value" not in result.output and "pa55word" not in result.output
    assert "secret_key: (set, not shown)" in result.output
    assert "postgresql://hot:***@db.local/hotspots" in result.output


def test_store_summary_lists_gaps_and_possibly_partial_months(run, home, settings):
    from tests.hotspots.test_coverage import monthly

    IncidentStore(home, settings=settings).add(
        monthly(settings, {"2025-01": 20, "2025-02": 22, "2025-05": 21, "2025-06": 6}))
    result = run("store", "summary")
    assert result.exit_code == 0, result.output
    assert "gaps:      no data for 2025-03, 2025-04" in result.output
    assert "partial?:  2025-06" in result.output
    lines = result.output.splitlines()
    assert any(line.startswith("2025-03") and "no data" in line for line in lines)
    assert any(line.startswith("2025-06") and line.endswith("possibly partial") for line in lines)
    data = json.loads(run("store", "summary", "--json").output)
    assert (data["gaps"], data["partial"]) == (["2025-03", "2025-04"], ["2025-06"])
    assert data["coverage"].startswith("police.uk 2025-01..2025-02, 2025-05..2025-06")
