"""What the data lets an analysis claim about a period's past: which periods of its window hold
data, whether a change against the previous period and a trend may be stated, and the plain
sentences that say what is missing (a missing month is missing, not zero)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hotspots.coverage import Coverage
from hotspots.errors import InputError
from hotspots.report import counted

if TYPE_CHECKING:
    from hotspots.periods import Period

#: Fewest periods with data a trend class is computed over; with fewer there is no trend.
MIN_TREND_PERIODS = 3
#: Day-precision sources (force exports) cover the days holding their incidents; a run of
#: empty days shorter than this between covered days is quiet, not missing.
QUIET_DAYS = 7


@dataclass(frozen=True)
class History:
    """Which periods of an analysis window hold data and what may be said about them.

    `covered` is per period of `periods` (oldest first, the analysed period last): True when every
    day of it holds data. `baseline` says whether the change against the previous period may be
    stated; `trend` whether a trend class may; `trend_columns` are the positions of the periods
    the trend is computed over (the covered ones and the analysed period). `notes` are the
    sentences a header shows (empty when the window is whole).
    """

    periods: list[Period]
    covered: np.ndarray
    baseline: bool
    trend: bool
    trend_columns: np.ndarray
    notes: tuple[str, ...]

    @property
    def trend_periods(self) -> int:
        return len(self.trend_columns)

    @property
    def missing(self) -> list[str]:
        return [p.label for p, c in zip(self.periods, self.covered, strict=True) if not c]


def coverage_of(incidents: Any, coverage: Coverage | None = None) -> Coverage:
    """The coverage an analysis of `incidents` uses: `coverage` when given, a store's own record,
    else what the incident frame itself shows (each source's months or days holding incidents)."""
    if coverage is not None:
        if not isinstance(coverage, Coverage):
            msg = f"`coverage` must be a hotspots.coverage.Coverage, not {type(coverage).__name__}."
            raise InputError(msg)
        return coverage
    from hotspots.store import IncidentStore

    if isinstance(incidents, IncidentStore):
        return incidents.coverage()
    frame = incidents
    if "source" not in frame.columns:
        frame = frame[["occurred_at", "time_precision"]].assign(source="incidents")
    return Coverage.from_incidents(frame)


def covered_fraction(coverage: Coverage, period: Period) -> float:
    """Share of `period`'s days with data, reading a run of fewer than `QUIET_DAYS` empty days
    between days with data as quiet days, not missing ones (force exports record days only
    where something happened; police.uk months are whole)."""
    first = period.start.date()
    n = period.days
    if n <= 0:
        return 0.0
    start = first - dt.timedelta(days=QUIET_DAYS)
    days = np.array([coverage.is_day_covered(start + dt.timedelta(days=i))
                     for i in range(n + 2 * QUIET_DAYS)], dtype=bool)
    if not days[QUIET_DAYS:QUIET_DAYS + n].all():
        held = np.flatnonzero(days)
        if len(held):
            gaps = np.diff(held) - 1
            for a, g in zip(held[:-1], gaps, strict=True):
                if 0 < g < QUIET_DAYS:
                    days[a + 1:a + 1 + g] = True
    return float(days[QUIET_DAYS:QUIET_DAYS + n].mean())


def holds(coverage: Coverage) -> str:
    """`the store holds` or `the incidents hold`: who holds the data, for messages."""
    return "the store holds" if coverage.origin == "store" else "the incidents hold"


def window_history(coverage: Coverage, periods: list[Period], *, noun: str,
                   min_trend: int = MIN_TREND_PERIODS, with_trend: bool = True) -> History:
    """What may be claimed about the last of `periods` (oldest first) given `coverage`.

    - The analysed period must hold some data: else `InputError` naming the months held.
    - The change against the previous period is stated only when that period is wholly covered
      and neither period is a possibly partial month (`Coverage.partial`).
    - The trend is computed over the covered periods (and the analysed one) when there are at
      least `min_trend` of them, and says so when some are missing; else there is no trend
      (`with_trend=False`: no trend is asked for, and nothing is said about one).

    Raises
    ------
    InputError
        ``no data for 2025-01: the store holds 2025-02, 2025-05.``
    """
    current = periods[-1]
    who = holds(coverage)
    if not coverage.covered_fraction(current):
        msg = f"no data for {current.label}: {who} {coverage.holds()}."
        raise InputError(msg)
    fractions = np.array([covered_fraction(coverage, p) for p in periods])
    covered = fractions >= 1
    partial = set(coverage.partial())
    notes: list[str] = []
    fraction = float(fractions[-1])
    if fraction < 1:
        missing = coverage.missing_months(current)
        gap = f" (no data for {', '.join(missing)})" if missing else ""
        notes.append(f"{current.label} is only {100 * fraction:.0f}% covered{gap}: its counts are "
                     "low for the days missing.")
    current_partial = [m for m in current.months() if m in partial]
    if current_partial:
        notes.append(f"{', '.join(current_partial)} may be incomplete: it holds far fewer incidents "
                     "than the months around it (police.uk publishes months late).")
    baseline = False
    if len(periods) >= 2:
        previous = periods[-2]
        prev_partial = [m for m in previous.months() if m in partial]
        if not coverage.covered_fraction(previous):  # not one day with data
            notes.append(f"no baseline: {who} no data for {previous.label}, so no change is shown.")
        elif not covered[-2]:
            notes.append(f"no baseline: {previous.label} is only partly covered, so no change is shown.")
        elif prev_partial or current_partial:
            which = ", ".join(dict.fromkeys(prev_partial + current_partial))
            notes.append(f"no change is shown: {which} may be incomplete.")
        elif fraction < 1:
            notes.append(f"no change is shown: {current.label} is only partly covered.")
        else:
            baseline = True
    columns = np.flatnonzero(covered[:-1])
    columns = np.r_[columns, len(periods) - 1].astype(np.int64)
    t = len(periods)
    k = len(columns)
    trend = with_trend and k >= min_trend
    if not with_trend:
        pass
    elif not trend:
        held = [periods[i].label for i in columns]
        notes.append(f"no trend: {who} {k} of the last {counted(t, noun)} "
                     f"({', '.join(held)}); a trend needs at least {min_trend}.")
    elif k < t:
        gone = [p.label for p, c in zip(periods[:-1], covered[:-1], strict=True) if not c]
        notes.append(f"trend over the {counted(k, noun)} with data of the last {t} "
                     f"({', '.join(gone)} missing).")
    return History(periods=list(periods), covered=covered, baseline=baseline, trend=trend,
                   trend_columns=columns if trend else np.zeros(0, dtype=np.int64),
                   notes=tuple(notes))


__all__ = ["MIN_TREND_PERIODS", "QUIET_DAYS", "History", "coverage_of", "covered_fraction", "holds",
           "window_history"]
