"""Proxies side by side on the same cells: ranked by oriented Spearman rho, with paired-bootstrap intervals on
the differences, and a rank-aggregation ensemble that is scored like any other proxy.

Paired: every proxy of a setting is evaluated on the cells they all scored, under the same resamples, so the
interval of rho_a - rho_b reflects only how the two disagree, not the shared luck of which cells were drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from harness.analysis import frames
from harness.analysis.aggregates import pool_notes
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.correlation import aligned, bootstrap_note, metrics_for
from harness.analysis.result import AnalysisResult, targets_of
from harness.analysis.stats import correlation
from harness.analysis.target import Target, describe, with_ground_truth


def ensemble_name(proxies: Sequence[str]) -> str:
    return f"ensemble({'+'.join(proxies)})"


def rank_ensemble(scores: pd.DataFrame, higher_is_better: Mapping[str, bool] | None = None) -> pd.Series:
    """AZ-NAS-style aggregation: sum over proxies of log(rank / N), rank N = best cell, 1 = worst.

    Each proxy is ranked by its oriented score (average ranks for ties), so the best cell of every proxy adds
    log(1) = 0 and a cell bad under any proxy is pulled down hard: higher ensemble score = better. Only cells
    scored by every proxy are ranked (N = their number).
    """
    if scores.shape[1] == 0:
        raise ValueError("rank ensemble needs at least one proxy")
    complete = scores.dropna()
    n = len(complete)
    total = np.zeros(n)
    for proxy in complete.columns:
        up = frames.higher_is_better(str(proxy)) if higher_is_better is None else higher_is_better[proxy]
        oriented = complete[proxy].to_numpy(dtype=float) * (1.0 if up else -1.0)
        total += np.log(rankdata(oriented, method="average") / n)
    return pd.Series(total, index=complete.index, name=ensemble_name([str(c) for c in complete.columns]))


def compare(
    results: pd.DataFrame,
    target: Target,
    *,
    proxies: Sequence[str] | None = None,
    ensembles: Sequence[Sequence[str]] = (),
    exclude_degenerate: bool = False,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> AnalysisResult:
    """Rank proxies by oriented Spearman rho with accuracy within each setting, on the cells all of them scored.

    The result's table has one row per setting x proxy, best first; its ``tables["pairwise"]`` every ordered pair's
    difference.

    Ensembles are scored like any proxy: rho and tau with intervals, the paired difference, top-k metrics.

    ``delta_vs_best`` is the best proxy's oriented rho minus this one's, with a paired interval; when the
    interval contains 0 the two are not distinguishable on these cells.
    """
    frame = frames.prepare(results)
    if frame.empty:
        raise ValueError("no results to compare: the store (or study) has no rows")
    present = set(frame["proxy"])
    wanted = list(dict.fromkeys(proxies)) if proxies else None
    for name in [*(wanted or []), *(p for group in ensembles for p in group)]:
        if name not in present:
            raise ValueError(f"proxy {name!r} is not in the results; present: {', '.join(sorted(present))}")
    ranking, pairwise, notes, missing = [], [], [], []
    for setting, rows, accuracy in with_ground_truth(frames.settings(frame), target, notes, missing):
        table = frames.score_table(rows, exclude_degenerate=exclude_degenerate)
        columns = [p for p in (wanted or list(table.columns)) if p in table.columns]
        members = list(dict.fromkeys(p for group in ensembles for p in group))
        if len(columns) + len(ensembles) == 0 or not all(p in table.columns for p in members):
            notes.append(f"{_where(setting)}: skipped, not every requested proxy was scored in this setting")
            continue
        common = table[list(dict.fromkeys([*columns, *members]))].dropna()
        common, acc = aligned(common, accuracy)
        scores = {p: common[p] for p in columns}
        for group in ensembles:
            scores[ensemble_name(group)] = rank_ensemble(common[list(group)])
        if len(common) < 3:
            notes.append(f"{_where(setting)}: skipped, only {len(common)} cells scored by every proxy")
            continue
        rows_rank, rows_pairs = _rank(setting, scores, acc, n_boot=n_boot, seed=seed, level=level)
        for r in rows_rank:
            r["target"] = describe(accuracy)
        ranking += rows_rank
        pairwise += rows_pairs
    if not ranking and missing:
        raise missing[0]
    table = pd.DataFrame(ranking)
    method = (bootstrap_note(n_boot, seed, level),)
    notes += pool_notes(frame)
    return AnalysisResult(table, tuple(notes), targets_of(table), method, {"pairwise": pd.DataFrame(pairwise)})


def _where(setting: frames.Setting) -> str:
    return f"{setting.space} {setting.dataset} {setting.data}/{setting.labels}"


def _rank(
    setting: frames.Setting, scores: dict[str, pd.Series], acc: pd.Series, *, n_boot: int, seed: int, level: float
) -> tuple[list[dict], list[dict]]:
    names = list(scores)
    xs = np.vstack([scores[p].to_numpy(dtype=float) for p in names])
    y = acc.to_numpy(dtype=float)
    signs = np.array([frames.orientation(p) for p in names])
    boot = bootstrap_correlations(xs, y, methods=("spearman", "kendall"), n_boot=n_boot, seed=seed)
    rho = np.array([correlation(x, y, "spearman") for x in xs])
    oriented = rho * signs
    oriented_boot = boot["spearman"] * signs[:, None]
    order = sorted(range(len(names)), key=lambda i: (-np.nan_to_num(oriented[i], nan=-np.inf), names[i]))
    best = order[0]
    ranking = []
    for rank, i in enumerate(order, start=1):
        delta = oriented_boot[best] - oriented_boot[i]
        ranking.append(
            {
                **setting.as_dict(),
                "rank": rank,
                "proxy": names[i],
                "higher_is_better": bool(signs[i] > 0),
                "n": int(y.size),
                "spearman": float(rho[i]),
                "spearman_ci": percentile_interval(boot["spearman"][i], level),
                "kendall": correlation(xs[i], y, "kendall"),
                "kendall_ci": percentile_interval(boot["kendall"][i], level),
                "oriented_spearman": float(oriented[i]),
                "delta_vs_best": float(oriented[best] - oriented[i]),
                "delta_ci": percentile_interval(delta, level),
                **{
                    k: v
                    for k, v in metrics_for(xs[i], y, higher_is_better=bool(signs[i] > 0)).items()
                    if k not in ("spearman", "kendall", "pearson")
                },
            }
        )
    pairs = []
    for i in order:
        for j in order:
            if i != j:
                pairs.append(
                    {
                        **setting.as_dict(),
                        "proxy_a": names[i],
                        "proxy_b": names[j],
                        "n": int(y.size),
                        "delta": float(oriented[i] - oriented[j]),
                        "delta_ci": percentile_interval(oriented_boot[i] - oriented_boot[j], level),
                    }
                )
    return ranking, pairs
