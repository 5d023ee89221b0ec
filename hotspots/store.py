"""The incident store: a Parquet dataset partitioned by month, changed only all-or-nothing.

Layout under ``<home>/store``::

    manifest.json                      the committed state: which file holds each month, and the
                                       coverage of each month per source (`hotspots.coverage`)
    month=2025-06/part-<uuid>.parquet  one Parquet file per month, sorted by time: the data
                                       model's columns, points as `x`, `y` (EPSG:27700 metres)
    .lock                              serialises writers

Files written before `x`/`y` (GeoParquet with a `geometry` column) are read the same way and
rewritten in the current layout when their month next changes.

A change writes new month files under fresh names, then replaces ``manifest.json`` in one atomic
rename: that rename is the commit. A writer killed at any moment leaves either the old manifest
(the new files are orphans, removed by the next writer) or the new one; never a mix. Readers only
read files the manifest names, so they never see a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hotspots import _parquet
from hotspots.coverage import Coverage, month_records
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.periods import Period, parse_period
from hotspots.report import IngestReport, ReadReport
from hotspots.schema import INCIDENT_COLUMNS, conform, empty_incidents
from hotspots.settings import CATEGORIES, Settings, get_settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _checkpoint(name: str) -> None:
    """Pause at a named point of a write when a crash test asks for it (no effect otherwise).

    The test sets ``HOTSPOTS_STORE_CHECKPOINT=<name>:<marker file>``; the writer creates the marker
    and sleeps so the test can SIGKILL it at exactly that point.
    """
    wanted = os.environ.get("HOTSPOTS_STORE_CHECKPOINT", "")
    if not wanted:
        return
    point, _, marker = wanted.partition(":")
    if point == name and marker:
        Path(marker).touch()
        time.sleep(60)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def month_keys(times: pd.Series) -> np.ndarray:
    """`YYYY-MM` of each local timestamp."""
    ym = times.dt.year.to_numpy() * 100 + times.dt.month.to_numpy()
    uniques, inverse = np.unique(ym, return_inverse=True)
    labels = np.array([f"{u // 100:04d}-{u % 100:02d}" for u in uniques], dtype=object)
    return labels[inverse]


class IncidentStore:
    """Incidents of every source, one Parquet file per month, under `home`/store.

    Parameters
    ----------
    home
        The instance folder (`HOTSPOTS_HOME`); the store lives in its `store` subfolder.
    settings
        Resolved settings (timezone, wards); read with `get_settings(home)` when None.
    """

    def __init__(self, home: str | Path | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings(home)
        self.home = Path(home) if home is not None else self.settings.home
        self.path = self.home / "store"

    # ------------------------------------------------------------------ reading

    def _manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        if not path.exists():
            return {"format": FORMAT_VERSION, "months": {}, "counts": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"{path}: the store's manifest cannot be read ({exc})."
            raise InputError(msg) from None
        if data.get("format") != FORMAT_VERSION:
            msg = f"{path}: store format {data.get('format')!r} is not supported (expected {FORMAT_VERSION})."
            raise InputError(msg)
        return data

    def coverage(self) -> Coverage:
        """Which months (police.uk) or days (force exports) each source covers.

        Recorded in the manifest when incidents are added; a store written before coverage was
        recorded derives it once from its files (and keeps it, when the store is writable).
        """
        manifest = self._manifest()
        recorded = manifest.get("coverage", {})
        missing = [m for m in manifest["months"] if m not in recorded]
        if not missing:
            return Coverage.from_dict({m: recorded[m] for m in manifest["months"]})
        with contextlib.suppress(OSError), self._locked():
            manifest = self._manifest()
            coverage = self._month_coverage(manifest)
            self._commit({**manifest, "coverage": coverage})
            return Coverage.from_dict(coverage)
        return Coverage.from_dict(self._month_coverage(manifest))  # a read-only store

    def _month_coverage(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The manifest's coverage of every month it holds, derived from the files where missing."""
        recorded = manifest.get("coverage", {})
        out = {}
        for month, rel in manifest["months"].items():
            if month in recorded:
                out[month] = recorded[month]
                continue
            table = _parquet.read(self.path / rel, columns=["occurred_at", "time_precision", "source"],
                                  tz=self.settings.timezone)
            out[month] = _coverage_entry(_parquet.to_frame([table]))
        return out

    def months(self) -> list[str]:
        """Months (`YYYY-MM`) holding incidents, oldest first."""
        return sorted(self._manifest()["months"])

    def __len__(self) -> int:
        return int(sum(self._manifest().get("counts", {}).values()))

    def files(self, months: Iterable[str] | None = None) -> list[Path]:
        """The committed files, for the given months or all (for readers such as Dask)."""
        held = self._manifest()["months"]
        keys = sorted(held) if months is None else [m for m in sorted(set(months)) if m in held]
        return [self.path / held[m] for m in keys]

    def _read_files(self, paths: list[Path], columns: list[str] | None = None,
                    rows: _parquet.RowFilter | None = None) -> pd.DataFrame:
        if not paths:
            empty = empty_incidents(self.settings)
            return empty if columns is None else empty[list(columns)]
        return _parquet.to_frame([_parquet.read_files(paths, columns=columns, rows=rows,
                                                      tz=self.settings.timezone)])

    def load(
        self,
        *,
        period: str | Period | None = None,
        wards: Any = None,
        categories: Iterable[str] | str | None = None,
        sources: Iterable[str] | str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        columns: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Read incidents from the store: only the months of `period`, and of those only the rows
        and columns asked for (the filters are pushed into the Parquet read).

        Parameters
        ----------
        period
            A `Period` or a label (`2025-W23`, `2025-06`, `2025-06-01..2025-06-30`); None: all.
        wards
            None (no spatial filter), a ward spec (`priority`, `all`, codes or names) or a
            GeoDataFrame of ward polygons: keeps incidents inside them.
        categories
            `asb`, `serious_violence`, `other` (one or several); None or `all`: every category.
        sources
            Keep only these sources (e.g. `demo`).
        bbox
            (xmin, ymin, xmax, ymax) in EPSG:27700 metres: keep incidents inside this box (edges
            included), e.g. the study area of an analysis widened by a cell.
        columns
            Data-model columns to read (default: all), e.g. `hotspots.selection.ANALYSIS_COLUMNS`.

        Returns
        -------
        pandas.DataFrame
            Incidents in the data model's columns (`x`, `y` in EPSG:27700), ordered by time.
            `hotspots.schema.to_geodataframe` makes points of them.
        """
        chosen_period = parse_period(period, tz=self.settings.timezone) if period is not None else None
        cats = _categories(categories)
        wanted = list(INCIDENT_COLUMNS) if columns is None else _columns(columns)
        rows = _parquet.RowFilter(
            start=chosen_period.start if chosen_period is not None else None,
            end=chosen_period.end if chosen_period is not None else None,
            categories=tuple(cats) if cats is not None else None,
            sources=(tuple([sources] if isinstance(sources, str) else sources)
                     if sources is not None else None),
            bbox=tuple(float(v) for v in bbox) if bbox is not None else None,
        )
        months = chosen_period.months() if chosen_period is not None else None
        read_cols = wanted
        if wards is not None:
            read_cols = wanted + [c for c in ("x", "y") if c not in wanted]
        if "occurred_at" not in read_cols:
            read_cols = read_cols + ["occurred_at"]
        frame = self._read_files(self.files(months), columns=read_cols, rows=rows)
        if wards is not None:
            inside = self._inside(frame, wards)
            if not inside.all():
                frame = frame.loc[inside].reset_index(drop=True)
        if not frame["occurred_at"].is_monotonic_increasing:  # the files are sorted by time
            frame = frame.sort_values("occurred_at", kind="stable", ignore_index=True)
        if list(frame.columns) != wanted:
            frame = frame[wanted]
        return frame

    def _inside(self, frame: pd.DataFrame, wards: Any) -> np.ndarray:
        import geopandas as gpd
        import shapely

        from hotspots.wards import load_wards, select_wards

        if not isinstance(wards, gpd.GeoDataFrame):
            wards = select_wards(load_wards(settings=self.settings), wards)
        area = shapely.union_all(wards.to_crs(BNG).geometry.to_numpy())
        shapely.prepare(area)
        if not len(frame):
            return np.zeros(0, dtype=bool)
        return shapely.contains_xy(area, frame["x"].to_numpy(), frame["y"].to_numpy())

    def summary(self) -> dict[str, Any]:
        """Counts by month, category, source and time precision (reads only those columns), the
        months missing between the first and last (`gaps`), the months that may be partial
        (`partial`, see `Coverage.partial`) and the one-line coverage (`coverage`)."""
        manifest = self._manifest()
        out: dict[str, Any] = {
            "path": str(self.path), "incidents": 0, "months": sorted(manifest["months"]),
            "first_month": None, "last_month": None, "by_source": {}, "by_category": {},
            "by_precision": {}, "by_month": {}, "gaps": [], "partial": [], "coverage": "no incidents",
        }
        if not manifest["months"]:
            return out
        by_source: dict[str, int] = {}
        by_cat: dict[str, int] = {}
        by_prec: dict[str, int] = {}
        for month in out["months"]:
            table = self._read_files([self.path / manifest["months"][month]],
                                     columns=["category", "source", "time_precision"])
            row = {"total": len(table)}
            for cat, n in table["category"].astype(str).value_counts().items():
                row[cat] = int(n)
                by_cat[cat] = by_cat.get(cat, 0) + int(n)
            for src, n in table["source"].astype(str).value_counts().items():
                by_source[src] = by_source.get(src, 0) + int(n)
            for prec, n in table["time_precision"].astype(str).value_counts().items():
                by_prec[prec] = by_prec.get(prec, 0) + int(n)
            out["by_month"][month] = row
        out["incidents"] = sum(r["total"] for r in out["by_month"].values())
        out["first_month"], out["last_month"] = out["months"][0], out["months"][-1]
        out["by_source"] = dict(sorted(by_source.items(), key=lambda kv: -kv[1]))
        out["by_category"] = {c: by_cat[c] for c in CATEGORIES if c in by_cat}
        out["by_precision"] = by_prec
        coverage = self.coverage()
        out["gaps"] = coverage.gaps()
        out["partial"] = coverage.partial()
        out["coverage"] = coverage.describe()
        return out

    def is_demo(self) -> bool:
        """True when any stored incident is synthetic demo data."""
        return "demo" in self.summary()["by_source"]

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self._collect_garbage()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _collect_garbage(self) -> None:
        """Remove files no committed manifest names (left by a writer that was killed)."""
        held = {str(self.path / rel) for rel in self._manifest()["months"].values()}
        for part in self.path.glob("month=*/*"):
            if str(part) not in held:
                with contextlib.suppress(OSError):
                    part.unlink()
        for tmp in self.path.glob(".manifest-*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in self.path.glob("month=*"):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty

    def _write_month(self, month: str, frame: pd.DataFrame) -> str:
        """Write one month's incidents (conformed, sorted by time) under a fresh name."""
        folder = self.path / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        rel = f"month={month}/part-{uuid.uuid4().hex}.parquet"
        target = self.path / rel
        # Only the data model's columns are written: reports travel in attrs; they are not data.
        _parquet.write(_parquet.to_arrow(frame, self.settings.timezone), target)
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
        return rel

    def _commit(self, manifest: dict[str, Any]) -> None:
        tmp = self.path / f".manifest-{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / MANIFEST)
        _fsync_dir(self.path)

    def add(
        self,
        incidents: pd.DataFrame,
        *,
        read_report: ReadReport | None = None,
        dry_run: bool = False,
    ) -> IngestReport:
        """Add incidents; rows whose `incident_id` is already stored (or repeated) are skipped.

        All-or-nothing: the frame is checked first, and the change becomes visible in one atomic
        rename. Re-adding the same rows adds nothing.

        Returns
        -------
        IngestReport
            Rows offered, added, duplicates skipped, months touched (plus `read_report`, or
            else the report `read_incidents` left in the frame's `attrs["read_report"]`).

        Raises
        ------
        InputError
            The frame lacks data-model columns, has missing ids, times or points, or a wrong CRS.
        """
        if read_report is None:
            read_report = _attached_report(incidents)
        frame = self._check(incidents)
        report = IngestReport(rows_read=read_report.rows_read if read_report else len(frame),
                              read=read_report)
        first = ~frame["incident_id"].duplicated().to_numpy()
        within_dupes = int((~first).sum())
        frame = frame.loc[first]
        keys = month_keys(frame["occurred_at"]) if len(frame) else np.array([], dtype=object)
        with self._locked():
            manifest = self._manifest()
            new_months = dict(manifest["months"])
            counts = dict(manifest.get("counts", {}))
            coverage = self._month_coverage(manifest)
            added = 0
            stored_dupes = 0
            touched = sorted(set(keys))
            written = []
            for month in touched:
                rows = frame.loc[keys == month]
                existing = None
                if month in manifest["months"]:
                    current = self.path / manifest["months"][month]
                    ids = pq.read_table(current, columns=["incident_id"]).column("incident_id")
                    seen = rows["incident_id"].isin(ids.to_pandas()).to_numpy()
                    stored_dupes += int(seen.sum())
                    rows = rows.loc[~seen]
                    if rows.empty:
                        continue
                    existing = self._read_files([current])
                if rows.empty:
                    continue
                merged = rows if existing is None else conform(
                    pd.concat([existing, rows], ignore_index=True), self.settings)
                merged = merged.sort_values("occurred_at", kind="stable", ignore_index=True)
                added += len(rows)
                if not dry_run:
                    new_months[month] = self._write_month(month, merged)
                    counts[month] = len(merged)
                    coverage[month] = _coverage_entry(merged)
                    written.append(month)
                    _checkpoint("after-first-month" if len(written) == 1 else "after-month")
            report.added = added
            report.duplicates = within_dupes + stored_dupes
            report.months = touched
            if dry_run or not written:
                return report
            _checkpoint("before-commit")
            self._commit({"format": FORMAT_VERSION, "months": new_months, "counts": counts,
                          "coverage": coverage})
            _checkpoint("after-commit")
            self._collect_garbage()
        log.info("stored %d incidents in %d month(s)", added, len(written))
        return report

    def remove(self, *, source: str) -> int:
        """Remove every incident of one `source` (e.g. `demo`); returns how many were removed."""
        removed = 0
        with self._locked():
            manifest = self._manifest()
            months = dict(manifest["months"])
            counts = dict(manifest.get("counts", {}))
            coverage = self._month_coverage(manifest)
            changed = False
            for month, rel in manifest["months"].items():
                sources = self._read_files([self.path / rel], columns=["source"])["source"]
                drop = (sources == source).to_numpy(dtype=bool)
                if not drop.any():
                    continue
                changed = True
                removed += int(drop.sum())
                if drop.all():
                    del months[month]
                    counts.pop(month, None)
                    coverage.pop(month, None)
                    continue
                frame = self._read_files([self.path / rel])
                kept = frame.loc[~drop].reset_index(drop=True)
                months[month] = self._write_month(month, kept)
                counts[month] = len(kept)
                coverage[month] = _coverage_entry(kept)
            if changed:
                self._commit({"format": FORMAT_VERSION, "months": months, "counts": counts,
                              "coverage": coverage})
                self._collect_garbage()
        return removed

    def _check(self, incidents: pd.DataFrame) -> pd.DataFrame:
        import geopandas as gpd

        if not isinstance(incidents, pd.DataFrame):
            msg = f"`incidents` must be a DataFrame of incidents, not {type(incidents).__name__}."
            raise InputError(msg)
        has_xy = "x" in incidents.columns and "y" in incidents.columns
        has_points = (isinstance(incidents, gpd.GeoDataFrame)
                      and incidents.active_geometry_name in incidents.columns)
        # `location` came later: frames without it are stored with "" (schema.conform); points
        # come as `x`, `y` or as a GeoDataFrame's geometry.
        missing = [c for c in INCIDENT_COLUMNS if c not in incidents.columns and c != "location"
                   and not (c in ("x", "y") and has_points)]
        if missing:
            msg = (f"`incidents` lacks the column(s) {', '.join(missing)}; "
                   f"found: {', '.join(map(str, incidents.columns))}.")
            raise InputError(msg)
        if has_points and not has_xy:
            if incidents.crs is None:
                msg = "`incidents` has no CRS; incidents must be in EPSG:27700 (use set_crs if they are)."
                raise InputError(msg)
            if not incidents.crs.equals(BNG):
                msg = (f"`incidents` are in {incidents.crs.to_string()}, not EPSG:27700; "
                       "reproject them with to_crs('EPSG:27700') first.")
                raise InputError(msg)
            geoms = incidents.geometry.to_numpy()
            import shapely

            bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | (shapely.get_type_id(geoms) != 0)
            if bad.any():
                msg = f"`incidents` has {int(bad.sum())} row(s) without a point location (first at index {int(np.argmax(bad))})."
                raise InputError(msg)
        frame = conform(incidents, self.settings)
        for column in ("incident_id", "occurred_at", "category", "time_precision"):
            bad = frame[column].isna().to_numpy()
            if bad.any():
                msg = f"`incidents` has {int(bad.sum())} row(s) with no {column} (first at index {int(np.argmax(bad))})."
                raise InputError(msg)
        bad = ~(np.isfinite(frame["x"].to_numpy()) & np.isfinite(frame["y"].to_numpy()))
        if bad.any():
            msg = f"`incidents` has {int(bad.sum())} row(s) without a point location (first at index {int(np.argmax(bad))})."
            raise InputError(msg)
        return frame


def _categories(categories: Iterable[str] | str | None) -> list[str] | None:
    if categories is None:
        return None
    items = [categories] if isinstance(categories, str) else list(categories)
    if "all" in items:
        return None
    unknown = [c for c in items if c not in CATEGORIES]
    if unknown:
        msg = f"unknown category {unknown[0]!r}; expected one of {', '.join(CATEGORIES)} or all."
        raise InputError(msg)
    return items


def _columns(columns: Iterable[str]) -> list[str]:
    items = [columns] if isinstance(columns, str) else list(columns)
    unknown = [c for c in items if c not in INCIDENT_COLUMNS]
    if unknown:
        msg = f"unknown column {unknown[0]!r}; the store holds {', '.join(INCIDENT_COLUMNS)}."
        raise InputError(msg)
    return items


def _coverage_entry(frame: pd.DataFrame) -> dict[str, Any]:
    """One month's coverage in the manifest's form: `{source: {incidents, whole_month, days}}`."""
    return {rec.source: rec.to_dict() for rec in month_records(frame)}


def _attached_report(frame: pd.DataFrame) -> ReadReport | None:
    """The read report `read_incidents` left in `frame.attrs` (a dict, or a `ReadReport` set
    by hand); None when there is none, or it cannot be read (it only describes the read)."""
    attached = getattr(frame, "attrs", {}).get("read_report")
    if attached is None or isinstance(attached, ReadReport):
        return attached
    try:
        return ReadReport.from_dict(attached)
    except (TypeError, ValueError, AttributeError) as exc:
        log.warning("ignoring the frame's attrs['read_report']: %s", exc)
        return None
