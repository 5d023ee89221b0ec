"""The patrol plan and its forms: a dict, GeoJSON, GPX 1.1 and a printable HTML sheet."""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely

from hotspots.crs import BNG, WGS84
from routing.teams import Team

APPROXIMATE_NOTE = ("APPROXIMATE: no street network was loaded, so travel times are straight-line "
                    "distances times a circuity factor and the lines drawn are not streets.")


def missed_text(u: dict[str, Any]) -> str:
    """One line about a must-visit stop no shift can fit: which, where and why."""
    what = (f"designated hotspot {u['hotspot_id']} ({u.get('hotspot_name') or u['stop_id']})"
            if u.get("hotspot_id") is not None else f"stop {u['stop_id']}")
    where = f" in {u['ward_name']}" if u.get("ward_name") else ""
    why = f": {u['why']}" if u.get("why") else ""
    return f"{what}{where}{why}"


def partly_approximate_note(approximate_legs: int, legs: int) -> str:
    """The note of a plan some (or all) of whose legs are straight lines: they start or end at a
    stop or base off the network."""
    if approximate_legs >= legs:
        return ("APPROXIMATE: every leg starts or ends more than 250 m from the street network's "
                "streets, so travel times are straight-line distances times a circuity factor "
                "and the lines drawn are not streets. Load a network that covers the wards.")
    return (f"PARTLY APPROXIMATE: {approximate_legs} of {legs} legs start or end more than 250 m "
            "from the street network's streets, so they are straight-line distances times a "
            "circuity factor, drawn as straight (dashed) lines, not streets.")


def clock(minute: float) -> str:
    """Minutes after midnight as 'HH:MM' ('+1' when past midnight)."""
    total = int(round(minute))
    day, rest = divmod(total, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text + (f" +{day}" if day else "")


@dataclass
class Visit:
    """One stop of a route. Times are minutes after midnight of the shift's day."""

    seq: int
    stop_id: str
    ward_code: str
    ward_name: str
    category: str
    prize: float
    reason: str
    arrival_min: float
    start_min: float  # dwell starts (after waiting for a window to open)
    departure_min: float
    dwell_min: float
    travel_min: float  # from the previous stop or the base
    wait_min: float
    distance_m: float
    x: float
    y: float
    lon: float
    lat: float
    node: Any = None
    must_visit: bool = False
    hotspot_id: int | None = None  # the designated hotspot this stop visits
    hotspot_name: str = ""
    approximate: bool = False  # the leg to this stop is a straight line
    place: str = ""  # the street or place the stop's cell is known by ("Roundhay Road")
    cells: list[str] = field(default_factory=list)  # the hex cells the stop covers, its own first

    def to_dict(self, date: dt.date | None = None) -> dict[str, Any]:
        out = {
            "seq": self.seq, "stop_id": self.stop_id, "ward_code": self.ward_code,
            "ward_name": self.ward_name, "place": self.place, "category": self.category,
            "prize": round(float(self.prize), 4), "reason": self.reason,
            "arrival": clock(self.arrival_min), "start": clock(self.start_min),
            "departure": clock(self.departure_min),
            "dwell_min": round(self.dwell_min, 1), "travel_min": round(self.travel_min, 1),
            "wait_min": round(self.wait_min, 1), "distance_m": round(self.distance_m, 1),
            "lon": round(self.lon, 6), "lat": round(self.lat, 6),
            "x": round(self.x, 1), "y": round(self.y, 1), "must_visit": self.must_visit,
            "approximate": self.approximate,
        }
        if self.cells:
            out["cells"] = list(self.cells)
        if self.hotspot_id is not None:
            out["hotspot_id"] = self.hotspot_id
            out["hotspot_name"] = self.hotspot_name
        if date is not None:
            out["arrival_at"] = _at(date, self.arrival_min)
            out["departure_at"] = _at(date, self.departure_min)
        return out


@dataclass
class TeamRoute:
    """One team's route: base, ordered visits, back to base."""

    team: Team
    visits: list[Visit]
    start_min: float
    end_min: float
    travel_min: float
    dwell_min: float
    wait_min: float
    distance_m: float
    prize: float
    path: shapely.LineString  # EPSG:27700, base to base along the streets
    base_xy: tuple[float, float]
    base_node: Any = None
    nodes: list[Any] = field(default_factory=list)  # network nodes base to base (empty: approximate)
    return_travel_min: float = 0.0
    approximate: bool = False  # some leg is a straight line
    legs: list[shapely.LineString] = field(default_factory=list)  # to each stop, then back to base
    legs_approximate: list[bool] = field(default_factory=list)  # per leg: a straight line

    @property
    def return_approximate(self) -> bool:
        """The leg back to base is a straight line."""
        return bool(self.legs_approximate[-1]) if self.legs_approximate else self.approximate

    @property
    def duration_min(self) -> float:
        return self.end_min - self.start_min

    def to_dict(self) -> dict[str, Any]:
        date = self.team.date
        lon, lat = _to_lonlat().transform(*self.base_xy)
        return {
            "team": self.team.to_dict(),
            "mode": self.team.mode,
            "approximate": self.approximate,
            "approximate_legs": sum(self.legs_approximate),
            "return_approximate": self.return_approximate,
            "start": clock(self.start_min),
            "end": clock(self.end_min),
            "shift_min": float(self.team.shift_min),
            "duration_min": round(self.duration_min, 1),
            "travel_min": round(self.travel_min, 1),
            "dwell_min": round(self.dwell_min, 1),
            "wait_min": round(self.wait_min, 1),
            "return_travel_min": round(self.return_travel_min, 1),
            "distance_km": round(self.distance_m / 1000.0, 3),
            "prize": round(float(self.prize), 4),
            "stops": len(self.visits),
            "base": {"lon": round(lon, 6), "lat": round(lat, 6)},
            "visits": [v.to_dict(date) for v in self.visits],
        }


@dataclass
class PatrolPlan:
    """A patrol plan for several teams, made by `routing.plan_patrols`.

    `approximate` is True when no street network was used; with one, `approximate_legs` counts
    the legs that are straight lines all the same (they start or end at a stop or base more than
    250 m from its streets: `off_network` lists those places). `unvisited` lists candidate stops
    no route has time for (`missed`: the must-visit ones among them). `variants` holds every
    plan asked for (this one first when it is variant 0). `context` says what the plan was made
    from (`routing.plan_deployment` fills it: period, categories, wards, stop rules, network,
    notes).
    """

    routes: list[TeamRoute]
    approximate: bool
    prize_by: str
    prize_available: float
    unvisited: list[dict[str, Any]] = field(default_factory=list)
    off_network: list[dict[str, Any]] = field(default_factory=list)
    variant: int = 0
    variants: list[PatrolPlan] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def legs(self) -> int:
        """Legs of every route (to each stop and back to base)."""
        return sum(len(r.legs_approximate) for r in self.routes)

    @property
    def approximate_legs(self) -> int:
        """Legs that are straight lines (all of them when `approximate`)."""
        return sum(sum(r.legs_approximate) for r in self.routes)

    @property
    def note(self) -> str:
        """What is approximate about the plan, or '' when every leg follows the streets."""
        if self.approximate:
            return APPROXIMATE_NOTE
        if self.approximate_legs:
            return partly_approximate_note(self.approximate_legs, self.legs)
        return ""

    @property
    def missed(self) -> list[dict[str, Any]]:
        """Must-visit stops that no shift could fit."""
        return [u for u in self.unvisited if u.get("must_visit")]

    @property
    def notes(self) -> list[str]:
        """Sentences for people about how the plan was made and what it leaves out."""
        return list(self.context.get("notes", []))

    @property
    def prize(self) -> float:
        """Total prize of the visited stops."""
        return float(sum(r.prize for r in self.routes))

    @property
    def visits(self) -> int:
        return sum(len(r.visits) for r in self.routes)

    def route(self, team: str) -> TeamRoute:
        """The route of the team called `team`."""
        for r in self.routes:
            if r.team.name == team:
                return r
        names = ", ".join(r.team.name for r in self.routes)
        msg = f"no team {team!r} in this plan; teams: {names}."
        raise KeyError(msg)

    # ---------------------------------------------------------------- dict and GeoJSON

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-ready data."""
        out = {
            "approximate": self.approximate,
            "approximate_legs": self.approximate_legs,
            "legs": self.legs,
            "note": self.note,
            "variant": self.variant,
            "variants": len(self.variants) or 1,
            "prize_by": self.prize_by,
            "prize": round(self.prize, 4),
            "prize_available": round(float(self.prize_available), 4),
            "stops_visited": self.visits,
            "routes": [r.to_dict() for r in self.routes],
            "unvisited": [_jsonable(u) for u in self.unvisited],
            "off_network": [_jsonable(u) for u in self.off_network],
            "missed_must_visit": [_jsonable(u) for u in self.missed],
            "stats": _jsonable(self.stats),
        }
        if self.context:
            out["deployment"] = _jsonable(self.context)
        return out

    def to_geojson(self, *, indent: int | None = None) -> str:
        """An RFC 7946 FeatureCollection (longitude/latitude): per team one LineString of the whole
        route (`kind` route), one per leg (`kind` leg: to stop `seq`, or `return`), and one Point
        per visit. Every leg and stop says whether it was reached by a straight line
        (`approximate`); a route is approximate when any of its legs is."""
        features = []
        for r in self.routes:
            coords = [[round(lon, 6), round(lat, 6)] for lon, lat in _lonlat_coords(r.path)]
            features.append({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {
                    "kind": "route", "team": r.team.name, "mode": r.team.mode,
                    "start": clock(r.start_min), "end": clock(r.end_min),
                    "stops": len(r.visits), "travel_min": round(r.travel_min, 1),
                    "dwell_min": round(r.dwell_min, 1), "distance_km": round(r.distance_m / 1000, 3),
                    "prize": round(r.prize, 4), "approximate": r.approximate,
                    "approximate_legs": sum(r.legs_approximate),
                },
            })
            for n, (leg, approx) in enumerate(zip(r.legs, r.legs_approximate, strict=True)):
                seq = r.visits[n].seq if n < len(r.visits) else "return"
                features.append({
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": [
                        [round(lon, 6), round(lat, 6)] for lon, lat in _lonlat_coords(leg)]},
                    "properties": {"kind": "leg", "team": r.team.name, "seq": seq,
                                   "approximate": bool(approx)},
                })
            for v in r.visits:
                props = {"kind": "stop", "team": r.team.name}
                props.update({k: val for k, val in v.to_dict(r.team.date).items()
                              if k not in ("lon", "lat", "x", "y")})
                features.append({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(v.lon, 6), round(v.lat, 6)]},
                    "properties": props,
                })
        for u in self.missed:
            # A must-visit stop no shift can fit is on the map too, with why.
            if u.get("lon") is None or u.get("lat") is None:
                continue
            props = {"kind": "missed", **{k: v for k, v in _jsonable(u).items()
                                          if k not in ("lon", "lat")}}
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(float(u["lon"]), 6),
                                                              round(float(u["lat"]), 6)]},
                "properties": props,
            })
        doc = {"type": "FeatureCollection", "features": features,
               "approximate": self.approximate, "approximate_legs": self.approximate_legs,
               "legs": self.legs, "prize_by": self.prize_by,
               "prize": round(self.prize, 4), "variant": self.variant,
               "missed_must_visit": [_jsonable(u) for u in self.missed]}
        if self.context.get("shift"):
            doc["shift"] = _jsonable(self.context["shift"])
        if self.note:
            doc["note"] = self.note
        return json.dumps(doc, indent=indent)

    # ---------------------------------------------------------------- GPX

    def to_gpx(self, team: str | None = None) -> str:
        """GPX 1.1: per team a route (`rte`) along the streets and numbered waypoints for the stops.

        Parameters
        ----------
        team
            Only this team's route (for one phone); every team when None.
        """
        import gpxpy.gpx

        routes = [self.route(team)] if team is not None else self.routes
        gpx = gpxpy.gpx.GPX()
        gpx.creator = "hotspots patrol planner"
        every = self.approximate or self.approximate_legs >= self.legs
        gpx.name = "Patrol plan" + (" (APPROXIMATE)" if every else
                                    " (PARTLY APPROXIMATE)" if self.approximate_legs else "")
        gpx.description = self.note or "Patrol routes on the street network."
        for r in routes:
            prefix = f"{r.team.name}: " if len(routes) > 1 else ""
            for v in r.visits:
                wpt = gpxpy.gpx.GPXWaypoint(
                    latitude=round(v.lat, 7), longitude=round(v.lon, 7),
                    name=f"{prefix}{v.seq:02d} {v.place or v.ward_name}".strip(),
                    description=(f"Arrive {clock(v.arrival_min)}, stay {v.dwell_min:g} min, leave "
                                 f"{clock(v.departure_min)}. {v.reason}"
                                 + (" APPROXIMATE: reached by a straight line, not the streets."
                                    if v.approximate and not self.approximate else "")).strip(),
                    symbol="Flag")
                wpt.type = "patrol stop"
                gpx.waypoints.append(wpt)
            k = sum(r.legs_approximate)
            flag = (" (APPROXIMATE)" if self.approximate or k == len(r.legs_approximate) else
                    f" ({k} of {len(r.legs_approximate)} legs APPROXIMATE: straight lines)"
                    if k else "")
            rte = gpxpy.gpx.GPXRoute(
                name=r.team.name,
                description=(f"{r.team.mode} patrol {clock(r.start_min)}-{clock(r.end_min)}, "
                             f"{len(r.visits)} stops" + flag))
            for lon, lat in _lonlat_coords(r.path):
                rte.points.append(gpxpy.gpx.GPXRoutePoint(latitude=round(lat, 7),
                                                          longitude=round(lon, 7)))
            gpx.routes.append(rte)
        return gpx.to_xml(version="1.1")

    # ---------------------------------------------------------------- printable sheet

    def to_sheet_html(self, *, title: str = "Patrol plan") -> str:
        """A printable HTML sheet: per team the stops in order with times, ward and why."""
        e = html.escape
        parts = [
            "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(title)}</title>", f"<style>{_SHEET_CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
        ]
        if self.note:
            parts.append(f'<p class="approx"><strong>{e(self.note)}</strong></p>')
        shift = self.context.get("shift") or {}
        if shift.get("label"):
            parts.append(f"<p><strong>Shift: {e(str(shift['label']))}</strong></p>")
        if self.missed:
            parts.append('<div class="approx"><strong>Must-visit stops no shift can fit:</strong>'
                         "<ul>" + "".join(f"<li>{e(missed_text(u))}</li>" for u in self.missed)
                         + "</ul></div>")
        if self.notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in self.notes)
                         + "</ul>")
        parts.append(f"<p>Prize ({e(self.prize_by)}): {self.prize:,.1f} of {self.prize_available:,.1f} "
                     f"available; {self.visits} stops in {len(self.routes)} routes"
                     + (f"; variant {self.variant + 1}" if self.variants else "") + ".</p>")
        for r in self.routes:
            parts.append('<section class="team">')
            parts.append(f"<h2>{e(r.team.name)} <small>({e(r.team.mode)}"
                         + (", approximate" if r.approximate else "") + ")</small></h2>")
            back = " (straight line: approximate)" if r.return_approximate and not self.approximate else ""
            date = f"{r.team.date.isoformat()} " if r.team.date else ""
            parts.append(f"<p>Shift {e(date)}{e(clock(r.start_min))} to "
                         f"{e(clock(r.start_min + float(r.team.shift_min)))} "
                         f"({float(r.team.shift_min):g} min). Back at base {e(clock(r.end_min))}"
                         f"{e(back)}. "
                         f"Travel {r.travel_min:.0f} min, {r.distance_m / 1000:.1f} km; "
                         f"at stops {r.dwell_min:.0f} min.</p>")
            if not r.visits:
                parts.append("<p>No stop fits this shift.</p></section>")
                continue
            parts.append("<table><thead><tr><th>#</th><th>Arrive</th><th>Leave</th><th>Stay</th>"
                         "<th>Travel</th><th>Ward</th><th>Hotspot</th><th>Why</th>"
                         "<th>Visited</th></tr></thead><tbody>")
            for v in r.visits:
                wait = f" (wait {v.wait_min:.0f})" if v.wait_min >= 0.5 else ""
                parts.append(
                    f"<tr><td>{v.seq}</td><td>{e(clock(v.arrival_min))}{e(wait)}</td>"
                    f"<td>{e(clock(v.departure_min))}</td><td>{v.dwell_min:g} min</td>"
                    f"<td>{v.travel_min:.0f} min"
                    + ("<br><small>straight line: approximate</small>"
                       if v.approximate and not self.approximate else "")
                    + f"</td><td>{e(v.ward_name)}</td>"
                    + (f"<td><strong>Designated: {e(v.hotspot_name)}</strong><br>"
                       if v.hotspot_id is not None else "<td>")
                    + (f"{e(v.place)}<br>" if v.place else "")
                    + f"<small>{e(v.stop_id)}<br>{v.lat:.5f}, {v.lon:.5f}</small></td>"
                    f"<td>{e(v.reason)}</td><td class=\"tick\"></td></tr>")
            parts.append("</tbody></table></section>")
        if self.off_network:
            parts.append("<h2>Off the street network (reached by straight lines)</h2><ul>")
            for u in self.off_network:
                what = (f"base of {u.get('team')}" if u.get("kind") == "base" else
                        f"stop {u.get('stop_id')} ({u.get('ward_name', '')})")
                parts.append(f"<li>{e(what)}: {float(u.get('street_m', 0)):,.0f} m from the "
                             "nearest street</li>")
            parts.append("</ul>")
        parts.append("</body></html>")
        return "\n".join(parts)


_SHEET_CSS = """
body { font-family: sans-serif; font-size: 11pt; margin: 1.5em; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #444; padding: 3px 5px; vertical-align: top; text-align: left; }
td.tick { width: 3em; }
.approx { border: 2px solid #b00; padding: 0.5em; color: #b00; }
section.team { page-break-after: always; }
section.team:last-of-type { page-break-after: auto; }
@media print { body { margin: 0; } }
"""


@functools.cache
def _to_lonlat() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(BNG, WGS84, always_xy=True)


def _at(date: dt.date, minute: float) -> str:
    start = dt.datetime.combine(date, dt.time())
    return (start + dt.timedelta(minutes=float(minute))).isoformat(timespec="minutes")


def _lonlat_coords(line: shapely.LineString) -> list[tuple[float, float]]:
    """The vertices of a line in EPSG:27700 as (longitude, latitude) pairs."""
    xy = shapely.get_coordinates(line)
    if len(xy) == 0:
        return []
    lon, lat = _to_lonlat().transform(xy[:, 0], xy[:, 1])
    return list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return None if np.isnan(f) else round(f, 6)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)
