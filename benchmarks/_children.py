"""What the benchmarks that measure in child processes share.

Each such benchmark runs its steps as `python <script> --child <mode> --key value ...`, one fresh
process per step, so that every step's peak memory is its own; the child prints one JSON line,
its result, last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_child(script: str, mode: str, **kw) -> dict:
    """Run `script --child mode` with `--key value` for each keyword; its last line, as JSON."""
    args = [sys.executable, script, "--child", mode]
    for key, value in kw.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        msg = f"child {mode} failed with exit code {proc.returncode}"
        raise RuntimeError(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _status_mb(path: str, field: str) -> float:
    with open(path) as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0
    return 0.0


def peak_mb() -> float:
    """Peak resident memory of this process since its program started (VmHWM: unlike
    ru_maxrss it does not carry the parent's peak over into a spawned child)."""
    return _status_mb("/proc/self/status", "VmHWM:")


def rss_mb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def available_mb() -> float:
    """Memory the machine can still give without swapping."""
    return _status_mb("/proc/meminfo", "MemAvailable:")
