"""Which periods the incidents cover, per source: a missing month is missing, not zero.

police.uk and other sources with month precision cover whole months; force exports with day or
minute precision cover the days that hold at least one of their incidents. The store records this
when incidents are added (`IncidentStore.coverage`); `Coverage.from_incidents` infers it from a frame.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hotspots.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from hotspots.periods import Period

#: A month is possibly partial when it holds fewer than this share of the median count of its
#: covered neighbours (up to `PARTIAL_NEIGHBOURS` nearest covered months on each side, same source).
#: ASB's seasonal low (December, ~0.45x October) stays above it.
PARTIAL_SHARE = 0.5
PARTIAL_NEIGHBOURS = 2


@dataclass(frozen=True)
class MonthCoverage:
    """What one source holds in one calendar month.

    `whole_month` is True when the source has month-precision incidents there (it covers every
    day of the month); `days` are the days of the month (1-31) holding day- or minute-precision
    incidents; `incidents` counts all of the source's incidents in the month.
    """

    source: str
    month: str
    incidents: int
    whole_month: bool
    days: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"incidents": self.incidents, "whole_month": self.whole_month, "days": list(self.days)}


@dataclass(frozen=True)
class Coverage:
    """The periods covered by each source of a set of incidents.

    Parameters
    ----------
    records
        One `MonthCoverage` per source and month holding incidents.
    origin
        `store` or `incidents`: how messages name what holds the data.
    """

    records: tuple[MonthCoverage, ...] = ()
    origin: str = "store"

    # ------------------------------------------------------------------ building

    @classmethod
    def from_incidents(cls, frame: pd.DataFrame, *, origin: str = "incidents") -> Coverage:
        """Infer coverage from a frame with `occurred_at`, `time_precision` and `source`.

        A month with at least one month-precision incident of a source is covered by it; a day
        with at least one day- or minute-precision incident is covered.
        """
        return cls(tuple(month_records(frame)), origin=origin)

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Mapping[str, Any]]], *,
                  origin: str = "store") -> Coverage:
        """Read the `{month: {source: {incidents, whole_month, days}}}` form of `to_dict`."""
        records = [
            MonthCoverage(source=str(source), month=str(month), incidents=int(rec["incidents"]),
                          whole_month=bool(rec["whole_month"]),
                          days=tuple(sorted(int(d) for d in rec.get("days", ()))))
            for month, by_source in data.items() for source, rec in by_source.items()
        ]
        return cls(tuple(sorted(records, key=lambda r: (r.month, r.source))), origin=origin)

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        """`{month: {source: {incidents, whole_month, days}}}` (JSON-ready; the store's manifest form)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for rec in self.records:
            out.setdefault(rec.month, {})[rec.source] = rec.to_dict()
        return out

    # ------------------------------------------------------------------ derived sets

    @cached_property
    def _whole_months(self) -> frozenset[str]:
        return frozenset(r.month for r in self.records if r.whole_month)

    @cached_property
    def _days(self) -> frozenset[dt.date]:
        out = set()
        for r in self.records:
            year, month = int(r.month[:4]), int(r.month[5:7])
            out.update(dt.date(year, month, d) for d in r.days)
        return frozenset(out)

    def sources(self) -> list[str]:
        """The sources holding incidents, alphabetically."""
        return sorted({r.source for r in self.records})

    def _for(self, source: str | None) -> list[MonthCoverage]:
        return [r for r in self.records if source is None or r.source == source]

    def incidents_by_month(self, source: str | None = None) -> dict[str, int]:
        """Incidents per covered month (`YYYY-MM`), of one source or all, oldest first."""
        out: dict[str, int] = {}
        for r in self._for(source):
            out[r.month] = out.get(r.month, 0) + r.incidents
        return dict(sorted(out.items()))

    def covered_months(self, source: str | None = None) -> list[str]:
        """Months (`YYYY-MM`) holding data of any source (or of `source`), oldest first."""
        return sorted({r.month for r in self._for(source) if r.whole_month or r.days})

    def is_day_covered(self, day: dt.date) -> bool:
        return f"{day.year:04d}-{day.month:02d}" in self._whole_months or day in self._days

    def _period_days(self, period: Period | str) -> list[dt.date]:
        period = _as_period(period)
        first = period.start.date()
        return [first + dt.timedelta(days=k) for k in range(period.days)]

    # ------------------------------------------------------------------ questions

    def covered_fraction(self, period: Period | str) -> float:
        """Share of the period's days that are covered (0.0 to 1.0)."""
        days = self._period_days(period)
        if not days:
            return 0.0
        return sum(self.is_day_covered(d) for d in days) / len(days)

    def is_covered(self, period: Period | str) -> bool:
        """True when every day of `period` is covered by some source."""
        return all(self.is_day_covered(d) for d in self._period_days(period))

    def missing_months(self, period: Period | str) -> list[str]:
        """Months the period touches in which none of its days is covered."""
        by_month: dict[str, bool] = {}
        for d in self._period_days(period):
            key = f"{d.year:04d}-{d.month:02d}"
            by_month[key] = by_month.get(key, False) or self.is_day_covered(d)
        return [m for m, covered in by_month.items() if not covered]

    def gaps(self, source: str | None = None) -> list[str]:
        """Months between the first and last covered month (of any source, or of `source`) with no data."""
        months = self.covered_months(source)
        if not months:
            return []
        held = set(months)
        return [m for m in _month_range(months[0], months[-1]) if m not in held]

    def partial(self, source: str | None = None) -> list[str]:
        """Months that may be partial: for some source, the month holds fewer than half
        (`PARTIAL_SHARE`) the median count of its covered neighbours (up to two nearest covered
        months on each side, in that source). A month with no covered neighbour is never flagged."""
        flagged: set[str] = set()
        for src in ([source] if source is not None else self.sources()):
            counts = self.incidents_by_month(src)
            months = list(counts)
            for i, month in enumerate(months):
                near = months[max(0, i - PARTIAL_NEIGHBOURS):i] + months[i + 1:i + 1 + PARTIAL_NEIGHBOURS]
                if near and counts[month] < PARTIAL_SHARE * statistics.median(counts[m] for m in near):
                    flagged.add(month)
        return sorted(flagged)

    # ------------------------------------------------------------------ words

    @property
    def _holder(self) -> str:
        return "the store holds" if self.origin == "store" else "the incidents cover"

    def holds(self) -> str:
        """The covered months, compactly: `2023-01..2024-12, 2025-02` (or `no incidents`)."""
        months = self.covered_months()
        return ", ".join(_runs(months, _next_month)) if months else "no incidents"

    def describe(self) -> str:
        """One line per the whole set, source by source:
        `police.uk 2025-02, 2025-05 (2025-03..2025-04 missing)`."""
        parts = []
        for src in self.sources():
            recs = self._for(src)
            whole = sorted({r.month for r in recs if r.whole_month})
            days = sorted(
                dt.date(int(r.month[:4]), int(r.month[5:7]), d) for r in recs if not r.whole_month
                for d in r.days)
            spans = _runs(whole, _next_month) + _runs(days, lambda d: d + dt.timedelta(days=1))
            text = f"{src} {', '.join(spans)}"
            notes = []
            gaps = self.gaps(src)
            if gaps:
                notes.append(f"{', '.join(_runs(gaps, _next_month))} missing")
            partial = self.partial(src)
            if partial:
                notes.append(f"{', '.join(partial)} possibly partial")
            if notes:
                text += f" ({'; '.join(notes)})"
            parts.append(text)
        return "; ".join(parts) if parts else "no incidents"

    def require(self, period: Period | str) -> None:
        """Refuse a period with no data at all.

        Raises
        ------
        InputError
            `no data for 2025-01: the store holds 2025-02, 2025-05`.
        """
        period = _as_period(period)
        if self.covered_fraction(period) > 0:
            return
        if not self.records:
            msg = f"no data for {period.label}: {'the store is empty' if self.origin == 'store' else 'there are no incidents'}."
        else:
            msg = f"no data for {period.label}: {self._holder} {self.holds()}."
        raise InputError(msg)

    def to_summary(self) -> dict[str, Any]:
        """JSON-ready overview: covered months, gaps, possibly partial months, the one-line description."""
        return {
            "covered_months": self.covered_months(),
            "gaps": self.gaps(),
            "partial": self.partial(),
            "describe": self.describe(),
            "by_source": {src: {"months": self.covered_months(src), "gaps": self.gaps(src),
                                "partial": self.partial(src)} for src in self.sources()},
        }


def month_records(frame: pd.DataFrame) -> list[MonthCoverage]:
    """Per source and month of `frame`: its count, whether it has month-precision rows, its days."""
    import numpy as np
    import pandas as pd

    if not len(frame):
        return []
    times = frame["occurred_at"]
    ymd = (times.dt.year.to_numpy().astype(np.int64) * 10000 + times.dt.month.to_numpy() * 100
           + times.dt.day.to_numpy())
    whole = (np.asarray(frame["time_precision"], dtype=object) == "month")
    src_codes, src_names = pd.factorize(frame["source"])
    keys = pd.DataFrame({"s": src_codes, "ym": ymd // 100, "d": np.where(whole, 0, ymd % 100)})
    grouped = keys.groupby(["s", "ym", "d"], sort=True).size()
    acc: dict[tuple[str, str], list] = {}
    for (s, ym, d), n in grouped.items():
        key = (str(src_names[s]), f"{ym // 100:04d}-{ym % 100:02d}")
        entry = acc.setdefault(key, [0, False, []])
        entry[0] += int(n)
        if d == 0:
            entry[1] = True
        else:
            entry[2].append(int(d))
    return sorted((MonthCoverage(src, month, n, whole_month, tuple(days))
                   for (src, month), (n, whole_month, days) in acc.items()),
                  key=lambda r: (r.month, r.source))


def _as_period(period: Period | str) -> Period:
    from hotspots.periods import parse_period

    return parse_period(period)


def _next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}"


def _month_range(first: str, last: str) -> list[str]:
    out = [first]
    while out[-1] < last:
        out.append(_next_month(out[-1]))
    return out


def _runs(items: Iterable, step) -> list[str]:
    """Sorted items as runs of consecutive ones: `a..c`, or `a` alone."""
    out: list[str] = []
    items = list(items)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and step(items[j]) == items[j + 1]:
            j += 1
        first, last = str(items[i]), str(items[j])
        out.append(first if i == j else f"{first}..{last}")
        i = j + 1
    return out
