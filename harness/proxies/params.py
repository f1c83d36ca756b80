"""params: the parameter count in millions, in the benchmark's convention (a cost baseline)."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import PaperProtocol

# Paper protocol: the benchmark's own figure (NATS-Bench API cost info); no batch or initialisation enters.
PAPER_PROTOCOL = PaperProtocol(source="NATS-Bench API cost info (D-X-Y/NATS-Bench get_cost_info)")


@register_proxy(
    "params",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="eval",
    mutates_net=False,
    prunable=False,
    splittable=True,
    description="parameter count in millions (the benchmark's get_cost_info convention)",
    paper="Dong & Yang, ICLR 2020 (NAS-Bench-201's cost convention)",
    protocol=PAPER_PROTOCOL,
)
def params(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ``ctx.cost.params_m``: every trainable tensor (BN affine included) in millions, as the benchmark's
    ``get_cost_info`` reports it and NAS-Bench-Suite-Zero stored it. Without a cost (a network from outside a
    search space) the same convention is counted on ``net``: Σ numel of the parameters with ``requires_grad``."""
    if ctx.cost is not None:
        return float(ctx.cost.params_m)
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6
