"""Files re-saved by a spreadsheet (tests/policeuk.py's realistic generator): the months in the
forms a spreadsheet writes, BOM, CRLF and trimmed coordinates give the same incidents and ids,
with one notice saying how the month was read; a file that mixes forms is refused. And demo data
written as police.uk files stays labelled synthetic when ingested again."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.errors import InputError
from hotspots.ingest import read_incidents_report
from hotspots.settings import get_settings
from hotspots.store import IncidentStore
from tests.hotspots.test_ingest import crime, policeuk_text, write
from tests.policeuk import policeuk_data, write_policeuk


@pytest.fixture(scope="module")
def data():
    return policeuk_data(["2025-02"], seed=3)


@pytest.mark.parametrize(("form", "shown"), [("Mon-YY", "Feb-25"), ("Mon YYYY", "Feb 2025"),
                                             ("date", "01/02/2025")])
def test_spreadsheet_saved_files_give_the_same_incidents(tmp_path, data, form, shown):
    settings = get_settings(tmp_path)
    plain, = write_policeuk(data, tmp_path / "plain")
    saved, = write_policeuk(data, tmp_path / "saved", spreadsheet=True, month_form=form)
    assert shown in saved.read_text(encoding="utf-8-sig").splitlines()[1]
    expected, report = read_incidents_report(plain, settings=settings)
    frame, saved_report = read_incidents_report(saved, settings=settings)
    assert len(frame) > 1000
    expected.attrs = frame.attrs = {}
    pd.testing.assert_frame_equal(frame, expected)  # ids, months, points, labels
    assert report.notices == []
    assert saved_report.notices == [
        f"{saved}: column 'Month' is written like {shown} (as a spreadsheet saves it); read as the "
        "months police.uk means (YYYY-MM)"]


def test_iso_dates_as_months(tmp_path):
    settings = get_settings(tmp_path)
    one = write(tmp_path / "a.csv", policeuk_text([crime(month="2024-05")]))
    two = write(tmp_path / "b.csv", policeuk_text([crime(month="2024-05-01")]))
    a, _ = read_incidents_report(one, settings=settings)
    b, report = read_incidents_report(two, settings=settings)
    assert a["occurred_at"].tolist() == b["occurred_at"].tolist()
    assert report.notices == [f"{two}: column 'Month' is written like 2025-02-01 (as a spreadsheet "
                              "saves it); read as the months police.uk means (YYYY-MM)"]


def test_a_file_mixing_month_forms_is_refused(tmp_path):
    path = write(tmp_path / "x.csv", policeuk_text([crime(), crime("b" * 64, month="May-24")]))
    with pytest.raises(InputError, match=r"x\.csv, column 'Month': mixes month forms: 2025-02 \(row "
                                         r"2\) and Feb-25 \(row 3\)"):
        read_incidents_report(path, settings=get_settings(tmp_path))


def test_cli_prints_the_notice_on_stderr(tmp_path, data):
    from webapp.cli import cli

    saved, = write_policeuk(data, tmp_path / "saved", spreadsheet=True)
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "ingest", str(saved)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("notice: ") == 1
    assert "column 'Month' is written like Feb-25" in result.stderr
    assert "notice" not in result.stdout


def test_demo_files_stay_synthetic_after_ingest(tmp_path):
    from webapp.cli import cli

    home = tmp_path / "home"
    folder = tmp_path / "demo-policeuk"
    runner = CliRunner()
    made = runner.invoke(cli, ["--home", str(home), "demo", "--weeks", "5", "--police-uk-csv",
                               str(folder)])
    assert made.exit_code == 0, made.output
    result = runner.invoke(cli, ["--home", str(home), "ingest", str(folder)])
    assert result.exit_code == 0, result.output
    assert "synthetic demo incidents" in result.stderr
    store = IncidentStore(home, settings=get_settings(home))
    assert set(store.load()["source"]) == {"demo"}
    assert store.summary()["by_source"].keys() == {"demo"}
    summary = runner.invoke(cli, ["--home", str(home), "store", "summary"])
    assert "SYNTHETIC" in summary.output
