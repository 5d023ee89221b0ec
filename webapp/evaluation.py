"""Evaluation: how well each period's hotspots predicted the next period's incidents (hit rate,
PAI, PEI at several coverage levels), as charts and a table."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from hotspots.errors import InputError
from webapp import _charts, params
from webapp.auth import role_required
from webapp.errors import ParameterError
from webapp.presentation import records
from webapp.services import CATEGORY_LABELS, EMPTY_STORE, get_data

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

METHODS = ("gistar", "count", "harm")


def evaluation_params(args) -> dict[str, Any]:
    """Checked evaluation parameters; errors name the parameter."""
    data = get_data()
    if data.is_empty():
        raise InputError(EMPTY_STORE)
    category = params.choice(params.one(args, "category"), "category",
                             ("asb", "serious_violence", "all"), default="asb")
    period = data.parse_period(params.one(args, "period"))
    data.check_weekly(period)
    if not data.is_empty():
        data.require_data(period)
    if period.kind == "range":
        raise ParameterError("period", "`period` must be an ISO week (2025-W23) or a month (2025-06).",
                             value=args.get("period"))
    periods = params.integer(params.one(args, "periods"), "periods", lo=1, hi=52, default=8)
    method = params.choice(params.one(args, "method"), "method", METHODS, default="gistar")
    return {"category": category, "period": period, "periods": periods, "method": method}


def evaluation_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    table = get_data().evaluation(**params)
    return records(table)


def charts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One chart per measure: a line per coverage level over the test periods."""
    tests = list(dict.fromkeys(r["test_period"] for r in rows))
    coverages = sorted({r["coverage"] for r in rows})
    out = {}
    for measure, title, y_label, ref in (
            ("pai", "Predictive accuracy index (PAI)", "PAI", 1.0),
            ("pei", "Predictive efficiency index (PEI)", "PEI", None),
            ("hit_rate", "Hit rate: share of incidents in last period's hotspots", "hit rate", None)):
        series = {}
        for cov in coverages:
            by_test = {r["test_period"]: r.get(measure) for r in rows if r["coverage"] == cov}
            series[f"{cov * 100:g}% of area"] = [by_test.get(t) for t in tests]
        out[measure] = _charts.line_chart(series, tests, title=title, y_label=y_label, reference=ref)
    return out


@bp.route("/")
@role_required("analyst")
def index():
    data = get_data()
    chosen = {"category": request.args.get("category", "asb"),
              "period": request.args.get("period") or data.default_period(),
              "periods": request.args.get("periods", "8"),
              "method": request.args.get("method", "gistar")}
    error, rows, figures, means, notes, asked = None, [], {}, [], [], None
    status = 200
    empty = data.is_empty()
    try:
        if empty:  # the page says so; nothing to evaluate
            raise InputError(EMPTY_STORE)
        params = evaluation_params(request.args)
        rows = evaluation_rows(params)
        figures = charts(rows) if rows else {}
        if rows:
            from webapp import _evaluation

            table = data.evaluation(**params)
            means = records(_evaluation.summary(table))
            notes = list(table.attrs.get("notes", []))
            asked = table.attrs.get("periods_asked")
    except InputError as exc:
        error, status = str(exc), 200 if empty else 400
    return render_template("evaluation.html", rows=rows, charts=figures, means=means, chosen=chosen,
                           error=error, notes=notes, periods_asked=asked,
                           periods=data.period_choices(), methods=METHODS,
                           category_labels=CATEGORY_LABELS), status
