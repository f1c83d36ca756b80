"""Proxies side by side on the same cells: ranked by oriented Spearman rho, with paired-bootstrap intervals on
the differences, and a rank-aggregation ensemble that is scored like any other proxy.

An ensemble here is the pool aggregate ``ensemble:a+b`` (``--aggregate``; ``compare --ensemble a,b`` is its
deprecated spelling): computed by :mod:`harness.ranking` over the pool of its setting under the one missing rule,
so that it has the same values in ``correlate``, ``compare``, ``report`` and ``search sample``.

Paired: every proxy of a setting is evaluated on the cells they all scored, under the same resamples, so the
interval of rho_a - rho_b reflects only how the two disagree, not the shared luck of which cells were drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.aggregates import rank_ensemble as ensemble_aggregate
from harness.analysis import frames
from harness.analysis import seeds as seed_axis
from harness.analysis.aggregates import add_aggregates, pool_notes
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.correlation import aligned, bootstrap_note, metrics_for
from harness.analysis.protocols import resolve_names, with_protocols
from harness.analysis.result import AnalysisResult, targets_of
from harness.analysis.stats import correlation
from harness.analysis.target import Target, describe, with_ground_truth
from harness.ranking import log_rank_sum


def ensemble_name(proxies: Sequence[str]) -> str:
    return f"ensemble({'+'.join(proxies)})"


def rank_ensemble(scores: pd.DataFrame, higher_is_better: Mapping[str, bool] | None = None) -> pd.Series:
    """AZ-NAS-style aggregation over the rows of ``scores`` (the set of cells): sum over its columns of
    log(rank / N), rank N = best cell, 1 = worst (:func:`harness.ranking.log_rank_sum`).

    Each proxy is ranked by its oriented score (average ranks for ties), so the best cell of every proxy adds
    log(1) = 0 and a cell bad under any proxy is pulled down hard: higher ensemble score = better. The missing
    rule is :mod:`harness.ranking`'s: a missing or non-finite score ranks below every scored cell, and the cell
    stays (N counts every row).
    """
    if scores.shape[1] == 0:
        raise ValueError("rank ensemble needs at least one proxy")
    up = {
        p: (frames.higher_is_better(str(p)) if higher_is_better is None else bool(higher_is_better[p]))
        for p in scores.columns
    }
    return log_rank_sum(scores, up).rename(ensemble_name([str(c) for c in scores.columns]))


def with_ensembles(results: pd.DataFrame, ensembles: Sequence[Sequence[str]]) -> pd.DataFrame:
    """``results`` with the rows of each ensemble's pool aggregate ``ensemble(a+b)`` (``--aggregate ensemble:a+b``)
    added, unless already there (loaded with ``--aggregate``)."""
    present = set(results["proxy"].astype(str)) if "proxy" in results.columns else set()
    for group in ensembles:
        if len(group) < 2:
            raise ValueError(f"an ensemble needs at least two proxies, got {','.join(group) or 'none'}")
        for name in group:
            if name not in present:
                raise ValueError(f"proxy {name!r} is not in the results; present: {', '.join(sorted(present))}")
    wanted = [ensemble_aggregate(ensemble_name(g), g) for g in ensembles if ensemble_name(g) not in present]
    if not wanted:
        return results
    out = add_aggregates(results, wanted, required={a.name for a in wanted})
    if not frames.is_prepared(results):
        return out
    added = out.iloc[len(results) :].drop(columns=["usable", "degenerate"], errors="ignore")
    added.attrs = {}
    merged = pd.concat([results, frames.prepare(added)], ignore_index=True)  # a report's frame stays prepared
    merged.attrs = dict(results.attrs)
    return merged


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
    seeds: int | Sequence[int] | None = None,
) -> AnalysisResult:
    """Rank proxies by oriented Spearman rho with accuracy within each setting, on the cells all of them scored.

    The result's table has one row per setting x proxy, best first; its ``tables["pairwise"]`` every ordered pair's
    difference.

    Ensembles are scored like any proxy: rho and tau with intervals, the paired difference, top-k metrics.

    ``delta_vs_best`` is the best proxy's oriented rho minus this one's, with a paired interval; when the
    interval contains 0 the two are not distinguishable on these cells.

    Scoring seeds (a seed is part of a setting; ``seeds`` keeps only these, ``seed`` is the bootstrap's): proxies
    are paired and ranked within each seed, on the cells all of them scored with that seed. ``tables["seeds"]``
    summarises the ranking over seeds (:mod:`harness.analysis.seeds`): per proxy ``seeds``, ``n_seeds``, the mean
    over seeds of ``spearman``, ``kendall``, ``oriented_spearman`` and the top-k metrics with ``_sd``, ``_min``,
    ``_max``, ``_ci`` (cells) and ``_combined_ci`` (cells and seeds); ``rank`` orders the proxies by mean
    oriented rho, ``rank_min``/``rank_max`` are its ranks within single seeds, ``same_order`` says whether every
    seed ranks the setting's proxies (those scored in every seed) in the same order, ``delta_vs_best`` /
    ``delta_ci`` / ``delta_combined_ci`` the mean paired difference from the first proxy, ``beats_next`` the
    fraction of seeds in which this proxy's oriented rho is above the next one's. ``tables["seeds_pairwise"]``:
    every ordered pair's mean difference with both intervals and ``a_beats_b``, the fraction of seeds in which
    a's oriented rho is above b's.
    """
    selected = seed_axis.select_seeds(results, seeds)
    if not selected.empty and ensembles:
        selected = with_ensembles(selected, ensembles)
    frame = frames.prepare(selected)
    if frame.empty:
        raise ValueError("no results to compare: the store (or study) has no rows")
    present = set(frame["proxy"])
    wanted = list(dict.fromkeys(proxies)) if proxies else None
    if wanted:
        wanted = list(dict.fromkeys([*wanted, *(ensemble_name(g) for g in ensembles)]))
    if wanted:
        wanted = resolve_names(wanted, present)
    ranking, pairwise, notes, missing = [], [], [], []
    samples: dict[int, dict[str, np.ndarray]] = {}  # ranking row -> its bootstrap replicates
    pair_samples: dict[int, dict[str, np.ndarray]] = {}
    for setting, rows, accuracy in with_ground_truth(frames.settings(frame), target, notes, missing):
        table = frames.score_table(rows, exclude_degenerate=exclude_degenerate)
        columns = [p for p in (wanted or list(table.columns)) if p in table.columns]
        asked = [ensemble_name(g) for g in ensembles]
        if not columns or not all(p in table.columns for p in asked):
            notes.append(f"{_where(setting)}: skipped, not every requested proxy was scored in this setting")
            continue
        common = table[columns].dropna()
        common, acc = aligned(common, accuracy)
        scores = {p: common[p] for p in columns}
        if len(common) < 3:
            notes.append(f"{_where(setting)}: skipped, only {len(common)} cells scored by every proxy")
            continue
        rows_rank, rows_pairs = _rank(setting, scores, acc, n_boot=n_boot, seed=seed, level=level)
        for r in rows_rank:
            r["target"] = describe(accuracy)
            samples[len(ranking)] = r.pop("_samples")
            ranking.append(r)
        for r in rows_pairs:
            r["target"] = describe(accuracy)
            pair_samples[len(pairwise)] = r.pop("_samples")
            pairwise.append(r)
    if not ranking and missing:
        raise missing[0]
    table = pd.DataFrame(ranking)
    pairs = pd.DataFrame(pairwise)
    method = (bootstrap_note(n_boot, seed, level),)
    notes += pool_notes(frame)
    summary, pair_summary, order_notes = seed_summary(table, pairs, samples, pair_samples, level, seed)
    if seed_axis.multi_seed(table, frames.SETTING):
        from harness.analysis.correlation import seeds_note

        method += (seeds_note(level),)
        notes += order_notes
    table, summary = frames.proxy_fields(table, frame), frames.proxy_fields(summary, frame)
    tables = {"pairwise": with_protocols(pairs.drop(columns="target", errors="ignore")), "seeds": summary}
    tables["seeds_pairwise"] = with_protocols(pair_summary)
    return AnalysisResult(table, tuple(notes), targets_of(table), method, tables)


_RANK_KEYS = (*frames.SETTING, "target")
_STATS = ("spearman", "kendall", "oriented_spearman")


def seed_summary(
    table: pd.DataFrame,
    pairs: pd.DataFrame,
    samples: dict[int, dict[str, np.ndarray]],
    pair_samples: dict[int, dict[str, np.ndarray]],
    level: float,
    bootstrap_seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The per-seed ranking and pairwise tables of :func:`compare` summarised over seeds, and one note per
    setting with several seeds saying whether its order of proxies holds in every seed."""
    if table.empty:
        return table, pairs, []
    metrics = [c for c in table.columns if c.startswith(("precision@", "kendall_top", "ndcg@", "best_rank@"))]
    options = {"level": level, "bootstrap_seed": bootstrap_seed}
    ranked = seed_axis.summarise(
        table, [*_RANK_KEYS, "proxy"], statistics=_STATS, metrics=["rank", *metrics], samples=samples,
        first=("higher_is_better",), counts={"n": "min"}, **options,
    )  # fmt: skip
    ranked = ranked.rename(columns={"rank": "rank_mean"}).drop(columns="rank_sd")
    if pairs.empty:  # one proxy per setting: nothing paired
        pairs = pd.DataFrame(columns=[*_RANK_KEYS, "proxy_a", "proxy_b", "n", "delta"])
    paired = seed_axis.summarise(
        pairs.assign(a_beats_b=(pairs["delta"].astype(float) > 0).astype(float)),
        [*_RANK_KEYS, "proxy_a", "proxy_b"], statistics=("delta",), metrics=("a_beats_b",), samples=pair_samples,
        counts={"n": "min"}, **options,
    )  # fmt: skip
    paired = paired.drop(columns=["a_beats_b_sd", "a_beats_b_min", "a_beats_b_max"], errors="ignore")
    if paired.empty:  # one proxy per setting: nothing paired
        paired = pd.DataFrame(columns=[*_RANK_KEYS, "proxy_a", "proxy_b", "delta", "delta_ci", "a_beats_b"])
    group = [k for k in _RANK_KEYS if k in ranked.columns and k != "seed"]
    out, notes = [], []
    for key, rows in ranked.groupby(group, sort=False, dropna=False):
        rows = rows.assign(_o=-rows["oriented_spearman"].fillna(-np.inf)).sort_values(["_o", "proxy"])
        rows = rows.drop(columns="_o").reset_index(drop=True)
        rows.insert(len(group), "rank", range(1, len(rows) + 1))
        where = dict(zip(group, key))
        sub = table
        for k, v in where.items():
            sub = sub[sub[k] == v]
        every = set.intersection(*(set(r["proxy"]) for _, r in sub.groupby("seed")))  # proxies of every seed
        orders = {s: tuple(p for p in r.sort_values("rank")["proxy"] if p in every) for s, r in sub.groupby("seed")}
        same = len(set(orders.values())) == 1
        rows["same_order"] = same
        mine = paired
        for k, v in where.items():
            mine = mine[mine[k] == v]
        lookup = mine.set_index(["proxy_a", "proxy_b"])
        names = list(rows["proxy"])
        best = names[0]
        delta, ci, combined, beats = [], [], [], []
        for i, name in enumerate(names):
            if name == best:
                delta.append(0.0)
                ci.append((np.nan, np.nan))
                combined.append((np.nan, np.nan))
            else:
                pair = lookup.loc[(best, name)] if (best, name) in lookup.index else None
                delta.append(float(pair["delta"]) if pair is not None else np.nan)
                ci.append(pair["delta_ci"] if pair is not None else (np.nan, np.nan))
                combined.append(pair["delta_combined_ci"] if pair is not None else (np.nan, np.nan))
            following = names[i + 1] if i + 1 < len(names) else None
            found = following is not None and (name, following) in lookup.index
            beats.append(float(lookup.loc[(name, following), "a_beats_b"]) if found else np.nan)
        rows["delta_vs_best"], rows["delta_ci"], rows["delta_combined_ci"] = delta, ci, combined
        rows["beats_next"] = beats
        out.append(rows)
        n_seeds = len(orders)
        if n_seeds > 1:
            title = " ".join(str(where.get(k, "")) for k in ("space", "dataset"))
            mode = f"{where.get('data', '?')}/{where.get('labels', '?')}"
            if same:
                notes.append(f"{title} {mode}: the order of the proxies is the same in all {n_seeds} seeds")
            else:
                common = sum(orders[s] == tuple(p for p in names if p in every) for s in orders)
                notes.append(
                    f"{title} {mode}: the order of the proxies differs between seeds (the mean order holds in "
                    f"{common} of {n_seeds}; beats_next = fraction of seeds in which a proxy is above the next one)"
                )
    summary = pd.concat(out, ignore_index=True) if out else ranked
    head = [k for k in group if k != "target"] + ["seeds", "n_seeds", "rank", "rank_mean", "rank_min", "rank_max"]
    head += ["same_order", "proxy", "higher_is_better", "n"]
    stats = [f"{m}{x}" for m in _STATS for x in ("", "_ci", "_combined_ci", "_sd", "_min", "_max")]
    delta = ["delta_vs_best", "delta_ci", "delta_combined_ci", "beats_next"]
    tail = [f"{c}{x}" for c in metrics for x in ("", "_sd", "_min", "_max")]
    summary = summary[[c for c in [*head, *stats, *delta, *tail, "target"] if c in summary.columns]]
    return summary, paired, notes


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
                "_samples": {
                    "spearman": boot["spearman"][i],
                    "kendall": boot["kendall"][i],
                    "oriented_spearman": oriented_boot[i],
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
                        "_samples": {"delta": oriented_boot[i] - oriented_boot[j]},
                    }
                )
    return ranking, pairs
