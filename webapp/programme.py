"""The hotspot programme in the browser: the register of designated hotspots (list, designate,
show, change, close, export), the patrol teams and the dosage view."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from webapp import _programme, params, register
from webapp._draw import draw_context
from webapp.auth import role_required
from webapp.errors import ParameterError
from webapp.forms import ActionForm
from webapp.services import CATEGORY_LABELS, get_data

bp = Blueprint("programme", __name__)

SORTS = {
    "name": lambda r: r["name"].lower(),
    "category": lambda r: r["category"],
    "status": lambda r: register.STATUSES.index(r["status"]),
    "team": lambda r: r["team"].lower(),
    "start": lambda r: r["start_date"],
    "review": lambda r: (r["review_date"] or dt.date.max),
    "recent": lambda r: (r["recent"] if r["recent"] is not None else -1),
    "trend": lambda r: r["trend_order"],
    "dosage": lambda r: ((r["dose_visits"] or 0) / r["dose_target"]) if r["dose_target"] else -1,
}


def init_app(app: Flask) -> None:
    """Seed the teams table from the `patrol_teams` setting on first start."""
    with app.app_context():
        register.seed_teams()


def _fmt(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- the register


@bp.route("/register/")
@role_required("viewer")
def register_index():
    args = request.args
    sort = params.choice(params.one(args, "sort"), "sort", tuple(SORTS), default="review")
    order = params.choice(params.one(args, "order"), "order", ("asc", "desc"), default="asc")
    status = params.choice(params.one(args, "status"), "status", ("open", "all", *register.STATUSES),
                           default="open")
    records = register.list_hotspots(None if status == "all" else status)
    label, rows = _programme.register_rows(records)
    rows.sort(key=SORTS[sort], reverse=order == "desc")
    if sort == "review" and order == "asc":
        rows.sort(key=lambda r: not r["overdue"])  # overdue reviews first
    programme = _programme.programme_impact()
    return render_template("register.html", rows=rows, sort=sort, order=order, status=status,
                           period_label=label, statuses=register.STATUSES,
                           pooled=programme.pooled if programme else {},
                           editor=current_user.has_role("analyst"))


def _form_raw(current: Any = None) -> dict[str, Any]:
    """The register fields of a submitted form (a GeoJSON file upload becomes `polygon`)."""
    form = request.form
    raw: dict[str, Any] = {}
    for name in register.HOTSPOT_FIELDS:
        if name in form:
            raw[name] = form.get(name, "")
    cells = form.getlist("cells")
    if len(cells) > 1:
        raw["cells"] = "\n".join(cells)
    upload = request.files.get("polygon_file")
    if upload is not None and upload.filename:
        raw["polygon"] = upload.read(2 * 1024 * 1024 + 1).decode("utf-8", errors="replace")
        if len(raw["polygon"]) > 2 * 1024 * 1024:
            raise ParameterError("polygon", "`polygon`: the GeoJSON file is larger than 2 MB.")
        raw.pop("cells", None)
    if not str(raw.get("polygon", "")).strip():
        raw.pop("polygon", None)
    if current is not None:
        if "cells" in raw and sorted(str(raw["cells"]).split()) == sorted(current.cells):
            raw.pop("cells")
        elif "cells" in raw and not str(raw["cells"]).strip() and "polygon" not in raw:
            raw.pop("cells")
    return raw


def _choices() -> dict[str, Any]:
    return {"categories": register.CATEGORIES, "tactics": register.TACTICS,
            "statuses": register.STATUSES, "teams": register.list_teams(active_only=True),
            "category_labels": CATEGORY_LABELS}


@bp.route("/register/new", methods=["GET", "POST"])
@role_required("analyst")
def new():
    form = ActionForm()
    values: dict[str, Any] = {
        "cells": "\n".join(request.args.getlist("cells")),
        "category": request.args.get("category", "asb"),
        "tactic": "patrol", "status": "active",
        "visits_per_week": get_data().settings.hotspot_visits_per_week,
        "minutes_per_visit": get_data().settings.hotspot_minutes_per_visit,
        "start_date": register.today().isoformat(), "review_date": "", "name": "", "notes": "",
        "team": "", "polygon": "",
    }
    if values["category"] not in register.CATEGORIES:
        values["category"] = "asb"
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, description="The form expired: reload the page and try again.")
        raw = _form_raw()
        values.update({k: v for k, v in raw.items() if isinstance(v, str)})
        try:
            record = register.create_hotspot(raw)
        except ParameterError as exc:
            error = str(exc)
        else:
            flash(f"Designated hotspot {record.id}: {record.name}.", "success")
            return redirect(url_for("programme.show", hotspot_id=record.id))
    suggested = ""
    if values["cells"].strip():
        try:
            suggested = _programme.default_name(register.check_hotspot(
                {"cells": values["cells"], "category": values["category"]})["cells"])
        except ParameterError as exc:
            error = error or str(exc)
    return render_template("register_new.html", form=form, values=values, error=error,
                           suggested=suggested, **_choices(), **draw_context()), (400 if error else 200)


@bp.route("/register/<int:hotspot_id>")
@role_required("viewer")
def show(hotspot_id: int):
    record = _get(hotspot_id)
    impact = _programme.impact_by_id().get(record.id)
    per_hotspot, _teams = _programme.dosage_report([record])
    dose = per_hotspot[0] if per_hotspot else None
    from webapp import _programme_charts

    chart = _programme_charts.dosage_chart(dose) if dose is not None else ""
    area_svg = _programme_charts.area_svg(record)
    editor = current_user.has_role("analyst")
    drawing = draw_context(area_cells=record.cells) if editor else {}
    return render_template("register_show.html", h=record, impact=impact, dose=dose, chart=chart,
                           area_svg=area_svg, history=register.history(record),
                           team=register.team_names().get(record.team_id, "") if record.team_id else "",
                           overdue=register.is_overdue(record), form=ActionForm(),
                           editor=editor, **_choices(), **drawing)


def _get(hotspot_id: int):
    try:
        return register.get_hotspot(hotspot_id)
    except ParameterError as exc:
        abort(404, description=str(exc))


@bp.route("/register/<int:hotspot_id>/edit", methods=["POST"])
@role_required("analyst")
def edit(hotspot_id: int):
    record = _get(hotspot_id)
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    raw = _form_raw(record)
    changes = register.update_hotspot(record, raw)
    if changes:
        flash(f"Hotspot {record.id} changed: {', '.join(changes)}.", "success")
    else:
        flash("Nothing changed.", "info")
    return redirect(url_for("programme.show", hotspot_id=record.id))


@bp.route("/register/<int:hotspot_id>/close", methods=["POST"])
@role_required("analyst")
def close(hotspot_id: int):
    record = _get(hotspot_id)
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    day = register.date_param(request.form.get("on"), "on")
    register.close_hotspot(record, reason=request.form.get("reason", ""), on=day)
    flash(f"Hotspot {record.id} closed.", "success")
    return redirect(url_for("programme.show", hotspot_id=record.id))


EXPORT_COLUMNS = ("id", "name", "category", "status", "team", "tactic", "visits_per_week",
                  "minutes_per_visit", "start_date", "review_date", "closed_on", "cells", "notes")


def export_rows(records) -> list[dict[str, Any]]:
    """One flat row per hotspot (the CSV export's columns)."""
    names = register.team_names()
    return [{"id": r.id, "name": r.name, "category": r.category, "status": r.status,
             "team": names.get(r.team_id, "") if r.team_id else "", "tactic": r.tactic,
             "visits_per_week": r.visits_per_week, "minutes_per_visit": r.minutes_per_visit,
             "start_date": _fmt(r.start_date), "review_date": _fmt(r.review_date),
             "closed_on": _fmt(r.closed_on), "cells": " ".join(r.cells), "notes": r.notes}
            for r in records]


def export_csv(records) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export_rows(records):
        writer.writerow(row)
    return out.getvalue()


def export_geojson(records) -> str:
    """RFC 7946 GeoJSON: one feature per hotspot, its drawn polygon or its cells' outline."""
    from hotspots.areas import area_geojson

    feats = []
    for row, r in zip(export_rows(records), records, strict=True):
        geom = r.polygon or area_geojson(r.cells)
        props = {k: v for k, v in row.items() if k != "cells"}
        props["cells"] = list(r.cells)
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    return json.dumps({"type": "FeatureCollection", "features": feats})


@bp.route("/register/export.<fmt>")
@role_required("analyst")
def export(fmt: str):
    if fmt not in ("csv", "geojson"):
        abort(404, description=f"The register exports as .csv or .geojson, not .{fmt}.")
    records = register.list_hotspots(request.args.get("status") or None)
    from webapp.db import audit

    audit("export", target=f"register.{fmt}", rows=len(records))
    if fmt == "csv":
        return Response(export_csv(records), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=hotspot-register.csv"})
    return Response(export_geojson(records), mimetype="application/geo+json",
                    headers={"Content-Disposition": "attachment; filename=hotspot-register.geojson"})


# --------------------------------------------------------------------------- teams


@bp.route("/teams/", methods=["GET", "POST"])
@role_required("viewer")
def teams():
    form = ActionForm()
    error = None
    values = {"name": "", "base": "", "mode": get_data().settings.patrol_mode, "members": "",
              "home_wards": ""}
    if request.method == "POST":
        if not current_user.has_role("analyst"):
            abort(403, description="Adding a team needs the analyst role or higher.")
        if not form.validate_on_submit():
            abort(400, description="The form expired: reload the page and try again.")
        raw = {k: request.form.get(k, "") for k in ("name", "base", "mode", "members", "home_wards")}
        values.update(raw)
        try:
            team = register.create_team(raw)
        except ParameterError as exc:
            error = str(exc)
        else:
            flash(f"Added team {team.name}.", "success")
            return redirect(url_for("programme.teams"))
    wards = {c: n for c, n, _ in get_data().ward_choices()}
    records = register.list_hotspots("open")
    owned: dict[int, list[Any]] = {}
    for r in records:
        if r.team_id:
            owned.setdefault(r.team_id, []).append(r)
    return render_template("teams.html", teams=register.list_teams(), ward_names=wards, owned=owned,
                           form=form, values=values, error=error, modes=register.MODES,
                           editor=current_user.has_role("analyst")), (400 if error else 200)


@bp.route("/teams/<int:team_id>", methods=["POST"])
@role_required("analyst")
def team_edit(team_id: int):
    from webapp.db import PatrolTeam, db_session

    team = db_session().get(PatrolTeam, team_id)
    if team is None:
        abort(404, description=f"There is no team {team_id}.")
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    raw = {k: request.form.get(k, "") for k in ("name", "base", "mode", "members", "home_wards")}
    raw["active"] = request.form.get("active", "")
    raw["reason"] = request.form.get("reason", "")
    changes = register.update_team(team, raw)
    flash(f"Team {team.name}: " + (f"changed {', '.join(changes)}." if changes else "nothing changed."),
          "success")
    return redirect(url_for("programme.teams"))


# --------------------------------------------------------------------------- dosage


DOSAGE_COLUMNS = ("kind", "id", "name", "team", "week", "target_visits", "visits", "complete",
                  "on_target", "target_minutes", "minutes", "days_without_visit", "active_days",
                  "elapsed_days")


def dosage_csv(per_hotspot, per_team) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=DOSAGE_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for kind, items in (("hotspot", per_hotspot), ("team", per_team)):
        for d in items:
            for w in d.weeks:
                writer.writerow({"kind": kind, "id": d.key if kind == "hotspot" else "", "name": d.name,
                                 "team": d.team, **w.to_dict()})
    return out.getvalue()


@bp.route("/dosage/")
@role_required("viewer")
def dosage():
    weeks = params.integer(params.one(request.args, "weeks"), "weeks", lo=1, hi=26, default=4)
    records = [r for r in register.list_hotspots() if r.status in _programme.STARTED]
    per_hotspot, per_team = _programme.dosage_report(records, weeks=weeks)
    if params.choice(params.one(request.args, "format"), "format", ("html", "csv"), default="html") == "csv":
        from webapp.db import audit

        audit("export", target="dosage.csv", weeks=weeks)
        return Response(dosage_csv(per_hotspot, per_team), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=dosage.csv"})
    from webapp import _programme_charts

    charts = {("team", d.key): _programme_charts.dosage_chart(d) for d in per_team}
    return render_template("programme_dosage.html", per_hotspot=per_hotspot, per_team=per_team,
                           weeks=weeks, charts=charts, statuses={r.id: r.status for r in records})
