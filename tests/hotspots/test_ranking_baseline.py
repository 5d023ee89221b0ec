"""Ranking results stay identical across changes of the incident frame, the store and the engines:
the demo data (fixed seed) ranked now against the ranking stored in `data/ranking_baseline.csv`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.hotspots.ranking_baseline import CASES, current_ranking, read_baseline


def test_demo_ranking_is_identical_to_the_stored_one(home):
    expected = read_baseline()
    got = current_ranking(home)
    assert len(expected) > 500 and set(expected["what"]) == {"cells", "wards"}
    assert sorted(set(zip(expected["what"], expected["category"], expected["period"], strict=True))) == sorted(
        (what, cat, period) for what, cat, period, _ in CASES)
    keys = ["what", "category", "period", "weight", "key"]
    pd.testing.assert_frame_equal(got[keys], expected[keys])
    np.testing.assert_array_equal(got["count"].to_numpy(), expected["count"].to_numpy())
    np.testing.assert_allclose(got["harm"].to_numpy(), expected["harm"].to_numpy(), rtol=0, atol=2e-6)
    np.testing.assert_allclose(got["z"].to_numpy(), expected["z"].to_numpy(), rtol=0, atol=2e-6,
                               equal_nan=True)
