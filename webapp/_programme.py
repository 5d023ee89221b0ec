"""The programme's figures for the web app and the CLI: impact and dosage of the registered
hotspots (`hotspots.impact`, `hotspots.dosage`), recent incidents in each area, and a default
name, computed from the store and the application database and cached per store version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.db import DesignatedHotspot, PatrolTeam, Visit, db_session
from webapp.services import get_data

#: Statuses whose hotspots are patrolled and measured.
LIVE: tuple[str, ...] = ("active", "under review")
#: Statuses whose hotspots have started (impact and dosage are measured for them).
STARTED: tuple[str, ...] = ("active", "under review", "closed")


def _settings():
    return get_data().settings


def today() -> dt.date:
    """Today in the service's timezone."""
    return dt.datetime.now(ZoneInfo(_settings().timezone)).date()


def team_names() -> dict[int, str]:
    return {t.id: t.name for t in db_session().scalars(select(PatrolTeam))}


def is_overdue(record: DesignatedHotspot, on: dt.date | None = None) -> bool:
    """A live hotspot whose review date has passed."""
    day = on or today()
    return record.status in ("active", "under review", "proposed") and record.review_date is not None \
        and record.review_date < day


def _fingerprint(records: Sequence[DesignatedHotspot]) -> tuple:
    return tuple((r.id, r.updated_at.isoformat(), r.status) for r in records)


def impact_data():
    """The store's incidents prepared for impact (cells, wards, coverage), cached per store version."""
    data = get_data()

    def compute():
        from hotspots.impact import ImpactData

        return ImpactData(data.incidents(), wards=data.wards(), coverage=data.store.coverage(),
                          settings=data.settings)

    return data.cache.get(("impact_data", data.store_version()), compute)


def default_name(cells: Sequence[str]) -> str:
    """The area's commonest street label (police.uk `location`), else its first cell's id."""
    from hotspots.areas import area_label

    data = get_data()
    label = ""
    if not data.is_empty():
        label = area_label(data.incidents(), list(cells))
    if label:
        return label
    first = sorted(cells)[0]
    return f"Cell {first}" if len(cells) == 1 else f"Cell {first} and {len(cells) - 1} more"


def _areas(records: Sequence[DesignatedHotspot]):
    from hotspots.impact import DesignatedArea

    return [DesignatedArea(tuple(r.cells), r.start_date, r.category, r.name, r.id,
                           end=r.closed_on if r.status == "closed" else None) for r in records]


def programme_impact(records: Sequence[DesignatedHotspot] | None = None, *, comparison: str | None = None,
                     as_of: dt.date | None = None):
    """`hotspots.impact.programme_impact` of the started hotspots (all of them when `records` is
    None), cached per store version and register state. Returns None when the store is empty."""
    data = get_data()
    if data.is_empty():
        return None
    if records is None:
        records = list(db_session().scalars(select(DesignatedHotspot).order_by(DesignatedHotspot.id)))
    started = [r for r in records if r.status in STARTED]
    key = ("programme_impact", data.store_version(), _fingerprint(started), comparison, as_of)

    def compute():
        from hotspots.impact import programme_impact as run

        return run(impact_data(), _areas(started), as_of=as_of, comparison=comparison)

    return data.cache.get(key, compute)


def impact_by_id(records: Sequence[DesignatedHotspot] | None = None, **kwargs: Any) -> dict[int, Any]:
    """hotspot id -> its `Impact` (started hotspots only)."""
    result = programme_impact(records, **kwargs)
    return {} if result is None else {r.key: r for r in result.hotspots}


def dosage_report(records: Sequence[DesignatedHotspot], *, as_of: dt.date | None = None,
                  weeks: int = 4) -> tuple[list[Any], list[Any]]:
    """(per hotspot, per team) `hotspots.dosage.Dosage` of the started hotspots among `records`,
    from the patrol log: the week holding `as_of` (default today) and `weeks` whole weeks before."""
    from hotspots.dosage import DosageTarget, dosage, team_dosage, week_start

    as_of = as_of or today()
    started = [r for r in records if r.status in STARTED]
    names = team_names()
    targets = [DosageTarget(r.id, r.name, tuple(r.cells), names.get(r.team_id, "") if r.team_id else "",
                            r.visits_per_week, r.minutes_per_visit, r.start_date,
                            r.closed_on if r.status == "closed" else None) for r in started]
    # A day's margin either side: the log stores UTC, weeks are local.
    since = dt.datetime.combine(week_start(as_of) - dt.timedelta(weeks=weeks, days=1), dt.time())
    until = dt.datetime.combine(as_of + dt.timedelta(days=2), dt.time())
    visits = db_session().scalars(select(Visit).where(Visit.arrived_at >= since, Visit.arrived_at < until)).all()
    per_hotspot = dosage(list(visits), targets, as_of=as_of, weeks=weeks, tz=get_data().settings.timezone)
    return per_hotspot, team_dosage(per_hotspot)


def recent_counts(records: Sequence[DesignatedHotspot]) -> tuple[str, dict[int, int]]:
    """(period label, hotspot id -> incidents of its category in its area) for the latest complete
    period of the store (a week when the data has days, else a month)."""
    import numpy as np

    from hotspots.impact import area_resolution, as_cells

    data = get_data()
    if data.is_empty() or not records:
        return "", {}
    period = data.parse_period(data.default_period())
    key = ("recent_counts", data.store_version(), period.label, _fingerprint(records))

    def compute() -> dict[int, int]:
        prepared = impact_data()
        inside = (prepared.t >= period.start.value) & (prepared.t < period.end.value)
        out = {}
        for r in records:
            cells = as_cells(r.cells)
            hit = inside & (prepared.category == r.category) & np.isin(prepared.cells(area_resolution(cells)), cells)
            out[r.id] = int(hit.sum())
        return out

    return period.label, data.cache.get(key, compute)


def register_rows(records: Sequence[DesignatedHotspot]) -> tuple[str, list[dict[str, Any]]]:
    """What the register page and `hotspots register list` show for each hotspot."""

    names = team_names()
    label, counts = recent_counts(records)
    impacts = impact_by_id()
    per_hotspot, _teams = dosage_report(records, weeks=0)
    doses = {d.key: d for d in per_hotspot}
    rows = []
    for r in records:
        impact = impacts.get(r.id)
        dose = doses.get(r.id)
        week = dose.this_week if dose is not None else None
        rows.append({
            "record": r, "id": r.id, "name": r.name, "category": r.category, "status": r.status,
            "team": names.get(r.team_id, "") if r.team_id else "", "tactic": r.tactic,
            "start_date": r.start_date, "review_date": r.review_date, "overdue": is_overdue(r),
            "cells": len(r.cells), "recent": counts.get(r.id),
            "impact": impact, "trend": trend_text(impact, r),
            "trend_order": _trend_order(impact),
            "dose_visits": week.visits if week else None,
            "dose_target": round(week.target_visits, 1) if week else None,
            "dose_minutes": round(week.minutes) if week else None,
        })
    return label, rows


def trend_text(impact: Any, record: DesignatedHotspot) -> str:
    """A short trend since designation for the register table."""
    if record.status == "proposed":
        return "not started"
    if impact is None:
        return "no data"
    if impact.status == "too_short":
        return "too soon to tell"
    if impact.status == "no_baseline":
        return "no data before the start"
    if impact.status == "no_incidents":
        return "no incidents before or since"
    a = impact.area
    pct = "n/a" if a.ratio is None else f"{(a.ratio - 1) * 100:+.0f}%"
    verdict = {"fall": "a fall beyond chance", "rise": "a rise beyond chance",
               "no_clear_change": "not more than chance"}[impact.verdict]
    return f"{pct} ({a.before} to {a.after}); {verdict}"


def _trend_order(impact: Any) -> float:
    if impact is None or impact.area is None or impact.area.ratio is None:
        return 99.0
    return float(impact.area.ratio)
