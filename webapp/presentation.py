"""How hotspot results are shown: map classes with their labels and colours, cell ids as text, rows
as plain dicts. Shared by the map, the exports, the pages and the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd


def hot_class(hot: Any, trend: Any, count: Any, institution: Any = False) -> str:
    """The map class of a cell: mostly at an institution, else its hotspot status after FDR
    control and its trend."""
    if institution is not None and institution is not pd.NA and bool(institution):
        return "institution"
    trend = "none" if not isinstance(trend, str) or not trend else trend
    if bool(hot):
        if trend in ("new", "consecutive", "intensifying"):
            return "hot_new"
        if trend == "persistent":
            return "hot_persistent"
        return "hot"
    if trend in ("diminishing", "historical"):
        return "fading"
    if trend in ("sporadic", "oscillating"):
        return "sporadic"
    return "incidents" if (count or 0) > 0 else "none"


#: Map classes: (key, label, fill colour). ColorBrewer RdYlBu steps (colour-blind safe): every
#: hotspot in the reds, whatever its trend (one month of police.uk data has none, and its hotspots
#: must still stand out), cells that are not hot now in the blues, chosen so that every pair stays
#: clearly different for red-green and blue-yellow colour blindness (tests/webapp/test_palette.py
#: measures it), plus a purple for institutions.
CLASSES: tuple[tuple[str, str, str], ...] = (
    ("hot_new", "Hotspot: new or intensifying", "#a50026"),
    ("hot_persistent", "Hotspot: persistent", "#d73027"),
    ("hot", "Hotspot: other or unknown trend", "#fc8d59"),
    ("sporadic", "Not hot now: sporadic or oscillating", "#91bfdb"),
    ("fading", "Not hot now: diminishing or historical", "#4575b4"),
    ("incidents", "Incidents, not a hotspot", "#cccccc"),
    ("institution", "Mostly at a police station, prison or hospital: no patrols", "#542788"),
)
CLASS_COLOURS = {k: c for k, _, c in CLASSES}
CLASS_LABELS = {k: label for k, label, _ in CLASSES}
HOT_CLASSES = frozenset({"hot_new", "hot_persistent", "hot"})


def shown_cells(ranking: gpd.GeoDataFrame, *, top: int | None = None) -> gpd.GeoDataFrame:
    """The cells worth drawing: with incidents, hot, or with a trend class; ranked order."""
    if len(ranking) == 0:
        return ranking.assign(map_class=pd.Series(dtype=str))
    count = pd.to_numeric(ranking["count"], errors="coerce").fillna(0).to_numpy()
    hot = ranking["hot"].fillna(False).astype(bool).to_numpy()
    trend = ranking["trend"].astype(str).fillna("none").to_numpy()
    keep = (count > 0) | hot | ~np.isin(trend, ["none", "", "nan", "None", "<NA>"])
    out = ranking.loc[keep].sort_values("rank", kind="stable")
    if top is not None:
        out = out.head(top)
    out = out.copy()
    inst = (out["institution"].fillna(False).astype(bool).to_numpy() if "institution" in out.columns
            else np.zeros(len(out), dtype=bool))
    out["map_class"] = [hot_class(h, t, c, i) for h, t, c, i in zip(out["hot"], out["trend"], out["count"],
                                                                     inst, strict=True)]
    return out


def cell_hex(cell: Any) -> str:
    """An H3 cell as the hexadecimal string (the API's form)."""
    if isinstance(cell, str):
        return cell
    return format(int(cell), "x")


def records(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows as plain dicts (NaN and NA as None), for templates and JSON."""
    cols = [c for c in (columns or frame.columns) if c in frame.columns and c != "geometry"]
    out = []
    for row in frame[cols].itertuples(index=False, name=None):
        item = {}
        for c, v in zip(cols, row, strict=True):
            if v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            if c == "h3_cell" and v is not None:
                v = cell_hex(v)
            item[c] = v
        out.append(item)
    return out
