"""Patrol dosage of designated hotspots: visits and minutes delivered against each hotspot's target.

Pure functions (DESIGN.md, "The hotspot programme"). A visit counts towards every designated
hotspot whose area holds it: the centre of the visit's H3 cell lies in one of the hotspot's cells
(any resolution on either side). Weeks are ISO weeks in the service's timezone; a hotspot that
started (or closed) during a week gets that week's target pro rata, and the current week is
counted up to `as_of`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from hotspots import cells as h3cells
from hotspots.errors import InputError


@dataclass(frozen=True)
class DosageTarget:
    """A designated hotspot as dosage sees it.

    Parameters
    ----------
    key, name
        How the hotspot is identified and shown.
    cells
        Its H3 cells (hex strings or uint64).
    team
        The owner team's name ("" when none).
    visits_per_week, minutes_per_visit
        The dosage target (default 7 visits of 15 minutes).
    start, end
        The first day the target applies, and the day it stops (exclusive; None while open).
    """

    key: Any
    name: str
    cells: tuple[Any, ...]
    team: str = ""
    visits_per_week: float = 7.0
    minutes_per_visit: float = 15.0
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class VisitRecord:
    """One logged visit: where (an H3 cell), who, arrival and departure (UTC, naive or aware)."""

    h3_cell: str
    arrived_at: dt.datetime
    departed_at: dt.datetime | None = None
    team: str = ""

    @property
    def minutes(self) -> float | None:
        if self.departed_at is None:
            return None
        return max(0.0, (_utc(self.departed_at) - _utc(self.arrived_at)).total_seconds() / 60.0)


@dataclass(frozen=True)
class WeekDosage:
    """One hotspot (or team) in one ISO week: target and delivered visits and minutes."""

    week: str
    start: dt.date
    active_days: int  # days of the week the target applied
    elapsed_days: int  # of those, days up to `as_of`
    target_visits: float
    target_minutes: float
    visits: int
    complete: int  # visits with a departure
    minutes: float
    on_target: int  # complete visits at least `minutes_per_visit` long
    days_without_visit: int  # elapsed active days with no visit

    @property
    def current(self) -> bool:
        return self.elapsed_days < self.active_days

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week, "start": self.start.isoformat(), "active_days": self.active_days,
                "elapsed_days": self.elapsed_days, "target_visits": round(self.target_visits, 2),
                "target_minutes": round(self.target_minutes, 1), "visits": self.visits,
                "complete": self.complete, "minutes": round(self.minutes, 1),
                "on_target": self.on_target, "days_without_visit": self.days_without_visit}


@dataclass(frozen=True)
class DayDosage:
    """Visits and minutes on one day, and whether the target applied that day."""

    day: dt.date
    visits: int
    minutes: float
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "visits": self.visits, "minutes": round(self.minutes, 1),
                "active": self.active}


@dataclass
class Dosage:
    """The dosage of one hotspot or team over the current week and the `n` weeks before it."""

    key: Any
    name: str
    team: str
    weeks: list[WeekDosage]  # oldest first; the last is the week holding `as_of`
    daily: list[DayDosage]  # every day of the weeks shown, up to `as_of`
    hotspots: list[Any] = field(default_factory=list)  # for a team: its hotspots' keys

    @property
    def this_week(self) -> WeekDosage:
        return self.weeks[-1]

    @property
    def previous(self) -> list[WeekDosage]:
        return self.weeks[:-1]

    def previous_total(self) -> dict[str, float]:
        """Target and delivered over the weeks before the current one."""
        return _sum_weeks(self.previous)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "team": self.team,
                "this_week": self.this_week.to_dict(),
                "previous_weeks": [w.to_dict() for w in self.previous],
                "previous_total": self.previous_total(),
                "daily": [d.to_dict() for d in self.daily],
                **({"hotspots": list(self.hotspots)} if self.hotspots else {})}


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def _sum_weeks(weeks: Sequence[WeekDosage]) -> dict[str, float]:
    keys = ("target_visits", "target_minutes", "visits", "complete", "minutes", "on_target",
            "days_without_visit", "active_days", "elapsed_days")
    return {k: round(float(sum(getattr(w, k) for w in weeks)), 2) for k in keys}


def _as_visit(v: Any) -> VisitRecord:
    if isinstance(v, VisitRecord):
        return v
    if isinstance(v, dict):
        get = v.get
    else:
        def get(name: str, default: Any = None) -> Any:
            return getattr(v, name, default)
    cell, arrived = get("h3_cell"), get("arrived_at")
    if not cell or not isinstance(arrived, dt.datetime):
        msg = f"a visit needs an `h3_cell` and an `arrived_at` date-time; got {cell!r}, {arrived!r}."
        raise InputError(msg)
    return VisitRecord(str(cell), arrived, get("departed_at"), str(get("team", "") or ""))


def visit_hotspots(visits: Sequence[VisitRecord], targets: Sequence[DosageTarget]) -> list[list[int]]:
    """For each visit, the positions in `targets` of the hotspots whose area holds it.

    A visit's place is the centre of its cell; it is in a hotspot when that centre falls in one of
    the hotspot's cells (re-indexed at the hotspot's resolution), so a resolution 10 visit counts
    towards a resolution 9 hotspot and the other way round.
    """
    out: list[list[int]] = [[] for _ in visits]
    if not visits or not targets:
        return out
    valid = [i for i, v in enumerate(visits) if _is_cell(v.h3_cell)]
    if not valid:
        return out
    lat, lng = h3cells.cells_to_latlng(np.array([visits[i].h3_cell for i in valid], dtype=object))
    by_res: dict[int, np.ndarray] = {}
    for t, target in enumerate(targets):
        cells = _target_cells(target)
        if not len(cells):
            continue
        for res in np.unique(h3cells.get_resolutions(cells)):
            res = int(res)
            if res not in by_res:
                by_res[res] = h3cells.latlng_to_cells(lat, lng, resolution=res)
            hit = np.isin(by_res[res], cells)
            for k in np.flatnonzero(hit):
                if t not in out[valid[k]]:
                    out[valid[k]].append(t)
    return out


def _is_cell(text: str) -> bool:
    try:
        h3cells.str_to_cells([text])
    except InputError:
        return False
    return True


def _target_cells(target: DosageTarget) -> np.ndarray:
    items = list(target.cells)
    if not items:
        return np.zeros(0, dtype=h3cells.CELL_DTYPE)
    if all(isinstance(c, str) for c in items):
        return h3cells.str_to_cells(items)
    return np.asarray(items, dtype=h3cells.CELL_DTYPE)


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def week_label(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def dosage(visits: Iterable[Any], targets: Sequence[DosageTarget], *, as_of: dt.date,
           weeks: int = 4, tz: str = "Europe/London") -> list[Dosage]:
    """Target and delivered visits and minutes of each hotspot: the week holding `as_of` (up to
    and including that day) and the `weeks` whole weeks before it.

    Parameters
    ----------
    visits
        `VisitRecord`s, or objects/dicts with `h3_cell`, `arrived_at`, `departed_at`, `team`
        (times in UTC, naive or aware; the patrol log's `Visit` rows fit).
    targets
        The designated hotspots.
    as_of
        The last day counted (local date; usually today).
    weeks
        Whole weeks shown before the current one.
    tz
        The service's timezone (weeks and days are local).

    Returns
    -------
    list of Dosage
        One per target, in the targets' order; `daily` lists every day of the weeks shown.
    """
    if weeks < 0:
        msg = f"`weeks` must be 0 or more, not {weeks}."
        raise InputError(msg)
    zone = ZoneInfo(tz)
    records = [_as_visit(v) for v in visits]
    first_monday = week_start(as_of) - dt.timedelta(weeks=weeks)
    last_day = as_of
    shown = [r for r in records
             if first_monday <= _utc(r.arrived_at).astimezone(zone).date() <= last_day]
    hits = visit_hotspots(shown, targets)
    per_target: dict[int, list[VisitRecord]] = defaultdict(list)
    for visit, where in zip(shown, hits, strict=True):
        for t in where:
            per_target[t].append(visit)
    return [_one(target, per_target.get(t, []), first_monday, weeks + 1, as_of, zone)
            for t, target in enumerate(targets)]


def _active(target: DosageTarget, day: dt.date) -> bool:
    if target.start is not None and day < target.start:
        return False
    return not (target.end is not None and day >= target.end)


def _one(target: DosageTarget, visits: list[VisitRecord], first_monday: dt.date, n_weeks: int,
         as_of: dt.date, zone: ZoneInfo) -> Dosage:
    by_day: dict[dt.date, list[VisitRecord]] = defaultdict(list)
    for v in visits:
        by_day[_utc(v.arrived_at).astimezone(zone).date()].append(v)
    weeks, daily = [], []
    for w in range(n_weeks):
        monday = first_monday + dt.timedelta(weeks=w)
        days = [monday + dt.timedelta(days=k) for k in range(7)]
        active = [d for d in days if _active(target, d)]
        elapsed = [d for d in active if d <= as_of]
        counted = [v for d in days if d <= as_of for v in by_day.get(d, [])]
        mins = [v.minutes for v in counted if v.minutes is not None]
        target_visits = target.visits_per_week * len(active) / 7.0
        weeks.append(WeekDosage(
            week=week_label(monday), start=monday, active_days=len(active), elapsed_days=len(elapsed),
            target_visits=target_visits, target_minutes=target_visits * target.minutes_per_visit,
            visits=len(counted), complete=len(mins), minutes=float(sum(mins)),
            on_target=sum(1 for m in mins if m >= target.minutes_per_visit),
            days_without_visit=sum(1 for d in elapsed if not by_day.get(d))))
        for d in days:
            if d <= as_of:
                todays = by_day.get(d, [])
                daily.append(DayDosage(d, len(todays), float(sum(v.minutes or 0.0 for v in todays)),
                                       _active(target, d)))
    return Dosage(target.key, target.name, target.team, weeks, daily)


def team_dosage(per_hotspot: Sequence[Dosage]) -> list[Dosage]:
    """Each owner team's hotspots added up, week by week and day by day (teams by name).

    A team's day without a visit is an active day on which none of its hotspots had one.
    """
    groups: dict[str, list[Dosage]] = defaultdict(list)
    for d in per_hotspot:
        groups[d.team or ""].append(d)
    out = []
    for team in sorted(groups):
        items = groups[team]
        days: dict[dt.date, list[Any]] = {}
        for d in items:
            for day in d.daily:
                acc = days.setdefault(day.day, [0, 0.0, False])
                acc[0] += day.visits
                acc[1] += day.minutes
                acc[2] = acc[2] or day.active
        daily = [DayDosage(day, int(v[0]), float(v[1]), bool(v[2])) for day, v in sorted(days.items())]
        weeks = []
        for i, wk in enumerate(items[0].weeks):
            ws = [d.weeks[i] for d in items]
            in_week = [x for x in daily if wk.start <= x.day < wk.start + dt.timedelta(days=7)]
            weeks.append(WeekDosage(
                week=wk.week, start=wk.start, active_days=max(w.active_days for w in ws),
                elapsed_days=sum(1 for x in in_week if x.active),
                target_visits=sum(w.target_visits for w in ws),
                target_minutes=sum(w.target_minutes for w in ws), visits=sum(w.visits for w in ws),
                complete=sum(w.complete for w in ws), minutes=sum(w.minutes for w in ws),
                on_target=sum(w.on_target for w in ws),
                days_without_visit=sum(1 for x in in_week if x.active and x.visits == 0)))
        out.append(Dosage(team, team or "(no team)", team, weeks, daily, hotspots=[d.key for d in items]))
    return out
