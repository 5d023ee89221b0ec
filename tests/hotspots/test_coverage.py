"""Coverage: which months or days each source covers; gaps, partial months, refusing empty periods."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError
from hotspots.coverage import Coverage
from hotspots.periods import parse_period
from hotspots.schema import make_incidents
from hotspots.store import IncidentStore

HAREHILLS = (432150.0, 435000.0)


def monthly(settings, counts: dict[str, int], *, source="police.uk", prefix="p"):
    """police.uk-like rows: month precision, dated the first of their month."""
    months = [m for m, n in counts.items() for _ in range(n)]
    n = len(months)
    return make_incidents(
        incident_id=[f"{prefix}{k}" for k in range(n)],
        occurred_at=pd.to_datetime([f"{m}-01" for m in months]),
        time_precision="month",
        crime_type=["Anti-social behaviour"] * n,
        x=np.full(n, HAREHILLS[0]), y=np.full(n, HAREHILLS[1]),
        source=source, settings=settings,
    )


def daily(settings, days: list[str], *, source="force-export", prefix="f"):
    """Force-export-like rows at minute precision, one per listed day."""
    n = len(days)
    return make_incidents(
        incident_id=[f"{prefix}{k}" for k in range(n)],
        occurred_at=pd.to_datetime([f"{d} 21:30" for d in days]),
        time_precision="minute",
        crime_type=["Robbery"] * n,
        x=np.full(n, HAREHILLS[0]), y=np.full(n, HAREHILLS[1]),
        source=source, settings=settings,
    )


# ---------------------------------------------------------------- input checks


def test_require_refuses_a_period_with_no_data_naming_what_is_held(settings):
    cov = Coverage.from_incidents(monthly(settings, {"2025-02": 3, "2025-05": 2}), origin="store")
    with pytest.raises(InputError, match=r"^no data for 2025-01: the store holds 2025-02, 2025-05\.$"):
        cov.require("2025-01")
    with pytest.raises(InputError, match=r"no data for 2025-W12: the store holds"):
        cov.require("2025-W12")  # a week inside the March gap
    cov.require("2025-02")
    cov.require("2025-01-20..2025-02-03")  # partly covered: not refused


def test_require_on_nothing(settings):
    with pytest.raises(InputError, match=r"no data for 2025-01: the store is empty"):
        Coverage().require("2025-01")
    with pytest.raises(InputError, match=r"no data for 2025-01: there are no incidents"):
        Coverage.from_incidents(monthly(settings, {})).require("2025-01")


def test_a_bad_period_is_an_input_error(settings):
    with pytest.raises(InputError, match="not understood"):
        Coverage().is_covered("June")


# ---------------------------------------------------------------- contract


def test_month_precision_covers_whole_months_and_finds_gaps(settings):
    cov = Coverage.from_incidents(monthly(settings, {"2025-02": 3, "2025-05": 2}))
    assert cov.covered_months() == ["2025-02", "2025-05"]
    assert cov.gaps() == ["2025-03", "2025-04"]
    assert cov.is_covered("2025-02") and not cov.is_covered("2025-03")
    assert cov.is_covered("2025-W07")  # 10-16 February
    assert cov.covered_fraction("2025-02") == 1.0 and cov.covered_fraction("2025-04") == 0.0
    period = parse_period("2025-02-01..2025-05-31")
    assert cov.covered_fraction(period) == pytest.approx((28 + 31) / 120)
    assert cov.missing_months(period) == ["2025-03", "2025-04"]
    assert cov.describe() == "police.uk 2025-02, 2025-05 (2025-03..2025-04 missing)"
    assert cov.holds() == "2025-02, 2025-05"


def test_day_precision_covers_the_days_that_hold_incidents(settings):
    days = [str(d.date()) for d in pd.date_range("2025-06-01", "2025-06-17")]
    cov = Coverage.from_incidents(daily(settings, days))
    assert cov.covered_months() == ["2025-06"]
    assert cov.is_covered("2025-W24")  # 9-15 June
    assert not cov.is_covered("2025-W25")  # 16-22 June: only the 16th and 17th
    assert cov.covered_fraction("2025-W25") == pytest.approx(2 / 7)
    assert not cov.is_covered("2025-06") and cov.covered_fraction("2025-06") == pytest.approx(17 / 30)
    assert cov.missing_months("2025-06-15..2025-07-03") == ["2025-07"]
    assert cov.describe() == "force-export 2025-06-01..2025-06-17"


def test_a_minute_precision_day_in_british_summer_time_is_its_local_day(settings):
    # 00:30 local on 1 July is still 30 June in UTC: coverage counts local days.
    frame = make_incidents(incident_id=["a"], occurred_at=pd.to_datetime(["2025-07-01 00:30"]),
                           time_precision="minute", crime_type=["Robbery"], x=[HAREHILLS[0]],
                           y=[HAREHILLS[1]], source="force", settings=settings)
    cov = Coverage.from_incidents(frame)
    assert cov.is_covered("2025-07-01..2025-07-01") and not cov.is_covered("2025-06-30..2025-06-30")


def test_sources_are_described_separately_and_cover_together(settings):
    frame = pd.concat([monthly(settings, {"2025-01": 5, "2025-02": 5, "2025-04": 5}),
                       daily(settings, ["2025-03-03", "2025-03-04"])], ignore_index=True)
    cov = Coverage.from_incidents(frame)
    assert cov.sources() == ["force-export", "police.uk"]
    assert cov.covered_months() == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert cov.gaps() == [] and cov.gaps("police.uk") == ["2025-03"]
    assert cov.describe() == ("force-export 2025-03-03..2025-03-04; "
                              "police.uk 2025-01..2025-02, 2025-04 (2025-03 missing)")
    assert cov.covered_fraction("2025-03") == pytest.approx(2 / 31)


def test_partial_flags_a_month_under_half_its_neighbours_median(settings):
    counts = {"2025-01": 100, "2025-02": 90, "2025-03": 110, "2025-04": 40, "2025-05": 100, "2025-06": 30}
    cov = Coverage.from_incidents(monthly(settings, counts))
    # April: 40 < 0.5 * median(90, 110, 100, 30) = 47.5; June (newest, late): 30 < 0.5 * median(40, 100).
    assert cov.partial() == ["2025-04", "2025-06"]
    assert "2025-04, 2025-06 possibly partial" in cov.describe()


def test_seasonal_lows_and_single_months_are_not_partial(settings):
    # ASB by month of year (Leeds): December is 0.58 of the mean, October 1.27.
    shape = [0.66, 0.76, 0.94, 1.06, 1.24, 1.15, 1.14, 1.28, 1.04, 1.27, 0.89, 0.58]
    counts = {f"2024-{k + 1:02d}": int(100 * s) for k, s in enumerate(shape)}
    assert Coverage.from_incidents(monthly(settings, counts)).partial() == []
    assert Coverage.from_incidents(monthly(settings, {"2025-02": 3})).partial() == []


def test_round_trips_through_its_dict_form(settings):
    frame = pd.concat([monthly(settings, {"2025-01": 5, "2025-04": 1}),
                       daily(settings, ["2025-03-03", "2025-03-09"])], ignore_index=True)
    cov = Coverage.from_incidents(frame, origin="store")
    again = Coverage.from_dict(json.loads(json.dumps(cov.to_dict())))
    assert again == cov and again.describe() == cov.describe()


# ---------------------------------------------------------------- the store


def test_store_records_coverage_when_adding_and_removing(home, settings):
    store = IncidentStore(home, settings=settings)
    assert store.coverage().covered_months() == []
    store.add(monthly(settings, {"2025-02": 3, "2025-05": 2}))
    store.add(daily(settings, ["2025-05-02", "2025-06-01"]))
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert manifest["coverage"]["2025-05"]["force-export"] == {"incidents": 1, "whole_month": False,
                                                                "days": [2]}
    cov = store.coverage()
    assert cov.covered_months() == ["2025-02", "2025-05", "2025-06"]
    assert cov.gaps() == ["2025-03", "2025-04"]
    assert cov == Coverage.from_incidents(store.load(), origin="store")
    store.remove(source="force-export")
    assert store.coverage().covered_months() == ["2025-02", "2025-05"]
    assert store.coverage().sources() == ["police.uk"]
    with pytest.raises(InputError, match="no data for 2025-04: the store holds 2025-02, 2025-05"):
        store.coverage().require("2025-04")


def test_a_store_written_before_coverage_derives_it_once(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(monthly(settings, {"2025-02": 3, "2025-03": 1, "2025-05": 2}))
    path = store.path / "manifest.json"
    manifest = json.loads(path.read_text())
    expected = manifest.pop("coverage")
    path.write_text(json.dumps(manifest))
    cov = store.coverage()
    assert cov.covered_months() == ["2025-02", "2025-03", "2025-05"]
    assert json.loads(path.read_text())["coverage"] == expected  # written back
    # Adding to such a store keeps the derived coverage of the months it does not touch.
    path.write_text(json.dumps(manifest))
    store.add(daily(settings, ["2025-07-01"]))
    assert store.coverage().covered_months() == ["2025-02", "2025-03", "2025-05", "2025-07"]


def test_summary_lists_gaps_and_possibly_partial_months(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(monthly(settings, {"2025-01": 20, "2025-02": 22, "2025-05": 21, "2025-06": 6}))
    summary = store.summary()
    assert summary["gaps"] == ["2025-03", "2025-04"]
    assert summary["partial"] == ["2025-06"]
    assert summary["coverage"] == ("police.uk 2025-01..2025-02, 2025-05..2025-06 "
                                   "(2025-03..2025-04 missing; 2025-06 possibly partial)")
