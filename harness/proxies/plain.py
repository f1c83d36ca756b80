"""plain: the signed first-order saliency Σ W ⊙ ∂L/∂W (Mozer & Smolensky 1989; the ``plain`` baseline of
Abdelfattah et al., ICLR 2021), as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._grad import weight_gradients
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS_PROTOCOL

# Paper protocol: Abdelfattah et al.'s zero-cost code for NAS-Bench-201 (harness.proxies.protocol).
PAPER_PROTOCOL = ZERO_COST_NAS_PROTOCOL


@register_proxy(
    "plain",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Σ W ⊙ ∂L/∂W over conv/linear weights, signed (mean CE, train-mode BN)",
    paper="Abdelfattah et al., ICLR 2021",
    protocol=PAPER_PROTOCOL,
)
def plain(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ W ⊙ ∂L/∂W over the weights of every Conv/Linear layer — signed, no absolute value.

    L = cross-entropy, mean over the batch; BN in train mode; default init; biases and BN parameters do not
    count. Follows NASLib ``naslib/predictors/utils/pruners/measures/plain.py``. Prunable; not splittable with
    train-mode BN.
    """
    weights, grads = weight_gradients(net, inputs, targets, ctx, "plain")
    with torch.no_grad():
        return float(sum((w * g).sum(dtype=torch.float64) for w, g in zip(weights, grads)))
