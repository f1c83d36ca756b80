"""TE-NAS's number of linear regions: distinct ReLU activation patterns over a batch of inputs.

TENAS (``lib/procedures/linear_region_counter.py``, ``LinearRegionCount``) hooks every ``nn.ReLU`` whose
input is 4-D, records ``sign(output)`` (1 where the unit is active, else 0) for every unit of every such
ReLU, concatenates them into one binary code per sample and counts the distinct codes: two inputs lie in
the same linear region of the network exactly when all their ReLUs agree. TENAS computes this with a
half-precision Hamming-distance matrix; here each ReLU's pattern is bit-packed into 64-bit words and
refines a B x B "identical so far" relation by exact word comparisons, so memory stays at one layer's
activations and the count is exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BIT_WEIGHTS = tuple(1 << i for i in range(8))
MAX_COMPARISONS = 1 << 24  # words compared at once when refining (bounds the temporary boolean tensor)


def pack_rows(active: torch.Tensor) -> torch.Tensor:
    """B x n booleans -> B x ceil(n / 64) int64 words holding the same bits (zero-padded)."""
    batch, units = active.shape
    padded = F.pad(active.to(torch.uint8), (0, (-units) % 64))
    weights = torch.tensor(BIT_WEIGHTS, dtype=torch.uint8, device=active.device)
    packed = (padded.reshape(batch, -1, 8) * weights).sum(dim=2).to(torch.uint8)
    return packed.view(torch.int64)


def refine(same: torch.Tensor, active: torch.Tensor) -> None:
    """``same &= (rows of active are identical)`` for a B x n boolean pattern matrix."""
    words = pack_rows(active)
    batch, width = words.shape
    step = max(1, MAX_COMPARISONS // max(1, batch * width))
    for start in range(0, batch, step):
        block = words[start : start + step]
        same[start : start + step] &= (block[:, None, :] == words[None, :, :]).all(dim=2)


def count_classes(same: torch.Tensor) -> int:
    """Number of equivalence classes of a B x B equivalence relation: rows with no equal earlier row."""
    earlier = torch.tril(same, diagonal=-1)
    return int((~earlier.any(dim=1)).sum())


@torch.no_grad()
def linear_regions(net: nn.Module, inputs: torch.Tensor) -> float:
    """Distinct activation patterns of ``net``'s ReLUs (4-D inputs) over the samples of ``inputs``.

    One forward pass in the network's current mode; the hooks are removed afterwards. ``ValueError`` when
    no ``nn.ReLU`` module sees a 4-D input (functional ReLUs are invisible, as in TENAS).
    """
    batch = inputs.shape[0]
    same = torch.ones(batch, batch, dtype=torch.bool, device=inputs.device)
    seen = [0]

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            refine(same, (output.detach() > 0).reshape(batch, -1))
            seen[0] += 1

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        net(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if seen[0] == 0:
        raise ValueError("linear regions need nn.ReLU modules on 4-D activations; the network has none")
    return float(count_classes(same))
