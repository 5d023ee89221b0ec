"""One typed settings object for the whole service, read when a function runs, never at import.

Every setting is declared once in `SETTINGS`: its type, default, allowed values and the sentence that
documents it. Values come, in increasing priority, from the defaults, the `hotspots.toml` file in the
instance folder, `HOTSPOTS_*` environment variables (scalar settings only) and keyword overrides.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotspots.errors import InputError

#: The six priority wards of Safer Leeds (ONS codes, December 2019).
PRIORITY_WARDS: tuple[str, ...] = (
    "E05011394",  # Gipton & Harehills
    "E05011388",  # Burmantofts & Richmond Hill
    "E05012647",  # Beeston & Holbeck
    "E05011400",  # Killingbeck & Seacroft
    "E05011385",  # Armley
    "E05011399",  # Hunslet & Riverside
)

CATEGORIES: tuple[str, ...] = ("asb", "serious_violence", "other")

#: Source crime type -> category. Police.uk labels first, then common force-export labels.
#: `serious_violence` for police.uk data is a proxy for the Home Office definition (violence with
#: injury, robbery, weapons): police.uk publishes all violence and sexual offences as one category.
DEFAULT_CATEGORY_TABLE: dict[str, str] = {
    "Anti-social behaviour": "asb",
    "Violence and sexual offences": "serious_violence",
    "Robbery": "serious_violence",
    "Possession of weapons": "serious_violence",
    "Bicycle theft": "other",
    "Burglary": "other",
    "Criminal damage and arson": "other",
    "Drugs": "other",
    "Other crime": "other",
    "Other theft": "other",
    "Public order": "other",
    "Shoplifting": "other",
    "Theft from the person": "other",
    "Vehicle crime": "other",
    # Force exports: ASB incident types.
    "ASB - Personal": "asb",
    "ASB - Nuisance": "asb",
    "ASB - Environmental": "asb",
    "Youth nuisance": "asb",
    "Vehicle nuisance": "asb",
    "Nuisance motorcycles": "asb",
    "Noise": "asb",
    "Neighbour nuisance": "asb",
    "Rowdy or inconsiderate behaviour": "asb",
    "Street drinking": "asb",
    "Begging": "asb",
    "Fireworks": "asb",
    # Force exports: Home Office offence subgroups (serious violence as defined for hotspot funding).
    "Homicide": "serious_violence",
    "Violence with injury": "serious_violence",
    "Robbery of business property": "serious_violence",
    "Robbery of personal property": "serious_violence",
    "Possession of weapons offences": "serious_violence",
    "Violence without injury": "other",
    "Stalking and harassment": "other",
    "Death or serious injury - unlawful driving": "other",
    "Rape offences": "other",
    "Other sexual offences": "other",
    "Public order offences": "other",
    "Criminal damage": "other",
    "Arson": "other",
    "Other theft offences": "other",
    "Vehicle offences": "other",
    "Residential burglary": "other",
    "Non-residential burglary": "other",
    "Possession of drugs": "other",
    "Trafficking of drugs": "other",
    "Miscellaneous crimes against society": "other",
}

#: Harm weights in days: Cambridge Crime Harm Index (median days of imprisonment per offence,
#: 2026 update), rolled up to police.uk categories, and per Home Office offence subgroup.
#: Source: Cambridge Crime Harm Index, rolled up to police.uk categories.
DEFAULT_HARM_DAYS: dict[str, float] = {
    "Violence and sexual offences": 194.21,
    "Public order": 7.5,
    "Criminal damage and arson": 11.18,
    "Shoplifting": 1.0,
    "Other theft": 2.0,
    "Vehicle crime": 5.0,
    "Burglary": 244.68,
    "Drugs": 3.66,
    "Theft from the person": 2.0,
    "Robbery": 365.0,
    "Possession of weapons": 273.75,
    "Bicycle theft": 2.0,
    "Other crime": 10.0,
    "Homicide": 5475.0,
    "Violence with injury": 365.0,
    "Violence without injury": 10.0,
    "Stalking and harassment": 10.0,
    "Death or serious injury - unlawful driving": 365.0,
    "Rape offences": 2555.0,
    "Other sexual offences": 182.25,
    "Public order offences": 7.5,
    "Criminal damage": 2.0,
    "Arson": 185.0,
    "Other theft offences": 2.0,
    "Vehicle offences": 5.0,
    "Residential burglary": 273.5,
    "Non-residential burglary": 183.5,
    "Possession of drugs": 3.0,
    "Trafficking of drugs": 5.0,
    "Robbery of business property": 365.0,
    "Robbery of personal property": 365.0,
    "Possession of weapons offences": 273.75,
    "Miscellaneous crimes against society": 10.0,
}


@dataclass(frozen=True)
class Setting:
    """The declaration of one setting: it drives defaults, validation and the docs."""

    name: str
    kind: str  # str, int, float, bool, path, choice, str_list, str_map, float_map
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns an error sentence or None


def _check_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "a timezone name from the IANA database, such as 'Europe/London'"
    return None


def _check_categories(value: Mapping[str, str]) -> str | None:
    bad = {k: v for k, v in value.items() if v not in CATEGORIES}
    if bad:
        key, val = next(iter(bad.items()))
        return f"category names from {', '.join(CATEGORIES)} (got {val!r} for {key!r})"
    return None


def _check_harm(value: Mapping[str, float]) -> str | None:
    bad = {k: v for k, v in value.items() if v < 0}
    if bad:
        key, val = next(iter(bad.items()))
        return f"non-negative numbers of days (got {val!r} for {key!r})"
    return None


#: Patrol teams: "NAME=BASE", the base a ward code or "longitude latitude" (WGS84).
DEFAULT_PATROL_TEAMS: tuple[str, ...] = (
    "Gipton & Harehills=E05011394",
    "Burmantofts & Richmond Hill=E05011388",
    "Beeston & Holbeck=E05012647",
    "Killingbeck & Seacroft=E05011400",
    "Armley=E05011385",
    "Hunslet & Riverside=E05011399",
)

#: Vehicle speed in mph by OSM `highway` type, used where a street has no `maxspeed` tag. Urban UK
#: defaults: 30 mph on lit ("restricted") roads, national limits on motorways and trunk roads.
DEFAULT_ROAD_SPEEDS_MPH: dict[str, float] = {
    "motorway": 70.0,
    "motorway_link": 40.0,
    "trunk": 50.0,
    "trunk_link": 30.0,
    "primary": 30.0,
    "primary_link": 30.0,
    "secondary": 30.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 20.0,
    "busway": 20.0,
    "living_street": 10.0,
    "service": 10.0,
    "other": 20.0,
}


def _check_clock(value: str) -> str | None:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
        return "a time of day as HH:MM, such as '16:00'"
    return None


def _check_windows(value: Mapping[str, str]) -> str | None:
    clock = r"([01]?\d|2[0-3]):[0-5]\d"
    for key, val in value.items():
        if key not in CATEGORIES:
            return f"category names from {', '.join(CATEGORIES)} (got {key!r})"
        if not re.fullmatch(rf"\s*{clock}\s*-\s*{clock}\s*", val):
            return f"a window as 'HH:MM-HH:MM' (got {val!r} for {key!r})"
    return None


def _check_teams(value: tuple[str, ...]) -> str | None:
    for item in value:
        base = item.split("=", 1)[-1].strip()
        if not base:
            return f"'NAME=BASE' entries with a ward code or 'longitude latitude' as BASE (got {item!r})"
    return None


def _check_speeds(value: Mapping[str, float]) -> str | None:
    bad = {k: v for k, v in value.items() if not 1 <= v <= 100}
    if bad:
        key, val = next(iter(bad.items()))
        return f"speeds between 1 and 100 mph (got {val!r} for {key!r})"
    return None


SETTINGS: tuple[Setting, ...] = (
    Setting("priority_wards", "str_list", PRIORITY_WARDS,
            "ONS codes of the wards analysed by default (the six Safer Leeds priority wards)."),
    Setting("wards_path", "path", None,
            "Ward boundary file (GeoJSON, GeoPackage or shapefile); empty for the embedded Leeds wards."),
    Setting("wards_code_field", "str", "ward_code", "Field of the boundary file holding the ward code."),
    Setting("wards_name_field", "str", "ward_name", "Field of the boundary file holding the ward name."),
    Setting("categories", "str_map", DEFAULT_CATEGORY_TABLE,
            "Source crime type -> category (asb, serious_violence, other). Entries in hotspots.toml "
            "are added to the defaults or replace them.", check=_check_categories),
    Setting("harm_days", "float_map", DEFAULT_HARM_DAYS,
            "Harm weight in days per source crime type (Cambridge Crime Harm Index, rolled up to "
            "police.uk categories). Entries in hotspots.toml are added or replace the defaults.",
            check=_check_harm),
    Setting("asb_harm_days", "float", 1.0,
            "Harm weight of an ASB incident. The Crime Harm Index has none (ASB is not a crime); the "
            "default equals the least harmful crime (shoplifting, 1 day). Used for every asb type "
            "without its own entry in harm_days.", minimum=0.0),
    Setting("unknown_harm_days", "float", 1.0,
            "Harm weight of a crime type with no entry in harm_days.", minimum=0.0),
    Setting("unknown_crime_type", "choice", "other",
            "What to do with a crime type missing from the category table: map it to 'other' and "
            "count it, or refuse the file with an 'error'.", choices=("other", "error")),
    Setting("exclude_btp", "bool", True,
            "Leave out British Transport Police rows of police.uk files (their points lie on the "
            "rail network)."),
    Setting("ward_snap_m", "float", 50.0,
            "Incidents outside every ward of the boundary file by at most this many metres are "
            "counted in the nearest ward (police.uk snap points just past generalised ward "
            "outlines); 0 counts by point in polygon only.", minimum=0.0, maximum=1000.0),
    Setting("h3_resolution", "int", 10,
            "H3 resolution of hotspot cells: 10 (about 0.015 km2, a 150-250 m patrol box) or 9 for "
            "an overview.", minimum=5, maximum=13),
    Setting("timezone", "str", "Europe/London", "Timezone of incident times and periods.",
            check=_check_timezone),
    Setting("trend_weeks", "int", 8, "Periods looked back over for weekly trend classes.",
            minimum=3, maximum=104),
    Setting("trend_months", "int", 6, "Periods looked back over for monthly trend classes.",
            minimum=3, maximum=60),
    Setting("fdr_alpha", "float", 0.05,
            "False-discovery rate (Benjamini-Hochberg) before a cell is called a hotspot.",
            minimum=0.0001, maximum=0.5),
    Setting("hot_min_count", "int", 1,
            "Fewest incidents a cell must hold in the period to be called a hotspot (its Gi* must "
            "also be significant after FDR); an emptier cell beside a cluster is only 'next to a "
            "hotspot'.", minimum=1, maximum=1000),
    Setting("institution_labels", "str_list", ("Prison", "Police Station", "Hospital"),
            "Place labels (police.uk 'On or near ...') of institutions: crime recorded there is not "
            "street crime a patrol can prevent. It is left out of the hotspot statistics, a cell "
            "whose incidents are mostly there is flagged, and patrols skip it (see "
            "patrol_skip_institutions)."),
    Setting("dwell_min", "float", 15.0, "Default patrol dwell time per stop in minutes (Koper curve).",
            minimum=10.0, maximum=16.0),
    Setting("visit_confirm_min", "float", 2.0,
            "A patrol visit shorter than this many minutes is stored only after the guardian "
            "confirms it (a quick second tap is more often a slip than a visit); 0 never asks.",
            minimum=0.0, maximum=15.0),
    Setting("patrol_speed_factor", "float", 0.8,
            "Share of the speed limit a vehicle patrol drives at.", minimum=0.1, maximum=1.5),
    Setting("walk_speed_kmh", "float", 4.8, "Foot patrol walking speed in km/h.",
            minimum=1.0, maximum=10.0),
    Setting("circuity_factor", "float", 1.3,
            "Street distance over straight-line distance, used when no street network is loaded.",
            minimum=1.0, maximum=3.0),
    Setting("drive_speed_kmh", "float", 30.0,
            "Average vehicle patrol speed in km/h, used when no street network is loaded.",
            minimum=5.0, maximum=100.0),
    Setting("road_speeds_mph", "float_map", DEFAULT_ROAD_SPEEDS_MPH,
            "Vehicle speed in mph by OSM highway type where a street has no maxspeed tag (UK "
            "defaults); 'other' covers every type not listed.", check=_check_speeds),
    Setting("patrol_teams", "str_list", DEFAULT_PATROL_TEAMS,
            "Patrol teams as 'NAME=BASE', BASE a ward code (its centroid, and the team's home "
            "ward) or 'longitude latitude': the app's first start puts them in the teams table, "
            "which plans choose from.", check=_check_teams),
    Setting("patrol_shift_start", "str", "16:00", "Default start of a patrol shift (HH:MM).",
            check=_check_clock),
    Setting("patrol_shift_min", "int", 240, "Default patrol shift length in minutes.",
            minimum=10, maximum=720),
    Setting("patrol_mode", "choice", "drive",
            "Default patrol mode: drive (vehicle patrols) or walk (foot patrols).",
            choices=("drive", "walk")),
    Setting("patrol_prize", "choice", "harm",
            "What a patrol stop is worth: its harm score, its Gi* z-score or its incident count.",
            choices=("harm", "gi_z", "count")),
    Setting("patrol_stops_per_ward", "int", 15,
            "Candidate patrol stops taken from the top of the ranking in each ward.",
            minimum=1, maximum=200),
    Setting("patrol_join_ring", "int", 1,
            "Candidate stops in cells this many H3 steps from a better one in the same ward join "
            "its stop, so a hotspot that spans neighbouring cells is one stop with one dwell "
            "(Koper curve) instead of several side by side; 0 keeps every cell its own stop.",
            minimum=0, maximum=3),
    Setting("patrol_skip_institutions", "bool", True,
            "Leave cells whose incidents are mostly at an institution (institution_labels) out of "
            "patrol plans."),
    Setting("patrol_windows", "str_map", {},
            "Optional visiting windows by category, e.g. asb = '16:00-23:00': stops of that "
            "category are visited only then.", check=_check_windows),
    Setting("patrol_vary_designated", "bool", True,
            "Visit a team's designated hotspots in a different order and at different times on "
            "consecutive shifts (seeded by the date: reproducible), with the same dosage."),
    Setting("hotspot_visits_per_week", "int", 7,
            "Dosage target of a newly designated hotspot: patrol visits per week.",
            minimum=1, maximum=100),
    Setting("hotspot_minutes_per_visit", "float", 15.0,
            "Dosage target of a newly designated hotspot: minutes per visit (Koper curve).",
            minimum=1.0, maximum=240.0),
    Setting("hotspot_review_weeks", "int", 12,
            "Weeks from a designated hotspot's start to its default review date.",
            minimum=1, maximum=104),
    Setting("impact_min_days", "int", 28,
            "Fewest days of data after a designated hotspot's start before its impact is "
            "estimated (police.uk data needs a whole month after the start).",
            minimum=7, maximum=365),
    Setting("impact_buffer_k", "int", 1,
            "Width of the buffer ring around a designated hotspot, in H3 cells (1 or 2), where "
            "impact looks for displacement or diffusion of benefit.", minimum=1, maximum=2),
    Setting("impact_comparison", "choice", "wards",
            "Comparison area for impact: the rest of the hotspot's wards, or matched cells with "
            "similar counts before the start (guards against regression to the mean).",
            choices=("wards", "matched")),
    Setting("network_overpass_url", "str", "https://overpass-api.de/api",
            "Overpass API endpoint street networks are downloaded from."),
    Setting("network_connect_timeout_s", "float", 5.0,
            "Seconds to wait for the Overpass endpoint to answer before a download gives up.",
            minimum=0.1, maximum=60.0),
    Setting("network_timeout_s", "float", 180.0,
            "Seconds a street network download may take once the endpoint has answered.",
            minimum=1.0, maximum=3600.0),
    Setting("database_url", "str", "",
            "SQLAlchemy URL of the application database; empty for a SQLite file in the instance "
            "folder."),
    Setting("upload_limit_mb", "int", 200, "Largest upload accepted by the web app, in MB.",
            minimum=1, maximum=10_000),
    Setting("upload_max_inflated_mb", "int", 1024,
            "Most data one ingest reads once unzipped, in MB (a web upload or `hotspots ingest`; "
            "`--stream` applies it to each month). Reading stops and nothing is stored past it.",
            minimum=1, maximum=1_000_000),
    Setting("upload_max_ratio", "int", 100,
            "Most a zip member may inflate, as a multiple of its compressed size (police.uk files "
            "compress about 5 to 10 times; far more is a zip bomb).", minimum=2, maximum=100_000),
    Setting("upload_max_rows", "int", 1_000_000,
            "Most rows one ingest reads (a web upload or `hotspots ingest`; `--stream` applies it "
            "to each month), which bounds its memory (about 1 GB for a million rows).",
            minimum=1, maximum=1_000_000_000),
    Setting("secret_key", "str", "",
            "Key that signs the web app's session cookies; empty: a random key kept in the "
            "instance folder (file secret_key)."),
    Setting("cookie_secure", "choice", "auto",
            "Mark the session cookie Secure (HTTPS only): always, never, or auto (when the request "
            "came over HTTPS).", choices=("auto", "always", "never")),
    Setting("trusted_proxies", "int", 0,
            "Reverse proxies in front of the web app whose X-Forwarded-For and X-Forwarded-Proto "
            "headers are believed (werkzeug's ProxyFix): 1 behind one TLS proxy. 0: the headers "
            "are ignored; the client address is the connection's.", minimum=0, maximum=5),
    Setting("api_token_days", "int", 90,
            "Days an API token made on the Account page works; then the user makes a new one.",
            minimum=1, maximum=3650),
    Setting("map_tiles_url", "str", "",
            "Background tile URL template for the web maps (e.g. an in-house tile server's "
            "https://tiles.example/{z}/{x}/{y}.png); empty: no background, the maps work offline."),
    Setting("map_tiles_attribution", "str", "",
            "Attribution shown with the background tiles (required by most tile providers)."),
    Setting("web_plan_time_limit_s", "float", 3.0,
            "Seconds the route solver may run for a plan made in the web app or API.",
            minimum=0.5, maximum=60.0),
    Setting("dask_scheduler", "str", "",
            "Address of a Dask scheduler (tcp://host:port); empty to start a local cluster."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _default(name: str) -> Any:
    """The dataclass default of one setting, taken from its declaration in `SETTINGS` (the one
    place a default is written); tables get a fresh copy per `Settings`."""
    value = _BY_NAME[name].default
    if isinstance(value, Mapping):
        return field(default_factory=lambda: dict(value))
    return value


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with `get_settings()`; see `SETTINGS` for what each one means."""

    home: Path
    priority_wards: tuple[str, ...] = _default("priority_wards")
    wards_path: Path | None = _default("wards_path")
    wards_code_field: str = _default("wards_code_field")
    wards_name_field: str = _default("wards_name_field")
    categories: Mapping[str, str] = _default("categories")
    harm_days: Mapping[str, float] = _default("harm_days")
    asb_harm_days: float = _default("asb_harm_days")
    unknown_harm_days: float = _default("unknown_harm_days")
    unknown_crime_type: str = _default("unknown_crime_type")
    exclude_btp: bool = _default("exclude_btp")
    ward_snap_m: float = _default("ward_snap_m")
    h3_resolution: int = _default("h3_resolution")
    timezone: str = _default("timezone")
    trend_weeks: int = _default("trend_weeks")
    trend_months: int = _default("trend_months")
    fdr_alpha: float = _default("fdr_alpha")
    hot_min_count: int = _default("hot_min_count")
    institution_labels: tuple[str, ...] = _default("institution_labels")
    dwell_min: float = _default("dwell_min")
    visit_confirm_min: float = _default("visit_confirm_min")
    patrol_speed_factor: float = _default("patrol_speed_factor")
    walk_speed_kmh: float = _default("walk_speed_kmh")
    circuity_factor: float = _default("circuity_factor")
    drive_speed_kmh: float = _default("drive_speed_kmh")
    road_speeds_mph: Mapping[str, float] = _default("road_speeds_mph")
    patrol_teams: tuple[str, ...] = _default("patrol_teams")
    patrol_shift_start: str = _default("patrol_shift_start")
    patrol_shift_min: int = _default("patrol_shift_min")
    patrol_mode: str = _default("patrol_mode")
    patrol_prize: str = _default("patrol_prize")
    patrol_stops_per_ward: int = _default("patrol_stops_per_ward")
    patrol_join_ring: int = _default("patrol_join_ring")
    patrol_skip_institutions: bool = _default("patrol_skip_institutions")
    patrol_windows: Mapping[str, str] = _default("patrol_windows")
    patrol_vary_designated: bool = _default("patrol_vary_designated")
    hotspot_visits_per_week: int = _default("hotspot_visits_per_week")
    hotspot_minutes_per_visit: float = _default("hotspot_minutes_per_visit")
    hotspot_review_weeks: int = _default("hotspot_review_weeks")
    impact_min_days: int = _default("impact_min_days")
    impact_buffer_k: int = _default("impact_buffer_k")
    impact_comparison: str = _default("impact_comparison")
    network_overpass_url: str = _default("network_overpass_url")
    network_connect_timeout_s: float = _default("network_connect_timeout_s")
    network_timeout_s: float = _default("network_timeout_s")
    database_url: str = _default("database_url")
    upload_limit_mb: int = _default("upload_limit_mb")
    upload_max_inflated_mb: int = _default("upload_max_inflated_mb")
    upload_max_ratio: int = _default("upload_max_ratio")
    upload_max_rows: int = _default("upload_max_rows")
    secret_key: str = _default("secret_key")
    cookie_secure: str = _default("cookie_secure")
    trusted_proxies: int = _default("trusted_proxies")
    api_token_days: int = _default("api_token_days")
    map_tiles_url: str = _default("map_tiles_url")
    map_tiles_attribution: str = _default("map_tiles_attribution")
    web_plan_time_limit_s: float = _default("web_plan_time_limit_s")
    dask_scheduler: str = _default("dask_scheduler")
    source_file: Path | None = None  # the hotspots.toml read, if any

    def category_of(self, crime_type: str) -> str | None:
        """Return the category of a source crime type, or None when the table has no entry."""
        cat = self.categories.get(crime_type)
        if cat is None:
            cat = _casefolded(self.categories).get(crime_type.strip().casefold())
        return cat

    def harm_of(self, crime_type: str, category: str) -> float:
        """Return the harm weight in days of one incident of `crime_type`."""
        days = self.harm_days.get(crime_type)
        if days is None:
            days = _casefolded(self.harm_days).get(crime_type.strip().casefold())
        if days is not None:
            return float(days)
        if category == "asb":
            return float(self.asb_harm_days)
        return float(self.unknown_harm_days)

    @property
    def store_path(self) -> Path:
        """Folder of the incident store."""
        return self.home / "store"

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _casefolded(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k.strip().casefold(): v for k, v in mapping.items()}


def default_home() -> Path:
    """The instance folder: `HOTSPOTS_HOME` or `./instance`."""
    return Path(os.environ.get("HOTSPOTS_HOME") or "instance").expanduser()


def _where(source: str, name: str) -> str:
    return f"{source}: setting {name!r}"


def _coerce(spec: Setting, value: Any, source: str) -> Any:
    """Convert and validate one raw value; raise `InputError` naming the key and allowed values."""
    where = _where(source, spec.name)
    kind = spec.kind
    try:
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            out: Any = value
        elif kind == "path":
            if value in (None, ""):
                out = None
            elif isinstance(value, (str, Path)):
                out = Path(value).expanduser()
            else:
                raise TypeError
        elif kind == "int":
            if isinstance(value, bool):
                raise TypeError
            out = int(value) if isinstance(value, str) else value
            if not isinstance(out, int):
                raise TypeError
        elif kind == "float":
            if isinstance(value, bool):
                raise TypeError
            out = float(value)
        elif kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in {"true", "false", "1", "0", "yes", "no"}:
                    raise TypeError
                out = low in {"true", "1", "yes"}
            elif isinstance(value, bool):
                out = value
            else:
                raise TypeError
        elif kind == "choice":
            if value not in (spec.choices or ()):
                msg = f"{where} is {value!r}; allowed values: {', '.join(spec.choices or ())}."
                raise InputError(msg)
            out = value
        elif kind == "str_list":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise TypeError
            out = tuple(value)
        elif kind == "str_map":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise TypeError
            out = {**spec.default, **value}
        elif kind == "float_map":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in value.items()
            ):
                raise TypeError
            out = {**spec.default, **{k: float(v) for k, v in value.items()}}
        else:  # pragma: no cover - a declaration error
            msg = f"unknown setting kind {kind!r}"
            raise RuntimeError(msg)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        expected = {
            "str": "a string",
            "path": "a file path",
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "str_list": "a list of strings",
            "str_map": "a table of strings",
            "float_map": "a table of numbers",
        }[kind]
        msg = f"{where} is {value!r}; expected {expected}."
        raise InputError(msg) from None
    if spec.minimum is not None and out < spec.minimum or spec.maximum is not None and out > spec.maximum:
        msg = f"{where} is {value!r}; allowed values: {spec.minimum:g} to {spec.maximum:g}."
        raise InputError(msg)
    if spec.check is not None and out is not None:
        problem = spec.check(out)
        if problem:
            msg = f"{where} is invalid; expected {problem}."
            raise InputError(msg)
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})."
        raise InputError(msg) from None
    # Accept both a flat file and one with a [hotspots] table.
    if "hotspots" in data and isinstance(data["hotspots"], dict):
        rest = {k: v for k, v in data.items() if k != "hotspots"}
        data = {**rest, **data["hotspots"]}
    return data


def get_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    """Resolve the settings for an instance folder.

    Parameters
    ----------
    home
        Instance folder; `HOTSPOTS_HOME` or `./instance` when None.
    **overrides
        Setting values that win over the file and the environment.

    Returns
    -------
    Settings
        The validated settings.

    Raises
    ------
    InputError
        An unknown key or a bad value, naming the key and the allowed values.
    """
    home_path = Path(home).expanduser() if home is not None else default_home()
    values: dict[str, Any] = {}
    toml_path = home_path / "hotspots.toml"
    source_file = None
    if toml_path.is_file():
        source_file = toml_path
        for key, raw in _read_toml(toml_path).items():
            spec = _BY_NAME.get(key)
            if spec is None:
                allowed = ", ".join(sorted(_BY_NAME))
                msg = f"{toml_path}: unknown setting {key!r}; known settings: {allowed}."
                raise InputError(msg)
            values[key] = _coerce(spec, raw, str(toml_path))
    for spec in SETTINGS:
        env_name = "HOTSPOTS_" + spec.name.upper()
        if env_name in os.environ and spec.kind not in {"str_map", "float_map"}:
            values[spec.name] = _coerce(spec, os.environ[env_name], f"environment {env_name}")
    for key, raw in overrides.items():
        spec = _BY_NAME.get(key)
        if spec is None:
            allowed = ", ".join(sorted(_BY_NAME))
            msg = f"unknown setting {key!r}; known settings: {allowed}."
            raise InputError(msg)
        values[key] = _coerce(spec, raw, "argument")
    return Settings(home=home_path, source_file=source_file, **values)


def describe_settings() -> str:
    """Return the settings table as Markdown (for the README and `hotspots settings`)."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS:
        default = spec.default
        if isinstance(default, Mapping):
            shown = f"{len(default)} entries"
        elif isinstance(default, tuple):
            shown = ", ".join(default)
        elif default in (None, ""):
            shown = "(empty)"
        else:
            shown = str(default)
        allowed = f" Allowed: {', '.join(spec.choices)}." if spec.choices else ""
        lines.append(f"| `{spec.name}` | {shown} | {spec.doc}{allowed} |")
    return "\n".join(lines)


def _check_declarations() -> None:
    declared = {s.name for s in SETTINGS}
    typed = {f.name for f in fields(Settings)} - {"home", "source_file"}
    if declared != typed:  # pragma: no cover - caught by the tests
        msg = f"SETTINGS and Settings disagree: {sorted(declared ^ typed)}"
        raise RuntimeError(msg)
