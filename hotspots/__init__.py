"""Hotspot analysis for community safety: ingest, store, wards, H3 binning, statistics, evaluation."""

from hotspots._errors import InputError, Problem
from hotspots.demo import generate_demo
from hotspots.ingest import read_incidents
from hotspots.periods import Period, parse_period
from hotspots.report import IngestReport, ReadReport
from hotspots.settings import Settings, get_settings
from hotspots.store import IncidentStore
from hotspots.wards import load_wards

__all__ = [
    "IncidentStore",
    "IngestReport",
    "InputError",
    "Period",
    "Problem",
    "ReadReport",
    "Settings",
    "generate_demo",
    "get_settings",
    "load_wards",
    "parse_period",
    "read_incidents",
]
