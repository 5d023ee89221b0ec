"""Downloads: hotspot rankings as GeoJSON or CSV, the evaluation table as CSV, patrol plans as
GPX, GeoJSON or CSV; each one audited, each with its context (`hotspots.export.export_context`:
period, category, wards, weighting, settings, generation time, sources and their coverage, the
synthetic flag) and, for demo data, `demo` in its file name."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, abort, request

from webapp import _exports, params
from webapp.auth import role_required
from webapp.db import SavedPlan, audit
from webapp.maps import query_from_args
from webapp.plans import get_plan
from webapp.services import get_data

bp = Blueprint("exports", __name__, url_prefix="/exports")

MIMETYPES = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpx": "application/gpx+xml",
    "json": "application/json",
}


def export_name(kind: str, category: str, period: str, fmt: str, *, demo: bool = False) -> str:
    """A download's file name, e.g. `hotspots-asb-2025-W23.geojson` (`...-demo.geojson` for
    synthetic demo data)."""
    return f"{kind}-{category.replace('_', '-')}-{period}{'-demo' if demo else ''}.{fmt}"


def attachment(body: str, filename: str, fmt: str) -> Response:
    response = Response(body, mimetype=MIMETYPES[fmt].split(";")[0])
    if ";" in MIMETYPES[fmt]:
        response.headers["Content-Type"] = MIMETYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/hotspots.<fmt>")
@role_required("analyst")
def hotspots(fmt: str):
    if fmt not in ("geojson", "csv", "context.json"):
        abort(404, description="Hotspots download as .geojson, .csv or .context.json.")
    data = get_data()
    q = query_from_args(request.args)
    top_n = params.integer(params.one(request.args, "top"), "top", lo=1, hi=100_000)
    if fmt == "geojson":
        body = data.hotspots_geojson(q, top=top_n)
    elif fmt == "csv":
        body = data.hotspots_csv(q, top=top_n)
    else:  # the CSV's sidecar: the whole context
        body = json.dumps(data.export_context("hotspots", attrs=data.ranking(q).attrs), indent=2)
    filename = export_name("hotspots", q.category, q.period, fmt, demo=data.is_demo())
    audit("export", target=filename, kind="hotspots", format=fmt, category=q.category,
          period=q.period, wards=list(q.wards), demo=data.is_demo())
    return attachment(body, filename, fmt.rsplit(".", 1)[-1])


@bp.route("/evaluation.csv")
@role_required("analyst")
def evaluation_csv():
    """The evaluation table (hit rate, PAI, PEI per test period and coverage) with its context."""
    from webapp import _evaluation
    from webapp.evaluation import evaluation_params

    data = get_data()
    chosen = evaluation_params(request.args)
    table = data.evaluation(**chosen)
    coverages = sorted({float(c) for c in table["coverage"]}) if len(table) else []
    context = data.export_context(
        "evaluation", attrs={**table.attrs, "resolution": data.settings.h3_resolution},
        period=chosen["period"].label, category=chosen["category"],
        wards=list(data.resolve_wards("priority")),
        extra={"method": chosen["method"], "periods": chosen["periods"], "coverages": coverages,
               "summary": json.loads(_evaluation.summary(table).to_json(orient="records"))
               if len(table) else []})
    body = _exports.evaluation_csv(table, context=context)
    filename = export_name("evaluation", chosen["category"], chosen["period"].label, "csv",
                           demo=bool(context.get("synthetic")))
    audit("export", target=filename, kind="evaluation", format="csv", category=chosen["category"],
          period=chosen["period"].label, demo=bool(context.get("synthetic")))
    return attachment(body, filename, "csv")


def plan_context(plan: SavedPlan) -> dict[str, Any]:
    """A saved plan's context (`webapp._exports.plan_context`, as the CLI's plans)."""
    data = get_data()
    return _exports.plan_context(
        plan.plan, settings=data.settings, coverage=data.coverage(), period=plan.period,
        category=plan.category, synthetic=bool(plan.demo),
        extra={"plan_id": plan.id, "plan_name": plan.name, "status": plan.status,
               "plan_made_at": plan.created_at.isoformat(timespec="seconds") + "Z",
               "request": dict(plan.params or {})})


def _plan_name(plan: SavedPlan, tail: str, fmt: str) -> str:
    return f"patrol-plan-{plan.id}{'-' + tail if tail else ''}{'-demo' if plan.demo else ''}.{fmt}"


@bp.route("/plans/<int:plan_id>.gpx")
@role_required("guardian")
def plan_gpx(plan_id: int):
    plan = get_plan(plan_id)
    team = params.text(params.one(request.args, "team"), "team", max_len=120)
    if team:
        if team not in plan.gpx_teams:
            abort(404, description=f"Plan {plan_id} has no team {team!r}.")
        body = plan.gpx_teams[team]
    else:
        body = plan.gpx
    body = _exports.plan_gpx(body, plan_context(plan))
    slug = re.sub(r"[^A-Za-z0-9]+", "-", team).strip("-").lower() if team else "all-teams"
    filename = _plan_name(plan, slug, "gpx")
    audit("export", target=filename, kind="plan", format="gpx", plan=plan.id, team=team or "",
          approximate=plan.approximate)
    return attachment(body, filename, "gpx")


@bp.route("/plans/<int:plan_id>.geojson")
@role_required("guardian")
def plan_geojson(plan_id: int):
    plan = get_plan(plan_id)
    filename = _plan_name(plan, "", "geojson")
    audit("export", target=filename, kind="plan", format="geojson", plan=plan.id,
          approximate=plan.approximate)
    return attachment(_exports.plan_geojson(plan.geojson, plan_context(plan)), filename, "geojson")


@bp.route("/plans/<int:plan_id>.csv")
@role_required("guardian")
def plan_csv(plan_id: int):
    """One row per stop, each team's stops in order, with the street and the plan's context."""
    from webapp import _shift

    plan = get_plan(plan_id)
    stops = [v for r in plan.plan.get("routes", []) for v in r.get("visits", [])]
    streets = _shift.stop_streets(stops, get_data().incidents())
    filename = _plan_name(plan, "", "csv")
    audit("export", target=filename, kind="plan", format="csv", plan=plan.id,
          approximate=plan.approximate)
    return attachment(_exports.plan_csv(plan.plan, plan_context(plan), streets=streets),
                      filename, "csv")
