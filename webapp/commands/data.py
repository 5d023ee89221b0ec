"""Data commands: demo data, ingest, the store, settings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from hotspots.errors import InputError


@click.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; the same seed gives the same incidents.")
@click.option("--weeks", type=click.IntRange(1, 520), default=104, show_default=True,
              help="Weeks of incidents, ending with --end.")
@click.option("--end", "end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day (a Sunday) of the demo period [default: 2025-07-27, the end of the "
                   "24 months the volumes are taken from].")
@click.option("--police-uk-csv", "policeuk_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Instead of the store, write the incidents as police.uk monthly CSVs "
                                 "(month precision) into this folder.")
@click.option("--replace", is_flag=True, help="Remove demo incidents already in the store first.")
@click.pass_obj
def demo(obj, seed: int, weeks: int, end: dt.datetime | None, policeuk_dir: Path | None, replace: bool) -> None:
    """Write a synthetic demo incident set for the six priority wards.

    The incidents are SYNTHETIC (source "demo"): volumes, seasonality, times of day and the
    concentration of crime follow real Leeds figures, but no incident is real.
    """
    from hotspots.demo import DEFAULT_END, generate_demo, write_policeuk_csv
    from hotspots.store import IncidentStore

    end_date = end.date() if end else DEFAULT_END
    obj.say(f"Generating {weeks} weeks of synthetic demo incidents ending {end_date} (seed {seed})...")
    incidents = generate_demo(seed=seed, weeks=weeks, end=end_date, settings=obj.settings)
    if policeuk_dir is not None:
        files = write_policeuk_csv(incidents, policeuk_dir)
        click.echo(f"wrote {len(incidents):,} demo incidents as {len(files)} police.uk-format monthly "
                   f"CSV files in {policeuk_dir}")
        return
    store = IncidentStore(obj.settings.home, settings=obj.settings)
    if replace:
        removed = store.remove(source="demo")
        obj.say(f"removed {removed:,} demo incidents")
    report = store.add(incidents)
    click.echo(f"demo incidents (synthetic) in {store.path}")
    for line in report.lines():
        click.echo(line)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "police.uk", "force", "geo"]), default="auto",
              show_default=True, help="Input format; auto looks at the file's name and header.")
@click.option("--id-col", default=None, help="Force export: column holding the incident id.")
@click.option("--datetime-col", default=None, help="Force export: column holding the date and time.")
@click.option("--type-col", default=None, help="Force export: column holding the crime or incident type.")
@click.option("--x-col", default=None, help="Force export: easting or longitude column.")
@click.option("--y-col", default=None, help="Force export: northing or latitude column.")
@click.option("--crs", default=None, help="Force export: CRS of x/y, EPSG:27700 (default for "
                                          "easting/northing) or EPSG:4326.")
@click.option("--month-first", is_flag=True, help="Force export: dates are month-first (US); default day-first.")
@click.option("--source", default=None, help="Label stored in the `source` column.")
@click.option("--include-btp", is_flag=True, help="Keep British Transport Police rows of police.uk files.")
@click.option("--strict-types", is_flag=True, help="Refuse crime types missing from the category table.")
@click.option("--dry-run", is_flag=True, help="Read and validate only; store nothing.")
@click.option("--stream", is_flag=True,
              help="A police.uk archive zip (e.g. every force): read, check and store one month at a "
                   "time, so memory holds one month; each month is stored all-or-nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (a refused file: the error and every problem kept, "
                   "as JSON on stdout, exit code 2).")
@click.pass_obj
def ingest(obj, paths, fmt, id_col, datetime_col, type_col, x_col, y_col, crs, month_first, source,
           include_btp, strict_types, dry_run, stream, as_json) -> None:
    """Load incident files into the store: police.uk CSVs (a file, a folder of monthly files or the
    archive zip), a force export CSV, or GeoJSON/GeoPackage/GeoParquet points.

    Everything is checked before anything is stored: a bad file is refused whole, with the file,
    row, column and value of each problem, and the store is left as it was. Files are read as
    streams within the upload limits (settings upload_max_inflated_mb, upload_max_ratio,
    upload_max_rows); a large file shows progress on a terminal. A dry run stops at the first
    problem.
    """
    try:
        _ingest(obj, paths, fmt, id_col, datetime_col, type_col, x_col, y_col, crs, month_first,
                source, include_btp, strict_types, dry_run, stream, as_json)
    except InputError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"error": str(exc), "problems": [str(p) for p in exc.problems],
                               "problem_count": exc.total}, indent=2))
        raise SystemExit(2) from None


def _ingest(obj, paths, fmt, id_col, datetime_col, type_col, x_col, y_col, crs, month_first, source,
            include_btp, strict_types, dry_run, stream, as_json) -> None:
    from hotspots.ingest import ForceColumns, Limits, read_incidents_report
    from hotspots.store import IncidentStore

    overrides = {}
    if include_btp:
        overrides["exclude_btp"] = False
    if strict_types:
        overrides["unknown_crime_type"] = "error"
    settings = obj.settings
    if overrides:
        from dataclasses import replace as dc_replace
        settings = dc_replace(settings, **overrides)
    columns = ForceColumns.from_options(id_col=id_col, datetime_col=datetime_col, type_col=type_col,
                                        x_col=x_col, y_col=y_col, crs=crs,
                                        dayfirst=not month_first)
    store = IncidentStore(settings.home, settings=settings)
    limits = Limits.from_settings(settings)
    if stream:
        from hotspots.streaming import ingest_archive

        if len(paths) != 1 or fmt not in ("auto", "police.uk"):
            msg = "--stream reads one police.uk archive zip; give just its path (and no --format)."
            raise InputError(msg)
        report = ingest_archive(paths[0], store, source=source, dry_run=dry_run, limits=limits,
                                on_month=lambda m, r: obj.say(
            f"{m}: {r.rows_read:,} rows read, {r.added:,} added, {r.duplicates:,} already stored"))
    else:
        frame, read_report = read_incidents_report(list(paths), format=fmt, columns=columns,
                                                   source=source, settings=settings, limits=limits,
                                                   first_error=dry_run)
        report = store.add(frame, read_report=read_report, dry_run=dry_run)
    for notice in (report.read.notices if report.read else []):
        obj.say(f"notice: {notice}")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    if dry_run:
        click.echo("dry run: nothing stored")
    for line in report.lines():
        click.echo(line)


@click.group()
def store() -> None:
    """Look at the incident store."""


@store.command("summary")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def store_summary(obj, as_json: bool) -> None:
    """Incidents per month, category and source, and where the store is; months missing
    between the first and last, and months possibly partial (under half the median of the
    neighbouring months)."""
    from hotspots.store import IncidentStore

    st = IncidentStore(obj.settings.home, settings=obj.settings)
    summary = st.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(f"store:     {st.path}")
    click.echo(f"incidents: {summary['incidents']:,}")
    if not summary["incidents"]:
        click.echo("The store is empty: run `hotspots demo` or `hotspots ingest FILE`.")
        return
    click.echo(f"months:    {summary['first_month']} to {summary['last_month']} ({len(summary['months'])})")
    click.echo(f"coverage:  {summary['coverage']}")
    if summary["gaps"]:
        click.echo(f"gaps:      no data for {', '.join(summary['gaps'])}")
    if summary["partial"]:
        click.echo(f"partial?:  {', '.join(summary['partial'])} hold(s) under half the incidents of "
                   "the neighbouring months: possibly incomplete")
    click.echo("by source: " + ", ".join(f"{k} {v:,}" for k, v in summary["by_source"].items()))
    if "demo" in summary["by_source"]:
        click.echo("           (source 'demo' is SYNTHETIC demo data, not real incidents)")
    click.echo("by category: " + ", ".join(f"{k} {v:,}" for k, v in summary["by_category"].items()))
    click.echo("time precision: " + ", ".join(f"{k} {v:,}" for k, v in summary["by_precision"].items()))
    click.echo("")
    click.echo(f"{'month':<8} {'incidents':>10} {'asb':>8} {'serious_violence':>17} {'other':>8}")
    partial = set(summary["partial"])
    rows = {**summary["by_month"], **{m: None for m in summary["gaps"]}}
    for month in sorted(rows):
        row = rows[month]
        if row is None:
            click.echo(f"{month:<8} {'no data':>10}")
            continue
        note = "  possibly partial" if month in partial else ""
        click.echo(f"{month:<8} {row['total']:>10,} {row.get('asb', 0):>8,} "
                   f"{row.get('serious_violence', 0):>17,} {row.get('other', 0):>8,}{note}")


@click.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table of every setting as Markdown.")
@click.pass_obj
def settings_cmd(obj, markdown: bool) -> None:
    """Show the resolved settings (hotspots.toml in the instance folder, HOTSPOTS_* variables)."""
    from hotspots.settings import SETTINGS, describe_settings

    if markdown:
        click.echo(describe_settings())
        return
    s = obj.settings
    click.echo(f"home: {s.home}")
    click.echo(f"settings file: {s.source_file or '(none: defaults)'}")
    for spec in SETTINGS:
        value = getattr(s, spec.name)
        if isinstance(value, dict):
            value = f"{len(value)} entries"
        elif isinstance(value, tuple):
            value = ", ".join(value)
        elif spec.name in SECRET_SETTINGS and value:
            value = "(set, not shown)"
        elif spec.name == "database_url" and value:
            value = _mask_password(str(value))
        click.echo(f"{spec.name}: {value}")


#: Settings whose values are never printed.
SECRET_SETTINGS = frozenset({"secret_key"})


def _mask_password(url: str) -> str:
    """Hide the password of a database URL (`postgresql://user:secret@host/db`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(set, not shown)"


__all__ = ["demo", "ingest", "store", "settings_cmd", "InputError"]
