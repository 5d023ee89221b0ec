"""The JSON API under /api/v1/: hotspots (GeoJSON), wards, plans, visits, evaluation.

Every endpoint needs a session or an API token (`Authorization: Bearer <token>`). Requests that
change something with a session cookie also need the CSRF token (header `X-CSRFToken`); token
clients need none. Errors are always ``{"error": {"code", "message", "details"}}``; a bad query
parameter is a 400 naming it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import params
from webapp.auth import role_required
from webapp.db import SavedPlan, Visit, db_session
from webapp.errors import ApiError, ParameterError
from webapp.evaluation import evaluation_params, evaluation_rows
from webapp.openapi import openapi_document
from webapp.patrol_log import record_visit
from webapp.plans import PLAN_FIELDS, create_plan, plan_params
from webapp.presentation import records
from webapp.security import protect_session_writes
from webapp.services import CATEGORY_LABELS, SERIOUS_VIOLENCE_NOTE, get_data

bp = Blueprint("api", __name__)

HOTSPOT_PARAMS = ("period", "category", "wards", "resolution", "top", "weight")
WARD_PARAMS = ("period", "category", "wards")
EVALUATION_PARAMS = ("period", "category", "periods", "method")
VISIT_FIELDS = ("plan_id", "team", "stop", "action", "arrived_at", "departed_at", "note")


bp.before_request(protect_session_writes)


def _wards_arg() -> Any:
    values = request.args.getlist("wards")
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


def _int_arg(name: str, lo: int, hi: int) -> int | None:
    return params.integer(params.one(request.args, name), name, lo=lo, hi=hi)


def _arg(name: str) -> Any:
    return params.one(request.args, name)


def _json_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object (Content-Type: application/json).",
                       code="invalid_body")
    params.known(body, allowed, what="field")
    return body


@bp.route("/")
@role_required("viewer")
def index():
    return jsonify({
        "openapi": url_for("api.openapi"),
        "endpoints": {
            "hotspots": url_for("api.hotspots"), "wards": url_for("api.wards"),
            "plans": url_for("api.plans"), "visits": url_for("api.visits"),
            "evaluation": url_for("api.evaluation"),
        },
        "user": {"username": current_user.username, "role": current_user.role},
    })


@bp.route("/openapi.json")
@role_required("viewer")
def openapi():
    return jsonify(openapi_document())


@bp.route("/hotspots")
@role_required("viewer")
def hotspots():
    params.check_query(HOTSPOT_PARAMS)
    data = get_data()
    top = _int_arg("top", 1, 100_000)
    q = data.query(category=_arg("category"), period=_arg("period"), wards=_wards_arg(),
                   resolution=_arg("resolution"), weight=_arg("weight"))
    body = data.hotspots_geojson(q, top=top)
    response = Response(body, mimetype="application/geo+json")
    response.headers["X-Hotspots-Demo"] = "true" if data.is_demo() else "false"
    return response


@bp.route("/wards")
@role_required("viewer")
def wards():
    params.check_query(WARD_PARAMS)
    data = get_data()
    q = data.query(category=_arg("category"), period=_arg("period"), wards=_wards_arg())
    table = data.ward_table(q)
    rows = records(table)
    return jsonify({"period": q.period, "category": q.category,
                    "category_label": CATEGORY_LABELS[q.category],
                    "note": SERIOUS_VIOLENCE_NOTE if q.category != "asb" else "",
                    "notes": list(table.attrs.get("notes", [])),
                    "outside_wards": table.attrs.get("unassigned", 0),
                    "snapped": table.attrs.get("snapped", 0),
                    "demo": data.is_demo(), "wards": rows})


def plan_json(plan: SavedPlan, *, full: bool = True) -> dict[str, Any]:
    out = {
        "id": plan.id, "name": plan.name, "period": plan.period, "category": plan.category,
        "status": plan.status, "created_at": plan.created_at.isoformat() + "Z",
        "shift_date": plan.shift_date.isoformat() if plan.shift_date else None,
        "shift": plan.shift,
        "approximate": plan.approximate, "demo": plan.demo, "assignments": plan.assignments,
        "params": plan.params,
        "links": {
            "self": url_for("api.plan", plan_id=plan.id),
            "page": url_for("plans.show", plan_id=plan.id),
            "gpx": url_for("exports.plan_gpx", plan_id=plan.id),
            "geojson": url_for("exports.plan_geojson", plan_id=plan.id),
            "sheet": url_for("plans.sheet", plan_id=plan.id),
        },
    }
    if full:
        out["plan"] = plan.plan
    return out


@bp.route("/plans", methods=["GET", "POST"])
@role_required("guardian")
def plans():
    if request.method == "POST":
        params.check_query(())
        fields = plan_params(_json_body(PLAN_FIELDS))
        record = create_plan(fields)
        response = jsonify(plan_json(record))
        response.status_code = 201
        response.headers["Location"] = url_for("api.plan", plan_id=record.id)
        return response
    params.check_query(("limit",))
    limit = _int_arg("limit", 1, 500) or 50
    rows = db_session().scalars(select(SavedPlan).order_by(SavedPlan.id.desc()).limit(limit)).all()
    return jsonify({"plans": [plan_json(p, full=False) for p in rows]})


@bp.route("/plans/<int:plan_id>")
@role_required("guardian")
def plan(plan_id: int):
    params.check_query(())
    record = db_session().get(SavedPlan, plan_id)
    if record is None:
        raise ApiError(404, f"There is no patrol plan {plan_id}.", details={"plan_id": plan_id})
    return jsonify(plan_json(record))


def _timestamp(body: dict[str, Any], name: str) -> dt.datetime | None:
    return params.timestamp(body.get(name), name, tz=get_data().settings.timezone)


def visit_json(v: Visit) -> dict[str, Any]:
    return {"id": v.id, "plan_id": v.plan_id, "team": v.team, "stop": v.stop_number,
            "h3_cell": v.h3_cell, "ward_code": v.ward_code,
            "arrived_at": v.arrived_at.isoformat() + "Z",
            "departed_at": v.departed_at.isoformat() + "Z" if v.departed_at else None,
            "minutes": round(v.minutes, 2) if v.minutes is not None else None, "note": v.note}


@bp.route("/visits", methods=["POST"])
@role_required("guardian")
def visits():
    params.check_query(())
    body = _json_body(VISIT_FIELDS)
    if body.get("plan_id") is None:
        raise ParameterError("plan_id", "`plan_id` is missing; give the id of a saved plan.")
    plan_id = params.integer(body.get("plan_id"), "plan_id", lo=1, hi=params.MAX_ID)
    record = db_session().get(SavedPlan, plan_id)
    if record is None:
        raise ParameterError("plan_id", f"`plan_id`: there is no patrol plan {plan_id}.", value=plan_id)
    teams = [r["team"]["name"] for r in record.plan.get("routes", [])]
    team = body.get("team")
    if isinstance(team, int) and not isinstance(team, bool) and 0 <= team < len(teams):
        index = team
    elif isinstance(team, str) and team in teams:
        index = teams.index(team)
    else:
        raise ParameterError("team", f"`team` must be a team name of plan {plan_id} ({', '.join(teams)}) "
                             "or its index.", value=team)
    if body.get("stop") is None:
        raise ParameterError("stop", "`stop` is missing; give the stop number (1, 2, ...).")
    stop = params.integer(body.get("stop"), "stop", lo=1, hi=10_000)
    arrived, departed = _timestamp(body, "arrived_at"), _timestamp(body, "departed_at")
    action = params.choice(body.get("action"), "action", ("arrive", "depart"),
                           default="arrive" if arrived is not None or departed is None else "depart")
    note = params.text(body.get("note"), "note", max_len=500)
    if action == "depart":
        v = record_visit(record, index, stop, "depart", at=departed)
    else:
        v = record_visit(record, index, stop, "arrive", at=arrived, departed_at=departed, note=note)
    response = jsonify(visit_json(v))
    response.status_code = 201
    return response


@bp.route("/evaluation")
@role_required("analyst")
def evaluation():
    params.check_query(EVALUATION_PARAMS)
    chosen = evaluation_params(request.args)
    rows = evaluation_rows(chosen)
    table = get_data().evaluation(**chosen)
    return jsonify({"category": chosen["category"], "period": chosen["period"].label,
                    "periods": chosen["periods"], "method": chosen["method"],
                    "periods_used": table.attrs.get("periods_used", chosen["periods"]),
                    "notes": list(table.attrs.get("notes", [])),
                    "demo": get_data().is_demo(), "rows": rows})

