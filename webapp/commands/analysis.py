"""Analysis commands: `hotspots rank`, `hotspots wards` and `hotspots evaluate`.

Each loads just the incidents its period needs from the store, calls one function of
`hotspots.ranking` or `hotspots.evaluation`, and prints a table or writes an export. With
`--engine dask` the store is counted on a Dask cluster instead of being loaded here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

import click

from hotspots.errors import InputError

CATEGORY_OPTION = click.Choice(["asb", "serious_violence", "other", "all"])


def _with_options(func, options):
    """Apply click options so that `--help` lists them in the order given."""
    for option in reversed(options):
        func = option(func)
    return func


def period_options(func):
    """--week / --month / --period / --from + --to: at most one way of naming the period."""
    options = [
        click.option("--week", default=None, help="ISO week, e.g. 2025-W23 (needs day-precision data)."),
        click.option("--month", default=None, help="Month, e.g. 2025-06."),
        click.option("--period", "period_text", default=None,
                     help="Any period: 2025-W23, 2025-06 or 2025-06-01..2025-06-14."),
        click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="First day of a date range (with --to)."),
        click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="Last day of a date range (with --from)."),
    ]
    return _with_options(func, options)


def scope_options(func):
    options = [
        click.option("--category", type=CATEGORY_OPTION, default="asb", show_default=True,
                     help="Incident category (serious_violence from police.uk data is a proxy)."),
        click.option("--wards", "ward_spec", default="priority", show_default=True,
                     help="Wards: 'priority', 'all', or ward codes/names separated by commas."),
    ]
    return _with_options(func, options)


def output_options(func):
    """--format / --out of the commands that export cells or wards."""
    return _with_options(func, [
        click.option("--format", "fmt", type=click.Choice(["table", "geojson", "csv", "gpkg"]),
                     default="table", show_default=True, help="Output format."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write here instead of stdout (needed for gpkg)."),
    ])


def engine_options(func):
    """--engine / --scheduler: count in this process or on a Dask cluster."""
    options = [
        click.option("--engine", type=click.Choice(["memory", "dask"]), default=None,
                     help="Count incidents in this process (memory) or on a Dask cluster (dask) "
                          "[default: memory, or dask with --scheduler]."),
        click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="Dask scheduler to use with --engine dask [default: the dask_scheduler "
                          "setting; if empty, a local cluster is started]."),
    ]
    return _with_options(func, options)


def _engine(obj, engine: str | None, scheduler: str | None):
    """The engine and the settings it runs with (--scheduler overrides `dask_scheduler`)."""
    settings = obj.settings
    if scheduler is not None and not scheduler.strip():
        msg = "--scheduler is empty; give an address such as tcp://10.0.0.5:8786."
        raise InputError(msg)
    if scheduler:
        if engine == "memory":
            msg = "--scheduler goes with --engine dask, not --engine memory."
            raise InputError(msg)
        engine = "dask"
        settings = dataclasses.replace(settings, dask_scheduler=scheduler.strip())
    engine = engine or "memory"
    if engine == "dask":
        import distributed  # noqa: F401 - its logging set-up first, then the level below

        from hotspots.engines import check_scheduler

        # The cluster's own log lines only at the level asked for with -v (warnings by default).
        logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
        if settings.dask_scheduler:
            check_scheduler(settings.dask_scheduler)  # before anything is read
        where = settings.dask_scheduler or "a local cluster (no dask_scheduler setting)"
        obj.say(f"engine: dask, on {where}")
    return engine, settings


def _store(obj):
    from hotspots.store import IncidentStore

    store = IncidentStore(obj.settings.home, settings=obj.settings)
    if not store.months():
        msg = "the store is empty: run `hotspots demo` or `hotspots ingest FILE` first."
        raise InputError(msg)
    return store


def choose_period(obj, store, *, week, month, period_text, date_from, date_to):
    """The period the user named, or the latest complete one in the store (announced)."""
    from hotspots.periods import parse_period, range_period
    from hotspots.ranking import latest_complete_period

    tz = obj.settings.timezone
    given = [x for x in (week, month, period_text) if x]
    if date_from is not None or date_to is not None:
        if date_from is None or date_to is None:
            msg = "give both --from and --to (e.g. --from 2025-06-01 --to 2025-06-14)."
            raise InputError(msg)
        given.append("range")
    if len(given) > 1:
        msg = "give one of --week, --month, --period or --from/--to, not several."
        raise InputError(msg)
    if week:
        import re

        loose = re.fullmatch(r"\s*(\d{4})-?[wW]?(\d{1,2})\s*", week)
        if not re.fullmatch(r"\s*\d{4}-?[wW]\d{1,2}\s*", week):
            hint = ""
            if loose and 1 <= int(loose.group(2)) <= 12:
                hint = (f" (for the month use --month {loose.group(1)}-{int(loose.group(2)):02d}; "
                        f"for ISO week {int(loose.group(2))}, {loose.group(1)}-W{int(loose.group(2)):02d})")
            elif loose and int(loose.group(2)) <= 53:
                hint = f" (did you mean {loose.group(1)}-W{int(loose.group(2)):02d}?)"
            msg = f"--week {week!r} is not an ISO week such as 2025-W23{hint}."
            raise InputError(msg)
        chosen = parse_period(week, tz=tz)
        if chosen.kind != "week":
            msg = f"--week {week!r} is not an ISO week such as 2025-W23."
            raise InputError(msg)
        return chosen
    if month:
        chosen = parse_period(month, tz=tz)
        if chosen.kind != "month":
            msg = f"--month {month!r} is not a month such as 2025-06."
            raise InputError(msg)
        return chosen
    if period_text:
        return parse_period(period_text, tz=tz)
    if date_from is not None:
        return range_period(date_from.date(), date_to.date(), tz=tz)
    months = store.months()
    if not months:
        msg = "the store is empty: run `hotspots demo` or `hotspots ingest FILE` first."
        raise InputError(msg)
    latest = store.load(period=months[-1])
    chosen = latest_complete_period(latest, settings=obj.settings)
    obj.say(f"period: {chosen.label} (the latest complete {chosen.kind} in the store; "
            "choose another with --week or --month)")
    return chosen


def _covered(store, period, role: str = ""):
    """The store's coverage, after refusing a period it holds no data for (naming what it holds)."""
    coverage = store.coverage()
    if not coverage.covered_fraction(period):
        what = f"the {role} " if role else ""
        msg = f"no data for {what}{period.label}: the store holds {coverage.holds()}."
        raise InputError(msg)
    return coverage


def _load(obj, store, span, category: str, engine: str = "memory"):
    """The incidents of `span`: loaded here, or for the Dask engine the store itself (checked to
    hold some of the span's months)."""
    if engine == "dask":
        if not store.files(span.months()):
            msg = (f"the store holds no incidents in {span.label}; see `hotspots store summary` "
                   "for what it holds.")
            raise InputError(msg)
        return store
    frame = store.load(period=span, categories=None if category == "all" else [category])
    if frame.empty:
        msg = (f"the store holds no {category} incidents in {span.label}; see `hotspots store "
               "summary` for what it holds.")
        raise InputError(msg)
    return frame


def _write(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        out.write_text(text, encoding="utf-8")


def _context(kind: str, settings, store, attrs) -> dict:
    """The export's context (`hotspots.export.export_context`, as the web app's downloads)."""
    from hotspots.export import export_context

    return export_context(kind, settings=settings, coverage=store.coverage(), attrs=attrs)


def _target(obj, out: Path | None, context: dict) -> Path | None:
    """Where an export goes: `out`, named `-demo` when the data is synthetic (and said so)."""
    from hotspots.export import demo_path

    if out is None:
        return None
    target = demo_path(out, context)
    if target != out:
        obj.say(f"the data is synthetic demo data, so the file is named {target.name}")
    return target


def _export(obj, frame, fmt: str, out: Path | None, layer: str, context: dict) -> None:
    from hotspots.export import context_path, export

    out = _target(obj, out, context)
    text = export(frame, fmt, out, layer=layer, context=context)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        extra = f" (context in {context_path(out).name})" if fmt != "geojson" else ""
        obj.say(f"wrote {len(frame):,} rows to {out}{extra}")


def _fmt_change(change: int, pct: float, significant: bool) -> str:
    import pandas as pd

    if pd.isna(change):
        return "n/a"
    text = f"{int(change):+d}"
    if pd.notna(pct):
        text += f" ({pct:+.0f}%)"
    return text + ("*" if significant is True else "")


def _notes(attrs) -> list[str]:
    """What the data lets the analysis not claim, one `note:` line each (see `hotspots.history`)."""
    return [f"note: {text}" for text in attrs.get("notes", [])]


def hotspot_table(frame) -> str:
    """The ranking as a text table: rank, ward, count, harm, z, change, trend and the reason."""
    a = frame.attrs
    lines = []
    label = a.get("category_label") or "all"
    lines.append(f"{label} hotspots, {a.get('period')} (vs {a.get('previous_period')}), "
                 f"{len(a.get('wards', []))} ward(s), H3 resolution {a.get('resolution')}, "
                 f"weighted by {a.get('weight')}: {a.get('hot_cells', 0):,} hot cell(s) of "
                 f"{a.get('study_cells', 0):,} (FDR {100 * a.get('fdr_alpha', 0.05):g}%), "
                 f"{a.get('incidents', 0):,} incident(s)"
                 + (f"; {a['cells_left_out']:,} cell(s) lying mostly in other wards left out"
                    if a.get("cells_left_out") else ""))
    lines += _notes(a)
    lines.append(f"{'rank':>4}  {'place':<24}  {'ward':<28} {'count':>5} {'harm':>8} {'z':>6} "
                 f"{'change':>12}  {'trend':<12}  reason")
    from hotspots.cells import cells_to_str

    cells = cells_to_str(frame["h3_cell"].to_numpy())
    places = frame["place"].tolist() if "place" in frame.columns else [""] * len(frame)
    flagged = (frame["institution"].tolist() if "institution" in frame.columns
               else [False] * len(frame))
    for cell, place, inst, row in zip(cells, places, flagged, frame.itertuples(index=False), strict=True):
        mark = "i" if inst else ("!" if row.hot else " ")
        trend = row.trend if isinstance(row.trend, str) else "n/a"
        # People know streets, not H3 ids: the cell's place, or its id when it has none.
        where = place if isinstance(place, str) and place else cell
        lines.append(f"{row.rank:>4}{mark} {where[:24]:<24}  {str(row.ward_name)[:28]:<28} {row.count:>5} "
                     f"{row.harm:>8,.0f} {row.gi_z:>6.1f} "
                     f"{_fmt_change(row.change, row.change_pct, row.change_significant):>12}  "
                     f"{trend:<12}  {row.reason}")
    lines.append("! hot: Gi* z > 0 and significant after false-discovery-rate control; "
                 "i mostly recorded at an institution (police station, prison, hospital), no patrol "
                 "stop; * change larger than chance (exact Poisson test, 5%)")
    return "\n".join(lines) + "\n"


@click.command()
@scope_options
@period_options
@click.option("--top", type=click.IntRange(1, None), default=None,
              help="Keep the best N cells [default: 20 for the table, every cell for exports].")
@click.option("--resolution", type=click.IntRange(5, 13), default=None,
              help="H3 resolution [default: h3_resolution setting, 10].")
@click.option("--weight", type=click.Choice(["harm", "count"]), default="harm", show_default=True,
              help="Weigh incidents by harm (Crime Harm Index days) or count them.")
@output_options
@engine_options
@click.pass_obj
def rank(obj, category, ward_spec, week, month, period_text, date_from, date_to, top, resolution,
         weight, fmt, out, engine, scheduler) -> None:
    """Rank the hotspot cells of a category for a week or month.

    Every H3 cell of the chosen wards gets its count, harm, Gi* z, a hotspot flag (FDR
    controlled), the change on the previous period, a trend class and a reason.
    """
    from hotspots.ranking import rank_hotspots, window_period

    engine, settings = _engine(obj, engine, scheduler)
    store = _store(obj)
    chosen = choose_period(obj, store, week=week, month=month, period_text=period_text,
                           date_from=date_from, date_to=date_to)
    coverage = _covered(store, chosen)
    incidents = _load(obj, store, window_period(chosen, settings=settings), category, engine)
    if top is None and fmt == "table":
        top = 20
    ranking = rank_hotspots(incidents, category=category, period=chosen, wards=ward_spec,
                            resolution=resolution or settings.h3_resolution, weight=weight,
                            top=top, settings=settings, engine=engine, coverage=coverage)
    if ranking.attrs.get("outside"):
        obj.say(f"{ranking.attrs['outside']:,} incident(s) of {chosen.label} lie outside the chosen "
                "wards' cells and are not counted")
    if fmt == "table":
        _write(hotspot_table(ranking), out)
        return
    _export(obj, ranking, fmt, out, layer="hotspots",
            context=_context("hotspots", settings, store, ranking.attrs))


def ward_table_text(frame) -> str:
    a = frame.attrs
    label = a.get("category_label") or "all"
    lines = [f"{label} by ward, {a.get('period')} (vs {a.get('previous_period')}), "
             f"ranked by {a.get('weight')}: {a.get('incidents', 0):,} incident(s) in the wards"
             + (f", {a['unassigned']:,} outside them" if a.get("unassigned") else "")
             + (f"; {a['snapped']:,} just outside every ward (within {a.get('ward_snap_m', 0):g} m) "
                "counted in the nearest" if a.get("snapped") else ""),
             *_notes(a),
             f"{'rank':>4}  {'ward':<28} {'count':>6} {'per km2':>8} {'harm':>9} {'change':>12} {'share':>7}"]
    for row in frame.itertuples(index=False):
        lines.append(f"{row.rank:>4}  {str(row.ward_name)[:28]:<28} {row.count:>6,} "
                     f"{row.count_per_km2:>8.1f} {row.harm:>9,.0f} "
                     f"{_fmt_change(row.change, row.change_pct, row.change_significant):>12} "
                     f"{row.share_pct:>6.1f}%")
    lines.append("* change larger than chance (exact Poisson test, 5%)")
    return "\n".join(lines) + "\n"


@click.command("wards")
@scope_options
@period_options
@click.option("--weight", type=click.Choice(["harm", "count"]), default="harm", show_default=True,
              help="Rank wards by harm or by count.")
@output_options
@engine_options
@click.pass_obj
def wards_cmd(obj, category, ward_spec, week, month, period_text, date_from, date_to, weight, fmt,
              out, engine, scheduler) -> None:
    """The ward table: count, harm, rate per km2, change and share of the chosen wards' total."""
    from hotspots.ranking import rank_wards, window_period

    engine, settings = _engine(obj, engine, scheduler)
    store = _store(obj)
    chosen = choose_period(obj, store, week=week, month=month, period_text=period_text,
                           date_from=date_from, date_to=date_to)
    coverage = _covered(store, chosen)
    incidents = _load(obj, store, window_period(chosen, n=2, settings=settings), category, engine)
    table = rank_wards(incidents, category=category, period=chosen, wards=ward_spec, weight=weight,
                       settings=settings, engine=engine, coverage=coverage)
    if fmt == "table":
        _write(ward_table_text(table), out)
        return
    _export(obj, table, fmt, out, layer="wards",
            context=_context("wards", settings, store, table.attrs))


def evaluation_text(frame, summary=None) -> str:
    lines = [f"{'train':<10} {'test':<10} {'coverage':>8} {'cells':>6} {'hits':>6} {'of':>6} "
             f"{'hit rate':>8} {'PAI':>7} {'PEI':>6}"]
    for row in frame.itertuples(index=False):
        lines.append(f"{row.train_period:<10} {row.test_period:<10} {100 * row.coverage:>7.1f}% "
                     f"{row.cells:>6,} {row.hits:>6,} {row.test_incidents:>6,} "
                     f"{row.hit_rate:>8.1%} {row.pai:>7.1f} {row.pei:>6.2f}")
    if summary is not None:
        lines.append("")
        used = int(summary["periods"].max())
        asked = summary.attrs.get("periods_asked", used)
        lines.append(f"mean over {used} period(s):" if used == asked else
                     f"mean over {used} of {asked} period(s), the only ones with data for both "
                     "their training and test period:")
        for row in summary.itertuples(index=False):
            lines.append(f"  coverage {100 * row.coverage:>5.1f}%: hit rate {row.hit_rate:.1%}, "
                         f"PAI {row.pai:.1f}, PEI {row.pei:.2f}")
    lines += _notes(frame.attrs)
    lines.append("hit rate: share of the test period's incidents in the flagged cells; PAI: hit rate / "
                 "area share; PEI: PAI / best possible PAI")
    return "\n".join(lines) + "\n"


@click.command()
@scope_options
@period_options
@click.option("--train", "train_text", default=None,
              help="Period whose hotspots are tested [default: the one before the test period].")
@click.option("--method", type=click.Choice(["gistar", "count", "harm"]), default="gistar",
              show_default=True, help="How the training period's cells are ranked.")
@click.option("--backtest", "backtest_n", type=click.IntRange(1, 520), default=None,
              help="Instead, a rolling backtest over the last N periods, each trained on the one before.")
@click.option("--coverages", default="0.001,0.005,0.01,0.05", show_default=True,
              help="Shares of the area flagged, separated by commas.")
@click.option("--resolution", type=click.IntRange(5, 13), default=None,
              help="H3 resolution [default: h3_resolution setting, 10].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@engine_options
@click.pass_obj
def evaluate(obj, category, ward_spec, week, month, period_text, date_from, date_to, train_text,
             method, backtest_n, coverages, resolution, fmt, out, engine, scheduler) -> None:
    """How well last period's hotspots predicted this period's incidents: hit rate, PAI and PEI
    at 0.1%, 0.5%, 1% and 5% of the area (or --coverages), for one pair of periods or a rolling
    backtest.
    """
    from hotspots.evaluation import evaluate_hotspots, rolling_backtest, summarise_backtest
    from hotspots.export import context_path, to_csv
    from hotspots.periods import parse_period, range_period
    from hotspots.ranking import resolve_wards, window_period

    engine, settings = _engine(obj, engine, scheduler)
    try:
        shares = tuple(float(c) for c in coverages.split(",") if c.strip())
    except ValueError:
        msg = f"--coverages {coverages!r} must be numbers separated by commas, e.g. 0.001,0.01,0.05."
        raise InputError(msg) from None
    store = _store(obj)
    test = choose_period(obj, store, week=week, month=month, period_text=period_text,
                         date_from=date_from, date_to=date_to)
    res = resolution or settings.h3_resolution
    summary = None
    if backtest_n is not None:
        if train_text:
            msg = "--train and --backtest do not go together: a backtest trains each period on the one before."
            raise InputError(msg)
        coverage = store.coverage()
        incidents = _load(obj, store, window_period(test, n=backtest_n + 1, settings=settings), category,
                          engine)
        table = rolling_backtest(incidents, category=category, period=test, periods=backtest_n,
                                 coverages=shares, method=method, wards=ward_spec, resolution=res,
                                 settings=settings, engine=engine, coverage=coverage)
        summary = summarise_backtest(table)
    else:
        train = parse_period(train_text, tz=settings.timezone) if train_text else test.previous()
        _covered(store, train, "training period")
        coverage = _covered(store, test, "test period")
        first = min(train.start, test.start).date()
        last = (max(train.end, test.end) - dt.timedelta(days=1)).date()
        incidents = _load(obj, store, range_period(first, last, tz=settings.timezone), category, engine)
        table = evaluate_hotspots(incidents, category=category, train_period=train, test_period=test,
                                  coverages=shares, method=method, wards=ward_spec, resolution=res,
                                  settings=settings, engine=engine, coverage=coverage)
    context = None
    if fmt in ("csv", "json"):
        context = _context("evaluation", settings, store, {
            **table.attrs, "period": test.label, "category": category, "resolution": res,
            "wards": sorted(resolve_wards(ward_spec, settings)["ward_code"].astype(str))})
        context["method"] = method
        context["coverages"] = list(shares)
        out = _target(obj, out, context)
    if fmt == "csv":
        if out is not None:
            to_csv(table, out, context=context)
            obj.say(f"wrote {len(table):,} rows to {out} (context in {context_path(out).name})")
            return
        text = to_csv(table, context=context)
    elif fmt == "json":
        payload = {"context": context, "rows": json.loads(table.to_json(orient="records"))}
        if summary is not None:
            payload["summary"] = json.loads(summary.to_json(orient="records"))
        text = json.dumps(payload, indent=2) + "\n"
    else:
        text = evaluation_text(table, summary)
    _write(text, out)


__all__ = ["evaluate", "rank", "wards_cmd"]
