"""Headline sentences for a period: how many hotspots and where, what is new, which ward moved.

The map page opens with them and the weekly briefing prints them: one function for both. They say
only what the data supports: no change without a covered baseline period, nothing new without a
trend, and "not significant" beside a change that chance explains.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from hotspots.report import counted

NEW = ("new", "intensifying", "consecutive")
PERSISTING = ("persistent",)
FADING = ("diminishing", "historical")


def _hot(ranking: Any) -> Any:
    return ranking[ranking["hot"].fillna(False).astype(bool).to_numpy()]


def _names(rows: Any, labels: dict[str, str], n: int = 3) -> list[str]:
    from webapp.presentation import cell_hex

    out = []
    for _, row in rows.head(n).iterrows():
        cell = cell_hex(row["h3_cell"])
        place = row.get("place")
        place = (place if isinstance(place, str) else "") or labels.get(cell) or ""
        ward = str(row.get("ward_name") or "")
        if place:
            out.append(f"{place} ({ward})" if ward else place)
        else:  # no street label in the data for this cell
            out.append(f"a cell in {ward}" if ward else f"cell {cell}")
    return out


def unnamed_cells(ranking: Any, n: int = 3) -> list[str]:
    """The cells the headlines may name (the first `n` new, persisting and fading ones) that have
    no `place` of their own this period (a fading cell may hold no incident now): look their
    street up in the store's other periods (`hotspots.areas.cell_labels`)."""
    from webapp.presentation import cell_hex

    trend = ranking["trend"].astype(str).to_numpy()
    hot = ranking["hot"].fillna(False).astype(bool).to_numpy()
    place = (ranking["place"].fillna("").astype(str).to_numpy() if "place" in ranking.columns
             else np.full(len(ranking), "", dtype=object))
    out: list[str] = []
    for chosen in (hot & np.isin(trend, NEW), hot & np.isin(trend, PERSISTING), np.isin(trend, FADING),
                   hot):
        rows = np.flatnonzero(chosen)[:n]
        out += [cell_hex(c) for c in ranking["h3_cell"].to_numpy()[rows[place[rows] == ""]]]
    return list(dict.fromkeys(out))


def period_headlines(ranking: Any, wards: Any, *, labels: dict[str, str] | None = None,
                     noun: str = "") -> list[str]:
    """Two or three sentences for the lead's Monday morning.

    Parameters
    ----------
    ranking
        `rank_hotspots` output of the period (its `attrs` say whether a baseline and a trend
        may be used).
    wards
        `rank_wards` output of the same period and wards.
    labels
        Street names by hex cell (when the ranking has no `place` column).
    noun
        What the incidents are called ("ASB"); empty for none.

    Returns
    -------
    list of str
        E.g. "4 ASB hotspots, all in Burmantofts & Richmond Hill.", "2 new this week: Roundhay
        Road (Gipton & Harehills), ...", "Biggest move: Gipton & Harehills down 12% on last
        week (25 to 22 incidents), not significant."
    """
    labels = labels or {}
    attrs = ranking.attrs
    period = str(attrs.get("period", ""))
    unit = "week" if period[4:6] == "-W" else "month"
    what = f"{noun} hotspot" if noun else "hotspot"
    hot = _hot(ranking)
    out = []
    if not len(hot):
        out.append(f"No {what}s in {period}: the incidents are too few or too spread out to tell "
                   "a cluster from chance.")
    else:
        by_ward = Counter(str(w) for w in hot["ward_name"].fillna("no ward"))
        n = len(hot)
        head = counted(n, what)
        if len(by_ward) == 1:
            out.append(f"{head}, {'all ' if n > 1 else ''}in {next(iter(by_ward))}.")
        else:
            top = by_ward.most_common(3)
            parts = [f"{k} in {w}" for w, k in top]
            rest = n - sum(k for _, k in top)
            if rest:
                parts.append(f"{rest} elsewhere")
            out.append(f"{head}: {', '.join(parts)}.")
    if attrs.get("trend_used", 0):
        trend = ranking["trend"].astype(str).to_numpy()
        new = hot[np.isin(hot["trend"].astype(str).to_numpy(), NEW)]
        fading = ranking[np.isin(trend, FADING)]
        persisting = hot[np.isin(hot["trend"].astype(str).to_numpy(), PERSISTING)]
        bits = []
        if len(new):
            bits.append(f"{len(new)} new this {unit}: {', '.join(_names(new, labels))}"
                        + (f" and {len(new) - 3} more" if len(new) > 3 else ""))
        else:
            bits.append(f"none new this {unit}")
        if len(persisting):
            bits.append(f"{len(persisting)} persisting")
        if len(fading):
            bits.append(f"{len(fading)} fading")
        text = "; ".join(bits)
        out.append(text[0].upper() + text[1:] + ".")
    if wards is not None and len(wards) and wards.attrs.get("baseline"):
        moved = wards.dropna(subset=["change_pct"])
        moved = moved[np.isfinite(moved["change_pct"].astype(float).to_numpy())]
        if len(moved):
            out.append(_ward_change(moved, unit))
    elif wards is not None:
        notes = [n for n in wards.attrs.get("notes", []) if str(n).startswith("no baseline")]
        if notes:
            out.append(notes[0][0].upper() + notes[0][1:])
    return out


def _ward_change(moved: Any, unit: str) -> str:
    """The ward change worth a headline: the largest that chance does not explain, else the
    largest of all, said to be within chance (a large percentage of a small count often is)."""
    pct = moved["change_pct"].astype(float).abs()
    significant = moved["change_significant"].fillna(False).astype(bool).to_numpy()
    if significant.any():
        row = moved.loc[pct[significant].idxmax()]
        others = int(significant.sum()) - 1
        tail = (f" {counted(others, 'other ward')} also changed more than chance explains."
                if others else "")
        return f"{_moved(row, unit)}, a significant change.{tail}"
    biggest = "" if len(moved) == 1 else "Biggest move: "  # of one ward, just its change
    return f"{biggest}{_moved(moved.loc[pct.idxmax()], unit)}, not significant."


def _moved(row: Any, unit: str) -> str:
    pct = float(row["change_pct"])
    way = "up" if pct > 0 else "down" if pct < 0 else "unchanged"
    size = f" {abs(pct):.0f}%" if pct else ""
    return (f"{row['ward_name']} {way}{size} on last {unit} ({int(row['previous_count'])} to "
            f"{int(row['count'])} incidents)")


def trend_headline(ranking: Any, labels: dict[str, str], classes: tuple[str, ...], what: str,
                   noun: str) -> str:
    """One line on the cells of some trend classes: "New: 2 ASB hotspot cells, Roundhay Road
    (Gipton & Harehills), ..." (fading cells need not be hot now)."""
    trend = ranking["trend"].astype(str).to_numpy()
    chosen = ranking[np.isin(trend, classes)]
    if what != "fading":
        chosen = _hot(chosen)
    if not len(chosen):
        return f"{what.capitalize()}: no {noun} hotspot cells."
    names = _names(chosen, labels)
    more = len(chosen) - len(names)
    tail = f" and {more} more" if more > 0 else ""
    return (f"{what.capitalize()}: {counted(len(chosen), f'{noun} hotspot cell')}, "
            f"{', '.join(names)}{tail}.")
