"""The `hotspots` commands on realistic police.uk files (`tests.policeuk`): what they claim and what
they refuse."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from webapp.cli import cli


def run(home, *args):
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_ward_table_of_all_leeds_counts_the_points_just_outside_the_city(policeuk_home):
    home = policeuk_home(["2025-02"])
    result = run(home, "wards", "--category", "all", "--month", "2025-02", "--wards", "all")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    found = re.search(r"; (\d+) just outside every ward \(within 50 m\) counted in the nearest", header)
    assert found and int(found.group(1)) > 0
    assert "outside them" not in header


def test_ranking_says_how_many_cells_lie_mostly_in_other_wards(policeuk_home):
    home = policeuk_home(["2025-02"])
    result = run(home, "rank", "--category", "all", "--month", "2025-02", "--wards", "Hunslet & Riverside")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("note: ")]
    assert re.search(r"; \d+ cell\(s\) lying mostly in other wards left out", lines[0])
    rows = lines[2:-1]
    assert len(rows) == 20 and all("Hunslet & Riverside" in r for r in rows)


ONE_MONTH = ["2025-02"]
GAP = ["2024-12", "2025-02"]
CLAIMS = re.compile(r"\bup \d|\bdown \d|the same as last|\bnew\b|persistent|intensifying|"
                    r"diminishing|sporadic|historical|consecutive|oscillating|hotspot in \d")


@pytest.mark.parametrize("months", [ONE_MONTH, GAP])
@pytest.mark.parametrize("category", ["serious_violence", "asb"])
def test_ranking_without_a_baseline_claims_no_change_or_trend(policeuk_home, months, category):
    home = policeuk_home(months)
    result = run(home, "rank", "--category", category, "--month", "2025-02", "--top", "50")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    notes = [line for line in lines if line.startswith("note: ")]
    assert "note: no baseline: the store holds no data for 2025-01, so no change is shown." in notes
    assert any(n.startswith("note: no trend: the store holds ") for n in notes)
    rows = lines[2 + len(notes):-1]
    assert len(rows) == 50
    for row in rows:
        assert " n/a  n/a " in row, row
        assert not CLAIMS.search(row.split(" n/a  n/a ", 1)[1]), row


def test_a_month_with_no_data_is_refused_naming_the_months_held(policeuk_home):
    home = policeuk_home(GAP)
    for command in ("rank", "wards", "evaluate"):
        result = run(home, command, "--month", "2025-01")
        assert result.exit_code == 2, result.output
        what = "the test period " if command == "evaluate" else ""
        assert result.stderr == f"error: no data for {what}2025-01: the store holds 2024-12, 2025-02.\n"
        assert "too few" not in result.stderr


def test_ward_table_without_a_baseline(policeuk_home):
    result = run(policeuk_home(GAP), "wards", "--month", "2025-02", "--category", "serious_violence")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "note: no baseline: the store holds no data for 2025-01, so no change is shown."
    rows = lines[3:-1]
    assert len(rows) == 6 and all(" n/a " in r for r in rows)


def test_evaluate_refuses_a_training_period_with_no_data(policeuk_home):
    result = run(policeuk_home(ONE_MONTH), "evaluate", "--month", "2025-02")
    assert result.exit_code == 2
    assert result.stderr == "error: no data for the training period 2025-01: the store holds 2025-02.\n"
    result = run(policeuk_home(ONE_MONTH), "evaluate", "--month", "2025-02", "--backtest", "3")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no period of the backtest (2024-12 to 2025-02) has data for "
                                    "both its training and its test period: the store holds 2025-02.")


def test_a_backtest_averages_only_periods_with_data_and_says_how_many(policeuk_home):
    home = policeuk_home(["2024-10", "2024-11", "2024-12", "2025-02"])
    result = run(home, "evaluate", "--month", "2025-02", "--backtest", "4", "--category",
                 "serious_violence")
    assert result.exit_code == 0, result.output
    out = result.stdout
    tested = {line.split()[1] for line in out.splitlines()[1:] if re.match(r"^\d{4}-\d{2} ", line)}
    assert tested == {"2024-11", "2024-12"}
    assert ("mean over 2 of 4 period(s), the only ones with data for both their training and test "
            "period:") in out
    assert ("note: 2 of 4 periods scored: 2025-01, 2025-02 left out (the store holds no data for it "
            "or the period before it).") in out


def test_rank_shows_streets_and_exports_places_and_institution_flags(policeuk_home):
    import io

    import pandas as pd

    home = policeuk_home(ONE_MONTH)
    result = run(home, "rank", "--category", "serious_violence", "--month", "2025-02")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if re.match(r"^\s+\d+[ !i] ", line)]
    assert len(rows) == 20
    assert not any(re.match(r"^\s+\d+[ !i] [0-9a-f]{15}\s", r) for r in rows)  # streets, not H3 ids
    assert "i mostly recorded at an institution" in result.stdout
    out = run(home, "rank", "--category", "serious_violence", "--month", "2025-02", "--format", "csv")
    table = pd.read_csv(io.StringIO(out.stdout), dtype={"h3_cell": str, "place": str},
                        keep_default_na=False)
    assert {"place", "institution", "institution_count", "top_point_share"} <= set(table.columns)
    flagged = table[table["institution"].astype(str) == "True"]
    assert set(flagged["place"]) == {"Police Station", "Prison", "Hospital"}
    assert flagged["rank"].min() > table.loc[table["count"] > table["institution_count"], "rank"].max()


@pytest.mark.parametrize(("args", "message"), [
    (("--wards", "Gipton and Harehills"),
     "error: ward 'Gipton and Harehills' is not in the boundary file; did you mean 'Gipton & Harehills'?\n"),
    (("--wards", "Armely"), "error: ward 'Armely' is not in the boundary file; did you mean 'Armley'?\n"),
    (("--week", "2025-23"), "error: --week '2025-23' is not an ISO week such as 2025-W23 (did you mean 2025-W23?).\n"),
    (("--period", "2025-23"), "error: period '2025-23': month must be 01 to 12; for ISO week 23 write '2025-W23'.\n"),
])
def test_near_misses_get_a_suggestion(policeuk_home, args, message):
    result = run(policeuk_home(ONE_MONTH), "rank", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] + "\n" == message


@pytest.mark.parametrize("months", [ONE_MONTH, GAP])
def test_plan_never_sends_patrols_to_empty_or_institution_cells(policeuk_home, months, tmp_path):
    import json

    home = policeuk_home(months)
    result = run(home, "plan", "--month", "2025-02", "--category", "both", "--teams", "3",
                 "--shift", "180", "--per-ward", "4", "--network", "none", "--json",
                 "--time-limit", "1", "--sheet", str(tmp_path / "sheet.html"))
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    visits = [v for r in plan["routes"] for v in r["visits"]]
    assert visits
    rank = run(home, "rank", "--category", "all", "--month", "2025-02", "--format", "csv")
    import io

    import pandas as pd

    cells = pd.read_csv(io.StringIO(rank.stdout), dtype={"h3_cell": str}, keep_default_na=False)
    empty = set(cells.loc[cells["count"] == 0, "h3_cell"])
    flagged = set(cells.loc[cells["institution"].astype(str) == "True", "h3_cell"])
    stops = {v["stop_id"] for v in visits}
    assert not stops & empty and not stops & flagged
    assert all(v["place"] and v["place"] not in ("Police Station", "Prison", "Hospital") for v in visits)
    # No change or trend is claimed in any stop's reason.
    assert not any(CLAIMS.search(v["reason"]) for v in visits)
    sheet = (tmp_path / "sheet.html").read_text(encoding="utf-8")
    assert all(v["place"] in sheet for v in visits)


def test_spreadsheet_saved_files_ingest_and_rank_the_same(tmp_path, settings):
    import io

    import pandas as pd

    from tests.policeuk import policeuk_data, write_policeuk

    data = policeuk_data(ONE_MONTH, seed=9, rows_per_month=3000)
    plain, saved = tmp_path / "plain", tmp_path / "saved"
    for home, kw in ((plain, {}), (saved, {"spreadsheet": True})):
        files = write_policeuk(data, tmp_path / f"files-{home.name}", **kw)
        result = run(home, "ingest", *map(str, files))
        assert result.exit_code == 0, result.output
    outs = [run(home, "rank", "--month", "2025-02", "--category", "all", "--format", "csv").stdout
            for home in (plain, saved)]
    a, b = (pd.read_csv(io.StringIO(o), dtype={"h3_cell": str}, keep_default_na=False) for o in outs)
    # Identical rankings; only the export's generation time may differ between the two runs.
    assert a["generated_at"].nunique() == 1 and b["generated_at"].nunique() == 1
    pd.testing.assert_frame_equal(a.drop(columns="generated_at"), b.drop(columns="generated_at"))
    assert (a.loc[a["count"] > 0, "place"] != "").all()
