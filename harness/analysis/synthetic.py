"""Synthetic results with a known answer, for tests and timing (no network, no benchmark files).

Accuracy is a skewed NAS-Bench-201-like distribution; each proxy's score is a Gaussian copula of the
accuracy with a chosen latent correlation ``r`` (so Spearman = 6/pi asin(r/2), Kendall = 2/pi asin(r)), and
each swapped mode's score is the reference score mixed with fresh noise at a chosen agreement ``a`` (the
latent correlation between the two modes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def latent_spearman(r: float) -> float:
    return float(6 / np.pi * np.arcsin(r / 2))


def latent_kendall(r: float) -> float:
    return float(2 / np.pi * np.arcsin(r))


def synthetic_accuracy(n: int, *, seed: int = 0, dataset: str = "cifar10") -> pd.Series:
    """Accuracy (%) of cells 0..n-1, most of them good and a long tail of bad ones, like the benchmark."""
    rng = np.random.default_rng(seed)
    acc = 94.5 - 60 * rng.beta(1.0, 6.0, size=n)
    series = pd.Series(np.round(acc, 2), index=pd.RangeIndex(n, name="index"), name=f"{dataset}/test/200ep")
    series.attrs["provenance"] = {
        "source": "synthetic",
        "dataset": dataset,
        "split": "test",
        "epochs": 200,
        "seeds": "synthetic",
    }
    return series


def _normal_scores(values: np.ndarray) -> np.ndarray:
    return stats.norm.ppf((stats.rankdata(values) - 0.5) / values.size)


def synthetic_results(
    accuracy: pd.Series,
    proxies: Mapping[str, float],
    *,
    modes: Mapping[tuple[str, str], float] | None = None,
    space: str = "nb201",
    dataset: str = "cifar10",
    cells: Sequence[int] | None = None,
    degenerate: Sequence[int] = (),
    failed_fraction: float = 0.0,
    batch_size: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """A results frame like ``harness.load_results`` returns: every cell x proxy x mode.

    ``proxies``: name -> latent correlation with accuracy. ``modes``: (data, labels) -> agreement with the
    reference mode (default: only real/true). ``degenerate``: cells given status "degenerate" (their score
    is kept). ``failed_fraction``: rows turned into ``error`` rows without a score.
    """
    rng = np.random.default_rng(seed)
    modes = dict(modes or {("real", "true"): 1.0})
    modes.setdefault(("real", "true"), 1.0)
    cells = np.asarray(list(accuracy.index) if cells is None else list(cells), dtype=int)
    z = _normal_scores(accuracy.reindex(cells).to_numpy(dtype=float))
    degenerate_set = set(int(c) for c in degenerate)
    frames = []
    for proxy, r in proxies.items():
        base = r * z + np.sqrt(max(0.0, 1 - r * r)) * rng.standard_normal(cells.size)
        for (data, labels), a in modes.items():
            score = a * base + np.sqrt(max(0.0, 1 - a * a)) * rng.standard_normal(cells.size)
            status = np.where(np.isin(cells, list(degenerate_set)), "degenerate", "ok").astype(object)
            failed = rng.random(cells.size) < failed_fraction
            status[failed] = "error: synthetic failure"
            frames.append(
                pd.DataFrame(
                    {
                        "study": "synthetic",
                        "space": space,
                        "index": cells,
                        "arch": [f"cell-{c}" for c in cells],
                        "proxy": proxy,
                        "dataset": dataset,
                        "data": data,
                        "labels": labels,
                        "batch_size": batch_size,
                        "seed": seed,
                        "score": np.where(failed, np.nan, score),
                        "status": status,
                        "seconds": 0.01,
                        "peak_mem_mb": np.nan,
                        "device": "cpu",
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def write_store(path: str, results: pd.DataFrame, study: str = "synthetic") -> int:
    """Write a synthetic results frame into a results database (one space per call of the store's writer)."""
    from harness.scoring.records import RECORD_FIELDS, ScoreRecord
    from harness.store import ResultStore

    written = 0
    fields = [k for k in RECORD_FIELDS if k in results.columns]  # no protocol column: the harness protocol
    with ResultStore(path) as store:
        for space, rows in results.groupby("space", sort=False):
            records = (
                ScoreRecord(**{k: (None if k == "score" and not np.isfinite(r[k]) else r[k]) for k in fields})
                for r in rows[fields].astype({"peak_mem_mb": object}).to_dict(orient="records")
            )
            written += store.write(study, str(space), records, commit_every=100_000)
    return written
