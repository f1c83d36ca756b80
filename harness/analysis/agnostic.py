"""Is a proxy data- or label-agnostic? Its scores under a swapped mode against the reference mode, and the seed floor.

NASI (Shu et al., 2022) claims its score hardly changes when the labels, or even the data, are replaced
by random ones, and reports the Pearson correlation of the two score vectors. Pearson can be high while the
ranking of cells changes (one extreme cell dominates), and a ranking is what a search uses, so the comparison
is on Kendall's tau between the two score vectors, with a bootstrap interval; Pearson and Spearman are
reported beside it, with the overlap of the top-k cells and each mode's correlation with accuracy.

No paper says how high tau must be for "agnostic". The yardstick here is the proxy's own seed noise: the
**seed floor** is tau between its reference scores under two seeds (another draw of initial weights and
batch), averaged over seed pairs. Swapping data or labels is "within seed noise" when tau(reference, swapped)
at the same seed is not clearly below that floor: the paired bootstrap interval of tau_swap - floor (the same
resampled cells for both) reaches 0, or the swap agrees better than two seeds do. Otherwise it is "beyond seed
noise", with the size of the difference. A proxy whose scores are identical across seeds (params, flops) has
floor 1. With one seed there is no floor, and the verdict says so. The fixed lines of :class:`Thresholds`
(0.80/0.50, from no paper) are only an optional secondary verdict (``line_verdict``).

With ground truth, :mod:`harness.analysis.decisions` adds what a search would pick (sample-and-pick with the
reference and the swapped scores on the same samples) and, with ``transfer``, the same picks judged by the
accuracy on other datasets.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis import decisions, frames, topk
from harness.analysis.aggregates import pool_notes
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.correlation import aligned, bootstrap_note
from harness.analysis.result import AnalysisResult, targets_of
from harness.analysis.stats import STATISTICS, correlation
from harness.analysis.target import Target, describe, resolve
from harness.errors import DataMissing

TOP_PERCENTS = (1, 5, 10)
MIN_FLOOR_CELLS = 30  # a seed that would leave fewer cells common to every vector is left out of the floor
WITHIN, BEYOND, NO_FLOOR, UNDETERMINED = "within seed noise", "beyond seed noise", "no seed floor", "undetermined"
TRANSFER_DATASETS = ("cifar100", "ImageNet16-120")


@dataclass(frozen=True)
class Thresholds:
    """Optional secondary line on Kendall's tau between the reference and the swapped scores (interval [lo, hi]).

    No paper defines these lines; the verdict is on the seed floor. holds: lo >= ``holds``; fails: hi <
    ``fails``; partial: the whole interval lies between the two; inconclusive: it straddles a line.
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
            f"secondary line (line_verdict, from no paper) on Kendall tau between reference and swapped scores: "
            f"holds if the lower interval bound >= {self.holds:.2f}; fails if the upper bound < {self.fails:.2f}; "
            f"partial if the interval lies between; inconclusive if it straddles a line"
        )


def describe_floor(min_cells: int = MIN_FLOOR_CELLS) -> str:
    return (
        "verdict against the seed floor: floor = Kendall tau (and Spearman) between a proxy's reference scores "
        "under two seeds, averaged over seed pairs; tau(reference, swapped) at the same seed, averaged over the "
        "seeds that have both modes; 'within seed noise' when the paired bootstrap interval of tau_swap - floor "
        "(same resampled cells) reaches 0 or the swap agrees better, else 'beyond seed noise'; both on the cells "
        f"every seed used has (a seed that would leave fewer than {min_cells} is left out); a proxy with identical "
        "scores across seeds has floor 1; one seed: no floor"
    )


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
    thresholds: Thresholds | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    pick_sizes: Sequence[int] = decisions.PICK_SIZES,
    draws: int = decisions.DRAWS,
    transfer: Sequence[str] = (),
    min_cells: int = MIN_FLOOR_CELLS,
) -> AnalysisResult:
    """One row per (space, dataset, batch size) x proxy x swapped mode, compared with ``reference`` over seeds.

    ``seeds`` lists the seeds with both modes (tau(reference, swapped) is averaged over them; ``seed`` is that
    seed when there is one, else -1), ``floor_seeds`` the reference seeds of the floor. Needs no ground truth;
    with a ``target`` it adds each mode's Spearman rho with accuracy, the paired interval of their difference,
    and sample-and-pick decisions; ``transfer`` names datasets whose accuracy judges the same picks.
    ``thresholds`` adds the secondary ``line_verdict``.
    """
    frame = frames.prepare(results)
    if frame.empty:
        raise ValueError("no results to analyse: the store (or study) has no rows")
    rows_out: list[dict] = []
    notes: list[str] = []
    dropped: dict[tuple[str, str, str], list[str]] = {}  # (space, dataset, seeds) -> proxies whose floor lacks them
    ref_groups: dict[tuple, dict[int, pd.DataFrame]] = {}
    swap_groups: dict[tuple, dict[int, pd.DataFrame]] = {}
    for s, r in frames.settings(frame):
        table = frames.score_table(r, exclude_degenerate=exclude_degenerate)
        if s.mode == tuple(reference):
            ref_groups.setdefault((s.space, s.dataset, s.batch_size), {})[s.seed] = table
        else:
            swap_groups.setdefault((s.space, s.dataset, s.batch_size, s.data, s.labels), {})[s.seed] = table
    for (space, dataset, batch_size, data, labels), swap_by_seed in swap_groups.items():
        ref_by_seed = ref_groups.get((space, dataset, batch_size), {})
        for s in sorted(set(swap_by_seed) - set(ref_by_seed)):
            notes.append(
                f"{space} {dataset} {data}/{labels}: no reference ({reference[0]}/{reference[1]}) scores at batch "
                f"size {batch_size}, seed {s}"
            )
        both = sorted(set(swap_by_seed) & set(ref_by_seed))
        if not both:
            continue
        accuracy, target_label = _accuracy(target, space, dataset, notes)
        others = _transfer_targets(target, space, dataset, transfer, notes)
        proxies = list(dict.fromkeys(p for s in both for p in swap_by_seed[s].columns))
        for proxy in proxies:
            refs = {s: t[proxy].dropna() for s, t in ref_by_seed.items() if proxy in t.columns}
            swaps = {s: swap_by_seed[s][proxy].dropna() for s in both if proxy in swap_by_seed[s].columns}
            swaps = {s: v for s, v in swaps.items() if s in refs}
            if not swaps:
                notes.append(f"{proxy} {data}/{labels}: no reference scores to compare with")
                continue
            sign = frames.orientation(str(proxy))
            cells, seeds, ref_seeds = _common_cells(refs, swaps, min_cells)
            left_out = sorted(set(refs) - set(ref_seeds))
            if left_out:
                key = (space, dataset, ", ".join(map(str, left_out)))
                dropped.setdefault(key, [])
                if str(proxy) not in dropped[key]:
                    dropped[key].append(str(proxy))
            pairs = {s: pd.concat([refs[s], swaps[s]], axis=1, keys=["ref", "swap"]).dropna() for s in seeds}
            row = {
                "space": space,
                "dataset": dataset,
                "data": data,
                "labels": labels,
                "batch_size": batch_size,
                "seed": seeds[0] if len(seeds) == 1 else -1,
                "proxy": str(proxy),
                "claim": claim(data, labels, reference),
                "seeds": seeds,
            }
            row.update(_agreement(pairs, sign, top_percents, n_boot, seed, level))
            row.update(_floor(refs, swaps, cells, seeds, ref_seeds, n_boot, seed, level))
            if thresholds is not None:
                row["line_verdict"] = thresholds.verdict(*row["kendall_ci"])
            row.update(_with_accuracy(pairs, accuracy, n_boot, seed, level))
            if accuracy is not None:
                row.update(_picks(pairs, sign, accuracy, pick_sizes, draws, seed, n_boot, level))
            for name, other in others.items():
                picks = _picks(pairs, sign, other, pick_sizes, draws, seed, n_boot, level)
                row.update({f"{name}:{k}": v for k, v in picks.items()})
            row["verdict_text"] = verdict_text(row)
            row["target"] = target_label
            rows_out.append(row)
    for (space, dataset, seeds_left), proxies_left in dropped.items():
        notes.append(
            f"{space} {dataset}: reference seed(s) {seeds_left} left out of the seed floor of "
            f"{', '.join(proxies_left)} (fewer than {min_cells} cells, or than half the floor's cells, in common "
            "with the other seeds)"
        )
    out = frames.proxy_fields(pd.DataFrame(rows_out), frame, keys=("space", "dataset", "batch_size"))
    method = [describe_floor(min_cells), bootstrap_note(n_boot, seed, level)]
    if target is not None:
        method.append(decisions.describe(pick_sizes, draws, seed))
    if thresholds is not None:
        method.append(thresholds.describe())
    notes += pool_notes(frame)
    return AnalysisResult(out, tuple(notes), targets_of(out), tuple(method))


def verdict_text(row: dict) -> str:
    """'data-agnostic: within seed noise, τ(ref, swap) = 0.80 [0.79, 0.80] vs seed floor 0.81 [...] (Δ ...)'."""

    def ci(name: str) -> str:
        lo, hi = row[f"{name}_ci"]
        return f"[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else "[-]"

    seeds = row["seeds"]
    where = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
    text = f"{row['claim']}: {row['verdict']}, τ(ref, swap) = {row['kendall']:.2f} {ci('kendall')} ({where})"
    if row["verdict"].startswith(NO_FLOOR) or not np.isfinite(row["floor_kendall"]):
        return text
    if row["deterministic"]:
        floor = "seed floor 1 (scores identical across seeds)"
    else:
        floor = f"seed floor τ = {row['floor_kendall']:.2f} {ci('floor_kendall')}"
    return f"{text} vs {floor}; on {row['floor_n']} common cells Δτ = {row['delta_kendall']:+.2f} {ci('delta_kendall')}"


def _accuracy(target: Target | None, space: str, dataset: str, notes: list[str]) -> tuple[pd.Series | None, str]:
    if target is None:
        return None, "none (agreement needs no ground truth)"
    try:
        accuracy = resolve(target, space, dataset)
    except DataMissing as exc:
        message = f"{space} {dataset}: correlation with accuracy skipped, {exc}"
        if message not in notes:
            notes.append(message)
        return None, "none found (see notes)"
    return accuracy, describe(accuracy)


def _transfer_targets(
    target: Target | None, space: str, dataset: str, transfer: Sequence[str], notes: list[str]
) -> dict[str, pd.Series]:
    """The accuracy on each ``transfer`` dataset (other than ``dataset``) that resolves."""
    out: dict[str, pd.Series] = {}
    for name in transfer:
        if name == dataset:
            continue
        if target is None:
            notes.append(f"transfer to {name}: needs ground truth")
            continue
        try:
            out[name] = resolve(target, space, name)
        except DataMissing as exc:
            message = f"{space} transfer {dataset} -> {name}: skipped, {exc}"
            if message not in notes:
                notes.append(message)
    return out


def transfer_picks(
    scores: pd.Series,
    accuracies: dict[str, pd.Series],
    *,
    higher_is_better: bool = True,
    sizes: Sequence[int] = decisions.PICK_SIZES,
    draws: int = decisions.DRAWS,
    seed: int = 0,
    n_boot: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """One proxy's picks made with ``scores`` (e.g. CIFAR-10's), judged by each dataset's accuracy.

    One row per dataset: ``pick@N`` (accuracy of the scored pick on that dataset) with its spread, ``oracle@N``
    (the sample's best cell on that dataset, by the same samples) and ``regret@N`` = oracle - pick.
    """
    sign = 1.0 if higher_is_better else -1.0
    rows = []
    for name, accuracy in accuracies.items():
        known, acc = aligned(scores.dropna().to_frame("s"), accuracy)
        a = acc.to_numpy(dtype=float)
        oriented = sign * known["s"].to_numpy(dtype=float)
        found = decisions.sample_and_pick(a, oriented, a, sizes, draws=draws, seed=seed, n_boot=n_boot, boot_seed=seed)
        row: dict = {"dataset": name, "n": int(a.size)}
        for size in decisions.pick_sizes(found):
            row[f"pick@{size}"] = found[f"pick@{size}"]
            row[f"pick@{size}_ci"] = found.get(f"pick@{size}_ci", (np.nan, np.nan))
            row[f"oracle@{size}"] = found[f"pick@{size}_ref"]
            row[f"regret@{size}"] = found[f"regret@{size}"]
            row[f"regret@{size}_ci"] = found.get(f"regret@{size}_ci", (np.nan, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_boot(boots: list[np.ndarray]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.mean(np.stack(boots), axis=0)


def _agreement(
    pairs: dict[int, pd.DataFrame], sign: float, top_percents: Sequence[float], n_boot: int, seed: int, level: float
) -> dict:
    """tau / rho / r between reference and swapped scores at each seed, averaged over seeds (intervals: the
    per-resample mean; seeds on the same cells see the same resamples)."""
    out: dict = {"n": int(min(len(p) for p in pairs.values()))}
    points: dict[str, list[float]] = {m: [] for m in STATISTICS}
    boots: dict[str, list[np.ndarray]] = {m: [] for m in STATISTICS}
    overlaps: dict[float, list[float]] = {k: [] for k in top_percents}
    for pair in pairs.values():
        ref, swap = pair["ref"].to_numpy(), pair["swap"].to_numpy()
        boot = bootstrap_correlations(swap, ref, n_boot=n_boot, seed=seed) if len(pair) >= 3 else None
        for m in STATISTICS:
            points[m].append(correlation(swap, ref, m))
            boots[m].append(boot[m][0] if boot else np.full(n_boot, np.nan))
        for k in top_percents:
            overlaps[k].append(topk.precision_at(sign * swap, sign * ref, k) if len(pair) else np.nan)
    for m in STATISTICS:
        out[m] = float(np.mean(points[m]))
        out[f"{m}_ci"] = percentile_interval(_mean_boot(boots[m]), level)
    for k in top_percents:
        out[f"overlap@{k:g}%"] = float(np.mean(overlaps[k]))
    return out


def _common_cells(
    refs: dict[int, pd.Series], swaps: dict[int, pd.Series], min_cells: int
) -> tuple[pd.Index, list[int], list[int]]:
    """Cells every used vector has, the both-mode seeds used and the reference seeds used (most cells first)."""

    def size(cells: pd.Index | None, extra: pd.Index) -> int:
        return len(extra if cells is None else cells.intersection(extra))

    cells: pd.Index | None = None
    used_swap: list[int] = []
    for s in sorted(swaps, key=lambda s: (-len(refs[s].index.intersection(swaps[s].index)), s)):
        extra = refs[s].index.intersection(swaps[s].index)
        if cells is None or size(cells, extra) >= min_cells:
            cells = extra if cells is None else cells.intersection(extra)
            used_swap.append(s)
    assert cells is not None
    used_ref = list(used_swap)
    for s in sorted(set(refs) - set(swaps), key=lambda s: (-len(refs[s]), s)):
        kept = size(cells, refs[s].index)
        # the first extra seed makes a floor at all; later ones must not halve the cells it is measured on
        if kept >= min_cells and (len(used_ref) < 2 or kept >= len(cells) / 2):
            cells = cells.intersection(refs[s].index)
            used_ref.append(s)
    return cells.sort_values(), sorted(used_swap), sorted(used_ref)


def _floor(
    refs: dict[int, pd.Series],
    swaps: dict[int, pd.Series],
    cells: pd.Index,
    swap_seeds: list[int],
    ref_seeds: list[int],
    n_boot: int,
    seed: int,
    level: float,
) -> dict:
    """Seed floor on ``cells``, tau_swap on the same cells, their paired difference and the verdict."""
    nan2 = (np.nan, np.nan)
    out: dict = {
        "floor_seeds": ref_seeds,
        "floor_pairs": len(ref_seeds) * (len(ref_seeds) - 1) // 2,
        "floor_n": int(len(cells)),
        "deterministic": False,
    }
    for m in ("kendall", "spearman"):
        out.update({f"floor_{m}": np.nan, f"floor_{m}_ci": nan2, f"delta_{m}": np.nan, f"delta_{m}_ci": nan2})
        out.update({f"{m}_common": np.nan, f"{m}_common_ci": nan2})
    if len(ref_seeds) < 2 or len(cells) < 3:
        out["verdict"] = f"{NO_FLOOR} ({len(ref_seeds)} seed{'s' if len(ref_seeds) != 1 else ''})"
        return out
    r = {s: refs[s].reindex(cells).to_numpy(dtype=float) for s in ref_seeds}
    w = {s: swaps[s].reindex(cells).to_numpy(dtype=float) for s in swap_seeds}
    first = r[ref_seeds[0]]
    out["deterministic"] = all(np.allclose(r[s], first, rtol=1e-9, atol=0) for s in ref_seeds[1:])
    methods = ("kendall", "spearman")
    swap_boot = {m: [] for m in methods}
    swap_point = {m: [] for m in methods}
    for s in swap_seeds:
        boot = bootstrap_correlations(w[s], r[s], methods=methods, n_boot=n_boot, seed=seed)
        for m in methods:
            swap_boot[m].append(boot[m][0])
            swap_point[m].append(correlation(w[s], r[s], m))
    floor_boots: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    floor_points: dict[str, list[float]] = {m: [] for m in methods}
    if not out["deterministic"]:
        for a, b in itertools.combinations(ref_seeds, 2):  # one resampling per seed pair serves both statistics
            boot = bootstrap_correlations(r[b], r[a], methods=methods, n_boot=n_boot, seed=seed)
            for m in methods:
                floor_boots[m].append(boot[m][0])
                floor_points[m].append(correlation(r[b], r[a], m))
    for m in methods:
        if out["deterministic"]:
            floor, floor_boot = 1.0, np.ones(n_boot)
        else:
            floor, floor_boot = float(np.mean(floor_points[m])), _mean_boot(floor_boots[m])
        swap_common = float(np.mean(swap_point[m]))
        out[f"floor_{m}"] = floor
        out[f"floor_{m}_ci"] = (1.0, 1.0) if out["deterministic"] else percentile_interval(floor_boot, level)
        out[f"{m}_common"] = swap_common
        out[f"{m}_common_ci"] = percentile_interval(_mean_boot(swap_boot[m]), level)
        out[f"delta_{m}"] = swap_common - floor
        out[f"delta_{m}_ci"] = percentile_interval(_mean_boot(swap_boot[m]) - floor_boot, level)
    lo, hi = out["delta_kendall_ci"]
    if not np.isfinite(out["delta_kendall"]):
        out["verdict"] = UNDETERMINED
    elif out["delta_kendall"] >= 0 or (np.isfinite(hi) and hi >= 0):
        out["verdict"] = WITHIN
    elif np.isfinite(hi):
        out["verdict"] = BEYOND
    else:
        out["verdict"] = UNDETERMINED
    return out


def _with_accuracy(
    pairs: dict[int, pd.DataFrame], accuracy: pd.Series | None, n_boot: int, seed: int, level: float
) -> dict:
    keys = ("accuracy_n", "spearman_acc_ref", "spearman_acc_swap", "delta_acc", "delta_acc_ci")
    if accuracy is None:
        return dict(zip(keys, (0, np.nan, np.nan, np.nan, (np.nan, np.nan))))
    sizes, rhos, boots = [], [], []
    for pair in pairs.values():
        known, acc = aligned(pair, accuracy)
        y = acc.to_numpy(dtype=float)
        xs = known[["ref", "swap"]].to_numpy(dtype=float).T
        sizes.append(int(y.size))
        rhos.append([correlation(x, y, "spearman") for x in xs])
        if y.size >= 3:
            boot = bootstrap_correlations(xs, y, methods=("spearman",), n_boot=n_boot, seed=seed)["spearman"]
            boots.append(boot[1] - boot[0])
    rho_ref, rho_swap = np.mean(rhos, axis=0) if rhos else (np.nan, np.nan)
    ci = percentile_interval(_mean_boot(boots), level) if boots else (np.nan, np.nan)
    return dict(zip(keys, (min(sizes), float(rho_ref), float(rho_swap), float(rho_swap - rho_ref), ci)))


def _picks(
    pairs: dict[int, pd.DataFrame],
    sign: float,
    accuracy: pd.Series,
    sizes: Sequence[int],
    draws: int,
    seed: int,
    n_boot: int,
    level: float,
) -> dict:
    """Paired sample-and-pick over the seeds' pools (each seed's cells with a known accuracy)."""
    pools = []
    for pair in pairs.values():
        known, acc = aligned(pair, accuracy)
        if len(known):
            pools.append(
                (sign * known["ref"].to_numpy(float), sign * known["swap"].to_numpy(float), acc.to_numpy(float))
            )
    if not pools:
        return {}
    return decisions.pooled_picks(pools, sizes, draws=draws, seed=seed, n_boot=n_boot, boot_seed=seed, level=level)
