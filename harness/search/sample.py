"""The sample-and-pick baseline (NASWOT, Mellor et al. 2021, Algorithm 1): score N random cells, keep the best.

With several proxies the pick is by ensemble: each proxy ranks the N cells (its own direction; ties share
the average rank; a cell without a score ranks last), and the cell with the largest rank sum wins.
A pool aggregate (``harness.aggregates``: ``az_nas``, ``te_nas``, ``vkdnw_single``, ``vkdnw_agg``, a plugin's)
is usable as a proxy: its components are scored on the N cells and the aggregate is computed over those N
cells, the pool the paper ranks.
Degenerate cells are kept in the pool, as NASWOT kept them: a proxy that prefers them pays for it.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from harness.aggregates import get_aggregate, is_aggregate
from harness.data import validate_modes
from harness.errors import HarnessError
from harness.proxies import get_proxy
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
            if not is_aggregate(name):
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


def pick_best(cells: list[int], scores: dict[str, list[float | None]], higher: dict[str, bool]) -> int:
    """Position in ``cells`` of the winner: the best score for one proxy, the largest rank sum for several."""
    total = np.zeros(len(cells))
    for name, values in scores.items():
        sign = 1.0 if higher[name] else -1.0
        oriented = np.array([-np.inf if v is None else sign * v for v in values], dtype=float)
        total += rankdata(oriented, method="average")
    if not any(v is not None for values in scores.values() for v in values):
        raise HarnessError("no sampled cell got a score; see the proxies' statuses with `nasi-harness score`")
    return int(np.argmax(total))  # first of equal totals: cells are in sampling order, so this is seeded


def run_sample(
    config: SampleConfig,
    space: str,
    dataset: str,
    seed: int,
    device: str,
    data: str | os.PathLike | None = None,
) -> SampleOutcome:
    sp = get_space(space)
    if config.n > len(sp):
        raise ValueError(f"sample size n={config.n} exceeds the {len(sp)} cells of {space}")
    cells = random.Random(seed).sample(range(len(sp)), config.n)
    position = {cell: i for i, cell in enumerate(cells)}
    scored = list(dict.fromkeys(c for name in config.proxies for c in _components(name)))
    raw: dict[str, list[float | None]] = {name: [None] * len(cells) for name in scored}
    records = score_cells(
        space, cells, scored, dataset=dataset, data_mode=config.data_mode,
        label_mode=config.label_mode, batch_size=config.batch_size, seed=seed, device=device, data=data,
    )  # fmt: skip
    for record in records:
        raw[record.proxy][position[record.index]] = record.score
    scores = {name: _pool_scores(name, raw) for name in config.proxies}
    higher = {
        name: get_aggregate(name).higher_is_better if is_aggregate(name) else get_proxy(name).higher_is_better
        for name in config.proxies
    }
    best = pick_best(cells, scores, higher)
    n_scored = sum(any(scores[name][i] is not None for name in scores) for i in range(len(cells)))
    return SampleOutcome(cells[best], {name: scores[name][best] for name in scores}, n_scored)


def _components(name: str) -> tuple[str, ...]:
    return get_aggregate(name).components if is_aggregate(name) else (name,)


def _pool_scores(name: str, raw: dict[str, list[float | None]]) -> list[float | None]:
    """A proxy's own scores, or an aggregate over the sampled cells (None where no component scored the cell)."""
    if not is_aggregate(name):
        return raw[name]
    aggregate = get_aggregate(name)
    table = pd.DataFrame({c: [np.nan if v is None else v for v in raw[c]] for c in aggregate.components}, dtype=float)
    in_pool = table.notna().any(axis=1)
    values = aggregate.compute(table[in_pool], lambda proxy: get_proxy(proxy).higher_is_better)
    return [float(values[i]) if in_pool[i] else None for i in range(len(table))]
