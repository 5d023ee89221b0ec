"""Synthetic demo incidents for trying the service without real data.

Volumes, seasonality, times of day and the concentration of crime in a few places follow real Leeds
figures (see `WARD_VOLUMES`), and each ward gets planted persistent, emerging and fading hotspots;
but every incident is made up, and the output says so (`source` is "demo").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from hotspots import cells as h3cells
from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError
from hotspots.ingest.policeuk import DEMO_CONTEXT
from hotspots.schema import incident_xy, make_incidents
from hotspots.settings import Settings, get_settings
from hotspots.wards import load_wards

log = logging.getLogger(__name__)

#: Last day (a Sunday) of the default demo period: the end of the 24 months the volumes come from.
DEFAULT_END: dt.date = dt.date(2025, 7, 27)

#: Weeks in the 24 months (August 2023 to July 2025, 731 days) that `WARD_VOLUMES` count.
REFERENCE_WEEKS = 731 / 7

#: Police.uk records per ward over the 24 months to July 2025 (approximate): total, anti-social
#: behaviour, violence and sexual offences.
WARD_VOLUMES: dict[str, tuple[int, int, int]] = {
    "E05011394": (11_600, 761, 4_788),  # Gipton & Harehills
    "E05011388": (12_000, 721, 5_222),  # Burmantofts & Richmond Hill
    "E05012647": (13_700, 894, 5_054),  # Beeston & Holbeck
    "E05011400": (10_900, 739, 4_526),  # Killingbeck & Seacroft
    "E05011385": (9_400, 605, 3_957),  # Armley
    "E05011399": (19_700, 1_347, 6_267),  # Hunslet & Riverside
}

#: A ward without its own figures gets the Leeds average: 9,600 records a month over 33 wards,
#: 8% of them ASB and 38% violence and sexual offences.
LEEDS_AVERAGE_VOLUMES: tuple[int, int, int] = (6_982, 559, 2_653)

#: Shares of all police.uk records in Leeds.
ROBBERY_SHARE = 0.014
WEAPONS_SHARE = 0.009

#: How the records that are neither ASB nor serious violence split over the other police.uk types
#: (relative shares; roughly as in West Yorkshire's inner-city wards).
OTHER_TYPE_SHARES: dict[str, float] = {
    "Public order": 0.22,
    "Criminal damage and arson": 0.18,
    "Shoplifting": 0.15,
    "Other theft": 0.13,
    "Vehicle crime": 0.10,
    "Burglary": 0.09,
    "Drugs": 0.05,
    "Other crime": 0.04,
    "Theft from the person": 0.02,
    "Bicycle theft": 0.02,
}

#: Records per calendar month relative to the monthly mean, January to December.
MONTH_FACTORS: dict[str, tuple[float, ...]] = {
    "asb": (0.66, 0.76, 0.94, 1.06, 1.24, 1.15, 1.14, 1.28, 1.04, 1.27, 0.89, 0.58),
    "serious_violence": (0.93, 0.90, 0.98, 0.99, 1.05, 1.04, 1.06, 1.03, 1.00, 1.01, 0.97, 1.02),
    "other": (0.96, 0.92, 1.00, 0.98, 1.03, 1.01, 1.02, 1.03, 1.00, 1.04, 1.01, 1.00),
}

#: Days that stand out from their month, (month, day) -> factor over an ordinary day of that month.
#: Halloween and Bonfire Night for ASB (fireworks, youth nuisance); New Year's Day for violence.
SPECIAL_DAYS: dict[str, dict[tuple[int, int], float]] = {
    "asb": {(10, 30): 1.3, (10, 31): 3.2, (11, 1): 1.3, (11, 4): 1.5, (11, 5): 3.0, (11, 6): 1.4},
    "serious_violence": {(1, 1): 1.8, (12, 31): 1.3},
    "other": {},
}

#: The H3 resolution hotspots are planted at (about 0.013 km2 per cell in Leeds).
DEMO_RESOLUTION = 10
#: Share of a ward's cells that are planted hotspots, and the share of the expected records that
#: the top cells hold (sampling noise adds a few points to what a count finds).
HOT_CELL_SHARE = 0.05
TOP_CELLS_SHARE = 0.50
#: Shape of the gamma noise of the other cells' weights (smaller: more uneven).
BACKGROUND_SHAPE = 1.0
#: Emerging hotspots start in the last `EMERGING_WEEKS` weeks; fading ones are near zero for the
#: last `FADED_WEEKS` weeks or more. Shorter demos (< `MIN_TREND_WEEKS`) only get persistent ones.
EMERGING_WEEKS = 8
FADED_WEEKS = 10
MIN_TREND_WEEKS = 20
#: An emerging hotspot draws this many times the records of the median hotspot cell, and at
#: least `EMERGING_PER_WEEK` records a week, so a new problem place stands out at once; but no
#: more than `EMERGING_MAX_SHARE` of its ward's records in the category (sparse ASB).
EMERGING_LIFT = 2.5
EMERGING_PER_WEEK = 1.0
EMERGING_MAX_SHARE = 0.08
#: Share of its full strength a place keeps before it emerges or after it has faded.
TRICKLE = 0.01
#: At most this many weeks (ten years), as the CLI allows.
MAX_WEEKS = 520

CATEGORY_ORDER: tuple[str, ...] = ("asb", "serious_violence", "other")

POLICEUK_COLUMNS: list[str] = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
FORCE = "West Yorkshire Police"


# --------------------------------------------------------------------------------------------
# Time profiles
# --------------------------------------------------------------------------------------------

def _week_hours(category: str) -> np.ndarray:
    """Relative intensity per (day of week Monday=0, hour of day): a 7 x 24 array."""
    if category == "asb":
        # Afternoon and evening, after school and into the night; later on Friday and Saturday.
        hours = np.array([1.0, 0.7, 0.5, 0.35, 0.3, 0.3, 0.5, 0.9, 1.4, 1.8, 2.1, 2.4,
                          2.6, 2.8, 3.1, 3.7, 4.4, 4.9, 5.2, 5.2, 4.9, 4.1, 3.0, 1.9])
        days = np.array([0.92, 0.90, 0.92, 0.96, 1.12, 1.20, 1.06])
        week = days[:, None] * hours[None, :]
        week[[4, 5], 21:] *= 1.4   # Friday and Saturday late evening
        week[[5, 6], :3] *= 1.8    # the small hours after them
        return week
    if category == "serious_violence":
        # Domestic and street violence through the day and evening, plus the night-time
        # economy: Friday and Saturday 22:00 to 03:00.
        hours = np.array([2.2, 1.6, 1.2, 0.8, 0.5, 0.4, 0.5, 0.8, 1.2, 1.6, 2.0, 2.3,
                          2.6, 2.8, 3.0, 3.3, 3.6, 3.8, 3.9, 3.9, 3.8, 3.6, 3.3, 2.8])
        days = np.array([0.95, 0.90, 0.90, 0.95, 1.00, 1.10, 1.10])
        week = days[:, None] * hours[None, :]
        night = 5.0
        week[4, 22:] += night            # Friday 22:00-23:59
        week[5, :3] += night * np.array([1.2, 1.0, 0.7])  # Saturday 00:00-02:59
        week[5, 22:] += night * 1.15     # Saturday 22:00-23:59
        week[6, :3] += night * np.array([1.4, 1.15, 0.8])  # Sunday 00:00-02:59
        return week
    # Theft, damage, public order: mostly daytime, a little quieter on Sundays.
    hours = np.array([0.8, 0.6, 0.5, 0.4, 0.4, 0.5, 0.8, 1.3, 2.0, 2.5, 2.9, 3.1,
                      3.2, 3.3, 3.4, 3.6, 3.7, 3.6, 3.4, 3.0, 2.6, 2.2, 1.6, 1.1])
    days = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 1.05, 0.9])
    return days[:, None] * hours[None, :]


def _daily_rates(days: pd.DatetimeIndex, category: str, per_month: float) -> np.ndarray:
    """Expected records per day for one ward and category.

    `per_month` is the mean monthly count. The month-of-year factors fix each calendar month's
    total; day of week and special days only move records between the days of a month.
    """
    first = days[0].replace(day=1)
    last = (days[-1] + pd.offsets.MonthEnd(0)).normalize()
    cal = pd.date_range(first, last, freq="D")
    week = _week_hours(category)
    dow = week.sum(axis=1) / week.sum(axis=1).mean()
    shape = dow[cal.day_of_week.to_numpy()]
    for (month, day), factor in SPECIAL_DAYS[category].items():
        shape = np.where((cal.month == month) & (cal.day == day), shape * factor, shape)
    month_key = cal.year.to_numpy() * 12 + cal.month.to_numpy()
    shape = shape / pd.Series(shape).groupby(month_key).transform("mean").to_numpy()
    factors = np.asarray(MONTH_FACTORS[category])
    factors = factors / factors.mean()
    rate = per_month * factors[cal.month.to_numpy() - 1] / cal.days_in_month.to_numpy() * shape
    keep = (cal >= days[0]) & (cal <= days[-1])
    return rate[keep]


# --------------------------------------------------------------------------------------------
# Places: H3 cells, address points and planted hotspots
# --------------------------------------------------------------------------------------------

@dataclass
class _WardPlan:
    """Where one ward's incidents happen: its cells, address points and per-category weights."""

    ward_code: str
    cells: np.ndarray          # H3 cells (uint64), centre inside the ward
    cx: np.ndarray             # cell centres, EPSG:27700 (m)
    cy: np.ndarray
    radius_m: np.ndarray       # distance from the centre that stays inside the cell
    addr_x: np.ndarray         # address points, grouped by cell
    addr_y: np.ndarray
    addr_cell: np.ndarray      # cell index of each address point
    addr_cum: np.ndarray       # cell index + cumulative share of the address within its cell
    weights: dict[str, np.ndarray]       # category -> weight per cell at full strength
    kind: dict[str, np.ndarray]          # category -> "", "persistent", "emerging", "fading"
    on_week: dict[str, np.ndarray]       # category -> first active week (emerging)
    fade_weeks: dict[str, np.ndarray]    # category -> (start, end) of the fade, shape (n, 2)


def _ward_cells(geom) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ward's cells (uint64, centre inside the ward), their centres in metres, and for each
    the radius of a circle about the centre that lies well inside the hexagon."""
    candidates = h3cells.polygons_to_cells([geom], crs=BNG, resolution=DEMO_RESOLUTION)
    hexagons = h3cells.cells_to_polygons(candidates, crs=BNG)
    centres = shapely.centroid(hexagons)
    cx = np.round(shapely.get_x(centres), 1)
    cy = np.round(shapely.get_y(centres), 1)
    inradius = shapely.distance(centres, shapely.boundary(hexagons))
    inside = shapely.contains_xy(geom, cx, cy)
    return candidates[inside], cx[inside], cy[inside], 0.8 * inradius[inside]


def _gumbel_top(rng: np.random.Generator, weights: np.ndarray, k: int,
                exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of `k` items drawn without replacement with probability proportional to `weights`."""
    keys = np.log(np.maximum(weights, 1e-12)) + rng.gumbel(size=len(weights))
    if exclude is not None:
        keys[exclude] = -np.inf
    k = min(k, int(np.isfinite(keys).sum()))
    return np.argsort(-keys, kind="stable")[:k]


def _plan_ward(ward_code: str, geom_bng, area_km2: float, weeks: int,
               rng: np.random.Generator) -> _WardPlan:
    cells, cx, cy, radius = _ward_cells(geom_bng)
    n = len(cells)
    if n == 0:
        msg = (f"ward {ward_code!r} is too small for H3 resolution {DEMO_RESOLUTION} cells "
               "(no cell centre falls inside it); leave it out of the demo.")
        raise InputError(msg)

    # Address points: a few per cell (police.uk snaps locations to such anonymous points), all
    # inside the cell's inscribed circle and the ward. A cell whose points all fell outside the
    # ward gets its centre (which is inside).
    per_cell = rng.integers(2, 9, size=n)
    owner = np.repeat(np.arange(n), per_cell)
    r = radius[owner] * np.sqrt(rng.random(len(owner)))
    theta = rng.random(len(owner)) * 2 * np.pi
    ax = np.round(cx[owner] + r * np.cos(theta), 1)
    ay = np.round(cy[owner] + r * np.sin(theta), 1)
    ok = shapely.contains_xy(geom_bng, ax, ay)
    empty = np.bincount(owner[ok], minlength=n) == 0
    owner = np.r_[owner[ok], np.flatnonzero(empty)]
    ax, ay = np.r_[ax[ok], cx[empty]], np.r_[ay[ok], cy[empty]]
    grouped = np.argsort(owner, kind="stable")
    ax, ay, owner = ax[grouped], ay[grouped], owner[grouped]
    share = rng.gamma(0.8, size=len(owner))  # a few addresses in a cell draw most incidents
    total = np.bincount(owner, weights=share, minlength=n)
    cum = pd.Series(share / total[owner]).groupby(owner).cumsum().to_numpy().copy()
    cum[np.r_[owner[1:] != owner[:-1], True]] = 1.0  # each cell's last address closes it exactly
    addr_cum = owner + cum

    # Busy places (shopping parades, dense terraces, transport stops): a smooth field shared by
    # every category, so hotspots of different kinds partly coincide and cluster spatially.
    m = max(3, round(area_km2 * 1.5))
    centres = rng.choice(n, size=min(m, n), replace=False)
    sigma = rng.uniform(200.0, 450.0, size=len(centres))
    amp = rng.gamma(2.0, 0.5, size=len(centres))
    d2 = (cx[:, None] - cx[centres][None, :]) ** 2 + (cy[:, None] - cy[centres][None, :]) ** 2
    field = (amp[None, :] * np.exp(-d2 / (2 * sigma[None, :] ** 2))).sum(axis=1)
    field = field / field.max()
    busy = field * rng.gamma(2.0, 0.5, size=n)
    index = pd.Index(cells)

    weights: dict[str, np.ndarray] = {}
    kinds: dict[str, np.ndarray] = {}
    on_week: dict[str, np.ndarray] = {}
    fades: dict[str, np.ndarray] = {}
    n_hot = max(1, round(HOT_CELL_SHARE * n))
    trends = weeks >= MIN_TREND_WEEKS
    for cat in CATEGORY_ORDER:
        background = (0.15 + field) * rng.gamma(BACKGROUND_SHAPE, size=n)
        hot = _gumbel_top(rng, busy ** 2 * rng.gamma(1.5, size=n), n_hot)
        # Hotspots come in clusters: raise their neighbours (the ring of six around each) too.
        ring = index.get_indexer(h3cells.grid_disk_pairs(cells[hot], k=1)[1])
        ring = np.setdiff1d(ring[ring >= 0], hot)
        background[ring] *= 3.0
        lift = np.sort(rng.lognormal(0.0, 0.5, size=len(hot)))[::-1]
        kind = np.full(n, "", dtype=object)
        kind[hot] = "persistent"
        start = np.zeros(n, dtype=np.int64)
        fade = np.full((n, 2), weeks + 1, dtype=np.int64)
        emerging = np.empty(0, dtype=np.int64)
        if trends:
            n_fade = max(1, round(0.2 * len(hot)))
            # A fading hotspot was a clear one: take them from the stronger two thirds.
            strong = max(n_fade, round(2 * len(hot) / 3))
            fading = hot[rng.choice(strong, size=n_fade, replace=False)]
            kind[fading] = "fading"
            end = weeks - rng.integers(FADED_WEEKS, FADED_WEEKS + 7, size=n_fade)
            fade[fading, 1] = end
            fade[fading, 0] = end - np.maximum(4, (0.25 * weeks + rng.integers(0, 5, n_fade)))
            # Emerging: quiet places that were nearly empty before (nothing but stray records).
            n_emerge = max(1, round(0.1 * len(hot)))
            exclude = np.zeros(n, dtype=bool)
            exclude[hot] = True
            exclude[ring] = True
            emerging = _gumbel_top(rng, np.sqrt(busy) + 0.05, n_emerge, exclude=exclude)
            kind[emerging] = "emerging"
            start[emerging] = weeks - rng.integers(4, EMERGING_WEEKS + 1, size=len(emerging))
        kept = _schedule(start, fade, kind != "", np.arange(weeks)[:, None]).mean(axis=0)
        per_week = sum(ward_volumes(ward_code)[cat].values()) / REFERENCE_WEEKS
        floor = EMERGING_PER_WEEK / per_week
        share = _solve_hot_share(background, hot, lift, emerging, floor, kept,
                                 per_week * weeks, int(rng.integers(2**62)))
        w = _cell_weights(share, background, hot, lift, emerging, floor)
        weights[cat] = w / w.sum()
        kinds[cat] = kind
        on_week[cat] = start
        fades[cat] = fade
    return _WardPlan(ward_code, cells, cx, cy, radius, ax, ay, owner, addr_cum,
                     weights, kinds, on_week, fades)


def _cell_weights(share: float, background: np.ndarray, hot: np.ndarray, lift: np.ndarray,
                  emerging: np.ndarray, floor: float) -> np.ndarray:
    """Full-strength weight per cell: `share` for the hot cells, the rest spread by `background`."""
    w = (1 - share) * background / background.sum()
    w[hot] = share * lift / lift.sum()
    if len(emerging):
        # Strong enough to be seen within a few weeks even for the sparse ASB records.
        w[emerging] = min(max(EMERGING_LIFT * np.median(w[hot]), floor), EMERGING_MAX_SHARE)
    return w


def _solve_hot_share(background: np.ndarray, hot: np.ndarray, lift: np.ndarray,
                     emerging: np.ndarray, floor: float, kept: np.ndarray, expected: float,
                     noise_seed: int) -> float:
    """The hot cells' share that puts `TOP_CELLS_SHARE` of the period's records in the top
    `HOT_CELL_SHARE` of cells, whatever the ward's background looks like (bisection).

    Counts are noisy: with few records the busiest cells of a draw hold more than the busiest
    cells of the plan. A few Poisson draws from a generator seeded by `noise_seed` model that;
    the same seed at every step keeps the bisection steady.
    """
    k = max(1, round(HOT_CELL_SHARE * len(background)))
    lo, hi = 0.0, 0.95
    for _ in range(25):
        mid = (lo + hi) / 2
        mean = _cell_weights(mid, background, hot, lift, emerging, floor) * kept
        mean = expected * mean / mean.sum()
        counts = np.random.default_rng(noise_seed).poisson(mean, size=(8, len(mean)))
        top_k = -np.partition(-counts, k - 1, axis=1)[:, :k].sum(axis=1)
        top = np.mean(top_k / np.maximum(counts.sum(axis=1), 1))
        lo, hi = (mid, hi) if top < TOP_CELLS_SHARE else (lo, mid)
    return (lo + hi) / 2


def _schedule(on: np.ndarray, fade: np.ndarray, planted: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Share (0-1) of full strength in `week`: emerging places switch on at week `on`, fading ones
    ramp down from week `fade[:, 0]` to nothing at `fade[:, 1]`."""
    rising = (week >= on).astype(float)
    falling = np.clip((fade[..., 1] - week) / np.maximum(fade[..., 1] - fade[..., 0], 1), 0.0, 1.0)
    # A faded or not-yet-emerged place keeps a trickle of its records: nearly nothing.
    return np.maximum(np.minimum(rising, falling), TRICKLE * planted)


def _strength(plan: _WardPlan, cat: str, cell: np.ndarray, week: np.ndarray) -> np.ndarray:
    """`_schedule` of the cells `cell` of one ward and category in the weeks `week`."""
    return _schedule(plan.on_week[cat][cell], plan.fade_weeks[cat][cell], plan.kind[cat][cell] != "",
                     week)


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------

def _check_args(seed, weeks, end) -> dt.date:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"`seed` must be a whole number of 0 or more; got {seed!r}."
        raise InputError(msg)
    if isinstance(weeks, bool) or not isinstance(weeks, (int, np.integer)):
        msg = f"`weeks` must be a whole number of weeks; got {weeks!r}."
        raise InputError(msg)
    if not 1 <= weeks <= MAX_WEEKS:
        msg = f"`weeks` must be 1 to {MAX_WEEKS}; got {weeks}."
        raise InputError(msg)
    if isinstance(end, dt.datetime):
        end = end.date()
    if not isinstance(end, dt.date):
        msg = f"`end` must be a date (a Sunday), such as {DEFAULT_END.isoformat()}; got {end!r}."
        raise InputError(msg)
    if end.weekday() != 6:
        before = end - dt.timedelta(days=end.weekday() + 1)
        msg = (f"`end` must be a Sunday, the last day of an ISO week; {end.isoformat()} is a "
               f"{end.strftime('%A')}. Use {before.isoformat()} or {(before + dt.timedelta(7)).isoformat()}.")
        raise InputError(msg)
    return end


def _prepare_wards(wards: gpd.GeoDataFrame | None, settings: Settings) -> gpd.GeoDataFrame:
    if wards is None:
        return load_wards(priority_only=True, settings=settings)
    if not isinstance(wards, gpd.GeoDataFrame):
        msg = f"`wards` must be a GeoDataFrame of ward polygons (see load_wards); got {type(wards).__name__}."
        raise InputError(msg)
    if "ward_code" not in wards.columns:
        msg = "`wards` has no `ward_code` column; load it with hotspots.load_wards()."
        raise InputError(msg)
    if wards.empty:
        msg = "`wards` contains zero rows. Has a filter removed every ward?"
        raise InputError(msg)
    if wards.crs is None:
        msg = "`wards` has no CRS; set one with `wards.set_crs(...)` (load_wards gives EPSG:27700)."
        raise InputError(msg)
    codes = wards["ward_code"].astype(str)
    if codes.duplicated().any():
        msg = f"`wards` has ward code {codes[codes.duplicated()].iloc[0]!r} more than once."
        raise InputError(msg)
    out = wards.to_crs(BNG)
    bad = ~out.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if bad.any():
        msg = (f"`wards` row {int(np.flatnonzero(bad.to_numpy())[0])} is a "
               f"{out.geometry[bad].iloc[0].geom_type}; wards must be Polygon or MultiPolygon.")
        raise InputError(msg)
    return out


def _ward_rngs(seed: int, code: str) -> tuple[np.random.Generator, np.random.Generator]:
    # One stream per ward, so a ward's demo does not change when other wards are added.
    key = zlib.crc32(code.encode("utf-8"))
    return np.random.default_rng([seed, 0, key]), np.random.default_rng([seed, 1, key])


def _plans(seed: int, weeks: int, wards: gpd.GeoDataFrame) -> list[tuple[_WardPlan, np.random.Generator]]:
    wards = wards.sort_values("ward_code", kind="stable")
    area = wards.geometry.area.to_numpy() / 1e6
    out = []
    for i, code in enumerate(wards["ward_code"].astype(str)):
        plan_rng, event_rng = _ward_rngs(seed, code)
        plan = _plan_ward(code, wards.geometry.iloc[i], float(area[i]), weeks, plan_rng)
        out.append((plan, event_rng))
    return out


def ward_volumes(ward_code: str) -> dict[str, dict[str, float]]:
    """Records per crime type over the 24 reference months for one ward, by category.

    Returns
    -------
    dict
        category -> {police.uk crime type -> records in 24 months}. Wards without their own figures
        in `WARD_VOLUMES` get `LEEDS_AVERAGE_VOLUMES`.
    """
    total, asb, vso = WARD_VOLUMES.get(ward_code, LEEDS_AVERAGE_VOLUMES)
    robbery = ROBBERY_SHARE * total
    weapons = WEAPONS_SHARE * total
    rest = total - asb - vso - robbery - weapons
    share_sum = sum(OTHER_TYPE_SHARES.values())
    return {
        "asb": {"Anti-social behaviour": float(asb)},
        "serious_violence": {"Violence and sexual offences": float(vso), "Robbery": robbery,
                             "Possession of weapons": weapons},
        "other": {t: rest * s / share_sum for t, s in OTHER_TYPE_SHARES.items()},
    }


def generate_demo(
    *,
    seed: int = 0,
    weeks: int = 104,
    end: dt.date = DEFAULT_END,
    wards: gpd.GeoDataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Make synthetic incidents for the `weeks` ISO weeks ending on `end`.

    Per ward, category and week the volumes follow the 24 months of police.uk records in
    `WARD_VOLUMES` (scaled to the weeks asked for) with ASB seasonality, Halloween and Bonfire
    Night, ASB evenings and Friday/Saturday-night violence. About half of each category's
    incidents fall in about 5% of the ward's H3 resolution-10 cells: persistent hotspots, some
    emerging in the last weeks and some fading out. Every point lies inside its ward.

    Parameters
    ----------
    seed
        Random seed (0 or more); the same seed and arguments give the same incidents.
    weeks
        Number of ISO weeks, 1 to 520.
    end
        The last day, a Sunday. The output does not depend on today's date.
    wards
        Ward polygons with `ward_code` (any CRS); None for the priority wards of `load_wards`.
    settings
        Resolved settings (timezone, category and harm tables); `get_settings()` when None.

    Returns
    -------
    DataFrame
        Incidents in the data model (`x`, `y` in EPSG:27700), `source` "demo", `time_precision` "minute",
        `incident_id` "demo-<seed>-<n>" numbered in time order, sorted by `occurred_at`.

    Raises
    ------
    InputError
        A bad `seed`, `weeks`, `end` or `wards`.
    """
    end = _check_args(seed, weeks, end)
    settings = settings or get_settings()
    wards = _prepare_wards(wards, settings)
    seed = int(seed)
    weeks = int(weeks)
    first = end - dt.timedelta(days=7 * weeks - 1)
    days = pd.date_range(first, end, freq="D")
    day_of_week = days.day_of_week.to_numpy()
    hour_cdf = {cat: np.cumsum(_week_hours(cat), axis=1) / _week_hours(cat).sum(axis=1)[:, None]
                for cat in CATEGORY_ORDER}

    parts: list[dict[str, np.ndarray]] = []
    for plan, rng in _plans(seed, weeks, wards):
        volumes = ward_volumes(plan.ward_code)
        for cat in CATEGORY_ORDER:
            types = list(volumes[cat])
            counts = np.array([volumes[cat][t] for t in types])
            rate = _daily_rates(days, cat, counts.sum() / 24)
            n = rng.poisson(rate.sum())
            day = rng.choice(len(days), size=n, p=rate / rate.sum())
            # Where: by the cells' weights at their strength in that week. Emerging and fading
            # places take their share from the rest of the ward, never add to its volume, so
            # the monthly and weekly totals stay those of `rate` (rejection sampling).
            week = day // 7
            cell = np.empty(n, dtype=np.int64)
            todo = np.arange(n)
            while len(todo):
                pick = rng.choice(len(plan.weights[cat]), size=len(todo), p=plan.weights[cat])
                ok = rng.random(len(todo)) < _strength(plan, cat, pick, week[todo])
                cell[todo[ok]] = pick[ok]
                todo = todo[~ok]
            u = rng.random(n)
            hour = np.minimum((u[:, None] > hour_cdf[cat][day_of_week[day]]).sum(axis=1), 23)
            minute = rng.integers(0, 60, size=n)
            addr = np.searchsorted(plan.addr_cum, cell + rng.random(n), side="right")
            addr = np.minimum(addr, len(plan.addr_cum) - 1)
            x, y = plan.addr_x[addr].copy(), plan.addr_y[addr].copy()
            # Some records are geocoded to the exact address point, others a few metres off it;
            # a jittered point must stay in its cell and ward, else it falls back to the address.
            jitter = rng.random(n) < 0.4
            jx = np.round(x + jitter * rng.normal(0.0, 4.0, size=n), 1)
            jy = np.round(y + jitter * rng.normal(0.0, 4.0, size=n), 1)
            owner = plan.addr_cell[addr]
            ok = np.hypot(jx - plan.cx[owner], jy - plan.cy[owner]) < plan.radius_m[owner] / 0.8 * 0.95
            ok &= shapely.contains_xy(wards.loc[wards["ward_code"] == plan.ward_code].geometry.iloc[0], jx, jy)
            x = np.where(ok, jx, x)
            y = np.where(ok, jy, y)
            type_idx = rng.choice(len(types), size=n, p=counts / counts.sum())
            parts.append({
                "day": day, "minute": hour * 60 + minute, "x": x, "y": y,
                "type": np.asarray(types, dtype=object)[type_idx],
            })

    day = np.concatenate([p["day"] for p in parts])
    minute = np.concatenate([p["minute"] for p in parts])
    x = np.concatenate([p["x"] for p in parts])
    y = np.concatenate([p["y"] for p in parts])
    crime_type = np.concatenate([p["type"] for p in parts])
    naive = pd.Series(days.to_numpy()[day] + minute.astype("timedelta64[m]"))
    # The clock-change hours: an autumn hour happens twice (pick either), a spring hour not at all.
    local = naive.dt.tz_localize(settings.timezone, ambiguous=(minute % 2 == 0),
                                 nonexistent=pd.Timedelta(hours=1))
    instant = local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("int64")
    order = np.lexsort((crime_type.astype(str), y, x, instant))
    local = local.iloc[order].reset_index(drop=True)
    x, y, crime_type = x[order], y[order], crime_type[order]
    n = len(order)
    log.info("generated %d synthetic demo incidents, %s to %s", n, first, end)
    return make_incidents(
        incident_id=[f"demo-{seed}-{i}" for i in range(1, n + 1)],
        occurred_at=local,
        time_precision="minute",
        crime_type=crime_type,
        x=x,
        y=y,
        source="demo",
        settings=settings,
        location=_location_names(x, y),
    )


def demo_hotspots(
    *,
    seed: int = 0,
    weeks: int = 104,
    end: dt.date = DEFAULT_END,
    wards: gpd.GeoDataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The hotspots `generate_demo` planted with the same arguments: the truth to check analyses by.

    Returns
    -------
    DataFrame
        One row per planted cell and category: `ward_code`, `category`, `h3_cell` (H3 resolution
        10, uint64 like every `h3_cell` column; `hotspots.cells.cells_to_str` gives the hex form), `kind` (`persistent`, `emerging` or `fading`), `weight` (share of
        the ward's category at full strength), `first_week` (0-based week an emerging hotspot
        starts) and `faded_week` (week from which a fading one is near zero; else null).
    """
    end = _check_args(seed, weeks, end)
    settings = settings or get_settings()
    wards = _prepare_wards(wards, settings)
    rows = []
    for plan, _ in _plans(int(seed), int(weeks), wards):
        for cat in CATEGORY_ORDER:
            for j in np.flatnonzero(plan.kind[cat] != ""):
                kind = plan.kind[cat][j]
                rows.append({
                    "ward_code": plan.ward_code, "category": cat, "h3_cell": plan.cells[j],
                    "kind": kind, "weight": float(plan.weights[cat][j]),
                    "first_week": int(plan.on_week[cat][j]) if kind == "emerging" else pd.NA,
                    "faded_week": int(plan.fade_weeks[cat][j, 1]) if kind == "fading" else pd.NA,
                })
    out = pd.DataFrame(rows, columns=["ward_code", "category", "h3_cell", "kind", "weight",
                                      "first_week", "faded_week"])
    out["h3_cell"] = out["h3_cell"].astype(h3cells.CELL_DTYPE)
    out["first_week"] = out["first_week"].astype("Int64")
    out["faded_week"] = out["faded_week"].astype("Int64")
    return out


# --------------------------------------------------------------------------------------------
# Police.uk format
# --------------------------------------------------------------------------------------------

_PLACES = (
    "Parking Area", "Supermarket", "Shopping Area", "Petrol Station", "Park/Open Space",
    "Sports/Recreation Area", "Further/Higher Educational Building", "Bus/Coach Station",
    "Nightclub", "Pedestrian Subway", "Hospital", "Police Station",
)
_STREET_NAMES = (
    "Ashfield", "Beechwood", "Cherrytree", "Elmfield", "Fernbank", "Hawthorn", "Hollinwood",
    "Larchmont", "Lindenfold", "Maplewell", "Oakdene", "Poplarside", "Rowanbeck", "Sycamore",
    "Willowgarth", "Hazelhurst", "Briarcliffe", "Thornleigh", "Meadowcroft", "Brookfold",
    "Millstone", "Kestrel", "Carrfield", "Granary", "Quarrydene", "Weaver", "Foundry",
    "Tannery", "Cloth Hall", "Dyehouse", "Chapelgate", "Becksfield",
)
_STREET_KINDS = (
    "Street", "Road", "Lane", "Avenue", "Grove", "Terrace", "Mount", "Place", "View",
    "Crescent", "Close", "Drive", "Walk", "Row", "Gardens", "Approach",
)
_OUTCOMES = (
    ("Investigation complete; no suspect identified", 0.36),
    ("Unable to prosecute suspect", 0.34),
    ("Under investigation", 0.07),
    ("Status update unavailable", 0.05),
    ("Awaiting court outcome", 0.04),
    ("Local resolution", 0.04),
    ("Offender given a caution", 0.02),
    ("Formal action is not in the public interest", 0.03),
    ("Action to be taken by another organisation", 0.03),
    ("Further investigation is not in the public interest", 0.02),
)


def _location_names(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A synthetic "On or near ..." per point, the same for every point of one 25 m square."""
    gx = np.floor(x / 25.0).astype(np.int64)
    gy = np.floor(y / 25.0).astype(np.int64)
    key = (gx * 73_856_093) ^ (gy * 19_349_663)
    key = np.abs(key) % 1_000_003
    streets = np.array([f"On or near {a} {b}" for a in _STREET_NAMES for b in _STREET_KINDS],
                       dtype=object)
    places = np.array([f"On or near {p}" for p in _PLACES], dtype=object)
    return np.where(key % 10 == 0, places[key % len(places)], streets[key % len(streets)])


def _locations(incidents: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each incident's own `location`, or a synthetic "On or near ..." where it has none."""
    made = _location_names(x, y)
    if "location" not in incidents.columns:
        return made
    own = incidents["location"].fillna("").astype(str).to_numpy(dtype=object)
    return np.where(own != "", own, made)


def _crime_ids(ids: pd.Series) -> np.ndarray:
    out = ids.astype(str).to_numpy(dtype=object).copy()
    hexlike = ids.astype(str).str.fullmatch(r"[0-9a-f]{64}").to_numpy()
    for i in np.flatnonzero(~hexlike):
        out[i] = hashlib.sha256(out[i].encode("utf-8")).hexdigest()
    return out


def write_policeuk_csv(incidents: pd.DataFrame, directory: str | Path) -> list[Path]:
    """Write incidents as police.uk street-level CSVs, one file per calendar month.

    Files are `<directory>/YYYY-MM/YYYY-MM-west-yorkshire-street.csv` with the twelve police.uk
    columns, so the police.uk ingest path can be tried on demo data. Like police.uk, the files keep
    only the month; coordinates are WGS84 with 6 decimals. Crimes get a 64-character hex `Crime ID`
    (their own when they have one, else a hash of `incident_id`); ASB rows have none. `Location`
    is the incident's own (a synthetic "On or near ..." where it has none), `Context` says the row is
    synthetic (`hotspots ingest` reads such rows back as source demo) and the LSOA columns are blank: the demo knows no LSOAs.
    Each file is written to a temporary name and then renamed, so none is left half-written.

    Returns
    -------
    list of Path
        The files written, in month order.

    Raises
    ------
    InputError
        `incidents` without the data model's columns, without a CRS or with no rows.
    """
    needed = ["incident_id", "occurred_at", "crime_type", "category"]
    if not isinstance(incidents, pd.DataFrame):
        msg = f"`incidents` must be a DataFrame of incidents; got {type(incidents).__name__}."
        raise InputError(msg)
    missing = [c for c in needed if c not in incidents.columns]
    if missing:
        msg = f"`incidents` lacks the column(s) {', '.join(missing)} of the incident data model."
        raise InputError(msg)
    if incidents.empty:
        msg = "`incidents` contains zero rows; there is nothing to write."
        raise InputError(msg)
    x, y = incident_xy(incidents)  # EPSG:27700
    times = incidents["occurred_at"]
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        msg = f"`incidents` row {row} has no `occurred_at`; police.uk files need a month for every row."
        raise InputError(msg)
    lon, lat = pyproj.Transformer.from_crs(BNG, WGS84, always_xy=True).transform(x, y)
    month = times.dt.strftime("%Y-%m").to_numpy()
    is_asb = (incidents["category"].astype(str) == "asb").to_numpy()
    crime_id = np.where(is_asb, "", _crime_ids(incidents["incident_id"]))

    # Outcomes: a deterministic draw from the Crime ID; recent crimes are mostly still open.
    labels = np.array([o for o, _ in _OUTCOMES], dtype=object)
    cdf = np.cumsum([p for _, p in _OUTCOMES])
    u = np.array([int(c[:8], 16) / 0xFFFFFFFF if c else 0.0 for c in crime_id])
    outcome = labels[np.minimum(np.searchsorted(cdf / cdf[-1], u), len(labels) - 1)]
    months_sorted = sorted(set(month))
    recent = np.isin(month, months_sorted[-2:]) & (u < 0.6)
    outcome = np.where(recent, "Under investigation", outcome)
    outcome = np.where(is_asb, "", outcome)

    frame = pd.DataFrame({
        "Crime ID": crime_id,
        "Month": month,
        "Reported by": FORCE,
        "Falls within": FORCE,
        "Longitude": np.char.mod("%.6f", lon),
        "Latitude": np.char.mod("%.6f", lat),
        "Location": _locations(incidents, x, y),
        "LSOA code": "",
        "LSOA name": "",
        "Crime type": incidents["crime_type"].astype(str).to_numpy(),
        "Last outcome category": outcome,
        "Context": DEMO_CONTEXT,
    }, columns=POLICEUK_COLUMNS)

    directory = Path(directory)
    written = []
    for m in months_sorted:
        folder = directory / m
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{m}-west-yorkshire-street.csv"
        tmp = folder / f".{path.name}.tmp"
        frame[frame["Month"] == m].to_csv(tmp, index=False, lineterminator="\n")
        os.replace(tmp, path)
        written.append(path)
    log.info("wrote %d police.uk-format files in %s", len(written), directory)
    return written
