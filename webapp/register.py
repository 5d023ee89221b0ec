"""The hotspot register and the patrol teams as stored records: checking what a user gives, adding,
changing and closing designated hotspots with an audit entry for each change (who and why), and
their JSON form. The web pages, the API and the CLI all call these functions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from webapp import params
from webapp._programme import LIVE, _settings, is_overdue, team_names, today  # noqa: F401 (public here too)
from webapp.db import AuditEntry, DesignatedHotspot, PatrolTeam, audit, db_session, utcnow
from webapp.errors import ParameterError

CATEGORIES: tuple[str, ...] = ("asb", "serious_violence")
TACTICS: tuple[str, ...] = ("patrol", "problem-solving", "cctv", "youth outreach", "other")
STATUSES: tuple[str, ...] = ("proposed", "active", "under review", "closed")
HOTSPOT_FIELDS: tuple[str, ...] = ("name", "category", "cells", "polygon", "team", "tactic",
                                   "visits_per_week", "minutes_per_visit", "start_date",
                                   "review_date", "status", "notes", "reason")
TEAM_FIELDS: tuple[str, ...] = ("name", "base", "mode", "members", "home_wards", "active", "reason")
MODES: tuple[str, ...] = ("drive", "walk")

_WARD_CODE = re.compile(r"^[EWSN]\d{8}$")


# --------------------------------------------------------------------------- checking


def _text(raw: Mapping[str, Any], name: str, *, max_len: int, default: str = "") -> str:
    value = raw.get(name, default)
    return params.text(default if value is None else value, name, max_len=max_len, default=default)


def _choice(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`, read without regard to case and with `_` for a space (`under_review`)."""
    value = raw.get(name)
    if isinstance(value, str):
        by_form = {a.replace("_", " "): a for a in allowed}
        value = by_form.get(value.strip().lower().replace("_", " "), value)
    return params.choice(value, name, allowed)


def _number(raw: Mapping[str, Any], name: str, lo: float, hi: float, kind=int) -> Any:
    value = raw.get(name)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return params.integer(value, name, lo=int(lo), hi=int(hi))
    return params.number(value, name, lo=lo, hi=hi)


def _date(raw: Mapping[str, Any], name: str) -> dt.date | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        text = value.strip() if isinstance(value, str) else ""
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
        except ValueError:
            value = None
        if value is None:
            raise ParameterError(name, f"`{name}` is {raw.get(name)!r}; expected a date such as "
                                 "2025-06-02.", value=raw.get(name))
    if not params.FIRST_YEAR <= value.year <= params.LAST_YEAR:
        raise ParameterError(name, f"`{name}` is {value.isoformat()}; expected a date in the years "
                             f"{params.FIRST_YEAR} to {params.LAST_YEAR}.", value=value.isoformat())
    return value


def date_param(raw: Any, name: str) -> dt.date | None:
    """A date (`YYYY-MM-DD`) parameter, None when empty; `ParameterError` naming `name`."""
    return _date({name: raw}, name)


def _unknown(raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    params.known(raw, allowed, what="field")


def find_team(value: Any, *, name: str = "team") -> PatrolTeam | None:
    """A team by name (any case) or id; None for ""/None; `ParameterError` when there is none."""
    if value in (None, ""):
        return None
    session = db_session()
    team = None
    if isinstance(value, int) and not isinstance(value, bool):
        team = session.get(PatrolTeam, value)
    elif isinstance(value, str):
        text = value.strip()
        team = session.scalars(select(PatrolTeam).where(func.lower(PatrolTeam.name) == text.lower())).first()
        if team is None and text.isdigit():
            team = session.get(PatrolTeam, int(text))
    if team is None:
        known = ", ".join(t.name for t in session.scalars(select(PatrolTeam).order_by(PatrolTeam.name)))
        raise ParameterError(name, f"`{name}`: there is no team {value!r}; the teams are "
                             f"{known or 'none yet'}.", value=value)
    return team


def _area(raw: Mapping[str, Any], resolution: int) -> tuple[list[str], dict[str, Any] | None]:
    """(cells, polygon) from `cells` or `polygon` (exactly one of them)."""
    from hotspots.areas import check_area_cells, polygon_to_cells, read_geometry
    from hotspots.cells import cells_to_str
    from hotspots.errors import InputError

    has_cells = raw.get("cells") not in (None, "", [])
    has_poly = raw.get("polygon") not in (None, "", {})
    if has_cells and has_poly:
        raise ParameterError("cells", "give the area as `cells` or as a `polygon`, not both.")
    if has_poly:
        try:
            geom = read_geometry(raw["polygon"])
            cells = [str(c) for c in cells_to_str(polygon_to_cells(geom, resolution=resolution))]
            cells = check_area_cells(cells, name="polygon")
        except InputError as exc:
            raise ParameterError("polygon", str(exc) if str(exc).startswith("`polygon`") else
                                 f"`polygon`: {exc}") from None
        _in_wards(geom, cells)
        from shapely.geometry import mapping

        return cells, dict(mapping(geom))
    value = raw.get("cells")
    if not has_cells:
        raise ParameterError("cells", "a designated hotspot needs an area: `cells` (H3 cells) or a "
                             "`polygon` (GeoJSON).")
    if isinstance(value, (list, tuple)) and not all(isinstance(c, str) for c in value):
        raise ParameterError("cells", "`cells` must be H3 cell ids (text), such as '8a194254508ffff'.",
                             value=value)
    try:
        return check_area_cells(value), None
    except InputError as exc:
        raise ParameterError("cells", str(exc)) from None


def _in_wards(geom: Any, cells: list[str]) -> None:
    """Refuse a polygon none of whose cells has its centre in a ward of the boundary file (a
    polygon drawn off the map, or coordinates from somewhere else)."""
    import shapely

    from hotspots.cells import cells_to_latlng, str_to_cells
    from webapp.services import get_data

    lat, lng = cells_to_latlng(str_to_cells(cells))
    if any(shapely.contains_xy(ward, lng, lat).any() for ward in get_data().wards_wgs84().geometry):
        return
    centre = geom.centroid
    raise ParameterError("polygon", f"`polygon` lies outside the wards (its centre is at longitude "
                         f"{centre.x:.5f}, latitude {centre.y:.5f}); draw or give an area over the "
                         "wards.", value=f"{centre.x:.5f} {centre.y:.5f}")


def check_hotspot(raw: Mapping[str, Any], *, current: DesignatedHotspot | None = None) -> dict[str, Any]:
    """Check the fields of a new hotspot (`current` None) or of a change to one.

    Returns the checked values of the fields given (all fields, with defaults, for a new one).
    Raises `ParameterError` naming the first bad field.
    """
    _unknown(raw, HOTSPOT_FIELDS)
    s = _settings()
    new = current is None
    out: dict[str, Any] = {}
    if new or "cells" in raw or "polygon" in raw:
        res = int(current.resolution) if current is not None else int(s.h3_resolution)
        cells, polygon = _area(raw, res)
        out["cells"], out["polygon"] = cells, polygon
        out["resolution"] = _resolution(cells)
    if new or "category" in raw:
        out["category"] = _choice(raw, "category", CATEGORIES)
    if new or "tactic" in raw:
        out["tactic"] = _choice({"tactic": raw.get("tactic") or "patrol"}, "tactic", TACTICS)
    if new or "status" in raw:
        out["status"] = _choice({"status": raw.get("status") or "proposed"}, "status", STATUSES)
    if new or "visits_per_week" in raw:
        value = raw.get("visits_per_week")
        out["visits_per_week"] = _number({"visits_per_week": s.hotspot_visits_per_week if value in (None, "") else value},
                                         "visits_per_week", 1, 100)
    if new or "minutes_per_visit" in raw:
        value = raw.get("minutes_per_visit")
        out["minutes_per_visit"] = _number({"minutes_per_visit": s.hotspot_minutes_per_visit if value in (None, "") else value},
                                           "minutes_per_visit", 1, 240, float)
    if new or "start_date" in raw:
        out["start_date"] = _date(raw, "start_date") or today()
    if new or "review_date" in raw:
        review = _date(raw, "review_date")
        if review is None and new:
            review = out["start_date"] + dt.timedelta(weeks=int(s.hotspot_review_weeks))
        out["review_date"] = review
    start = out.get("start_date", current.start_date if current else None)
    review = out.get("review_date", current.review_date if current else None)
    if start is not None and review is not None and review < start:
        raise ParameterError("review_date", f"`review_date` ({review.isoformat()}) is before "
                             f"`start_date` ({start.isoformat()}).", value=review.isoformat())
    if new or "team" in raw:
        team = find_team(raw.get("team"))
        out["team_id"] = team.id if team is not None else None
    if new or "notes" in raw:
        out["notes"] = _text(raw, "notes", max_len=4000)
    if new or "name" in raw:
        out["name"] = _text(raw, "name", max_len=200)
    out["reason"] = _text(raw, "reason", max_len=500)
    return out


def _resolution(cells: list[str]) -> int:
    from hotspots.cells import get_resolutions, str_to_cells

    return int(get_resolutions(str_to_cells(cells[:1]))[0])


def _overlap(cells: list[str], category: str, *, skip: int | None = None) -> None:
    """Refuse cells that are already in another open hotspot of the same category."""
    session = db_session()
    rows = session.scalars(select(DesignatedHotspot).where(DesignatedHotspot.status != "closed",
                                                           DesignatedHotspot.category == category)).all()
    wanted = set(cells)
    for other in rows:
        if other.id == skip:
            continue
        shared = sorted(wanted & set(other.cells))
        if shared:
            raise ParameterError("cells", f"`cells`: {shared[0]} is already in hotspot {other.id} "
                                 f"({other.name}, {other.status}); a place is designated once per "
                                 "category (close or change that one first).", value=shared[0])


# --------------------------------------------------------------------------- changing


def _who(who: str | None) -> dict[str, Any]:
    """Audit keywords for the acting user: the logged-in user, or `who` from the console."""
    return {} if who is None else {"username": who}


def create_hotspot(raw: Mapping[str, Any], *, who: str | None = None) -> DesignatedHotspot:
    """Designate a hotspot from checked fields (see `check_hotspot`); audited as
    `hotspot_designated` with the reason.

    `who` names the console user when there is no logged-in one.
    """
    fields = check_hotspot(raw)
    reason = fields.pop("reason") or "designated"
    if fields["status"] == "closed":
        raise ParameterError("status", "a new hotspot cannot start closed.", value="closed")
    _overlap(fields["cells"], fields["category"])
    if not fields["name"]:
        from webapp._programme import default_name

        fields["name"] = default_name(fields["cells"])
    session = db_session()
    record = DesignatedHotspot(**fields, created_by=_actor(who))
    session.add(record)
    session.commit()
    audit("hotspot_designated", target=f"hotspot {record.id}", reason=reason, name=record.name,
          category=record.category, cells=list(record.cells), status=record.status, **_who(who))
    return record


def _actor(who: str | None) -> str:
    if who is not None:
        return who
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.username
    return ""


def _shown(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def update_hotspot(record: DesignatedHotspot, raw: Mapping[str, Any], *,
                   who: str | None = None) -> dict[str, list[Any]]:
    """Change a hotspot; every change needs a `reason` and is audited (`hotspot_changed`, with each
    field's old and new value). Closing through `status` records the day.

    Returns
    -------
    dict
        field -> [old, new] of what changed (empty when nothing did; then nothing is written).
    """
    fields = check_hotspot(raw, current=record)
    reason = fields.pop("reason")
    changes: dict[str, list[Any]] = {}
    for name, value in fields.items():
        old = getattr(record, name)
        if old != value:
            changes[name] = [_shown(old), _shown(value)]
    if not changes:
        return {}
    if not reason:
        raise ParameterError("reason", "say why (`reason`): every change to the register is kept "
                             "with who made it and why.")
    if "cells" in changes or ("category" in changes and fields.get("category")):
        _overlap(fields.get("cells", record.cells), fields.get("category", record.category), skip=record.id)
    if "name" in fields and not fields["name"]:
        from webapp._programme import default_name

        fields["name"] = default_name(fields.get("cells", record.cells))
    for name, value in fields.items():
        setattr(record, name, value)
    if "status" in changes:
        record.closed_on = today() if record.status == "closed" else None
    record.updated_at = utcnow()
    db_session().commit()
    action = "hotspot_closed" if changes.get("status", [None, None])[1] == "closed" else "hotspot_changed"
    audit(action, target=f"hotspot {record.id}", reason=reason, changes=changes, **_who(who))
    return changes


def close_hotspot(record: DesignatedHotspot, *, reason: str, on: dt.date | None = None,
                  who: str | None = None) -> DesignatedHotspot:
    """Close a hotspot (status `closed`, `closed_on` the day); audited as `hotspot_closed`."""
    reason = _text({"reason": reason}, "reason", max_len=500)
    if not reason:
        raise ParameterError("reason", "say why the hotspot is closed (`reason`).")
    if record.status == "closed":
        raise ParameterError("status", f"hotspot {record.id} is already closed "
                             f"(on {record.closed_on.isoformat() if record.closed_on else 'an unknown day'}).")
    day = on or today()
    if day < record.start_date:
        raise ParameterError("on", f"`on` ({day.isoformat()}) is before the hotspot's start "
                             f"({record.start_date.isoformat()}).", value=day.isoformat())
    old = record.status
    record.status = "closed"
    record.closed_on = day
    record.updated_at = utcnow()
    db_session().commit()
    audit("hotspot_closed", target=f"hotspot {record.id}", reason=reason,
          changes={"status": [old, "closed"], "closed_on": [None, day.isoformat()]}, **_who(who))
    return record


def get_hotspot(hotspot_id: Any) -> DesignatedHotspot:
    """The hotspot with this id; `ParameterError` (`hotspot`) when there is none."""
    try:
        key = int(hotspot_id)
    except (TypeError, ValueError):
        raise ParameterError("hotspot", f"`hotspot` is {hotspot_id!r}; expected a hotspot id (a "
                             "whole number).", value=hotspot_id) from None
    record = db_session().get(DesignatedHotspot, key)
    if record is None:
        raise ParameterError("hotspot", f"there is no designated hotspot {key}; see the register "
                             "(`hotspots register list`).", value=key)
    return record


def list_hotspots(status: str | None = None) -> list[DesignatedHotspot]:
    """Hotspots, newest first; `status` one of STATUSES, `open` (not closed) or None (all)."""
    q = select(DesignatedHotspot).order_by(DesignatedHotspot.id.desc())
    if status == "open":
        q = q.where(DesignatedHotspot.status != "closed")
    elif status:
        q = q.where(DesignatedHotspot.status == _choice({"status": status}, "status", STATUSES))
    return list(db_session().scalars(q))


def history(record: DesignatedHotspot) -> list[AuditEntry]:
    """The audit entries of a hotspot, oldest first."""
    return list(db_session().scalars(select(AuditEntry).where(AuditEntry.target == f"hotspot {record.id}")
                                     .order_by(AuditEntry.at, AuditEntry.id)))


def hotspot_json(record: DesignatedHotspot, *, teams: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The JSON form of a hotspot (links when in a request)."""
    from flask import has_request_context, url_for

    teams = teams if teams is not None else team_names()
    out = {
        "id": record.id, "name": record.name, "category": record.category, "status": record.status,
        "cells": list(record.cells), "resolution": record.resolution, "polygon": record.polygon,
        "team": teams.get(record.team_id) if record.team_id else None, "tactic": record.tactic,
        "target": {"visits_per_week": record.visits_per_week,
                   "minutes_per_visit": record.minutes_per_visit},
        "start_date": record.start_date.isoformat(),
        "review_date": record.review_date.isoformat() if record.review_date else None,
        "review_overdue": is_overdue(record),
        "closed_on": record.closed_on.isoformat() if record.closed_on else None,
        "notes": record.notes, "created_by": record.created_by,
        "created_at": record.created_at.isoformat() + "Z",
        "updated_at": record.updated_at.isoformat() + "Z",
    }
    if has_request_context():
        out["links"] = {"self": url_for("programme_api.hotspot", hotspot_id=record.id),
                        "page": url_for("programme.show", hotspot_id=record.id)}
    return out


# --------------------------------------------------------------------------- teams


def check_team(raw: Mapping[str, Any], *, current: PatrolTeam | None = None) -> dict[str, Any]:
    """Check the fields of a new team or a change to one; `ParameterError` naming the field."""
    _unknown(raw, TEAM_FIELDS)
    new = current is None
    out: dict[str, Any] = {}
    if new or "name" in raw:
        name = _text(raw, "name", max_len=120)
        if not name:
            raise ParameterError("name", "a team needs a `name`.")
        clash = db_session().scalars(select(PatrolTeam).where(func.lower(PatrolTeam.name) == name.lower())).first()
        if clash is not None and (current is None or clash.id != current.id):
            raise ParameterError("name", f"`name`: there is already a team called {clash.name!r}.", value=name)
        out["name"] = name
    if new or "base" in raw:
        out["base"] = _base(raw.get("base"))
    if new or "mode" in raw:
        out["mode"] = _choice({"mode": raw.get("mode") or _settings().patrol_mode}, "mode", MODES)
    if new or "members" in raw:
        out["members"] = _list(raw.get("members"), "members", max_len=80)
    if new or "home_wards" in raw:
        wards = _list(raw.get("home_wards"), "home_wards", max_len=20)
        out["home_wards"] = _ward_codes(wards)
        if not out["home_wards"] and new and _WARD_CODE.match(out["base"]):
            out["home_wards"] = [out["base"]]
    if "active" in raw:
        value = raw.get("active")
        if isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "y", "on")
        out["active"] = bool(value)
    out["reason"] = _text(raw, "reason", max_len=500)
    return out


def _list(value: Any, name: str, *, max_len: int) -> list[str]:
    if value in (None, ""):
        return []
    items = re.split(r"\s*[,;\n]\s*", value.strip()) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ParameterError(name, f"`{name}` must be a list of names (or text separated by commas).",
                             value=value)
    out = [v.strip() for v in items if v.strip()]
    for v in out:
        if len(v) > max_len:
            raise ParameterError(name, f"`{name}`: {v[:30]!r} is longer than {max_len} characters.", value=v)
    return out


def _base(value: Any) -> str:
    """A ward code or 'longitude latitude', checked by the routing team model."""
    from hotspots.errors import InputError
    from routing.teams import parse_team_spec

    text = "" if value is None else str(value).strip()
    if not text:
        raise ParameterError("base", "a team needs a `base`: a ward code (such as E05011385) or "
                             "'longitude latitude'.")
    try:
        team = parse_team_spec(f"team={text}")
    except InputError as exc:
        raise ParameterError("base", f"`base`: {exc}", value=text) from None
    if isinstance(team.base, str):
        return team.base
    return f"{team.base[0]:.6f} {team.base[1]:.6f}"


def _ward_codes(wards: list[str]) -> list[str]:
    """Ward codes from codes or names (each must be a ward of the boundaries)."""
    if not wards:
        return []
    from hotspots.errors import InputError
    from webapp.services import get_data

    try:
        return list(get_data().resolve_wards(list(wards)))
    except InputError as exc:
        raise ParameterError("home_wards", str(exc).replace("`wards`", "`home_wards`"), value=",".join(wards)) from None


def create_team(raw: Mapping[str, Any], *, who: str | None = None) -> PatrolTeam:
    fields = check_team(raw)
    reason = fields.pop("reason") or "team added"
    session = db_session()
    team = PatrolTeam(**fields)
    session.add(team)
    session.commit()
    audit("team_added", target=f"team {team.id}", reason=reason, name=team.name, base=team.base,
          mode=team.mode, **_who(who))
    return team


def update_team(team: PatrolTeam, raw: Mapping[str, Any], *, who: str | None = None) -> dict[str, list[Any]]:
    fields = check_team(raw, current=team)
    reason = fields.pop("reason")
    changes = {k: [getattr(team, k), v] for k, v in fields.items() if getattr(team, k) != v}
    if not changes:
        return {}
    for k, v in fields.items():
        setattr(team, k, v)
    team.updated_at = utcnow()
    db_session().commit()
    audit("team_changed", target=f"team {team.id}", reason=reason or "", changes=changes, **_who(who))
    return changes


def list_teams(*, active_only: bool = False) -> list[PatrolTeam]:
    q = select(PatrolTeam).order_by(PatrolTeam.name)
    if active_only:
        q = q.where(PatrolTeam.active.is_(True))
    return list(db_session().scalars(q))


def team_json(team: PatrolTeam) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "base": team.base, "mode": team.mode,
            "members": list(team.members), "home_wards": list(team.home_wards), "active": team.active}


def seed_teams() -> int:
    """Fill an empty teams table from the `patrol_teams` setting (one team per priority ward by
    default). Returns how many teams were added (0 when there already are teams)."""
    session = db_session()
    if session.scalars(select(PatrolTeam.id).limit(1)).first() is not None:
        return 0
    from routing.teams import parse_team_spec  # only now: it loads the street-network stack
    s = _settings()
    added = 0
    for spec in s.patrol_teams:
        team = parse_team_spec(spec, mode=s.patrol_mode)
        base = team.base if isinstance(team.base, str) else f"{team.base[0]:.6f} {team.base[1]:.6f}"
        wards = [base] if isinstance(team.base, str) else []
        session.add(PatrolTeam(name=team.name, base=base, mode=team.mode, members=[], home_wards=wards))
        added += 1
    session.commit()
    if added:
        audit("teams_seeded", target="teams", reason="first start: teams from the patrol_teams setting",
              teams=added, username="(setup)")
    return added
