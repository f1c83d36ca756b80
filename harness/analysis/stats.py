"""Point estimates of rank and linear correlation, and per-element Kendall concordance in O(n log n).

Point estimates come from ``scipy.stats`` (the reference everyone can check against); what scipy does not
offer is the per-element concordance ``h_i = sum_j sign(x_i - x_j) * sign(y_i - y_j)``, which the
bootstrap needs to resample Kendall's tau cheaply on 15,625 cells.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

STATISTICS = ("spearman", "kendall", "pearson")


def _constant(a: np.ndarray) -> bool:
    return a.size == 0 or bool(np.all(a == a[0]))


def correlation(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """Signed correlation of ``x`` and ``y`` (NaN when undefined: fewer than 3 values or a constant vector)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"correlation of vectors of different lengths {x.size} and {y.size}")
    if x.size < 3 or _constant(x) or _constant(y):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on near-constant input; NaN is the honest answer there
        if method == "spearman":
            return float(stats.spearmanr(x, y).statistic)
        if method == "kendall":
            return float(stats.kendalltau(x, y, variant="b").statistic)
        if method == "pearson":
            # numpy's corrcoef equals scipy's pearsonr (tested) without its BLAS dot, which is much slower
            # when OpenBLAS threads compete with other processes for the cores.
            return float(np.corrcoef(x, y)[0, 1])
    raise ValueError(f"unknown correlation {method!r}; expected one of {', '.join(STATISTICS)}")


def dense_ranks(a: np.ndarray) -> np.ndarray:
    """0-based ranks where equal values share a rank and ranks have no gaps."""
    return np.unique(np.asarray(a), return_inverse=True)[1].reshape(-1).astype(np.int64)


def _earlier_smaller(r: np.ndarray) -> np.ndarray:
    """``out[p] = #{q < p : r[q] < r[p]}`` for non-negative integers ``r``.

    Bit by bit from the most significant: two values first differ at one bit, where the smaller has 0 and
    the larger 1, and they share every higher bit. So at each level, within each group of equal higher bits
    (kept in position order by a stable sort), a 1 counts the 0s before it: O(n log n) with numpy only.
    """
    n = r.size
    out = np.zeros(n, dtype=np.int64)
    if n < 2:
        return out
    small = int(r.max()) < 2**16  # numpy sorts 16-bit keys stably by radix sort, much faster than int64
    for bit in range(int(r.max()).bit_length() - 1, -1, -1):
        prefix = r >> (bit + 1)
        order = np.argsort(prefix.astype(np.uint16) if small else prefix, kind="stable")
        prefix_sorted = prefix[order]
        ones = ((r[order] >> bit) & 1).astype(bool)
        zeros_before = np.concatenate(([0], np.cumsum(~ones)))  # zeros_before[k] = zeros among positions < k
        starts = np.flatnonzero(np.concatenate(([True], prefix_sorted[1:] != prefix_sorted[:-1])))
        group_start = np.repeat(starts, np.diff(np.append(starts, n)))
        positions = np.flatnonzero(ones)
        out[order[positions]] += zeros_before[positions] - zeros_before[group_start[positions]]
    return out


def _dominated(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``out[i] = #{j : a[j] < a[i] and b[j] < b[i]}`` (strict in both) for integer ranks ``a``, ``b``."""
    # Sorting by a ascending and, among equal a, by b descending puts every j with a[j] < a[i] before i and
    # every j with a[j] == a[i] and b[j] < b[i] after it, so "earlier and smaller b" is exactly the count.
    order = np.lexsort((-b, a))
    out = np.empty(a.size, dtype=np.int64)
    out[order] = _earlier_smaller(b[order])
    return out


def concordance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-element concordance ``h_i = sum_j sign(x_i - x_j) sign(y_i - y_j)`` (ties count 0), O(n log n).

    ``sum(h) / 2`` is Kendall's C - D; the bootstrap uses ``h`` as tau's influence values.
    """
    rx, ry = dense_ranks(x), dense_ranks(y)
    if rx.size == 0:
        return np.zeros(0, dtype=np.int64)
    nx, ny = rx.max() - rx, ry.max() - ry  # reversed ranks turn ">" into "<"
    both_lower = _dominated(rx, ry)
    both_higher = _dominated(nx, ny)
    x_lower_y_higher = _dominated(rx, ny)
    x_higher_y_lower = _dominated(ry, nx)
    return both_lower + both_higher - x_lower_y_higher - x_higher_y_lower


def tie_pairs(a: np.ndarray) -> float:
    """Number of pairs tied in ``a`` (the n1/n2 terms of Kendall's tau-b)."""
    counts = np.unique(np.asarray(a), return_counts=True)[1].astype(float)
    return float(np.sum(counts * (counts - 1) / 2))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b from :func:`concordance` (checked against scipy in the tests)."""
    n = len(x)
    n0 = n * (n - 1) / 2
    denominator = np.sqrt((n0 - tie_pairs(x)) * (n0 - tie_pairs(y)))
    if denominator == 0:
        return float("nan")
    return float(concordance(x, y).sum() / 2 / denominator)


def _above_plus_half(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per cell k: sum of ``weights`` over cells with a larger value, plus half the sum over equal values."""
    uniq, inverse = np.unique(values, return_inverse=True)
    inverse = inverse.reshape(-1)
    group_sum = np.bincount(inverse, weights=weights, minlength=uniq.size)
    above = group_sum.sum() - np.cumsum(group_sum)
    return above[inverse] + 0.5 * group_sum[inverse]


def _tie_sizes(values: np.ndarray) -> np.ndarray:
    inverse, counts = np.unique(values, return_inverse=True, return_counts=True)[1:]
    return counts[inverse.reshape(-1)].astype(float)


def spearman_gradient(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Spearman's rho and its gradient in the resampling weights at the full sample, centred (sum 0).

    With weights c (a resample's counts, sum n), rho(c) = N / sqrt(Vx Vy): N = sum_i c_i (Rx_i - m)(Ry_i - m)
    over the weighted midranks, V = (n^3 - n - sum over tie groups of (t^3 - t)) / 12. A cell's weight moves
    its own term and the midrank of every cell above it (by 1) or tied with it (by 1/2), which gives
    dN/dc_k = a_k b_k + sum_{x_i > x_k} b_i + (1/2) sum_{x_i = x_k} b_i + (the same with x and y swapped).
    Components equal for every cell are dropped (resampling keeps sum(c) = n), hence the centring.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    a = stats.rankdata(x) - (n + 1) / 2
    b = stats.rankdata(y) - (n + 1) / 2
    tx, ty = _tie_sizes(x), _tie_sizes(y)
    vx = (n**3 - n - np.sum(tx**2 - 1)) / 12  # sum over groups of t^3 - t = sum over cells of t^2 - 1
    vy = (n**3 - n - np.sum(ty**2 - 1)) / 12
    if vx <= 0 or vy <= 0:
        return float("nan"), np.full(n, np.nan)
    scale = np.sqrt(vx * vy)
    rho = float(np.dot(a, b) / scale)
    d_numerator = a * b + _above_plus_half(x, b) + _above_plus_half(y, a)
    d_vx, d_vy = -(3 * tx**2 - 1) / 12, -(3 * ty**2 - 1) / 12
    gradient = d_numerator / scale - rho / 2 * (d_vx / vx + d_vy / vy)
    return rho, gradient - gradient.mean()
