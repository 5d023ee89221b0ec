"""Hotspot analysis for community safety: ingest, store, wards, H3 binning, statistics, evaluation.

The public names below are imported on first use (PEP 562), so that `import hotspots.errors` or the
command line's `--help` does not pay for pandas, geopandas and SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Coverage": "hotspots.coverage",
    "IncidentStore": "hotspots.store",
    "IngestReport": "hotspots.report",
    "InputError": "hotspots.errors",
    "Period": "hotspots.periods",
    "Problem": "hotspots.errors",
    "ReadReport": "hotspots.report",
    "Settings": "hotspots.settings",
    "assign_wards": "hotspots.binning",
    "cells_to_gdf": "hotspots.cells",
    "evaluate_hotspots": "hotspots.evaluation",
    "generate_demo": "hotspots.demo",
    "get_settings": "hotspots.settings",
    "hotspot_impact": "hotspots.impact",
    "ingest_archive": "hotspots.streaming",
    "iter_policeuk_archive_months": "hotspots.streaming",
    "load_wards": "hotspots.wards",
    "parse_period": "hotspots.periods",
    "points_to_cells": "hotspots.cells",
    "programme_impact": "hotspots.impact",
    "rank_hotspots": "hotspots.ranking",
    "rank_wards": "hotspots.ranking",
    "read_incidents": "hotspots.ingest",
    "rolling_backtest": "hotspots.evaluation",
    "study_area": "hotspots.binning",
}

__all__ = [
    "Coverage",
    "IncidentStore",
    "IngestReport",
    "InputError",
    "Period",
    "Problem",
    "ReadReport",
    "Settings",
    "assign_wards",
    "cells_to_gdf",
    "evaluate_hotspots",
    "generate_demo",
    "get_settings",
    "hotspot_impact",
    "ingest_archive",
    "iter_policeuk_archive_months",
    "load_wards",
    "parse_period",
    "points_to_cells",
    "programme_impact",
    "rank_hotspots",
    "rank_wards",
    "read_incidents",
    "rolling_backtest",
    "study_area",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'hotspots' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from hotspots.binning import assign_wards, study_area
    from hotspots.cells import cells_to_gdf, points_to_cells
    from hotspots.coverage import Coverage
    from hotspots.demo import generate_demo
    from hotspots.errors import InputError, Problem
    from hotspots.evaluation import evaluate_hotspots, rolling_backtest
    from hotspots.impact import hotspot_impact, programme_impact
    from hotspots.ingest import read_incidents
    from hotspots.periods import Period, parse_period
    from hotspots.ranking import rank_hotspots, rank_wards
    from hotspots.report import IngestReport, ReadReport
    from hotspots.settings import Settings, get_settings
    from hotspots.store import IncidentStore
    from hotspots.streaming import ingest_archive, iter_policeuk_archive_months
    from hotspots.wards import load_wards
