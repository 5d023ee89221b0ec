"""Benchmark: how long the command line takes to answer `--help`, the price every command pays.

Each figure is the median wall time of fresh processes, printed next to two baselines from the same
run: the bare interpreter importing click (the floor any click program pays) and the 0.3 s target.
`python -X importtime -c "import webapp.cli"` shows which imports cost what.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3
COMMANDS = ["demo", "ingest", "store", "rank", "wards", "evaluate", "network", "plan", "serve",
            "users", "settings"]


def _median_time(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per figure")
    args = parser.parse_args()
    exe = shutil.which("hotspots")
    base = [exe] if exe else [sys.executable, "-m", "webapp.cli"]
    floor = _median_time([sys.executable, "-c", "import click"], args.runs)
    print(f"baseline: python -c 'import click'  {floor:.3f} s; target {TARGET_S:.1f} s")
    print(f"{'command':<28}{'median s':>10}{'x floor':>10}{'x target':>10}")
    worst = 0.0
    for sub in [None, *COMMANDS]:
        argv = [*base, "--help"] if sub is None else [*base, sub, "--help"]
        t = _median_time(argv, args.runs)
        worst = max(worst, t)
        label = "hotspots --help" if sub is None else f"hotspots {sub} --help"
        print(f"{label:<28}{t:>10.3f}{t / floor:>10.2f}{t / TARGET_S:>10.2f}")
    verdict = "met" if worst <= TARGET_S else "MISSED"
    print(f"slowest {worst:.3f} s = {worst / TARGET_S:.2f}x the {TARGET_S} s target: {verdict}")


if __name__ == "__main__":
    main()
