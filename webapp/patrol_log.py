"""The patrol log: a guardian records arrival and departure at each stop (made for a phone), and
the dosage report compares minutes spent per hotspot with the Koper-curve target.

Guardians log visits only on saved (active) plans, on the routes of their own team (the team of
their account or of the teams table listing them, or a route assigned to them); analysts and
admins may log or correct any route.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from hotspots.errors import InputError
from webapp import _shift, params
from webapp.auth import role_required
from webapp.db import SavedPlan, Visit, audit, db_session, utcnow
from webapp.errors import ApiError, ParameterError
from webapp.forms import ActionForm
from webapp.plans import get_plan
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
    if _shift.is_mine(user, plan, team):
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
    check_may_log(plan, route["team"]["name"])
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
    teams = _shift.user_teams(current_user)
    mine, others = [], []
    for plan in plans:
        for i, r in enumerate(plan.plan.get("routes", [])):
            item = {"plan": plan, "team_index": i, "team": r["team"]["name"], "stops": r.get("stops", 0),
                    "assigned": plan.assignments.get(r["team"]["name"], ""),
                    "date": _shift.route_date(plan, r)}
            (mine if _shift.is_mine(current_user, plan, item["team"], teams) else others).append(item)
    return render_template("patrol_index.html", mine=mine, others=others, teams=sorted(teams))


def today() -> dt.date:
    """Today in the service's timezone."""
    return dt.datetime.now(ZoneInfo(get_data().settings.timezone)).date()


@bp.route("/shift")
@role_required("guardian")
def my_shift():
    """A guardian's landing page: today's route of their team, ready to log."""
    found = _shift.todays_route(current_user, today())
    if found is None:
        return render_template("patrol_none.html", teams=sorted(_shift.user_teams(current_user)),
                               routes=_shift.my_routes(current_user, limit=10))
    return _route_page(found["plan"], found["team_index"], my_shift=True)


@bp.route("/<int:plan_id>/<int:team>")
@role_required("guardian")
def route(plan_id: int, team: int):
    plan = get_plan(plan_id)
    return _route_page(plan, team)


def _route_visits(plan: SavedPlan, team_name: str) -> list[Visit]:
    return list(db_session().scalars(select(Visit).where(Visit.plan_id == plan.id, Visit.team == team_name)
                                     .order_by(Visit.arrived_at, Visit.id)).all())


def _stop_cards(plan: SavedPlan, r: dict[str, Any], visits: list[Visit]) -> dict[str, Any]:
    """The route's stops as cards, the next stop first, with street, plain reason and state."""
    data = get_data()
    stops = list(r.get("visits", []))
    key = ("shift_stops", data.store_version(), plan.id, r["team"]["name"])

    def words() -> tuple[dict[str, str], dict[str, str]]:
        streets = _shift.stop_streets(stops, data.incidents())
        rows: dict[str, dict[str, Any]] = {}
        cats = {c for v in stops for c in str(v.get("category", "")).split("+")}
        for cat in cats & {"asb", "serious_violence"}:
            try:
                ranking = data.ranking(data.query(category=cat, period=plan.period, wards="priority"))
            except InputError:
                continue
            from webapp.presentation import cell_hex

            for cell, trend in zip(ranking["h3_cell"], ranking["trend"].astype(str), strict=True):
                rows.setdefault(cell_hex(cell), {"trend": trend})
        try:
            reasons = _shift.plain_reasons(stops, data=data, period_label=plan.period, ranking_rows=rows)
        except InputError:
            reasons = {}
        return streets, reasons

    streets, reasons = data.cache.get(key, words)
    by_stop = _shift.visits_by_stop(visits)
    cards = []
    for v in stops:
        seq = int(v["seq"])
        logged = by_stop.get(seq, [])
        open_ = [x for x in logged if x.departed_at is None]
        done = any(x.departed_at is not None for x in logged)
        cell = str(v["stop_id"])
        street = streets.get(cell, "")
        cards.append({
            "seq": seq, "visit": v, "street": street, "ward": v.get("ward_name") or "",
            "reason": reasons.get(cell) or "",
            "geo": _shift.geo_uri(float(v["lat"]), float(v["lon"]), street or f"Stop {seq}"),
            "logged": logged, "open": bool(open_), "done": done,
        })
    todo = [c for c in cards if not c["done"] or c["open"]]
    finished = [c for c in cards if c["done"] and not c["open"]]
    # The stop being visited, else the first not yet done, comes first.
    todo.sort(key=lambda c: (not c["open"], c["seq"]))
    return {"cards": todo + finished, "next": todo[0] if todo else None,
            "done": len(finished), "total": len(cards)}


def _route_page(plan: SavedPlan, team: int, *, my_shift: bool = False):
    r = route_of(plan, team)
    visits = _route_visits(plan, r["team"]["name"])
    s = get_data().settings
    model = _stop_cards(plan, r, visits)
    confirm = params.integer(params.one(request.args, "confirm"), "confirm", lo=1, hi=10_000)
    confirm_card = None
    if confirm is not None:
        confirm_card = next((c for c in model["cards"] if c["seq"] == confirm and c["open"]), None)
    tap = _shift.last_tap(visits)
    done_seqs = tuple(c["seq"] for c in model["cards"] if c["done"] and not c["open"])
    map_url = url_for("patrol_log.route_map", plan_id=plan.id, team=team, done=",".join(map(str, done_seqs)) or None,
                      next=model["next"]["seq"] if model["next"] else None)
    return render_template("patrol_route.html", plan=plan, route=r, team_index=team, local=local,
                           target=s.dwell_min, confirm_below=s.visit_confirm_min, form=ActionForm(),
                           my_shift=my_shift, confirm_card=confirm_card, last_tap=tap,
                           route_date=_shift.route_date(plan, r), map_url=map_url,
                           refusal=why_not_log(current_user, plan, r["team"]["name"]), **model)


@bp.route("/<int:plan_id>/<int:team>/map")
@role_required("guardian")
def route_map(plan_id: int, team: int):
    """A small map of one team's route: its path, its stops numbered, the done ones greyed."""
    from webapp import _maps
    from webapp.assets import map_assets
    from webapp.maps import tiles
    from webapp.security import add_nonce

    plan = get_plan(plan_id)
    r = route_of(plan, team)
    done_text = params.text(params.one(request.args, "done"), "done", max_len=2000)
    done = tuple(sorted({int(t) for t in done_text.split(",") if t.strip().isdigit()}))
    nxt = params.integer(params.one(request.args, "next"), "next", lo=1, hi=10_000)
    data = get_data()
    document = data.cache.get(
        ("route_map", plan.id, team, done, nxt, tiles()),
        lambda: _maps.plan_map(json.loads(plan.geojson), data.wards_wgs84().iloc[0:0],
                               assets=map_assets(), tiles=tiles(), team=r["team"]["name"],
                               done=set(done), next_seq=nxt))
    return Response(add_nonce(document), mimetype="text/html")


@bp.route("/<int:plan_id>/<int:team>/visit", methods=["POST"])
@role_required("guardian")
def visit(plan_id: int, team: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The visit could not be recorded: reload the page and try again.")
    plan = get_plan(plan_id)
    seq = params.integer(request.form.get("stop"), "stop", lo=1, hi=10_000)
    if seq is None:
        raise ParameterError("stop", "`stop` is missing; give the stop number (1, 2, ...).")
    action = params.choice(request.form.get("action"), "action", ("arrive", "depart"))
    back = _back(plan_id, team)
    r = route_of(plan, team)
    open_visit = next((v for v in _route_visits(plan, r["team"]["name"])
                       if v.stop_number == seq and v.departed_at is None), None)
    if action == "arrive" and open_visit is not None:
        # A second tap (a double click, or a page sent twice): the arrival is already recorded.
        flash(f"Stop {seq}: the arrival at {local(open_visit.arrived_at).strftime('%H:%M')} is "
              "already recorded.", "success")
        return redirect(back + f"#stop-{seq}")
    if action == "depart" and request.form.get("confirm") != "yes":
        limit = get_data().settings.visit_confirm_min
        if open_visit is not None and (utcnow() - open_visit.arrived_at).total_seconds() < limit * 60:
            # A visit this short is more often a slip of the finger than a patrol: ask first.
            return redirect(_back(plan_id, team, confirm=seq) + f"#stop-{seq}")
    record_visit(plan, team, seq, action)
    flash(f"Stop {seq}: {'arrival' if action == 'arrive' else 'departure'} recorded at "
          f"{local(utcnow()).strftime('%H:%M')}.", "success")
    return redirect(back + f"#stop-{seq}")


def _back(plan_id: int, team: int, **args: Any) -> str:
    """Where a tap returns to: My shift when it came from there, else the route page."""
    if request.form.get("from") == "shift":
        return url_for("patrol_log.my_shift", **args)
    return url_for("patrol_log.route", plan_id=plan_id, team=team, **args)


@bp.route("/<int:plan_id>/<int:team>/undo", methods=["POST"])
@role_required("guardian")
def undo(plan_id: int, team: int):
    """Undo the route's last tap: an arrival removes its visit, a departure reopens it.

    The form names the tap it means (`visit` and `action`); when another tap came since, nothing
    is undone and the page says so.
    """
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The tap could not be undone: reload the page and try again.")
    plan = get_plan(plan_id)
    r = route_of(plan, team)
    visit_id = params.integer(request.form.get("visit"), "visit", lo=1, hi=2**31 - 1)
    action = params.choice(request.form.get("action"), "action", ("arrive", "depart"))
    check_may_log(plan, r["team"]["name"])
    tap = _shift.last_tap(_route_visits(plan, r["team"]["name"]))
    if tap is None or tap[0].id != visit_id or tap[1] != action:
        flash("Nothing undone: the route's last tap has changed since this page was loaded.", "error")
        return redirect(_back(plan_id, team))
    v = tap[0]
    session = db_session()
    if action == "arrive":
        session.delete(v)
        text = f"Undone: the arrival at stop {v.stop_number}."
    else:
        v.departed_at = None
        text = f"Undone: leaving stop {v.stop_number}; the visit is open again."
    session.commit()
    audit("visit_undone", target=f"plan {plan.id}", team=r["team"]["name"], stop=v.stop_number,
          tap=action)
    flash(text, "success")
    return redirect(_back(plan_id, team) + f"#stop-{v.stop_number}")


def check_may_log(plan: SavedPlan, team: str) -> None:
    """Refuse (403, with `why_not_log`'s reason) a change to a route's log the current user may
    not make."""
    refusal = why_not_log(current_user, plan, team)
    if refusal:
        raise ApiError(403, refusal, details={"plan_id": plan.id, "team": team})


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
    streets = _shift.stop_streets([{"stop_id": c["h3_cell"]} for c in report["cells"]],
                                  get_data().incidents())
    return render_template("dosage.html", report=report, n_weeks=n_weeks, ward_names=names, most=most,
                           streets=streets)
