"""The incident data model (DESIGN.md): column names, dtypes, and the functions that build a frame.

An incident frame is a plain `pandas.DataFrame`: coordinates are the float columns `x` and `y`
(easting and northing, EPSG:27700 metres), so millions of incidents cost a few tens of bytes each.
Point geometries are made only when a caller asks for them (`to_geodataframe`, exports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.settings import CATEGORIES, Settings

if TYPE_CHECKING:
    import geopandas as gpd

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
    "x",
    "y",
]

#: Text columns with few distinct values, held as categoricals (one small integer per row).
LABEL_COLUMNS: tuple[str, ...] = ("crime_type", "source", "location")

PRECISION_DTYPE = pd.CategoricalDtype(list(TIME_PRECISIONS), ordered=True)
CATEGORY_DTYPE = pd.CategoricalDtype(list(CATEGORIES))


def occurred_at_dtype(tz: str = "Europe/London") -> pd.DatetimeTZDtype:
    return pd.DatetimeTZDtype(unit="ns", tz=tz)


def labels(values: Any) -> pd.Categorical:
    """Text values as a categorical whose categories are `str` (missing values stay missing)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        values = values.array
    if isinstance(values, pd.Categorical):
        cats = values.categories
        if cats.dtype == "str":
            return values
        return pd.Categorical.from_codes(values.codes, categories=pd.Index(cats.astype(str), dtype="str"))
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object), dtype="str"), sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype="str"))


def _ids(values: Any) -> pd.Series:
    """Incident ids as the string column; Arrow string arrays (from ingest) are taken as they
    are, with no Python string made per row."""
    if type(values).__module__.startswith("pyarrow"):
        import pyarrow as pa

        if pa.types.is_string(values.type):
            return pd.Series(pd.array(values, dtype="str"))
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


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
) -> pd.DataFrame:
    """Build an incident frame with the data model's columns and dtypes.

    `x` and `y` are easting and northing in EPSG:27700 (metres). `category` and `harm` are derived
    from `crime_type` through the settings when not given. `location` is the source's label of
    the place (police.uk "On or near Roundhay Road"; "" when none, the default). Inputs are
    array-likes of one length (`time_precision`, `source` and `location` may be scalars).
    """
    n = len(incident_id)
    crime = labels(crime_type)
    if category is None or harm is None:
        cat, hrm = categorise(pd.Series(crime), settings)
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
    loc = "" if location is None else location
    loc = [loc] * n if isinstance(loc, str) else np.where(pd.isna(np.asarray(loc, dtype=object)), "",
                                                          np.asarray(loc, dtype=object))
    return pd.DataFrame(
        {
            "incident_id": _ids(incident_id),
            "occurred_at": times.reset_index(drop=True),
            "time_precision": pd.Categorical(prec, dtype=PRECISION_DTYPE),
            "crime_type": crime,
            "category": pd.Categorical(np.asarray(category, dtype=object), dtype=CATEGORY_DTYPE),
            "harm": np.asarray(harm, dtype="float64"),
            "source": labels(src),
            "location": labels(loc),
            "x": np.asarray(x, dtype="float64"),
            "y": np.asarray(y, dtype="float64"),
        },
    )


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


def empty_incidents(settings: Settings) -> pd.DataFrame:
    """A frame with no rows and the data model's columns and dtypes."""
    return make_incidents(
        incident_id=[], occurred_at=pd.Series([], dtype=occurred_at_dtype(settings.timezone)),
        time_precision=[], crime_type=[], x=[], y=[], source=[], settings=settings,
        category=[], harm=[],
    )


def incident_xy(frame: pd.DataFrame, *, name: str = "incidents") -> tuple[np.ndarray, np.ndarray]:
    """Easting and northing (EPSG:27700 metres) of each incident, as float arrays.

    From the `x` and `y` columns (views, no copy) or, for a GeoDataFrame without them, from its
    point geometries (reprojected to EPSG:27700 when in another CRS).

    Raises
    ------
    InputError
        Neither `x`/`y` nor point geometries with a CRS; a row that is not a point.
    """
    if "x" in frame.columns and "y" in frame.columns:
        return (frame["x"].to_numpy(dtype=np.float64, na_value=np.nan),
                frame["y"].to_numpy(dtype=np.float64, na_value=np.nan))
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name not in frame.columns:
        msg = (f"`{name}` lacks the column(s) x, y; expected the incident data model's columns "
               "(load incidents with IncidentStore.load or hotspots.ingest).")
        raise InputError(msg)
    if frame.crs is None:
        msg = f"`{name}` has no CRS; incidents are in EPSG:27700 (use set_crs('EPSG:27700') if they are)."
        raise InputError(msg)
    from hotspots.cells import point_coordinates

    points = frame if frame.crs.equals(BNG) else frame.to_crs(BNG)
    return point_coordinates(points, name=name)


def to_geodataframe(frame: pd.DataFrame, *, keep_xy: bool = False) -> gpd.GeoDataFrame:
    """The incidents as a GeoDataFrame of points (EPSG:27700), for exports and GIS tools.

    `keep_xy` keeps the `x` and `y` columns beside the geometry.
    """
    import geopandas as gpd

    x, y = incident_xy(frame)
    rest = frame if keep_xy else frame.drop(columns=[c for c in ("x", "y") if c in frame.columns])
    if isinstance(rest, gpd.GeoDataFrame):
        rest = pd.DataFrame(rest.drop(columns=rest.active_geometry_name))
    return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(x, y), crs=BNG)


def conform(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Return a copy of `frame` with exactly the data model's columns, in order, with their dtypes.

    Accepts a GeoDataFrame of points instead of `x`/`y` (see `incident_xy`). Frames written before
    a column existed get its default (`location` "").
    """
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    x, y = incident_xy(frame)
    for column in INCIDENT_COLUMNS:
        if column in ("x", "y"):
            continue
        if column == "location" and column not in frame.columns:
            out[column] = labels([""] * len(frame))
            continue
        values = frame[column]
        values = values.reset_index(drop=True) if isinstance(values, pd.Series) else values
        if column in LABEL_COLUMNS:
            out[column] = labels(values)
        elif column == "incident_id":
            out[column] = values.astype("str")
        elif column == "time_precision":
            out[column] = _fixed(values, PRECISION_DTYPE)
        elif column == "category":
            out[column] = _fixed(values, CATEGORY_DTYPE)
        elif column == "harm":
            out[column] = values.astype("float64")
        else:
            times = values
            if times.dt.tz is None:
                times = times.dt.tz_localize("UTC")
            out[column] = times.dt.tz_convert(settings.timezone).astype(occurred_at_dtype(settings.timezone))
    out["x"] = np.array(x, dtype=np.float64)
    out["y"] = np.array(y, dtype=np.float64)
    if "location" in out.columns:
        out["location"] = _fill_empty(out["location"])
    return out[INCIDENT_COLUMNS]


def _fixed(values: pd.Series, dtype: pd.CategoricalDtype) -> pd.Series:
    """`values` as the categorical `dtype` (cheap when it is a categorical already)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        if values.dtype == dtype:
            return values
        return values.cat.set_categories(list(dtype.categories)).astype(dtype)
    return values.astype("object").astype(dtype)


def _fill_empty(values: pd.Series) -> pd.Series:
    """Missing labels as "" (the data model's `location` has no missing values)."""
    if not values.isna().any():
        return values
    if "" not in values.cat.categories:
        values = values.cat.add_categories([""])
    return values.fillna("")


def has_model_dtypes(frame: pd.DataFrame, settings: Settings) -> bool:
    """True when `frame` has the data model's columns in order with their dtypes (the text
    labels as categoricals of any categories)."""
    model = empty_incidents(settings)
    if list(frame.columns) != list(model.columns):
        return False
    return all(isinstance(frame[c].dtype, pd.CategoricalDtype) if c in LABEL_COLUMNS
               else frame[c].dtype == model[c].dtype for c in model.columns)


def fix_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the fixed categoricals (`time_precision`, `category`) their dtypes in place, when a
    reader brought them back with other (or fewer) categories; a no-op otherwise."""
    for column, dtype in (("time_precision", PRECISION_DTYPE), ("category", CATEGORY_DTYPE)):
        if column in frame.columns and frame[column].dtype != dtype:
            frame[column] = _fixed(frame[column], dtype)
    for column in LABEL_COLUMNS:
        if column in frame.columns and not isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = labels(frame[column])
    return frame
