"""What the views call: the store, wards, rankings, plans and evaluations, cached in-process.

Rankings and rendered maps are cached per (store version, parameters), so the map page and the
API answer from memory once a combination has been computed. The store version changes whenever
the store's manifest is replaced (every committed ingest), which empties nothing but makes every
old key unreachable; old entries fall out of the bounded cache in use order.

This is the web app's only adapter to `hotspots` and `routing`: views never import them directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from hotspots.errors import InputError
from hotspots.periods import Period, month_period, parse_period, week_period
from hotspots.settings import Settings
from hotspots.store import MANIFEST, IncidentStore
from webapp.errors import ParameterError
from webapp.presentation import records, shown_cells

log = logging.getLogger(__name__)

CATEGORY_LABELS = {
    "asb": "Anti-social behaviour",
    "serious_violence": "Serious violence (proxy)",
    "all": "All incidents",
    "both": "ASB and serious violence",
}
EMPTY_STORE = ("The incident store is empty: an analyst can upload incidents on the Data page "
               "(or run `hotspots ingest` or `hotspots demo`).")
SERIOUS_VIOLENCE_NOTE = ("Serious violence here is a proxy for the Home Office definition: for "
                         "police.uk data it is violence and sexual offences, robbery and "
                         "possession of weapons.")


class ComputeCache:
    """A bounded, thread-safe memo: each key is computed once even when many threads ask at once."""

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    self.hits += 1
                    return self._values[key]
                event = self._pending.get(key)
                if event is None:
                    event = threading.Event()
                    self._pending[key] = event
                    self.misses += 1
                    break
            event.wait()
            # The computing thread may have failed; loop and try ourselves.
        try:
            value = compute()
        except BaseException:
            with self._lock:
                self._pending.pop(key, None)
            event.set()
            raise
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.maxsize:
                self._values.popitem(last=False)
            self._pending.pop(key, None)
        event.set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


@dataclass(frozen=True)
class HotspotQuery:
    """The parameters of one ranking, validated and normalised (hashable: a cache key)."""

    category: str
    period: str
    wards: tuple[str, ...]
    resolution: int
    weight: str = "harm"


class AppData:
    """The data behind every page, for one instance folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = IncidentStore(settings.home, settings=settings)
        self.cache = ComputeCache(maxsize=256)
        self._version: tuple[int, int, int] | None = None

    # ------------------------------------------------------------------ store

    def store_version(self) -> tuple[int, int, int]:
        """Changes whenever the store's manifest is replaced (every committed change).

        When it changes, everything cached for older versions is dropped at once (the incidents
        themselves are the biggest entry), rather than waiting to fall out of the cache.
        """
        try:
            st = os.stat(self.store.path / MANIFEST)
            version = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            version = (0, 0, 0)
        if version != self._version:
            if self._version is not None:
                self.cache.clear()
            self._version = version
        return version

    def summary(self) -> dict[str, Any]:
        return self.cache.get(("summary", self.store_version()), self.store.summary)

    def coverage(self):
        """Which periods the store holds data for (`hotspots.coverage.Coverage`), cached."""
        return self.cache.get(("coverage", self.store_version()), self.store.coverage)

    def require_data(self, period: Period, *, name: str = "period", role: str = "") -> None:
        """Refuse a period the store holds no data for, naming the months it holds."""
        coverage = self.coverage()
        if not coverage.covered_fraction(period):
            what = f"the {role} " if role else ""
            msg = f"`{name}`: no data for {what}{period.label}: the store holds {coverage.holds()}."
            raise ParameterError(name, msg, value=period.label)

    def period_before(self, period: Period, *, steps: int = 24) -> Period | None:
        """The latest period of the same kind before `period` that the store holds data for
        (the one before it, unless that is missing), looking back at most `steps` periods; None
        when there is none."""
        coverage = self.coverage()
        for n in range(1, steps + 1):
            earlier = period.shift(-n)
            if coverage.covered_fraction(earlier):
                return earlier
        return None

    def is_demo(self) -> bool:
        return "demo" in self.summary()["by_source"]

    def is_empty(self) -> bool:
        return self.summary()["incidents"] == 0

    def weekly_ok(self) -> bool:
        """True when some incidents carry a day or finer (weekly analysis is possible)."""
        prec = self.summary()["by_precision"]
        return bool(prec.get("day", 0) or prec.get("minute", 0))

    def incidents(self) -> pd.DataFrame:
        """Every stored incident (cached per store version)."""
        return self.cache.get(("incidents", self.store_version()), self.store.load)

    def wards(self) -> gpd.GeoDataFrame:
        """Every ward of the boundary file (EPSG:27700)."""
        from hotspots.wards import load_wards

        return self.cache.get(("wards",), lambda: load_wards(settings=self.settings))

    def wards_wgs84(self) -> gpd.GeoDataFrame:
        def compute() -> gpd.GeoDataFrame:
            w = self.wards().to_crs("EPSG:4326")
            w["geometry"] = w.geometry.simplify(0.00005)
            return w

        return self.cache.get(("wards4326",), compute)

    def ward_choices(self) -> list[tuple[str, str, bool]]:
        """(code, name, priority) of every ward, priority wards first."""
        def compute() -> list[tuple[str, str, bool]]:
            w = self.wards()
            rows = sorted(zip(w["ward_code"], w["ward_name"], w["priority"], strict=True),
                          key=lambda r: (not r[2], r[1]))
            return [(str(c), str(n), bool(p)) for c, n, p in rows]

        return self.cache.get(("ward_choices",), compute)

    def resolve_wards(self, spec: str | Sequence[str] | None) -> tuple[str, ...]:
        """Ward codes for a spec (`priority`, `all`, codes or names); raises naming `wards`."""
        from hotspots.wards import select_wards

        if spec is None or spec == "" or (not isinstance(spec, str) and len(spec) == 0):
            spec = "priority"
        key = ("wards_spec", spec if isinstance(spec, str) else tuple(spec))

        def compute() -> tuple[str, ...]:
            try:
                chosen = select_wards(self.wards(), spec if isinstance(spec, str) else list(spec))
            except InputError as exc:
                raise ParameterError("wards", f"`wards`: {exc}", value=spec) from None
            return tuple(sorted(chosen["ward_code"].astype(str)))

        return self.cache.get(key, compute)

    # ------------------------------------------------------------------ periods

    def latest_time(self) -> pd.Timestamp | None:
        def compute() -> pd.Timestamp | None:
            frame = self.incidents()
            if len(frame) == 0:
                return None
            return frame["occurred_at"].max()

        return self.cache.get(("latest", self.store_version()), compute)

    def default_period(self, kind: str | None = None) -> str:
        """The latest complete week (or month, for month-precision data) in the store."""
        def compute() -> str:
            from hotspots.ranking import latest_complete_period

            frame = self.incidents()
            if len(frame) == 0:
                today = dt.date.today()
                tz = self.settings.timezone
                if kind == "week":
                    return week_period(today, tz=tz).label
                return month_period(today.year, today.month, tz=tz).label
            wanted = kind if kind is not None else ("week" if self.weekly_ok() else "month")
            return latest_complete_period(frame, kind=wanted, settings=self.settings).label

        return self.cache.get(("default_period", self.store_version(), kind), compute)

    def period_choices(self, n_weeks: int = 16, n_months: int = 36) -> dict[str, list[dict[str, Any]]]:
        """The periods a picker offers, from what the store covers, newest first: recent weeks
        (when the data has days) and every month from the first held to the last. Each is a
        dict: `label`, `note` ("" when whole; "possibly partial", "4 of 7 days", "no data") and
        `available` (False when the store holds no data for it), cached."""
        return self.cache.get(("period_choices", self.store_version(), n_weeks, n_months),
                              lambda: self._period_choices(n_weeks, n_months))

    def _period_choices(self, n_weeks: int, n_months: int) -> dict[str, list[dict[str, Any]]]:
        coverage = self.coverage()
        months_held = coverage.covered_months()
        if not months_held:
            return {"week": [], "month": []}
        tz = self.settings.timezone
        partial = set(coverage.partial())

        def item(period: Period) -> dict[str, Any]:
            share = coverage.covered_fraction(period)
            if share == 0:
                note = "no data"
            elif share < 1:
                days = round(share * period.days)
                note = f"{days} of {period.days} days"
            elif period.kind == "month" and period.label in partial:
                note = "possibly partial"
            else:
                note = ""
            return {"label": period.label, "note": note, "available": share > 0}

        weeks = []
        if self.weekly_ok():
            last = parse_period(self.default_period("week"), tz=tz)
            weeks = [item(last.shift(-k)) for k in range(n_weeks)]
        last_m = parse_period(months_held[-1], tz=tz)
        months = []
        for k in range(n_months):
            period = last_m.shift(-k)
            if period.label < months_held[0]:
                break
            months.append(item(period))
        return {"week": weeks, "month": months}

    def parse_period(self, text: str | None, *, name: str = "period") -> Period:
        """The period a request asked for (the default period when empty), checked by
        `webapp.params.period`; errors name the parameter."""
        from webapp import params

        if text is None or (isinstance(text, str) and not text.strip()):
            text = self.default_period()
        return params.period(text, name, tz=self.settings.timezone)

    def check_weekly(self, period: Period, *, name: str = "period") -> None:
        """A clear message instead of an empty or misleading week on month-precision data."""
        if period.kind == "week" and not self.weekly_ok():
            month = month_period(period.start.year, period.start.month, tz=self.settings.timezone)
            msg = (f"`{name}`: {period.label} is a week, but the incidents in the store give only "
                   f"the month (police.uk data has month precision). Ask for a month instead, "
                   f"such as {month.label}; weekly analysis needs a force export with dates.")
            raise ParameterError(name, msg, value=period.label)

    # ------------------------------------------------------------------ hotspots

    def query(self, *, category: str | None, period: str | None, wards: Any = None,
              resolution: Any = None, weight: str | None = None,
              allowed_categories: Sequence[str] = ("asb", "serious_violence", "all")) -> HotspotQuery:
        """Validate request parameters into a `HotspotQuery` (errors name the parameter)."""
        from webapp import params

        if self.is_empty():
            raise InputError(EMPTY_STORE)
        category = params.choice(category, "category", allowed_categories, default="asb")
        chosen = self.parse_period(period)
        self.check_weekly(chosen)
        if not self.is_empty():
            self.require_data(chosen)
        if chosen.kind == "range":
            raise ParameterError("period", f"`period` is {chosen.label!r}; the map needs an ISO week "
                                 "(2025-W23) or a month (2025-06).", value=period)
        # 10 is about a 150-250 m patrol box, 9 an overview.
        res = params.integer(resolution, "resolution", lo=7, hi=11,
                             default=int(self.settings.h3_resolution))
        weight = params.choice(weight, "weight", ("harm", "count"), default="harm")
        return HotspotQuery(category=category, period=chosen.label, wards=self.resolve_wards(wards),
                            resolution=res, weight=weight)

    def ranking(self, q: HotspotQuery) -> gpd.GeoDataFrame:
        """Every cell of the chosen wards, ranked (`hotspots.ranking.rank_hotspots`), cached."""
        def compute() -> gpd.GeoDataFrame:
            from hotspots.ranking import rank_hotspots

            return rank_hotspots(self.incidents(), category=q.category, period=q.period,
                                 wards=list(q.wards), resolution=q.resolution, weight=q.weight,
                                 settings=self.settings, coverage=self.coverage())

        return self.cache.get(("ranking", self.store_version(), q), compute)

    def shown(self, q: HotspotQuery) -> gpd.GeoDataFrame:
        """The cells worth drawing (`shown_cells`) of a ranking, with their map class, cached."""
        return self.cache.get(("shown", self.store_version(), q), lambda: shown_cells(self.ranking(q)))

    def map_model(self, q: HotspotQuery, top: int = 20) -> dict[str, Any]:
        """What the map page shows beside the map: the top rows, class counts, hot total."""
        def compute() -> dict[str, Any]:
            cells = self.shown(q)
            rows = records(cells.head(top), ["rank", "h3_cell", "ward_name", "place", "count", "harm",
                                             "gi_z", "hot", "institution", "top_point_share",
                                             "change", "change_pct", "change_significant",
                                             "trend", "reason", "map_class"])
            counts = cells["map_class"].value_counts().to_dict() if len(cells) else {}
            ranking = self.ranking(q)
            hot = int(ranking["hot"].fillna(False).astype(bool).sum()) if len(ranking) else 0
            return {"rows": rows, "class_counts": counts, "hot_total": hot,
                    "notes": list(ranking.attrs.get("notes", [])),
                    "cells_left_out": int(ranking.attrs.get("cells_left_out", 0))}

        return self.cache.get(("map_model", self.store_version(), q, top), compute)

    def ward_table(self, q: HotspotQuery) -> pd.DataFrame:
        """Per-ward counts, harm, rate and change (`hotspots.ranking.rank_wards`), cached."""
        def compute() -> pd.DataFrame:
            from hotspots.ranking import rank_wards

            return rank_wards(self.incidents(), category=q.category, period=q.period,
                              wards=list(q.wards), weight=q.weight, resolution=q.resolution,
                              settings=self.settings, coverage=self.coverage())

        return self.cache.get(("wards_table", self.store_version(), q), compute)

    def export_context(self, kind: str, *, attrs: Any = None, **kwargs: Any) -> dict[str, Any]:
        """The context of an export from this store (`hotspots.export.export_context`)."""
        from hotspots.export import export_context

        return export_context(kind, settings=self.settings, coverage=self.coverage(), attrs=attrs,
                              **kwargs)

    def hotspots_geojson(self, q: HotspotQuery, *, top: int | None = None) -> str:
        """RFC 7946 GeoJSON of the ranking (cells with incidents or a class) with its context,
        cached (its `generated_at` is when the ranking was made)."""
        def compute() -> str:
            from webapp import _exports

            cells = self.shown(q)
            attrs = self.ranking(q).attrs
            return _exports.ranking_geojson(cells if top is None else cells.head(top),
                                            notes=attrs.get("notes", []),
                                            context=self.export_context("hotspots", attrs=attrs))

        return self.cache.get(("geojson", self.store_version(), q, top), compute)

    def hotspots_csv(self, q: HotspotQuery, *, top: int | None = None) -> str:
        """CSV of the ranking with its context columns, cached."""
        def compute() -> str:
            from webapp import _exports

            cells = self.shown(q)
            context = self.export_context("hotspots", attrs=self.ranking(q).attrs)
            return _exports.ranking_csv(cells if top is None else cells.head(top), context=context)

        return self.cache.get(("csv", self.store_version(), q, top), compute)

    def map_html(self, q: HotspotQuery, *, assets: dict[str, str], tiles: tuple[str, str],
                 streets: str | None = None) -> str:
        """The Folium map document of a ranking (without nonces), cached; `streets` is the URL
        of the street network drawn under the cells (None: none)."""
        def compute() -> str:
            from webapp import _maps

            chosen = self.wards_wgs84()
            chosen = chosen[chosen["ward_code"].isin(q.wards)]
            return _maps.hotspot_map(self.shown(q), chosen, assets=assets, tiles=tiles,
                                     streets=streets)

        key = ("map", self.store_version(), q, tuple(assets.items()), tiles, streets)
        return self.cache.get(key, compute)

    # ------------------------------------------------------------------ evaluation

    def evaluation(self, *, category: str, period: Period, periods: int,
                   method: str = "gistar") -> pd.DataFrame:
        """Hit rate, PAI and PEI of each period's hotspots against the next, for `periods` periods.

        One row per (test period, coverage): `train_period`, `test_period`, `coverage`,
        `hit_rate`, `pai`, `pei` (and whatever else `evaluate_hotspots` reports).
        """
        def compute() -> pd.DataFrame:
            from webapp import _evaluation

            return _evaluation.backtest(self.incidents(), category=category, last=period,
                                        periods=periods, method=method, settings=self.settings,
                                        coverage=self.coverage())

        key = ("evaluation", self.store_version(), category, period.label, periods, method)
        return self.cache.get(key, compute)

    # ------------------------------------------------------------------ plans

    def network_choice(self, mode: str) -> Any:
        """The street network plans of `mode` use (`routing.network.choose_network`)."""
        from routing.network import choose_network

        return choose_network(mode, wards=self.resolve_wards("priority"), settings=self.settings)

    def streets_file(self) -> Path | None:
        """The street network the maps draw faintly under the cells: the cached walk network of
        the priority wards (else their drive network, else any); None when none is loaded."""
        choice = self.network_choice("walk")
        return choice.path

    def streets_geojson(self, path: Path) -> str:
        """The streets of a network file as light GeoJSON (lon/lat, one MultiLineString, about a
        metre of detail), cached per file and version."""
        def compute() -> str:
            import json

            import osmnx as ox
            import shapely

            from hotspots.crs import WGS84

            graph = ox.load_graphml(path)
            edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True)
            pairs = [tuple(sorted((u, v))) for u, v, _k in edges.index]
            edges = edges.loc[~pd.Series(pairs, index=edges.index).duplicated().to_numpy()]
            lines = edges.geometry.simplify(1.0 if edges.crs and edges.crs.is_projected else 1e-5)
            lines = lines.to_crs(WGS84)
            merged = shapely.set_precision(shapely.multilinestrings(lines.to_numpy()), 1e-5)
            return json.dumps({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"kind": "streets"},
                 "geometry": json.loads(shapely.to_geojson(merged))}]})

        stat = path.stat()
        return self.cache.get(("streets", str(path), stat.st_mtime_ns, stat.st_size), compute)


def get_data() -> AppData:
    """The `AppData` of the running app."""
    from flask import current_app

    return current_app.extensions["hotspots_data"]
