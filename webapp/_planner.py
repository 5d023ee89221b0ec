"""Run the route solver in a worker process, so plan requests never stall the web server.

The OR-Tools solver calls back into Python many times a second; in the server process it would
fight the request threads for the interpreter lock and slow both. A small pool of spawned worker
processes (one by default) solves plans; a request thread just waits for its result. Workers keep
loaded street networks in memory between plans.

Only plain data crosses the process boundary: the stops and teams go in, the plan's serialised
forms (dict, GeoJSON, GPX, sheet) come out.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd

from hotspots.settings import Settings

_NETWORKS: dict[tuple[str, int, str], Any] = {}


def _network(path: str | None, mode: str, settings: Settings) -> Any:
    if path is None:
        return None
    from routing import load_network

    key = (path, Path(path).stat().st_mtime_ns, mode)
    if key not in _NETWORKS:
        _NETWORKS.clear()  # one network per worker: they are large
        _NETWORKS[key] = load_network(path, mode=mode, settings=settings)
    return _NETWORKS[key]


def solve(stops: gpd.GeoDataFrame, teams: list[Any], *, network: tuple[str, str] | None,
          time_limit_s: float, seed: int, settings: Settings, title: str) -> dict[str, Any]:
    """Plan patrols (`routing.plan_patrols`) and return the plan in every form the app keeps.

    `network` is (GraphML path, mode to load it as) or None for an approximate plan.
    """
    from routing import plan_patrols

    graph = _network(network[0], network[1], settings) if network else None
    plan = plan_patrols(stops, teams, network=graph, time_limit_s=time_limit_s, seed=seed,
                        settings=settings)
    names = [r.team.name for r in plan.routes]
    return {
        "plan": plan.to_dict(),
        "geojson": plan.to_geojson(),
        "gpx": plan.to_gpx(),
        "gpx_teams": {name: plan.to_gpx(name) for name in names},
        "sheet_html": plan.to_sheet_html(title=title),
        "approximate": bool(plan.approximate),
        "teams": names,
    }


def _watch_parent(parent: int) -> None:
    """Worker initializer: run at a lower priority than the web server (plans can wait a moment,
    pages should not), and exit when the server process is gone (even after a SIGKILL)."""
    import time

    try:
        os.nice(10)
    except OSError:  # pragma: no cover - not allowed on this system
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def _warm() -> bool:
    import routing.plan  # noqa: F401 - imports OR-Tools and the planner once

    return True


class Planner:
    """Solves plans in `workers` spawned processes, or in the calling thread (`in_process`)."""

    def __init__(self, *, workers: int = 1, in_process: bool = False) -> None:
        self.workers = workers
        self.in_process = in_process
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_watch_parent, initargs=(os.getpid(),))
            return self._pool

    def warm(self) -> Future | None:
        """Start the workers now (they take a few seconds to import the solver)."""
        if self.in_process:
            return None
        return self._executor().submit(_warm)

    def solve(self, stops: gpd.GeoDataFrame, teams: list[Any], **kwargs: Any) -> dict[str, Any]:
        if self.in_process:
            return solve(stops, teams, **kwargs)
        return self._executor().submit(solve, stops, teams, **kwargs).result()

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
