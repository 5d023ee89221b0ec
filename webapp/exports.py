"""Downloads: hotspot rankings as GeoJSON or CSV, patrol plans as GPX or GeoJSON; each one audited."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request

from webapp import params
from webapp.auth import role_required
from webapp.db import audit
from webapp.maps import query_from_args
from webapp.plans import get_plan
from webapp.services import get_data

bp = Blueprint("exports", __name__, url_prefix="/exports")

MIMETYPES = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpx": "application/gpx+xml",
}


def export_name(kind: str, category: str, period: str, fmt: str) -> str:
    """A download's file name, e.g. `hotspots-asb-2025-W23.geojson`."""
    return f"{kind}-{category.replace('_', '-')}-{period}.{fmt}"


def attachment(body: str, filename: str, fmt: str) -> Response:
    response = Response(body, mimetype=MIMETYPES[fmt].split(";")[0])
    if ";" in MIMETYPES[fmt]:
        response.headers["Content-Type"] = MIMETYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/hotspots.<fmt>")
@role_required("analyst")
def hotspots(fmt: str):
    if fmt not in ("geojson", "csv"):
        abort(404, description="Hotspots download as .geojson or .csv.")
    data = get_data()
    q = query_from_args(request.args)
    top_n = params.integer(params.one(request.args, "top"), "top", lo=1, hi=100_000)
    body = data.hotspots_geojson(q, top=top_n) if fmt == "geojson" else data.hotspots_csv(q, top=top_n)
    filename = export_name("hotspots", q.category, q.period, fmt)
    audit("export", target=filename, kind="hotspots", format=fmt, category=q.category,
          period=q.period, wards=list(q.wards), demo=data.is_demo())
    return attachment(body, filename, fmt)


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
    slug = re.sub(r"[^A-Za-z0-9]+", "-", team).strip("-").lower() if team else "all-teams"
    filename = f"patrol-plan-{plan.id}-{slug}.gpx"
    audit("export", target=filename, kind="plan", format="gpx", plan=plan.id, team=team or "",
          approximate=plan.approximate)
    return attachment(body, filename, "gpx")


@bp.route("/plans/<int:plan_id>.geojson")
@role_required("guardian")
def plan_geojson(plan_id: int):
    plan = get_plan(plan_id)
    filename = f"patrol-plan-{plan.id}.geojson"
    audit("export", target=filename, kind="plan", format="geojson", plan=plan.id,
          approximate=plan.approximate)
    return attachment(plan.geojson, filename, "geojson")
