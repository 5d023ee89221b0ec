"""Two periods compared cell by cell: the counts of each, the change, and whether chance explains it.

The change map is drawn only when the store covers both periods completely: a period with missing
days would show a fall that is only missing data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hotspots.report import counted

#: Change classes (key, label, colour): ColorBrewer RdBu, safe for colour-blind readers.
CHANGE_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("rise_sig", "Rise larger than chance", "#b2182b"),
    ("rise", "Rise (chance could explain it)", "#ef8a62"),
    ("same", "No change", "#f7f7f7"),
    ("fall", "Fall (chance could explain it)", "#67a9cf"),
    ("fall_sig", "Fall larger than chance", "#2166ac"),
)
CHANGE_COLOURS = {k: c for k, _, c in CHANGE_CLASSES}
CHANGE_LABELS = {k: label for k, label, _ in CHANGE_CLASSES}
ALPHA = 0.05


def compare_cells(now: Any, before: Any, *, days_now: int, days_before: int) -> Any:
    """The cells with incidents in either ranking, with `count_now`, `count_before`, `change`,
    `significant` (an exact test of the split of the two counts given the periods' lengths) and
    `change_class`; the geometry and names of `now` (both rank the same cells), most change first.
    """
    from hotspots.stats import change_test

    keep = ["h3_cell", "ward_code", "ward_name", "count", "geometry"]
    if "place" in now.columns:
        keep.insert(3, "place")
    left = now[[c for c in keep if c in now.columns]].rename(columns={"count": "count_now"})
    right = pd.DataFrame({"h3_cell": before["h3_cell"].to_numpy(),
                          "count_before": before["count"].to_numpy()})
    out = left.merge(right, on="h3_cell", how="left")
    out["count_before"] = out["count_before"].fillna(0).astype(np.int64)
    out["count_now"] = out["count_now"].fillna(0).astype(np.int64)
    out = out[(out["count_now"] > 0) | (out["count_before"] > 0)].copy()
    cur = out["count_now"].to_numpy()
    prev = out["count_before"].to_numpy()
    p = change_test(cur, prev, share=days_now / (days_now + days_before)) if len(out) else np.zeros(0)
    out["change"] = cur - prev
    out["significant"] = p < ALPHA
    out["change_class"] = np.select(
        [(cur > prev) & out["significant"].to_numpy(), cur > prev,
         (cur < prev) & out["significant"].to_numpy(), cur < prev],
        ["rise_sig", "rise", "fall_sig", "fall"], default="same")
    order = np.lexsort((-np.abs(out["change"].to_numpy()), ~out["significant"].to_numpy()))
    return out.iloc[order]


def summary(cells: Any, *, now: str, before: str, days_now: int, days_before: int) -> list[str]:
    """Sentences on a comparison: totals (and whether chance explains their change), and the
    cells whose change chance cannot explain."""
    from hotspots.stats import change_test

    total_now = int(cells["count_now"].sum())
    total_before = int(cells["count_before"].sum())
    diff = total_now - total_before
    way = f"up {diff}" if diff > 0 else f"down {-diff}" if diff < 0 else "no change"
    if diff:
        p = float(change_test(np.array([total_now]), np.array([total_before]),
                              share=days_now / (days_now + days_before))[0])
        way += ", larger than chance" if p < ALPHA else ", not significant"
    out = [f"{total_now} incidents in {now} against {total_before} in {before} ({way}) in the "
           f"cells of the chosen wards."]
    sig = cells[cells["significant"].to_numpy()]
    if len(sig):
        rises = int((sig["change"] > 0).sum())
        falls = int((sig["change"] < 0).sum())
        out.append(f"{counted(len(sig), 'cell')} changed more than chance "
                   f"explains: {rises} up, {falls} down.")
    else:
        out.append("No cell changed more than chance explains.")
    return out
