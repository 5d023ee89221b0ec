"""Statistics of cells over time: Getis-Ord Gi*, false-discovery-rate control, change between two
periods, the Mann-Kendall trend test and emerging-hotspot trend classes. All vectorised over cells.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import stats

from hotspots.errors import InputError

#: Trend classes, in the order the docs list them; `none` when no rule applies.
TREND_CLASSES: tuple[str, ...] = (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
    "historical", "none",
)


def _cell_columns(values: np.ndarray, weights: sp.spmatrix, noun: str) -> tuple[np.ndarray, bool]:
    """`values` as a float (cells x periods) array, whether it was 1-D, and a check that
    `weights` is cells x cells."""
    x = np.asarray(values, dtype=np.float64)
    one_d = x.ndim == 1
    if one_d:
        x = x[:, None]
    n = x.shape[0]
    if weights.shape != (n, n):
        msg = f"`weights` is {weights.shape[0]}x{weights.shape[1]} but there are {n} {noun}."
        raise InputError(msg)
    return x, one_d


def _neighbourhood_sums(x: np.ndarray, weights: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Per cell and column, the sum over the cell and its neighbours, and (as a column) how many
    cells that neighbourhood holds (W_i)."""
    return weights @ x, np.asarray(weights.sum(axis=1)).ravel()[:, None]


def gi_star(values: np.ndarray, weights: sp.spmatrix, *,
            p_values: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Getis-Ord Gi* z-scores and p-values with binary weights, the cell itself included.

    For cell i with neighbour set N(i) (itself included; w_ij = 1), n cells, mean x̄ and
    standard deviation S (dividing by n) of the values::

        W_i = |N(i)|
        z_i = (sum_{j in N(i)} x_j - x̄ W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))

    which is what ``esda.G_Local(y, w, transform="B", star=True)`` reports as `Zs`.

    Parameters
    ----------
    values
        (n,) or (n, t): one column per period; the statistic is computed per column.
    weights
        (n, n) binary sparse matrix with ones on the diagonal.

    Returns
    -------
    (z, p)
        Arrays shaped like `values`. `p` is two-sided (normal approximation): a cell is hot only
        if its z is positive and it survives the false-discovery-rate control. Columns with no
        variation (all values equal) give z = 0 and p = 1.
    """
    x, one_d = _cell_columns(values, weights, "values")
    n = x.shape[0]
    z = np.zeros_like(x)
    if n >= 2:
        local, w_i = _neighbourhood_sums(x, weights)
        mean = x.mean(axis=0)
        sd = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
        spread = np.sqrt(np.maximum(n * w_i - w_i * w_i, 0.0) / (n - 1))
        denom = sd[None, :] * spread
        # (local - mean W_i) / denom, in place: cells x periods arrays are large nationally.
        z = mean[None, :] * w_i
        np.subtract(local, z, out=z)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(z, denom, out=z)
        z[~(denom > 0)] = 0.0
        # A column with (numerically) no variation has no hot spots.
        flat = sd <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        z[:, flat] = 0.0
    if not p_values:  # callers that use only z skip the normal tail of every cell
        return (z[:, 0] if one_d else z), None
    p = 2.0 * stats.norm.sf(np.abs(z))
    if one_d:
        return z[:, 0], p[:, 0]
    return z, p


def local_count_p(counts: np.ndarray, weights: sp.spmatrix) -> np.ndarray:
    """Exact two-sided p-value of each cell's local count under a homogeneous Poisson rate.

    The local count of cell i is the number of incidents in i and its neighbours,
    L_i = sum_{j in N(i)} c_j (the same binary weights as `gi_star`). If incidents fell at one
    rate everywhere, L_i would be Poisson with mean W_i c̄ (c̄ the mean count per cell). The
    p-value doubles the smaller exact tail, P(L >= L_i) or P(L <= L_i), capped at 1.

    Why not Gi*'s normal approximation: weekly counts of one category are sparse (most cells 0),
    and there a lone incident reaches z of 5 to 7, which the normal curve calls p < 1e-6 although
    one incident in seven cells is unremarkable (exact p about 0.1 at typical rates). The exact
    Poisson tail keeps the false-discovery control honest for small counts and agrees with the
    normal approximation when counts are large.

    Parameters
    ----------
    counts
        (n,) or (n, t) incident counts per cell (one column per period).
    weights
        (n, n) binary sparse matrix with ones on the diagonal.

    Returns
    -------
    ndarray
        p-values shaped like `counts`; 1 where the column has no incidents.
    """
    c, one_d = _cell_columns(counts, weights, "counts")
    n = c.shape[0]
    local, w_i = _neighbourhood_sums(c, weights)
    local = np.rint(local)
    mean = c.mean(axis=0) if n else np.zeros(c.shape[1])
    # The tails depend only on (local count, W_i, column), and few such triples occur: each is
    # computed once (the same floats as cell by cell), then spread back to the cells.
    li = local.astype(np.int64)
    wi = np.broadcast_to(np.rint(w_i).astype(np.int64), li.shape)
    if li.size and li.min() >= 0 and np.array_equal(wi, np.broadcast_to(w_i, li.shape)):
        n_l, n_w = int(li.max()) + 1, int(wi.max()) + 1
        key = (np.arange(li.shape[1], dtype=np.int64)[None, :] * n_w + wi) * n_l + li
        if n_l * n_w * li.shape[1] <= 4 * li.size + 1_000_000:
            present = np.flatnonzero(np.bincount(key.ravel(), minlength=n_l * n_w * li.shape[1]))
            # Each key's place among those present, by lookup rather than binary search.
            place = np.zeros(n_l * n_w * li.shape[1], dtype=np.int64)
            place[present] = np.arange(len(present))
            inverse = place[key]
        else:
            present, inverse = np.unique(key, return_inverse=True)
            inverse = inverse.reshape(key.shape)
        col, rest = np.divmod(present, n_w * n_l)
        w_u, l_u = np.divmod(rest, n_l)
        p = _two_sided_poisson(l_u.astype(np.float64), w_u.astype(np.float64) * mean[col])[inverse]
        return p[:, 0] if one_d else p
    p = _two_sided_poisson(local, w_i * mean[None, :] if n else np.zeros_like(c))
    return p[:, 0] if one_d else p


def _two_sided_poisson(local: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Twice the smaller exact Poisson tail of `local` at mean `expected`, capped at 1 (1 where
    the mean is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = stats.poisson.sf(local - 1, expected)
        lower = stats.poisson.cdf(local, expected)
    p = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
    return np.where(expected > 0, p, 1.0)


def fdr_reject(p: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are significant at false-discovery rate `alpha`.

    With m tests sorted p_(1) <= ... <= p_(m), reject every hypothesis with p <= p_(k) for the
    largest k with p_(k) <= k alpha / m. A 2-D array is corrected per column (one family per
    period). NaN p-values are never rejected and do not count as tests.
    """
    if not 0 < alpha < 1:
        msg = f"`alpha` must be between 0 and 1, not {alpha!r}."
        raise InputError(msg)
    arr = np.asarray(p, dtype=np.float64)
    one_d = arr.ndim == 1
    if one_d:
        arr = arr[:, None]
    filled = np.where(np.isnan(arr), np.inf, arr)
    m = np.isfinite(filled).sum(axis=0)
    ordered = np.sort(filled, axis=0)
    ranks = np.arange(1, arr.shape[0] + 1)[:, None]
    passes = ordered <= alpha * ranks / np.maximum(m, 1)[None, :]
    any_pass = passes.any(axis=0)
    last = arr.shape[0] - 1 - np.argmax(passes[::-1], axis=0)
    cutoff = np.where(any_pass, ordered[last, np.arange(arr.shape[1])], -np.inf)
    out = filled <= cutoff[None, :]
    return out[:, 0] if one_d else out


def change_test(current: np.ndarray, previous: np.ndarray, *, share: float = 0.5) -> np.ndarray:
    """Two-sided p-value that two Poisson counts come from the same rate.

    Conditional on the total n = current + previous, `current` is Binomial(n, share) when the
    rates are equal, where `share` is the current period's part of the exposure (0.5 for two
    periods of the same length; days_now / (days_now + days_before) for months). The p-value
    doubles the smaller tail (capped at 1). Exact at small counts: 1 -> 3 gives p = 0.625,
    0 -> 10 gives p = 0.002. Cells with no incidents in either period get p = 1.
    """
    if not 0 < share < 1:
        msg = f"`share` must be between 0 and 1, not {share!r}."
        raise InputError(msg)
    cur = np.asarray(current, dtype=np.int64)
    prev = np.asarray(previous, dtype=np.int64)
    n = cur + prev
    lower = stats.binom.cdf(cur, n, share)
    upper = stats.binom.sf(cur - 1, n, share)
    p = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    return np.where(n > 0, p, 1.0)


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test of each row of `series` (cells x periods, oldest first).

    S = sum over pairs i < j of sign(x_j - x_i); its variance under no trend, corrected for ties,
    is (n(n-1)(2n+5) - sum_groups t(t-1)(2t+5)) / 18; z uses a continuity correction of 1, and
    p is two-sided (normal approximation).

    Returns
    -------
    (s, z, p)
        Per row. Rows with no variation get z = 0, p = 1.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2:
        msg = f"`series` must be 2-D (cells x periods), not {x.ndim}-D."
        raise InputError(msg)
    rows, n = x.shape
    s = np.zeros(rows)
    ties = np.zeros(rows)
    for i in range(n):
        s += np.sign(x[:, i + 1:] - x[:, i:i + 1]).sum(axis=1)
        # Each member of a group of t equal values sees t equal values (itself included); summing
        # (t_i - 1)(2 t_i + 5) over members gives sum_groups t(t-1)(2t+5).
        t_i = (x == x[:, i:i + 1]).sum(axis=1)
        ties += (t_i - 1) * (2 * t_i + 5)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    return s, z, p


def trend_classes(hot: np.ndarray, cold: np.ndarray, z: np.ndarray, *, alpha: float = 0.05,
                  persistent_share: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Emerging-hotspot class of each cell from its hot/cold status over the last T periods.

    `hot`, `cold` and `z` are cells x T, oldest period first, the period analysed last. A period
    is hot (cold) for a cell when its Gi* z is positive (negative) and significant after FDR
    control. Let h be the number of hot periods and "most" mean at least
    ceil(`persistent_share` x T) periods. The first rule that applies wins:

    Hot in the last period:
      - intensifying: hot in most periods, and the Gi* z rises (Mann-Kendall, p < `alpha`);
      - diminishing: hot in most periods, and the Gi* z falls (Mann-Kendall, p < `alpha`);
      - persistent: hot in most periods with no significant trend;
      - new: hot in the last period only;
      - consecutive: one unbroken run of at least two hot periods ending with the last, and
        never hot before that run;
      - oscillating: also a significant cold spot in some earlier period;
      - sporadic: otherwise (on again, off again, never cold).

    Not hot in the last period:
      - historical: hot in at least ceil(`persistent_share` x (T - 1)) of the earlier periods;
      - none: otherwise (including never hot).

    Returns
    -------
    (classes, hot_periods)
        `classes` holds strings from `TREND_CLASSES`; `hot_periods` is h per cell.
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    z = np.asarray(z, dtype=np.float64)
    if hot.ndim != 2 or hot.shape != cold.shape or hot.shape != z.shape:
        msg = "`hot`, `cold` and `z` must be 2-D arrays of one shape (cells x periods)."
        raise InputError(msg)
    if not 0 < persistent_share <= 1:
        msg = f"`persistent_share` must be in (0, 1], not {persistent_share!r}."
        raise InputError(msg)
    rows, t = hot.shape
    h = hot.sum(axis=1)
    last = hot[:, -1] if t else np.zeros(rows, dtype=bool)
    most = h >= math.ceil(persistent_share * t)
    # Length of the run of hot periods ending with the last one.
    run = np.zeros(rows, dtype=np.int64)
    alive = np.ones(rows, dtype=bool)
    for k in range(t - 1, -1, -1):
        alive &= hot[:, k]
        run += alive
    earlier_cold = cold[:, :-1].any(axis=1) if t > 1 else np.zeros(rows, dtype=bool)
    earlier_hot = hot[:, :-1].sum(axis=1) if t > 1 else np.zeros(rows, dtype=np.int64)
    out = np.full(rows, "none", dtype=object)
    trend_rows = np.flatnonzero(last & most)
    rising = np.zeros(rows, dtype=bool)
    falling = np.zeros(rows, dtype=bool)
    if len(trend_rows):
        _, mk_z, mk_p = mann_kendall(z[trend_rows])
        rising[trend_rows] = (mk_p < alpha) & (mk_z > 0)
        falling[trend_rows] = (mk_p < alpha) & (mk_z < 0)
    rules = [
        (last & most & rising, "intensifying"),
        (last & most & falling, "diminishing"),
        (last & most, "persistent"),
        (last & (h == 1), "new"),
        (last & (run >= 2) & (run == h), "consecutive"),
        (last & earlier_cold, "oscillating"),
        (last, "sporadic"),
        (~last & (earlier_hot >= math.ceil(persistent_share * (t - 1))) & (earlier_hot > 0), "historical"),
    ]
    decided = np.zeros(rows, dtype=bool)
    for mask, name in rules:
        take = mask & ~decided
        out[take] = name
        decided |= take
    return out, h
