"""Sample-and-pick: what a search that trusts a proxy picks, under two score vectors on the same random samples.

A user who can afford to look at N cells draws N at random, scores them and keeps the best-scored one. For a
reference and a swapped score vector of one proxy this module draws the same random samples for both (paired),
and reports for each N the mean accuracy of each pick, the probability that both pick the same cell, and the
regret of the swapped pick (accuracy of the reference pick - accuracy of the swapped pick). Cells tied at the top
of a sample are picked uniformly at random, by expectation: the pick's accuracy is the tied cells' mean accuracy.

Two kinds of interval: ``_ci``, the bootstrap over cells (the pool is a sample of the space, as everywhere in
the harness): the expected pick accuracy of a pool has a closed form (:func:`expected_pick`: the best of N
random positions is cell i when it avoids every higher-scored position and hits one of i's copies), so each
resampled pool costs one pass, and the reference and the swapped scores see the same resampled cells (paired
regret); ``_spread``, the 2.5-97.5 percentile of the per-draw outcome (what one search of N cells gets 95% of
the time).

Scores here are *oriented* (higher = predicted better; the caller negates lower-is-better proxies). Samples
depend only on ``(seed, pool size, N)``: every proxy and mode compared on one pool sees the same draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, percentile_interval, resample_counts

PICK_SIZES = (10, 100, 1000)
DRAWS = 2000
SPREAD = (2.5, 97.5)  # percentiles of the per-draw outcome


@lru_cache(maxsize=8)
def samples(n: int, size: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """``draws`` x ``size`` cell positions in ``range(n)``, each row a sample without replacement (read-only:
    memoised, so every proxy on a pool of ``n`` cells reuses the same draws)."""
    if not 0 < size <= n:
        raise ValueError(f"sample size must be in [1, {n}], got {size}")
    rng = np.random.default_rng([seed, n, size])
    out = np.stack([rng.choice(n, size, replace=False) for _ in range(draws)])
    out.flags.writeable = False
    return out


def _top(scores: np.ndarray) -> np.ndarray:
    """Per row, the cells tied at the row's maximum, as a float mask."""
    return (scores == scores.max(axis=1, keepdims=True)).astype(float)


def pick_outcomes(ref: np.ndarray, swap: np.ndarray, accuracy: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Per draw (row of ``idx``): the expected accuracy of each vector's pick and the probability of the same pick."""
    acc = accuracy[idx]
    top_ref, top_swap = _top(ref[idx]), _top(swap[idx])
    n_ref, n_swap = top_ref.sum(axis=1), top_swap.sum(axis=1)
    return {
        "ref": (top_ref * acc).sum(axis=1) / n_ref,
        "swap": (top_swap * acc).sum(axis=1) / n_swap,
        "same": (top_ref * top_swap).sum(axis=1) / (n_ref * n_swap),
    }


def _spread(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, SPREAD)
    return float(lo), float(hi)


def _log_comb(m: np.ndarray, k: int) -> np.ndarray:
    """log C(m, k) elementwise (-inf where m < k)."""
    m = np.asarray(m, dtype=float)
    out = np.full(m.shape, -np.inf)
    ok = m >= k
    out[ok] = gammaln(m[ok] + 1) - gammaln(k + 1) - gammaln(m[ok] - k + 1)
    return out


def expected_pick(scores: np.ndarray, accuracy: np.ndarray, size: int, counts: np.ndarray | None = None) -> np.ndarray:
    """Exact expected accuracy of the best-scored of ``size`` random positions of a pool (ties: their mean).

    ``counts`` (cells x resamples): each cell's multiplicity in each resampled pool (default: the pool once).
    Cells are grouped by equal score; group g, with ``A`` positions scored higher and ``c`` positions of its own
    among ``n``, holds the sample's best with probability (C(n - A, N) - C(n - A - c, N)) / C(n, N).
    Returns one value per resample.
    """
    scores = np.asarray(scores, dtype=float)
    c = np.ones((scores.size, 1)) if counts is None else np.asarray(counts, dtype=float)
    order = np.argsort(-scores, kind="stable")
    s, a, c = scores[order], np.asarray(accuracy, dtype=float)[order], c[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    copies = np.add.reduceat(c, starts, axis=0)
    acc_sum = np.add.reduceat(c * a[:, None], starts, axis=0)
    above = np.cumsum(copies, axis=0) - copies
    n = c.sum(axis=0)
    log_total = _log_comb(n, size)
    p = np.exp(_log_comb(n - above, size) - log_total) - np.exp(_log_comb(n - above - copies, size) - log_total)
    mean_acc = np.divide(acc_sum, copies, out=np.zeros_like(acc_sum), where=copies > 0)
    return (p * mean_acc).sum(axis=0)


def _boot_picks(
    pools: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], size: int, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per cell resample, the expected reference and swapped pick accuracy, averaged over the pools that have
    more than ``size`` cells; the same resamples for both vectors of a pool."""
    ref_boot, swap_boot = [], []
    for r, s, a in pools:
        if size >= r.size:
            continue
        blocks = list(resample_counts(r.size, n_boot, seed))
        ref_boot.append(np.concatenate([expected_pick(r, a, size, b) for b in blocks]))
        swap_boot.append(np.concatenate([expected_pick(s, a, size, b) for b in blocks]))
    if not ref_boot:
        return None
    return np.mean(ref_boot, axis=0), np.mean(swap_boot, axis=0)


def sample_and_pick(
    ref: np.ndarray,
    swap: np.ndarray,
    accuracy: np.ndarray,
    sizes: Sequence[int] = PICK_SIZES,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    n_boot: int = DEFAULT_RESAMPLES,
    boot_seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> dict:
    """Paired sample-and-pick on one pool of cells (oriented scores, aligned arrays without NaN).

    Fields per N below the pool size: ``pick@N`` (swapped) and ``pick@N_ref``, the expected accuracy of the pick
    over every sample of N cells (closed form, :func:`expected_pick`), ``regret@N`` (ref pick - swapped pick), and
    ``same_pick@N``, the share of the draws in which both pick the same cell; ``_ci`` (bootstrap over cells) and
    ``_spread`` (per-draw 2.5-97.5 percentiles) for the picks and the regret. An N at or above the pool size is left out
    (the pick would be the pool's best every time). ``n_boot=0``: no ``_ci``.
    """
    return pooled_picks(
        [(ref, swap, accuracy)], sizes, draws=draws, seed=seed, n_boot=n_boot, boot_seed=boot_seed, level=level
    )


def pooled_picks(
    pools: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    sizes: Sequence[int] = PICK_SIZES,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    n_boot: int = DEFAULT_RESAMPLES,
    boot_seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> dict:
    """:func:`sample_and_pick` over several pools (one per seed): ``draws`` samples from each, outcomes pooled."""
    out: dict = {}
    arrays = [tuple(np.asarray(v, dtype=float) for v in pool) for pool in pools]
    for size in sizes:
        per_draw: dict[str, list[np.ndarray]] = {"ref": [], "swap": [], "same": []}
        for r, s, a in arrays:
            if size >= r.size:
                continue
            for key, values in pick_outcomes(r, s, a, samples(r.size, size, draws, seed)).items():
                per_draw[key].append(values)
        if not per_draw["ref"]:
            continue
        got = {k: np.concatenate(v) for k, v in per_draw.items()}
        regret = got["ref"] - got["swap"]
        # The expectation over every sample of N cells, in closed form (what the draws' mean estimates, without
        # their noise, and what the cell bootstrap's interval is about); the draws give the rest.
        eligible = [(r, s, a) for r, s, a in arrays if size < r.size]
        ref_exact = float(np.mean([expected_pick(r, a, size)[0] for r, _, a in eligible]))
        swap_exact = float(np.mean([expected_pick(s, a, size)[0] for _, s, a in eligible]))
        out[f"pick@{size}"] = swap_exact
        out[f"pick@{size}_ref"] = ref_exact
        out[f"same_pick@{size}"] = float(got["same"].mean())
        out[f"regret@{size}"] = ref_exact - swap_exact
        boot = _boot_picks(arrays, size, n_boot, boot_seed) if n_boot > 0 else None
        if boot is not None:
            out[f"pick@{size}_ci"] = percentile_interval(boot[1], level)
            out[f"pick@{size}_ref_ci"] = percentile_interval(boot[0], level)
            out[f"regret@{size}_ci"] = percentile_interval(boot[0] - boot[1], level)
        out[f"pick@{size}_spread"] = _spread(got["swap"])
        out[f"pick@{size}_ref_spread"] = _spread(got["ref"])
        out[f"regret@{size}_spread"] = _spread(regret)
    return out


def pick_sizes(fields: dict | Sequence[str]) -> list[int]:
    """The N of the ``pick@N`` fields present (a row's keys or a table's columns), ascending."""
    found = {int(k[5:]) for k in fields if k.startswith("pick@") and k[5:].isdigit()}
    return sorted(found)


def describe(sizes: Sequence[int] = PICK_SIZES, draws: int = DRAWS, seed: int = 0) -> str:
    return (
        f"sample-and-pick: {draws:,} random samples of N = {', '.join(str(s) for s in sizes)} cells (each N below "
        f"the pool's size; the same samples for the reference and the swapped scores, RNG seed {seed}); pick@N is "
        "the expected accuracy of the best-scored cell of N random cells (exact over every sample), regret@N = "
        "that of the reference pick - the swapped pick, same_pick@N = share of the samples in which both pick the "
        "same cell; intervals (_ci) bootstrap the cells "
        "(exact expectation per resampled pool, the same resamples for both modes); _spread: 2.5-97.5 percentile "
        "of single draws (what one search gets 95% of the time)"
    )
