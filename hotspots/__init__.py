"""Hotspot analysis for community safety: ingest, store, wards, H3 binning, statistics, evaluation."""

from hotspots.binning import assign_wards, study_area
from hotspots.cells import cells_to_gdf, points_to_cells
from hotspots.demo import generate_demo
from hotspots.errors import InputError, Problem
from hotspots.evaluation import evaluate_hotspots, rolling_backtest
from hotspots.ingest import read_incidents
from hotspots.periods import Period, parse_period
from hotspots.ranking import rank_hotspots, rank_wards
from hotspots.report import IngestReport, ReadReport
from hotspots.settings import Settings, get_settings
from hotspots.store import IncidentStore
from hotspots.streaming import ingest_archive, iter_policeuk_archive_months
from hotspots.wards import load_wards

__all__ = [
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
    "ingest_archive",
    "iter_policeuk_archive_months",
    "load_wards",
    "parse_period",
    "points_to_cells",
    "rank_hotspots",
    "rank_wards",
    "read_incidents",
    "rolling_backtest",
    "study_area",
]
