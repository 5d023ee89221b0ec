"""What reading and storing incidents found: counts a user can check against the source files."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from hotspots.errors import Problem


def counted(n: int, noun: str) -> str:
    """`1 stop`, `3 stops`: a count and its noun for sentences people read (regular plurals)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class ReadReport:
    """What `read_incidents` did with its input.

    `excluded` counts rows left out on purpose, by reason (e.g. `no location`,
    `British Transport Police`); `warnings` counts rows kept with a caveat, by kind (e.g.
    `unknown crime type mapped to other`, `duplicate row within file`); `examples` holds up to a few
    `Problem`s per warning kind so a user can find them.
    """

    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    excluded: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    examples: dict[str, list[Problem]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # how a file was read, one line each

    MAX_EXAMPLES = 5

    @property
    def no_location(self) -> int:
        return int(self.excluded.get("no location", 0))

    def warn(self, kind: str, count: int = 1, example: Problem | None = None) -> None:
        if count <= 0:
            return
        self.warnings[kind] += count
        if example is not None:
            bucket = self.examples.setdefault(kind, [])
            if len(bucket) < self.MAX_EXAMPLES:
                bucket.append(example)

    def exclude(self, reason: str, count: int) -> None:
        if count > 0:
            self.excluded[reason] += count

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types (what a frame's `attrs["read_report"]` holds, so the
        frame can be written to Parquet or Feather with its report)."""
        return {
            "files": list(self.files),
            "rows_read": int(self.rows_read),
            "excluded": {str(k): int(v) for k, v in self.excluded.items()},
            "warnings": {str(k): int(v) for k, v in self.warnings.items()},
            "examples": {k: [asdict(p) for p in v] for k, v in self.examples.items()},
            "notices": list(self.notices),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReadReport:
        """The report `to_dict` gave (or one read back from a file's metadata)."""
        if not isinstance(data, dict):
            msg = f"a read report must be a dict; got {type(data).__name__}"
            raise TypeError(msg)
        return cls(
            files=[str(f) for f in data.get("files", [])],
            rows_read=int(data.get("rows_read", 0)),
            excluded=Counter({str(k): int(v) for k, v in data.get("excluded", {}).items()}),
            warnings=Counter({str(k): int(v) for k, v in data.get("warnings", {}).items()}),
            examples={str(k): [Problem(**p) for p in v]
                      for k, v in data.get("examples", {}).items()},
            notices=[str(n) for n in data.get("notices", [])],
        )

    def merge(self, other: ReadReport) -> None:
        self.files.extend(other.files)
        self.rows_read += other.rows_read
        self.notices.extend(other.notices)
        self.excluded.update(other.excluded)
        self.warnings.update(other.warnings)
        for kind, probs in other.examples.items():
            bucket = self.examples.setdefault(kind, [])
            bucket.extend(probs[: max(0, self.MAX_EXAMPLES - len(bucket))])


@dataclass
class IngestReport:
    """What `IncidentStore.add` did: rows offered, added and skipped as already stored."""

    rows_read: int = 0
    added: int = 0
    duplicates: int = 0
    months: list[str] = field(default_factory=list)
    read: ReadReport | None = None

    @property
    def no_location(self) -> int:
        return self.read.no_location if self.read else 0

    def to_dict(self) -> dict[str, Any]:
        read = self.read or ReadReport()
        return {
            "files": list(read.files),
            "rows_read": self.rows_read,
            "added": self.added,
            "duplicates_skipped": self.duplicates,
            "no_location": self.no_location,
            "excluded": dict(read.excluded),
            "warnings": dict(read.warnings),
            "warning_examples": {k: [str(p) for p in v] for k, v in read.examples.items()},
            "months": list(self.months),
            "notices": list(read.notices),
        }

    def lines(self) -> list[str]:
        """The report as lines for a terminal or a web page."""
        read = self.read or ReadReport()
        out = []
        if read.files:
            out.append(f"files:                   {len(read.files)}")
        out += [
            f"rows read:               {self.rows_read:,}",
            f"added:                   {self.added:,}",
            f"duplicates skipped:      {self.duplicates:,}",
            f"rows without a location: {self.no_location:,}",
        ]
        others = {k: v for k, v in read.excluded.items() if k != "no location"}
        for reason, n in sorted(others.items()):
            out.append(f"excluded ({reason}): {n:,}")
        for kind, n in sorted(read.warnings.items()):
            out.append(f"warning ({kind}): {n:,}")
            for p in read.examples.get(kind, [])[:3]:
                out.append(f"    e.g. {p}")
        if self.months:
            span = self.months[0] if len(self.months) == 1 else f"{self.months[0]} to {self.months[-1]}"
            out.append(f"months touched:          {span}")
        return out
