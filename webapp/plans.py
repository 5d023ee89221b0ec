"""Patrol plans: the form, the plan on a map, the printable sheet, save and assign to teams."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from hotspots.errors import InputError
from webapp import _maps, params
from webapp._deployment import active_teams, date_param, make_plan, team_names_param
from webapp._once import once
from webapp.assets import map_assets
from webapp.auth import role_required
from webapp.db import ROLES, SavedPlan, User, audit, db_session
from webapp.errors import ApiError, ParameterError
from webapp.forms import ActionForm, PlanForm, SavePlanForm, _choices
from webapp.maps import tiles
from webapp.security import add_nonce
from webapp.services import CATEGORY_LABELS, SERIOUS_VIOLENCE_NOTE, get_data

bp = Blueprint("plans", __name__, url_prefix="/plans")

PLAN_FIELDS = ("period", "category", "teams", "date", "shift_start", "shift_min", "dwell_min",
               "mode", "stops_per_ward", "any_ward", "vary", "seed")


def plan_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Check the parameters of a plan request (from the form or the API); errors name the field."""
    data = get_data()
    s = data.settings
    unknown = sorted(set(raw) - set(PLAN_FIELDS))
    if unknown:
        raise ParameterError(unknown[0], f"unknown parameter `{unknown[0]}`; expected "
                             f"{', '.join(PLAN_FIELDS)}.", value=unknown[0])
    out: dict[str, Any] = {}
    period = data.parse_period(raw.get("period") or data.default_period())
    data.check_weekly(period)
    if period.kind == "range":
        raise ParameterError("period", "`period` must be an ISO week (2025-W23) or a month (2025-06).",
                             value=raw.get("period"))
    out["period"] = period.label
    category = raw.get("category") or "asb"
    if category not in ("asb", "serious_violence", "both"):
        raise ParameterError("category", f"`category` is {category!r}; expected asb, "
                             "serious_violence or both.", value=category)
    out["category"] = category

    def number(name: str, default: Any, lo: float, hi: float, kind=int) -> Any:
        check = params.integer if kind is int else params.number
        return check(raw.get(name), name, lo=lo, hi=hi, default=default)

    out["teams"] = team_names_param(raw.get("teams"))
    out["date"] = date_param(raw.get("date")).isoformat()
    start = str(raw.get("shift_start") or s.patrol_shift_start).strip()
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", start):
        raise ParameterError("shift_start", f"`shift_start` is {start!r}; expected HH:MM, such as 16:00.",
                             value=start)
    out["shift_start"] = start
    out["shift_min"] = number("shift_min", s.patrol_shift_min, 15, 720)
    out["dwell_min"] = number("dwell_min", s.dwell_min, 10, 16, float)
    mode = raw.get("mode") or None
    if mode not in (None, "drive", "walk"):
        raise ParameterError("mode", f"`mode` is {mode!r}; expected drive or walk (or none: each "
                             "team's own).", value=mode)
    out["mode"] = mode
    out["stops_per_ward"] = number("stops_per_ward", s.patrol_stops_per_ward, 1, 50)
    out["any_ward"] = flag(raw.get("any_ward"), "any_ward", default=False)
    out["vary"] = flag(raw.get("vary"), "vary", default=bool(s.patrol_vary_designated))
    out["seed"] = number("seed", 0, 0, 2**31 - 1)
    return out


def flag(raw: Any, name: str, *, default: bool) -> bool:
    """A yes/no parameter: a JSON boolean, or form text (`y`, `true`, `1`, `on` / `n`, `false`,
    `0`, `off`); `default` when empty."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("y", "yes", "true", "1", "on"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("n", "no", "false", "0", "off"):
        return False
    raise ParameterError(name, f"`{name}` is {raw!r}; expected true or false.", value=raw)


def create_plan(params: dict[str, Any]) -> SavedPlan:
    """Plan patrols for checked `params` and keep the result as a draft plan.

    The solver runs in the app's planner (worker processes); at most `PLAN_MAX_WAITING` plan
    requests wait for it at once, so waiting plans never take every server thread.
    """
    data = get_data()
    label = f"{CATEGORY_LABELS[params['category']]} {params['period']}"
    day = dt.date.fromisoformat(params["date"])
    shift = f"{day.strftime('%a')} {day.isoformat()} {params['shift_start']}"
    title = (f"Patrol plan: {label}, shift {shift}"
             + (" (DEMO DATA)" if data.is_demo() else ""))
    gate: threading.BoundedSemaphore = current_app.extensions["hotspots_plan_gate"]
    if not gate.acquire(blocking=False):
        raise ApiError(503, "The route planner is busy with other plans; try again in a few seconds.",
                       code="planner_busy", details={"retry_after_s": 5})
    try:
        out = make_plan(data, **params, title=title, planner=current_app.extensions["hotspots_planner"])
    finally:
        gate.release()
    record = SavedPlan(
        created_by=current_user.id, name=f"{label}, {shift}", period=params["period"],
        category=params["category"], shift_date=day,
        shift=((out["plan"].get("deployment") or {}).get("shift") or {}).get("label", shift),
        params=params, plan=out["plan"], geojson=out["geojson"], gpx=out["gpx"],
        gpx_teams=out["gpx_teams"], sheet_html=out["sheet_html"], approximate=out["approximate"],
        demo=data.is_demo(), status="draft", assignments=_default_assignments(out["teams"]),
    )
    session = db_session()
    session.add(record)
    session.commit()
    audit("plan_created", target=f"plan {record.id}", period=record.period, category=record.category,
          approximate=record.approximate, teams=list(out["teams"]), shift=record.shift)
    return record


def _guardians() -> list[User]:
    users = db_session().scalars(select(User).where(User.active.is_(True)).order_by(User.username)).all()
    return [u for u in users if ROLES.index(u.role) >= ROLES.index("guardian")]


def _default_assignments(teams: list[str]) -> dict[str, str]:
    by_team = {}
    for u in _guardians():
        if u.team and u.team not in by_team:
            by_team[u.team] = u.username
    return {t: by_team.get(t, "") for t in teams}


def get_plan(plan_id: int) -> SavedPlan:
    plan = db_session().get(SavedPlan, plan_id)
    if plan is None:
        abort(404, description=f"There is no patrol plan {plan_id}.")
    return plan


def _form_defaults(form: PlanForm) -> None:
    data = get_data()
    s = data.settings
    teams = active_teams()
    form.teams.choices = _choices([(t.name, t.name) for t in teams])
    if not form.is_submitted():
        form.period.data = data.default_period()
        form.teams.data = []
        form.date.data = date_param(None)
        form.shift_start.data = s.patrol_shift_start
        form.shift_min.data = s.patrol_shift_min
        form.dwell_min.data = s.dwell_min
        form.mode.data = ""
        form.stops_per_ward.data = s.patrol_stops_per_ward
        form.vary.data = bool(s.patrol_vary_designated)
    return teams


@bp.route("/", methods=["GET", "POST"])
@role_required("guardian")
@once  # a double click makes one plan
def index():
    form = PlanForm()
    teams = _form_defaults(form)
    error = None
    status = 200
    if form.validate_on_submit():
        raw = {name: form[name].data for name in PLAN_FIELDS if name in form}
        raw["date"] = raw["date"].isoformat() if raw.get("date") else None
        try:
            record = create_plan(plan_params(raw))
        except InputError as exc:
            error, status = str(exc), 400
        else:
            return redirect(url_for("plans.show", plan_id=record.id))
    elif form.is_submitted():
        status = 400
    plans = db_session().scalars(select(SavedPlan).order_by(SavedPlan.id.desc()).limit(50)).all()
    network_modes = {m: get_data().network_choice(m).path is not None for m in ("drive", "walk")}
    return render_template("plans.html", form=form, plans=plans, error=error,
                           network_modes=network_modes, periods=get_data().period_choices(),
                           category_labels=CATEGORY_LABELS, teams=teams,
                           designated=_designated_by_team(teams),
                           ward_names={c: n for c, n, _ in get_data().ward_choices()}), status


def _designated_by_team(teams: list) -> dict[str, int]:
    """Team name -> how many live designated hotspots it owns (shown beside each tick box)."""
    from webapp._deployment import designated_records

    out: dict[str, int] = {}
    for r in designated_records(teams, date_param(None)):
        if r["team"]:
            out[r["team"]] = out.get(r["team"], 0) + 1
    return out


@bp.route("/<int:plan_id>")
@role_required("guardian")
def show(plan_id: int):
    plan = get_plan(plan_id)
    save_form = SavePlanForm()
    save_form.name.data = plan.name
    sv = SERIOUS_VIOLENCE_NOTE if plan.category in ("serious_violence", "both") else ""
    return render_template("plan.html", plan=plan, p=plan.plan, save_form=save_form,
                           guardians=_guardians(), sv_note=sv, category_labels=CATEGORY_LABELS,
                           action_form=ActionForm())


@bp.route("/<int:plan_id>/map")
@role_required("guardian")
def plan_map(plan_id: int):
    plan = get_plan(plan_id)
    data = get_data()
    wards = data.wards_wgs84()
    wards = wards[wards["ward_code"].isin(list(data.settings.priority_wards))]
    document = data.cache.get(("plan_map", plan.id, tiles()),
                              lambda: _maps.plan_map(json.loads(plan.geojson), wards,
                                                     assets=map_assets(), tiles=tiles()))
    return Response(add_nonce(document), mimetype="text/html")


@bp.route("/<int:plan_id>/sheet")
@role_required("guardian")
def sheet(plan_id: int):
    plan = get_plan(plan_id)
    return Response(add_nonce(plan.sheet_html), mimetype="text/html")


@bp.route("/<int:plan_id>/save", methods=["POST"])
@role_required("guardian")
def save(plan_id: int):
    plan = get_plan(plan_id)
    form = SavePlanForm()
    if not form.validate_on_submit():
        abort(400, description="The plan could not be saved: check the form.")
    teams = [r["team"]["name"] for r in plan.plan.get("routes", [])]
    known = {u.username for u in _guardians()}
    assignments = {}
    for i, team in enumerate(teams):
        who = (request.form.get(f"assign-{i}") or "").strip()
        if who and who not in known:
            abort(400, description=f"{who!r} is not an active guardian account.")
        assignments[team] = who
    plan.name = (form.name.data or plan.name).strip()[:200]
    plan.assignments = assignments
    plan.status = "saved"
    db_session().commit()
    audit("plan_saved", target=f"plan {plan.id}", name=plan.name, period=plan.period,
          category=plan.category, assignments=assignments, approximate=plan.approximate)
    flash("Plan saved and assigned.", "success")
    return redirect(url_for("plans.show", plan_id=plan.id))
