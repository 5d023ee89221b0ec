"""The patrol log: a guardian records arrival and departure at each stop (made for a phone), and
the dosage report compares minutes spent per hotspot with the Koper-curve target.

Guardians log visits only on saved (active) plans, on the routes of their own team (the team of
their account, or a route assigned to them); analysts and admins may log or correct any route.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import params
from webapp.auth import role_required
from webapp.db import SavedPlan, Visit, db_session, utcnow
from webapp.errors import ApiError, ParameterError
from webapp.forms import ActionForm
from webapp.services import get_data

bp = Blueprint("patrol_log", __name__, url_prefix="/patrol")


def local(ts: dt.datetime | None) -> dt.datetime | None:
    """A stored UTC time in the service's timezone."""
    if ts is None:
        return None
    return ts.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(get_data().settings.timezone))


def route_of(plan: SavedPlan, team_index: int) -> dict[str, Any]:
    routes = plan.plan.get("routes", [])
    if not 0 <= team_index < len(routes):
        abort(404, description=f"Plan {plan.id} has no team {team_index}.")
    return routes[team_index]


def why_not_log(user, plan: SavedPlan, team: str) -> str | None:
    """Why `user` may not log visits on route `team` of `plan`, or None when they may."""
    if user.has_role("analyst"):
        return None  # analysts and admins correct the log
    if plan.status != "saved":
        return (f"Plan {plan.id} is a draft: visits are logged only on saved plans. Save and assign "
                "it first.")
    if plan.assignments.get(team, "") == user.username or (user.team and user.team == team):
        return None
    return (f"Route {team!r} of plan {plan.id} belongs to another team; guardians log visits on "
            "their own team's routes only (an analyst or admin can correct the log).")


def record_visit(plan: SavedPlan, team_index: int, seq: int, action: str, *,
                 at: dt.datetime | None = None, departed_at: dt.datetime | None = None,
                 note: str = "") -> Visit:
    """Record an arrival (a new visit) or a departure (closing the open visit) at one stop.

    `at` and `departed_at` are UTC without tzinfo; now when None. Raises `ParameterError` naming
    the bad field.
    """
    route = route_of(plan, team_index)
    refusal = why_not_log(current_user, plan, route["team"]["name"])
    if refusal:
        raise ApiError(403, refusal, details={"plan_id": plan.id, "team": route["team"]["name"]})
    stops = {int(v["seq"]): v for v in route.get("visits", [])}
    if seq not in stops:
        raise ParameterError("stop", f"`stop` is {seq}; team {route['team']['name']!r} has stops "
                             f"1 to {len(stops)}.", value=seq)
    if action not in ("arrive", "depart"):
        raise ParameterError("action", f"`action` is {action!r}; expected arrive or depart.", value=action)
    session = db_session()
    team = route["team"]["name"]
    now = at or utcnow()
    open_visit = session.scalars(
        select(Visit).where(Visit.plan_id == plan.id, Visit.team == team, Visit.stop_number == seq,
                            Visit.departed_at.is_(None)).order_by(Visit.id.desc())).first()
    if action == "arrive":
        if departed_at is not None and departed_at < now:
            raise ParameterError("departed_at", "`departed_at` is before `arrived_at`.", value=departed_at)
        visit = Visit(plan_id=plan.id, team=team, stop_number=seq, h3_cell=str(stops[seq]["stop_id"]),
                      ward_code=str(stops[seq].get("ward_code", "")), user_id=current_user.id,
                      arrived_at=now, departed_at=departed_at, note=note[:500])
        session.add(visit)
    else:
        if open_visit is None:
            raise ParameterError("action", f"stop {seq} has no open visit to leave; record the "
                                 "arrival first.", value=action)
        if now < open_visit.arrived_at:
            raise ParameterError("at", "the departure is before the arrival.", value=now)
        open_visit.departed_at = now
        visit = open_visit
    session.commit()
    return visit


@bp.route("/")
@role_required("guardian")
def index():
    session = db_session()
    plans = session.scalars(select(SavedPlan).where(SavedPlan.status == "saved")
                            .order_by(SavedPlan.id.desc()).limit(30)).all()
    mine, others = [], []
    for plan in plans:
        for i, r in enumerate(plan.plan.get("routes", [])):
            item = {"plan": plan, "team_index": i, "team": r["team"]["name"], "stops": r.get("stops", 0),
                    "assigned": plan.assignments.get(r["team"]["name"], "")}
            (mine if item["assigned"] == current_user.username else others).append(item)
    return render_template("patrol_index.html", mine=mine, others=others)


@bp.route("/<int:plan_id>/<int:team>")
@role_required("guardian")
def route(plan_id: int, team: int):
    plan = db_session().get(SavedPlan, plan_id)
    if plan is None:
        abort(404, description=f"There is no patrol plan {plan_id}.")
    r = route_of(plan, team)
    visits = db_session().scalars(select(Visit).where(Visit.plan_id == plan.id, Visit.team == r["team"]["name"])
                                  .order_by(Visit.arrived_at)).all()
    by_stop: dict[int, list[Visit]] = defaultdict(list)
    for v in visits:
        by_stop[int(v.stop_number or 0)].append(v)
    target = get_data().settings.dwell_min
    return render_template("patrol_route.html", plan=plan, route=r, team_index=team, by_stop=by_stop,
                           local=local, target=target, form=ActionForm(),
                           refusal=why_not_log(current_user, plan, r["team"]["name"]))


@bp.route("/<int:plan_id>/<int:team>/visit", methods=["POST"])
@role_required("guardian")
def visit(plan_id: int, team: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The visit could not be recorded: reload the page and try again.")
    plan = db_session().get(SavedPlan, plan_id)
    if plan is None:
        abort(404, description=f"There is no patrol plan {plan_id}.")
    seq = params.integer(request.form.get("stop"), "stop", lo=1, hi=10_000)
    if seq is None:
        raise ParameterError("stop", "`stop` is missing; give the stop number (1, 2, ...).")
    action = params.choice(request.form.get("action"), "action", ("arrive", "depart"))
    record_visit(plan, team, seq, action)
    flash(f"Stop {seq}: {'arrival' if action == 'arrive' else 'departure'} recorded at "
          f"{local(utcnow()).strftime('%H:%M')}.", "success")
    return redirect(url_for("patrol_log.route", plan_id=plan_id, team=team) + f"#stop-{seq}")


def dosage(visits: list[Visit], *, target_min: float, tz: str) -> dict[str, Any]:
    """Minutes per hotspot against the target and visits per ISO week, from logged visits."""
    zone = ZoneInfo(tz)
    cells: dict[str, dict[str, Any]] = {}
    weeks: dict[str, int] = defaultdict(int)
    for v in visits:
        c = cells.setdefault(v.h3_cell, {"h3_cell": v.h3_cell, "ward_code": v.ward_code, "visits": 0,
                                         "complete": 0, "minutes": 0.0, "on_target": 0, "last": None})
        c["visits"] += 1
        arrived = v.arrived_at.replace(tzinfo=dt.UTC).astimezone(zone)
        year, week, _ = arrived.isocalendar()
        weeks[f"{year:04d}-W{week:02d}"] += 1
        if v.minutes is not None:
            c["complete"] += 1
            c["minutes"] += v.minutes
            c["on_target"] += int(v.minutes >= target_min)
        c["last"] = max(c["last"], arrived) if c["last"] else arrived
    rows = sorted(cells.values(), key=lambda c: -c["minutes"])
    for c in rows:
        c["mean_min"] = c["minutes"] / c["complete"] if c["complete"] else None
        c["meets_target"] = c["mean_min"] is not None and c["mean_min"] >= target_min
    week_rows = [{"week": w, "visits": n} for w, n in sorted(weeks.items())]
    return {"cells": rows, "weeks": week_rows, "target_min": target_min,
            "total_visits": len(visits), "total_minutes": sum(c["minutes"] for c in rows)}


@bp.route("/dosage")
@role_required("guardian")
def dosage_report():
    n_weeks = params.integer(params.one(request.args, "weeks"), "weeks", lo=1, hi=104, default=8)
    since = utcnow() - dt.timedelta(weeks=n_weeks)
    visits = db_session().scalars(select(Visit).where(Visit.arrived_at >= since)).all()
    s = get_data().settings
    report = dosage(list(visits), target_min=s.dwell_min, tz=s.timezone)
    names = {c: n for c, n, _ in get_data().ward_choices()}
    most = max((w["visits"] for w in report["weeks"]), default=0)
    return render_template("dosage.html", report=report, n_weeks=n_weeks, ward_names=names, most=most)
