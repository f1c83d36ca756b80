"""Pool aggregates: proxies whose score only exists relative to a set of cells (a *pool*), computed from the
stored scores of their component proxies, never by re-scoring.

AZ-NAS, TE-NAS and VKDNW rank every candidate on each component and combine the ranks; a cell's value moves
when the pool changes. Their names (``az_nas``, ``te_nas``, ``vkdnw_single``, ``vkdnw_agg``) mean the papers'
scores, so they live here and not in the per-cell proxy registry. User rank ensembles (``NAME=a+b+c``) and
plugin files (``register_aggregate``) add more. Why a module of its own, outside ``harness.proxies`` and
``harness.analysis``: the analyses (which must not import torch) and sample-and-pick search (which sits
below the analyses) both compute aggregates; this module needs only numpy and pandas.

Ranking and the rule for missing and non-finite components are :mod:`harness.ranking`'s, one rule for every
aggregate (``MISSING_RULE``): a component without a usable score for a cell ranks below every scored cell of the
pool, tied with the other missing ones; a cell with no usable component score at all is not in the pool. The
papers' combinations (AZ-NAS's log(rank / N) sum, TE-NAS's rank sum, VKDNW's dense lexicographic rank and
un-normalised log ranks) are named options there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.ranking import (  # MISSING_RULE and oriented_rank re-exported: this module's callers used them here
    MISSING_RULE,  # noqa: F401
    combine_ranks,
    dense_lexicographic_rank,
    log_rank_sum,
    oriented_rank,  # noqa: F401
    require_columns,
)

Direction = Callable[[str], bool]  # proxy name -> higher_is_better


# --- the papers' aggregates --------------------------------------------------------------------------------------

AZ_NAS_COMPONENTS = ("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "az_nas_complexity")
TE_NAS_COMPONENTS = ("ntk_cond", "te_nas_linear_regions")
VKDNW_SINGLE_COMPONENTS = ("vkdnw_dim", "vkdnw_entropy")
VKDNW_AGG_OTHERS = ("az_nas_expressivity", "az_nas_trainability", "flops", "jacov")


def az_nas_pool(table: pd.DataFrame) -> pd.Series:
    """AZ-NAS (Lee & Ham 2024): sum over the four components of log(rank / N), every component higher-better;
    <= 0, 0 for a cell best on all four. Complexity is the FLOPs, ranked higher-better as AZ-NAS ranks candidates
    that already meet a budget."""
    return log_rank_sum(table, dict.fromkeys(AZ_NAS_COMPONENTS, True)).rename("az_nas")


def te_nas_pool(
    table: pd.DataFrame, kappa: str = TE_NAS_COMPONENTS[0], regions: str = TE_NAS_COMPONENTS[1]
) -> pd.Series:
    """TE-NAS (Chen et al. 2021): rank(-kappa) + rank(R), kappa = NTK condition number (lower better), R = linear
    regions (higher better); average ranks as the AZ-NAS port ranks TE-NAS."""
    require_columns(table, (kappa, regions), "te_nas")
    return combine_ranks(table, {kappa: False, regions: True}, "rank_sum").rename("te_nas")


def vkdnw_single_pool(table: pd.DataFrame) -> pd.Series:
    """VKDNW_single (Tybl & Neumann 2025): the dense rank of (number of parameter tensors, VKDNW entropy) compared
    lexicographically, as ``NB201/tss_utils.py get_scores`` ranks it (``rank(method='dense')`` of the tuples)."""
    return dense_lexicographic_rank(table, VKDNW_SINGLE_COMPONENTS).rename("vkdnw_single")


def vkdnw_agg_pool(table: pd.DataFrame) -> pd.Series:
    """VKDNW_agg: log(VKDNW_single rank) + log ranks of AZ-NAS expressivity and trainability, FLOPs and jacov (all
    higher-better), the reference's ``vkdnw_comb_rank`` (``get_scores``: un-normalised log ranks)."""
    require_columns(table, (*VKDNW_SINGLE_COMPONENTS, *VKDNW_AGG_OTHERS), "vkdnw_agg")
    single = np.log(dense_lexicographic_rank(table, VKDNW_SINGLE_COMPONENTS))
    rest = log_rank_sum(table, dict.fromkeys(VKDNW_AGG_OTHERS, True), normalise=False)
    return (single + rest).astype(float).rename("vkdnw_agg")


# --- the papers' rankings on a pivoted frame, with their column names as arguments --------------------------------
# (They lived beside the proxies, harness.proxies.{te_nas,az_nas,vkdnw}; the per-cell proxies take no pandas.)

VKDNW_RANK_OTHERS = ("az_nas_expressivity", "az_nas_trainability", "az_nas_complexity", "jacov")


def te_nas_rank_combine(
    frame: pd.DataFrame, ntk_column: str = TE_NAS_COMPONENTS[0], regions_column: str = TE_NAS_COMPONENTS[1]
) -> pd.Series:
    """The TE-NAS score of every cell of a candidate set: rank(-kappa) + rank(R), higher is better.

    ``frame``: one row per cell (its index is kept), with the two component scores in ``ntk_column``
    (kappa, lower is better) and ``regions_column`` (R, higher is better), e.g. the score records pivoted
    with ``frame.pivot(index='index', columns='proxy', values='score')``. Ranks run 1 (worst) .. N (best),
    ties take their average rank (``scipy.stats.rankdata``, as the AZ-NAS port ranks TE-NAS), and a missing
    component (NaN: e.g. a singular NTK) ranks below every scored cell. TENAS's pruning code ranks the same
    way with 0-based dense ranks, which gives the same order when there are no ties. Returns a float
    Series named ``te_nas_rank``.
    """
    require_columns(frame, (ntk_column, regions_column), "te_nas_rank_combine")
    return te_nas_pool(frame, ntk_column, regions_column).rename("te_nas_rank")


def az_nas_rank_aggregate(frame: pd.DataFrame, columns: Sequence[str] = AZ_NAS_COMPONENTS) -> pd.Series:
    """The AZ-NAS score of every cell of a candidate set: sum over ``columns`` of log(rank / N).

    ``frame``: one row per cell (index kept) with the component scores, by default the four
    ``az_nas_*`` proxies (pivot the records: ``frame.pivot(index='index', columns='proxy', values='score')``).
    Every component is higher-is-better; ranks run 1 (worst) .. N (best) with ties at their average rank
    (``scipy.stats.rankdata`` as in the reference notebook), and a missing component (NaN, e.g. an identity
    block's undefined trainability) ranks below every scored cell, as -inf does in the reference. The result
    is <= 0, 0 for a cell best on every component. Returns a float Series named ``az_nas_rank``.
    """
    columns = list(columns)
    if not columns:
        raise ValueError("az_nas_rank_aggregate needs at least one component column")
    require_columns(frame, columns, "az_nas_rank_aggregate")
    return log_rank_sum(frame, dict.fromkeys(columns, True)).rename("az_nas_rank")


def vkdnw_rank_single(
    frame: pd.DataFrame, dim_column: str = VKDNW_SINGLE_COMPONENTS[0], entropy_column: str = VKDNW_SINGLE_COMPONENTS[1]
) -> pd.Series:
    """The reference's VKDNW ranking of a set of cells: dense rank (1 = worst) of the pairs (P, VKDNW),
    compared lexicographically; higher is better. A missing value ranks below every scored cell.

    ``frame``: one row per cell (index kept) with the ``vkdnw_dim`` and ``vkdnw_entropy`` scores (pivot the
    records: ``frame.pivot(index='index', columns='proxy', values='score')``). The reference then takes the
    log of this rank to aggregate it with other proxies. Returns a float Series named ``vkdnw_rank``.
    """
    require_columns(frame, (dim_column, entropy_column), "vkdnw_rank_single")
    return dense_lexicographic_rank(frame, (dim_column, entropy_column)).rename("vkdnw_rank")


def vkdnw_rank_aggregate(
    frame: pd.DataFrame,
    dim_column: str = VKDNW_SINGLE_COMPONENTS[0],
    entropy_column: str = VKDNW_SINGLE_COMPONENTS[1],
    others: tuple[str, ...] = VKDNW_RANK_OTHERS,
) -> pd.Series:
    """VKDNW_agg over a set of cells: log(vkdnw_rank_single) + sum over ``others`` of log(rank), higher is better.

    As the reference's ``vkdnw_comb_rank`` (``NB201/tss_utils.py``, ``get_scores``): the VKDNW dense rank and
    the average ranks (1 = worst; all higher-is-better) of AZ-NAS's expressivity and trainability, the
    FLOPs and jacov, each through its log, summed. A missing value ranks below every scored cell. ``frame``
    holds one row per cell with all these proxies' scores. Returns a float Series named ``vkdnw_agg_rank``.
    """
    require_columns(frame, (dim_column, entropy_column, *others), "vkdnw_rank_aggregate")
    total = np.log(vkdnw_rank_single(frame, dim_column, entropy_column))
    total = total + log_rank_sum(frame, dict.fromkeys(others, True), normalise=False)
    return total.astype(float).rename("vkdnw_agg_rank")


# --- the registry --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aggregate:
    """A score defined over a pool of cells. ``pool(table, direction)`` maps a cells x components table (NaN where
    a component is missing) to one value per cell; ``direction`` gives a component proxy's higher_is_better."""

    name: str
    components: tuple[str, ...]
    pool: Callable[[pd.DataFrame, Direction], pd.Series]
    description: str
    paper: str = ""
    version: int = 1
    higher_is_better: bool = True
    builtin: bool = field(default=False, compare=False)

    def compute(self, table: pd.DataFrame, direction: Direction | None = None) -> pd.Series:
        """The aggregate of every cell of ``table`` (its rows are the pool), named ``self.name``."""
        require_columns(table, self.components, self.name)
        values = self.pool(table[list(self.components)], direction or _up)
        return pd.Series(values, index=table.index, dtype=float).rename(self.name)


def _up(_: str) -> bool:
    return True


_REGISTRY: dict[str, Aggregate] = {}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def register_aggregate(aggregate: Aggregate, *, replace: bool = False) -> Aggregate:
    """Add ``aggregate`` (a plugin file may call this); a name already taken is refused unless ``replace``."""
    if not _NAME.match(aggregate.name):
        raise ValueError(f"aggregate name {aggregate.name!r}: letters, digits, '.', '_', '-' only")
    if not aggregate.components:
        raise ValueError(f"aggregate {aggregate.name!r} needs at least one component proxy")
    if aggregate.name in aggregate.components:
        raise ValueError(f"aggregate {aggregate.name!r} cannot be its own component")
    if aggregate.name in _REGISTRY and not replace and _REGISTRY[aggregate.name] != aggregate:
        raise ValueError(f"aggregate {aggregate.name!r} is already registered")
    _REGISTRY[aggregate.name] = aggregate
    return aggregate


def unregister_aggregate(name: str) -> None:
    """Remove a user aggregate (tests, plugins rolled back); the built-ins stay."""
    if name in _REGISTRY and not _REGISTRY[name].builtin:
        del _REGISTRY[name]


def get_aggregate(name: str) -> Aggregate:
    if name not in _REGISTRY:
        raise ValueError(f"unknown aggregate {name!r}; registered: {', '.join(aggregate_names())}")
    return _REGISTRY[name]


def is_aggregate(name: str) -> bool:
    return name in _REGISTRY


def aggregate_names(builtin_only: bool = False) -> list[str]:
    return [n for n, a in _REGISTRY.items() if a.builtin or not builtin_only]


def rank_ensemble(name: str, members: Sequence[str], *, paper: str = "") -> Aggregate:
    """A user rank ensemble: sum over ``members`` of log(rank / N), each member oriented by its own direction (the
    AZ-NAS aggregation); unregistered until ``register_aggregate``."""
    members = tuple(dict.fromkeys(m.strip() for m in members if m.strip()))
    if len(members) < 2:
        raise ValueError(f"rank ensemble {name!r} needs at least two proxies, got {', '.join(members) or 'none'}")

    def pool(table: pd.DataFrame, direction: Direction) -> pd.Series:
        return combine_ranks(table, {m: bool(direction(m)) for m in members}, "log_rank_sum")

    return Aggregate(
        name, members, pool, f"rank ensemble: sum of log(rank / N) over {', '.join(members)}", paper=paper or "user"
    )


def parse_aggregate(spec: str) -> Aggregate:
    """``NAME=a+b+c`` (or ``NAME=a,b,c``) -> a rank ensemble named NAME; ``ensemble:a+b+c`` -> one named
    ``ensemble(a+b+c)``; a registered name -> that aggregate. Not registered: see ``use_aggregates``."""
    text = spec.strip()
    if "=" in text:
        name, _, members = text.partition("=")
        name = name.strip()
        if not _NAME.match(name):
            raise ValueError(f"aggregate name {name!r}: letters, digits, '.', '_', '-' only")
        ensemble = rank_ensemble(name, re.split(r"[+,]", members))
        if name in ensemble.components:
            raise ValueError(f"aggregate {name!r} cannot be its own component")
        return ensemble
    if text.startswith("ensemble:"):
        members = [m.strip() for m in re.split(r"[+,]", text[len("ensemble:") :]) if m.strip()]
        return rank_ensemble(f"ensemble({'+'.join(members)})", members)
    return get_aggregate(text)


def _builtin(
    name: str, components: tuple[str, ...], fn: Callable[[pd.DataFrame], pd.Series], paper: str, text: str
) -> None:
    register_aggregate(
        Aggregate(name, components, lambda table, _direction: fn(table), text, paper=paper, builtin=True)
    )


_builtin("az_nas", AZ_NAS_COMPONENTS, az_nas_pool, "Lee & Ham, CVPR 2024",
         "AZ-NAS: sum of log(rank / N) of expressivity, progressivity, trainability, complexity (FLOPs)")  # fmt: skip
_builtin("te_nas", TE_NAS_COMPONENTS, te_nas_pool, "Chen et al., ICLR 2021",
         "TE-NAS: rank of the NTK condition number (lower better) + rank of the linear regions")  # fmt: skip
_builtin("vkdnw_single", VKDNW_SINGLE_COMPONENTS, vkdnw_single_pool, "Tybl & Neumann, CVPR 2025",
         "VKDNW_single: dense rank of (parameter tensors, VKDNW entropy), lexicographic")  # fmt: skip
_builtin("vkdnw_agg", (*VKDNW_SINGLE_COMPONENTS, *VKDNW_AGG_OTHERS), vkdnw_agg_pool, "Tybl & Neumann, CVPR 2025",
         "VKDNW_agg: log VKDNW_single rank + log ranks of AZ-NAS expressivity, trainability, FLOPs, jacov")  # fmt: skip
