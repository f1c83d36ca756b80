"""grad_norm: sum of per-layer gradient norms (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021), as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._grad import weight_gradients
from harness.proxies.base import ProxyContext, register_proxy


@register_proxy(
    "grad_norm",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Σ over conv/linear layers of ||∂L/∂W||₂ (mean CE, train-mode BN)",
    paper="Abdelfattah et al., ICLR 2021",
)
def grad_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ_layers ||∂L/∂W_layer||₂ (unsquared Frobenius norm per layer, then summed).

    L = cross-entropy mean-reduced over the batch; W = the ``weight`` of every Conv/Linear layer (no biases, no
    BN parameters). BN in train mode, default init. Follows NASLib
    ``naslib/predictors/utils/pruners/measures/grad_norm.py`` (= SamsungLabs/zero-cost-nas ``grad_norm.py``).
    Prunable (gradients only). Not splittable with train-mode BN; ``ctx.micro_batch`` is exact otherwise.
    """
    weights, grads = weight_gradients(net, inputs, targets, ctx, "grad_norm")
    return float(torch.stack(torch._foreach_norm(grads)).double().sum())
