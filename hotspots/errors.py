"""Errors raised for input a user can fix, and the record of one problem in a file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    `row` is the 1-based line number in the file as a spreadsheet shows it (the header is row 1),
    or None when the problem is not about one row.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    kind: str = "invalid"

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        where = ", ".join(parts)
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            return f"{where}: {shown!r} {self.expected}"
        return f"{where}: {self.expected}"


class InputError(ValueError):
    """Input a user can fix: a bad file, argument or setting.

    The message is one line a user can act on. `problems` holds the problems found when more
    than one was collected (the message names the first and how many more there are); `total`
    is their true number, which is larger when only the first of many were kept.
    """

    def __init__(self, message: str, *, problems: list[Problem] | None = None,
                 total: int | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems or [])
        self.total = max(total or 0, len(self.problems))

    @classmethod
    def from_problems(cls, problems: list[Problem], *, total: int | None = None) -> InputError:
        """Build one error from a non-empty list of problems, naming the first; `total` is the
        true number of problems when `problems` keeps only some (default: as many as given)."""
        if not problems:
            msg = "`problems` must not be empty."
            raise ValueError(msg)
        first = str(problems[0])
        more = max(total or 0, len(problems)) - 1
        if more:
            kinds = sorted({p.kind for p in problems})
            first += f" (and {more:,} more problem{'s' if more > 1 else ''}: {', '.join(kinds)})"
        return cls(first, problems=problems, total=more + 1)
