"""The stored ranking of the demo data that changes to the incident frame and the store must keep.

`python -m tests.hotspots.ranking_baseline` rewrites `data/ranking_baseline.csv` from the code as it
is. Do that only when the statistics change on purpose (say so in the commit), never to make a
change of the frame, the store or the engines pass.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

BASELINE = Path(__file__).parent / "data" / "ranking_baseline.csv"
SEED = 7
WEEKS = 10
#: (what, category, period, weight): every cell with incidents, and every ward of the table.
CASES = [
    ("cells", "asb", "2025-W30", "harm"),
    ("cells", "serious_violence", "2025-07", "count"),
    ("wards", "asb", "2025-W29", "harm"),
    ("wards", "serious_violence", "2025-06", "harm"),
]
DECIMALS = 6


def current_ranking(home: Path) -> pd.DataFrame:
    """Generate the demo (fixed seed), store it in `home`, load it back and rank every case."""
    from hotspots.demo import generate_demo
    from hotspots.ranking import rank_hotspots, rank_wards
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore

    settings = get_settings(home)
    store = IncidentStore(home, settings=settings)
    store.add(generate_demo(seed=SEED, weeks=WEEKS, settings=settings))
    incidents = store.load()
    rows = []
    for what, category, period, weight in CASES:
        if what == "cells":
            ranked = rank_hotspots(incidents, category=category, period=period, weight=weight,
                                   settings=settings)
            ranked = ranked.loc[ranked["count"] > 0]
            keys, z = ranked["h3_cell"].map(lambda c: f"{int(c):x}"), ranked["gi_z"]
        else:
            ranked = rank_wards(incidents, category=category, period=period, weight=weight,
                                settings=settings)
            keys, z = ranked["ward_code"], pd.Series(float("nan"), index=ranked.index)
        rows.append(pd.DataFrame({
            "what": what, "category": category, "period": period, "weight": weight,
            "key": keys.astype(str).to_numpy(), "count": ranked["count"].to_numpy(dtype="int64"),
            "harm": ranked["harm"].round(DECIMALS).to_numpy(), "z": z.round(DECIMALS).to_numpy(),
        }))
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["what", "category", "period", "key"], ignore_index=True)


def read_baseline() -> pd.DataFrame:
    return pd.read_csv(BASELINE, dtype={"key": str, "what": str, "category": str, "period": str,
                                        "weight": str})


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        frame = current_ranking(Path(tmp) / "instance")
    frame.to_csv(BASELINE, index=False, float_format=f"%.{DECIMALS}f")
    print(f"wrote {len(frame)} rows to {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
