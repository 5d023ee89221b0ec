"""The hotspot programme from the console: the register (`hotspots register ...`), patrol teams
(`hotspots teams ...`), dosage (`hotspots dosage`) and impact (`hotspots impact`).

They read and write the same application database as the web app, through the same functions;
every change is in the audit log as made by `(console) <user>`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from contextlib import contextmanager
from pathlib import Path

import click

from hotspots.errors import InputError


@contextmanager
def _app(obj):
    """The web app of the instance folder (no demo bootstrap), inside its app context."""
    from webapp import create_app

    app = create_app({"HOME": obj.settings.home, "BOOTSTRAP": False})
    with app.app_context():
        yield app


def _who(user: str | None) -> str:
    if user:
        return f"(console) {user}"
    try:
        return f"(console) {getpass.getuser()}"
    except (KeyError, OSError):
        return "(console)"


def _write(text: str, out: Path | None, obj, what: str) -> None:
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        out.write_text(text, encoding="utf-8")
        obj.say(f"wrote {what} to {out}")


def _date(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        msg = f"{name} {value!r} is not a date such as 2025-06-02."
        raise InputError(msg) from None


# --------------------------------------------------------------------------- register


@click.group("register")
def register_cmd() -> None:
    """The register of designated hotspots.

    \b
      hotspots register add --cells CELL[,CELL...] --category asb [--team NAME] ...
      hotspots register add --geojson area.geojson --category serious_violence ...
      hotspots register list [--status open|all|active|...]
      hotspots register show ID [--json]
      hotspots register change ID --reason TEXT [--review 2025-09-01] [--status ...] ...
      hotspots register close ID --reason TEXT [--on DATE]
      hotspots register export [--format csv|geojson] [--out FILE]
    """


_CATEGORY = click.Choice(["asb", "serious_violence"])
_TACTIC = click.Choice(["patrol", "problem-solving", "cctv", "youth outreach", "other"])
_STATUS = click.Choice(["proposed", "active", "under review", "closed"])


def _fields(*, name, category, team, tactic, visits, minutes, start, review, status, notes, reason):
    raw = {"name": name, "category": category, "team": team, "tactic": tactic,
           "visits_per_week": visits, "minutes_per_visit": minutes,
           "start_date": _date(start, "--start"), "review_date": _date(review, "--review"),
           "status": status, "notes": notes, "reason": reason}
    return {k: v for k, v in raw.items() if v is not None}


def _area(cells: str | None, geojson: Path | None) -> dict:
    if geojson is not None:
        try:
            text = geojson.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{geojson}: cannot be read ({exc})."
            raise InputError(msg) from None
        return {"polygon": text}
    if cells is not None:
        return {"cells": cells}
    return {}


@register_cmd.command("add")
@click.option("--cells", help="H3 cells of the area, separated by commas.")
@click.option("--geojson", type=click.Path(dir_okay=False, path_type=Path),
              help="Or a GeoJSON file with the area's polygon (longitude/latitude).")
@click.option("--category", type=_CATEGORY, required=True, help="What the hotspot is for.")
@click.option("--name", help="Default: the area's main street label, else its cell id.")
@click.option("--team", help="Owner team (see `hotspots teams list`).")
@click.option("--tactic", type=_TACTIC, default="patrol", show_default=True)
@click.option("--visits", "visits", type=int, help="Dosage target: visits per week [default 7].")
@click.option("--minutes", "minutes", type=float, help="Dosage target: minutes per visit [default 15].")
@click.option("--start", help="First day (YYYY-MM-DD) [default: today].")
@click.option("--review", help="Review date [default: 12 weeks after the start].")
@click.option("--status", type=_STATUS, default="active", show_default=True)
@click.option("--notes", help="Free text.")
@click.option("--reason", help="Why it is designated (kept in the audit log).")
@click.option("--user", help="Who is making the change [default: your login name].")
@click.pass_obj
def register_add(obj, cells, geojson, category, name, team, tactic, visits, minutes, start, review,
                 status, notes, reason, user) -> None:
    """Designate a hotspot from H3 cells or a GeoJSON polygon."""
    from webapp.register import create_hotspot

    area = _area(cells, geojson)
    if not area:
        msg = "give the area: --cells CELL[,CELL...] or --geojson FILE."
        raise InputError(msg)
    if cells is not None and geojson is not None:
        msg = "give --cells or --geojson, not both."
        raise InputError(msg)
    raw = {**area, **_fields(name=name, category=category, team=team, tactic=tactic, visits=visits,
                             minutes=minutes, start=start, review=review, status=status, notes=notes,
                             reason=reason)}
    with _app(obj):
        record = create_hotspot(raw, who=_who(user))
        click.echo(f"designated hotspot {record.id}: {record.name} ({record.category}, "
                   f"{len(record.cells)} cell(s), {record.status}, from {record.start_date.isoformat()})")


@register_cmd.command("list")
@click.option("--status", default="open", show_default=True,
              help="open (not closed), all, or one status (proposed, active, under review, closed).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.pass_obj
def register_list(obj, status: str, fmt: str) -> None:
    """The designated hotspots with recent incidents, trend, dosage this week and review date."""
    from webapp import _programme
    from webapp.programme import export_csv
    from webapp.register import hotspot_json, list_hotspots

    with _app(obj):
        records = list_hotspots(None if status == "all" else status)
        if fmt == "csv":
            click.echo(export_csv(records), nl=False)
            return
        label, rows = _programme.register_rows(records)
        if fmt == "json":
            out = []
            for row in rows:
                item = hotspot_json(row["record"])
                item.update({"recent": {"period": label, "incidents": row["recent"]},
                             "trend": row["trend"]})
                out.append(item)
            click.echo(json.dumps({"hotspots": out}, indent=2))
            return
        if not rows:
            click.echo("no designated hotspots" + ("" if status in ("open", "all") else f" with status {status}"))
            return
        click.echo(f"{'id':>4}  {'name':<28} {'category':<16} {'status':<12} {'team':<18} "
                   f"{'inc ' + label:>13}  {'dosage':>11}  {'review':<10}  since designation")
        for r in rows:
            dose = f"{r['dose_visits']}/{r['dose_target']:g}" if r["dose_target"] else "-"
            review = r["review_date"].isoformat() if r["review_date"] else "-"
            if r["overdue"]:
                review += " OVERDUE"
            recent = "-" if r["recent"] is None else str(r["recent"])
            click.echo(f"{r['id']:>4}  {r['name'][:28]:<28} {r['category']:<16} {r['status']:<12} "
                       f"{(r['team'] or '-')[:18]:<18} {recent:>13}  {dose:>11}  {review:<10}  {r['trend']}")


@register_cmd.command("show")
@click.argument("hotspot_id")
@click.option("--json", "as_json", is_flag=True, help="JSON with history, impact and dosage.")
@click.pass_obj
def register_show(obj, hotspot_id: str, as_json: bool) -> None:
    """One hotspot: its designation, history, impact and dosage."""
    from webapp import _programme
    from webapp.register import get_hotspot, history, hotspot_json, is_overdue

    with _app(obj):
        record = get_hotspot(hotspot_id)
        data = hotspot_json(record)
        impact = _programme.impact_by_id().get(record.id)
        per_hotspot, _teams = _programme.dosage_report([record])
        dose = per_hotspot[0] if per_hotspot else None
        events = history(record)
        if as_json:
            data["history"] = [{"at": e.at.isoformat() + "Z", "by": e.username, "action": e.action,
                                "reason": e.detail.get("reason", ""), "changes": e.detail.get("changes", {})}
                               for e in events]
            data["impact"] = impact.to_dict() if impact is not None else None
            data["dosage"] = dose.to_dict() if dose is not None else None
            click.echo(json.dumps(data, indent=2))
            return
        click.echo(f"hotspot {record.id}: {record.name}")
        click.echo(f"  category   {record.category}   status {record.status}"
                   + (f" (closed {record.closed_on.isoformat()})" if record.closed_on else ""))
        click.echo(f"  team       {data['team'] or '-'}   tactic {record.tactic}")
        click.echo(f"  target     {record.visits_per_week} visits/week x {record.minutes_per_visit:g} min")
        click.echo(f"  start      {record.start_date.isoformat()}   review "
                   f"{record.review_date.isoformat() if record.review_date else '-'}"
                   + ("  OVERDUE" if is_overdue(record) else ""))
        click.echo(f"  cells      {', '.join(record.cells)}")
        if record.notes:
            click.echo(f"  notes      {record.notes}")
        click.echo("impact:")
        if impact is None:
            click.echo("  not measured (" + ("not started" if record.status == "proposed" else "no incidents in the store") + ")")
        else:
            for line in impact.reading + impact.notes:
                click.echo(f"  {line}")
        if dose is not None:
            w, p = dose.this_week, dose.previous_total()
            click.echo("dosage:")
            click.echo(f"  this week ({w.week}, {w.elapsed_days} day(s) so far): {w.visits} of "
                       f"{w.target_visits:.1f} visits, {w.minutes:.0f} of {w.target_minutes:.0f} min, "
                       f"{w.days_without_visit} day(s) without a visit")
            click.echo(f"  the {len(dose.previous)} weeks before: {p['visits']:.0f} of {p['target_visits']:.1f} "
                       f"visits, {p['minutes']:.0f} of {p['target_minutes']:.0f} min")
        click.echo("history:")
        for e in events:
            reason = e.detail.get("reason", "")
            click.echo(f"  {e.at.strftime('%Y-%m-%d %H:%M')}  {e.username or '-'}  {e.action}"
                       + (f"  \"{reason}\"" if reason else ""))


@register_cmd.command("change")
@click.argument("hotspot_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@click.option("--name")
@click.option("--cells", help="A new area: H3 cells separated by commas.")
@click.option("--geojson", type=click.Path(dir_okay=False, path_type=Path), help="Or a new polygon.")
@click.option("--category", type=_CATEGORY)
@click.option("--team", help="Owner team ('' for none).")
@click.option("--tactic", type=_TACTIC)
@click.option("--visits", type=int, help="Visits per week.")
@click.option("--minutes", type=float, help="Minutes per visit.")
@click.option("--start", help="First day (YYYY-MM-DD).")
@click.option("--review", help="Review date (YYYY-MM-DD).")
@click.option("--status", type=_STATUS)
@click.option("--notes")
@click.option("--user", help="Who is making the change [default: your login name].")
@click.pass_obj
def register_change(obj, hotspot_id, reason, name, cells, geojson, category, team, tactic, visits,
                    minutes, start, review, status, notes, user) -> None:
    """Change a hotspot's designation (every change needs --reason)."""
    from webapp.register import get_hotspot, update_hotspot

    raw = {**_area(cells, geojson), **_fields(name=name, category=category, team=team, tactic=tactic,
                                              visits=visits, minutes=minutes, start=start, review=review,
                                              status=status, notes=notes, reason=reason)}
    with _app(obj):
        record = get_hotspot(hotspot_id)
        changes = update_hotspot(record, raw, who=_who(user))
        if not changes:
            click.echo(f"hotspot {record.id}: nothing changed")
            return
        for field, (old, new) in changes.items():
            click.echo(f"hotspot {record.id}: {field} {old!r} -> {new!r}")


@register_cmd.command("close")
@click.argument("hotspot_id")
@click.option("--reason", required=True, help="Why it is closed (kept in the audit log).")
@click.option("--on", "on", help="The day it closed [default: today].")
@click.option("--user", help="Who is making the change [default: your login name].")
@click.pass_obj
def register_close(obj, hotspot_id: str, reason: str, on: str | None, user: str | None) -> None:
    """Close a hotspot: its dosage stops and its impact window ends that day."""
    from webapp.register import close_hotspot, get_hotspot

    day = dt.date.fromisoformat(_date(on, "--on")) if on else None
    with _app(obj):
        record = close_hotspot(get_hotspot(hotspot_id), reason=reason, on=day, who=_who(user))
        click.echo(f"closed hotspot {record.id} ({record.name}) on {record.closed_on.isoformat()}")


@register_cmd.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True)
@click.option("--status", default="all", show_default=True, help="all, open, or one status.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File [default: stdout].")
@click.pass_obj
def register_export(obj, fmt: str, status: str, out: Path | None) -> None:
    """The register as CSV or GeoJSON (each hotspot's polygon or its cells' outline)."""
    from webapp.db import audit
    from webapp.programme import export_csv, export_geojson
    from webapp.register import list_hotspots

    with _app(obj):
        records = list_hotspots(None if status == "all" else status)
        text = export_csv(records) if fmt == "csv" else export_geojson(records)
        audit("export", target=f"register.{fmt}", rows=len(records), username=_who(None))
    _write(text, out, obj, f"{len(records)} hotspot(s)")


# --------------------------------------------------------------------------- teams


@click.group("teams")
def teams_cmd() -> None:
    """Patrol teams (seeded from the patrol_teams setting on first start).

    \b
      hotspots teams list
      hotspots teams add NAME --base E05011385 [--mode walk] [--members a,b] [--wards CODE,...]
      hotspots teams change NAME [--base ...] [--mode ...] [--members ...] [--wards ...] [--inactive]
    """


@teams_cmd.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def teams_list(obj, as_json: bool) -> None:
    """The teams, their bases, modes, members and home wards."""
    from webapp.register import list_teams, team_json

    with _app(obj):
        teams = [team_json(t) for t in list_teams()]
    if as_json:
        click.echo(json.dumps({"teams": teams}, indent=2))
        return
    for t in teams:
        state = "" if t["active"] else "  (inactive)"
        click.echo(f"{t['id']:>3}  {t['name']:<30} {t['mode']:<6} base {t['base']:<22} "
                   f"wards {','.join(t['home_wards']) or '-'}  members {','.join(t['members']) or '-'}{state}")


@teams_cmd.command("add")
@click.argument("name")
@click.option("--base", required=True, help="A ward code (its centre) or 'longitude latitude'.")
@click.option("--mode", type=click.Choice(["drive", "walk"]), help="[default: patrol_mode setting]")
@click.option("--members", default="", help="User names or call signs, separated by commas.")
@click.option("--wards", "home_wards", default="", help="Home wards (codes or names) [default: the base ward].")
@click.option("--user", help="Who is making the change [default: your login name].")
@click.pass_obj
def teams_add(obj, name, base, mode, members, home_wards, user) -> None:
    """Add a team."""
    from webapp.register import create_team

    with _app(obj):
        team = create_team({"name": name, "base": base, "mode": mode or "", "members": members,
                            "home_wards": home_wards}, who=_who(user))
        click.echo(f"added team {team.id}: {team.name} ({team.mode}, base {team.base})")


@teams_cmd.command("change")
@click.argument("name")
@click.option("--rename", help="A new name.")
@click.option("--base")
@click.option("--mode", type=click.Choice(["drive", "walk"]))
@click.option("--members", help="User names or call signs, separated by commas.")
@click.option("--wards", "home_wards", help="Home wards (codes or names).")
@click.option("--active/--inactive", default=None, help="Whether the team patrols.")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.option("--user", help="Who is making the change [default: your login name].")
@click.pass_obj
def teams_change(obj, name, rename, base, mode, members, home_wards, active, reason, user) -> None:
    """Change a team."""
    from webapp.register import find_team, update_team

    raw = {"name": rename, "base": base, "mode": mode, "members": members, "home_wards": home_wards,
           "active": active, "reason": reason}
    raw = {k: v for k, v in raw.items() if v is not None}
    with _app(obj):
        team = find_team(name)
        changes = update_team(team, raw, who=_who(user))
        click.echo(f"team {team.name}: " + (", ".join(f"{k} -> {v[1]!r}" for k, v in changes.items())
                                            if changes else "nothing changed"))


# --------------------------------------------------------------------------- dosage and impact


@click.command("dosage")
@click.option("--hotspot", "hotspot_id", help="One hotspot's id [default: every started hotspot].")
@click.option("--weeks", type=click.IntRange(0, 26), default=4, show_default=True,
              help="Whole weeks shown before the current one.")
@click.option("--as-of", "as_of", help="The last day counted (YYYY-MM-DD) [default: today].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File [default: stdout].")
@click.pass_obj
def dosage_cmd(obj, hotspot_id, weeks, as_of, fmt, out) -> None:
    """Patrol dosage of the designated hotspots: target against delivered visits and minutes, per
    hotspot and per team, from the patrol log."""
    from webapp import _programme
    from webapp.programme import dosage_csv
    from webapp.register import get_hotspot, list_hotspots

    day = dt.date.fromisoformat(_date(as_of, "--as-of")) if as_of else None
    with _app(obj):
        records = [get_hotspot(hotspot_id)] if hotspot_id else list_hotspots()
        records = [r for r in records if r.status in _programme.STARTED]
        per_hotspot, per_team = _programme.dosage_report(records, as_of=day, weeks=weeks)
    if fmt == "csv":
        _write(dosage_csv(per_hotspot, per_team), out, obj, "the dosage")
        return
    if fmt == "json":
        _write(json.dumps({"hotspots": [d.to_dict() for d in per_hotspot],
                           "teams": [d.to_dict() for d in per_team]}, indent=2), out, obj, "the dosage")
        return
    if not per_hotspot:
        _write("no started designated hotspots", out, obj, "the dosage")
        return
    lines = [f"{'':<34} {'this week':>22}  {'weeks before':>22}",
             f"{'hotspot':<34} {'visits':>10} {'minutes':>11}  {'visits':>10} {'minutes':>11}  no-visit days"]
    for kind, items in (("", per_hotspot), ("team ", per_team)):
        for d in items:
            w, p = d.this_week, d.previous_total()
            name = f"{kind}{d.name}"[:34]
            lines.append(f"{name:<34} {w.visits:>4}/{w.target_visits:<5.1f} {w.minutes:>5.0f}/{w.target_minutes:<5.0f}  "
                         f"{p['visits']:>4.0f}/{p['target_visits']:<5.1f} {p['minutes']:>5.0f}/{p['target_minutes']:<5.0f}  "
                         f"{w.days_without_visit} this week, {p['days_without_visit']:.0f} before")
    _write("\n".join(lines) + "\n", out, obj, "the dosage")


@click.command("impact")
@click.option("--hotspot", "hotspot_id", help="One hotspot's id [default: the whole programme].")
@click.option("--comparison", type=click.Choice(["wards", "matched"]),
              help="Comparison area [default: impact_comparison setting].")
@click.option("--as-of", "as_of", help="End of the time since the start (YYYY-MM-DD) [default: where the data ends].")
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON.")
@click.pass_obj
def impact_cmd(obj, hotspot_id, comparison, as_of, as_json) -> None:
    """Incidents and harm before and after each designation, against a comparison area and a
    buffer ring, with exact intervals, and a plain reading."""
    from webapp import _programme
    from webapp.register import get_hotspot

    day = dt.date.fromisoformat(_date(as_of, "--as-of")) if as_of else None
    with _app(obj) as app:
        if app.extensions["hotspots_data"].is_empty():
            msg = "the store is empty: run `hotspots demo` or `hotspots ingest FILE` first."
            raise InputError(msg)
        record = get_hotspot(hotspot_id) if hotspot_id else None
        if record is not None and record.status not in _programme.STARTED:
            msg = f"hotspot {record.id} is {record.status}: impact is measured once it is active."
            raise InputError(msg)
        result = _programme.programme_impact(comparison=comparison, as_of=day)
        demo = app.extensions["hotspots_data"].is_demo()
    items = [h for h in result.hotspots if record is None or h.key == record.id]
    if as_json:
        payload = result.to_dict() if record is None else items[0].to_dict()
        payload["demo"] = demo
        click.echo(json.dumps(payload, indent=2))
        return
    if demo:
        click.echo("NOTE: the store holds SYNTHETIC demo incidents; these figures are not real.")
    if not items:
        click.echo("no started designated hotspots: designate one with `hotspots register add`.")
        return
    for h in items:
        click.echo(f"hotspot {h.key}: {h.name} ({h.category}, since {h.start.isoformat()})")
        for line in h.reading + h.notes:
            click.echo(f"  {line}")
    if record is None:
        for pooled in result.pooled.values():
            click.echo(pooled["reading"])


# --------------------------------------------------------------------------- the briefing


@click.command("brief")
@click.option("--week", help="ISO week such as 2025-W23 [default: the latest complete week; the "
                             "latest month for police.uk data].")
@click.option("--wards", default="priority", show_default=True,
              help="'priority', 'all', or ward codes/names separated by commas.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write: .pdf (printed by the installed Chromium) or .html.")
@click.pass_obj
def brief_cmd(obj, week: str | None, wards: str, out: Path) -> None:
    """The weekly briefing pack for the tasking meeting: headlines (new, persisting, fading), the
    hotspot map with ward and street names, the ward table, the register with dosage and impact,
    and the data coverage notes; A4, readable in black and white."""
    import datetime as _dt

    from webapp import _brief
    from webapp.db import audit

    if out.suffix.lower() not in (".pdf", ".html", ".htm"):
        msg = f"--out {str(out)!r}: give a .pdf or .html file."
        raise InputError(msg)
    with _app(obj) as app:
        with app.test_request_context():
            model = _brief.brief_model(week, wards)
            html = _brief.standalone_html({**model, "timedelta": _dt.timedelta})
        obj.say(f"briefing for {model['period'].label}" + (" (SYNTHETIC demo data)" if model["demo"] else ""))
        if out.suffix.lower() == ".pdf":
            _brief.html_to_pdf(html, out)
        else:
            out.write_text(html, encoding="utf-8")
        audit("export", target=f"brief {model['period'].label}", file=str(out), username=_who(None))
    click.echo(f"wrote {out}")
