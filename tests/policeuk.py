"""Realistic police.uk street-level files for tests, made from a seed on the real Leeds wards.

Real police.uk data may not be copied into the repository, so tests make their own with the traits
of the real thing (issue 15):

- about 8,000 rows a month for Leeds; any months, with gaps, and a partial newest month;
- every row on an anonymous snap point labelled ``On or near <street or place>``: about half as
  many distinct points as rows, the busiest (a police station) holding 50-60 rows a month;
- about 16% of rows on place labels (Supermarket, Shopping Area, Parking Area, Petrol Station,
  Nightclub, Hospital, Police Station, Prison, ...), including institutions whose crimes no patrol
  can prevent (a police station in Beeston & Holbeck, HMP Leeds in Armley, a hospital);
- streets where the wards are (named streets of the priority wards, made-up names elsewhere),
  busier in the inner-city wards, as the data README's figures say;
- a few snap points 2-10 m outside the generalised ward outlines on the city edge, and a few rows
  with no location at all;
- police.uk's category shares (38% violence and sexual offences, 8% ASB, 1.4% robbery, 0.9%
  possession of weapons);
- spreadsheet-saved variants: UTF-8 BOM, Month as ``Feb-25`` (or ``Feb 2025`` or a date), trailing
  zeros trimmed from coordinates, CRLF line endings.

`policeuk_data` makes the rows (and the snap-point table, so tests know where the police station
is); `write_policeuk` writes them as real CSV files, one per month as police.uk names them;
`build_store` ingests them into an incident store.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

POLICEUK_HEADER: list[str] = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
FORCE = "West Yorkshire Police"

#: Police.uk crime types and their share of Leeds rows (data README: 38% violence and sexual
#: offences, 8% ASB, 1.4% robbery, 0.9% weapons; the rest spread as in West Yorkshire's files).
CRIME_SHARES: dict[str, float] = {
    "Violence and sexual offences": 0.380,
    "Anti-social behaviour": 0.080,
    "Robbery": 0.014,
    "Possession of weapons": 0.009,
    "Public order": 0.110,
    "Criminal damage and arson": 0.080,
    "Shoplifting": 0.080,
    "Other theft": 0.070,
    "Vehicle crime": 0.060,
    "Burglary": 0.050,
    "Drugs": 0.025,
    "Other crime": 0.020,
    "Theft from the person": 0.012,
    "Bicycle theft": 0.010,
}

#: Rows a month per ward, relative (priority wards: the data README's 24-month totals / 24; the
#: city-centre ward busiest; the others from their area).
_PRIORITY_PER_MONTH = {
    "E05011394": 483, "E05011388": 500, "E05012647": 571, "E05011400": 454, "E05011385": 392,
    "E05011399": 821,
}
_CITY_CENTRE = "E05011403"  # Little London & Woodhouse

#: Streets of the priority wards (placed at random inside their ward: the names, not the shapes).
WARD_STREETS: dict[str, tuple[str, ...]] = {
    "E05011394": ("Roundhay Road", "Harehills Lane", "Harehills Road", "Easterly Road",
                  "Compton Road", "Foundry Approach", "Gipton Approach", "Dib Lane"),
    "E05011388": ("York Road", "Burmantofts Street", "Beckett Street", "Lupton Avenue",
                  "Pontefract Lane", "Cross Green Lane", "Shakespeare Street"),
    "E05012647": ("Dewsbury Road", "Tempest Road", "Cross Flatts Avenue", "Elland Road",
                  "Top Moor Side", "Beeston Road", "Holbeck Lane"),
    "E05011400": ("Seacroft Avenue", "Kentmere Avenue", "Boggart Hill Drive", "Ramshead Drive",
                  "South Parkway", "York Road East", "Foundry Lane"),
    "E05011385": ("Town Street", "Armley Ridge Road", "Tong Road", "Stanningley Road",
                  "Wortley Road", "Branch Road", "Canal Road"),
    "E05011399": ("Hunslet Road", "Low Road", "Church Street", "Balm Road", "Neville Street",
                  "Water Lane", "Meadow Lane"),
    "E05011403": ("Briggate", "The Headrow", "Park Row", "Woodhouse Lane", "Merrion Street",
                  "Call Lane", "Boar Lane", "Albion Street"),
}
_NAME_STEMS = (
    "Acre", "Aston", "Back", "Bank", "Beech", "Bridge", "Broad", "Cemetery", "Chapel", "Church",
    "Cliff", "Cross", "Elm", "Field", "Green", "Grove", "Hall", "High", "Hill", "Holly", "Kirk",
    "Lea", "Low", "Manor", "Marsh", "Mill", "Moor", "New", "North", "Oak", "Old", "Park", "Poplar",
    "Priory", "Queen", "Rose", "School", "South", "Spring", "Station", "Stone", "Victoria", "Well",
    "West", "Wood",
)
_NAME_KINDS = ("Road", "Street", "Lane", "Avenue", "Terrace", "Close", "Drive", "Grove", "View",
               "Mount", "Crescent", "Place")

#: Place labels police.uk uses, with their relative weight among place rows.
PLACES: dict[str, float] = {
    "Supermarket": 4.0, "Shopping Area": 3.0, "Parking Area": 3.0, "Petrol Station": 1.5,
    "Park/Open Space": 1.5, "Sports/Recreation Area": 1.0, "Nightclub": 1.0,
    "Further/Higher Educational Building": 0.8, "Bus/Coach Station": 0.6, "Pedestrian Subway": 0.4,
    "Theatre/Concert Hall": 0.3, "Conference/Exhibition Centre": 0.2,
}

#: Institutions: (label, ward code, rows a month (low, high)). The police station is the busiest
#: snap point of the whole file.
INSTITUTIONS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("Police Station", "E05012647", (50, 60)),   # Beeston & Holbeck (Elland Road)
    ("Prison", "E05011385", (26, 34)),           # Armley (HMP Leeds)
    ("Hospital", "E05011388", (16, 24)),         # Burmantofts & Richmond Hill (St James's)
    ("Police Station", "E05011400", (12, 18)),   # Killingbeck & Seacroft
)

#: Share of rows on place labels (institutions included).
PLACE_SHARE = 0.16
#: Snap points just outside the Leeds outline, and their distance outside it (metres).
EDGE_POINTS = 6
EDGE_OFFSET_M = (2.0, 10.0)

_OUTCOMES = ("Investigation complete; no suspect identified", "Unable to prosecute suspect",
             "Under investigation", "Awaiting court outcome", "Local resolution",
             "Offender given a caution", "Status update unavailable")
_OUTCOME_P = (0.36, 0.30, 0.16, 0.06, 0.05, 0.03, 0.04)


@dataclass(frozen=True)
class PoliceUkData:
    """Rows in police.uk's columns (text, as in the file) and the snap points they sit on.

    `points` has one row per snap point: `point` (its id), `x`, `y` (EPSG:27700 metres, of the
    coordinates as written), `lon`, `lat` (text, 6 decimals or fewer for round values), `label`
    (`On or near ...`), `place` (the place label, or "" for a street), `institution` (bool),
    `ward_code` (the ward it was made in; "" for the edge points) and `edge` (bool: outside every
    ward by 2-10 m). `rows` has `POLICEUK_HEADER` plus `point` (the snap point of each row, -1 for
    a row with no location).
    """

    rows: pd.DataFrame
    points: pd.DataFrame

    def month_rows(self, month: str) -> pd.DataFrame:
        return self.rows[self.rows["Month"] == month]


# --------------------------------------------------------------------------- snap points


@functools.cache
def _wards() -> gpd.GeoDataFrame:
    from hotspots.settings import get_settings
    from hotspots.wards import EMBEDDED_WARDS, load_wards

    return load_wards(EMBEDDED_WARDS, settings=get_settings(Path("/nonexistent-home")))


def _ward_rates() -> pd.Series:
    """Relative rows a month of each ward."""
    wards = _wards()
    rate = {}
    for code, km2 in zip(wards["ward_code"], wards["area_km2"], strict=True):
        if code in _PRIORITY_PER_MONTH:
            rate[code] = float(_PRIORITY_PER_MONTH[code])
        elif code == _CITY_CENTRE:
            rate[code] = 900.0
        else:
            rate[code] = 95.0 * float(km2) ** 0.35
    return pd.Series(rate)


def _inside_point(rng: np.random.Generator, geom, *, margin_m: float = 0.0):
    """A random point inside `geom`, at least `margin_m` from its boundary when possible."""
    shrunk = geom.buffer(-margin_m) if margin_m else geom
    if shrunk.is_empty:
        shrunk = geom
    x0, y0, x1, y1 = shrunk.bounds
    for _ in range(10_000):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if shrunk.contains(p):
            return p
    return shrunk.representative_point()


def _street_points(rng: np.random.Generator, geom, n_points: int, names: list[str]) -> list[tuple]:
    """Snap points along made-up street segments inside a ward: (x, y, street name, street weight)."""
    out: list[tuple] = []
    k = 0
    while len(out) < n_points:
        name = names[k % len(names)] if k < len(names) else (
            f"{_NAME_STEMS[rng.integers(len(_NAME_STEMS))]} {_NAME_KINDS[rng.integers(len(_NAME_KINDS))]}")
        k += 1
        centre = _inside_point(rng, geom)
        angle = rng.uniform(0, np.pi)
        half = rng.uniform(150, 600)
        dx, dy = half * np.cos(angle), half * np.sin(angle)
        line = shapely.LineString([(centre.x - dx, centre.y - dy), (centre.x + dx, centre.y + dy)])
        piece = line.intersection(geom)
        if piece.geom_type == "MultiLineString":
            piece = max(piece.geoms, key=lambda g: g.length)
        if piece.is_empty or piece.length < 60:
            continue
        # Named main roads of the priority wards are busier than side streets.
        weight = rng.uniform(2.0, 4.0) if k <= len(names) else rng.lognormal(0.0, 0.5)
        spacing = rng.uniform(60, 90)
        for d in np.arange(spacing / 2, piece.length, spacing):
            p = piece.interpolate(d)
            out.append((p.x, p.y, name, weight))
    return out[:n_points]


def _edge_points(rng: np.random.Generator) -> list[tuple[float, float]]:
    """Points 2-10 m outside the Leeds district outline (the union of its wards)."""
    outline = shapely.union_all(_wards().geometry.to_numpy())
    out = []
    for _ in range(EDGE_POINTS):
        d = rng.uniform(*EDGE_OFFSET_M)
        ring = outline.buffer(d, quad_segs=16)
        if ring.geom_type == "MultiPolygon":
            ring = max(ring.geoms, key=lambda g: g.area)
        p = ring.exterior.interpolate(rng.uniform(0, 1), normalized=True)
        out.append((p.x, p.y))
    return out


def _lonlat_text(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, round_share: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Police.uk's 6-decimal WGS84 text of BNG points; `round_share` of them on round values
    (3-5 decimals) so that a spreadsheet trims their trailing zeros. Returns lon and lat text and
    the BNG x/y of the coordinates as written."""
    from hotspots.crs import BNG, WGS84

    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=BNG).to_crs(WGS84)
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    places = np.full(len(x), 6)
    rounded = rng.random(len(x)) < round_share
    places[rounded] = rng.integers(3, 6, int(rounded.sum()))
    lon = np.array([round(v, int(p)) for v, p in zip(lon, places, strict=True)])
    lat = np.array([round(v, int(p)) for v, p in zip(lat, places, strict=True)])
    lon_text = np.char.mod("%.6f", lon)
    lat_text = np.char.mod("%.6f", lat)
    back = gpd.GeoSeries(gpd.points_from_xy(lon_text.astype(float), lat_text.astype(float)),
                         crs=WGS84).to_crs(BNG)
    return (lon_text.astype(object), lat_text.astype(object), back.x.to_numpy().copy(),
            back.y.to_numpy().copy())


@functools.cache
def snap_points(seed: int = 0, *, points_per_row: float = 1.0) -> pd.DataFrame:
    """The snap points of Leeds for one seed (see `PoliceUkData.points`). Cached: treat as read-only.

    Each ward gets about `points_per_row` snap points per row it has in a month of 8,000 rows,
    most on streets, about one in eight on places; the institutions and the edge points come on top.
    """
    rng = np.random.default_rng([seed, 15])
    wards = _wards()
    rates = _ward_rates()
    per_month = 8000.0 * rates / rates.sum()
    recs: list[dict] = []
    for code, name_geom in zip(wards["ward_code"], wards.geometry, strict=True):
        n = max(20, int(round(points_per_row * per_month[code])))
        n_places = max(2, n // 8)
        names = list(WARD_STREETS.get(code, ()))
        for x, y, street, weight in _street_points(rng, name_geom, n - n_places, names):
            recs.append({"x": x, "y": y, "label": f"On or near {street}", "place": "",
                         "institution": False, "ward_code": code, "edge": False,
                         "weight": weight * rng.lognormal(0.0, 1.0)})
        kinds = list(PLACES)
        p = np.array([PLACES[k] for k in kinds])
        for _ in range(n_places):
            kind = kinds[rng.choice(len(kinds), p=p / p.sum())]
            if kind == "Nightclub" and code not in (_CITY_CENTRE, "E05011399") and rng.random() < 0.8:
                kind = "Supermarket"
            pt = _inside_point(rng, name_geom, margin_m=30.0)
            recs.append({"x": pt.x, "y": pt.y, "label": f"On or near {kind}", "place": kind,
                         "institution": False, "ward_code": code, "edge": False,
                         "weight": PLACES[kind] * rng.lognormal(0.0, 0.6)})
    for label, code, _ in INSTITUTIONS:
        geom = wards.loc[wards["ward_code"] == code].geometry.iloc[0]
        pt = _inside_point(rng, geom, margin_m=250.0)
        recs.append({"x": pt.x, "y": pt.y, "label": f"On or near {label}", "place": label,
                     "institution": True, "ward_code": code, "edge": False, "weight": 0.0})
    for x, y in _edge_points(rng):
        street = f"{_NAME_STEMS[rng.integers(len(_NAME_STEMS))]} Lane"
        recs.append({"x": x, "y": y, "label": f"On or near {street}", "place": "",
                     "institution": False, "ward_code": "", "edge": True, "weight": 0.0})
    points = pd.DataFrame(recs)
    # Cap the heaviest ordinary points so that none rivals the police station.
    ordinary = ~points["institution"] & ~points["edge"]
    cap = np.quantile(points.loc[ordinary, "weight"], 0.999)
    points.loc[ordinary, "weight"] = np.minimum(points.loc[ordinary, "weight"], cap)
    lon, lat, x, y = _lonlat_text(points["x"].to_numpy(), points["y"].to_numpy(), rng,
                                  round_share=0.08)
    edge = points["edge"].to_numpy()
    # Edge points keep full precision: rounding could move them back inside.
    lon_e, lat_e, x_e, y_e = _lonlat_text(points["x"].to_numpy()[edge], points["y"].to_numpy()[edge],
                                          rng, round_share=0.0)
    lon[edge], lat[edge], x[edge], y[edge] = lon_e, lat_e, x_e, y_e
    points["lon"], points["lat"], points["x"], points["y"] = lon, lat, x, y
    points.insert(0, "point", np.arange(len(points), dtype=np.int64))
    return points


# --------------------------------------------------------------------------- rows


def _month_label(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    dt.date(year, mon, 1)  # a real month or ValueError
    return f"{year:04d}-{mon:02d}"


def policeuk_data(months: list[str] | tuple[str, ...] | str, *, seed: int = 0,
                  rows_per_month: int = 8000, partial: dict[str, float] | None = None,
                  no_location_share: float = 0.005, category_shares: dict[str, float] | None = None,
                  ) -> PoliceUkData:
    """Police.uk rows for Leeds in `months` (`YYYY-MM`; leave months out for gaps).

    Parameters
    ----------
    months
        The months the files hold.
    seed
        Everything random comes from it (the snap points from `seed`, each month's rows from
        `seed` and the month).
    rows_per_month
        About how many rows a whole month holds (Leeds: about 8,000).
    partial
        Month -> share of its rows that have arrived (a newest month published late: 0.3).
    no_location_share
        Share of rows with no coordinates (police.uk writes "No Location").
    category_shares
        Crime type -> share, replacing `CRIME_SHARES`.
    """
    if isinstance(months, str):
        months = [months]
    months = [_month_label(m) for m in months]
    partial = partial or {}
    shares = dict(category_shares or CRIME_SHARES)
    types = np.array(list(shares), dtype=object)
    type_p = np.array(list(shares.values()), dtype=float)
    type_p /= type_p.sum()
    points = snap_points(seed)
    ordinary = ~points["institution"].to_numpy() & ~points["edge"].to_numpy()
    is_place = (points["place"] != "").to_numpy() & ordinary
    is_street = ordinary & ~is_place
    weight = points["weight"].to_numpy()
    frames = []
    for month in months:
        year, mon = (int(p) for p in month.split("-"))
        rng = np.random.default_rng([seed, year, mon])
        share = float(partial.get(month, 1.0))
        total = max(1, int(round(rows_per_month * share * rng.uniform(0.97, 1.03))))
        counts = np.zeros(len(points), dtype=np.int64)
        for i, (_, _, (lo, hi)) in zip(np.flatnonzero(points["institution"].to_numpy()), INSTITUTIONS,
                                       strict=True):
            counts[i] = max(1, int(round(rng.integers(lo, hi + 1) * share)))
        for i in np.flatnonzero(points["edge"].to_numpy()):
            counts[i] = rng.integers(1, 3)
        place_rows = max(0, int(round(PLACE_SHARE * total)) - int(counts.sum()))
        street_rows = max(0, total - place_rows - int(counts.sum()))
        for mask, n in ((is_place, place_rows), (is_street, street_rows)):
            idx = np.flatnonzero(mask)
            p = weight[idx] / weight[idx].sum()
            counts[idx] += rng.multinomial(n, p)
        point = np.repeat(points["point"].to_numpy(), counts)
        n_rows = len(point)
        no_loc = rng.random(n_rows) < no_location_share
        point = np.where(no_loc, -1, point)
        crime_type = types[rng.choice(len(types), size=n_rows, p=type_p)]
        # Institutions hold what is recorded there: violence, drugs, weapons, public order.
        inst = np.isin(point, points.loc[points["institution"], "point"].to_numpy())
        inst_types = np.array(["Violence and sexual offences", "Drugs", "Possession of weapons",
                               "Public order", "Other crime"], dtype=object)
        crime_type[inst] = inst_types[rng.choice(len(inst_types), size=int(inst.sum()),
                                                 p=[0.55, 0.2, 0.08, 0.12, 0.05])]
        asb = crime_type == "Anti-social behaviour"
        crime_id = np.array([rng.bytes(32).hex() for _ in range(n_rows)], dtype=object)
        crime_id[asb] = ""
        outcome = np.array(_OUTCOMES, dtype=object)[rng.choice(len(_OUTCOMES), size=n_rows, p=_OUTCOME_P)]
        outcome[asb] = ""
        at = np.where(point >= 0, point, 0)
        lon = np.where(no_loc, "", points["lon"].to_numpy()[at])
        lat = np.where(no_loc, "", points["lat"].to_numpy()[at])
        label = np.where(no_loc, "No Location", points["label"].to_numpy()[at])
        lsoa = np.array([f"E0101{1000 + (p * 7919) % 1400:04d}" if p >= 0 else "" for p in point],
                        dtype=object)
        lsoa_name = np.array([f"Leeds {1 + (p * 31) % 115:03d}{'ABCDE'[p % 5]}" if p >= 0 else ""
                              for p in point], dtype=object)
        frame = pd.DataFrame({
            "Crime ID": crime_id, "Month": month, "Reported by": FORCE, "Falls within": FORCE,
            "Longitude": lon, "Latitude": lat, "Location": label, "LSOA code": lsoa,
            "LSOA name": lsoa_name, "Crime type": crime_type, "Last outcome category": outcome,
            "Context": "", "point": point,
        })
        # Police.uk files are not in point order.
        frames.append(frame.iloc[rng.permutation(n_rows)].reset_index(drop=True))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*POLICEUK_HEADER, "point"])
    return PoliceUkData(rows=rows, points=points)


# --------------------------------------------------------------------------- files


def _month_text(month: str, form: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    if form == "iso":
        return month
    if form == "Mon-YY":
        return f"{calendar.month_abbr[mon]}-{year % 100:02d}"
    if form == "Mon YYYY":
        return f"{calendar.month_abbr[mon]} {year:04d}"
    if form == "date":
        return f"01/{mon:02d}/{year:04d}"
    msg = f"unknown month form {form!r}; use iso, Mon-YY, Mon YYYY or date."
    raise ValueError(msg)


def _trim(values: pd.Series) -> pd.Series:
    """What a spreadsheet shows of a 6-decimal number: trailing zeros (and a bare point) gone."""
    return values.str.replace(r"(\.\d*?)0+$", r"\1", regex=True).str.replace(r"\.$", "", regex=True)


def write_policeuk(data: PoliceUkData | pd.DataFrame, directory: str | Path, *,
                   spreadsheet: bool = False, bom: bool | None = None, crlf: bool | None = None,
                   month_form: str | None = None, trim: bool | None = None,
                   force: str = "west-yorkshire") -> list[Path]:
    """Write rows as police.uk street-level CSVs: ``<directory>/YYYY-MM/YYYY-MM-<force>-street.csv``.

    `spreadsheet=True` writes them as a spreadsheet re-saves them: UTF-8 BOM, CRLF, Month as
    ``Feb-25`` and coordinates without trailing zeros; `bom`, `crlf`, `month_form` (`iso`,
    `Mon-YY`, `Mon YYYY`, `date`) and `trim` set each trait alone.
    """
    rows = data.rows if isinstance(data, PoliceUkData) else data
    bom = spreadsheet if bom is None else bom
    crlf = spreadsheet if crlf is None else crlf
    trim = spreadsheet if trim is None else trim
    month_form = month_form or ("Mon-YY" if spreadsheet else "iso")
    directory = Path(directory)
    written = []
    for month in sorted(rows["Month"].unique()):
        part = rows.loc[rows["Month"] == month, POLICEUK_HEADER].copy()
        part["Month"] = _month_text(month, month_form)
        if trim:
            for col in ("Longitude", "Latitude"):
                part[col] = _trim(part[col].astype(str))
        folder = directory / month
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{month}-{force}-street.csv"
        text = part.to_csv(index=False, lineterminator="\r\n" if crlf else "\n")
        path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
        written.append(path)
    return written


def build_store(home: str | Path, months: list[str] | tuple[str, ...] | str, *, seed: int = 0,
                settings=None, files_dir: str | Path | None = None, write_kw: dict | None = None,
                **data_kw):
    """Write police.uk files for `months` and ingest them into the store under `home`.

    Returns
    -------
    (IncidentStore, PoliceUkData, list of Path)
        The store, the rows and snap points, and the files written.
    """
    from hotspots.ingest import read_incidents_report
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore

    home = Path(home)
    settings = settings or get_settings(home)
    data = policeuk_data(months, seed=seed, **data_kw)
    files = write_policeuk(data, Path(files_dir) if files_dir else home / "policeuk",
                           **(write_kw or {}))
    frame, report = read_incidents_report(files, settings=settings, progress=False)
    frame.attrs.pop("read_report", None)
    store = IncidentStore(home, settings=settings)
    store.add(frame, read_report=report)
    return store, data, files


__all__ = [
    "CRIME_SHARES", "INSTITUTIONS", "PLACES", "POLICEUK_HEADER", "PoliceUkData", "WARD_STREETS",
    "build_store", "policeuk_data", "snap_points", "write_policeuk",
]
