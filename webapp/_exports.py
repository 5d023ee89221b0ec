"""Rankings, evaluations and plans as downloads and API bodies, through `hotspots.export`.

GeoJSON follows RFC 7946 (longitude/latitude, no `crs` member, `h3_cell` as the hexadecimal
string); CSV carries each cell's centre as `longitude`/`latitude`, formula-safe. Every download
carries its context (`hotspots.export.export_context`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd

from webapp.presentation import CLASS_LABELS

#: The ranking's columns, then the map class; in this order in every download.
COLUMNS = ["h3_cell", "rank", "ward_code", "ward_name", "place", "count", "harm",
           "institution_count", "institution", "top_point_share", "gi_z", "gi_p", "hot", "near_hot",
           "change", "change_pct", "change_significant", "trend", "map_class", "class_label",
           "reason"]


def _frame(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = cells.copy()
    out["class_label"] = out["map_class"].map(CLASS_LABELS).fillna("") if len(out) else ""
    return out[[c for c in COLUMNS if c in out.columns] + [out.geometry.name]]


def ranking_geojson(cells: gpd.GeoDataFrame, *, notes: list[str] | None = None,
                    context: Mapping[str, Any] | None = None) -> str:
    """A FeatureCollection of ranked cells (`webapp.presentation.shown_cells`) with its
    `context`; `notes` (what the data does not allow to claim, e.g. no baseline) also go in a
    top-level member `notes` (RFC 7946 6.1)."""
    from hotspots.export import to_geojson

    text = to_geojson(_frame(cells), context=context)
    head = '{"type":"FeatureCollection",'
    return head + f'"notes":{json.dumps(list(notes or []), ensure_ascii=False)},' + text[len(head):]


def ranking_csv(cells: gpd.GeoDataFrame, *, context: Mapping[str, Any] | None = None) -> str:
    """CSV of ranked cells with the centre's `longitude` and `latitude` and the context columns."""
    from hotspots.export import to_csv

    return to_csv(_frame(cells), context=context)


def evaluation_csv(table: Any, *, context: Mapping[str, Any] | None = None) -> str:
    """CSV of an evaluation table (one row per test period and coverage) with its context."""
    from hotspots.export import to_csv

    return to_csv(table, context=context)


def plan_context(plan: Mapping[str, Any], *, settings: Any, coverage: Any, period: str,
                 category: str, synthetic: bool, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A plan's context (`hotspots.export.export_context`), for the web's saved plans and the
    CLI's: what it was made from (its deployment: wards, networks, notes), its shift and teams,
    and whether the incidents were synthetic when it was made."""
    from hotspots.export import export_context

    deployment = plan.get("deployment") or {}
    teams = [{"name": r["team"]["name"], "mode": r.get("mode"), "start": r.get("start"),
              "end": r.get("end"), "stops": r.get("stops", 0)} for r in plan.get("routes", [])]
    shift = deployment.get("shift") or {}
    return export_context(
        "plan", settings=settings, coverage=coverage, period=period, category=category,
        wards=deployment.get("wards") or list(settings.priority_wards), weight=plan.get("prize_by"),
        extra={"shift": shift.get("label") or None, "date": shift.get("date") or None,
               "approximate": bool(plan.get("approximate")), "teams": teams,
               "networks": deployment.get("networks", {}),
               "notes": list(deployment.get("notes", [])), **dict(extra or {}),
               "synthetic": bool(synthetic)})


def plan_gpx(gpx: str, context: Mapping[str, Any]) -> str:
    """A plan's GPX with its context in the description (period, category, when made and
    exported, and DEMO DATA first when the incidents were synthetic)."""
    import gpxpy

    doc = gpxpy.parse(gpx)
    words = [f"{context.get('period', '')}, {context.get('category', '')}"]
    if context.get("shift"):
        words.append(f"shift {context['shift']}")
    if context.get("plan_made_at"):
        words.append(f"made {context['plan_made_at']}")
    words.append(f"exported {context['generated_at']}")
    if context.get("synthetic"):
        words.insert(0, "DEMO DATA: synthetic incidents")
    doc.description = "; ".join(w for w in [*words, doc.description or ""] if w)
    return doc.to_xml(version="1.1")


def plan_geojson(geojson: str, context: Mapping[str, Any]) -> str:
    """A stored plan's GeoJSON with its context: a top-level `context` member and `synthetic`,
    and the period, category and synthetic flag in every feature's properties."""
    from hotspots.export import CONTEXT_COLUMNS

    doc = json.loads(geojson)
    constant = {c: context[c] for c in CONTEXT_COLUMNS if c in context}
    for feature in doc.get("features", []):
        props = feature.setdefault("properties", {})
        for key, value in constant.items():
            props.setdefault(key, value)
    out = {"type": doc.pop("type", "FeatureCollection"), "synthetic": bool(context.get("synthetic")),
           "context": dict(context)}
    out.update(doc)
    return json.dumps(out, ensure_ascii=False)


def plan_csv(plan: Mapping[str, Any], context: Mapping[str, Any], *,
             streets: Mapping[str, str] | None = None) -> str:
    """A stored plan as CSV: one row per stop in each team's order, with the context columns."""
    import pandas as pd

    from hotspots.export import to_csv

    rows = []
    for r in plan.get("routes", []):
        for v in r.get("visits", []):
            rows.append({
                "team": r["team"]["name"], "mode": r.get("mode", ""), "seq": v["seq"],
                "arrival": v.get("arrival_at") or v["arrival"],
                "departure": v.get("departure_at") or v["departure"],
                "dwell_min": v["dwell_min"], "travel_min": v["travel_min"],
                "street": (streets or {}).get(str(v["stop_id"])) or v.get("place") or "",
                "ward_code": v["ward_code"], "ward_name": v["ward_name"],
                "stop_id": str(v["stop_id"]), "cells": " ".join(v.get("cells") or []),
                "category": v.get("category", ""),
                "must_visit": bool(v.get("must_visit")), "reason": v.get("reason", ""),
                "longitude": v["lon"], "latitude": v["lat"],
                "approximate": bool(r.get("approximate")),
            })
    columns = ["team", "mode", "seq", "arrival", "departure", "dwell_min", "travel_min", "street",
               "ward_code", "ward_name", "stop_id", "cells", "category", "must_visit", "reason",
               "longitude", "latitude", "approximate"]
    frame = pd.DataFrame(rows, columns=columns)
    # Each stop keeps its own category; the plan's (asb, serious_violence or both) beside it.
    frame["plan_category"] = context.get("category", "")
    return to_csv(frame, context=context)
