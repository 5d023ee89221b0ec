"""Hand-made fixtures shared by the ranking and evaluation tests: two box wards, cell centres,
and incident frames built row by row."""

from __future__ import annotations

import geopandas as gpd
import h3
import pandas as pd
import shapely
from pyproj import Transformer

from hotspots.periods import parse_period
from hotspots.schema import make_incidents

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
ASB = "Anti-social behaviour"
VIOLENCE = "Violence and sexual offences"


def two_wards() -> gpd.GeoDataFrame:
    """Two hand-made wards sharing the edge x = 431500 (EPSG:27700)."""
    return gpd.GeoDataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["West", "East"]},
        geometry=[shapely.box(430000, 433000, 431500, 434200), shapely.box(431500, 433000, 432600, 434000)],
        crs=27700,
    )


def centre(lat, lng, res=10):
    """The BNG centre of the cell holding a lat/lng (and the cell)."""
    cell = h3.latlng_to_cell(lat, lng, res)
    clat, clng = h3.cell_to_latlng(cell)
    x, y = TO_BNG.transform(clng, clat)
    return x, y, h3.str_to_int(cell)


def week_day(week: str, day: int = 2, hour: int = 12) -> pd.Timestamp:
    """A naive local time `day` days and `hour` hours after the Monday of `week`."""
    monday = parse_period(week).start
    return (monday + pd.Timedelta(days=day, hours=hour)).tz_localize(None)


def incidents(rows, settings, precision="minute", prefix="i"):
    """rows: (point, timestamp, crime type, repeat)."""
    xs, ys, times, types = [], [], [], []
    for (x, y, _), when, crime, repeat in rows:
        xs += [x] * repeat
        ys += [y] * repeat
        times += [when] * repeat
        types += [crime] * repeat
    return make_incidents(incident_id=[f"{prefix}{i}" for i in range(len(xs))],
                          occurred_at=pd.Series(times), time_precision=precision, crime_type=types,
                          x=xs, y=ys, source="test", settings=settings)


def whole_months(*months: str, source: str = "test"):
    """A coverage with data on every day of `months` (`YYYY-MM`): the hand-made incidents fall on
    a few days only, and their coverage inferred from the frame would call the days between
    them missing."""
    from hotspots.coverage import Coverage

    return Coverage.from_dict({m: {source: {"incidents": 1, "whole_month": True}} for m in months})


#: Every month of 2025 covered.
WHOLE_2025 = whole_months(*(f"2025-{m:02d}" for m in range(1, 13)))

