"""The `hotspots` commands on realistic police.uk files (`tests.policeuk`): what they claim and what
they refuse."""

from __future__ import annotations

import re

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
    lines = result.stdout.splitlines()
    assert re.search(r"; \d+ cell\(s\) lying mostly in other wards left out", lines[0])
    rows = lines[2:-1]
    assert len(rows) == 20 and all("Hunslet & Riverside" in r for r in rows)
