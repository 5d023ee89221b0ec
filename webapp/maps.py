"""The hotspot map and the ward summary: what a neighbourhood policing lead reviews each week."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from hotspots.errors import InputError
from webapp import _charts
from webapp.assets import map_assets
from webapp.auth import role_required
from webapp.errors import ParameterError
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
        "periods": data.period_choices(),
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
        headlines = headlines_of(q)
        before = data.period_before(data.parse_period(q.period))  # skips a month with no data
        shown = {"period": q.period, "category": q.category,
                 "wards": ["priority"] if args["wards"] == "priority" else list(q.wards)}
        return Markup(render_template(
            "_map_body.html", q=q, chosen=shown, classes=CLASSES, exporter=exporter, **model,
            headlines=headlines, streets=has_streets,
            frame_url=url_for("maps.frame", **args),
            geojson_url=url_for("exports.hotspots", fmt="geojson", **args),
            csv_url=url_for("exports.hotspots", fmt="csv", **args),
            context_url=url_for("exports.hotspots", fmt="context.json", **args),
            compare_url=(url_for("maps.compare", view="change", versus=before.label, **args)
                         if before else None),
            previous=before.label if before else None,
            sv_note=SERIOUS_VIOLENCE_NOTE if q.category in ("serious_violence", "all") else "",
            **_form_state(),
        ))

    has_streets = streets_url() is not None
    cached = data.cache.get(("map_body", data.store_version(), q, exporter, tiles(), has_streets), body)
    return render_template("map.html", body=cached)


NOUNS = {"asb": "ASB", "serious_violence": "serious violence", "all": ""}


def headlines_of(q: HotspotQuery) -> list[str]:
    """The period's headline sentences (`webapp._headlines.period_headlines`, as the briefing's)."""
    from hotspots.areas import cell_labels
    from webapp._headlines import period_headlines, unnamed_cells

    data = get_data()
    ranking = data.ranking(q)
    unnamed = unnamed_cells(ranking)
    labels = cell_labels(data.incidents(), unnamed) if unnamed else {}
    try:
        wards = data.ward_table(q)
    except InputError:
        wards = None
    return period_headlines(ranking, wards, labels=labels, noun=NOUNS.get(q.category, ""))


def streets_url() -> str | None:
    """Where the map frames fetch the loaded street network from (None: no network loaded)."""
    path = get_data().streets_file()
    if path is None:
        return None
    return url_for("maps.streets", v=path.stat().st_mtime_ns)


@bp.route("/map/frame")
@role_required("viewer")
def frame():
    data = get_data()
    q = query_from_args(request.args)
    document = data.map_html(q, assets=map_assets(), tiles=tiles(), streets=streets_url())
    return Response(add_nonce(document), mimetype="text/html")


@bp.route("/map/streets.geojson")
@role_required("viewer")
def streets():
    """The loaded street network as light GeoJSON, drawn faintly under the map's cells (from the
    app itself: no internet needed); the browser keeps it for a day."""
    data = get_data()
    path = data.streets_file()
    if path is None:
        abort(404, description="No street network is loaded (hotspots network import FILE).")
    response = Response(data.streets_geojson(path), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


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
    # How many hotspot cells each ward holds (a cell's ward: the one holding most of its area).
    ranking = data.ranking(q)
    hot = ranking.loc[ranking["hot"].fillna(False).astype(bool).to_numpy(), "ward_code"].astype(str)
    per_ward = hot.value_counts().to_dict()
    for r in rows:
        r["hotspots"] = int(per_ward.get(str(r["ward_code"]), 0))
        r["map_url"] = url_for("maps.hotspot_map", period=q.period, category=q.category,
                               wards=r["ward_code"])
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


def _compare_queries() -> tuple[HotspotQuery, HotspotQuery]:
    """The two queries of a comparison: `period` (now) and `versus` (default: the one before)."""
    from webapp import params

    data = get_data()
    now = query_from_args(request.args)
    versus = params.text(params.one(request.args, "versus"), "versus", max_len=20)
    if not versus:
        period = data.parse_period(now.period)
        before_period = data.period_before(period)
        if before_period is None:
            msg = (f"`versus`: the store holds no period before {now.period} to compare it with "
                   f"(it holds {data.coverage().holds()}); choose a later period.")
            raise ParameterError("versus", msg, value="")
        versus = before_period.label
    before_period = data.parse_period(versus, name="versus")
    data.check_weekly(before_period, name="versus")
    data.require_data(before_period, name="versus")
    if before_period.kind != data.parse_period(now.period).kind:
        raise ParameterError("versus", f"`versus` is {versus!r}; compare a {'week' if now.period[5] == 'W' else 'month'} "
                             "with another of the same kind.", value=versus)
    if before_period.label == now.period:
        raise ParameterError("versus", "`versus` is the period itself; choose another period.",
                             value=versus)
    return now, HotspotQuery(now.category, before_period.label, now.wards, now.resolution, now.weight)


def _whole(label: str) -> bool:
    data = get_data()
    return data.coverage().is_covered(data.parse_period(label))


@bp.route("/compare")
@role_required("viewer")
def compare():
    """Two periods side by side, or their change per cell on one map."""
    from webapp import _compare, params

    data = get_data()
    view = params.choice(params.one(request.args, "view"), "view", ("side", "change"), default="side")
    chosen = {"period": request.args.get("period") or data.default_period(),
              "versus": request.args.get("versus", ""), "category": request.args.get("category", "asb"),
              "wards": request.args.getlist("wards") or ["priority"], "view": view}
    state = {"periods": data.period_choices(), "empty": data.is_empty(),
             "change_classes": _compare.CHANGE_CLASSES, "classes": CLASSES}
    if data.is_empty():
        return render_template("compare.html", now=None, chosen=chosen, error=None, **state)
    try:
        now, before = _compare_queries()
    except InputError as exc:
        return render_template("compare.html", now=None, chosen=chosen, error=str(exc), **state), 400
    chosen.update(period=now.period, versus=before.period)
    whole = {now.period: _whole(now.period), before.period: _whole(before.period)}
    notes = [f"{label} is only partly covered by the store's data: its counts are too low, so the "
             "change map is not drawn (side by side only)." for label, ok in whole.items() if not ok]
    if view == "change" and notes:
        view = "side"
    now_period = data.parse_period(now.period)
    latest = data.period_before(now_period)
    if latest is not None and before.period == latest.label != now_period.previous().label:
        notes.append(f"The store holds no data for {now_period.previous().label}, so "
                     f"{now.period} is compared with {before.period}, the latest period before it "
                     "with data.")
    partial = set(data.coverage().partial())
    notes += [f"{label} may be partial (it holds under half the incidents of the months around "
              "it): a fall there may be missing data." for label in (before.period, now.period)
              if label in partial]
    args = query_args(now)
    sentences, counts = [], {}
    if view == "change":
        cells = _change_cells(now, before)
        a, b = data.parse_period(now.period), data.parse_period(before.period)
        sentences = _compare.summary(cells, now=now.period, before=before.period, days_now=a.days,
                                     days_before=b.days)
        counts = cells["change_class"].value_counts().to_dict()
    for q in (now, before):
        ranking = data.ranking(q)
        counts.setdefault(q.period, int(ranking["hot"].fillna(False).astype(bool).sum()))
    return render_template(
        "compare.html", now=now, before=before, chosen={**chosen, "view": view}, error=None,
        notes=notes, sentences=sentences, counts=counts, args=args,
        frames={q.period: url_for("maps.frame", **query_args(q)) for q in (now, before)},
        change_url=url_for("maps.compare_frame", versus=before.period, **args), **state)


def _change_cells(now: HotspotQuery, before: HotspotQuery):
    from webapp import _compare

    data = get_data()

    def compute():
        a, b = data.parse_period(now.period), data.parse_period(before.period)
        return _compare.compare_cells(data.ranking(now), data.ranking(before), days_now=a.days,
                                      days_before=b.days)

    return data.cache.get(("compare", data.store_version(), now, before.period), compute)


@bp.route("/compare/frame")
@role_required("viewer")
def compare_frame():
    from webapp import _maps

    data = get_data()
    now, before = _compare_queries()
    for label in (now.period, before.period):
        if not _whole(label):
            raise ParameterError("period", f"{label} is only partly covered: no change map.",
                                 value=label)
    cells = _change_cells(now, before)

    def compute() -> str:
        wards = data.wards_wgs84()
        return _maps.change_map(cells, wards[wards["ward_code"].isin(now.wards)],
                                assets=map_assets(), tiles=tiles(), now=now.period,
                                before=before.period)

    document = data.cache.get(("change_map", data.store_version(), now, before.period, tiles()), compute)
    return Response(add_nonce(document), mimetype="text/html")
