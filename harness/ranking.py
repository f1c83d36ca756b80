"""Ranking a set of cells: the one place where scores become ranks and ranks are combined.

Every rank aggregation of the harness goes through this module: the papers' pool aggregates (``az_nas``,
``te_nas``, ``vkdnw_single``, ``vkdnw_agg`` in :mod:`harness.aggregates`), user rank ensembles (``--aggregate
NAME=a+b``, ``ensemble:a+b``, ``compare --ensemble a,b``, a study's ``aggregates``, ``search sample``'s
``NAME=a+b`` proxy), the analyses' ``rank_ensemble`` and ``search sample``'s pick among several proxies.

Ranks: 1 = the worst cell of the set, N = the best, each component oriented by its own direction (``higher_is_better``);
ties share their average rank (``scipy.stats.rankdata``'s default, as the reference notebooks).

The rule for missing and non-finite components, one for every combination (``MISSING_RULE``): a component without
a usable score for a cell (NaN, None, +-inf, a failed status, or no row for that cell) ranks below every scored
cell of the set, tied with the other missing ones (the references score such cells -inf, which ranks there too).
The cell stays in the set and N counts it; the caller decides which cells form the set (the analyses: every cell
of a setting with at least one usable component score; ``search sample``: the N sampled cells).

Combinations (the ``combine`` option of :func:`combine_ranks`):

- ``log_rank_sum`` (the default; AZ-NAS, Lee & Ham 2024): sum over components of log(rank / N), <= 0, 0 for a cell
  best on every component. Every user ensemble and ``az_nas``.
- ``log_rank`` (VKDNW's ``get_scores``): sum of log(rank), un-normalised (``vkdnw_agg``).
- ``rank_sum`` (TE-NAS, Chen et al. 2021: rank(-kappa) + rank(R); and ``search sample``'s pick among several
  comma-listed proxies, which its committed runs used): sum of the ranks.
- ``dense_lexicographic`` (VKDNW_single, Tybl & Neumann 2025): the dense rank of the component tuples compared
  lexicographically; a tuple with a missing element ranks below every complete one (all such tuples tie).

The papers' rules are named options here, so none of their committed numbers moved when the ensembles were unified.
Imports only numpy and pandas (the analyses must not import torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# Printed under every analysis that shows a pool aggregate (committed reports hold this exact text); "missing"
# covers failed and non-finite scores, as the module docstring says.
MISSING_RULE = (
    "ranks 1 = worst .. N = best per component (ties: average rank); a component missing or failed for a pool cell "
    "ranks below every scored cell (tied with the other missing ones); a cell without any component score is not "
    "in the pool"
)
COMBINATIONS = ("log_rank_sum", "log_rank", "rank_sum", "dense_lexicographic")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """``ValueError`` unless ``frame`` is a DataFrame holding every column of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} needs a pandas DataFrame (one row per cell), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(pivot the score records first: frame.pivot(index='index', columns='proxy', values='score'))"
        )


def oriented_rank(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Average ranks 1..N with N for the best value; a missing or non-finite value ranks lowest (tied)."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.any():
        raise ValueError(f"column {values.name!r} holds non-numeric values, e.g. {values[bad].iloc[0]!r}")
    oriented = numeric.astype(float) if higher_is_better else -numeric.astype(float)
    oriented = oriented.where(np.isfinite(oriented), np.nan)  # inf scores are failures, as the store reads them
    return oriented.fillna(-np.inf).rank(method="average", ascending=True)


def log_rank_sum(table: pd.DataFrame, directions: Mapping[str, bool], *, normalise: bool = True) -> pd.Series:
    """sum over ``directions``' columns of log(rank / N) (``normalise``) or log(rank): AZ-NAS's aggregation."""
    require_columns(table, list(directions), "log_rank_sum")
    scale = float(len(table)) if normalise else 1.0
    total = pd.Series(0.0, index=table.index)
    for column, up in directions.items():
        total = total + np.log(oriented_rank(table[column], higher_is_better=up) / scale)
    return total.astype(float)


def rank_sum(table: pd.DataFrame, directions: Mapping[str, bool]) -> pd.Series:
    """sum over ``directions``' columns of the oriented rank (TE-NAS's combination; ``search sample``'s pick)."""
    require_columns(table, list(directions), "rank_sum")
    total = pd.Series(0.0, index=table.index)
    for column, up in directions.items():
        total = total + oriented_rank(table[column], higher_is_better=up)
    return total.astype(float)


def dense_lexicographic_rank(table: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Dense rank (1 = worst) of the tuples of ``columns`` compared lexicographically, higher better; a tuple with
    a missing element ranks below every complete one (all such tuples tie)."""
    require_columns(table, columns, "dense_lexicographic_rank")
    keys = table[list(columns)].apply(pd.to_numeric, errors="raise").astype(float)
    keys = keys.where(np.isfinite(keys), np.nan)
    keys[keys.isna().any(axis=1)] = -math.inf
    order = keys.drop_duplicates().sort_values(list(columns)).reset_index(drop=True)
    position = {tuple(row): i + 1 for i, row in enumerate(order.itertuples(index=False))}
    return pd.Series([float(position[tuple(row)]) for row in keys.itertuples(index=False)], index=table.index)


def combine_ranks(table: pd.DataFrame, directions: Mapping[str, bool], combine: str = "log_rank_sum") -> pd.Series:
    """One value per row of ``table`` (the set of cells) from the columns of ``directions`` (column ->
    higher_is_better), higher = better, by ``combine`` (one of ``COMBINATIONS``) under the module's missing rule.
    ``dense_lexicographic`` compares the columns in ``directions``' order, each higher-better."""
    if not directions:
        raise ValueError("a rank combination needs at least one component")
    if combine == "log_rank_sum":
        return log_rank_sum(table, directions)
    if combine == "log_rank":
        return log_rank_sum(table, directions, normalise=False)
    if combine == "rank_sum":
        return rank_sum(table, directions)
    if combine == "dense_lexicographic":
        if not all(directions.values()):
            raise ValueError("dense_lexicographic ranks higher-better components only")
        return dense_lexicographic_rank(table, list(directions))
    raise ValueError(f"unknown rank combination {combine!r}; one of {', '.join(COMBINATIONS)}")
