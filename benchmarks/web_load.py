"""Load test of the web app as it runs in production: `hotspots serve` (waitress) on loopback.

50 concurrent clients for 60 seconds: most browse (the hotspot map page, its map frame, and the
hotspots API, over recent weeks and both categories), a few make patrol plans (POST
/api/v1/plans), as a neighbourhood team would, and a few guardians log visits on a saved plan
(POST /api/v1/visits; every visit answered 201 must be in the database afterwards: 0 lost
writes). Reports errors (target 0) and p50/p95 latency per
endpoint next to the targets (p95 at most 300 ms for the map page and the API; plan creation p50
at most 3 s), and each endpoint's first (uncached) response as the baseline the in-process cache
improves on; for plans also the solver's own time, to show how much is waiting.

    python benchmarks/web_load.py [--clients 50] [--planners 5] [--guardians 5] [--duration 60]

The store is the demo set `hotspots demo` writes (104 weeks); everything lives in a temporary
instance folder, removed at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

# The app imports `routing`; run as a script, this folder's routing.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TARGET_P95_MS = {"map page": 300.0, "map frame": 300.0, "hotspots API": 300.0}
TARGET_PLAN_P50_S = 3.0  # issue 18: plan creation p50 with 5 planners while 50 clients browse
TOKEN = "bench-token-not-secret"  # a throwaway account in a throwaway instance folder
GUARD_TOKEN = "bench-guardian-token-not-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(home: Path, weeks: int) -> None:
    """Demo store, an analyst account and a guardian account, each with an API token."""
    from hotspots.demo import generate_demo
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore
    from webapp import create_app
    from webapp.auth import create_user, issue_token
    from webapp.db import db_session

    settings = get_settings(home)
    IncidentStore(home, settings=settings).add(generate_demo(seed=0, weeks=weeks, settings=settings))
    app = create_app({"HOME": home, "BOOTSTRAP": False})
    with app.app_context():
        session = db_session()
        user, _ = create_user(session, "bench", "analyst")
        issue_token(user, TOKEN)
        guard, _ = create_user(session, "guard", "guardian")
        issue_token(guard, GUARD_TOKEN)
        session.commit()


def save_for_guardian(home: Path, plan_id: int) -> list[str]:
    """Save plan `plan_id` with every route assigned to the guardian (as a lead would on its
    page), so the guardian may log visits on it; returns the team names."""
    from webapp import create_app
    from webapp.db import SavedPlan, db_session

    app = create_app({"HOME": home, "BOOTSTRAP": False})
    with app.app_context():
        session = db_session()
        plan = session.get(SavedPlan, plan_id)
        teams = [r["team"]["name"] for r in plan.plan["routes"]]
        plan.status, plan.assignments = "saved", {t: "guard" for t in teams}
        session.commit()
        app.extensions["hotspots_db"]["engine"].dispose()
    return teams


def count_visits(home: Path, plan_id: int) -> int:
    """Visit rows stored for `plan_id` (read from the database after the load)."""
    from webapp import create_app
    from webapp.db import Visit, db_session

    app = create_app({"HOME": home, "BOOTSTRAP": False})
    with app.app_context():
        n = db_session().query(Visit).filter_by(plan_id=plan_id).count()
        app.extensions["hotspots_db"]["engine"].dispose()
    return n


class Client:
    """One keep-alive HTTP connection with a token."""

    def __init__(self, port: int, token: str = TOKEN) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "keep-alive"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by `pid` and each of its descendants, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            out[p] = stats[p][1]
            todo += [c for c, (parent, _) in stats.items() if parent == p]
    return out


def wait_for_server(port: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"the server exited with code {proc.returncode}"
            raise RuntimeError(msg)
        try:
            status, _ = Client(port).request("GET", "/login")
            if status in (200, 302):  # 302: the token already logs the client in
                return
        except OSError:
            pass
        time.sleep(0.3)
    msg = f"the server did not answer within {timeout_s:.0f} s"
    raise RuntimeError(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients in all")
    parser.add_argument("--planners", type=int, default=5, help="of which make patrol plans")
    parser.add_argument("--guardians", type=int, default=5, help="of which log patrol visits")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--weeks", type=int, default=104, help="weeks of demo incidents")
    parser.add_argument("--threads", type=int, default=16, help="server request threads")
    parser.add_argument("--keep", type=Path, default=None, help="keep the instance folder here")
    args = parser.parse_args(argv)
    planners = min(args.planners, args.clients)
    guardians = min(args.guardians, args.clients - planners)

    home = Path(tempfile.mkdtemp(prefix="web-load-")) if args.keep is None else args.keep
    home.mkdir(parents=True, exist_ok=True)
    print(f"instance folder: {home}")
    t0 = time.perf_counter()
    prepare(home, args.weeks)
    print(f"demo store ({args.weeks} weeks) and account ready in {time.perf_counter() - t0:.1f} s")

    port = free_port()
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed in finally
    env = {**os.environ, "HOTSPOTS_HOME": str(home)}
    cmd = [sys.executable, "-c", "from webapp.cli import main; main()", "--home", str(home), "serve",
           "--host", "127.0.0.1", "--port", str(port), "--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        t0 = time.perf_counter()
        wait_for_server(port, proc)
        print(f"server (waitress, {args.threads} threads) answering on 127.0.0.1:{port} after "
              f"{time.perf_counter() - t0:.1f} s")
        return run_load(port, args.clients, planners, args.duration, home=home, n_guardians=guardians,
                        server_pid=proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


def run_load(port: int, n_clients: int, n_planners: int, duration: float, *, home: Path,
             n_guardians: int = 0, server_pid: int | None = None) -> int:
    probe = Client(port)
    status, body = probe.request("GET", "/api/v1/")
    if status != 200:
        print(f"cannot use the API: {status} {body[:200]!r}")
        return 1
    # Recent weeks the map would show: the latest complete one and the three before it.
    import re

    status, page = probe.request("GET", "/map?category=all")  # not a combination measured below
    latest = re.search(rb'<option value="(\d{4}-W\d{2})" selected>', page).group(1).decode()
    year, week = int(latest[:4]), int(latest[6:])
    weeks = [f"{year}-W{w:02d}" for w in range(week, week - 4, -1) if w > 0]
    categories = ["asb", "serious_violence"]

    # The baseline: each endpoint's first, uncached answer.
    cold: dict[str, float] = {}
    for name, path in [("map page", f"/map?period={weeks[0]}&category=asb"),
                       ("map frame", f"/map/frame?period={weeks[0]}&category=asb&wards=priority"),
                       ("hotspots API", f"/api/v1/hotspots?period={weeks[0]}&category=asb")]:
        t = time.perf_counter()
        status, _ = probe.request("GET", path)
        cold[name] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    status, body = probe.request("POST", "/api/v1/plans", {"teams": 3, "category": "asb"})
    cold["plan creation"] = (time.perf_counter() - t) * 1000
    if status != 201:
        print(f"plan creation failed: {status} {body[:300]!r}")
        return 1
    visit_plan = json.loads(body)["id"]
    visit_teams = save_for_guardian(home, visit_plan)
    stops = {i: [v["seq"] for v in r["visits"]] for i, r in enumerate(json.loads(body)["plan"]["routes"])}
    visits_written = 0  # answered 201: each is one visit row
    t = time.perf_counter()
    status, body = Client(port, GUARD_TOKEN).request("POST", "/api/v1/visits", {
        "plan_id": visit_plan, "team": 0, "stop": stops[0][0], "arrived_at": "2025-07-21T16:00:00Z",
        "departed_at": "2025-07-21T16:15:00Z"})
    cold["visit log"] = (time.perf_counter() - t) * 1000
    if status != 201:
        print(f"visit logging failed: {status} {body[:300]!r}")
        return 1
    visits_written += 1
    for w in weeks:  # the other combinations fill the cache as the first users would
        for c in categories:
            probe.request("GET", f"/map?period={w}&category={c}")
            probe.request("GET", f"/map/frame?period={w}&category={c}&wards=priority")
            probe.request("GET", f"/api/v1/hotspots?period={w}&category={c}")

    results: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    solver_s: list[float] = []  # per plan made: the solver's own time (matrix + search)
    stopped: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + duration

    def record(name: str, seconds: float, status: int | None, detail: str = "") -> None:
        with lock:
            results[name].append(seconds * 1000)
            if status is None or status >= 400:
                errors[name].append(f"{status} {detail}"[:200])

    def timed(client: Client, name: str, method: str, path: str, body=None, ok=(200,)) -> None:
        t = time.perf_counter()
        try:
            status, data = client.request(method, path, body)
        except OSError as exc:
            record(name, time.perf_counter() - t, None, repr(exc))
            return
        elapsed = time.perf_counter() - t
        record(name, elapsed, status if status in ok else max(status, 400), data[:120].decode(errors="replace"))
        if name == "plan creation" and status == 201:
            stats = json.loads(data)["plan"]["stats"]
            with lock:
                solver_s.append(stats["matrix_s"] + stats["solve_s"])
                stopped[stats["stopped"]] += 1

    def browser(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(port)
        while time.monotonic() < stop_at:
            w, c = rng.choice(weeks), rng.choice(categories)
            if rng.random() < 0.5:
                timed(client, "map page", "GET", f"/map?period={w}&category={c}")
                if time.monotonic() < stop_at:
                    timed(client, "map frame", "GET", f"/map/frame?period={w}&category={c}&wards=priority")
            else:
                timed(client, "hotspots API", "GET", f"/api/v1/hotspots?period={w}&category={c}")

    def guardian(seed: int) -> None:
        # A guardian on patrol logs each stop as one visit with its arrival and departure.
        nonlocal visits_written
        rng = random.Random(seed)
        client = Client(port, GUARD_TOKEN)
        while time.monotonic() < stop_at:
            team = rng.randrange(len(visit_teams))
            if not stops[team]:
                continue
            now = time.time()
            body = {"plan_id": visit_plan, "team": team, "stop": rng.choice(stops[team]),
                    "arrived_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 900)),
                    "departed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
            t = time.perf_counter()
            try:
                status, data = client.request("POST", "/api/v1/visits", body)
            except OSError as exc:
                record("visit log", time.perf_counter() - t, None, repr(exc))
                continue
            record("visit log", time.perf_counter() - t, status if status == 201 else max(status, 400),
                   data[:120].decode(errors="replace"))
            if status == 201:
                with lock:
                    visits_written += 1

    def planner(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(port)
        while time.monotonic() < stop_at:
            body = {"teams": rng.randint(2, 4), "category": rng.choice(["asb", "serious_violence", "both"]),
                    "period": rng.choice(weeks), "seed": rng.randint(0, 10_000), "stops_per_ward": 10}
            timed(client, "plan creation", "POST", "/api/v1/plans", body, ok=(201,))

    def role(i: int):
        if i < n_planners:
            return planner
        return guardian if i < n_planners + n_guardians else browser

    threads = [threading.Thread(target=role(i), args=(i,), daemon=True) for i in range(n_clients)]
    print(f"load: {n_clients} clients ({n_clients - n_planners - n_guardians} browsing, "
          f"{n_planners} planning, {n_guardians} logging visits) for {duration:.0f} s, each "
          f"sending its next request as soon as the last is answered; the clients, the server "
          f"and its plan worker share this machine's {os.cpu_count()} cores (load average "
          f"{os.getloadavg()[0]:.1f} before) ...")
    cpu_before = cpu_seconds(server_pid) if server_pid else {}
    own_before = time.process_time()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(1.0, stop_at - time.monotonic() + 120))  # bounded: a stuck request ends it
    elapsed = time.monotonic() - start
    own_cpu = time.process_time() - own_before
    cpu_after = cpu_seconds(server_pid) if server_pid else {}
    stuck = sum(th.is_alive() for th in threads)

    total = sum(len(v) for v in results.values())
    print(f"\n{total:,} requests in {elapsed:.1f} s ({duration:.0f} s of load, then the requests in "
          f"flight finish; {total / elapsed:.0f}/s); "
          f"{sum(len(v) for v in errors.values())} errors (target 0); {stuck} clients still waiting\n")
    header = (f"{'endpoint':<15} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'max ms':>8} {'target p95':>10} {'verdict':>7} {'first (uncached) ms':>20} "
              f"{'first/p50':>9}")
    print(header)
    print("-" * len(header))
    failed = bool(stuck)
    for name in ("map page", "map frame", "hotspots API", "plan creation", "visit log"):
        lat = np.asarray(results.get(name, []))
        if not len(lat):
            continue
        p50, p95, top = np.percentile(lat, 50), np.percentile(lat, 95), lat.max()
        target = TARGET_P95_MS.get(name)
        errs = errors.get(name, [])
        verdict = "-" if target is None else ("ok" if p95 <= target and not errs else "FAIL")
        if verdict == "FAIL" or errs:
            failed = True
        print(f"{name:<15} {len(lat):>8,} {len(errs):>6} {p50:>8.1f} {p95:>8.1f} {top:>8.0f} "
              f"{(f'<= {target:.0f}' if target else 'none'):>10} {verdict:>7} {cold[name]:>20.0f} "
              f"{cold[name] / p50:>9.1f}")
    lat = np.asarray(results.get("plan creation", []))
    if len(lat) and solver_s:
        p50 = float(np.percentile(lat, 50)) / 1000
        solver = float(np.median(solver_s))
        met = p50 <= TARGET_PLAN_P50_S
        print(f"\nplan creation p50 {p50:.2f} s: {p50 / TARGET_PLAN_P50_S:.2f}x the "
              f"{TARGET_PLAN_P50_S:g} s target ({'met' if met else 'MISSED'}); "
              f"{p50 / (cold['plan creation'] / 1000):.2f}x the first plan made without load; "
              f"{p50 / solver:.1f}x the solver's own median time ({solver:.2f} s: the rest is "
              f"waiting for a worker and the page's own work); searches ended by "
              + ", ".join(f"{k} x{v}" for k, v in sorted(stopped.items())))
        failed |= not met
    if n_guardians:
        stored = count_visits(home, visit_plan)
        lost = visits_written - stored
        print(f"\nvisit writes: {visits_written:,} answered 201, {stored:,} stored: {lost} lost "
              "(target 0)")
        failed |= lost != 0
    if cpu_after:
        # Where the cores went: with no think time the clients wait on CPU, so the latencies
        # above depend on this split (and on whatever else the machine runs) as much as on the
        # app's own cost per request, which is the steadier figure to compare between runs.
        server = cpu_after.get(server_pid, 0.0) - cpu_before.get(server_pid, 0.0)
        workers = sum(v - cpu_before.get(p, 0.0) for p, v in cpu_after.items() if p != server_pid)
        browsing = sum(len(results.get(n, [])) for n in ("map page", "map frame", "hotspots API",
                                                         "visit log"))
        plans = len(results.get("plan creation", []))
        cores = os.cpu_count() or 1
        idle = max(0.0, cores - (server + workers + own_cpu) / elapsed)
        print(f"\nCPU during the load ({cores} cores, {elapsed:.0f} s): the server "
              f"{server / elapsed:.2f} of a core ({1000 * server / max(1, browsing + plans):.1f} ms "
              f"per request, plan preparation included), its plan workers {workers / elapsed:.2f} "
              f"({1000 * workers / max(1, plans):.0f} ms per plan), these clients "
              f"{own_cpu / elapsed:.2f}; left idle or to other programs: {idle:.2f}")
    for name, errs in errors.items():
        if errs:
            print(f"\n{name}: {len(errs)} errors, e.g. {errs[:3]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
