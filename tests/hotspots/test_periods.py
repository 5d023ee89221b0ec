"""Periods: parsing errors, then ISO weeks, months and ranges in Europe/London."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError, parse_period
from hotspots.periods import period_index


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-W54", "2025 has no ISO week 54"),
        ("2025-13", "month must be 01 to 12"),
        ("2025-23", r"month must be 01 to 12; for ISO week 23 write '2025-W23'\.$"),
        ("2025-60", r"month must be 01 to 12\.$"),
        ("June 2025", "is not understood; expected an ISO week"),
        ("2025-06-31..2025-07-02", "is not a real date"),
        ("2025-06-10..2025-06-01", "is before its start"),
        ("2025/06/01..2025-06-02", "is not a date in the form YYYY-MM-DD"),
    ],
)
def test_bad_periods(text, message):
    with pytest.raises(InputError, match=message):
        parse_period(text)


def test_iso_week_is_monday_to_sunday_local():
    week = parse_period("2025-W23")
    assert week.kind == "week" and week.label == "2025-W23"
    assert week.start == pd.Timestamp("2025-06-02", tz="Europe/London")
    assert week.end == pd.Timestamp("2025-06-09", tz="Europe/London")
    assert str(week.previous()) == "2025-W22" and str(week.shift(30)) == "2026-W01"
    assert parse_period("2026-W01").start == pd.Timestamp("2025-12-29", tz="Europe/London")


def test_month_and_range():
    month = parse_period("2025-03")
    assert (month.start.hour, month.days) == (0, 31)
    assert str(month.previous()) == "2025-02" and str(parse_period("2025-01").previous()) == "2024-12"
    rng = parse_period("2025-06-01..2025-06-14")
    assert rng.days == 14 and str(rng.previous()) == "2025-05-18..2025-05-31"
    assert parse_period("2025-W05").months() == ["2025-01", "2025-02"]


def test_dst_week_is_seven_local_days():
    week = parse_period("2025-W13")  # clocks go forward on Sunday 30 March 2025
    assert week.end - week.start == pd.Timedelta(days=7) - pd.Timedelta(hours=1)
    assert week.end.hour == 0


def test_period_index():
    times = pd.Series(pd.to_datetime(
        ["2025-05-19 00:00", "2025-06-08 23:59", "2025-06-09 00:00", "2025-05-18 23:00"]
    )).dt.tz_localize("Europe/London")
    idx = period_index(times, parse_period("2025-W23"), 3)  # W21, W22, W23
    np.testing.assert_array_equal(idx, [0, 2, -1, -1])
    months = period_index(times, parse_period("2025-06"), 2)
    np.testing.assert_array_equal(months, [0, 1, 1, 0])
