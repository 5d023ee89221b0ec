"""The incident data model (DESIGN.md): column names, dtypes, and the function that builds a frame."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.crs import BNG
from hotspots.settings import CATEGORIES, Settings

TIME_PRECISIONS: tuple[str, ...] = ("month", "day", "minute")

INCIDENT_COLUMNS: list[str] = [
    "incident_id",
    "occurred_at",
    "time_precision",
    "crime_type",
    "category",
    "harm",
    "source",
    "location",
    "geometry",
]

PRECISION_DTYPE = pd.CategoricalDtype(list(TIME_PRECISIONS), ordered=True)
CATEGORY_DTYPE = pd.CategoricalDtype(list(CATEGORIES))


def occurred_at_dtype(tz: str = "Europe/London") -> pd.DatetimeTZDtype:
    return pd.DatetimeTZDtype(unit="ns", tz=tz)


def make_incidents(
    *,
    incident_id,
    occurred_at,
    time_precision,
    crime_type,
    x,
    y,
    source,
    settings: Settings,
    category=None,
    harm=None,
    location=None,
) -> gpd.GeoDataFrame:
    """Build an incident frame with the data model's columns and dtypes.

    `x` and `y` are easting and northing in EPSG:27700 (metres). `category` and `harm` are derived
    from `crime_type` through the settings when not given. `location` is the source's label of
    the place (police.uk "On or near Roundhay Road"; "" when none, the default). Inputs are
    array-likes of one length (`time_precision`, `source` and `location` may be scalars).
    """
    n = len(incident_id)
    crime_type = pd.Series(np.asarray(crime_type, dtype=object), dtype="str")
    if category is None or harm is None:
        cat, hrm = categorise(crime_type, settings)
        category = cat if category is None else category
        harm = hrm if harm is None else harm
    times = pd.Series(occurred_at)
    if times.dt.tz is None:
        # Local clock times: in the repeated autumn hour take the first (summer-time) reading,
        # and move times in the skipped spring hour forward; never turn a real time into NaT.
        times = times.dt.tz_localize(settings.timezone, ambiguous=np.ones(len(times), dtype=bool),
                                     nonexistent="shift_forward")
    times = times.dt.tz_convert(settings.timezone).astype(occurred_at_dtype(settings.timezone))
    prec = time_precision if not isinstance(time_precision, str) else [time_precision] * n
    src = source if not isinstance(source, str) else [source] * n
    if location is None:
        location = ""
    loc = [location] * n if isinstance(location, str) else location
    loc = pd.Series(np.asarray(loc, dtype=object), dtype="str").fillna("").reset_index(drop=True)
    frame = gpd.GeoDataFrame(
        {
            "incident_id": pd.Series(np.asarray(incident_id, dtype=object), dtype="str"),
            "occurred_at": times.reset_index(drop=True),
            "time_precision": pd.Categorical(prec, dtype=PRECISION_DTYPE),
            "crime_type": crime_type.reset_index(drop=True),
            "category": pd.Categorical(np.asarray(category, dtype=object), dtype=CATEGORY_DTYPE),
            "harm": np.asarray(harm, dtype="float64"),
            "source": pd.Series(np.asarray(src, dtype=object), dtype="str"),
            "location": loc,
        },
        geometry=gpd.points_from_xy(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")),
        crs=BNG,
    )
    return frame[INCIDENT_COLUMNS]


def categorise(crime_type: pd.Series, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Map crime types to (category, harm days) through the settings' tables.

    Unknown types get category None (the caller decides: `other` with a warning, or an error)
    and the `unknown_harm_days` weight. Looks up each distinct type once.
    """
    codes, uniques = pd.factorize(crime_type, use_na_sentinel=True)
    cats = np.array([settings.category_of(str(u)) for u in uniques] + [None], dtype=object)
    harms = np.array(
        [settings.harm_of(str(u), settings.category_of(str(u)) or "other") for u in uniques]
        + [settings.unknown_harm_days],
        dtype="float64",
    )
    return cats[codes], harms[codes]


def empty_incidents(settings: Settings) -> gpd.GeoDataFrame:
    """A frame with no rows and the data model's columns and dtypes."""
    return make_incidents(
        incident_id=[], occurred_at=pd.Series([], dtype=occurred_at_dtype(settings.timezone)),
        time_precision=[], crime_type=[], x=[], y=[], source=[], settings=settings,
        category=[], harm=[],
    )


def conform(frame: gpd.GeoDataFrame, settings: Settings) -> gpd.GeoDataFrame:
    """Return `frame` with exactly the data model's columns, in order, with their dtypes.

    Used after reading the store back from Parquet, where categoricals may come back as strings.
    Frames and stores written before a column existed get its default (`location` "").
    """
    if "location" not in frame.columns:
        frame = frame.assign(location="")
    out = frame[INCIDENT_COLUMNS].copy()
    out["incident_id"] = out["incident_id"].astype("str")
    out["crime_type"] = out["crime_type"].astype("str")
    out["source"] = out["source"].astype("str")
    out["location"] = out["location"].fillna("").astype("str")
    out["time_precision"] = out["time_precision"].astype("object").astype(PRECISION_DTYPE)
    out["category"] = out["category"].astype("object").astype(CATEGORY_DTYPE)
    out["harm"] = out["harm"].astype("float64")
    times = out["occurred_at"]
    if times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    out["occurred_at"] = times.dt.tz_convert(settings.timezone).astype(occurred_at_dtype(settings.timezone))
    if out.crs is None:
        out = out.set_crs(BNG)
    return out
