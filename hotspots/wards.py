"""Ward boundaries: the embedded Leeds wards or another boundary file, checked and in EPSG:27700."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings

#: The boundary file the project ships (see data/boundaries/README.md).
EMBEDDED_WARDS = Path(__file__).resolve().parent.parent / "data" / "boundaries" / "leeds_wards_2019_bgc.geojson"

WARD_COLUMNS = ["ward_code", "ward_name", "priority", "area_km2", "geometry"]


def load_wards(
    path: str | Path | None = None,
    *,
    priority_only: bool = False,
    code_field: str | None = None,
    name_field: str | None = None,
    settings: Settings | None = None,
) -> gpd.GeoDataFrame:
    """Load ward boundaries.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or shapefile of ward polygons. None: the `wards_path` setting, or
        the embedded Leeds wards (ONS, December 2019).
    priority_only
        Keep only the priority wards of the settings (by default the six Safer Leeds wards).
    code_field, name_field
        Fields holding the ward code and name (default: the `wards_code_field` and
        `wards_name_field` settings, `ward_code` and `ward_name`).
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    GeoDataFrame
        One row per ward, in EPSG:27700, with `ward_code`, `ward_name`, `priority` (bool),
        `area_km2` (square kilometres) and `geometry` (MultiPolygon), sorted by `ward_code`.

    Raises
    ------
    InputError
        Missing file or CRS, missing fields, non-polygon, empty or invalid geometry, duplicate codes.
    """
    settings = settings or get_settings()
    if path is None:
        path = settings.wards_path or EMBEDDED_WARDS
    path = Path(path)
    code_field = code_field or settings.wards_code_field
    name_field = name_field or settings.wards_name_field
    if not path.exists():
        msg = f"{path}: ward boundary file not found."
        raise InputError(msg)
    try:
        raw = gpd.read_file(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        msg = f"{path}: cannot read ward boundaries ({exc}); expected GeoJSON, GeoPackage or shapefile."
        raise InputError(msg) from None
    if raw.crs is None:
        msg = (f"{path}: the boundary file has no CRS; set one (e.g. EPSG:27700 or EPSG:4326) "
               "with GeoDataFrame.set_crs or ogr2ogr -a_srs before loading it.")
        raise InputError(msg)
    missing = [f for f in (code_field, name_field) if f not in raw.columns]
    if missing:
        found = ", ".join(c for c in raw.columns if c != "geometry")
        msg = (f"{path}: ward field(s) {', '.join(missing)} not found; fields found: {found}. "
               "Set wards_code_field and wards_name_field in hotspots.toml.")
        raise InputError(msg)
    if len(raw) == 0:
        msg = f"{path}: the boundary file holds no wards."
        raise InputError(msg)
    for i, geom in enumerate(raw.geometry):
        row = raw.iloc[i]
        label = f"{path}: ward {row[code_field]!r} (feature {i + 1})"
        if geom is None or geom.is_empty:
            msg = f"{label} has no geometry."
            raise InputError(msg)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            msg = f"{label} is a {geom.geom_type}; ward boundaries must be Polygon or MultiPolygon."
            raise InputError(msg)
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            msg = f"{label} has invalid geometry ({reason}); repair it (e.g. shapely.make_valid) first."
            raise InputError(msg)
    codes = raw[code_field].astype(str).str.strip()
    dup = codes[codes.duplicated()]
    if len(dup):
        msg = f"{path}: duplicate ward code {dup.iloc[0]!r} ({dup.nunique()} code(s) appear more than once)."
        raise InputError(msg)

    wards = gpd.GeoDataFrame(
        {
            "ward_code": codes.to_numpy(),
            "ward_name": raw[name_field].astype(str).str.strip().to_numpy(),
        },
        geometry=raw.geometry.to_crs(BNG).to_numpy(),
        crs=BNG,
    )
    wards["geometry"] = [shapely.geometry.MultiPolygon([g]) if g.geom_type == "Polygon" else g
                         for g in wards.geometry]
    wards["priority"] = wards["ward_code"].isin(list(settings.priority_wards))
    wards["area_km2"] = wards.geometry.area / 1e6
    wards = wards[WARD_COLUMNS].sort_values("ward_code", ignore_index=True)
    if priority_only:
        wards = wards[wards["priority"]].reset_index(drop=True)
        if wards.empty:
            msg = (f"{path}: none of the priority wards ({', '.join(settings.priority_wards)}) is in "
                   "the boundary file.")
            raise InputError(msg)
    return wards


def _plain(name: str) -> str:
    """A ward name for comparing: case, '&' against 'and', punctuation and spacing ignored."""
    text = name.casefold().replace("&", " and ")
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def near_wards(name: str, names: list[str], *, n: int = 2) -> list[str]:
    """Ward names close to a misspelt one ("Armely" -> "Armley", "Gipton and Harehills" ->
    "Gipton & Harehills"), best first."""
    import difflib

    plain = {_plain(w): w for w in names}
    return [plain[m] for m in difflib.get_close_matches(_plain(name), list(plain), n=n, cutoff=0.75)]


def select_wards(wards: gpd.GeoDataFrame, spec: str | list[str] | None) -> gpd.GeoDataFrame:
    """Choose wards by a spec: None or `priority`, `all`, or ward codes or names (list or comma text).

    Raises
    ------
    InputError
        A code or name that is not in `wards`.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "priority"):
        chosen = wards[wards["priority"]]
        if chosen.empty:
            msg = "no priority wards in the boundary file; pass ward codes instead."
            raise InputError(msg)
        return chosen.reset_index(drop=True)
    if isinstance(spec, str) and spec.strip().lower() == "all":
        return wards.reset_index(drop=True)
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    items = [s for s in items if s]
    by_code = pd.Series(wards.index, index=wards["ward_code"])
    by_name = pd.Series(wards.index, index=wards["ward_name"].str.casefold())
    rows = []
    for item in items:
        if item in by_code.index:
            rows.append(by_code[item])
        elif item.casefold() in by_name.index:
            rows.append(by_name[item.casefold()])
        else:
            near = near_wards(item, wards["ward_name"].astype(str).tolist())
            if near:
                msg = (f"ward {item!r} is not in the boundary file; did you mean "
                       f"{' or '.join(repr(n) for n in near)}?")
            else:
                msg = (f"ward {item!r} is not in the boundary file; use a ward code such as "
                       f"{wards['ward_code'].iloc[0]!r}, a ward name, 'priority' or 'all'.")
            raise InputError(msg)
    return wards.loc[list(dict.fromkeys(rows))].reset_index(drop=True)
