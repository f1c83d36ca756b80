"""Your proxy against the reference zoo, without re-scoring the zoo.

The repository commits the scores of every built-in proxy on the 1,000 reference cells (``sample:1000:0``,
NB201, CIFAR-10, real data, true labels, b = 64, seed 0): ``results/nb201_proxies_cpu`` (28 proxies) and
``results/nb201_ntk_cpu`` (ntk_cond, te_nas_log_ratio). ``ntk_trace`` at b = 64 costs 640 backward passes per cell
(a GPU job, ``benchmarks/nb201_ntk_trace.toml``), so while ``results/nb201_ntk_trace`` covers only part of the
reference cells it enters from its 1,000-cell run at b = 16 (``results/nb201_ntk_trace_b16``) under the label
``ntk_trace@b16``, with a note counting the cells: another setting, still a ranking of the same cells against the
same accuracy.

A user scores their proxy on some or all of these cells in the reference setting; this module ranks it among the
reference proxies by oriented Spearman rho with accuracy, each pair on the cells both scored, with a paired-
bootstrap interval on the difference (both vectors see the same resamples of the same cells), and says how many
cells were shared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.formatting import format_estimate
from harness.analysis.frames import orientation, prepare
from harness.analysis.inputs import load_scores
from harness.analysis.stats import correlation
from harness.analysis.target import Target, resolve
from harness.errors import HarnessError

REFERENCE_EXPORTS = (
    "results/nb201_proxies_cpu/scores.csv.gz",
    "results/nb201_ntk_cpu/scores.csv.gz",
    "results/nb201_ntk_trace/scores.csv.gz",  # ntk_trace at b = 64: a GPU job, which may cover only part of the cells
)
REFERENCE_SETTING = {"space": "nb201", "dataset": "cifar10", "data": "real", "labels": "true", "batch_size": 64,
                     "seed": 0}  # fmt: skip
REFERENCE_CELLS = "sample:1000:0"
SETTING_TEXT = "nb201 cifar10, real data, true labels, b = 64, seed 0"
# A built-in whose reference-setting rows do not cover every reference cell enters from another setting instead,
# labelled PROXY@SUFFIX, until they do (then the reference-setting rows are used, with no change here).
OTHER_SETTING_EXPORTS = (("results/nb201_ntk_trace_b16/scores.csv.gz", "ntk_trace", {"batch_size": 16}, "b16"),)
OTHER_SETTING_NOTE = {"b16": "b = 16: the same cells, CIFAR-10 real data and true labels, a batch of 16 images"}


@dataclass
class ReferenceComparison:
    """``table``: one row per proxy (yours first, then the reference ones by rho), with the paired difference
    ``yours - reference`` and its interval; ``notes``: what was compared on how many cells."""

    proxy: str
    table: pd.DataFrame
    shared_cells: int
    user_cells: int
    reference_cells: int
    notes: list[str] = field(default_factory=list)


REFERENCE_ENV = "NASI_HARNESS_REFERENCE"


def reference_root(root: str | os.PathLike | None = None) -> Path:
    """Where the reference exports are: ``root`` if given, else ``$NASI_HARNESS_REFERENCE``, else the checkout this
    package runs from. They are committed in the repository, not shipped in the wheel, so an installed package
    needs one of the first two (a checkout or a copy of its ``results/`` exports)."""
    if root is not None:
        return Path(root)
    if os.environ.get(REFERENCE_ENV):
        return Path(os.environ[REFERENCE_ENV])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / REFERENCE_EXPORTS[0]).is_file():
        return checkout
    raise HarnessError(f"the reference exports are not installed with the package: pass --reference-dir CHECKOUT or "
                       f"set {REFERENCE_ENV} to a nasi-harness checkout (it holds {REFERENCE_EXPORTS[0]})")  # fmt: skip


def load_reference(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The committed reference scores, restricted to the reference setting."""
    base = reference_root(root)
    paths = [_require_export(base / p) for p in REFERENCE_EXPORTS]
    frame = _in_setting(prepare(load_scores([str(p) for p in paths])))
    cells = frame["index"].nunique()
    extra, incomplete = [], {}
    for path, proxy, changes, suffix in OTHER_SETTING_EXPORTS:
        have = int(frame.loc[frame["proxy"] == proxy, "index"].nunique())
        if have < cells:
            incomplete[f"{proxy}@{suffix}"] = (have, cells)
            frame = frame[frame["proxy"] != proxy]
            extra.append(_other_setting(base / path, proxy, changes, suffix))
    out = pd.concat([frame, *extra], ignore_index=True) if extra else frame
    out.attrs["incomplete"] = incomplete  # label -> (cells in the reference setting, reference cells)
    return out


def _require_export(path: Path) -> Path:
    if not path.is_file():
        raise HarnessError(f"reference export not found: {path} (it is committed in the repository; "
                           f"pass --reference-dir CHECKOUT or set {REFERENCE_ENV})")  # fmt: skip
    return path


def _other_setting(path: Path, proxy: str, changes: dict, suffix: str) -> pd.DataFrame:
    """``proxy``'s rows from ``path`` in the reference setting but for ``changes``, renamed ``proxy@suffix``."""
    frame = prepare(load_scores([str(_require_export(path))], builtin_aggregates=False))
    rows = _in_setting(frame[frame["proxy"] == proxy], changes)
    if rows.empty:
        raise HarnessError(f"reference export {path} has no {proxy} rows in its setting ({changes})")
    return rows.assign(proxy=f"{proxy}@{suffix}")


def base_proxy(label: str) -> str:
    """The registered proxy behind a reference label (``ntk_trace@b16`` -> ``ntk_trace``)."""
    return label.split("@", 1)[0]


def _in_setting(frame: pd.DataFrame, changes: dict | None = None) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for column, value in {**REFERENCE_SETTING, **(changes or {})}.items():
        keep &= frame[column].astype(str).str.lower().to_numpy() == str(value).lower()
    return frame[keep]


def compare_to_reference(
    user: pd.DataFrame,
    reference: pd.DataFrame,
    target: Target,
    *,
    proxy: str | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> ReferenceComparison:
    """Rank ``proxy`` (the user's store's only proxy, or the one named) among the reference proxies."""
    mine = prepare(user.reset_index(drop=True))
    present = sorted(set(mine["proxy"]))
    if proxy is None:
        if len(present) != 1:
            raise HarnessError(f"the store has proxies {', '.join(present)}: name yours with --proxies NAME")
        proxy = present[0]
    if proxy not in present:
        raise HarnessError(f"proxy {proxy!r} not in the store; present: {', '.join(present)}")
    rows = mine[mine["proxy"] == proxy]
    same = _in_setting(rows)
    if same.empty:
        found = rows[["dataset", "data", "labels", "batch_size", "seed"]].drop_duplicates().head(1).to_dict("records")
        raise HarnessError(f"no {proxy} scores in the reference setting ({SETTING_TEXT}); the store has {found[0]}")
    accuracy = resolve(target, "nb201", "cifar10")
    ref = reference.pivot(index="index", columns="proxy", values="score").where(
        reference.pivot(index="index", columns="proxy", values="usable").fillna(False).astype(bool)
    )
    mine_scores = same[same["usable"]].set_index("index")["score"]
    shared = mine_scores.index.intersection(ref.index)
    label = f"{proxy} (yours)" if proxy in ref.columns else proxy
    mine_oriented = mine_scores * orientation(proxy)
    acc = accuracy.reindex(shared)
    base = shared[np.isfinite(acc.to_numpy(dtype=float))]
    rows_out = [_row(label, mine_oriented.reindex(base), None, accuracy, n_boot, seed, level)]
    for name in ref.columns:
        other = ref[name] * orientation(base_proxy(name))
        rows_out.append(_row(name, other.reindex(base), mine_oriented.reindex(base), accuracy, n_boot, seed, level))
    table = pd.DataFrame(rows_out)
    table = pd.concat([table.iloc[:1], table.iloc[1:].sort_values("rho", ascending=False)], ignore_index=True)
    above = int((table["rho"].iloc[1:] > table["rho"].iloc[0]).sum())
    notes = [
        f"{proxy}: {len(same)} rows in the reference setting ({SETTING_TEXT}); {len(shared)} of its "
        f"{len(mine_scores)} usable cells are among the {ref.shape[0]} reference cells ({REFERENCE_CELLS}); "
        f"{len(base)} have accuracy",
        f"rank by oriented Spearman rho: {above + 1} of {len(table)} (each pair on the cells both scored, n column)",
        "yours - ref: paired bootstrap of the difference in oriented Spearman rho "
        f"({n_boot} resamples, seed {seed}, {level:.0%} percentile interval; one containing 0: not distinguishable)",
    ]
    incomplete = reference.attrs.get("incomplete", {})
    for label in sorted(c for c in ref.columns if "@" in c):
        suffix = label.split("@", 1)[1]
        setting = OTHER_SETTING_NOTE.get(suffix, suffix)
        have, total = incomplete.get(label, (0, ref.shape[0]))
        notes.append(f"{label}: {base_proxy(label)} scored in another setting ({setting}); in the reference setting "
                     f"it has {have} of the {total} cells so far")  # fmt: skip
    if len(base) < 10:
        notes.append(f"only {len(base)} shared cells: the intervals are wide; score more reference cells")
    return ReferenceComparison(proxy, table, len(base), len(mine_scores), ref.shape[0], notes)


def _row(
    name: str,
    scores: pd.Series,
    mine: pd.Series | None,
    accuracy: pd.Series,
    n_boot: int,
    seed: int,
    level: float,
) -> dict:
    """rho of ``name`` on the cells where it (and yours, when given) has a score; the paired difference."""
    keep = scores.notna() if mine is None else scores.notna() & mine.notna()
    cells = scores.index[keep.to_numpy()]
    y = accuracy.reindex(cells).to_numpy(dtype=float)
    x = scores.reindex(cells).to_numpy(dtype=float)
    row = {"proxy": name, "n": len(cells), "rho": correlation(x, y, "spearman") if len(cells) >= 2 else np.nan,
           "delta": np.nan, "delta_lo": np.nan, "delta_hi": np.nan, "verdict": ""}  # fmt: skip
    if mine is None:
        return row
    if len(cells) < 3 or np.isnan(row["rho"]):
        row["verdict"] = "no rho: constant or under 3 cells"
        return row
    m = mine.reindex(cells).to_numpy(dtype=float)
    row["delta"] = correlation(m, y, "spearman") - row["rho"]
    samples = bootstrap_correlations([m, x], y, methods=("spearman",), n_boot=n_boot, seed=seed)["spearman"]
    lo, hi = percentile_interval(samples[0] - samples[1], level)
    row["delta_lo"], row["delta_hi"] = lo, hi
    row["verdict"] = "yours better" if lo > 0 else "yours worse" if hi < 0 else "not distinguishable"
    return row


def format_comparison(result: ReferenceComparison) -> list[str]:
    """Text lines: the notes, then the table."""
    lines = [f"{result.proxy} against the reference proxies"]
    lines.append(f"{'proxy':<24} {'n':>5} {'rho':>7}  {'yours - ref [CI]':<28} verdict")
    for r in result.table.itertuples(index=False):
        ci = "" if np.isnan(r.delta) else format_estimate(r.delta, r.delta_lo, r.delta_hi, signed=True)
        rho = "-" if np.isnan(r.rho) else f"{r.rho:.3f}"
        lines.append(f"{r.proxy:<24} {r.n:>5} {rho:>7}  {ci:<28} {r.verdict}")
    return lines + [f"note: {n}" for n in result.notes]
