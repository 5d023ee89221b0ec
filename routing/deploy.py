"""The deployment pipeline: from incidents to a patrol plan (rank -> candidate stops -> plan).

`plan_deployment` is the one way a plan is made: the `hotspots plan` command, the web page and the
JSON API all call it (the web app calls its two halves, `prepare_deployment` in the request and
`solve_deployment` in a worker process), so the same inputs give the same plan everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd

from hotspots.errors import InputError
from hotspots.periods import Period, parse_period
from hotspots.report import counted
from hotspots.settings import Settings, get_settings
from routing.designated import (
    absorb_ranked,
    clear_varied,
    designated_stops,
    team_scope,
    vary_windows,
)
from routing.network import NetworkChoice, check_network, choose_network, load_network
from routing.output import PatrolPlan
from routing.plan import PATIENCE, plan_patrols
from routing.stops import (
    add_must_visit,
    join_neighbours,
    merge_stops,
    must_visit_stops,
    sparse_advisory,
    stops_from_ranking,
)
from routing.teams import Team

log = logging.getLogger(__name__)

#: What a plan may patrol: one category's hotspots, or both (their stops merged).
CATEGORY_CHOICES: tuple[str, ...] = ("asb", "serious_violence", "both")

_CATEGORY_WORDS = {"asb": "anti-social behaviour", "serious_violence": "serious violence"}


@dataclass
class Deployment:
    """Everything a plan is made from, before the search: stops, teams and networks.

    Made by `prepare_deployment`; `solve_deployment` turns it into a `PatrolPlan`. It holds
    plain data only (unless the caller passed network graphs), so it can be sent to a worker
    process.
    """

    period: Period
    categories: tuple[str, ...]
    ward_codes: tuple[str, ...]
    stops: gpd.GeoDataFrame
    teams: list[Team]
    networks: dict[str, NetworkChoice]
    settings: Settings
    graphs: Any = None  # graphs the caller passed in (a graph or a mapping mode -> graph)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    any_ward: bool = False
    designated_left_out: list[dict[str, Any]] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        """What the plan was made from, as plain data (kept in `PatrolPlan.context`)."""
        stops = self.stops
        designated = []
        if "hotspot_id" in stops.columns:
            for row in stops[stops["hotspot_id"].notna()].to_dict("records"):
                designated.append({
                    "hotspot_id": int(row["hotspot_id"]), "name": str(row["hotspot_name"]),
                    "stop_id": str(row["stop_id"]), "ward_name": str(row.get("ward_name") or ""),
                    "team": (row["teams"][0] if isinstance(row.get("teams"), tuple | list)
                             and row["teams"] else None),
                    "dwell_min": float(row["dwell_min"]),
                    "window": _window_text(row) if row.get("varied") else None,
                })
        return {
            "period": self.period.label,
            "categories": list(self.categories),
            "wards": list(self.ward_codes),
            "any_ward": self.any_ward,
            "shift": shift_of(self.teams),
            "teams": [t.to_dict() for t in self.teams],
            "candidate_stops": int(len(stops)),
            "must_visit": int(stops["must_visit"].sum()) if len(stops) else 0,
            "designated": designated,
            "designated_left_out": list(self.designated_left_out),
            "left_out": list(self.left_out),
            "networks": {m: c.to_dict() for m, c in self.networks.items()},
            "notes": list(self.notes),
        }


def shift_of(teams: Sequence[Team]) -> dict[str, Any] | None:
    """The date and shift of a plan's teams (their first team's when they differ), as plain data:
    `date` (ISO or None), `start` (HH:MM), `minutes` and a `label` for people."""
    from routing.output import clock

    if not teams:
        return None
    t = teams[0]
    start = t.start_minute
    date = t.date.isoformat() if t.date is not None else None
    label = f"{clock(start)}-{clock(start + float(t.shift_min))}".replace(" +1", " next day")
    if t.date is not None:
        label = f"{t.date.strftime('%a')} {date}, {label}"
    return {"date": date, "start": clock(start), "minutes": float(t.shift_min), "label": label}


def _window_text(row: Mapping[str, Any]) -> str:
    from routing.output import clock

    return f"{clock(float(row['window_start_min']))}-{clock(float(row['window_end_min']))}"


def plan_wards(teams: Sequence[Team], wards: Any = None, *, any_ward: bool = False) -> Any:
    """The wards a plan ranks: `wards` when given; else, unless `any_ward`, the home wards of the
    teams when every team has some; else None (the priority wards)."""
    if wards is not None or any_ward:
        return wards
    homes = [t.home_wards for t in teams]
    if homes and all(homes):
        return sorted({w for h in homes for w in h})
    return None


def prepare_deployment(
    source: Any,
    *,
    period: str | Period,
    teams: Sequence[Team],
    category: str = "both",
    wards: Any = None,
    network: Any = None,
    per_ward: int | None = None,
    top: int | None = None,
    prize: str | None = None,
    dwell_min: float | None = None,
    with_empty: bool = False,
    must_visit: gpd.GeoDataFrame | None = None,
    designated: Sequence[Mapping[str, Any]] | None = None,
    any_ward: bool = False,
    vary: bool | None = None,
    rankings: Mapping[str, gpd.GeoDataFrame] | None = None,
    settings: Settings | None = None,
) -> Deployment:
    """Rank the period's hotspots, choose the candidate stops and the networks of a plan.

    Parameters
    ----------
    source
        An `hotspots.store.IncidentStore` (only the months the ranking needs are read: the
        period and its trend window) or incidents in the data model.
    period
        ISO week (`2025-W23`), month (`2025-06`) or a `Period`.
    teams
        The teams on shift (`routing.Team`; e.g. `routing.default_teams()` or stored teams).
        A team with `home_wards` is given only stops in them (unless `any_ward`); a team whose
        `shift_start` is a datetime dates the plan (and seeds `vary`).
    category
        `asb`, `serious_violence` or `both` (the two rankings' stops merged).
    wards
        Ward spec: None or `priority`, `all`, codes or names (list or comma-separated text).
        None: the teams' home wards when every team has some (`plan_wards`), else the
        priority wards.
    network
        None: the cached network of each team mode (`routing.network.choose_network`);
        `"none"`: straight lines (an approximate plan); a GraphML or OSM XML path; or a
        prepared graph, or a mapping mode -> graph.
    per_ward, top, prize, dwell_min, with_empty
        How stops are taken from each ranking (`routing.stops_from_ranking`): cells with no
        incident in the period are never stops unless `with_empty`.
    must_visit
        Places every plan must visit if a shift can fit them (`routing.must_visit_stops`),
        each with its own dwell (`dwell_min` column); one in a ranked cell merges with that
        cell's stop.
    designated
        The designated hotspots to visit, as plain records (`routing.designated.designated_stops`:
        `id`, `name`, `category`, `cells`, `team`, `dwell_min`): each is a must-visit stop for its
        owner team (any team whose home wards hold it when it has none), with its dwell; the
        ranked cells in its area join its stop. The rest of each shift is filled with the
        top-ranked cells. One no shift can fit is in `plan.missed` with why.
    any_ward
        Let every team visit stops in every ward of the plan (default: each team keeps to its
        home wards).
    vary
        Give each team's designated stops a time slot of the shift drawn from the date, so
        consecutive shifts visit them in a different order and at different times with the same
        dosage (`routing.designated.vary_windows`); default the `patrol_vary_designated`
        setting.
    rankings
        Rankings already made (category -> `rank_hotspots` output for this period, wards and
        the `h3_resolution` setting), e.g. from a cache; the others are made here.
    settings
        Resolved settings; read with `get_settings()` when None.

    Raises
    ------
    InputError
        A bad category, period, ward, team or stop option; nothing to patrol (no incidents,
        no cell that may be a stop, and no must-visit place); a missing network file.
    """
    settings = settings or get_settings()
    if category not in CATEGORY_CHOICES:
        msg = f"`category` is {category!r}; expected one of {', '.join(CATEGORY_CHOICES)}."
        raise InputError(msg)
    chosen = parse_period(period, tz=settings.timezone)
    teams = list(teams)
    if not teams:
        msg = "`teams` is empty: at least one team is needed to patrol."
        raise InputError(msg)
    cats = ("asb", "serious_violence") if category == "both" else (category,)
    rankings = dict(rankings or {})
    wards = plan_wards(teams, wards, any_ward=any_ward)
    codes = _ward_codes(wards, [rankings.get(c) for c in cats], settings)

    notes: list[str] = []
    left_out: list[dict[str, Any]] = []
    frames = []
    missing = [c for c in cats if c not in rankings]
    incidents = _incidents(source, chosen, missing, settings) if missing else None
    for cat in cats:
        ranking = rankings.get(cat)
        if ranking is None:
            ranking = _rank(incidents, cat, chosen, codes, settings, source)
        else:
            _check_ranking(ranking, cat, chosen, codes)
        stops = stops_from_ranking(ranking, per_ward=per_ward, top=top, prize=prize,
                                   dwell_min=dwell_min, category=cat, with_empty=with_empty,
                                   allow_empty=True, settings=settings)
        for r in stops.attrs.get("left_out", []):
            left_out.append({"category": cat, **r})
        n_incidents = ranking.attrs.get("incidents")
        if len(stops):
            frames.append(stops)
            notes.append(f"{counted(len(stops), 'candidate stop')} from the {cat} ranking of "
                         f"{chosen.label}")
        elif n_incidents == 0:
            notes.append(f"no {_CATEGORY_WORDS[cat]} incidents in the chosen wards in "
                         f"{chosen.label}")
        else:
            notes.append(f"no {cat} cell of {chosen.label} can be a stop")
        notes.extend(f"{cat}: {r['note']}" for r in stops.attrs.get("left_out", []))

    stops = merge_stops(*frames) if len(frames) > 1 else (frames[0] if frames else None)
    if len(frames) > 1:  # an ASB stop beside a serious-violence stop is one place
        stops = join_neighbours(stops, ring=settings.patrol_join_ring)
    if stops is not None and "cells" in stops.columns:
        joined = sum(len(c.split(",")) - 1 for c in stops["cells"] if isinstance(c, str) and c)
        if joined:
            ring = settings.patrol_join_ring
            notes.append(f"{counted(joined, 'cell')} joined the stop of a better cell within "
                         f"{counted(ring, 'H3 step')}: one stop and one dwell per place")
    sparse = sparse_advisory(stops, period=chosen) if stops is not None else None
    if sparse:
        notes.append(sparse)
    must = None
    if must_visit is not None and len(must_visit):
        must = must_visit_stops(must_visit, dwell_min=dwell_min, settings=settings)
        notes.append(counted(len(must), "must-visit place"))
    chosen_designated = None
    if designated:
        chosen_designated = designated_stops(designated, settings=settings)
        stops, chosen_designated = absorb_ranked(stops, chosen_designated)
    if stops is None and must is None and chosen_designated is None:
        words = " or ".join(_CATEGORY_WORDS[c] for c in cats)
        msg = (f"no {words} hotspot in the chosen wards in {chosen.label} can be a patrol stop "
               f"(no incidents there, or none worth a stop), so there is nothing to patrol.")
        raise InputError(msg)
    left_attrs = list(stops.attrs.get("left_out", [])) if stops is not None else []
    if stops is not None or must is not None:
        stops = add_must_visit(stops, must)
    if chosen_designated is not None:
        stops = (chosen_designated if stops is None else gpd.GeoDataFrame(
            pd.concat([stops, chosen_designated], ignore_index=True), geometry="geometry",
            crs=chosen_designated.crs))
    stops, scoped_out = team_scope(stops, teams, any_ward=any_ward)
    stops.attrs["left_out"] = left_attrs
    designated_left_out = [r for r in scoped_out if "hotspot_id" in r]
    outside = len(scoped_out) - len(designated_left_out)
    if outside:
        notes.append(f"{counted(outside, 'candidate stop')} {'lies' if outside == 1 else 'lie'} "
                     f"outside the chosen teams' home wards and {'is' if outside == 1 else 'are'} "
                     "left out (plan with any ward to include them)")
    for r in designated_left_out:
        notes.append(f"designated hotspot {r['hotspot_id']} ({r['hotspot_name']}) is not in this "
                     f"plan: {r['why']}")
    if chosen_designated is not None:
        kept = int(stops["hotspot_id"].notna().sum())
        notes.append(f"{counted(kept, 'designated hotspot')} "
                     f"{'is a must-visit stop' if kept == 1 else 'are must-visit stops'}, each "
                     "with its dosage target's minutes")
    if len(stops) == 0:
        msg = ("no stop of this plan lies in the chosen teams' home wards, so there is nothing "
               "to patrol; plan with any ward, or choose other teams.")
        raise InputError(msg)
    if chosen_designated is not None and (settings.patrol_vary_designated if vary is None
                                          else vary):
        stops, varied = vary_windows(stops, teams)
        notes.extend(varied)

    graphs = None
    networks: dict[str, NetworkChoice] = {}
    if isinstance(network, nx.Graph | Mapping):
        graphs = network
        for mode in sorted({t.mode for t in teams}):
            networks[mode] = NetworkChoice(mode, None, mode, f"using the {mode} network given")
    else:
        for mode in sorted({t.mode for t in teams}):
            networks[mode] = choose_network(mode, wards=codes, network=network, settings=settings)
            notes.append(networks[mode].note)
    return Deployment(period=chosen, categories=cats, ward_codes=codes, stops=stops, teams=teams,
                      networks=networks, settings=settings, graphs=graphs, left_out=left_out,
                      notes=notes, any_ward=any_ward, designated_left_out=designated_left_out)


def solve_deployment(deployment: Deployment, *, time_limit_s: float = 5.0, seed: int = 0,
                     variants: int = 1, patience: int | None = PATIENCE,
                     solution_limit: int | None = None) -> PatrolPlan:
    """Plan the patrols of a prepared deployment (`routing.plan_patrols`).

    The plan's `context` says what it was made from; its `notes` add what it leaves out.
    Loaded networks are kept in memory for the next plan of this process.
    """
    dep = deployment
    network = dep.graphs if dep.graphs is not None else _networks(dep)

    def solve(stops: gpd.GeoDataFrame) -> PatrolPlan:
        return plan_patrols(stops, dep.teams, network=network, time_limit_s=time_limit_s,
                            seed=seed, variants=variants, patience=patience,
                            solution_limit=solution_limit, settings=dep.settings)

    plan = solve(dep.stops)
    fallback = None
    if plan.missed and "varied" in dep.stops.columns and dep.stops["varied"].any():
        # The varied slots may be what leaves a designated stop out: the same stops without
        # them keep the dosage, in the solver's order.
        unvaried = clear_varied(dep.stops)
        again = solve(unvaried)
        if len(again.missed) < len(plan.missed):
            fallback = (f"the varied visiting times left {len(plan.missed)} must-visit stops out; "
                        "this plan visits them in the solver's order instead")
            plan = again
            dep = Deployment(**{**dep.__dict__, "stops": unvaried})
    where = _lonlat(dep.stops)
    for p in plan.variants or [plan]:
        context = dep.context()
        if fallback:
            context["notes"].append(fallback)
        for u in p.unvisited:
            if u.get("must_visit") and u["stop_id"] in where:
                u["lon"], u["lat"] = where[u["stop_id"]]
        if p.missed:
            from routing.output import missed_text

            context["notes"].append(
                f"{counted(len(p.missed), 'must-visit stop')} "
                f"{'fits' if len(p.missed) == 1 else 'fit'} no shift: "
                + "; ".join(missed_text(u) for u in p.missed))
        if p.approximate_legs and not p.approximate:
            stops = sum(1 for u in p.off_network if u.get("kind") == "stop")
            bases = sum(1 for u in p.off_network if u.get("kind") == "base")
            context["notes"].append(
                f"{p.approximate_legs} of {p.legs} legs are straight lines (approximate): "
                f"{counted(stops, 'candidate stop')} and {counted(bases, 'base')} lie more than "
                "250 m from the network's streets")
        p.context = context
    return plan


def plan_deployment(source: Any, *, period: str | Period, teams: Sequence[Team],
                    time_limit_s: float = 5.0, seed: int = 0, variants: int = 1,
                    patience: int | None = PATIENCE, solution_limit: int | None = None,
                    **options: Any) -> PatrolPlan:
    """Make a patrol plan from incidents: rank the period's hotspots, take the candidate stops,
    choose the networks and plan every team's shift.

    `options` are those of `prepare_deployment` (`category`, `wards`, `network`, `per_ward`,
    `top`, `prize`, `dwell_min`, `with_empty`, `must_visit`, `rankings`, `settings`); the
    search options are those of `routing.plan_patrols`.

    Returns
    -------
    PatrolPlan
        The plan; `plan.context` holds the period, categories, wards, candidate stops, the stop
        rules' counts, the networks used, and `plan.notes` sentences for the caller's report.
    """
    deployment = prepare_deployment(source, period=period, teams=teams, **options)
    return solve_deployment(deployment, time_limit_s=time_limit_s, seed=seed, variants=variants,
                            patience=patience, solution_limit=solution_limit)


# ------------------------------------------------------------------------------------------
# Plumbing


def _lonlat(stops: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """stop id -> (longitude, latitude) of the must-visit stops."""
    must = stops[stops["must_visit"].fillna(False).astype(bool)]
    if not len(must):
        return {}
    points = must.geometry.to_crs("EPSG:4326")
    return {str(k): (round(float(p.x), 6), round(float(p.y), 6))
            for k, p in zip(must["stop_id"], points, strict=True)}


def _ward_codes(wards: Any, rankings: list[gpd.GeoDataFrame | None],
                settings: Settings) -> tuple[str, ...]:
    """The chosen wards' codes, sorted; read from the rankings passed in when there is one for
    every category and the spec is the rankings' own (saves reading the boundaries)."""
    from hotspots.ranking import resolve_wards

    given = {tuple(sorted(r.attrs["wards"])) for r in rankings
             if r is not None and "wards" in r.attrs}
    if len(given) == 1 and all(r is not None for r in rankings):
        codes = next(iter(given))
        spec = wards.split(",") if isinstance(wards, str) else wards
        if (wards in (None, "priority") and codes == tuple(sorted(settings.priority_wards))
                or (isinstance(spec, list | tuple) and tuple(sorted(spec)) == codes)):
            return codes
    chosen = resolve_wards(wards, settings)
    return tuple(sorted(chosen["ward_code"].astype(str)))


def _incidents(source: Any, period: Period, cats: Sequence[str], settings: Settings) -> Any:
    """The incidents the rankings need: from a store only the trend window's months."""
    from hotspots.store import IncidentStore

    if source is None:
        msg = "no incidents: pass an incident store or frame, or a ranking for every category."
        raise InputError(msg)
    if not isinstance(source, IncidentStore):
        return source
    from hotspots.ranking import window_period

    frame = source.load(period=window_period(period, settings=settings), categories=list(cats))
    if len(frame) == 0:
        words = " or ".join(_CATEGORY_WORDS[c] for c in cats)
        msg = (f"the store holds no {words} incidents for {period.label} or the periods before "
               "it, so there is nothing to patrol; run `hotspots store summary` to see what it "
               "holds.")
        raise InputError(msg)
    return frame


def _rank(incidents: Any, category: str, period: Period, codes: tuple[str, ...],
          settings: Settings, source: Any = None) -> gpd.GeoDataFrame:
    from hotspots import ranking
    from hotspots.store import IncidentStore

    # The store's own record of which periods hold data: the frame holds one category's window.
    coverage = source.coverage() if isinstance(source, IncidentStore) else None
    return ranking.rank_hotspots(incidents, category=category, period=period, wards=list(codes),
                                 resolution=settings.h3_resolution, settings=settings,
                                 coverage=coverage)


def _check_ranking(ranking: gpd.GeoDataFrame, category: str, period: Period,
                   codes: tuple[str, ...]) -> None:
    """A ranking passed in must be of the plan's category, period and wards."""
    attrs = ranking.attrs
    wrong = []
    if attrs.get("category", category) != category:
        wrong.append(f"category {attrs['category']!r}")
    if attrs.get("period", period.label) != period.label:
        wrong.append(f"period {attrs['period']!r}")
    if "wards" in attrs and tuple(sorted(attrs["wards"])) != codes:
        wrong.append("other wards")
    if wrong:
        msg = (f"the {category} ranking passed in is of {', '.join(wrong)}, not of this plan "
               f"({period.label}).")
        raise InputError(msg)


_LOADED: dict[tuple[str, int, str], nx.MultiDiGraph] = {}

#: Networks kept in memory per process (they are large; a web worker keeps its last ones).
_KEEP_LOADED = 2


def _networks(dep: Deployment) -> dict[str, nx.MultiDiGraph | None] | None:
    """Load the chosen networks (cached per process): mode -> graph, None for a mode without
    one (its legs are straight lines); None when no mode has one."""
    graphs = {mode: None if c.path is None else _load(c.path, c.load_as or mode, dep.settings)
              for mode, c in dep.networks.items()}
    return graphs if any(g is not None for g in graphs.values()) else None


def _load(path: Path, mode: str, settings: Settings) -> nx.MultiDiGraph:
    key = (str(path), Path(path).stat().st_mtime_ns, mode)
    graph = _LOADED.get(key)
    if graph is None:
        graph = check_network(load_network(path, mode=mode, settings=settings))
        while len(_LOADED) >= _KEEP_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = graph
    return graph
