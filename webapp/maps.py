"""The hotspot map and the ward summary: what a neighbourhood policing lead reviews each week."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from hotspots.errors import InputError
from webapp import _charts
from webapp.assets import map_assets
from webapp.auth import role_required
from webapp.presentation import CLASSES, records
from webapp.security import add_nonce
from webapp.services import (
    CATEGORY_LABELS,
    SERIOUS_VIOLENCE_NOTE,
    HotspotQuery,
    get_data,
)

bp = Blueprint("maps", __name__)

TOP_N = 20


def init_app(app: Flask) -> None:
    @app.context_processor
    def _demo_flag() -> dict[str, Any]:
        # Every page shows the demo banner while the store holds demo incidents.
        try:
            demo = get_data().is_demo()
        except Exception:  # noqa: BLE001 - a broken store must not break the error page
            demo = False
        return {"show_demo_banner": demo, "category_labels": CATEGORY_LABELS}


def query_from_args(args, **kwargs: Any) -> HotspotQuery:
    wards = args.getlist("wards") or args.get("wards") or None
    if isinstance(wards, list) and len(wards) == 1:
        wards = wards[0]
    return get_data().query(category=args.get("category"), period=args.get("period"), wards=wards,
                            resolution=args.get("resolution"), **kwargs)


def query_args(q: HotspotQuery) -> dict[str, Any]:
    """URL parameters that give `q` back."""
    data = get_data()
    priority = tuple(sorted(data.settings.priority_wards))
    wards: Any = "priority" if q.wards == priority else list(q.wards)
    out: dict[str, Any] = {"period": q.period, "category": q.category, "wards": wards}
    if q.resolution != data.settings.h3_resolution:
        out["resolution"] = q.resolution
    return out


def tiles() -> tuple[str, str]:
    return (current_app.config.get("MAP_TILES_URL", ""), current_app.config.get("MAP_TILES_ATTRIBUTION", ""))


def _form_state(error: str | None = None) -> dict[str, Any]:
    data = get_data()
    return {
        "periods": data.recent_periods(),
        "ward_choices": data.ward_choices(),
        "weekly_ok": data.weekly_ok(),
        "empty": data.is_empty(),
        "error": error,
    }


def _map_page(status: int = 200, **context: Any):
    body = Markup(render_template("_map_body.html", **context))
    return render_template("map.html", body=body), status


@bp.route("/map")
@role_required("viewer")
def hotspot_map():
    data = get_data()
    chosen = {"period": request.args.get("period") or data.default_period(),
              "category": request.args.get("category", "asb"),
              "wards": request.args.getlist("wards") or ["priority"]}
    if data.is_empty():
        return _map_page(q=None, chosen=chosen, **_form_state())
    try:
        q = query_from_args(request.args)
        model = data.map_model(q, TOP_N)
    except InputError as exc:
        return _map_page(400, q=None, chosen=chosen, **_form_state(str(exc)))
    exporter = current_user.has_role("analyst")

    def body() -> Markup:
        # Nothing in the body depends on the session: one rendering serves every user of a role.
        args = query_args(q)
        shown = {"period": q.period, "category": q.category,
                 "wards": ["priority"] if args["wards"] == "priority" else list(q.wards)}
        return Markup(render_template(
            "_map_body.html", q=q, chosen=shown, classes=CLASSES, exporter=exporter, **model,
            frame_url=url_for("maps.frame", **args),
            geojson_url=url_for("exports.hotspots", fmt="geojson", **args),
            csv_url=url_for("exports.hotspots", fmt="csv", **args),
            context_url=url_for("exports.hotspots", fmt="context.json", **args),
            sv_note=SERIOUS_VIOLENCE_NOTE if q.category in ("serious_violence", "all") else "",
            **_form_state(),
        ))

    cached = data.cache.get(("map_body", data.store_version(), q, exporter, tiles()), body)
    return render_template("map.html", body=cached)


@bp.route("/map/frame")
@role_required("viewer")
def frame():
    data = get_data()
    q = query_from_args(request.args)
    document = data.map_html(q, assets=map_assets(), tiles=tiles())
    return Response(add_nonce(document), mimetype="text/html")


@bp.route("/wards")
@role_required("viewer")
def ward_summary():
    data = get_data()
    chosen = {"period": request.args.get("period") or data.default_period(),
              "category": request.args.get("category", "asb"),
              "wards": request.args.getlist("wards") or ["priority"]}
    if data.is_empty():
        return render_template("wards.html", q=None, chosen=chosen, **_form_state())
    try:
        q = query_from_args(request.args)
        table = data.ward_table(q)
    except InputError as exc:
        return render_template("wards.html", q=None, chosen=chosen, **_form_state(str(exc))), 400
    rows = records(table)
    # The last eight periods' counts per ward, for a small trend line beside each ward.
    history: dict[str, list[float]] = {r["ward_code"]: [] for r in rows}
    period = data.parse_period(q.period)
    labels = []
    for p in period.history(8):
        labels.append(p.label)
        try:
            past = data.ward_table(HotspotQuery(q.category, p.label, q.wards, q.resolution, q.weight))
        except InputError:
            past = None  # no data for that period: a gap in the line, never a zero
        counts = None if past is None else dict(zip(past["ward_code"].astype(str), past["count"], strict=True))
        for code in history:
            history[code].append(None if counts is None else float(counts.get(code, 0) or 0))
    for r in rows:
        r["spark"] = _charts.sparkline(history.get(r["ward_code"], []),
                                       label=f"{r.get('ward_name', '')}: counts over {labels[0]} to {labels[-1]}")
    chosen["wards"] = ["priority"] if query_args(q)["wards"] == "priority" else list(q.wards)
    notes = list(table.attrs.get("notes", []))
    if table.attrs.get("snapped"):
        notes.append(f"{table.attrs['snapped']:,} incident(s) just outside every ward (within "
                     f"{table.attrs.get('ward_snap_m', 0):g} m) are counted in the nearest ward.")
    return render_template("wards.html", q=q, chosen=chosen, rows=rows, history_labels=labels, notes=notes,
                           sv_note=SERIOUS_VIOLENCE_NOTE if q.category in ("serious_violence", "all") else "",
                           **_form_state())
