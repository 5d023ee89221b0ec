"""Patrol teams: who patrols, from which base, when and how (by vehicle or on foot)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings
from routing.network import MODES

_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")
_WARD_CODE = re.compile(r"^[EWSN]\d{8}$")


@dataclass(frozen=True)
class Team:
    """One patrol team for one shift.

    Parameters
    ----------
    name
        How the team is shown on plans.
    base
        Where the shift starts and ends: (longitude, latitude) in WGS84, or a ward code whose
        centroid is used (snapped to the street network when there is one).
    shift_start
        Start of the shift: "HH:MM", a `datetime.time`, or a `datetime` (then the plan shows dates).
    shift_min
        Length of the shift in minutes, travel and dwell included.
    mode
        `drive` (marked vehicle) or `walk` (foot patrol).
    home_wards
        Ward codes the team patrols; a plan keeps its route to them unless asked otherwise
        (`routing.plan_deployment(any_ward=True)`). Empty: any ward.
    """

    name: str
    base: Any
    shift_start: Any = "16:00"
    shift_min: float = 240
    mode: str = "drive"
    home_wards: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            msg = f"a team needs a non-empty `name`, not {self.name!r}."
            raise InputError(msg)
        if self.mode not in MODES:
            msg = f"team {self.name!r}: `mode` is {self.mode!r}; expected one of {', '.join(MODES)}."
            raise InputError(msg)
        try:
            shift = float(self.shift_min)
        except (TypeError, ValueError):
            shift = math.nan
        if not math.isfinite(shift) or shift <= 0 or shift > 24 * 60:
            msg = (f"team {self.name!r}: `shift_min` is {self.shift_min!r}; expected minutes "
                   "between 1 and 1440.")
            raise InputError(msg)
        _ = self.start_minute  # validates shift_start
        _base_kind(self.base, self.name)
        wards = self.home_wards
        if isinstance(wards, str) or not all(isinstance(w, str) and _WARD_CODE.match(w)
                                             for w in wards):
            msg = (f"team {self.name!r}: `home_wards` is {wards!r}; expected ward codes such as "
                   "('E05011394',).")
            raise InputError(msg)
        object.__setattr__(self, "home_wards", tuple(wards))

    @property
    def start_minute(self) -> float:
        """Start of the shift in minutes after midnight."""
        return _minute_of_day(self.shift_start, self.name)

    @property
    def date(self) -> dt.date | None:
        """The shift's date when `shift_start` carries one."""
        if isinstance(self.shift_start, dt.datetime):
            return self.shift_start.date()
        return None

    def to_dict(self) -> dict[str, Any]:
        base = self.base if isinstance(self.base, str) else [float(self.base[0]), float(self.base[1])]
        start = self.shift_start
        if isinstance(start, dt.datetime | dt.time):
            start = start.isoformat()
        out = {"name": self.name, "base": base, "shift_start": start,
               "shift_min": float(self.shift_min), "mode": self.mode}
        if self.home_wards:
            out["home_wards"] = list(self.home_wards)
        return out


def _minute_of_day(value: Any, name: str) -> float:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.hour * 60 + value.minute + value.second / 60
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute + value.second / 60
    if isinstance(value, str):
        m = _CLOCK.match(value)
        if m:
            return int(m.group(1)) * 60 + int(m.group(2))
    msg = (f"team {name!r}: `shift_start` is {value!r}; expected a time of day as 'HH:MM' (such as "
           "'16:00'), a datetime.time or a datetime.")
    raise InputError(msg)


def _base_kind(base: Any, name: str) -> str:
    if isinstance(base, str):
        if _WARD_CODE.match(base.strip()):
            return "ward"
        msg = (f"team {name!r}: base {base!r} is not a ward code (such as 'E05011394') or a "
               "(longitude, latitude) pair.")
        raise InputError(msg)
    if isinstance(base, shapely.Point):
        base = (base.x, base.y)
    try:
        lon, lat = (float(v) for v in base)
    except (TypeError, ValueError):
        msg = (f"team {name!r}: base {base!r} is not a ward code or a (longitude, latitude) pair.")
        raise InputError(msg) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = (f"team {name!r}: base ({lon}, {lat}) is not a longitude/latitude pair in degrees "
               "(longitude first).")
        raise InputError(msg)
    if abs(lon) > 10 and abs(lat) < 10:
        msg = (f"team {name!r}: base ({lon}, {lat}) looks like (latitude, longitude); give the "
               "longitude first.")
        raise InputError(msg)
    return "point"


def base_points(teams: list[Team], *, wards: gpd.GeoDataFrame | None = None,
                settings: Settings | None = None) -> list[shapely.Point]:
    """The base of each team as a point in EPSG:27700 (metres).

    A ward base is the ward's centroid (the embedded Leeds wards unless `wards` is given).

    Raises
    ------
    InputError
        A ward code that is not in the boundaries.
    """
    out: list[shapely.Point | None] = [None] * len(teams)
    by_code: dict[str, Any] | None = None
    for i, team in enumerate(teams):
        if _base_kind(team.base, team.name) == "point":
            b = team.base
            lon, lat = (b.x, b.y) if isinstance(b, shapely.Point) else (float(b[0]), float(b[1]))
            out[i] = shapely.Point(_to_bng().transform(lon, lat))
            continue
        if by_code is None:
            if wards is None:
                by_code = _ward_centroids(settings or get_settings())
            else:
                projected = wards.to_crs(BNG)
                by_code = dict(zip(projected["ward_code"].astype(str),
                                   projected.geometry.centroid, strict=True))
        code = team.base.strip()
        if code not in by_code:
            msg = (f"team {team.name!r}: base ward {code!r} is not in the ward boundaries; use "
                   "a ward code such as 'E05011394' or a (longitude, latitude) pair.")
            raise InputError(msg)
        out[i] = by_code[code]
    return [p for p in out if p is not None]


@functools.cache
def _to_bng() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(WGS84, BNG, always_xy=True)


_CENTROIDS: dict[tuple, dict[str, shapely.Point]] = {}


def _ward_centroids(settings: Settings) -> dict[str, shapely.Point]:
    """Ward code -> centroid (EPSG:27700) of the settings' boundary file, read once per file
    version (every plan of default teams needs them)."""
    from hotspots.wards import load_wards

    path = settings.wards_path
    stamp = Path(path).stat().st_mtime_ns if path and Path(path).is_file() else None
    key = (str(path), stamp, settings.wards_code_field, settings.wards_name_field)
    if key not in _CENTROIDS:
        projected = load_wards(settings=settings).to_crs(BNG)
        _CENTROIDS.clear()
        _CENTROIDS[key] = dict(zip(projected["ward_code"].astype(str),
                                   projected.geometry.centroid, strict=True))
    return _CENTROIDS[key]


def parse_team_spec(spec: str, *, shift_start: Any = "16:00", shift_min: float = 240,
                    mode: str = "drive") -> Team:
    """A team from a settings entry 'NAME=BASE' (BASE a ward code or 'longitude latitude')."""
    name, _, base_text = spec.rpartition("=")
    base_text = base_text.strip()
    base: Any = base_text
    if not _WARD_CODE.match(base_text):
        parts = base_text.replace(",", " ").split()
        try:
            base = (float(parts[0]), float(parts[1]))
        except (IndexError, ValueError):
            msg = (f"team entry {spec!r}: BASE must be a ward code or 'longitude latitude', "
                   f"not {base_text!r}.")
            raise InputError(msg) from None
    name = name.strip() or base_text
    return Team(name, base, shift_start, shift_min, mode)


def default_teams(n: int | None = None, *, shift_start: Any = None, shift_min: float | None = None,
                  mode: str | None = None, settings: Settings | None = None) -> list[Team]:
    """The first `n` teams of the `patrol_teams` setting (all when None).

    By default one team per priority ward, based at the ward's centroid, with the shift start,
    length and mode from the settings (16:00, 240 minutes, drive).
    """
    settings = settings or get_settings()
    specs = list(settings.patrol_teams)
    if n is not None:
        if n < 1:
            msg = f"`teams` must be at least 1, not {n}."
            raise InputError(msg)
        if n > len(specs):
            msg = (f"{n} teams asked for but the patrol_teams setting defines {len(specs)}; add "
                   "entries ('NAME=BASE') to patrol_teams in hotspots.toml.")
            raise InputError(msg)
        specs = specs[:n]
    return [parse_team_spec(s, shift_start=shift_start or settings.patrol_shift_start,
                            shift_min=shift_min or settings.patrol_shift_min,
                            mode=mode or settings.patrol_mode) for s in specs]
