"""Streaming ingest of a police.uk archive zip: errors first, then what is stored, then memory."""

from __future__ import annotations

import csv
import hashlib
import io
import tracemalloc
import zipfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots import InputError
from hotspots.ingest import POLICEUK_COLUMNS, read_incidents
from hotspots.settings import get_settings
from hotspots.store import IncidentStore
from hotspots.streaming import archive_months, ingest_archive, iter_policeuk_archive_months

FORCES = ("west-yorkshire", "greater-manchester", "metropolitan")
TYPES = ("Anti-social behaviour", "Violence and sexual offences", "Shoplifting", "Burglary", "Robbery")


def month_csv(month: str, force: str, n: int, seed: int, bad_row: int | None = None) -> str:
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(POLICEUK_COLUMNS)
    lon = rng.uniform(-3.0, 0.0, n)
    lat = rng.uniform(51.0, 54.0, n)
    types = rng.choice(TYPES, n)
    for i in range(n):
        crime_type = str(types[i])
        asb = crime_type == "Anti-social behaviour"
        crime_id = "" if asb else hashlib.sha256(f"{force}{month}{i}".encode()).hexdigest()
        la = "not a number" if i == bad_row else f"{lat[i]:.6f}"
        writer.writerow([crime_id, month, f"{force} Police", f"{force} Police", f"{lon[i]:.6f}", la,
                         f"On or near Street {i}", "", "", crime_type, "" if asb else "Under investigation", ""])
    return out.getvalue()


def make_archive(path, months, n=40, bad=None):
    """A police.uk-style zip: street, outcomes and stop-and-search files of several forces."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for k, month in enumerate(months):
            for j, force in enumerate(FORCES):
                bad_row = 3 if bad == (month, force) else None
                archive.writestr(f"{month}/{month}-{force}-street.csv",
                                 month_csv(month, force, n, seed=100 * k + j, bad_row=bad_row))
                archive.writestr(f"{month}/{month}-{force}-outcomes.csv", "Crime ID,Month\n")
                archive.writestr(f"{month}/{month}-{force}-stop-and-search.csv", "Type,Date\n")
    return path


MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04"]


# ----------------------------------------------------------------------------- input checks


def test_archive_problems(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match=r"bad\.zip: cannot be read as a zip archive"):
        archive_months(bad)
    odd = tmp_path / "odd.zip"
    with zipfile.ZipFile(odd, "w") as archive:
        archive.writestr("incidents.csv", "a,b\n")
    with pytest.raises(InputError, match=r"odd\.zip/incidents\.csv: the month is not in the file's path; a police\.uk archive names its files YYYY-MM/YYYY-MM-<force>-street\.csv"):
        archive_months(odd)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("2024-01/2024-01-x-outcomes.csv", "a\n")
    with pytest.raises(InputError, match=r"empty\.zip: holds no police\.uk street-level CSV files"):
        archive_months(empty)
    zipped = make_archive(tmp_path / "archive.zip", MONTHS[:2])
    with pytest.raises(InputError, match=r"holds no street-level files for 2023-12 \(it holds 2024-01, 2024-02\)\.$"):
        next(iter_policeuk_archive_months(zipped, months=["2023-12"], settings=get_settings(tmp_path)))


def test_a_bad_month_stops_the_run_and_names_the_member(tmp_path):
    settings = get_settings(tmp_path / "home")
    zipped = make_archive(tmp_path / "archive.zip", MONTHS, bad=("2024-03", "greater-manchester"))
    store = IncidentStore(settings.home, settings=settings)
    with pytest.raises(InputError, match=r"archive\.zip/2024-03/2024-03-greater-manchester-street\.csv, row 5, column 'Latitude': 'not a number'") as info:
        ingest_archive(zipped, store)
    assert all(str(tmp_path / "archive.zip") in p.file for p in info.value.problems)
    assert store.months() == ["2024-01", "2024-02"]  # the months before it are stored


# ----------------------------------------------------------------------------- output contract


def test_archive_months_groups_street_files(tmp_path):
    zipped = make_archive(tmp_path / "archive.zip", MONTHS[:2])
    assert archive_months(zipped) == {
        m: [f"{m}/{m}-{f}-street.csv" for f in sorted(FORCES)] for m in MONTHS[:2]
    }


def test_streamed_store_equals_reading_the_whole_archive(tmp_path):
    settings = get_settings(tmp_path / "home")
    zipped = make_archive(tmp_path / "archive.zip", MONTHS)
    seen = []
    store = IncidentStore(settings.home, settings=settings)
    report = ingest_archive(zipped, store, on_month=lambda m, r: seen.append((m, r.added)))
    assert [m for m, _ in seen] == MONTHS
    whole = read_incidents(zipped, settings=settings)
    assert report.added == len(whole) == sum(a for _, a in seen)
    assert report.months == MONTHS
    assert len(report.read.files) == len(MONTHS) * len(FORCES)
    assert report.read.files[0] == f"{zipped}/2024-01/2024-01-greater-manchester-street.csv"
    assert report.read.excluded["police.uk outcomes files (not read)"] == len(MONTHS) * len(FORCES)
    other = IncidentStore(tmp_path / "other", settings=get_settings(tmp_path / "other"))
    other.add(whole)
    pd.testing.assert_frame_equal(store.load(), other.load())
    # Idempotent: a second run adds nothing.
    again = ingest_archive(zipped, store)
    assert again.added == 0 and again.duplicates == len(whole)
    # A dry run reads and checks every month, stores nothing.
    fresh = IncidentStore(tmp_path / "fresh", settings=get_settings(tmp_path / "fresh"))
    dry = ingest_archive(zipped, fresh, dry_run=True, months=["2024-02"])
    assert dry.added > 0 and fresh.months() == []


def test_each_yield_is_one_month(tmp_path):
    zipped = make_archive(tmp_path / "archive.zip", MONTHS[:3])
    for month, frame, report in iter_policeuk_archive_months(zipped, settings=get_settings(tmp_path)):
        assert set(frame["occurred_at"].dt.strftime("%Y-%m")) == {month}
        assert len(report.files) == len(FORCES)


def test_memory_holds_one_month_not_the_archive(tmp_path):
    """Peak traced memory streaming 8 months is about that of 2 months (not 4 times it)."""
    settings = get_settings(tmp_path / "home")
    rows = 2000
    peaks = {}
    for n_months in (2, 8):
        months = [f"2024-{m:02d}" for m in range(1, n_months + 1)]
        zipped = make_archive(tmp_path / f"archive{n_months}.zip", months, n=rows)
        tracemalloc.start()
        count = 0
        for _month, frame, _report in iter_policeuk_archive_months(zipped, settings=settings):
            count += len(frame)
            del frame
        peaks[n_months] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count > 0.9 * rows * len(FORCES) * n_months
    assert peaks[8] < 1.5 * peaks[2], peaks


def test_cli_ingest_stream(tmp_path):
    from webapp.cli import cli

    zipped = make_archive(tmp_path / "archive.zip", MONTHS[:2])
    home = tmp_path / "home"
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "ingest", "--stream", str(zipped)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2024-01: " in result.stderr and " already stored" in result.stderr
    assert "months touched:          2024-01 to 2024-02" in result.stdout
    assert IncidentStore(home, settings=get_settings(home)).months() == MONTHS[:2]
    result = runner.invoke(cli, ["--home", str(home), "ingest", "--stream", str(zipped), str(zipped)])
    assert result.exit_code == 2
    assert "error: --stream reads one police.uk archive zip; give just its path (and no --format)." in result.output
