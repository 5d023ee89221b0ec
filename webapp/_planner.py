"""Run the route solver in a worker process, so plan requests never stall the web server.

The OR-Tools solver calls back into Python many times a second; in the server process it would
fight the request threads for the interpreter lock and slow both. A small pool of spawned worker
processes (one by default) solves plans; a request thread just waits for its result. Workers keep
loaded street networks in memory between plans.

Only plain data crosses the process boundary: the prepared deployment (`routing.deploy`: stops,
teams, network files) goes in, the plan's serialised forms (dict, GeoJSON, GPX, sheet) come out.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any


def solve(deployment: Any, *, time_limit_s: float, seed: int, title: str) -> dict[str, Any]:
    """Plan a prepared deployment (`routing.solve_deployment`) and return the plan in every form
    the app keeps. Networks stay loaded in the process between plans."""
    from routing.deploy import solve_deployment

    plan = solve_deployment(deployment, time_limit_s=time_limit_s, seed=seed)
    names = [r.team.name for r in plan.routes]
    return {
        "plan": plan.to_dict(),
        "geojson": plan.to_geojson(),
        "gpx": plan.to_gpx(),
        "gpx_teams": {name: plan.to_gpx(name) for name in names},
        "sheet_html": plan.to_sheet_html(title=title),
        # Approximate when any leg is a straight line (the page and the lists say so).
        "approximate": bool(plan.approximate or plan.approximate_legs),
        "teams": names,
    }


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the server process is gone (even after a SIGKILL).

    Workers run at the server's priority. A lower one (nice 10) starved plans on a busy machine:
    benchmarks/web_load.py measured plan p50 8.2 s against 3.9 s at the same priority, with the
    pages' p95 under 300 ms in both (the server's threads share one interpreter lock, so the
    pages never need the core a worker uses).
    """
    import time

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

    def solve(self, deployment: Any, **kwargs: Any) -> dict[str, Any]:
        if self.in_process:
            return solve(deployment, **kwargs)
        return self._executor().submit(solve, deployment, **kwargs).result()

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
