"""Street networks for patrol planning: load, download, cache and check osmnx graphs.

Every network the planner sees is an osmnx MultiDiGraph for one mode (drive or walk), projected to
EPSG:27700, with `length` (m) and `travel_time` (s) on each edge, reduced to its largest strongly
connected component so that every node can reach every other.

A network may cover only part of the wards planned (an extract of the city centre, say). How much
it covers is measured one way everywhere: the share of the wards' area within `NEAR_STREET_M` of
one of its streets (`network_coverage`). The cache keeps, beside each GraphML file, that street
area (`<name>.area.wkb`), so plans choose the cached network that covers their wards best without
loading every graph.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import networkx as nx
import osmnx as ox
import pyproj
import shapely

from hotspots.crs import BNG, WGS84
from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("drive", "walk")

#: Metres the wards' union is buffered by before a download, so routes may leave a ward briefly.
DOWNLOAD_BUFFER_M = 500.0

#: Marks a graph this module prepared; bump when the prepared form changes.
NETWORK_FORMAT = "hotspots-network-1"

#: A place further than this from every street of a network is off it: coverage counts the wards'
#: area within this distance of a street, and a plan reaches an off-network stop or base by a
#: straight line (marked approximate) instead of the streets.
NEAR_STREET_M = 250.0

#: Below this share of the wards' area near its streets a network is said to cover them poorly.
LOW_COVERAGE = 0.8

_MPH_TO_KMH = 1.609344

# OSM tags that keep a way out of each mode's network. These follow the usual meaning of the tags
# in Great Britain (footways are not for cars; motorways are not for walking).
_NOT_DRIVABLE = frozenset({
    "abandoned", "bridleway", "bus_guideway", "bus_stop", "construction", "corridor", "cycleway",
    "elevator", "escalator", "footway", "no", "path", "pedestrian", "planned", "platform",
    "proposed", "raceway", "razed", "rest_area", "services", "steps", "track", "via_ferrata",
})
_NOT_DRIVABLE_SERVICE = frozenset({"driveway", "emergency_access", "parking", "parking_aisle",
                                   "private"})
_NOT_WALKABLE = frozenset({
    "abandoned", "bus_guideway", "bus_stop", "busway", "construction", "motorway",
    "motorway_link", "no", "planned", "platform", "proposed", "raceway", "razed",
})
_NO_ACCESS = frozenset({"no", "private"})

#: Way tags read from OSM XML on top of osmnx's defaults: they decide who may use a way.
_ACCESS_TAGS = ("access", "foot", "motor_vehicle", "motorcar", "vehicle", "maxspeed", "highway",
                "service", "area", "oneway", "junction", "name", "ref")

# maxspeed values that name a limit rather than give a number (UK usage).
_NAMED_LIMITS_MPH = {
    "national": 60.0, "gb:nsl_single": 60.0, "gb:nsl_dual": 70.0, "gb:motorway": 70.0,
    "uk:nsl_single": 60.0, "uk:nsl_dual": 70.0, "uk:motorway": 70.0, "walk": 4.0,
    "gb:zone20": 20.0, "gb:zone30": 30.0,
}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Public functions


def load_network(source: str | Path, *, mode: str = "drive",
                 settings: Settings | None = None) -> nx.MultiDiGraph:
    """Load a street network from a GraphML file or an OpenStreetMap XML file.

    Parameters
    ----------
    source
        A `.graphml` file (saved by osmnx or by this module) or an OSM XML file (`.osm`, `.xml`,
        `.osm.xml`) such as an export from openstreetmap.org or `osmium extract`.
    mode
        `drive` (vehicle patrols: drivable ways, one-way streets respected) or `walk` (foot
        patrols: walkable ways in both directions).
    settings
        Resolved settings (speeds); read with `get_settings()` when None.

    Returns
    -------
    networkx.MultiDiGraph
        The prepared network: EPSG:27700, `length` (metres) and `travel_time` (seconds) per edge,
        the largest strongly connected component, `mode` in the graph attributes.

    Raises
    ------
    InputError
        A missing or unreadable file, an unknown mode, a network with no usable streets.
    """
    mode = check_mode(mode)
    settings = settings or get_settings()
    path = Path(source).expanduser()
    if not path.is_file():
        msg = f"{path}: network file not found."
        raise InputError(msg)
    name = path.name.lower()
    if name.endswith(".graphml"):
        try:
            graph = ox.load_graphml(path)
        except Exception as exc:  # networkx/lxml raise many types for a bad file
            msg = f"{path}: cannot read GraphML ({exc})."
            raise InputError(msg) from None
        if graph.graph.get("network_format") == NETWORK_FORMAT and _same_crs(graph, BNG):
            found = graph.graph.get("mode")
            if found != mode:
                msg = (f"{path} is a {found!r} network but mode {mode!r} was asked for; load the "
                       f"{mode} network instead or pass mode={found!r}.")
                raise InputError(msg)
            return graph
        if graph.graph.get("crs") is None:
            msg = f"{path}: the GraphML file has no `crs` graph attribute; save it with osmnx."
            raise InputError(msg)
        return prepare_network(graph, mode=mode, settings=settings, source=str(path))
    if name.endswith((".osm", ".xml")):
        graph = _graph_from_osm_xml(path, mode=mode)
        return prepare_network(graph, mode=mode, settings=settings, source=str(path))
    if name.endswith(".pbf"):
        msg = (f"{path}: OSM PBF is not read directly; convert it to OSM XML first, e.g. "
               f"`osmium cat {path.name} -o extract.osm`, then import the .osm file.")
        raise InputError(msg)
    msg = f"{path}: unknown network file type; expected .graphml or OSM XML (.osm, .osm.xml)."
    raise InputError(msg)


def prepare_network(graph: nx.MultiDiGraph, *, mode: str = "drive",
                    settings: Settings | None = None, source: str = "") -> nx.MultiDiGraph:
    """Turn a raw osmnx graph into a planning network for one mode.

    Keeps the ways the mode may use, simplifies the topology (if not done yet), projects to
    EPSG:27700, keeps the largest strongly connected component and adds `speed_kph` and
    `travel_time` (seconds) to every edge. The input graph is not changed.

    Raises
    ------
    InputError
        An unknown mode, a graph with no CRS, or no usable street left.
    """
    mode = check_mode(mode)
    settings = settings or get_settings()
    if graph.graph.get("crs") is None:
        msg = "the graph has no `crs` graph attribute; build it with osmnx."
        raise InputError(msg)
    g = graph.copy()
    drop = [(u, v, k) for u, v, k, data in g.edges(keys=True, data=True)
            if not _usable(data, mode)]
    g.remove_edges_from(drop)
    g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    if g.number_of_edges() == 0:
        msg = f"{source or 'the network'}: no street usable for mode {mode!r}."
        raise InputError(msg)
    if not g.graph.get("simplified", False):
        g = ox.simplify_graph(g)
    if not _same_crs(g, BNG):
        g = ox.project_graph(g, to_crs=BNG)
    g = ox.truncate.largest_component(g, strongly=True)
    if g.number_of_edges() == 0:
        msg = f"{source or 'the network'}: no connected streets for mode {mode!r}."
        raise InputError(msg)
    add_travel_times(g, mode=mode, settings=settings)
    g.graph.update({"crs": BNG, "mode": mode, "network_format": NETWORK_FORMAT,
                    "source": source or str(graph.graph.get("source", ""))})
    log.info("network for %s: %d nodes, %d edges", mode, len(g), g.number_of_edges())
    return g


def add_travel_times(graph: nx.MultiDiGraph, *, mode: str, settings: Settings) -> None:
    """Set `speed_kph` and `travel_time` (seconds) on every edge, in place.

    Drive: the edge's `maxspeed` (UK limits such as "30 mph", "national", "GB:zone20"), else the
    `road_speeds_mph` setting for its highway type, times `patrol_speed_factor`. Walk:
    `walk_speed_kmh` everywhere.
    """
    walk_kmh = float(settings.walk_speed_kmh)
    for _u, _v, data in graph.edges(data=True):
        if mode == "walk":
            kmh = walk_kmh
        else:
            kmh = _drive_kmh(data, settings)
        length = float(data.get("length", 0.0) or 0.0)
        data["length"] = length
        data["speed_kph"] = round(kmh, 2)
        data["travel_time"] = length / (kmh / 3.6)


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known patrol mode, else raise `InputError`."""
    if mode not in MODES:
        msg = f"`mode` is {mode!r}; expected one of {', '.join(MODES)}."
        raise InputError(msg)
    return mode


def check_network(graph: Any, *, name: str = "network") -> nx.MultiDiGraph:
    """Check that `graph` is a planning network: a networkx graph in EPSG:27700 with travel times.

    Raises
    ------
    InputError
        Not a graph, empty, the wrong CRS (naming both CRSs and the fix), or no `travel_time`.
    """
    if not isinstance(graph, nx.MultiDiGraph | nx.DiGraph):
        msg = f"`{name}` must be a networkx graph from routing.load_network, not {type(graph).__name__}."
        raise InputError(msg)
    first_edge = next(iter(graph.edges(data=True)), None)
    if first_edge is None:
        msg = f"`{name}` has no streets."
        raise InputError(msg)
    crs = graph.graph.get("crs")
    if crs is None or not _same_crs(graph, BNG):
        msg = (f"`{name}` is in {crs or 'no CRS'}, but plans need {BNG} (British National Grid, "
               f"metres); load it with routing.load_network or project it with "
               f"osmnx.project_graph(G, to_crs='{BNG}') and routing.add_travel_times.")
        raise InputError(msg)
    if "travel_time" not in first_edge[2]:
        msg = (f"`{name}` has no `travel_time` on its edges; load it with routing.load_network "
               "or call routing.add_travel_times first.")
        raise InputError(msg)
    return graph


def network_mode(graph: nx.MultiDiGraph) -> str | None:
    """The mode a prepared network was built for, or None when unknown."""
    mode = graph.graph.get("mode")
    return mode if mode in MODES else None


def networks_folder(settings: Settings | None = None) -> Path:
    """Folder of the cached networks in the instance folder."""
    settings = settings or get_settings()
    return Path(settings.home) / "networks"


def network_path(area: str, mode: str, *, settings: Settings | None = None) -> Path:
    """Where the cached network of an area and mode lives (it may not exist yet)."""
    check_mode(mode)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", area).strip("-").lower() or "network"
    return networks_folder(settings) / f"{slug}_{mode}.graphml"


def cached_networks(settings: Settings | None = None) -> list[Path]:
    """The cached GraphML networks, sorted by name."""
    folder = networks_folder(settings)
    return sorted(folder.glob("*.graphml")) if folder.is_dir() else []


def save_network(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Save a prepared network as GraphML, atomically (written to a temporary file, then renamed),
    with its street area beside it (`street_area`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    ox.save_graphml(graph, tmp)
    _write_area(path, street_area(graph))
    tmp.replace(path)
    return path


def street_area(graph: nx.MultiDiGraph, *, within_m: float = NEAR_STREET_M) -> shapely.Geometry:
    """The area within `within_m` metres of the network's streets (EPSG:27700), simplified to
    about 10 m."""
    from routing._matrix import graph_index

    lines = graph_index(graph, weight="length").lines
    if len(lines) == 0:
        return shapely.Polygon()
    # Few segments per quarter circle: coverage is a planning figure, not a survey.
    area = shapely.union_all(shapely.buffer(lines, within_m, quad_segs=2))
    return shapely.simplify(area, 10.0)


def network_coverage(area: shapely.Geometry | nx.MultiDiGraph, wards: gpd.GeoDataFrame) -> dict[str, Any]:
    """How much of some wards a network covers: the share of their area within `NEAR_STREET_M`
    of one of its streets.

    Parameters
    ----------
    area
        The network's street area (`street_area`) or the network itself.
    wards
        Ward polygons with `ward_code` (any CRS).

    Returns
    -------
    dict
        `share` (0 to 1, all the wards together), `by_ward` (code -> share) and `within_m`.
    """
    if isinstance(area, nx.Graph):
        area = street_area(area)
    projected = wards.to_crs(BNG)
    geoms = projected.geometry.to_numpy()
    inside = shapely.area(shapely.intersection(geoms, area))
    total = shapely.area(geoms)
    by_ward = {str(c): float(i / t) if t > 0 else 0.0
               for c, i, t in zip(projected["ward_code"], inside, total, strict=True)}
    share = float(inside.sum() / total.sum()) if total.sum() > 0 else 0.0
    return {"share": share, "by_ward": by_ward, "within_m": NEAR_STREET_M}


def coverage_sentence(coverage: dict[str, Any], *, what: str = "the network") -> str:
    """One sentence about a network's coverage, with a warning when it is low."""
    share = coverage["share"]
    text = (f"{what} covers {share:.0%} of the wards' area (within {coverage['within_m']:.0f} m "
            "of its streets)")
    if share < LOW_COVERAGE:
        poor = [c for c, v in sorted(coverage["by_ward"].items()) if v < LOW_COVERAGE]
        text += (f"; WARNING: that is little: in {len(poor)} of {len(coverage['by_ward'])} wards "
                 f"less than {LOW_COVERAGE:.0%} of the area is near its streets, and plans reach "
                 "stops and bases beyond them by straight lines (approximate). Import or fetch a "
                 "network that covers the wards")
    return text + "."


def cached_street_area(path: str | Path, *, settings: Settings | None = None) -> shapely.Geometry:
    """The street area of a cached network, read from beside it (computed and kept when missing
    or older than the network)."""
    path = Path(path)
    side = _area_path(path)
    if side.is_file() and side.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        try:
            return shapely.from_wkb(side.read_bytes())
        except shapely.errors.GEOSException:
            log.warning("%s: unreadable street area; computing it again", side)
    graph = ox.load_graphml(path)
    area = street_area(graph)
    _write_area(path, area)
    return area


def _area_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".graphml") + ".area.wkb")


def _write_area(path: Path, area: shapely.Geometry) -> None:
    side = _area_path(path)
    tmp = side.with_name(side.name + ".part")
    tmp.write_bytes(shapely.to_wkb(area))
    tmp.replace(side)


@dataclass
class NetworkImport:
    """What `import_network` did: the network, where it is cached, how much of the wards it
    covers, and (when a cached network covering more was kept) that network and its coverage."""

    graph: nx.MultiDiGraph
    path: Path
    coverage: dict[str, Any]
    kept: Path | None = None
    kept_coverage: dict[str, Any] | None = None
    replaced: bool = False

    def sentences(self) -> list[str]:
        out = [coverage_sentence(self.coverage, what=f"this {network_mode(self.graph)} network")]
        if self.kept is not None and self.kept_coverage is not None:
            out.append(f"kept the cached network {self.kept.name}: it covers more "
                       f"({self.kept_coverage['share']:.0%}); this one is cached as "
                       f"{self.path.name} beside it, and plans use whichever covers their wards "
                       "best (--replace replaces it)")
        elif self.replaced:
            out.append(f"replaced the cached network {self.path.name}")
        return out


def import_network(source: str | Path, *, mode: str = "drive", area: str | None = None,
                   wards: gpd.GeoDataFrame | None = None, replace: bool = False,
                   settings: Settings | None = None) -> NetworkImport:
    """Load a network file, measure how much of the wards it covers and cache it.

    A cached network of the same name that covers the wards better is never replaced unless
    `replace`: the new one is cached under its file's name beside it, and plans choose between
    them by coverage.

    Parameters
    ----------
    source
        GraphML or OSM XML file.
    mode
        `drive` or `walk`.
    area
        Name to cache it under (default: the wards' cache name, `priority` for the priority
        wards).
    wards
        The wards it is meant for (default: the priority wards).
    replace
        Replace a cached network of that name even when it covers more.
    settings
        Resolved settings; read with `get_settings()` when None.
    """
    settings = settings or get_settings()
    if wards is None:
        from hotspots.wards import load_wards

        wards = load_wards(priority_only=True, settings=settings)
    graph = load_network(source, mode=mode, settings=settings)
    own_area = street_area(graph)
    coverage = network_coverage(own_area, wards)
    target = network_path(area or area_name(wards["ward_code"].astype(str), settings=settings),
                          mode, settings=settings)
    if target.is_file() and not replace:
        old = network_coverage(cached_street_area(target, settings=settings), wards)
        if old["share"] > coverage["share"]:
            stem = Path(source).name.split(".")[0]
            beside = network_path(stem, mode, settings=settings)
            if beside == target:
                beside = network_path(f"{stem}-imported", mode, settings=settings)
            save_network(graph, beside)
            return NetworkImport(graph, beside, coverage, kept=target, kept_coverage=old)
    replaced = target.is_file()
    save_network(graph, target)
    return NetworkImport(graph, target, coverage, replaced=replaced)


def remove_network(name: str, *, mode: str | None = None,
                   settings: Settings | None = None) -> list[Path]:
    """Remove cached networks by name (`priority`, or the file name `priority_drive`).

    Returns the files removed.

    Raises
    ------
    InputError
        No cached network of that name (the message lists those there are).
    """
    settings = settings or get_settings()
    modes = [check_mode(mode)] if mode else list(MODES)
    stem = name.removesuffix(".graphml")
    paths = [p for p in cached_networks(settings)
             if p.stem == stem or any(p == network_path(stem, m, settings=settings) for m in modes)]
    if not paths:
        have = ", ".join(p.stem for p in cached_networks(settings)) or "none"
        msg = f"no cached network {name!r}{f' for {mode}' if mode else ''}; cached: {have}."
        raise InputError(msg)
    for p in paths:
        for f in (p, _area_path(p)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f)
    return paths


def area_name(ward_codes: Iterable[str], *, settings: Settings | None = None) -> str:
    """The cache name of a set of wards: `priority` for the priority wards, else a short hash."""
    settings = settings or get_settings()
    codes = sorted(set(ward_codes))
    if codes == sorted(settings.priority_wards):
        return "priority"
    if len(codes) == 1:
        return codes[0]
    digest = hashlib.sha1(",".join(codes).encode()).hexdigest()[:10]
    return f"wards-{digest}"


@dataclass(frozen=True)
class NetworkChoice:
    """The street network a plan uses for one patrol mode.

    `path` is the file to load (None: straight lines times the circuity factor), `load_as` the
    mode to load it as (a foot patrol may walk a drive network), `note` one sentence for people.
    """

    mode: str
    path: Path | None
    load_as: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "file": str(self.path) if self.path else None,
                "loaded_as": self.load_as, "note": self.note}


#: What `choose_network` takes for "no network: straight lines".
NO_NETWORK = "none"


def choose_network(mode: str, *, wards: Iterable[str] | None = None, network: Any = None,
                   settings: Settings | None = None) -> NetworkChoice:
    """Choose the street network of one patrol mode for a plan.

    Parameters
    ----------
    mode
        The teams' mode, `drive` or `walk`.
    wards
        Codes of the wards planned (default: the priority wards).
    network
        None: the cached network that covers the wards best (`network_coverage`), of this mode,
        or a drive network for a foot patrol (walked at walking speed) when it covers clearly
        more; ties go to the wards' own cache name. `"none"`: straight lines. A path: that file
        (GraphML or OSM XML).
    settings
        Resolved settings; read with `get_settings()` when None.
    """
    mode = check_mode(mode)
    settings = settings or get_settings()
    if isinstance(network, str) and network.strip().lower() == NO_NETWORK:
        return NetworkChoice(mode, None, None, "no street network asked for: the plan is "
                             "APPROXIMATE (straight lines times a circuity factor).")
    codes = tuple(sorted(wards if wards is not None else settings.priority_wards))
    if network is not None:
        path = Path(network).expanduser()
        if not path.is_file():
            msg = f"{path}: network file not found."
            raise InputError(msg)
        return NetworkChoice(mode, path, mode, f"using the {mode} network {path}")
    own = network_path(area_name(codes, settings=settings), mode, settings=settings)
    candidates = []
    for path in cached_networks(settings):
        load_as = path.stem.rsplit("_", 1)[-1]
        if load_as == mode or (mode == "walk" and load_as == "drive"):
            share = _cached_coverage(path, codes, settings)["share"]
            # Coverage first (to the nearest 5%), then a network of the mode itself, then the
            # wards' own name.
            rank = (round(share * 20), load_as == mode, path == own, path.name)
            candidates.append((rank, path, load_as, share))
    if not candidates:
        return NetworkChoice(mode, None, None, "no street network: the plan is APPROXIMATE "
                             "(straight lines). Run `hotspots network fetch` or `hotspots network "
                             "import FILE` for street routes.")
    _, path, load_as, share = max(candidates, key=lambda c: c[0])
    if load_as == mode:
        note = f"using the cached {mode} network {path}"
    else:
        note = f"no walk network covers the wards as well: walking the drive network {path}"
    note += f" (it covers {share:.0%} of the wards' area)"
    if share < LOW_COVERAGE:
        note += (f"; it covers them poorly: stops and bases more than {NEAR_STREET_M:.0f} m from "
                 "its streets are reached by straight lines (approximate)")
    return NetworkChoice(mode, path, load_as, note)


_COVERAGE: dict[tuple, dict[str, Any]] = {}
_WARD_SHAPES: dict[tuple, gpd.GeoDataFrame] = {}


def _cached_coverage(path: Path, codes: tuple[str, ...], settings: Settings) -> dict[str, Any]:
    """Coverage of the wards by a cached network, kept per file version (plans ask often)."""
    key = (str(path), path.stat().st_mtime_ns, codes)
    if key not in _COVERAGE:
        if len(_COVERAGE) > 64:
            _COVERAGE.clear()
        _COVERAGE[key] = network_coverage(cached_street_area(path, settings=settings),
                                          _ward_shapes(codes, settings))
    return _COVERAGE[key]


def _ward_shapes(codes: tuple[str, ...], settings: Settings) -> gpd.GeoDataFrame:
    from hotspots.wards import load_wards

    source = settings.wards_path
    stamp = Path(source).stat().st_mtime_ns if source and Path(source).is_file() else None
    key = (str(source), stamp, codes)
    if key not in _WARD_SHAPES:
        if len(_WARD_SHAPES) > 16:
            _WARD_SHAPES.clear()
        wards = load_wards(settings=settings)
        _WARD_SHAPES[key] = wards[wards["ward_code"].astype(str).isin(codes)]
    return _WARD_SHAPES[key]


def network_list(*, wards: Iterable[str] | None = None,
                 settings: Settings | None = None) -> list[dict[str, Any]]:
    """The cached networks with their mode, size and coverage of the wards (default: priority).

    Returns one dict per network: `name`, `mode`, `file`, `megabytes` and `coverage`
    (`network_coverage` of the wards).
    """
    settings = settings or get_settings()
    codes = tuple(sorted(wards if wards is not None else settings.priority_wards))
    out = []
    for path in cached_networks(settings):
        name, _, mode = path.stem.rpartition("_")
        out.append({"name": name, "mode": mode, "file": str(path),
                    "megabytes": round(path.stat().st_size / 1e6, 2),
                    "coverage": _cached_coverage(path, codes, settings)})
    return out


def download_network(wards: gpd.GeoDataFrame | None = None, *, mode: str = "drive",
                     refresh: bool = False, settings: Settings | None = None) -> nx.MultiDiGraph:
    """Download the street network of some wards from OpenStreetMap, cached in the instance folder.

    The wards' union is buffered by 500 m. A cached network is returned without a download unless
    `refresh`. Before downloading, the Overpass endpoint (`network_overpass_url`) must answer
    within `network_connect_timeout_s` seconds, so a machine with no internet fails quickly.

    Parameters
    ----------
    wards
        Ward polygons (any CRS); the priority wards of the settings when None.
    mode
        `drive` or `walk`.
    refresh
        Download again even when a cached network exists.
    settings
        Resolved settings; read with `get_settings()` when None.

    Returns
    -------
    networkx.MultiDiGraph
        The prepared network (see `load_network`).

    Raises
    ------
    InputError
        The endpoint cannot be reached or the download fails; the message says how to import an
        OSM file instead.
    """
    mode = check_mode(mode)
    settings = settings or get_settings()
    if wards is None:
        from hotspots.wards import load_wards

        wards = load_wards(priority_only=True, settings=settings)
    if wards.crs is None:
        msg = "`wards` has no CRS; set one with GeoDataFrame.set_crs first."
        raise InputError(msg)
    if len(wards) == 0:
        msg = "`wards` holds no ward; nothing to download."
        raise InputError(msg)
    codes = wards["ward_code"].astype(str) if "ward_code" in wards.columns else wards.index.astype(str)
    target = network_path(area_name(codes, settings=settings), mode, settings=settings)
    if target.is_file() and not refresh:
        log.info("using cached network %s", target)
        return load_network(target, mode=mode, settings=settings)

    area = wards.to_crs(BNG).geometry.union_all().buffer(DOWNLOAD_BUFFER_M)
    polygon = gpd.GeoSeries([area], crs=BNG).to_crs(WGS84).iloc[0]
    url = settings.network_overpass_url.rstrip("/")
    check_endpoint(url, timeout_s=settings.network_connect_timeout_s, mode=mode)
    with _osmnx_settings(overpass_url=url, requests_timeout=settings.network_timeout_s,
                         cache_folder=str(networks_folder(settings) / "http-cache"),
                         useful_tags_way=_way_tags()):
        try:
            raw = ox.graph_from_polygon(polygon, network_type=mode, simplify=False,
                                        retain_all=True)
        except Exception as exc:  # requests and osmnx raise many types; all mean the same here
            msg = (f"downloading the {mode} network from {url} failed ({type(exc).__name__}: "
                   f"{exc}). {_import_hint(mode)}")
            raise InputError(msg) from None
    graph = prepare_network(raw, mode=mode, settings=settings, source=f"overpass:{url}")
    save_network(graph, target)
    return graph


def check_endpoint(url: str, *, timeout_s: float, mode: str = "drive") -> None:
    """Raise `InputError` unless the HTTP endpoint at `url` answers within `timeout_s` seconds.

    Any HTTP answer counts (even an error status): the point is to fail fast with no internet
    instead of waiting out a long download timeout.
    """
    import requests

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"network_overpass_url {url!r} is not an http(s) URL."
        raise InputError(msg)
    try:
        resp = requests.get(url.rstrip("/") + "/status", timeout=(timeout_s, timeout_s),
                            stream=True)
        resp.close()
    except requests.RequestException as exc:
        reason = type(exc).__name__
        msg = (f"cannot reach the OpenStreetMap download service {url} within {timeout_s:g} s "
               f"({reason}): no internet here? {_import_hint(mode)}")
        raise InputError(msg) from None


def network_info(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """Facts about a network for people: size, street length, CRS, mode and extent.

    Returns
    -------
    dict
        `nodes`, `edges`, `street_km` (directed edge length counted once per street),
        `crs`, `mode`, `source`, `bounds_lonlat` (west, south, east, north) and
        `median_speed_kph`.
    """
    lengths: dict[frozenset, float] = {}
    speeds = []
    for u, v, data in graph.edges(data=True):
        key = frozenset((u, v))
        length = float(data.get("length", 0.0) or 0.0)
        lengths[key] = max(lengths.get(key, 0.0), length)
        if "speed_kph" in data:
            speeds.append(float(data["speed_kph"]))
    xs = [float(d["x"]) for _, d in graph.nodes(data=True)]
    ys = [float(d["y"]) for _, d in graph.nodes(data=True)]
    crs = graph.graph.get("crs")
    bounds = None
    if xs and crs is not None:
        tr = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
        west, south = tr.transform(min(xs), min(ys))
        east, north = tr.transform(max(xs), max(ys))
        bounds = [round(west, 5), round(south, 5), round(east, 5), round(north, 5)]
    speeds.sort()
    return {
        "nodes": len(graph),
        "edges": graph.number_of_edges(),
        "street_km": round(sum(lengths.values()) / 1000.0, 2),
        "crs": str(crs),
        "mode": graph.graph.get("mode"),
        "source": graph.graph.get("source", ""),
        "bounds_lonlat": bounds,
        "median_speed_kph": speeds[len(speeds) // 2] if speeds else None,
    }


# --------------------------------------------------------------------------------------------
# Plumbing


def _import_hint(mode: str) -> str:
    return ("To work offline, export an OSM XML file of the area (openstreetmap.org > Export, or "
            f"`osmium extract` from a Geofabrik download) and run `hotspots network import FILE "
            f"--mode {mode}`; plans without a network use straight-line estimates.")


def _same_crs(graph: nx.MultiDiGraph, crs: str) -> bool:
    found = graph.graph.get("crs")
    if found is None:
        return False
    try:
        return pyproj.CRS.from_user_input(found) == pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        return False


def _way_tags() -> list[str]:
    return sorted(set(ox.settings.useful_tags_way) | set(_ACCESS_TAGS))


@contextlib.contextmanager
def _osmnx_settings(**values: Any) -> Iterator[None]:
    """Set osmnx's global settings for the duration of a block, then restore them."""
    old = {k: getattr(ox.settings, k) for k in values}
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)


def _graph_from_osm_xml(path: Path, *, mode: str) -> nx.MultiDiGraph:
    with _osmnx_settings(useful_tags_way=_way_tags()):
        try:
            # Simplify later, after the ways a mode may not use are gone.
            return ox.graph_from_xml(path, bidirectional=(mode == "walk"), simplify=False,
                                     retain_all=True)
        except Exception as exc:  # the XML parser raises many types for a bad file
            msg = f"{path}: cannot read OSM XML ({type(exc).__name__}: {exc})."
            raise InputError(msg) from None


def _values(value: Any) -> list[str]:
    """Tag values of an edge attribute: a scalar, a list, or a list saved as text in GraphML."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return [v.strip() for v in text.split(";")] if ";" in text else [text]


def _usable(data: dict, mode: str) -> bool:
    highways = _values(data.get("highway"))
    if not highways:
        return False  # railways, waterways and other non-street ways
    if "yes" in _values(data.get("area")):
        return False
    if any(v in _NO_ACCESS for v in _values(data.get("access"))):
        # An explicit permission for the mode overrides a general restriction.
        allow = "foot" if mode == "walk" else "motor_vehicle"
        if not any(v in ("yes", "permissive", "designated") for v in _values(data.get(allow))):
            return False
    if mode == "drive":
        if all(h in _NOT_DRIVABLE for h in highways):
            return False
        if any(s in _NOT_DRIVABLE_SERVICE for s in _values(data.get("service"))):
            return False
        for tag in ("motor_vehicle", "motorcar", "vehicle"):
            if any(v in _NO_ACCESS for v in _values(data.get(tag))):
                return False
        return True
    if all(h in _NOT_WALKABLE for h in highways):
        return False
    return not any(v in _NO_ACCESS for v in _values(data.get("foot")))


def parse_maxspeed_kmh(value: Any) -> float | None:
    """A `maxspeed` tag in km/h: "30 mph", "48", "national", "GB:zone20"; None when unknown.

    Several values (a list or "20 mph;30 mph") give their mean.
    """
    found = []
    for raw in _values(value):
        text = raw.strip().lower()
        if text in _NAMED_LIMITS_MPH:
            found.append(_NAMED_LIMITS_MPH[text] * _MPH_TO_KMH)
            continue
        m = _NUMBER.match(text)
        if m:
            number = float(m.group(1))
            unit = (m.group(2) or "km/h").lower()
            found.append(number * _MPH_TO_KMH if unit == "mph" else number)
    found = [f for f in found if f > 0]
    return sum(found) / len(found) if found else None


def _drive_kmh(data: dict, settings: Settings) -> float:
    kmh = parse_maxspeed_kmh(data.get("maxspeed"))
    if kmh is None:
        table = settings.road_speeds_mph
        other = float(table.get("other", 20.0))
        speeds = [float(table.get(h.removesuffix("_link") if h not in table else h, other))
                  for h in _values(data.get("highway"))]
        kmh = (sum(speeds) / len(speeds) if speeds else other) * _MPH_TO_KMH
    return max(kmh * float(settings.patrol_speed_factor), 1.0)
