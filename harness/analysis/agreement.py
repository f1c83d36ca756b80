"""Proxy against proxy: how alike two proxies rank the same cells, with no accuracy involved.

Why: it answers questions accuracy cannot — does ``nasi`` (NASI's one-batch estimator) rank cells as the exact
NTK trace it approximates (``ntk_trace``) does; are two proxies redundant before an ensemble is built. Scores are
*oriented* (negated for lower-is-better proxies), so +1 means "prefer the same cells" for any pair of directions.
Each pair uses every cell both scored (n varies by pair), with a seeded percentile bootstrap over those cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.analysis import frames
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.correlation import bootstrap_note
from harness.analysis.protocols import resolve_names, with_protocols
from harness.analysis.result import AnalysisResult
from harness.analysis.stats import STATISTICS, correlation

MIN_CELLS = 3


def score_agreement(
    results: pd.DataFrame,
    *,
    proxies: Sequence[str] | None = None,
    exclude_degenerate: bool = False,
    methods: Sequence[str] = STATISTICS,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> AnalysisResult:
    """One row per setting and pair of proxies (``proxy_a`` before ``proxy_b`` in ``proxies`` order, else by
    name): ``n`` common cells and the oriented Spearman, Kendall and Pearson correlations with intervals.
    Pairs with fewer than three common cells are left out (and listed in the result's ``notes``). ``n_boot=0`` gives
    point estimates only (intervals NaN), e.g. for a heatmap of many proxies; ``methods`` limits the statistics
    (Kendall is the slow one on a full space)."""
    frame = frames.prepare(results)
    if frame.empty:
        raise ValueError("no results to compare: the store (or study) has no rows")
    present = set(frame["proxy"])
    wanted = list(dict.fromkeys(proxies)) if proxies else None
    if wanted:
        wanted = resolve_names(wanted, present)
    if wanted is not None and len(wanted) < 2:
        raise ValueError("agreement needs at least two proxies")
    for method in methods:
        if method not in STATISTICS:
            raise ValueError(f"unknown correlation {method!r}; expected one of {', '.join(STATISTICS)}")
    rows, notes = [], []
    for setting, setting_rows in frames.settings(frame):
        table = frames.score_table(setting_rows, exclude_degenerate=exclude_degenerate)
        names = [p for p in (wanted or sorted(table.columns)) if p in table.columns]
        oriented = {p: table[p].to_numpy(dtype=float) * frames.orientation(p) for p in names}
        for i, a in enumerate(names):
            found = {}
            pairs = _pairs_with(a, names[i + 1 :], oriented, methods, n_boot, seed)
            for b, (mask, boot_row, boot) in pairs.items():
                if mask.sum() < MIN_CELLS:
                    where = f"{setting.dataset} {setting.data}/{setting.labels}"
                    notes.append(f"{where}: {a} / {b} share {mask.sum()} cells")
                    continue
                x, y = oriented[a][mask], oriented[b][mask]
                row = {**setting.as_dict(), "proxy_a": a, "proxy_b": b, "n": int(mask.sum())}
                for method in methods:
                    row[method] = correlation(x, y, method)
                    row[f"{method}_ci"] = (
                        percentile_interval(boot[method][boot_row], level) if boot else (np.nan, np.nan)
                    )
                found[b] = row
            rows += [found[b] for b in names[i + 1 :] if b in found]
    method = (bootstrap_note(n_boot, seed, level),) if n_boot > 0 else ()
    return AnalysisResult(with_protocols(pd.DataFrame(rows)), tuple(notes), (), method)


def _pairs_with(
    a: str, others: Sequence[str], oriented: dict[str, np.ndarray], methods: Sequence[str], n_boot: int, seed: int
) -> dict[str, tuple[np.ndarray, int, dict | None]]:
    """For each proxy b in ``others``: the cells a and b both scored, and b's row in a bootstrap shared by every
    b with the same cells (one call for all of them: the same resamples, so the same intervals as pair by pair)."""
    groups: dict[bytes, list[str]] = {}
    masks = {}
    for b in others:
        masks[b] = np.isfinite(oriented[a]) & np.isfinite(oriented[b])
        groups.setdefault(np.packbits(masks[b]).tobytes(), []).append(b)
    out = {}
    for members in groups.values():
        mask = masks[members[0]]
        boot = None
        if n_boot > 0 and mask.sum() >= MIN_CELLS:
            xs = np.vstack([oriented[b][mask] for b in members])
            boot = bootstrap_correlations(xs, oriented[a][mask], methods=methods, n_boot=n_boot, seed=seed)
        for k, b in enumerate(members):
            out[b] = (mask, k, boot)
    return out


def agreement_matrix(agreement: AnalysisResult | pd.DataFrame, statistic: str = "spearman") -> pd.DataFrame:
    """The symmetric proxy x proxy matrix of one setting's ``statistic`` (1 on the diagonal, NaN: no pair)."""
    if isinstance(agreement, AnalysisResult):
        agreement = agreement.table
    names = list(dict.fromkeys([*agreement["proxy_a"], *agreement["proxy_b"]]))
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    matrix[:] = np.where(np.eye(len(names), dtype=bool), 1.0, np.nan)
    for a, b, value in zip(agreement["proxy_a"], agreement["proxy_b"], agreement[statistic]):
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


__all__ = ["agreement_matrix", "score_agreement"]
