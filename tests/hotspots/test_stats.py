"""Gi* (esda as the oracle), FDR, the change test, Mann-Kendall and trend classes."""

from __future__ import annotations

import itertools
import math
import warnings

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy import stats

from hotspots import InputError
from hotspots.binning import study_area
from hotspots.stats import (
    TREND_CLASSES,
    change_test,
    fdr_reject,
    gi_star,
    mann_kendall,
    trend_classes,
)


@pytest.fixture(scope="module")
def area():
    wards = gpd.GeoDataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["West", "East"]},
        geometry=[shapely.box(430000, 433000, 431500, 434200), shapely.box(431500, 433000, 432600, 434000)],
        crs=27700,
    )
    return study_area(wards, resolution=10, k=1)


def esda_z(y, neighbours):
    """The oracle: esda's analytic Gi* z with binary weights, the cell included."""
    m = neighbours.tolil()
    ids = list(range(m.shape[0]))
    # libpysal weights without the diagonal; star=True puts the cell back with weight 1.
    nb = {i: [j for j in m.rows[i] if j != i] for i in ids}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.W(nb, id_order=ids, silence_warnings=True)
        g = esda.G_Local(np.asarray(y, dtype=float), w, transform="B", star=True, permutations=0)
    return g.Zs, g.p_norm


# ----------------------------------------------------------------------------- input checks


def test_gi_star_checks_shapes(area):
    with pytest.raises(InputError, match=rf"^`weights` is {area.n}x{area.n} but there are 3 values\.$"):
        gi_star(np.zeros(3), area.neighbours)


def test_fdr_checks_alpha():
    with pytest.raises(InputError, match=r"^`alpha` must be between 0 and 1, not 1\.5\.$"):
        fdr_reject(np.array([0.1]), alpha=1.5)


def test_change_test_checks_share():
    with pytest.raises(InputError, match=r"^`share` must be between 0 and 1, not 0\.$"):
        change_test([1], [2], share=0)


def test_mann_kendall_and_trend_check_shapes():
    with pytest.raises(InputError, match=r"^`series` must be 2-D \(cells x periods\), not 1-D\.$"):
        mann_kendall(np.arange(5))
    with pytest.raises(InputError, match=r"^`hot`, `cold` and `z` must be 2-D arrays of one shape \(cells x periods\)\.$"):
        trend_classes(np.zeros((2, 3), bool), np.zeros((2, 4), bool), np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"^`persistent_share` must be in \(0, 1\], not 0\.$"):
        trend_classes(np.zeros((2, 3), bool), np.zeros((2, 3), bool), np.zeros((2, 3)), persistent_share=0)


# ----------------------------------------------------------------------------- Gi*


def test_gi_star_agrees_with_esda(area):
    rng = np.random.default_rng(0)
    y = rng.poisson(0.4, area.n).astype(float)
    y[area.n // 3: area.n // 3 + 12] += 6  # a cluster
    z, p = gi_star(y, area.neighbours)
    ez, ep = esda_z(y, area.neighbours)
    np.testing.assert_allclose(z, ez, atol=1e-6, rtol=0)
    np.testing.assert_allclose(p, 2 * ep, atol=1e-9)  # esda's p_norm is one tail of |z|


def test_gi_star_columns_are_periods(area):
    rng = np.random.default_rng(1)
    y = rng.gamma(0.3, 50.0, (area.n, 3))  # harm-like weights
    z, p = gi_star(y, area.neighbours)
    assert z.shape == p.shape == (area.n, 3)
    for col in range(3):
        np.testing.assert_allclose(z[:, col], esda_z(y[:, col], area.neighbours)[0], atol=1e-6, rtol=0)


def test_gi_star_by_hand_on_a_path():
    # Four cells in a row, each with its neighbours and itself.
    w = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]], dtype=float))
    y = np.array([0.0, 0.0, 1.0, 3.0])
    z, _ = gi_star(y, w)
    n, mean, sd = 4, 1.0, math.sqrt((0 + 0 + 1 + 9) / 4 - 1)
    expected = [(y[[0, 1]].sum() - mean * 2) / (sd * math.sqrt((n * 2 - 4) / 3)),
                (y[[0, 1, 2]].sum() - mean * 3) / (sd * math.sqrt((n * 3 - 9) / 3)),
                (y[[1, 2, 3]].sum() - mean * 3) / (sd * math.sqrt((n * 3 - 9) / 3)),
                (y[[2, 3]].sum() - mean * 2) / (sd * math.sqrt((n * 2 - 4) / 3))]
    np.testing.assert_allclose(z, expected)


def test_gi_star_without_variation_finds_nothing(area):
    z, p = gi_star(np.zeros((area.n, 2)), area.neighbours)
    np.testing.assert_array_equal(z, 0.0)
    np.testing.assert_array_equal(p, 1.0)


# ----------------------------------------------------------------------------- FDR


def test_fdr_is_step_up():
    # 0.04 > 2/4 * 0.05 on its own, but 0.045 <= 4/4 * 0.05 lifts every smaller p-value with it.
    np.testing.assert_array_equal(fdr_reject(np.array([0.001, 0.04, 0.041, 0.045])), [True] * 4)
    np.testing.assert_array_equal(fdr_reject(np.array([0.01, 0.5, 0.03, 0.02])), [True, False, True, True])
    np.testing.assert_array_equal(fdr_reject(np.array([0.2, 0.5])), [False, False])
    np.testing.assert_array_equal(fdr_reject(np.array([0.01, np.nan])), [True, False])


def test_fdr_agrees_with_scipy_per_column():
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(0, 1, (300, 3)), rng.uniform(0, 0.002, (20, 3))])
    got = fdr_reject(p, alpha=0.05)
    for col in range(3):
        np.testing.assert_array_equal(got[:, col], stats.false_discovery_control(p[:, col], method="bh") <= 0.05)


# ----------------------------------------------------------------------------- change


def test_small_counts_are_not_a_surge():
    p = change_test(np.array([3, 10, 40, 0, 5]), np.array([1, 0, 20, 0, 5]))
    np.testing.assert_allclose(p, [0.625, 2 * 0.5**10, stats.binomtest(40, 60).pvalue, 1.0, 1.0])
    assert p[0] > 0.05 and p[1] < 0.05 and p[2] < 0.05


def test_change_test_with_unequal_periods():
    # A 31-day month after a 28-day one: the current month is expected to hold 31/59 of the total.
    share = 31 / 59
    p = change_test(np.array([12]), np.array([4]), share=share)
    expected = min(1.0, 2 * stats.binom.sf(11, 16, share))
    np.testing.assert_allclose(p, [expected])


# ----------------------------------------------------------------------------- Mann-Kendall


def brute_mk(x):
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i, j in itertools.combinations(range(n), 2))
    groups = np.unique(x, return_counts=True)[1]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in groups)) / 18
    z = 0.0 if var == 0 else (s - np.sign(s)) / math.sqrt(var)
    return s, z, 2 * stats.norm.sf(abs(z))


def test_mann_kendall_by_hand():
    series = np.array([
        [1, 2, 3, 4, 5, 6, 7, 8],
        [8, 7, 6, 5, 4, 3, 2, 1],
        [1, 1, 2, 2, 3, 3, 4, 4],
        [3, 1, 4, 1, 5, 9, 2, 6],
        [2, 2, 2, 2, 2, 2, 2, 2],
    ], dtype=float)
    s, z, p = mann_kendall(series)
    for row, (es, ez, ep) in enumerate(brute_mk(x) for x in series):
        np.testing.assert_allclose([s[row], z[row], p[row]], [es, ez, ep])
    np.testing.assert_allclose(z[0], 27 / math.sqrt(8 * 7 * 21 / 18))
    assert p[4] == 1.0


# ----------------------------------------------------------------------------- trend classes

T, F = True, False


def classify(hot, cold=None, z=None):
    hot = np.array([hot], dtype=bool)
    cold = np.zeros_like(hot) if cold is None else np.array([cold], dtype=bool)
    z = np.where(hot, 3.0, 0.0) if z is None else np.array([z], dtype=float)
    classes, h = trend_classes(hot, cold, z)
    return classes[0], int(h[0])


@pytest.mark.parametrize(("hot", "cold", "z", "expected"), [
    ([F, F, F, F, F, F, F, F], None, None, "none"),
    ([F, F, F, F, F, F, F, T], None, None, "new"),
    ([F, F, F, F, F, T, T, T], None, None, "consecutive"),
    ([T, T, T, T, T, T, T, T], None, [2, 3, 4, 5, 6, 7, 8, 9], "intensifying"),
    ([T, T, T, T, T, T, T, T], None, [9, 8, 7, 6, 5, 4, 3, 2], "diminishing"),
    ([T, T, T, T, T, T, T, T], None, [4, 5, 4, 5, 4, 5, 4, 5], "persistent"),
    ([T, F, T, T, T, T, T, T], None, [4, 1, 4, 5, 4, 5, 4, 5], "persistent"),  # 7 of 8 is "most"
    ([T, F, T, F, F, T, F, T], None, None, "sporadic"),
    ([F, T, F, F, F, T, T, T], None, None, "sporadic"),  # hot before the final run
    ([T, F, T, F, F, T, F, T], [F, F, F, T, F, F, F, F], None, "oscillating"),
    ([T, T, T, T, T, T, T, F], None, None, "historical"),
    ([T, T, F, T, T, T, T, F], None, None, "historical"),  # 6 of the 7 earlier periods
    ([T, F, F, T, F, F, F, F], None, None, "none"),
])
def test_each_trend_class(hot, cold, z, expected):
    got, h = classify(hot, cold, z)
    assert got == expected
    assert h == sum(hot)
    assert got in TREND_CLASSES


def test_trend_classes_are_vectorised():
    hot = np.array([[F, F, T], [T, T, T], [F, F, F]])
    classes, h = trend_classes(hot, np.zeros_like(hot), np.where(hot, 3.0, 0.0))
    assert classes.tolist() == ["new", "persistent", "none"]
    assert h.tolist() == [1, 3, 0]


def test_local_count_p_is_exact_and_honest_for_sparse_counts():
    from hotspots.stats import local_count_p

    # A line of 200 cells, each with its two neighbours; one lone incident.
    n = 200
    rows = np.repeat(np.arange(n), 3)
    cols = np.clip(rows + np.tile([-1, 0, 1], n), 0, n - 1)
    w = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    w.data[:] = 1.0
    counts = np.zeros(n)
    counts[100] = 1
    z, _ = gi_star(counts, w)
    p = local_count_p(counts, w)
    assert z[100] > 5  # the normal approximation would call this p < 1e-6
    lam = 3 * counts.mean()
    np.testing.assert_allclose(p[100], 2 * stats.poisson.sf(0, lam))
    assert not fdr_reject(p).any()
    # A real cluster is found: 12 incidents in three adjacent cells.
    counts[99:102] = [4, 4, 4]
    p = local_count_p(counts, w)
    assert fdr_reject(p)[100]
    # No incidents at all: nothing is significant.
    assert (local_count_p(np.zeros(n), w) == 1).all()
    with pytest.raises(InputError, match="`weights` is 200x200 but there are 3 counts"):
        local_count_p(np.zeros(3), w)
