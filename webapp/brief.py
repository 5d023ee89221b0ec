"""The weekly briefing pack in the browser (with a Print button) and as a PDF."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from flask import Blueprint, Response, render_template, request

from webapp import _brief, params
from webapp.auth import role_required
from webapp.db import audit

bp = Blueprint("brief", __name__, url_prefix="/brief")


def _args() -> tuple[str | None, str]:
    week = params.text(params.one(request.args, "week"), "week", max_len=20) or None
    wards = params.text(params.one(request.args, "wards"), "wards", max_len=400) or "priority"
    params.known(request.args, ("week", "wards"))
    return week, wards


@bp.route("/")
@role_required("viewer")
def page():
    week, wards = _args()
    model = _brief.brief_model(week, wards)
    from webapp.services import get_data

    return render_template("brief.html", week=week, wards=wards, timedelta=dt.timedelta,
                           week_choices=get_data().period_choices(), **model)


@bp.route("/brief.pdf")
@role_required("viewer")
def pdf():
    week, wards = _args()
    model = _brief.brief_model(week, wards)
    html = _brief.standalone_html({**model, "timedelta": dt.timedelta})
    with tempfile.TemporaryDirectory(prefix="hotspots-pdf-") as tmp:
        out = _brief.html_to_pdf(html, Path(tmp) / "brief.pdf")
        body = out.read_bytes()
    audit("export", target=f"brief {model['period'].label}.pdf")
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=hotspot-brief-{model['period'].label}.pdf"})
