"""grad_norm: sum of per-layer gradient norms (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021), as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._grad import weight_gradients
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS, table_one_protocol

# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, one batch of
# 64 N(0, 1) inputs with uniformly random labels (``torch.randint``), BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "gradnorm",
    data="gaussian",
    labels="random",
    deviations="the Table 1 code's score is the global norm sqrt(sum over all parameters, BN included, of ||g||^2); "
    "this proxy keeps Abdelfattah et al.'s sum over conv/linear layers of ||g_W|| (the protocol sets how it is "
    "applied, not its formula)",
    notes=f"Abdelfattah et al.'s own code feeds real images with their labels at default init: {ZERO_COST_NAS}",
)


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
    protocol=PAPER_PROTOCOL,
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
