"""A guardian's shift on a phone: which route is theirs today, each stop named by its street with
a plain reason and a link to the phone's map app, what is done, and the last tap to undo.

A guardian's teams are the `team` of their account (set under Admin) and every team of the
programme's teams table whose `members` list their user name. A route is theirs when its team is
one of these or the plan assigns it to them by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from webapp.db import PatrolTeam, SavedPlan, Visit, db_session

#: Trend classes in words a patrol officer uses (no statistics vocabulary).
TREND_WORDS = {
    "new": "new",
    "consecutive": "new",
    "intensifying": "rising",
    "persistent": "a regular trouble spot",
    "diminishing": "falling",
    "historical": "quieter lately",
    "sporadic": "on and off",
    "oscillating": "on and off",
}
CATEGORY_WORDS = {"asb": "ASB", "serious_violence": "serious violence", "all": ""}


def user_teams(user: Any) -> set[str]:
    """The names of the teams `user` patrols with: their account's team and every active team of
    the teams table listing them among its members (user names compare case-insensitively)."""
    names = {user.team.strip()} if getattr(user, "team", "") and user.team.strip() else set()
    me = user.username.casefold()
    for team in db_session().scalars(select(PatrolTeam).where(PatrolTeam.active.is_(True))):
        if any(str(m).strip().casefold() == me for m in (team.members or [])):
            names.add(team.name)
    return names


def is_mine(user: Any, plan: SavedPlan, team: str, teams: set[str] | None = None) -> bool:
    """True when route `team` of `plan` belongs to `user` (their team, or assigned to them)."""
    teams = user_teams(user) if teams is None else teams
    return team in teams or (plan.assignments or {}).get(team, "") == user.username


def route_date(plan: SavedPlan, route: dict[str, Any]) -> dt.date | None:
    """The day a route is for: the plan's shift date, or the date of its team's shift start."""
    if getattr(plan, "shift_date", None) is not None:
        return plan.shift_date
    for value in (plan.plan.get("date"), (plan.params or {}).get("date"),
                  route.get("date"), str(route.get("team", {}).get("shift_start", ""))):
        if value and len(str(value)) >= 10:
            try:
                return dt.date.fromisoformat(str(value)[:10])
            except ValueError:
                continue
    return None


def my_routes(user: Any, *, limit: int = 30) -> list[dict[str, Any]]:
    """The saved routes of `user`, newest plan first: plan, team index, team name, stops, date."""
    teams = user_teams(user)
    plans = db_session().scalars(select(SavedPlan).where(SavedPlan.status == "saved")
                                 .order_by(SavedPlan.id.desc()).limit(limit)).all()
    out = []
    for plan in plans:
        for i, r in enumerate(plan.plan.get("routes", [])):
            name = r["team"]["name"]
            if is_mine(user, plan, name, teams):
                out.append({"plan": plan, "team_index": i, "team": name,
                            "stops": r.get("stops", 0), "date": route_date(plan, r)})
    return out


def todays_route(user: Any, today: dt.date) -> dict[str, Any] | None:
    """The route `user` patrols today: a route of theirs dated today, else their newest undated
    or future-dated route (plans made before plans had dates), else None."""
    routes = my_routes(user)
    for item in routes:
        if item["date"] == today:
            return item
    for item in routes:
        if item["date"] is None or item["date"] >= today:
            return item
    return None


# --------------------------------------------------------------------------- stops


def geo_uri(lat: float, lon: float, label: str = "") -> str:
    """A `geo:` URI (RFC 5870) that phones hand to their map app; the label as the query."""
    uri = f"geo:{lat:.6f},{lon:.6f}"
    q = f"?q={lat:.6f},{lon:.6f}"
    if label:
        q += f"({quote(label, safe=' ')})".replace(" ", "+")
    return uri + q


def stop_streets(visits: list[dict[str, Any]], incidents: Any) -> dict[str, str]:
    """The street of each stop's cell (hex id -> name): the stop's own label when the plan has
    one, else the commonest police.uk `location` of the cell's incidents."""
    from hotspots.areas import cell_labels

    out: dict[str, str] = {}
    for v in visits:
        for key in ("place", "street", "label", "location"):
            text = str(v.get(key) or "").strip()
            if text:
                out[str(v["stop_id"])] = _street(text)
                break
    missing = [str(v["stop_id"]) for v in visits if str(v["stop_id"]) not in out]
    if missing:
        try:
            found = cell_labels(incidents, [m for m in missing if _is_cell(m)])
        except Exception:  # noqa: BLE001 - a stop that is not a cell of this store has no street
            found = {}
        out.update({k: _street(v) for k, v in found.items()})
    return out


def _is_cell(text: str) -> bool:
    return len(text) == 15 and all(c in "0123456789abcdef" for c in text)


def _street(label: str) -> str:
    text = label.strip()
    for prefix in ("On or near ", "on or near "):
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    return text


def plain_reasons(visits: list[dict[str, Any]], *, data: Any, period_label: str,
                  ranking_rows: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A plain reason per stop: "12 ASB incidents in the last 4 weeks, rising".

    Counts the incidents of the stop's categories in its cells (its own and those that joined
    it) over the last 4 weeks (weekly data) or 3 months (monthly data) up to the plan's period,
    over the periods the store has data for (and says how many when some are missing); the trend
    word comes from the ranking's trend class.
    """
    import numpy as np

    from hotspots import cells as h3cells
    from hotspots.crs import BNG
    from hotspots.impact import incident_xy

    period = data.parse_period(period_label)
    n = 4 if period.kind == "week" else 3
    noun = period.kind if period.kind in ("week", "month") else "period"
    window = [period.shift(-k) for k in range(n - 1, -1, -1)]
    coverage = data.coverage()
    covered = [p for p in window if coverage.covered_fraction(p) > 0]
    # A stop covers its own cell and any neighbouring cells that joined it (`cells`).
    stop_of: dict[str, str] = {}
    for v in visits:
        stop = str(v["stop_id"])
        for cell in [stop, *(v.get("cells") or [])]:
            if _is_cell(cell):
                stop_of.setdefault(cell, stop)
    cells = list(stop_of)
    counts: dict[tuple[str, str], int] = {}
    frame = data.incidents()
    if cells and covered and len(frame):
        start, end = window[0].start, window[-1].end
        when = frame["occurred_at"]
        frame = frame[(when >= start) & (when < end)]
        if len(frame):
            arr = h3cells.str_to_cells(cells)
            res = int(h3cells.get_resolutions(arr[:1])[0])
            x, y = incident_xy(frame)
            of = h3cells.xy_to_cells(x, y, crs=BNG, resolution=res)
            inside = np.isin(of, arr)
            names = {c: stop_of[h] for c, h in zip(arr.tolist(), cells, strict=True)}
            for cell, cat in zip(of[inside].tolist(), frame["category"].astype(str)[inside], strict=True):
                key = (names[cell], cat)
                counts[key] = counts.get(key, 0) + 1
    span = (f"the last {n} {noun}s" if len(covered) == n
            else f"the {len(covered)} {noun}{'s' if len(covered) != 1 else ''} with data of the last {n}")
    out: dict[str, str] = {}
    for v in visits:
        cell = str(v["stop_id"])
        if v.get("must_visit") and not _is_cell(cell):
            out[cell] = "A place every shift must visit."
            continue
        cats = [c for c in str(v.get("category", "")).replace(",", "+").split("+") if c]
        total = sum(counts.get((cell, c), 0) for c in cats) if cats else sum(
            n_ for (c_, _), n_ in counts.items() if c_ == cell)
        words = " and ".join(w for w in (CATEGORY_WORDS.get(c, c) for c in cats) if w)
        what = f"{words} incident" if words else "incident"
        if not covered:
            text = f"No data for {span}"
        elif total == 0:
            text = f"No {what}s in {span}"
        else:
            text = f"{total:,} {what}{'' if total == 1 else 's'} in {span}"
        trend = TREND_WORDS.get(str((ranking_rows.get(cell) or {}).get("trend") or ""), "")
        if trend:
            text += f", {trend}"
        if v.get("must_visit"):
            text += "; every shift must visit it"
        out[cell] = text + "."
    return out


def visits_by_stop(visits: Iterable[Visit]) -> dict[int, list[Visit]]:
    out: dict[int, list[Visit]] = {}
    for v in visits:
        out.setdefault(int(v.stop_number or 0), []).append(v)
    return out


def last_tap(visits: Iterable[Visit], user_id: int | None = None) -> tuple[Visit, str] | None:
    """The most recent tap on a route (of `user_id` when given): (visit, `arrive` or `depart`)."""
    best: tuple[dt.datetime, int, Visit, str] | None = None
    for v in visits:
        if user_id is not None and v.user_id != user_id:
            continue
        for at, action in ((v.arrived_at, "arrive"), (v.departed_at, "depart")):
            if at is not None and (best is None or (at, v.id) > (best[0], best[1])):
                best = (at, v.id, v, action)
    return None if best is None else (best[2], best[3])
