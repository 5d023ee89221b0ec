"""Hotspot analysis for community safety: ingest, store, wards, H3 binning, statistics, evaluation."""

from hotspots._errors import InputError, Problem
from hotspots.periods import Period, parse_period
from hotspots.settings import Settings, get_settings
from hotspots.wards import load_wards

__all__ = [
    "InputError",
    "Period",
    "Problem",
    "Settings",
    "get_settings",
    "load_wards",
    "parse_period",
]
