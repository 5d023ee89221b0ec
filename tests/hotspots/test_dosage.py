"""Dosage: logged visits counted against the designated hotspot whose area holds them."""

from __future__ import annotations

import datetime as dt

import h3
import pytest

from hotspots.dosage import DosageTarget, VisitRecord, dosage, team_dosage, visit_hotspots
from hotspots.errors import InputError

CELL = h3.latlng_to_cell(53.7990, -1.5900, 10)
NEIGHBOUR = sorted(set(h3.grid_disk(CELL, 1)) - {CELL})[0]
FAR = h3.latlng_to_cell(53.8200, -1.5300, 10)
#: A Wednesday; its ISO week is 2025-W24 (Monday 9 June).
TODAY = dt.date(2025, 6, 11)


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Naive UTC, as the patrol log stores it (June: local = UTC + 1)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute)


def visit(day: dt.date, minutes: float | None, cell: str = CELL, team: str = "Armley") -> VisitRecord:
    start = utc(day, 15)
    end = None if minutes is None else start + dt.timedelta(minutes=minutes)
    return VisitRecord(cell, start, end, team)


def target(**kw) -> DosageTarget:
    args = {"key": 1, "name": "Town Street", "cells": (CELL, NEIGHBOUR), "team": "Armley",
            "visits_per_week": 7, "minutes_per_visit": 15, "start": dt.date(2025, 5, 1)}
    args.update(kw)
    return DosageTarget(**args)


def test_visits_count_towards_the_hotspot_holding_them_at_any_resolution():
    parent = h3.cell_to_parent(CELL, 9)
    targets = [target(key=1), target(key=2, cells=(parent,)), target(key=3, cells=(FAR,))]
    child = h3.cell_to_center_child(CELL, 11)
    hits = visit_hotspots([visit(TODAY, 15), visit(TODAY, 15, cell=child),
                           visit(TODAY, 15, cell=FAR), visit(TODAY, 15, cell="nonsense")], targets)
    assert hits[0] == [0, 1]  # the cell is in hotspot 1 and in hotspot 2's coarser cell
    assert 0 in hits[1] and 1 in hits[1]  # a finer cell inside hotspot 1 counts too
    assert hits[2] == [2]
    assert hits[3] == []  # a cell the log cannot read counts nowhere


def test_this_week_and_the_weeks_before():
    monday = dt.date(2025, 6, 9)
    visits = [visit(monday, 16), visit(monday + dt.timedelta(days=1), 10),
              visit(monday + dt.timedelta(days=2), None),  # still there: no minutes yet
              visit(monday - dt.timedelta(days=3), 15),  # last week's Friday
              visit(monday, 20, cell=FAR)]  # not in the hotspot
    [d] = dosage(visits, [target()], as_of=TODAY, weeks=4)
    assert [w.week for w in d.weeks] == ["2025-W20", "2025-W21", "2025-W22", "2025-W23", "2025-W24"]
    now = d.this_week
    assert now.current and now.elapsed_days == 3 and now.active_days == 7
    assert (now.visits, now.complete, now.on_target) == (3, 2, 1)
    assert now.minutes == pytest.approx(26)
    assert now.target_visits == 7 and now.target_minutes == 105
    assert now.days_without_visit == 0
    last = d.weeks[-2]
    assert (last.visits, last.minutes, last.days_without_visit) == (1, 15, 6)
    total = d.previous_total()
    assert total["visits"] == 1 and total["target_visits"] == 28
    assert [x.visits for x in d.daily[-3:]] == [1, 1, 1]
    assert len(d.daily) == 4 * 7 + 3
    assert d.to_dict()["this_week"]["visits"] == 3


def test_a_hotspot_that_started_mid_week_gets_a_pro_rata_target():
    [d] = dosage([], [target(start=dt.date(2025, 6, 5))], as_of=TODAY, weeks=1)  # a Thursday
    before = d.weeks[0]
    assert before.active_days == 4  # Thursday to Sunday
    assert before.target_visits == pytest.approx(4)
    assert before.days_without_visit == 4
    closed = dosage([], [target(end=dt.date(2025, 6, 10))], as_of=TODAY, weeks=0)[0].this_week
    assert closed.active_days == 1 and closed.target_visits == pytest.approx(1)


def test_local_days_not_utc_days():
    # 23:30 UTC on Sunday 8 June is 00:30 on Monday 9 June in London: this week, not last.
    late = VisitRecord(CELL, dt.datetime(2025, 6, 8, 23, 30), dt.datetime(2025, 6, 8, 23, 50))
    [d] = dosage([late], [target()], as_of=TODAY, weeks=1)
    assert d.this_week.visits == 1 and d.weeks[0].visits == 0


def test_teams_add_up_their_hotspots():
    targets = [target(key=1), target(key=2, cells=(FAR,), visits_per_week=3),
               target(key=3, cells=(h3.latlng_to_cell(53.80, -1.50, 10),), team="Hunslet")]
    visits = [visit(TODAY, 15), visit(TODAY, 15, cell=FAR)]
    teams = team_dosage(dosage(visits, targets, as_of=TODAY, weeks=1))
    assert [t.name for t in teams] == ["Armley", "Hunslet"]
    armley = teams[0]
    assert armley.hotspots == [1, 2]
    assert armley.this_week.target_visits == pytest.approx(10)
    assert armley.this_week.visits == 2
    # Monday and Tuesday had no visit to either hotspot; Wednesday had.
    assert armley.this_week.days_without_visit == 2
    assert teams[1].this_week.visits == 0


def test_bad_visits_are_refused():
    with pytest.raises(InputError, match="needs an `h3_cell`"):
        dosage([{"h3_cell": CELL, "arrived_at": "yesterday"}], [target()], as_of=TODAY)
    with pytest.raises(InputError, match="`weeks`"):
        dosage([], [target()], as_of=TODAY, weeks=-1)
