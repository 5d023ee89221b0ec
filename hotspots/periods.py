"""Analysis periods: ISO weeks, calendar months and date ranges, in the service's timezone."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.errors import InputError

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of local time with a label.

    `kind` is `week` (ISO week, Monday to Sunday), `month` or `range` (whole days from/to).
    `start` and `end` are timezone-aware timestamps at local midnight.
    """

    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    label: str

    @property
    def tz(self) -> str:
        return str(self.start.tz)

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days

    def shift(self, n: int) -> Period:
        """The period `n` steps later (negative: earlier) of the same kind and length."""
        if self.kind == "week":
            return week_period(self.start.date() + dt.timedelta(weeks=n), tz=self.tz)
        if self.kind == "month":
            m = self.start.year * 12 + self.start.month - 1 + n
            return month_period(m // 12, m % 12 + 1, tz=self.tz)
        first = self.start.date() + dt.timedelta(days=n * self.days)
        last = first + dt.timedelta(days=self.days - 1)
        return range_period(first, last, tz=self.tz)

    def previous(self) -> Period:
        return self.shift(-1)

    def history(self, n: int) -> list[Period]:
        """The last `n` periods ending with this one, oldest first."""
        return [self.shift(-k) for k in range(n - 1, -1, -1)]

    def months(self) -> list[str]:
        """The calendar months (`YYYY-MM`) this period touches."""
        first = self.start.year * 12 + self.start.month - 1
        last_day = self.end - pd.Timedelta(days=1)
        last = last_day.year * 12 + last_day.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]

    def contains(self, times: pd.Series) -> np.ndarray:
        """Boolean mask of the timestamps that fall in this period."""
        return ((times >= self.start) & (times < self.end)).to_numpy()

    def __str__(self) -> str:
        return self.label


@functools.lru_cache(maxsize=4096)
def _midnight(day: dt.date, tz: str) -> pd.Timestamp:
    # Localising is the slow part of parsing a period (pandas consults the tz database each
    # time), and every web request parses one; timestamps are immutable, so they can be shared.
    return pd.Timestamp(day).tz_localize(tz)


def week_period(day: dt.date, *, tz: str = DEFAULT_TZ) -> Period:
    """The ISO week holding `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    return Period("week", _midnight(monday, tz), _midnight(monday + dt.timedelta(days=7), tz),
                  f"{year:04d}-W{week:02d}")


def month_period(year: int, month: int, *, tz: str = DEFAULT_TZ) -> Period:
    """The calendar month `year`-`month`."""
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return Period("month", _midnight(start, tz), _midnight(end, tz), f"{year:04d}-{month:02d}")


def range_period(first: dt.date, last: dt.date, *, tz: str = DEFAULT_TZ) -> Period:
    """Whole days from `first` to `last`, both included."""
    if last < first:
        msg = f"period end {last} is before its start {first}."
        raise InputError(msg)
    return Period("range", _midnight(first, tz), _midnight(last + dt.timedelta(days=1), tz),
                  f"{first.isoformat()}..{last.isoformat()}")


def parse_period(text: str | Period, *, tz: str = DEFAULT_TZ) -> Period:
    """Parse `2025-W23` (ISO week), `2025-06` (month) or `2025-06-01..2025-06-14` (dates).

    Raises
    ------
    InputError
        When `text` is none of these forms.
    """
    if isinstance(text, Period):
        return text
    if not isinstance(text, str):
        msg = f"`period` must be a string such as '2025-W23' or '2025-06', not {type(text).__name__}."
        raise InputError(msg)
    s = text.strip()
    if m := _WEEK.match(s):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            msg = f"period {text!r}: {year} has no ISO week {week}."
            raise InputError(msg) from None
        return week_period(monday, tz=tz)
    if m := _MONTH.match(s):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            msg = f"period {text!r}: month must be 01 to 12."
            if 1 <= month <= 53:
                msg = (f"period {text!r}: month must be 01 to 12; for ISO week {month} write "
                       f"'{year:04d}-W{month:02d}'.")
            raise InputError(msg)
        return month_period(year, month, tz=tz)
    if ".." in s:
        a, b = (p.strip() for p in s.split("..", 1))
        return range_period(_parse_date(a, text), _parse_date(b, text), tz=tz)
    msg = (f"period {text!r} is not understood; expected an ISO week such as '2025-W23', a month "
           "such as '2025-06' or dates such as '2025-06-01..2025-06-14'.")
    raise InputError(msg)


def _parse_date(s: str, whole: str) -> dt.date:
    if not _DATE.match(s):
        msg = f"period {whole!r}: {s!r} is not a date in the form YYYY-MM-DD."
        raise InputError(msg)
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        msg = f"period {whole!r}: {s!r} is not a real date."
        raise InputError(msg) from None


def period_index(times: pd.Series, period: Period, n: int) -> np.ndarray:
    """For each timestamp, which of the `n` periods ending with `period` holds it.

    Returns an int array: 0 for the oldest of the `n` periods, `n - 1` for `period` itself, and -1 for
    timestamps outside all of them. Vectorised for weeks and months; ranges step by their length.
    """
    first = period.shift(-(n - 1))
    t = times.dt.tz_convert(period.tz) if times.dt.tz is not None else times.dt.tz_localize(period.tz)
    if period.kind == "month":
        idx = (t.dt.year.to_numpy() * 12 + t.dt.month.to_numpy() - 1) - (
            first.start.year * 12 + first.start.month - 1)
    else:
        # Local calendar days since the first period's start, robust to DST changes.
        local_days = (t.dt.tz_localize(None).dt.normalize() - first.start.tz_localize(None))
        idx = (local_days.dt.days.to_numpy() // period.days)
    idx = np.asarray(idx, dtype=np.int64)
    idx[(idx < 0) | (idx >= n)] = -1
    return idx
