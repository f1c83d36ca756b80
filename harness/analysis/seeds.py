"""Scoring seeds as an axis of every analysis: split by seed, summarise a statistic over seeds, and one interval
that covers both the cells drawn and the seed (initial weights and mini-batch) a score was made with.

A scoring seed fixes what every zero-cost proxy depends on besides the cell: the network's initial weights and the
mini-batch. The per-setting bootstrap intervals (``harness.analysis.bootstrap``) cover only which cells were drawn.
Here each statistic computed once per seed (a correlation, a top-k metric, a rank) is summarised as

* ``mean`` over the seeds, ``sd`` (sample standard deviation, ``ddof=1``; NaN with one seed), ``min``, ``max``,
  ``n_seeds`` and ``seeds`` (the sorted list);
* ``ci``: the interval over cells of the mean, the percentile interval of ``mean_s(T*_s,b)`` over replicates
  ``b``, where ``T*_s,b`` is seed ``s``'s statistic in bootstrap replicate ``b``;
* ``combined_ci``: a two-stage bootstrap, cells then seeds: replicate ``b`` draws ``S`` seeds with replacement
  out of the ``S`` present and averages their statistics in that same cell replicate ``b``,
  ``mean_j(T*_{s_j},b)``. Cell resamples depend only on (bootstrap seed, n cells, resamples), so seeds that scored
  the same cells see the same cell resample in replicate ``b``: the cells are resampled once per replicate, the
  seeds on top of it. With one seed both intervals are the cells-only interval, unchanged. The seed draw is
  seeded by ``(bootstrap seed, S, resamples)``, so a table regenerates identically. With few seeds (2-5) the seed
  stage understates the seed variance by a factor about ``(S - 1) / S``, as any bootstrap of ``S`` values does:
  read ``sd`` and ``min``-``max`` beside it.

Rank statistics are never pooled across seeds: each seed's scores are ranked (and pool aggregates formed,
``harness.analysis.aggregates``) within that seed, then the results are summarised here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

SEED = "seed"
SUMMARY_FIELDS = ("mean", "sd", "min", "max")


def seeds_of(frame: pd.DataFrame) -> list[int]:
    """The distinct scoring seeds of a results frame or analysis table, sorted ([] without a seed column)."""
    if SEED not in frame.columns or frame.empty:
        return []
    return sorted({int(s) for s in frame[SEED].dropna()})


def select_seeds(frame: pd.DataFrame, seeds: int | Iterable[int] | None) -> pd.DataFrame:
    """The rows of ``frame`` scored with ``seeds`` (one seed or several; None: every row). A seed that is not in
    the frame is a ``ValueError`` naming the seeds present."""
    if seeds is None:
        return frame
    wanted = [int(seeds)] if isinstance(seeds, int | np.integer) else [int(s) for s in seeds]
    present = seeds_of(frame)
    absent = [s for s in wanted if s not in present]
    if absent:
        listed = ", ".join(map(str, present)) or "none"
        raise ValueError(f"seed {', '.join(map(str, absent))} is not in the results; present: {listed}")
    return frame[frame[SEED].astype(int).isin(wanted)]


def by_seed(frame: pd.DataFrame) -> Iterator[tuple[int, pd.DataFrame]]:
    """Each scoring seed with its rows, in ascending seed order (a frame without a seed column: seed -1)."""
    if SEED not in frame.columns:
        yield -1, frame
        return
    for seed, rows in frame.groupby(frame[SEED].astype(int), sort=True):
        yield int(seed), rows


def multi_seed(table: pd.DataFrame, keys: Sequence[str]) -> bool:
    """Whether some group of ``keys`` (seed left out) holds more than one seed: then a per-seed table needs a
    summary; otherwise it is shown as it is."""
    if SEED not in table.columns or table.empty:
        return False
    group = [k for k in keys if k in table.columns and k != SEED]
    if not group:
        return table[SEED].nunique() > 1
    return bool((table.groupby(group, sort=False, dropna=False)[SEED].nunique() > 1).any())


def spread(values: Iterable[float]) -> dict[str, float]:
    """``mean``, ``sd`` (ddof 1; NaN for one value), ``min``, ``max`` of the finite values (all NaN if none)."""
    v = np.asarray([float(x) for x in values], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return dict.fromkeys(SUMMARY_FIELDS, float("nan"))
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def seed_intervals(
    samples: np.ndarray | Sequence[np.ndarray], level: float = 0.95, *, bootstrap_seed: int = 0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(cells-only interval of the mean over seeds, interval over cells and seeds)`` from the per-seed bootstrap
    replicates ``samples`` (seeds x replicates; row ``s`` = seed ``s``'s statistic in each cell replicate). See
    the module docstring; one row gives the cells-only interval twice."""
    from harness.analysis.bootstrap import percentile_interval

    rows = np.atleast_2d(np.asarray(samples, dtype=float))
    n_seeds, n_boot = rows.shape
    if n_seeds == 1:
        ci = percentile_interval(rows[0], level)
        return ci, ci
    with np.errstate(invalid="ignore"), _quiet():
        cells = np.nanmean(rows, axis=0)
        rng = np.random.default_rng([int(bootstrap_seed), n_seeds, n_boot, 5])
        drawn = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
        both = np.nanmean(rows[drawn, np.arange(n_boot)[:, None]], axis=1)
    return percentile_interval(cells, level), percentile_interval(both, level)


class _quiet:
    """Silence numpy's 'Mean of empty slice' (an all-NaN replicate stays NaN and is ignored)."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)


def label(seeds: Sequence[int]) -> str:
    """'1 seed (0)' / '3 seeds (0, 1, 2)'."""
    seeds = list(seeds)
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def one_seed_note(table: pd.DataFrame) -> str | None:
    """The line under a table whose settings have one scoring seed each (None when there is no seed, or when
    some setting has several: its summary says so)."""
    present = [s for s in seeds_of(table) if s >= 0]
    if not present or multi_seed(table, ("space", "dataset", "data", "labels", "batch_size")):
        return None
    which = f"1 seed ({present[0]})" if len(present) == 1 else f"1 seed per setting ({', '.join(map(str, present))})"
    return (
        f"{which}: the intervals cover which cells were drawn, not the scoring seed (initial weights and "
        "mini-batch); with several seeds every setting is summarised over them (docs/studies.md)"
    )


def summarise(
    table: pd.DataFrame,
    keys: Sequence[str],
    *,
    statistics: Sequence[str] = (),
    metrics: Sequence[str] = (),
    samples: Mapping[int, Mapping[str, np.ndarray]] | None = None,
    level: float = 0.95,
    bootstrap_seed: int = 0,
    first: Sequence[str] = (),
    counts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per group of ``keys`` (without the seed) of a per-seed table: ``seeds`` (tuple), ``n_seeds``, and
    for each column ``c`` of ``statistics`` and ``metrics``: ``c`` (the mean over seeds), ``c_sd``, ``c_min``,
    ``c_max``. For ``statistics`` with bootstrap replicates in ``samples`` (``{row label of table: {c: array}}``)
    also ``c_ci`` (cells only) and ``c_combined_ci`` (cells and seeds, :func:`seed_intervals`).

    ``first``: columns copied from a group's first row (e.g. ``higher_is_better``, ``target``); ``counts``:
    column -> ``"min"``/``"max"``/``"sum"`` over the seeds (e.g. ``{"n": "min"}``). Groups keep their order of
    first appearance.
    """
    group = [k for k in keys if k in table.columns and k != SEED]
    out = []
    for _, rows in table.groupby(group, sort=False, dropna=False) if group else [((), table)]:
        row = {k: rows[k].iloc[0] for k in group}
        seeds = tuple(int(s) for s in rows[SEED]) if SEED in rows.columns else (-1,)
        order = np.argsort(seeds, kind="stable")
        row["seeds"] = tuple(seeds[i] for i in order)
        row["n_seeds"] = len(set(seeds))
        for column in first:
            if column in rows.columns:
                row[column] = rows[column].iloc[0]
        for column, how in (counts or {}).items():
            if column in rows.columns:
                row[column] = int(getattr(rows[column].astype(int), how)())
        for column in [*statistics, *metrics]:
            if column not in rows.columns:
                continue
            summary = spread(rows[column])
            row[column] = summary["mean"]
            if column in statistics and samples is not None:
                reps = [samples[i][column] for i in rows.index[order] if i in samples and column in samples[i]]
                if len(reps) == len(rows):
                    row[f"{column}_ci"], row[f"{column}_combined_ci"] = seed_intervals(
                        np.vstack(reps), level, bootstrap_seed=bootstrap_seed
                    )
                else:
                    row[f"{column}_ci"] = row[f"{column}_combined_ci"] = (np.nan, np.nan)
            for name in ("sd", "min", "max"):
                row[f"{column}_{name}"] = summary[name]
        out.append(row)
    return pd.DataFrame(out)
