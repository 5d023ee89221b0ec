"""Turn the paths given to `read_incidents` into the files to read: plain files, the CSVs of a
folder, and the CSV members of a police.uk archive zip."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hotspots.errors import Problem
from hotspots.report import ReadReport

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".parquet", ".geoparquet", ".fgb", ".shp"}

#: Police.uk archive files that are not street-level incidents: skipped and counted.
SKIPPED_KINDS = {
    "-outcomes.csv": "police.uk outcomes files (not read)",
    "-stop-and-search.csv": "police.uk stop-and-search files (not read)",
}


@dataclass(frozen=True)
class Source:
    """One file to read: a file on disk or a member of a zip archive."""

    name: str  # as shown in messages: the path, or "archive.zip/2024-05/2024-05-x-street.csv"
    path: Path  # the file, or the zip holding the member
    member: str | None = None
    size: int = 0  # bytes (uncompressed for a zip member)

    @property
    def suffix(self) -> str:
        return Path(self.member or self.path.name).suffix.lower()

    def open(self) -> IO[bytes]:
        """Open for reading bytes (the caller closes it)."""
        if self.member is None:
            return self.path.open("rb")
        # The member keeps the archive's file open after the ZipFile object is closed.
        with zipfile.ZipFile(self.path) as archive:
            return archive.open(self.member)

    def head(self, size: int) -> bytes:
        with self.open() as fh:
            return fh.read(size)


def skipped_kind(name: str) -> str | None:
    """The report reason when `name` is a police.uk outcomes or stop-and-search file, else None."""
    lower = name.lower()
    for ending, reason in SKIPPED_KINDS.items():
        if lower.endswith(ending):
            return reason
    return None


def _is_hidden(parts: Iterable[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _as_paths(paths: object) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    if isinstance(paths, Iterable):
        out = []
        for p in paths:
            if not isinstance(p, (str, os.PathLike)):
                msg = f"`paths` must hold file, folder or zip paths; got {type(p).__name__}."
                raise TypeError(msg)
            out.append(Path(p))
        return out
    msg = f"`paths` must be a path or a list of paths; got {type(paths).__name__}."
    raise TypeError(msg)


def expand_paths(paths: object, problems: list[Problem], report: ReadReport) -> list[Source]:
    """Return the files to read, in a stable order; add a `Problem` for each path that cannot be."""
    sources: list[Source] = []
    for path in _as_paths(paths):
        name = str(path)
        if path.is_dir():
            sources.extend(_folder_sources(path, problems, report))
        elif not path.exists():
            problems.append(Problem(name, None, None, None, "no such file or folder",
                                    kind="missing file"))
        elif path.suffix.lower() == ".zip" or _looks_like_zip(path):
            sources.extend(_zip_sources(path, problems, report))
        else:
            reason = skipped_kind(path.name)
            if reason is not None:
                problems.append(Problem(
                    name, None, None, None,
                    "is a police.uk outcomes or stop-and-search file, which holds no incidents "
                    "to map; give the -street.csv files instead", kind="wrong file"))
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                problems.append(Problem(name, None, None, None,
                                        f"cannot be read ({exc.strerror or exc})", kind="unreadable"))
                continue
            sources.append(Source(name, path, None, size))
    return sources


def _looks_like_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _folder_sources(folder: Path, problems: list[Problem], report: ReadReport) -> list[Source]:
    found: list[Source] = []
    skipped = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if _is_hidden(rel) or path.suffix.lower() != ".csv" or not path.is_file():
            continue
        reason = skipped_kind(path.name)
        if reason is not None:
            report.exclude(reason, 1)
            skipped += 1
            continue
        found.append(Source(str(path), path, None, path.stat().st_size))
    if not found:
        extra = f" (only {skipped} outcomes or stop-and-search files, which are not read)" if skipped else ""
        problems.append(Problem(str(folder), None, None, None,
                                f"holds no CSV files of incidents in it or its subfolders{extra}",
                                kind="no files"))
    return found


def _zip_sources(path: Path, problems: list[Problem], report: ReadReport) -> list[Source]:
    name = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        problems.append(Problem(name, None, None, None,
                                f"cannot be read as a zip archive ({exc})", kind="unreadable"))
        return []
    found: list[Source] = []
    skipped = 0
    for info in sorted(infos, key=lambda i: i.filename):
        parts = [p for p in info.filename.split("/") if p]
        if info.is_dir() or not parts or _is_hidden(parts) or not parts[-1].lower().endswith(".csv"):
            continue
        reason = skipped_kind(parts[-1])
        if reason is not None:
            report.exclude(reason, 1)
            skipped += 1
            continue
        found.append(Source(f"{name}/{info.filename}", path, info.filename, info.file_size))
    if not found:
        extra = f" (only {skipped} outcomes or stop-and-search files, which are not read)" if skipped else ""
        problems.append(Problem(name, None, None, None,
                                f"holds no CSV files of incidents{extra}", kind="no files"))
    return found
