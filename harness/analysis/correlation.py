"""Proxy score against ground-truth accuracy: signed correlations with bootstrap intervals, and top-k metrics.

Correlations are of the *raw* score (a lower-is-better proxy that works has a negative rho), so no sign is
hidden; the top-k metrics rank cells by the *oriented* score (negated when lower is better), because they
ask what a search that trusts the proxy would pick. The table says which direction each proxy has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.analysis import frames, topk
from harness.analysis import seeds as seed_axis
from harness.analysis.aggregates import pool_notes
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.result import AnalysisResult, targets_of
from harness.analysis.stats import STATISTICS, correlation
from harness.analysis.target import Target, describe, with_ground_truth
from harness.errors import DataMissing

TOP_PERCENTS = (1, 5, 10)  # precision of the proxy's top-k% among the true top-k%
TOP_COUNTS = (10, 100)  # nDCG@k and best true rank among the proxy's top k cells
TOP_KENDALL_PERCENT = 10  # Kendall tau within the true top 10%
DEGENERATE_CHOICES = ("both", "included", "excluded")


def _variants(degenerate: str) -> tuple[bool, ...]:
    if degenerate not in DEGENERATE_CHOICES:
        raise ValueError(f"unknown degenerate choice {degenerate!r}; expected one of {', '.join(DEGENERATE_CHOICES)}")
    return {"both": (True, False), "included": (True,), "excluded": (False,)}[degenerate]


def aligned(table: pd.DataFrame, accuracy: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Restrict a cells x proxies table to cells with a known accuracy; return it with the matching accuracy."""
    accuracy = pd.to_numeric(accuracy, errors="coerce").astype(float)
    accuracy = accuracy[~accuracy.index.duplicated(keep="last")]
    known = accuracy.reindex(table.index)
    keep = known.notna().to_numpy()
    return table.loc[keep], known[keep]


def _groups_by_cells(table: pd.DataFrame) -> dict[bytes, list[str]]:
    """Proxies that scored exactly the same cells (one bootstrap pass per group keeps resamples paired)."""
    groups: dict[bytes, list[str]] = {}
    for proxy in table.columns:
        groups.setdefault(table[proxy].notna().to_numpy().tobytes(), []).append(str(proxy))
    return groups


def metrics_for(
    x: np.ndarray,
    y: np.ndarray,
    *,
    higher_is_better: bool,
    top_percents: Sequence[float] = TOP_PERCENTS,
    top_counts: Sequence[int] = TOP_COUNTS,
    top_kendall_percent: float = TOP_KENDALL_PERCENT,
) -> dict[str, float]:
    """Point estimates for one proxy: signed correlations and the top-k metrics of the oriented score."""
    out = {m: correlation(x, y, m) for m in STATISTICS}
    oriented = x if higher_is_better else -x
    for k in top_percents:
        out[f"precision@{k:g}%"] = topk.precision_at(oriented, y, k) if x.size else np.nan
    out[f"kendall_top{top_kendall_percent:g}%"] = topk.kendall_in_top(x, y, top_kendall_percent) if x.size else np.nan
    for k in top_counts:
        out[f"ndcg@{k}"] = topk.ndcg_at(oriented, y, k) if x.size else np.nan
    for k in top_counts:
        out[f"best_rank@{k}"] = topk.best_rank_at(oriented, y, k) if x.size else np.nan
    return out


def correlate(
    results: pd.DataFrame,
    target: Target,
    *,
    degenerate: str = "both",
    top_percents: Sequence[float] = TOP_PERCENTS,
    top_counts: Sequence[int] = TOP_COUNTS,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    seeds: int | Sequence[int] | None = None,
) -> AnalysisResult:
    """One row per setting x proxy x degenerate variant, for every data/label mode in ``results``.

    ``target``: accuracy Series, or ``(space, dataset) -> Series``. Settings without ground truth are skipped
    and listed in the result's ``notes``; if none has any, the first :class:`DataMissing` is raised.

    Scoring seeds: the main table has one row per scoring seed (a seed is part of a setting; ``seeds`` keeps
    only these, ``seed`` is the bootstrap's). ``tables["seeds"]`` summarises each setting over its seeds
    (:mod:`harness.analysis.seeds`): ``seeds``, ``n_seeds``; per correlation ``m`` the mean over seeds ``m``,
    ``m_sd``, ``m_min``, ``m_max``, ``m_ci`` (over cells, of the mean) and ``m_combined_ci`` (cells and seeds,
    a two-stage bootstrap); per top-k metric the mean, sd, min and max; ``n`` the fewest cells of a seed,
    ``n_degenerate`` the most, ``n_unscored`` the sum. With one seed per setting it holds the same numbers as the
    main table (``m_combined_ci`` = ``m_ci``, ``m_sd`` NaN), and the main table is exactly as without seeds.
    """
    variants = _variants(degenerate)
    frame = frames.prepare(seed_axis.select_seeds(results, seeds))
    if frame.empty:
        raise ValueError("no results to analyse: the store (or study) has no rows")
    rows_out: list[dict] = []
    samples: dict[int, dict[str, np.ndarray]] = {}  # row -> its bootstrap replicates, for the seed summary
    notes: list[str] = []
    missing: list[DataMissing] = []
    for setting, rows, accuracy in with_ground_truth(frames.settings(frame), target, notes, missing):
        unscored = frames.failure_counts(rows)
        label = describe(accuracy)
        for included in variants:
            table, acc = aligned(frames.score_table(rows, exclude_degenerate=not included), accuracy)
            degenerate_cells = frames.degenerate_cells(rows)
            for _, proxies in _groups_by_cells(table).items():
                cells = table[proxies[0]].notna().to_numpy()
                y = acc.to_numpy()[cells]
                xs = table.loc[cells, proxies].to_numpy().T
                boot = bootstrap_correlations(xs, y, n_boot=n_boot, seed=seed) if y.size >= 3 else None
                index = table.index[cells]
                for p, proxy in enumerate(proxies):
                    up = frames.higher_is_better(proxy)
                    row = {
                        **setting.as_dict(),
                        "proxy": proxy,
                        "higher_is_better": up,
                        "degenerate_included": included,
                        "n": int(y.size),
                        "n_degenerate": int(np.isin(index, list(degenerate_cells)).sum()),
                        "n_unscored": unscored.get(proxy, 0),
                    }
                    point = metrics_for(xs[p], y, higher_is_better=up, top_percents=top_percents, top_counts=top_counts)
                    for m in STATISTICS:
                        row[m] = point.pop(m)
                        row[f"{m}_ci"] = percentile_interval(boot[m][p], level) if boot else (np.nan, np.nan)
                    row.update(point)
                    row["target"] = label
                    if boot:
                        samples[len(rows_out)] = {m: boot[m][p] for m in STATISTICS}
                    rows_out.append(row)
            for proxy in sorted(set(rows["proxy"]) - set(table.columns)):  # nothing usable: say so, don't drop it
                empty = metrics_for(
                    np.zeros(0), np.zeros(0), higher_is_better=True, top_percents=top_percents, top_counts=top_counts
                )
                rows_out.append(
                    {
                        **setting.as_dict(),
                        "proxy": proxy,
                        "higher_is_better": frames.higher_is_better(proxy),
                        "degenerate_included": included,
                        "n": 0,
                        "n_degenerate": 0,
                        "n_unscored": unscored.get(proxy, 0),
                        **{k: v for m in STATISTICS for k, v in ((m, np.nan), (f"{m}_ci", (np.nan, np.nan)))},
                        **{k: v for k, v in empty.items() if k not in STATISTICS},
                        "target": label,
                    }
                )
    if not rows_out and missing:
        raise missing[0]
    per_seed = pd.DataFrame(rows_out)
    summary = seed_summary(per_seed, samples, level=level, bootstrap_seed=seed)
    out = _ordered_by_rho(per_seed)
    notes += pool_notes(frame)
    method = (bootstrap_note(n_boot, seed, level),)
    if seed_axis.multi_seed(out, _SETTING_FIELDS):
        method += (seeds_note(level),)
    out, summary = frames.proxy_fields(out, frame), frames.proxy_fields(summary, frame)
    return AnalysisResult(out, tuple(notes), targets_of(out), method, {"seeds": summary})


SEED_KEYS = (*frames.SETTING, "degenerate_included", "proxy", "target")


def seed_summary(
    per_seed: pd.DataFrame, samples: dict[int, dict[str, np.ndarray]], *, level: float, bootstrap_seed: int
) -> pd.DataFrame:
    """A per-seed correlate table summarised over seeds (see :func:`correlate`), ordered as the main table."""
    if per_seed.empty:
        return per_seed
    metrics = [c for c in per_seed.columns if c.startswith(("precision@", "kendall_top", "ndcg@", "best_rank@"))]
    summary = seed_axis.summarise(
        per_seed,
        SEED_KEYS,
        statistics=STATISTICS,
        metrics=metrics,
        samples=samples,
        level=level,
        bootstrap_seed=bootstrap_seed,
        first=("higher_is_better",),
        counts={"n": "min", "n_degenerate": "max", "n_unscored": "sum"},
    )
    head = [k for k in frames.SETTING if k in summary.columns and k != "seed"]
    head += ["seeds", "n_seeds", "proxy", "higher_is_better", "degenerate_included", "n", "n_degenerate"]
    head += ["n_unscored"]
    stats = [f"{m}{suffix}" for m in STATISTICS for suffix in ("", "_ci", "_combined_ci", "_sd", "_min", "_max")]
    tail = [f"{c}{suffix}" for c in metrics for suffix in ("", "_sd", "_min", "_max")]
    order = [c for c in [*head, *stats, *tail, "target"] if c in summary.columns]
    return _ordered_by_rho(summary[order])


def seeds_note(level: float) -> str:
    return (
        f"scoring seeds: each seed is scored, ranked and pool-aggregated on its own; a row over several seeds "
        f"gives the mean over seeds, their sd and min-max, the {level:.0%} interval over cells of that mean, and "
        f"one over cells and seeds (each bootstrap replicate also draws the seeds with replacement)"
    )


_SETTING_FIELDS = ("space", "dataset", "data", "labels", "batch_size", "seed", "protocol", "degenerate_included")


def _ordered_by_rho(out: pd.DataFrame) -> pd.DataFrame:
    """Within each block (setting x degenerate cells in or out, blocks in their order), proxies from the best
    oriented Spearman rho down; a proxy with no rho last. Tables and figures read it in this order."""
    if out.empty:
        return out
    block = pd.Series(range(len(out)), index=out.index)
    keys = [c for c in _SETTING_FIELDS if c in out.columns]
    first = out.groupby(keys, sort=False, dropna=False).ngroup() if keys else block * 0
    oriented = out["spearman"].astype(float).where(out["higher_is_better"].astype(bool), -out["spearman"].astype(float))
    order = pd.DataFrame({"block": first, "rho": -oriented.fillna(-np.inf), "row": block})
    return out.loc[order.sort_values(["block", "rho", "row"], kind="stable").index].reset_index(drop=True)


def bootstrap_note(n_boot: int, seed: int, level: float) -> str:
    from harness.analysis.bootstrap import KENDALL_EXACT_MAX_N, SPEARMAN_EXACT_MAX_N

    return (
        f"{level:.0%} percentile bootstrap intervals over cells, {n_boot} resamples, seed {seed}; resamples are "
        f"exact for Pearson, for Spearman up to n = {SPEARMAN_EXACT_MAX_N:,} and for Kendall up to "
        f"n = {KENDALL_EXACT_MAX_N:,} cells, first-order (linearised) above"
    )


def precision_curve(
    results: pd.DataFrame,
    target: Target,
    percents: Sequence[float] = (0.5, 1, 2, 5, 10, 20, 50),
    *,
    exclude_degenerate: bool = False,
) -> pd.DataFrame:
    """Precision at top-k% for a range of k, per setting and proxy (for the precision-at-top-k figure)."""
    frame = frames.prepare(results)
    rows_out = []
    for setting, rows, accuracy in with_ground_truth(frames.settings(frame), target, notes=[], missing=[]):
        table, acc = aligned(frames.score_table(rows, exclude_degenerate=exclude_degenerate), accuracy)
        for proxy in table.columns:
            cells = table[proxy].notna().to_numpy()
            if not cells.any():
                continue
            x = table[proxy].to_numpy()[cells] * frames.orientation(str(proxy))
            y = acc.to_numpy()[cells]
            for k in percents:
                rows_out.append(
                    {
                        **setting.as_dict(),
                        "proxy": str(proxy),
                        "percent": float(k),
                        "n": int(cells.sum()),
                        "precision": topk.precision_at(x, y, k),
                    }
                )
    return pd.DataFrame(rows_out)
