"""The sample-and-pick baseline (NASWOT, Mellor et al. 2021, Algorithm 1): score N random cells, keep the best.

With several proxies the pick is by ensemble: each proxy ranks the N cells (its own direction; ties share
the average rank; a cell without a usable score ranks last: :mod:`harness.ranking`'s one rule), and the cell with
the largest rank sum wins (``harness.ranking``'s ``rank_sum``, the rule the committed sample runs used).
A pool aggregate (``harness.aggregates``: ``az_nas``, ``te_nas``, ``vkdnw_single``, ``vkdnw_agg``, a plugin's)
or a rank ensemble spelled as for the analyses' ``--aggregate`` (``NAME=a+b``, ``ensemble:a+b``: sum of
log(rank / N)) is usable as a proxy: its components are scored on the N cells and the aggregate is computed over
those N cells, the pool the paper ranks, with the same values ``correlate``, ``compare`` and ``report`` give it
on a pool of those cells.
Degenerate cells are kept in the pool, as NASWOT kept them: a proxy that prefers them pays for it.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harness.aggregates import Aggregate, get_aggregate, is_aggregate, parse_aggregate
from harness.data import validate_modes
from harness.errors import HarnessError
from harness.proxies import get_proxy
from harness.ranking import combine_ranks
from harness.scoring import score_cells
from harness.spaces import get_space


@dataclass(frozen=True)
class SampleConfig:
    n: int = 100
    proxies: tuple[str, ...] = ()
    batch_size: int = 64
    data_mode: str = "real"
    label_mode: str = "true"

    def __post_init__(self) -> None:
        if isinstance(self.proxies, str):
            object.__setattr__(self, "proxies", tuple(p.strip() for p in self.proxies.split(",") if p.strip()))
        else:
            object.__setattr__(self, "proxies", tuple(self.proxies))
        if not self.proxies:
            raise ValueError("sample needs at least one proxy (proxies='nwot' or a comma list for an ensemble)")
        if len(set(self.proxies)) != len(self.proxies):
            raise ValueError(f"duplicate proxy in {', '.join(self.proxies)}")
        for name in self.proxies:
            if aggregate_of(name) is None:
                get_proxy(name)
        if self.n < 1:
            raise ValueError(f"sample size n must be >= 1, got {self.n}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        validate_modes(self.data_mode, self.label_mode)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["proxies"] = list(self.proxies)
        return d


@dataclass
class SampleOutcome:
    index: int
    scores: dict[str, float | None]  # the winner's score per proxy
    n_scored: int  # cells with at least one score


def aggregate_of(name: str) -> Aggregate | None:
    """The pool aggregate ``name`` stands for: a registered one, or a rank ensemble spec (``NAME=a+b``,
    ``ensemble:a+b``) as the analyses' ``--aggregate`` reads it; None for a per-cell proxy."""
    if is_aggregate(name):
        return get_aggregate(name)
    if "=" in name or name.startswith("ensemble:"):
        return parse_aggregate(name)
    return None


def pick_best(cells: list[int], scores: dict[str, list[float | None]], higher: dict[str, bool]) -> int:
    """Position in ``cells`` of the winner: the best score for one proxy, the largest rank sum for several
    (``harness.ranking``: ties at their average rank, a missing or non-finite score ranked last)."""
    if not any(v is not None for values in scores.values() for v in values):
        raise HarnessError("no sampled cell got a score; see the proxies' statuses with `nasi-harness score`")
    table = pd.DataFrame({n: [np.nan if v is None else v for v in values] for n, values in scores.items()}, dtype=float)
    total = combine_ranks(table, {name: bool(higher[name]) for name in scores}, "rank_sum")
    return int(np.argmax(total.to_numpy()))  # first of equal totals: cells are in sampling order, so this is seeded


def sample_scores(
    config: SampleConfig,
    space: str,
    dataset: str,
    seed: int,
    device: str,
    data: str | os.PathLike | None = None,
) -> tuple[list[int], dict[str, list[float | None]]]:
    """The N sampled cells (in sampling order) and each of ``config.proxies``' values on them (an aggregate's over
    the N cells; None where a cell has none): what :func:`run_sample` picks from."""
    sp = get_space(space)
    if config.n > len(sp):
        raise ValueError(f"sample size n={config.n} exceeds the {len(sp)} cells of {space}")
    cells = random.Random(seed).sample(range(len(sp)), config.n)
    position = {cell: i for i, cell in enumerate(cells)}
    scored = list(dict.fromkeys(c for name in config.proxies for c in _components(name)))
    raw: dict[str, list[float | None]] = {name: [None] * len(cells) for name in scored}
    records = score_cells(
        space, cells, scored, dataset=dataset, data_mode=config.data_mode,
        label_mode=config.label_mode, batch_size=config.batch_size, seed=seed, device=device, data_dir=data,
    )  # fmt: skip
    for record in records:
        raw[record.proxy][position[record.index]] = record.score
    return cells, {name: _pool_scores(name, raw) for name in config.proxies}


def run_sample(
    config: SampleConfig,
    space: str,
    dataset: str,
    seed: int,
    device: str,
    data: str | os.PathLike | None = None,
) -> SampleOutcome:
    cells, scores = sample_scores(config, space, dataset, seed, device, data)
    higher = {name: _higher(name) for name in config.proxies}
    best = pick_best(cells, scores, higher)
    n_scored = sum(any(scores[name][i] is not None for name in scores) for i in range(len(cells)))
    return SampleOutcome(cells[best], {name: scores[name][best] for name in scores}, n_scored)


def _higher(name: str) -> bool:
    aggregate = aggregate_of(name)
    return aggregate.higher_is_better if aggregate is not None else get_proxy(name).higher_is_better


def _components(name: str) -> tuple[str, ...]:
    aggregate = aggregate_of(name)
    return aggregate.components if aggregate is not None else (name,)


def _pool_scores(name: str, raw: dict[str, list[float | None]]) -> list[float | None]:
    """A proxy's own scores, or an aggregate over the sampled cells (None where no component scored the cell)."""
    aggregate = aggregate_of(name)
    if aggregate is None:
        return raw[name]
    table = pd.DataFrame({c: [np.nan if v is None else v for v in raw[c]] for c in aggregate.components}, dtype=float)
    in_pool = np.isfinite(table).any(axis=1)  # as the analyses' pool: a cell with a usable component score
    values = aggregate.compute(table[in_pool], lambda proxy: get_proxy(proxy).higher_is_better)
    return [float(values[i]) if in_pool[i] else None for i in range(len(table))]
