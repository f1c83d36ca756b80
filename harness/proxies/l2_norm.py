"""l2_norm: the size of the initial weights (the ``l2_norm`` baseline of NAS-Bench-Suite-Zero)."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._grad import weight_layers
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS_PROTOCOL

# Paper protocol: Abdelfattah et al.'s zero-cost code for NAS-Bench-201 (harness.proxies.protocol).
PAPER_PROTOCOL = ZERO_COST_NAS_PROTOCOL


@register_proxy(
    "l2_norm",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=True,
    description="Σ over conv/linear layers of ||W||₂ at initialisation (no data)",
    paper="Krishnakumar et al., NeurIPS 2022 (NAS-Bench-Suite-Zero)",
    protocol=PAPER_PROTOCOL,
)
def l2_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ_layers ||W_layer||₂ (unsquared Frobenius norm of each Conv/Linear weight, summed).

    Nothing is differentiated and no data is read; biases and BN parameters do not count; default init. Follows
    NASLib ``naslib/predictors/utils/pruners/measures/l2_norm.py``. Not prunable: it reads the weights of every
    edge, including edges that cannot reach the output (NASLib's networks hold those modules too). With default
    init the value mostly counts parameters (E||W||² = fan_out/3 per layer for kaiming-uniform(a=√5)).
    """
    with torch.no_grad():
        norms = torch._foreach_norm([m.weight for m in weight_layers(net)])
        return float(torch.stack(norms).double().sum())
