"""Streaming ingest of a police.uk archive zip (all forces, many months): one month at a time is
read from the zip, checked and stored, so memory holds one month and never the whole archive.

Each month is stored all-or-nothing (`IncidentStore.add`); a month with a problem stops the run
with the months before it stored, and re-running after the fix skips what is already stored.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd

from hotspots.errors import InputError
from hotspots.ingest import Limits, read_incidents_report
from hotspots.ingest.sources import skipped_kind
from hotspots.report import IngestReport, ReadReport
from hotspots.settings import Settings, get_settings
from hotspots.store import IncidentStore

log = logging.getLogger(__name__)

#: A member's month: its folder (`2024-05/...`) or the start of its name (`2024-05-...-street.csv`).
_MONTH = re.compile(r"(?:^|/)(\d{4}-(?:0[1-9]|1[0-2]))(?:/|-[^/]*$)")


def archive_months(path: str | os.PathLike) -> dict[str, list[str]]:
    """The street-level CSV members of a police.uk archive zip by month (`YYYY-MM`), oldest first.

    Raises
    ------
    InputError
        Not a readable zip, no street-level CSVs in it, or a CSV whose month its path does not
        tell (police.uk names them `YYYY-MM/YYYY-MM-<force>-street.csv`).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        msg = f"{path}: cannot be read as a zip archive ({exc})."
        raise InputError(msg) from None
    months: dict[str, list[str]] = {}
    for name in sorted(names):
        parts = [p for p in name.split("/") if p]
        if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if not parts[-1].lower().endswith(".csv") or skipped_kind(parts[-1]) is not None:
            continue
        found = _MONTH.search(name)
        if found is None:
            msg = (f"{path}/{name}: the month is not in the file's path; a police.uk archive names "
                   "its files YYYY-MM/YYYY-MM-<force>-street.csv (ingest other zips without --stream).")
            raise InputError(msg)
        months.setdefault(found.group(1), []).append(name)
    if not months:
        msg = f"{path}: holds no police.uk street-level CSV files (YYYY-MM/YYYY-MM-<force>-street.csv)."
        raise InputError(msg)
    return dict(sorted(months.items()))


def iter_policeuk_archive_months(
    path: str | os.PathLike,
    *,
    months: Iterable[str] | None = None,
    source: str | None = None,
    settings: Settings | None = None,
    limits: Limits | None = None,
) -> Iterator[tuple[str, pd.DataFrame, ReadReport]]:
    """Read a police.uk archive zip month by month.

    Each month's street-level CSVs (every force) are read from the zip in blocks and checked with
    `hotspots.ingest.read_incidents_report` before the next month is read; outcomes and
    stop-and-search files are skipped and counted.

    Parameters
    ----------
    path
        The archive zip (e.g. police.uk's `latest.zip` or a custom download).
    months
        Only these months (`YYYY-MM`); None: every month in the archive.
    source
        Label for the `source` column (default `police.uk`).
    settings
        Category and harm tables, timezone, `exclude_btp`; `get_settings()` when None.
    limits
        Upload limits (`hotspots.ingest.Limits`) applied to each month; None: none.

    Yields
    ------
    (month, incidents, report)
        The month, its incidents in the data model (EPSG:27700) and its `ReadReport`, whose
        file names (like every problem's) are `<archive>/<member>`.

    Raises
    ------
    InputError
        A problem with the archive, or every problem of the first month whose files have any.
    """
    settings = settings or get_settings()
    path = Path(path)
    by_month = archive_months(path)
    if months is not None:
        wanted = set(months)
        unknown = sorted(wanted - set(by_month))
        if unknown:
            held = ", ".join(by_month) if len(by_month) <= 6 else f"{next(iter(by_month))} to {list(by_month)[-1]}"
            msg = f"{path}: holds no street-level files for {', '.join(unknown)} (it holds {held})."
            raise InputError(msg)
        by_month = {m: names for m, names in by_month.items() if m in wanted}
    skipped = _skipped(path)
    for index, (month, names) in enumerate(by_month.items()):
        # The month's members are read straight from the zip, in blocks.
        frame, report = read_incidents_report(path, format="police.uk", source=source,
                                              settings=settings, progress=False, limits=limits,
                                              members=names)
        if index == 0:
            for reason, count in skipped.items():
                report.exclude(reason, count)
        log.info("%s: %d incidents from %d files", month, len(frame), len(names))
        yield month, frame, report

def ingest_archive(
    path: str | os.PathLike,
    store: IncidentStore,
    *,
    months: Iterable[str] | None = None,
    source: str | None = None,
    dry_run: bool = False,
    limits: Limits | None = None,
    on_month: Callable[[str, IngestReport], None] | None = None,
) -> IngestReport:
    """Stream a police.uk archive zip into `store`, one month at a time.

    Each month is read, checked and added (all-or-nothing, duplicates skipped) before the next
    month is read, so memory holds one month's incidents; `on_month(month, report)` is called
    after each (for progress). With `dry_run` every month is read and checked, nothing stored.

    Returns
    -------
    IngestReport
        The months' reports added up (`months` lists the months touched).

    Raises
    ------
    InputError
        As `iter_policeuk_archive_months`; the months before the failing one stay stored.
    """
    total = IngestReport(read=ReadReport())
    for month, frame, read in iter_policeuk_archive_months(path, months=months, source=source,
                                                           settings=store.settings, limits=limits):
        report = store.add(frame, read_report=read, dry_run=dry_run)
        del frame
        total.rows_read += report.rows_read
        total.added += report.added
        total.duplicates += report.duplicates
        total.months = sorted(set(total.months) | set(report.months))
        total.read.merge(read)
        if on_month is not None:
            on_month(month, report)
    return total


def _skipped(path: Path) -> dict[str, int]:
    """Outcomes and stop-and-search files in the archive, by the reason they are not read."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            reason = skipped_kind(info.filename.rsplit("/", 1)[-1])
            if reason is not None and not info.is_dir():
                counts[reason] = counts.get(reason, 0) + 1
    return counts


__all__ = ["archive_months", "ingest_archive", "iter_policeuk_archive_months"]
