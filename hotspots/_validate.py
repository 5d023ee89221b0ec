"""The one check of GeoDataFrame arguments shared by the analysis and routing verbs.

Each message names the argument, says what was expected and what came, and gives a hint.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd

from hotspots.errors import InputError


def check_geoframe(value: Any, name: str, *, expected: str, empty_hint: str, crs_hint: str) -> None:
    """Check that `value` is a GeoDataFrame with rows and a CRS.

    Parameters
    ----------
    value
        The argument.
    name
        Its name, shown in backticks.
    expected
        What it should be, after "a GeoDataFrame", e.g. "from rank_hotspots".
    empty_hint
        What follows "contains zero rows" (punctuation included).
    crs_hint
        What follows "has no CRS; ".

    Raises
    ------
    InputError
        Not a GeoDataFrame, no rows, or no CRS (checked in that order).
    """
    if not isinstance(value, gpd.GeoDataFrame):
        msg = f"`{name}` must be a GeoDataFrame {expected}, not {type(value).__name__}."
        raise InputError(msg)
    if len(value) == 0:
        msg = f"`{name}` contains zero rows{empty_hint}"
        raise InputError(msg)
    if value.crs is None:
        msg = f"`{name}` has no CRS; {crs_hint}"
        raise InputError(msg)
