"""What a search that trusts the proxy would get: top-k precision, nDCG, best true rank, Kendall in the top.

Scores here are *oriented* (higher = predicted better; the caller negates lower-is-better proxies).
Ties in a score at the top-k boundary are resolved by expectation under uniform random tie-breaking, so a
proxy that gives many cells the same score is neither rewarded nor punished by an arbitrary cell order:
each tied cell is in the top k with probability (free slots) / (tied cells).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from harness.analysis.stats import correlation


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # einsum, not BLAS: a threaded BLAS dot stalls when other processes hold the cores
    return float(np.einsum("i,i->", np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def top_count(n: int, percent: float) -> int:
    """Size of the top ``percent``% of ``n`` cells (rounded, at least 1, at most n)."""
    if not 0 < percent <= 100:
        raise ValueError(f"top-k percentage must be in (0, 100], got {percent}")
    return int(min(n, max(1, round(n * percent / 100))))


def top_membership(scores: np.ndarray, k: int) -> np.ndarray:
    """Probability that each cell is among the ``k`` highest scores (1 above the boundary, fractional on it)."""
    scores = np.asarray(scores, dtype=float)
    n = scores.size
    if n == 0:
        return np.zeros(0)
    k = min(max(k, 1), n)
    boundary = np.partition(scores, n - k)[n - k]  # the k-th highest score
    above = scores > boundary
    tied = scores == boundary
    membership = above.astype(float)
    membership[tied] = (k - above.sum()) / tied.sum()
    return membership


def precision_at(scores: np.ndarray, truth: np.ndarray, percent: float) -> float:
    """Expected fraction of the proxy's top-k% cells that are in the true top-k% (k% of the cells scored)."""
    k = top_count(len(scores), percent)
    return float(_dot(top_membership(scores, k), top_membership(truth, k)) / k)


def _expected_discounts(scores: np.ndarray, k: int) -> np.ndarray:
    """Per cell, the expected DCG discount 1/log2(1 + position) of its position in the proxy's order
    (0 beyond position k); tied cells share the mean discount of the positions their group spans."""
    n = scores.size
    discount = np.zeros(n + 1)
    positions = np.arange(1, min(k, n) + 1)
    discount[positions] = 1 / np.log2(positions + 1)
    cumulative = np.cumsum(discount)  # cumulative[p] = sum of discounts of positions 1..p
    uniq, inverse, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # groups in descending score order occupy positions (last - count, last]
    first = last - counts
    group_mean = (cumulative[last] - cumulative[first]) / counts
    return group_mean[inverse.reshape(-1)]


def ndcg_at(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """nDCG of the proxy's top-k list; gain = min-max normalised true accuracy (1 = best cell, 0 = worst).

    NaN when every cell has the same accuracy (no ranking to recover).
    """
    truth = np.asarray(truth, dtype=float)
    span = truth.max() - truth.min() if truth.size else 0.0
    if truth.size == 0 or span == 0:
        return float("nan")
    gain = (truth - truth.min()) / span
    k = min(k, truth.size)
    ideal_gain = np.sort(gain)[::-1][:k]
    ideal = _dot(ideal_gain, 1 / np.log2(np.arange(2, k + 2)))
    return _dot(gain, _expected_discounts(np.asarray(scores, dtype=float), k)) / ideal


def true_ranks(truth: np.ndarray) -> np.ndarray:
    """1 + number of cells with strictly higher accuracy (1 = best; equal accuracies share the better rank)."""
    truth = np.asarray(truth, dtype=float)
    descending = np.sort(truth)[::-1]
    return np.searchsorted(-descending, -truth, side="left") + 1


def best_rank_at(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected best true rank among the proxy's top ``k`` cells (what a search of k evaluations finds).

    Cells above the boundary score are always in; of the ``g`` cells tied on it, ``m`` free slots are
    filled at random, and the best of them has rank ``r_j`` (j-th best in the group) with probability
    C(g - j, m - 1) / C(g, m).
    """
    scores = np.asarray(scores, dtype=float)
    n = scores.size
    if n == 0:
        return float("nan")
    k = min(max(k, 1), n)
    ranks = true_ranks(truth)
    boundary = np.partition(scores, n - k)[n - k]
    above = scores > boundary
    best_above = ranks[above].min() if above.any() else np.inf
    group = np.sort(ranks[scores == boundary])
    g, m = group.size, k - int(above.sum())
    j = np.arange(1, g - m + 2)
    log_p = (
        gammaln(g - j + 1)
        - gammaln(m)
        - gammaln(g - j - m + 2)
        - (gammaln(g + 1) - gammaln(m + 1) - gammaln(g - m + 1))
    )
    p = np.exp(log_p)
    return _dot(p, np.minimum(group[: j.size], best_above)) / float(p.sum())


def kendall_in_top(raw_scores: np.ndarray, truth: np.ndarray, percent: float = 10.0) -> float:
    """Signed Kendall tau-b of the raw score with accuracy over the true top ``percent``% cells (ties included)."""
    truth = np.asarray(truth, dtype=float)
    k = top_count(truth.size, percent)
    threshold = np.partition(truth, truth.size - k)[truth.size - k]
    keep = truth >= threshold
    return correlation(np.asarray(raw_scores, dtype=float)[keep], truth[keep], "kendall")
