"""Bounded ingest: each upload limit refuses with its one-line message and stores nothing, in the
library, the CLI and the web app; a dry run stops at the first problem; --json errors."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from hotspots.errors import InputError
from hotspots.ingest import Limits, read_incidents
from hotspots.settings import get_settings
from hotspots.store import IncidentStore
from tests.hotspots.test_ingest import crime, policeuk_text, write


def rows_csv(tmp_path, n=20, name="2024-05-x-street.csv", month="2024-05"):
    return write(tmp_path / name, policeuk_text([crime(f"{i:064x}", month=month) for i in range(n)]))


def bomb(tmp_path, mb=3):
    """A zip whose one member, 3 MB of the same valid row, compresses about 500 times."""
    path = tmp_path / "bomb.zip"
    text = policeuk_text([crime()]) + policeuk_text([crime()]).split("\n", 1)[1] * (mb * 2**20 // 230)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2024-05/2024-05-x-street.csv", text)
    return path


def test_row_limit(tmp_path):
    settings = get_settings(tmp_path)
    path = rows_csv(tmp_path)
    assert len(read_incidents(path, settings=settings, limits=Limits(rows=20))) == 20
    with pytest.raises(InputError, match=r"x-street\.csv: the upload holds more than 19 rows "
                                         r"\(setting upload_max_rows\); nothing was stored\."):
        read_incidents(path, settings=settings, limits=Limits(rows=19))


def test_inflated_limit_counts_every_file(tmp_path):
    settings = get_settings(tmp_path)
    one = rows_csv(tmp_path, 200, "2024-05-a-street.csv")
    two = rows_csv(tmp_path, 200, "2024-05-b-street.csv")
    size_mb = one.stat().st_size / 2**20
    read_incidents([one], settings=settings, limits=Limits(inflated_mb=1.5 * size_mb))
    with pytest.raises(InputError, match=r"b-street\.csv: the upload holds more than .* MB once "
                                         r"unzipped \(setting upload_max_inflated_mb\)"):
        read_incidents([one, two], settings=settings, limits=Limits(inflated_mb=1.5 * size_mb))


def test_ratio_limit_stops_a_zip_bomb_while_it_inflates(tmp_path):
    settings = get_settings(tmp_path)
    path = bomb(tmp_path)
    with pytest.raises(InputError, match=r"bomb\.zip/2024-05/2024-05-x-street\.csv: unzips to more "
                                         r"than 100 times its compressed size \(setting "
                                         r"upload_max_ratio\)") as caught:
        read_incidents(path, settings=settings, limits=Limits(ratio=100))
    assert caught.value.problems[0].kind == "too large"
    assert len(read_incidents(path, settings=settings, limits=Limits(ratio=10_000))) == 1


def test_ratio_limit_trips_before_a_large_member_is_read(tmp_path):
    # A 24 MB member of 16 rows repeated compresses about 140 times, to more than zipfile reads
    # at once: the compressed bytes are counted as the member inflates, so the ratio stops it
    # early, before the row limit (at 45% of its rows) would.
    rows = policeuk_text([crime(f"{i:064x}") for i in range(16)]).split("\n", 1)[1] * 256
    text = policeuk_text([]) + rows * (24 * 2**20 // len(rows))
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2024-05/2024-05-x-street.csv", text)
    limit = int(0.45 * text.count("\n"))
    with pytest.raises(InputError, match=r"unzips to more than 100 times its compressed size"):
        read_incidents(path, settings=get_settings(tmp_path), limits=Limits(ratio=100, rows=limit))


def _cli(home, *args, **env):
    from webapp.cli import cli

    return CliRunner().invoke(cli, ["--home", str(home), "ingest", *map(str, args)],
                              env={f"HOTSPOTS_{k.upper()}": str(v) for k, v in env.items()})


@pytest.mark.parametrize("limit", ["rows", "inflated", "ratio"])
def test_cli_refuses_past_each_limit_and_stores_nothing(tmp_path, limit):
    home = tmp_path / "home"
    if limit == "ratio":
        path, env, words = bomb(tmp_path), {}, "unzips to more than 100 times"
    elif limit == "rows":
        path, env, words = rows_csv(tmp_path), {"upload_max_rows": 5}, "more than 5 rows"
    else:
        path, env = bomb(tmp_path, mb=2), {"upload_max_inflated_mb": 1, "upload_max_ratio": 10**5}
        words = "more than 1 MB once unzipped"
    result = _cli(home, path, **env)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and words in result.stderr
    assert IncidentStore(home, settings=get_settings(home)).months() == []
    if limit == "ratio":  # month by month too
        stream = _cli(home, "--stream", path, **env)
        assert stream.exit_code == 2 and words in stream.stderr
        assert IncidentStore(home, settings=get_settings(home)).months() == []


def test_dry_run_stops_at_the_first_problem(tmp_path):
    home = tmp_path / "home"
    one = write(tmp_path / "a.csv", policeuk_text([crime(month="bad"), crime("b" * 64, lon="x")]))
    two = write(tmp_path / "b.csv", policeuk_text([crime(month="worse")]))
    full = _cli(home, one, two)
    assert full.exit_code == 2 and "(and 2 more problems" in full.stderr
    dry = _cli(home, "--dry-run", one, two)
    assert dry.exit_code == 2
    assert "a.csv, row 2, column 'Month': 'bad'" in dry.stderr and "more problems" not in dry.stderr


def test_json_errors_count_every_problem(tmp_path):
    home = tmp_path / "home"
    path = write(tmp_path / "x.csv", policeuk_text([crime(f"{i:064x}", month="bad")
                                                     for i in range(250)]))
    result = _cli(home, "--json", path)
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["problem_count"] == 250
    assert out["error"].endswith("(and 249 more problems: unparseable month)")
    assert len(out["problems"]) == 101 and out["problems"][-1].endswith(
        "150 more rows like this (unparseable month)")
