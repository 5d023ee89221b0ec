"""Where in a cell its incidents are: the street or place it is known by, how much of it sits on one
snap point, and whether it is mostly crime recorded at an institution (a police station, a prison,
a hospital) that no street patrol can prevent.

Police.uk moves every incident to an anonymous snap point labelled ``On or near <street or
place>``; a force export names a street. A cell is named by its most common label; institution
labels come from the `institution_labels` setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.binning import StudyArea
from hotspots.periods import Period
from hotspots.selection import Selection, cell_positions, select_incidents
from hotspots.settings import Settings

#: Police.uk's prefix of every snap point's label.
PREFIX = "On or near "
#: Labels that name no place.
_NO_PLACE = {"", "no location", "nan", "none", "<na>"}
#: A cell is "mostly" at institutions when more than this share of its incidents is.
INSTITUTION_SHARE = 0.5


def place_name(label: object) -> str:
    """The place a source label names: ``On or near Roundhay Road`` -> ``Roundhay Road``; "" for
    none (a blank label or police.uk's ``No Location``)."""
    if label is None or (isinstance(label, float) and np.isnan(label)) or label is pd.NA:
        return ""
    text = " ".join(str(label).split())
    if text[:len(PREFIX)].casefold() == PREFIX.casefold():
        text = text[len(PREFIX):].strip()
    return "" if text.casefold() in _NO_PLACE else text


@dataclass(frozen=True)
class CellPlaces:
    """Per study-area cell (aligned to `StudyArea.cells`).

    `place`: its most common place name in the analysed period ("" without labelled incidents);
    `top_point_share`: share of its incidents in the period at its busiest snap point (NaN with
    none); `institution_counts`/`institution_harm`: incidents (harm) recorded at an institution
    label, cells x periods; `institution`: the most common institution label in the period ("" for
    none); `mostly_institution`: more than half its incidents in the period are at institutions.
    """

    place: np.ndarray
    top_point_share: np.ndarray
    institution_counts: np.ndarray
    institution_harm: np.ndarray
    institution: np.ndarray
    mostly_institution: np.ndarray


def _most_common(pos: np.ndarray, names: np.ndarray, n: int) -> np.ndarray:
    """Per position 0..n-1, the most frequent of `names` (ties: alphabetical first); "" for none."""
    out = np.full(n, "", dtype=object)
    if not len(pos):
        return out
    table = pd.DataFrame({"pos": pos, "name": names}).value_counts(sort=False).reset_index(name="k")
    table = table.sort_values(["pos", "k", "name"], ascending=[True, False, True], kind="stable")
    first = table.drop_duplicates("pos")
    out[first["pos"].to_numpy()] = first["name"].to_numpy()
    return out


def cell_places(incidents: pd.DataFrame, *, category: str, periods: list[Period], area: StudyArea,
                settings: Settings, selection: Selection | None = None,
                positions: np.ndarray | None = None) -> CellPlaces:
    """Names, snap-point concentration and institution counts of the study area's cells.

    `incidents` as for `hotspots.ranking.rank_hotspots` (a frame); one without a `location`
    column (written before labels were kept) gives no names and no institutions, only the
    snap-point share. The last of `periods` is the analysed one. `selection` and `positions`:
    the `select_incidents` of these arguments and its `cell_positions`, when the caller has
    them already (binning millions of incidents twice would double the work).
    """
    n, t = area.n, len(periods)
    sel = selection if selection is not None else select_incidents(
        incidents, category=category, periods=periods, settings=settings, check=False)
    pos = positions if positions is not None else cell_positions(sel, area)
    inside = pos >= 0
    if "location" in incidents.columns and len(sel.rows):
        codes, uniques = pd.factorize(incidents["location"].iloc[sel.rows], use_na_sentinel=True)
        names = np.array([place_name(u) for u in uniques] + [""], dtype=object)
        wanted = {s.casefold() for s in settings.institution_labels}
        is_inst = np.array([nm.casefold() in wanted for nm in names], dtype=bool)
        row_name = names[codes]  # NA (-1) takes the last entry, ""
        row_inst = is_inst[codes]
    else:
        row_name = np.full(len(sel.rows), "", dtype=object)
        row_inst = np.zeros(len(sel.rows), dtype=bool)
    key = pos[inside & row_inst] * t + sel.slot[inside & row_inst]
    inst_counts = np.bincount(key, minlength=n * t).reshape(n, t).astype(np.int64)
    inst_harm = np.bincount(key, weights=sel.harm[inside & row_inst], minlength=n * t).reshape(n, t)

    now = inside & (sel.slot == t - 1)
    p_now = pos[now]
    total = np.bincount(p_now, minlength=n)
    named = row_name[now] != ""
    place = _most_common(p_now[named], row_name[now][named], n)
    # Snap points: incidents at one coordinate share a point.
    points, _ = pd.factorize(sel.x[now] + 1j * sel.y[now])
    per_point = pd.DataFrame({"pos": p_now, "pt": points}).value_counts(sort=False)
    busiest = np.zeros(n, dtype=np.int64)
    if len(per_point):
        top = per_point.groupby(level="pos").max()
        busiest[top.index.to_numpy()] = top.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        top_share = np.where(total > 0, busiest / np.maximum(total, 1), np.nan)
    inst_now = row_inst[now]
    institution = _most_common(p_now[inst_now], row_name[now][inst_now], n)
    mostly = (total > 0) & (inst_counts[:, -1] > INSTITUTION_SHARE * total)
    return CellPlaces(place=place, top_point_share=top_share, institution_counts=inst_counts,
                      institution_harm=inst_harm, institution=institution, mostly_institution=mostly)


__all__ = ["INSTITUTION_SHARE", "PREFIX", "CellPlaces", "cell_places", "place_name"]
