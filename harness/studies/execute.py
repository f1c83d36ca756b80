"""Scoring one shard: the work every backend does, wherever it runs (this process or a Ray worker).

Results come back as ``Outcome`` events: records (with the provenance of the process that computed them) or a
note that the shard's data is missing. Only the driver turns outcomes into database rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.errors import DataMissing
from harness.store.provenance import Provenance, current
from harness.studies.units import Shard

if TYPE_CHECKING:
    from harness.scoring.engine import StartFn


@dataclass
class Outcome:
    shard: Shard
    records: list = field(default_factory=list)  # harness.scoring.ScoreRecord
    provenance: Provenance | None = None
    missing: str | None = None  # the DataMissing message when the shard's data is absent


def iter_shard(
    shard: Shard, data: str | os.PathLike | None = None, started: StartFn | None = None
) -> Iterator[Outcome]:
    """Score ``shard`` and yield one outcome per record as soon as it exists (or one ``missing`` outcome).
    ``started`` is the engine's ``started`` callback (a unit-timeout watcher, ``process_backend``).

    The process's intra-op thread count is fixed to the shard's first: CPU scores depend on it (a reduction split
    over more threads adds in another order), so a study's rows agree however it is spread over processes."""
    import torch

    from harness.scoring import score_cells

    torch.set_num_threads(shard.threads)
    records = score_cells(
        shard.space, shard.cells, shard.proxies, dataset=shard.dataset, data_mode=shard.data_mode,
        label_mode=shard.label_mode, batch_size=shard.batch_size, seed=shard.seed, device=shard.device, data_dir=data,
        skip=shard.skip if shard.done else None, share_isomorphic=shard.share_isomorphic,
        stack=shard.stack, protocol=shard.protocol, started=started,
    )  # fmt: skip
    here = current()
    try:
        first = next(records)
    except StopIteration:
        return
    except DataMissing as exc:  # raised before any work: the batch needs files that are absent
        yield Outcome(shard, missing=str(exc).splitlines()[0])
        return
    yield Outcome(shard, [first], here)
    for record in records:
        yield Outcome(shard, [record], here)


def score_shard(shard: Shard, data: str | os.PathLike | None = None) -> Outcome:
    """The whole shard as one outcome (for workers that return results at the end), with the provenance
    ``iter_shard`` took once it had fixed the thread count."""
    result = Outcome(shard)
    for outcome in iter_shard(shard, data):
        if outcome.missing is not None:
            return outcome
        result.records.extend(outcome.records)
        result.provenance = outcome.provenance
    if result.provenance is None:
        result.provenance = current()
    return result
