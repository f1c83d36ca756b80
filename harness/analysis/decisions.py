"""Sample-and-pick: what a search that trusts a proxy picks, under two score vectors on the same random samples.

A user who can afford to look at N cells draws N at random, scores them and keeps the best-scored one. For a
reference and a swapped score vector of one proxy this module draws the same random samples for both (paired),
and reports for each N the accuracy of each pick (mean and the 2.5-97.5 percentile spread over draws: what one
search of N cells gets 95% of the time), the probability that both pick the same cell, and the regret of the
swapped pick (accuracy of the reference pick - accuracy of the swapped pick). Cells tied at the top of a sample
are picked uniformly at random, by expectation: the pick's accuracy is the tied cells' mean accuracy.

Scores here are *oriented* (higher = predicted better; the caller negates lower-is-better proxies). Samples
depend only on ``(seed, pool size, N)``: every proxy and mode compared on one pool sees the same draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

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


def sample_and_pick(
    ref: np.ndarray,
    swap: np.ndarray,
    accuracy: np.ndarray,
    sizes: Sequence[int] = PICK_SIZES,
    *,
    draws: int = DRAWS,
    seed: int = 0,
) -> dict:
    """Paired sample-and-pick on one pool of cells (oriented scores, aligned arrays without NaN).

    Fields per N below the pool size: ``pick@N`` (swapped) and ``pick@N_ref`` with ``_ci`` spreads,
    ``same_pick@N``, ``regret@N`` (ref pick - swapped pick) and ``regret@N_ci``. An N at or above the pool
    size is left out (the pick would be the pool's best every time).
    """
    return pooled_picks([(ref, swap, accuracy)], sizes, draws=draws, seed=seed)


def pooled_picks(
    pools: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    sizes: Sequence[int] = PICK_SIZES,
    *,
    draws: int = DRAWS,
    seed: int = 0,
) -> dict:
    """:func:`sample_and_pick` over several pools (one per seed): ``draws`` samples from each, outcomes pooled."""
    out: dict = {}
    for size in sizes:
        per_draw: dict[str, list[np.ndarray]] = {"ref": [], "swap": [], "same": []}
        for r, s, a in pools:
            r, s, a = (np.asarray(v, dtype=float) for v in (r, s, a))
            if size >= r.size:
                continue
            for key, values in pick_outcomes(r, s, a, samples(r.size, size, draws, seed)).items():
                per_draw[key].append(values)
        if not per_draw["ref"]:
            continue
        got = {k: np.concatenate(v) for k, v in per_draw.items()}
        regret = got["ref"] - got["swap"]
        out[f"pick@{size}"] = float(got["swap"].mean())
        out[f"pick@{size}_ci"] = _spread(got["swap"])
        out[f"pick@{size}_ref"] = float(got["ref"].mean())
        out[f"pick@{size}_ref_ci"] = _spread(got["ref"])
        out[f"same_pick@{size}"] = float(got["same"].mean())
        out[f"regret@{size}"] = float(regret.mean())
        out[f"regret@{size}_ci"] = _spread(regret)
    return out


def pick_sizes(fields: dict | Sequence[str]) -> list[int]:
    """The N of the ``pick@N`` fields present (a row's keys or a table's columns), ascending."""
    found = {int(k[5:]) for k in fields if k.startswith("pick@") and k[5:].isdigit()}
    return sorted(found)


def describe(sizes: Sequence[int] = PICK_SIZES, draws: int = DRAWS, seed: int = 0) -> str:
    return (
        f"sample-and-pick: {draws:,} random samples of N = {', '.join(str(s) for s in sizes)} cells (each N below "
        f"the pool's size; the same samples for the reference and the swapped scores, RNG seed {seed}); pick@N is "
        "the mean accuracy of the best-scored cell of a sample, its interval the 2.5-97.5 percentile spread over "
        "samples (what one search gets 95% of the time); regret@N = accuracy of the reference pick - the swapped "
        "pick; same_pick@N = probability that both pick the same cell"
    )
