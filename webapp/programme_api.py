"""The programme's JSON API under /api/v1/: the hotspot register, its impact and dosage, and teams.

Everyone with a login reads; analysts and admins designate and change (POST, PATCH). Like the rest
of the API, a session cookie needs the CSRF header to change anything; a token needs none. Errors
have the API's one shape (`webapp.errors`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from webapp import _programme, params, register
from webapp.auth import role_required
from webapp.errors import ApiError, ParameterError
from webapp.security import protect_session_writes

bp = Blueprint("programme_api", __name__)


bp.before_request(protect_session_writes)


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object (Content-Type: application/json).",
                       code="invalid_body")
    params.known(body, allowed, what="field")
    return body


def _record(hotspot_id: int):
    try:
        return register.get_hotspot(hotspot_id)
    except ParameterError as exc:
        raise ApiError(404, str(exc), details={"hotspot": hotspot_id}) from None


def _as_of() -> dt.date | None:
    return register.date_param(params.one(request.args, "as_of"), "as_of")


def _comparison() -> str | None:
    value = params.one(request.args, "comparison")
    return params.choice(value, "comparison", ("wards", "matched"), default="") or None


@bp.route("/register", methods=["GET", "POST"])
@role_required("viewer")
def hotspots():
    if request.method == "POST":
        if not current_user.has_role("analyst"):
            raise ApiError(403, "Designating a hotspot needs the analyst role or higher.")
        params.check_query(())
        record = register.create_hotspot(_body(register.HOTSPOT_FIELDS))
        response = jsonify(register.hotspot_json(record))
        response.status_code = 201
        response.headers["Location"] = url_for("programme_api.hotspot", hotspot_id=record.id)
        return response
    params.check_query(("status",))
    status = params.one(request.args, "status") or None
    records = register.list_hotspots(status)
    teams = register.team_names()
    label, rows = _programme.register_rows(records)
    out = []
    for row in rows:
        item = register.hotspot_json(row["record"], teams=teams)
        item["recent"] = {"period": label, "incidents": row["recent"]}
        item["trend"] = row["trend"]
        item["dosage_this_week"] = (None if row["dose_target"] is None else
                                    {"visits": row["dose_visits"], "target_visits": row["dose_target"],
                                     "minutes": row["dose_minutes"]})
        out.append(item)
    return jsonify({"hotspots": out, "count": len(out)})


@bp.route("/register/<int:hotspot_id>", methods=["GET", "PATCH"])
@role_required("viewer")
def hotspot(hotspot_id: int):
    record = _record(hotspot_id)
    if request.method == "PATCH":
        if not current_user.has_role("analyst"):
            raise ApiError(403, "Changing a hotspot needs the analyst role or higher.")
        params.check_query(())
        changes = register.update_hotspot(record, _body(register.HOTSPOT_FIELDS))
        out = register.hotspot_json(record)
        out["changes"] = changes
        return jsonify(out)
    params.check_query(())
    out = register.hotspot_json(record)
    out["history"] = [{"at": e.at.isoformat() + "Z", "by": e.username, "action": e.action,
                       "reason": e.detail.get("reason", ""), "changes": e.detail.get("changes", {})}
                      for e in register.history(record)]
    impact = _programme.impact_by_id().get(record.id)
    out["impact"] = impact.to_dict() if impact is not None else None
    per_hotspot, _teams = _programme.dosage_report([record])
    out["dosage"] = per_hotspot[0].to_dict() if per_hotspot else None
    return jsonify(out)


@bp.route("/register/<int:hotspot_id>/impact")
@role_required("viewer")
def hotspot_impact(hotspot_id: int):
    params.check_query(("comparison", "as_of"))
    record = _record(hotspot_id)
    if record.status not in _programme.STARTED:
        raise ApiError(409, f"hotspot {record.id} is {record.status}: impact is measured once it is active.",
                       details={"status": record.status})
    impact = _programme.impact_by_id(comparison=_comparison(), as_of=_as_of()).get(record.id)
    if impact is None:
        raise ApiError(409, "The incident store is empty: there is nothing to measure impact with.")
    return jsonify(impact.to_dict())


@bp.route("/impact")
@role_required("viewer")
def impact():
    params.check_query(("comparison", "as_of"))
    result = _programme.programme_impact(comparison=_comparison(), as_of=_as_of())
    if result is None:
        return jsonify({"hotspots": [], "pooled": {}, "note": "The incident store is empty."})
    return jsonify(result.to_dict())


@bp.route("/dosage")
@role_required("viewer")
def dosage():
    params.check_query(("weeks",))
    weeks = params.integer(params.one(request.args, "weeks"), "weeks", lo=0, hi=26, default=4)
    records = [r for r in register.list_hotspots() if r.status in _programme.STARTED]
    per_hotspot, per_team = _programme.dosage_report(records, weeks=weeks)
    return jsonify({"hotspots": [d.to_dict() for d in per_hotspot],
                    "teams": [d.to_dict() for d in per_team]})


@bp.route("/teams")
@role_required("viewer")
def teams():
    params.check_query(())
    return jsonify({"teams": [register.team_json(t) for t in register.list_teams()]})


def openapi_paths(param, error_responses) -> dict[str, Any]:
    """The OpenAPI paths of the programme's endpoints (merged into `webapp.openapi`)."""
    errors = error_responses(400, 401, 403, 500)
    hid = param("hotspot_id", "Designated hotspot id.", {"type": "integer"}, required=True, where="path")
    comparison = param("comparison", "Comparison area: the rest of the hotspot's wards, or matched "
                       "cells with similar counts before the start (against regression to the mean).",
                       {"type": "string", "enum": ["wards", "matched"]})
    as_of = param("as_of", "End of the time since the start; default: where the data ends.",
                  {"type": "string", "format": "date"})
    fields = {
        "name": {"type": "string", "description": "Default: the area's main street label."},
        "category": {"type": "string", "enum": list(register.CATEGORIES)},
        "cells": {"type": "array", "items": {"type": "string"}, "description": "H3 cells (hex)."},
        "polygon": {"type": "object", "description": "Or a GeoJSON Polygon/Feature, longitude/latitude."},
        "team": {"type": "string"}, "tactic": {"type": "string", "enum": list(register.TACTICS)},
        "visits_per_week": {"type": "integer", "minimum": 1, "maximum": 100, "default": 7},
        "minutes_per_visit": {"type": "number", "minimum": 1, "maximum": 240, "default": 15},
        "start_date": {"type": "string", "format": "date"},
        "review_date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": list(register.STATUSES)},
        "notes": {"type": "string"},
        "reason": {"type": "string", "description": "Why (required for a change); kept in the audit log."},
    }
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": fields}}}}
    obj = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/register": {
            "get": {"summary": "The register of designated hotspots", "description": "With recent "
                    "incidents, trend since designation and dosage this week. Role: viewer.",
                    "parameters": [param("status", "open, or one status; default all.", {"type": "string"})],
                    "responses": {"200": {"description": "Hotspots", **obj}, **errors}},
            "post": {"summary": "Designate a hotspot", "description": "Role: analyst. Audited with who and why.",
                     "requestBody": body,
                     "responses": {"201": {"description": "The hotspot", **obj}, **errors}},
        },
        "/register/{hotspot_id}": {
            "get": {"summary": "One hotspot with history, impact and dosage", "description": "Role: viewer.",
                    "parameters": [hid],
                    "responses": {"200": {"description": "The hotspot", **obj},
                                  **error_responses(400, 401, 403, 404, 500)}},
            "patch": {"summary": "Change a hotspot", "description": "Only the fields given change; "
                      "`reason` is required. Role: analyst.", "parameters": [hid], "requestBody": body,
                      "responses": {"200": {"description": "The hotspot and its `changes`", **obj},
                                    **error_responses(400, 401, 403, 404, 500)}},
        },
        "/register/{hotspot_id}/impact": {"get": {
            "summary": "Impact of one hotspot", "description": "Before/after counts and harm against a "
            "comparison and a buffer ring, exact intervals, WDQ, a plain reading. Role: viewer.",
            "parameters": [hid, comparison, as_of],
            "responses": {"200": {"description": "The impact", **obj}, **error_responses(400, 401, 403, 404, 500)}}},
        "/impact": {"get": {
            "summary": "Impact of every started hotspot and of the programme per category",
            "description": "Role: viewer.", "parameters": [comparison, as_of],
            "responses": {"200": {"description": "Hotspots and pooled figures", **obj}, **errors}}},
        "/dosage": {"get": {
            "summary": "Dosage per hotspot and per team", "description": "Target against delivered visits "
            "and minutes this week and the weeks before, from the patrol log. Role: viewer.",
            "parameters": [param("weeks", "Whole weeks before this one.",
                                 {"type": "integer", "minimum": 0, "maximum": 26, "default": 4})],
            "responses": {"200": {"description": "Dosage", **obj}, **errors}}},
        "/teams": {"get": {"summary": "Patrol teams", "description": "Role: viewer.",
                           "responses": {"200": {"description": "Teams", **obj}, **errors}}},
    }
