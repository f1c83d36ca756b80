"""Is a proxy data- or label-agnostic? Its scores under a swapped mode against the reference mode.

NASI (Shu et al., 2022) claims its score hardly changes when the labels, or even the data, are replaced
by random ones, and reports the Pearson correlation of the two score vectors. Pearson can be high while the
ranking of cells changes (one extreme cell dominates), and a ranking is what a search uses, so the verdict
is on Kendall's tau between the two score vectors, with a bootstrap interval; Pearson and Spearman are
reported beside it, with the overlap of the top-k cells and each mode's correlation with accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis import frames, topk
from harness.analysis.aggregates import pool_notes
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.correlation import aligned, bootstrap_note
from harness.analysis.result import AnalysisResult, targets_of
from harness.analysis.stats import STATISTICS, correlation
from harness.analysis.target import Target, describe, resolve
from harness.errors import DataMissing

TOP_PERCENTS = (1, 5, 10)


@dataclass(frozen=True)
class Thresholds:
    """Verdict rule on Kendall's tau between the reference and the swapped scores (95% interval [lo, hi]).

    holds: lo >= ``holds`` (0.80: at least 90% of cell pairs keep their order);
    fails: hi < ``fails`` (0.50: a quarter of the pairs or more swap);
    partial: the whole interval lies between the two; inconclusive: it straddles a threshold.
    """

    holds: float = 0.80
    fails: float = 0.50

    def __post_init__(self) -> None:
        if not -1 <= self.fails <= self.holds <= 1:
            raise ValueError(f"thresholds must satisfy -1 <= fails <= holds <= 1, got {self.fails}, {self.holds}")

    def verdict(self, lo: float, hi: float) -> str:
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return "undetermined"
        if lo >= self.holds:
            return "holds"
        if hi < self.fails:
            return "fails"
        if lo >= self.fails and hi < self.holds:
            return "partial"
        return "inconclusive"

    def describe(self) -> str:
        return (
            f"verdict on Kendall tau between reference and swapped scores: holds if the lower interval bound "
            f">= {self.holds:.2f}; fails if the upper bound < {self.fails:.2f}; partial if the interval lies "
            f"between; inconclusive if it straddles a threshold"
        )


DEFAULT_THRESHOLDS = Thresholds()


def claim(data: str, labels: str, reference: tuple[str, str] = frames.REFERENCE_MODE) -> str:
    """The agnosticism a swapped mode tests."""
    data_swapped, labels_swapped = data != reference[0], labels != reference[1]
    if data_swapped and labels_swapped:
        return "data- and label-agnostic"
    return "data-agnostic" if data_swapped else "label-agnostic"


def agnosticism(
    results: pd.DataFrame,
    target: Target | None = None,
    *,
    reference: tuple[str, str] = frames.REFERENCE_MODE,
    exclude_degenerate: bool = False,
    top_percents: Sequence[float] = TOP_PERCENTS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> AnalysisResult:
    """One row per (space, dataset, batch size, seed) x proxy x swapped mode, compared with ``reference``.

    Needs no ground truth; with a ``target`` it adds each mode's Spearman rho with accuracy on the compared
    cells and the paired interval of their difference (swapped - reference).
    """
    frame = frames.prepare(results)
    if frame.empty:
        raise ValueError("no results to analyse: the store (or study) has no rows")
    by_setting = list(frames.settings(frame))
    rows_out: list[dict] = []
    notes: list[str] = []
    reference_tables = {
        (s.space, s.dataset, s.batch_size, s.seed): (s, frames.score_table(r, exclude_degenerate=exclude_degenerate))
        for s, r in by_setting
        if s.mode == tuple(reference)
    }
    for setting, rows in by_setting:
        if setting.mode == tuple(reference):
            continue
        key = (setting.space, setting.dataset, setting.batch_size, setting.seed)
        if key not in reference_tables:
            notes.append(
                f"{setting.space} {setting.dataset} {setting.data}/{setting.labels}: no reference "
                f"({reference[0]}/{reference[1]}) scores at batch size {setting.batch_size}, seed {setting.seed}"
            )
            continue
        accuracy, target_label = _accuracy(target, setting, notes)
        ref_table = reference_tables[key][1]
        swap_table = frames.score_table(rows, exclude_degenerate=exclude_degenerate)
        for proxy in swap_table.columns:
            if proxy not in ref_table.columns:
                notes.append(f"{proxy} {setting.data}/{setting.labels}: no reference scores to compare with")
                continue
            pair = pd.concat([ref_table[proxy], swap_table[proxy]], axis=1, keys=["ref", "swap"]).dropna()
            row = {**setting.as_dict(), "proxy": str(proxy), "claim": claim(setting.data, setting.labels, reference)}
            row.update(_agreement(pair, frames.orientation(str(proxy)), top_percents, thresholds, n_boot, seed, level))
            row.update(_with_accuracy(pair, accuracy, n_boot, seed, level))
            row["verdict_text"] = (
                f"{row['claim']}: {row['verdict']}, τ = {row['kendall']:.2f} "
                f"[{row['kendall_ci'][0]:.2f}, {row['kendall_ci'][1]:.2f}]"
            )
            row["target"] = target_label
            rows_out.append(row)
    out = pd.DataFrame(rows_out)
    method = (thresholds.describe(), bootstrap_note(n_boot, seed, level))
    notes += pool_notes(frame)
    return AnalysisResult(out, tuple(notes), targets_of(out), method)


def _accuracy(target: Target | None, setting: frames.Setting, notes: list[str]) -> tuple[pd.Series | None, str]:
    if target is None:
        return None, "none (agreement needs no ground truth)"
    try:
        accuracy = resolve(target, setting.space, setting.dataset)
    except DataMissing as exc:
        message = f"{setting.space} {setting.dataset}: correlation with accuracy skipped, {exc}"
        if message not in notes:
            notes.append(message)
        return None, "none found (see notes)"
    return accuracy, describe(accuracy)


def _agreement(
    pair: pd.DataFrame,
    sign: float,
    top_percents: Sequence[float],
    thresholds: Thresholds,
    n_boot: int,
    seed: int,
    level: float,
) -> dict:
    ref, swap = pair["ref"].to_numpy(), pair["swap"].to_numpy()
    out: dict = {"n": int(len(pair))}
    boot = bootstrap_correlations(swap, ref, n_boot=n_boot, seed=seed) if len(pair) >= 3 else None
    for m in STATISTICS:
        out[m] = correlation(swap, ref, m)
        out[f"{m}_ci"] = percentile_interval(boot[m][0], level) if boot else (np.nan, np.nan)
    for k in top_percents:
        out[f"overlap@{k:g}%"] = topk.precision_at(sign * swap, sign * ref, k) if len(pair) else np.nan
    out["verdict"] = thresholds.verdict(*out["kendall_ci"])
    return out


def _with_accuracy(pair: pd.DataFrame, accuracy: pd.Series | None, n_boot: int, seed: int, level: float) -> dict:
    keys = ("accuracy_n", "spearman_acc_ref", "spearman_acc_swap", "delta_acc", "delta_acc_ci")
    if accuracy is None:
        return dict(zip(keys, (0, np.nan, np.nan, np.nan, (np.nan, np.nan))))
    known, acc = aligned(pair, accuracy)
    y = acc.to_numpy(dtype=float)
    xs = known[["ref", "swap"]].to_numpy(dtype=float).T
    rho_ref, rho_swap = (correlation(x, y, "spearman") for x in xs)
    ci = (np.nan, np.nan)
    if y.size >= 3:
        boot = bootstrap_correlations(xs, y, methods=("spearman",), n_boot=n_boot, seed=seed)["spearman"]
        ci = percentile_interval(boot[1] - boot[0], level)
    return dict(zip(keys, (int(y.size), rho_ref, rho_swap, rho_swap - rho_ref, ci)))
