"""What a patrol plan is made from in the application: the teams chosen from the teams table, the
shift's date and times, and the designated hotspots of the register those teams must visit.

The `hotspots plan` command, the plan page and the API all read them here and pass them, as plain
data, to the one pipeline (`routing.plan_deployment`), so the same choices give the same plan.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from webapp._programme import LIVE, today
from webapp.db import DesignatedHotspot, PatrolTeam, db_session
from webapp.errors import ParameterError

if TYPE_CHECKING:
    from webapp.services import AppData

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class PlanInputs:
    """The routing teams of a shift and the designated hotspots they must visit."""

    teams: list[Any]  # routing.Team, each with the shift's date and its home wards
    designated: list[dict[str, Any]]  # plain records for routing.plan_deployment
    date: dt.date
    records: list[PatrolTeam]


def active_teams() -> list[PatrolTeam]:
    """The active teams in the order they were added (the `patrol_teams` setting's first)."""
    return list(db_session().scalars(select(PatrolTeam).where(PatrolTeam.active.is_(True))
                                     .order_by(PatrolTeam.id)))


def team_names_param(raw: Any, name: str = "teams") -> list[str]:
    """The teams of a plan request as a list of names: a whole number N (the first N active
    teams), names (a list, or text separated by commas) or None (every active team).
    `ParameterError` naming `name` for an unknown or inactive team."""
    teams = active_teams()
    if not teams:
        raise ParameterError(name, "there is no active patrol team; add one under Teams or with "
                             "`hotspots teams add`.")
    if raw is None or raw == "" or raw == []:
        return [t.name for t in teams]
    count = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        count = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        count = int(raw.strip())
    if count is not None:
        if not 1 <= count <= len(teams):
            raise ParameterError(name, f"`{name}` is {raw!r}; there are {len(teams)} active teams "
                                 f"(choose 1 to {len(teams)}, or name them).", value=raw)
        return [t.name for t in teams[:count]]
    if isinstance(raw, str):
        items = [v.strip() for v in raw.split(",")]
    elif isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
        items = [v.strip() for v in raw]
    else:
        raise ParameterError(name, f"`{name}` must be team names (a list, or text separated by "
                             "commas) or a number of teams.", value=raw)
    by_name = {t.name.lower(): t for t in teams}
    every = {t.name.lower(): t for t in db_session().scalars(select(PatrolTeam))}
    out: list[str] = []
    for item in (i for i in items if i):
        team = by_name.get(item.lower())
        if team is None:
            known = ", ".join(t.name for t in teams)
            why = "is not active" if item.lower() in every else "does not exist"
            raise ParameterError(name, f"`{name}`: team {item!r} {why}; the active teams are "
                                 f"{known}.", value=item)
        if team.name not in out:
            out.append(team.name)
    if not out:
        raise ParameterError(name, f"`{name}`: choose at least one team.", value=raw)
    return out


def date_param(raw: Any, name: str = "date") -> dt.date:
    """The day of the shift (`YYYY-MM-DD`); today when empty."""
    from webapp.register import date_param as parse

    return parse(raw, name) or today()


def plan_inputs(teams: Any = None, *, date: dt.date | str | None = None, shift_start: str,
                shift_min: float, mode: str | None = None) -> PlanInputs:
    """The teams and designated hotspots of one shift.

    Parameters
    ----------
    teams
        Team names, a number of teams, or None (see `team_names_param`).
    date
        The shift's day (default today).
    shift_start, shift_min
        When the shift starts (HH:MM) and how long it lasts (minutes).
    mode
        `drive` or `walk` for every team; None: each team's own mode.

    Returns
    -------
    PlanInputs
        Routing teams (the date in their `shift_start`, their home wards) and, for
        `routing.plan_deployment(designated=...)`, the live designated hotspots (active or under
        review, started by the date) owned by these teams or by no team.
    """
    from routing.teams import Team, parse_team_spec

    names = team_names_param(teams)
    day = date if isinstance(date, dt.date) else date_param(date)
    match = _CLOCK.match(str(shift_start).strip())
    if not match:
        raise ParameterError("shift_start", f"`shift_start` is {shift_start!r}; expected HH:MM, "
                             "such as 16:00.", value=shift_start)
    start = dt.datetime.combine(day, dt.time(int(match.group(1)), int(match.group(2))))
    by_name = {t.name: t for t in active_teams()}
    records = [by_name[n] for n in names]
    chosen = []
    for record in records:
        spec = parse_team_spec(f"{record.name}={record.base}")
        chosen.append(Team(record.name, spec.base, start, float(shift_min), mode or record.mode,
                           tuple(record.home_wards or ())))
    return PlanInputs(teams=chosen, designated=designated_records(records, day), date=day,
                      records=records)


def designated_records(teams: Sequence[PatrolTeam], day: dt.date) -> list[dict[str, Any]]:
    """The live designated hotspots (active or under review, started by `day`, not closed)
    owned by one of `teams` or by no team, as plain records (`routing.designated`)."""
    ids = {t.id: t.name for t in teams}
    rows = db_session().scalars(select(DesignatedHotspot)
                                .where(DesignatedHotspot.status.in_(LIVE))
                                .order_by(DesignatedHotspot.id))
    out = []
    for r in rows:
        if r.start_date > day or (r.team_id is not None and r.team_id not in ids):
            continue
        out.append({"id": r.id, "name": r.name, "category": r.category, "cells": list(r.cells),
                    "team": ids.get(r.team_id) if r.team_id is not None else None,
                    "dwell_min": float(r.minutes_per_visit)})
    return out


def make_plan(data: AppData, *, period: str, category: str, teams: Any, shift_start: str,
              shift_min: float, dwell_min: float, mode: str | None, stops_per_ward: int | None,
              seed: int = 0, date: Any = None, any_ward: bool = False,
              vary: bool | None = None, time_limit_s: float | None = None,
              title: str = "Patrol plan", planner: Any = None) -> dict[str, Any]:
    """Plan a shift for the app holding `data` (`routing.plan_deployment`): the chosen teams of the teams table, the
    designated hotspots they must visit, and the top hotspots of their home wards (of the
    priority wards when a team has none, or `any_ward`).

    The stops are prepared here, from the cached rankings; the solver runs in `planner` (a
    `webapp._planner.Planner`; in this thread when None). Returns the plan's serialised forms
    (see `webapp._planner.solve`).
    """
    from routing.deploy import plan_wards, prepare_deployment
    from webapp._deployment import plan_inputs
    from webapp._planner import solve

    if category not in ("asb", "serious_violence", "both"):
        raise ParameterError("category", f"`category` is {category!r}; expected asb, "
                             "serious_violence or both.", value=category)
    if mode not in (None, "drive", "walk"):
        raise ParameterError("mode", f"`mode` is {mode!r}; expected drive or walk.", value=mode)
    inputs = plan_inputs(teams, date=date, shift_start=shift_start, shift_min=float(shift_min),
                         mode=mode)
    wards = plan_wards(inputs.teams, None, any_ward=any_ward) or "priority"
    cats = ["asb", "serious_violence"] if category == "both" else [category]
    rankings = {cat: data.ranking(data.query(category=cat, period=period, wards=wards))
                for cat in cats}
    deployment = prepare_deployment(data.incidents(), period=period, teams=inputs.teams,
                                    category=category, wards=wards,
                                    per_ward=stops_per_ward, dwell_min=float(dwell_min),
                                    designated=inputs.designated, any_ward=any_ward,
                                    vary=vary, rankings=rankings, settings=data.settings)
    job = {"time_limit_s": float(time_limit_s or data.settings.web_plan_time_limit_s),
           "seed": int(seed), "title": title}
    if planner is None:
        return solve(deployment, **job)
    return planner.solve(deployment, **job)
