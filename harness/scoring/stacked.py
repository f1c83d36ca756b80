"""Scoring K cells per computation with a proxy's stacked form (``harness.spaces.stacked``).

Each cell's weights are drawn after ``torch.manual_seed(seed)`` exactly as the per-cell engine builds them, so a
stacked score is the per-cell score up to float rounding (grouped convolutions round differently). An
out-of-memory error splits the stack in halves, down to one cell, before giving up with a status.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from harness.proxies.base import StackedFn
from harness.scoring.device import is_out_of_memory, measure
from harness.scoring.records import NAN, OK, error_status
from harness.spaces.stacked import StackedNetworks, draw_weights


@dataclass
class StackResult:
    scores: list[float | None]
    statuses: list[str]
    seconds: float  # for the whole stack; each cell is charged seconds / len
    peak_mem_mb: float | None


def score_stack(
    space,  # noqa: ANN001 - a harness.spaces space with genotype() and channels_layout
    indices: Sequence[int],
    fn: StackedFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    num_classes: int,
    seed: int,
) -> list[StackResult]:
    """Scores of ``indices`` with the stacked ``fn``; one result per stack actually run (several after OOM)."""
    genotypes = [space.genotype(i) for i in indices]
    weights = []
    for genotype in genotypes:
        torch.manual_seed(seed)  # as the per-cell engine does before building each network
        weights.append(draw_weights(genotype, space.channels_layout, num_classes))
    return _run(genotypes, weights, space.channels_layout, fn, inputs, targets)


def _run(genotypes, weights, channels, fn, inputs, targets) -> list[StackResult]:  # noqa: ANN001
    dev = inputs.device
    try:
        with measure(dev) as m:
            nets = StackedNetworks(genotypes, channels, weights, dev)
            values = fn(nets, inputs, targets).tolist()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a status
        if is_out_of_memory(exc) and len(genotypes) > 1:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            half = len(genotypes) // 2
            return _run(genotypes[:half], weights[:half], channels, fn, inputs, targets) + _run(
                genotypes[half:], weights[half:], channels, fn, inputs, targets
            )
        status = "error: out of memory (stack of 1 cell)" if is_out_of_memory(exc) else error_status(exc)
        return [StackResult([None] * len(genotypes), [status] * len(genotypes), 0.0, None)]
    scores = [v if math.isfinite(v) else None for v in values]
    statuses = [OK if v is not None else NAN for v in scores]
    return [StackResult(scores, statuses, m.seconds, m.peak_mem_mb)]
