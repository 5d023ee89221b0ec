"""Routing commands: street networks (`hotspots network ...`) and patrol plans (`hotspots plan`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from hotspots.errors import InputError


def _echo_info(info: dict, path: Path | None = None) -> None:
    if path is not None:
        click.echo(f"file:      {path}")
    click.echo(f"mode:      {info['mode']}")
    click.echo(f"nodes:     {info['nodes']:,}")
    click.echo(f"edges:     {info['edges']:,}")
    click.echo(f"streets:   {info['street_km']:,.1f} km")
    click.echo(f"crs:       {info['crs']}")
    if info.get("bounds_lonlat"):
        w, s, e, n = info["bounds_lonlat"]
        click.echo(f"extent:    lon {w} to {e}, lat {s} to {n}")
    if info.get("median_speed_kph") is not None:
        click.echo(f"median speed: {info['median_speed_kph']:g} km/h")
    if info.get("source"):
        click.echo(f"source:    {info['source']}")


@click.group()
def network() -> None:
    """Street networks for patrol plans, cached as GraphML in the instance folder.

    \b
      hotspots network fetch              download the priority wards' streets (needs internet)
      hotspots network import FILE        use an OSM XML or GraphML file instead (offline)
      hotspots network list               what is cached, and how much of the wards each covers
      hotspots network remove NAME        forget a cached network
      hotspots network info               size and extent of the cached networks

    Plans use the cached network that covers their wards best; stops and bases more than 250 m
    from its streets are reached by straight lines, marked approximate. `hotspots plan --network
    none` plans with straight lines only.
    """


@network.command("fetch")
@click.option("--mode", type=click.Choice(["drive", "walk"]), default=None,
              help="drive (vehicle patrols) or walk (foot patrols) [default: patrol_mode setting].")
@click.option("--wards", "ward_spec", default="priority", show_default=True,
              help="Wards to cover: 'priority', 'all', or ward codes/names separated by commas.")
@click.option("--refresh", is_flag=True, help="Download again even when a cached network exists.")
@click.pass_obj
def network_fetch(obj, mode: str | None, ward_spec: str, refresh: bool) -> None:
    """Download the street network of the wards (buffered by 500 m) from OpenStreetMap."""
    from hotspots.wards import load_wards, select_wards
    from routing.network import (
        area_name,
        coverage_sentence,
        download_network,
        network_coverage,
        network_info,
        network_path,
    )

    settings = obj.settings
    mode = mode or settings.patrol_mode
    wards = select_wards(load_wards(settings=settings), ward_spec)
    obj.say(f"Fetching the {mode} network of {len(wards)} ward(s) from "
            f"{settings.network_overpass_url} ...")
    graph = download_network(wards, mode=mode, refresh=refresh, settings=settings)
    path = network_path(area_name(wards["ward_code"], settings=settings), mode, settings=settings)
    click.echo(f"network cached in {path}")
    click.echo(coverage_sentence(network_coverage(graph, wards)))
    _echo_info(network_info(graph))


@network.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(["drive", "walk"]), default=None,
              help="drive or walk [default: patrol_mode setting].")
@click.option("--wards", "ward_spec", default="priority", show_default=True,
              help="Wards it is for (its coverage is measured on them): 'priority', 'all', or "
                   "ward codes/names separated by commas.")
@click.option("--name", "area", default=None,
              help="Name of the cached network [default: the wards' name, 'priority' for the "
                   "priority wards].")
@click.option("--replace", is_flag=True,
              help="Replace a cached network of that name even when it covers the wards better.")
@click.pass_obj
def network_import(obj, file: Path, mode: str | None, ward_spec: str, area: str | None,
                   replace: bool) -> None:
    """Build a network from an OSM XML or GraphML FILE and cache it (no internet needed).

    Says how much of the wards' area lies within 250 m of its streets, and warns when that is
    little. A cached network of the same name that covers more is kept (this one is cached
    beside it) unless --replace.
    """
    from hotspots.wards import load_wards, select_wards
    from routing.network import import_network, network_info

    settings = obj.settings
    mode = mode or settings.patrol_mode
    wards = select_wards(load_wards(settings=settings), ward_spec)
    obj.say(f"Reading {file} as a {mode} network ...")
    done = import_network(file, mode=mode, area=area, wards=wards, replace=replace,
                          settings=settings)
    click.echo(f"network cached in {done.path}")
    for sentence in done.sentences():
        click.echo(sentence)
    _echo_info(network_info(done.graph))


@network.command("list")
@click.option("--wards", "ward_spec", default="priority", show_default=True,
              help="Wards to measure coverage on: 'priority', 'all', or codes/names.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def network_list_cmd(obj, ward_spec: str, as_json: bool) -> None:
    """List the cached networks and how much of the wards' area each covers."""
    from hotspots.wards import load_wards, select_wards
    from routing.network import LOW_COVERAGE, network_list, networks_folder

    settings = obj.settings
    codes = select_wards(load_wards(settings=settings), ward_spec)["ward_code"].astype(str)
    rows = network_list(wards=list(codes), settings=settings)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no network cached in {networks_folder(settings)}; run `hotspots network "
                   "fetch` (internet) or `hotspots network import FILE`.")
        return
    click.echo(f"{'name':<28} {'mode':<5} {'covers':>7} {'MB':>7}  file")
    for r in rows:
        share = r["coverage"]["share"]
        flag = "  (little)" if share < LOW_COVERAGE else ""
        click.echo(f"{r['name'][:28]:<28} {r['mode']:<5} {share:>7.0%} {r['megabytes']:>7.1f}  "
                   f"{r['file']}{flag}")
    click.echo(f"covers: share of the wards' area within 250 m of the network's streets "
               f"({', '.join(codes)}).")


@network.command("remove")
@click.argument("name")
@click.option("--mode", type=click.Choice(["drive", "walk"]), default=None,
              help="Remove only the network of this mode [default: both].")
@click.pass_obj
def network_remove(obj, name: str, mode: str | None) -> None:
    """Remove the cached network NAME (as `network list` shows it)."""
    from routing.network import remove_network

    for path in remove_network(name, mode=mode, settings=obj.settings):
        click.echo(f"removed {path}")


@network.command("info")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(["drive", "walk"]), default=None,
              help="Mode to read an OSM XML FILE as [default: patrol_mode setting].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def network_info_cmd(obj, file: Path | None, mode: str | None, as_json: bool) -> None:
    """Describe a network FILE, or every cached network when no FILE is given."""
    import osmnx as ox

    from routing.network import cached_networks, load_network, network_info, networks_folder

    settings = obj.settings
    if file is not None:
        paths = [file]
    else:
        paths = cached_networks(settings)
        if not paths:
            msg = (f"no network cached in {networks_folder(settings)}; run `hotspots network "
                   "fetch` (internet) or `hotspots network import FILE`.")
            if as_json:
                click.echo(json.dumps([]))
                obj.say(msg)
                return
            click.echo(msg)
            return
    infos = []
    for path in paths:
        if path.name.lower().endswith(".graphml") and file is None:
            graph = ox.load_graphml(path)
        else:
            graph = load_network(path, mode=mode or settings.patrol_mode, settings=settings)
        info = network_info(graph)
        info["file"] = str(path)
        infos.append(info)
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for i, info in enumerate(infos):
        if i:
            click.echo("")
        _echo_info(info, Path(info["file"]))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "team"


def _suffixed(path: Path, variant: int) -> Path:
    if variant == 0:
        return path
    return path.with_name(f"{path.stem}-v{variant + 1}{path.suffix}")


@click.command("plan")
@click.option("--week", default=None, help="ISO week of the hotspots, e.g. 2025-W23.")
@click.option("--month", default=None, help="Month of the hotspots, e.g. 2025-06.")
@click.option("--category", type=click.Choice(["asb", "serious_violence", "both"]), default="both",
              show_default=True, help="Hotspots of which category to patrol.")
@click.option("--team", "team_names", multiple=True, metavar="NAME",
              help="A team on shift, from `hotspots teams list` (repeat, or separate names by "
                   "commas) [default: every active team].")
@click.option("--teams", "n_teams", type=click.IntRange(1, 50), default=None,
              help="Or the first N active teams.")
@click.option("--date", "shift_date", default=None, metavar="YYYY-MM-DD",
              help="The day of the shift [default: today].")
@click.option("--shift", "shift_min", type=click.IntRange(10, 720), default=None,
              help="Shift length in minutes [default: patrol_shift_min setting, 240].")
@click.option("--start", "shift_start", default=None,
              help="Shift start HH:MM [default: patrol_shift_start setting, 16:00].")
@click.option("--any-ward", is_flag=True,
              help="Let teams patrol outside their home wards (default: each keeps to its own).")
@click.option("--vary/--no-vary", default=None,
              help="Visit designated hotspots in a different order and at different times from "
                   "shift to shift [default: patrol_vary_designated setting, on].")
@click.option("--dwell", "dwell_min", type=float, default=None,
              help="Minutes at each stop, 10 to 16 [default: dwell_min setting, 15].")
@click.option("--mode", type=click.Choice(["drive", "walk"]), default=None,
              help="drive or walk for every team [default: each team's own].")
@click.option("--per-ward", type=click.IntRange(1, 200), default=None,
              help="Candidate stops per ward [default: patrol_stops_per_ward setting, 15].")
@click.option("--top", type=click.IntRange(1, 1000), default=None,
              help="Take the best N cells overall instead of per ward.")
@click.option("--prize", type=click.Choice(["harm", "gi_z", "count"]), default=None,
              help="What a stop is worth [default: patrol_prize setting, harm].")
@click.option("--wards", "ward_spec", default=None,
              help="Wards to rank: 'priority' (default), 'all' or codes/names separated by commas.")
@click.option("--network", "network_file", default=None, metavar="FILE|none",
              help="Street network (GraphML or OSM XML) [default: the cached network that "
                   "covers the wards best]; 'none': an APPROXIMATE straight-line plan.")
@click.option("--with-empty", is_flag=True,
              help="Let cells with no incident in the period be stops too (never by default).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plan as GeoJSON here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plan as CSV here: a row per stop, each team's in order.")
@click.option("--gpx", "gpx_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one GPX 1.1 file per team into this folder.")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a printable HTML sheet here.")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(0.1, 600), default=5.0,
              show_default=True, help="Seconds per plan (travel matrix and search).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the variants.")
@click.option("--variants", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Make K different near-optimal plans; the files of plan N>1 get a -vN suffix.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
def plan(obj, week, month, category, team_names, n_teams, shift_date, shift_min, shift_start,
         any_ward, vary, dwell_min, mode, per_ward, top, prize, ward_spec, network_file,
         with_empty, out, csv_out, gpx_dir, sheet, time_limit_s, seed, variants, as_json) -> None:
    """Plan a shift: each team's designated hotspots, then this period's top hotspots.

    The teams come from the teams table (`hotspots teams list`); each visits the active
    designated hotspots it owns (`hotspots register list`), each for its dosage target's
    minutes, then fills the shift with the top hotspot cells of its home wards. A designated
    hotspot no shift can fit is reported, never dropped. Each route starts and ends at its team's
    base. Without a street network the plan is APPROXIMATE (straight lines times a circuity
    factor) and says so everywhere.
    """
    from hotspots.export import demo_path
    from hotspots.store import IncidentStore
    from routing.deploy import plan_deployment
    from routing.output import clock, missed_text
    from routing.stops import check_dwell
    from webapp import _exports
    from webapp._deployment import plan_inputs
    from webapp.commands.analysis import choose_period
    from webapp.commands.programme import _app

    settings = obj.settings
    if week is not None and month is not None:
        msg = "give one of --week (e.g. 2025-W23) or --month (e.g. 2025-06), not both."
        raise InputError(msg)
    if team_names and n_teams is not None:
        msg = "give --team NAME or --teams N, not both."
        raise InputError(msg)
    store = IncidentStore(settings.home, settings=settings)
    # The period named, or the latest complete one in the store (announced), as `hotspots rank`.
    period = choose_period(obj, store, week=week, month=month, period_text=None,
                           date_from=None, date_to=None)
    if dwell_min is not None:
        check_dwell(dwell_min)
    chosen = ([n for names in team_names for n in names.split(",") if n.strip()]
              if team_names else n_teams)
    # The teams table and the register, as the web app reads them.
    with _app(obj):
        inputs = plan_inputs(chosen, date=shift_date,
                             shift_start=shift_start or settings.patrol_shift_start,
                             shift_min=shift_min or settings.patrol_shift_min, mode=mode)
    # The one pipeline the web app and the API call too (routing.deploy).
    result = plan_deployment(store, period=period, teams=inputs.teams, category=category,
                             wards=ward_spec, network=network_file, per_ward=per_ward, top=top,
                             prize=prize, dwell_min=dwell_min, with_empty=with_empty,
                             designated=inputs.designated, any_ward=any_ward, vary=vary,
                             time_limit_s=time_limit_s, seed=seed, variants=variants,
                             settings=settings)
    for note in result.notes:
        obj.say(note)
    n_stops = result.context["candidate_stops"]
    plans = result.variants or [result]

    coverage = store.coverage()
    for v, p in enumerate(plans):
        # Every file carries the plan's context, as the web app's downloads do.
        context = _exports.plan_context(p.to_dict(), settings=settings, coverage=coverage,
                                        period=period.label, category=category,
                                        synthetic="demo" in coverage.sources())
        if out is not None:
            target = demo_path(_suffixed(out, v), context)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_exports.plan_geojson(p.to_geojson(), context), encoding="utf-8")
            obj.say(f"wrote {target}")
        if csv_out is not None:
            target = demo_path(_suffixed(csv_out, v), context)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_exports.plan_csv(p.to_dict(), context), encoding="utf-8")
            obj.say(f"wrote {target}")
        if sheet is not None:
            target = _suffixed(sheet, v)
            target.parent.mkdir(parents=True, exist_ok=True)
            title = (f"Patrol plan {period.label} ({category}), shift "
                     f"{result.context['shift']['label']}")
            target.write_text(p.to_sheet_html(title=title), encoding="utf-8")
            obj.say(f"wrote {target}")
        if gpx_dir is not None:
            gpx_dir.mkdir(parents=True, exist_ok=True)
            for r in p.routes:
                target = demo_path(_suffixed(gpx_dir / f"{_slug(r.team.name)}.gpx", v), context)
                target.write_text(_exports.plan_gpx(p.to_gpx(team=r.team.name), context),
                                  encoding="utf-8")
            obj.say(f"wrote {len(p.routes)} GPX files in {gpx_dir}")

    if as_json:
        click.echo(json.dumps(result.to_dict() if variants == 1
                              else [p.to_dict() for p in plans], indent=2))
        return
    click.echo(f"shift: {result.context['shift']['label']}")
    for v, p in enumerate(plans):
        head = f"plan {v + 1} of {len(plans)}: " if len(plans) > 1 else ""
        flag = (" (APPROXIMATE: straight lines, no street network)" if p.approximate else
                f" (APPROXIMATE: every leg is a straight line; {p.approximate_legs} of {p.legs})"
                if p.approximate_legs >= p.legs else
                f" (PARTLY APPROXIMATE: {p.approximate_legs} of {p.legs} legs are straight lines)"
                if p.approximate_legs else "")
        click.echo(f"{head}prize {p.prize:,.1f} of {p.prize_available:,.1f} ({p.prize_by}), "
                   f"{p.visits} of {n_stops} stops{flag}")
        click.echo(f"{'team':<30} {'mode':<5} {'stops':>5} {'start':>6} {'back':>8} "
                   f"{'travel':>7} {'km':>6} {'prize':>9} {'straight legs':>13}")
        for r in p.routes:
            click.echo(f"{r.team.name[:30]:<30} {r.team.mode:<5} {len(r.visits):>5} "
                       f"{clock(r.start_min):>6} {clock(r.end_min):>8} {r.travel_min:>6.0f}m "
                       f"{r.distance_m / 1000:>6.1f} {r.prize:>9,.1f} "
                       f"{sum(r.legs_approximate):>6} of {len(r.legs_approximate):<3}")
        for r in p.routes:
            for visit in r.visits:
                if visit.hotspot_id is not None:
                    click.echo(f"designated: hotspot {visit.hotspot_id} ({visit.hotspot_name}) "
                               f"by {r.team.name}, stop {visit.seq}, {clock(visit.start_min)}-"
                               f"{clock(visit.departure_min)} ({visit.dwell_min:g} min)")
        for u in p.missed:
            click.echo(f"cannot fit: {missed_text(u)}")
        for u in p.context.get("designated_left_out", []):
            click.echo(f"not in this plan: designated hotspot {u['hotspot_id']} "
                       f"({u['hotspot_name']}): {u['why']}")


__all__ = ["network", "plan"]
