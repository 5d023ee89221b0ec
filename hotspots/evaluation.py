"""How well one period's hotspots predicted the next: hit rate, PAI and PEI at fixed area coverages,
for one pair of periods or as a rolling backtest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hotspots import cells as h3cells
from hotspots.binning import StudyArea
from hotspots.coverage import Coverage
from hotspots.errors import InputError
from hotspots.history import coverage_of, covered_fraction, holds
from hotspots.periods import Period, parse_period
from hotspots.ranking import (
    CATEGORY_CHOICES,
    ENGINES,
    cell_totals,
    check_choice,
    check_source,
    resolve_study_area,
    trend_length,
)
from hotspots.settings import Settings, get_settings
from hotspots.stats import gi_star

if TYPE_CHECKING:
    from hotspots.ranking import Incidents

#: How cells are ranked in the training period.
METHODS: tuple[str, ...] = ("gistar", "count", "harm")
#: Shares of the study area flagged: 0.1%, 0.5%, 1% and 5%.
DEFAULT_COVERAGES: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05)

EVALUATION_COLUMNS: list[str] = [
    "train_period", "test_period", "method", "coverage", "cells", "area_km2", "area_share",
    "test_incidents", "hits", "hit_rate", "pai", "best_hits", "pei",
]


def _check_coverages(coverages: Any) -> tuple[float, ...]:
    try:
        values = tuple(float(c) for c in coverages)
    except (TypeError, ValueError):
        msg = f"`coverages` must be numbers between 0 and 1, such as (0.001, 0.01), not {coverages!r}."
        raise InputError(msg) from None
    if not values:
        msg = "`coverages` is empty; give shares of the area such as (0.001, 0.005, 0.01, 0.05)."
        raise InputError(msg)
    bad = [c for c in values if not 0 < c <= 1]
    if bad:
        msg = (f"`coverages` holds {bad[0]!r}; coverages are shares of the study area above 0 and at "
               "most 1 (0.01 is 1%).")
        raise InputError(msg)
    return values


def _scores(method: str, counts: np.ndarray, harm: np.ndarray, area: StudyArea) -> np.ndarray:
    if method == "gistar":
        z, _ = gi_star(counts.astype(np.float64), area.neighbours, p_values=False)
        return z
    return harm if method == "harm" else counts.astype(np.float64)


def _evaluate(train_counts: np.ndarray, train_harm: np.ndarray, test_counts: np.ndarray,
              area: StudyArea, *, method: str, coverages: tuple[float, ...]) -> list[dict[str, Any]]:
    """Rows of hit rate, PAI and PEI for each coverage (one pair of periods)."""
    score = _scores(method, train_counts, train_harm, area)
    order = np.lexsort((area.cells, -train_counts, -np.round(score, 9)))
    best_order = np.lexsort((area.cells, -test_counts))
    total_area = area.total_area_km2
    cum_area = np.cumsum(area.area_km2[order])
    best_cum_area = np.cumsum(area.area_km2[best_order])
    cum_hits = np.cumsum(test_counts[order])
    best_cum_hits = np.cumsum(test_counts[best_order])
    n_test = int(test_counts.sum())
    rows = []
    for coverage in coverages:
        # The fewest top cells whose area reaches the coverage (at least one cell).
        k = int(min(np.searchsorted(cum_area, coverage * total_area - 1e-12) + 1, area.n))
        hits = int(cum_hits[k - 1])
        best = int(best_cum_hits[k - 1])
        share = float(cum_area[k - 1] / total_area)
        best_share = float(best_cum_area[k - 1] / total_area)
        hit_rate = hits / n_test if n_test else np.nan
        pai = hit_rate / share if n_test else np.nan
        best_pai = (best / n_test) / best_share if n_test else np.nan
        rows.append({
            "coverage": coverage, "cells": k, "area_km2": float(cum_area[k - 1]), "area_share": share,
            "test_incidents": n_test, "hits": hits, "hit_rate": hit_rate, "pai": pai,
            "best_hits": best, "pei": pai / best_pai if best else np.nan,
        })
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=EVALUATION_COLUMNS)
    for col in ("train_period", "test_period", "method"):
        out[col] = out[col].astype("str")
    for col in ("cells", "test_incidents", "hits", "best_hits"):
        out[col] = out[col].astype(np.int64)
    for col in ("coverage", "area_km2", "area_share", "hit_rate", "pai", "pei"):
        out[col] = out[col].astype(np.float64)
    return out


def _require(cov: Coverage, period: Period, role: str) -> None:
    """Refuse a training or test period with no data at all, naming the months held."""
    if covered_fraction(cov, period) == 0:
        msg = f"no data for the {role} {period.label}: {holds(cov)} {cov.holds()}."
        raise InputError(msg)


def _setup(incidents, category, method, coverages, wards, resolution, settings, engine):
    settings = settings or get_settings()
    category = check_choice(category, "category", CATEGORY_CHOICES)
    method = check_choice(method, "method", METHODS)
    coverages = _check_coverages(coverages)
    resolution = h3cells.check_resolution(resolution)
    engine = check_choice(engine, "engine", ENGINES)
    incidents = check_source(incidents, engine, settings)
    area = resolve_study_area(wards, resolution=resolution, settings=settings)
    return incidents, settings, category, method, coverages, area, engine


def evaluate_hotspots(
    incidents: Incidents,
    *,
    category: str,
    train_period: str | Period,
    test_period: str | Period,
    coverages: tuple[float, ...] = DEFAULT_COVERAGES,
    method: str = "gistar",
    wards: Any = None,
    resolution: int = 10,
    settings: Settings | None = None,
    engine: str = "memory",
    coverage: Coverage | None = None,
) -> pd.DataFrame:
    """Hit rate, PAI and PEI of the training period's top cells against the test period.

    Cells of the study area are ranked by the training period (`gistar`: Gi* z of counts;
    `count`; `harm`; ties by count, then cell). For each coverage the fewest top cells whose
    area reaches that share of the study area are flagged, and scored on the test period:

    - hit rate: share of the test period's incidents (in the study area) inside flagged cells;
    - PAI (predictive accuracy index): hit rate / area share;
    - PEI (predictive efficiency index): PAI / the best PAI possible with as many cells, had the
      test period been known (1 is perfect).

    `incidents`, `engine` and `coverage` are as for `hotspots.ranking.rank_hotspots` (`dask`: the
    counting runs on a Dask cluster, the scoring here).

    Returns
    -------
    pandas.DataFrame
        One row per coverage, columns `EVALUATION_COLUMNS`; NaN rates when the test period has
        no incidents.

    Raises
    ------
    InputError
        Bad arguments; a training or test period with no data at all (``no data for the training
        period 2025-01: the store holds 2025-02, 2025-05.``).
    """
    incidents, settings, category, method, coverages, area, engine = _setup(
        incidents, category, method, coverages, wards, resolution, settings, engine)
    train = parse_period(train_period, tz=settings.timezone)
    test = parse_period(test_period, tz=settings.timezone)
    cov = coverage_of(incidents, coverage)
    _require(cov, train, "training period")
    _require(cov, test, "test period")
    tr, te = cell_totals(incidents, category=category, period_sets=[[train], [test]], area=area,
                         settings=settings, engine=engine)
    rows = _evaluate(tr.counts[:, 0], tr.harm[:, 0], te.counts[:, 0], area, method=method,
                     coverages=coverages)
    for row in rows:
        row.update(train_period=train.label, test_period=test.label, method=method)
    return _frame(rows)


def rolling_backtest(
    incidents: Incidents,
    *,
    category: str,
    period: str | Period,
    periods: int | None = None,
    coverages: tuple[float, ...] = DEFAULT_COVERAGES,
    method: str = "gistar",
    wards: Any = None,
    resolution: int = 10,
    settings: Settings | None = None,
    engine: str = "memory",
    coverage: Coverage | None = None,
) -> pd.DataFrame:
    """`evaluate_hotspots` for each of the last `periods` periods ending with `period`, each
    trained on the period before it (default: the trend length, 8 weeks or 6 months).
    `incidents`, `engine` and `coverage` are as for `hotspots.ranking.rank_hotspots`.

    Only pairs whose training and test periods both hold data throughout are scored; the others
    are left out, not counted as zeros.

    Returns
    -------
    pandas.DataFrame
        One row per (scored test period, coverage), oldest first, columns `EVALUATION_COLUMNS`.
        ``attrs``: `periods_asked`, `periods_used`, `left_out` (test periods not scored) and
        `notes` (a sentence saying what was left out, for headers). `summarise_backtest` averages
        the rows per coverage.

    Raises
    ------
    InputError
        No pair of the backtest holds data in both its periods (naming the months held).
    """
    incidents, settings, category, method, coverages, area, engine = _setup(
        incidents, category, method, coverages, wards, resolution, settings, engine)
    last = parse_period(period, tz=settings.timezone)
    n = trend_length(last, settings) if periods is None else periods
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 520:
        msg = f"`periods` must be a whole number from 1 to 520, not {periods!r}."
        raise InputError(msg)
    history = last.history(int(n) + 1)
    cov = coverage_of(incidents, coverage)
    whole = [covered_fraction(cov, p) >= 1 for p in history]
    usable = [t for t in range(1, len(history)) if whole[t - 1] and whole[t]]
    left_out = [history[t].label for t in range(1, len(history)) if t not in usable]
    if not usable:
        msg = (f"no period of the backtest ({history[1].label} to {history[-1].label}) has data for "
               f"both its training and its test period: {holds(cov)} {cov.holds()}.")
        raise InputError(msg)
    [totals] = cell_totals(incidents, category=category, period_sets=[history], area=area,
                           settings=settings, engine=engine)
    counts, harm = totals.counts, totals.harm
    rows = []
    for t in usable:
        for row in _evaluate(counts[:, t - 1], harm[:, t - 1], counts[:, t], area, method=method,
                             coverages=coverages):
            row.update(train_period=history[t - 1].label, test_period=history[t].label, method=method)
            rows.append(row)
    out = _frame(rows)
    notes = []
    if left_out:
        notes.append(f"{len(usable)} of {int(n)} periods scored: {', '.join(left_out)} left out "
                     f"({holds(cov)} no data for it or the period before it).")
    out.attrs.update({"periods_asked": int(n), "periods_used": len(usable), "left_out": left_out,
                      "notes": notes})
    return out


def summarise_backtest(backtest: pd.DataFrame) -> pd.DataFrame:
    """Mean hit rate, PAI and PEI per coverage over a backtest's scored periods (NaNs skipped);
    ``attrs`` keeps the backtest's `periods_used`, `periods_asked`, `left_out` and `notes`."""
    grouped = backtest.groupby("coverage", sort=True)
    out = pd.DataFrame({
        "periods": grouped["test_period"].count(),
        "cells": grouped["cells"].median(),
        "hit_rate": grouped["hit_rate"].mean(),
        "pai": grouped["pai"].mean(),
        "pei": grouped["pei"].mean(),
    }).reset_index()
    out.attrs.update({k: backtest.attrs[k] for k in ("periods_asked", "periods_used", "left_out", "notes")
                      if k in backtest.attrs})
    return out
