"""swap: SWAP-score, the number of distinct sample-wise activation patterns (Peng et al., ICLR 2024,
"SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS").

Every ReLU unit maps the batch to an on/off pattern over the samples; a network with more distinct
patterns is more expressive on that batch.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._hooks import forward_hooks, require_relus
from harness.proxies.base import ProxyContext, register_proxy

WORD_BITS = 62  # samples packed per int64 word (stays clear of the sign bit)


def pack_patterns(active: torch.Tensor) -> torch.Tensor:
    """Pack ``[B, N]`` booleans (sample x unit) into ``[N, ceil(B / 62)]`` int64 words, one row per unit:
    equal rows <=> equal patterns. Keeps memory at 8 bytes per unit per 62 samples."""
    batch = active.shape[0]
    words = []
    for start in range(0, batch, WORD_BITS):
        chunk = active[start : start + WORD_BITS].to(torch.int64)
        weights = torch.pow(2, torch.arange(chunk.shape[0], device=chunk.device, dtype=torch.int64))
        words.append((chunk * weights[:, None]).sum(dim=0))
    return torch.stack(words, dim=1)


def count_unique_rows(packed: torch.Tensor) -> int:
    if packed.shape[1] == 1:
        return int(torch.unique(packed[:, 0]).numel())
    return int(torch.unique(packed, dim=0).shape[0])


@register_proxy(
    "swap",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="SWAP: number of distinct on/off patterns over the batch among all ReLU units (unregularised)",
    paper="Peng et al., ICLR 2024",
)
def swap(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = |{ (sign(relu_u(x_1)), ..., sign(relu_u(x_B))) : u a ReLU unit }|, the set size over all units.

    Measured: one forward pass without gradients of the whole batch, BN in train mode; the output of every
    ``nn.ReLU`` whose input is 4-D (feature maps; each channel x position is a unit) is binarised (> 0) and
    all units of all such ReLUs are pooled, as the official ``pym1024/SWAP src/metrics/swap.py``
    (``torch.unique`` over the transposed sample x unit sign matrix). Differences, stated: this is the
    unregularised SWAP-score (the paper's parameter-count regulariser exp(-(params - mu)^2 / sigma) needs
    space-specific mu, sigma and is not applied); the network keeps the engine's initialisation, computed
    once (the official correlation script re-draws a Gaussian init 32 times and averages); the whole batch
    is used (the official script uses 16 samples - with many more samples almost every unit has its own
    pattern and the score approaches the unit count). Not prunable (ReLUs in dead branches count); not
    splittable (patterns span the batch and train-mode BN couples the samples).
    """
    relus = require_relus(net, "swap")
    batch = inputs.shape[0]
    packed: list[torch.Tensor] = []

    def hook(_module: nn.Module, inp: tuple, out: object) -> None:
        if isinstance(inp, tuple) and inp and inp[0].dim() == 4 and isinstance(out, torch.Tensor):
            packed.append(pack_patterns(out.detach().reshape(batch, -1) > 0))

    with torch.no_grad(), forward_hooks(relus, hook):
        net(inputs)
    if not packed:
        raise ValueError("swap found no nn.ReLU applied to a 4-D feature map")
    return float(count_unique_rows(torch.cat(packed, dim=0)))
