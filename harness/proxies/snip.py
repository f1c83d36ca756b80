"""snip: connection sensitivity (Lee et al., "SNIP: Single-shot Network Pruning", ICLR 2019) summed over the
network, as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._grad import weight_gradients
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS, table_one_protocol

# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, one batch of
# 64 training images with their labels, BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "snip",
    data="real",
    labels="true",
    notes=f"Abdelfattah et al.'s zero-cost code uses PyTorch's default init: {ZERO_COST_NAS}",
)


@register_proxy(
    "snip",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Σ |W ⊙ ∂L/∂W| over conv/linear weights (mean CE, train-mode BN)",
    paper="Lee et al., ICLR 2019",
    protocol=PAPER_PROTOCOL,
)
def snip(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ |W ⊙ ∂L/∂W| over the weights of every Conv/Linear layer.

    NASLib multiplies each weight by a mask of ones and takes |∂L/∂mask|; since ∂L/∂mask = W ⊙ ∂L/∂W at mask = 1,
    this computes the same number without patching forwards. L = cross-entropy, mean over the batch; BN in train
    mode; default init; biases and BN parameters do not count. Follows NASLib
    ``naslib/predictors/utils/pruners/measures/snip.py``. Prunable; not splittable with train-mode BN.
    """
    weights, grads = weight_gradients(net, inputs, targets, ctx, "snip")
    with torch.no_grad():
        return float(sum((w * g).abs().sum(dtype=torch.float64) for w, g in zip(weights, grads)))
