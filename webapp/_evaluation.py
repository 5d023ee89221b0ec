"""Adapter to `hotspots.evaluation` for the evaluation page and API."""

from __future__ import annotations

import pandas as pd

from hotspots.periods import Period
from hotspots.settings import Settings


def backtest(incidents: pd.DataFrame, *, category: str, last: Period, periods: int,
             method: str, settings: Settings, coverage=None) -> pd.DataFrame:
    """Each of the `periods` periods ending with `last`, scored with the hotspots of the one before
    (`hotspots.evaluation.rolling_backtest`) over the priority wards; one row per (test period,
    coverage), oldest first; only periods with data for both their training and test period
    (``attrs["notes"]`` says which were left out)."""
    from hotspots.evaluation import rolling_backtest

    return rolling_backtest(incidents, category=category, period=last, periods=periods,
                            method=method, wards=list(settings.priority_wards),
                            resolution=settings.h3_resolution, settings=settings, coverage=coverage)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean hit rate, PAI and PEI per coverage (`hotspots.evaluation.summarise_backtest`)."""
    from hotspots.evaluation import summarise_backtest

    return summarise_backtest(table)
