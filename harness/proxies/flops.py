"""flops: forward FLOPs in millions for one image, in the benchmark's convention (a cost baseline)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import AZ_NAS_DRIVER, PaperProtocol
from harness.spaces.cost import hook_cost

# Paper protocol: VKDNW's Table 1 row FLOPs is the benchmark's own figure (NATS-Bench API, as AZ-NAS's notebook
# reads the complexity); no batch or initialisation enters, so both protocols give the same number.
PAPER_PROTOCOL = PaperProtocol(source=f"NATS-Bench API cost info; {AZ_NAS_DRIVER}")


@register_proxy(
    "flops",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="eval",
    mutates_net=False,
    prunable=False,
    splittable=True,
    description="forward FLOPs (multiply-accumulates of conv/linear layers) in millions for one image",
    paper="Dong & Yang, ICLR 2020 (NAS-Bench-201's cost convention)",
    protocol=PAPER_PROTOCOL,
)
def flops(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ``ctx.cost.flops_m``: the benchmark's ``get_cost_info`` FLOPs (conv k·k·Cin·Cout per output position
    and linear in·out + out, for one image; pooling, BN, ReLU and additions free), which is what
    NAS-Bench-Suite-Zero stored. Without a cost (a network from outside a search space) the same rules are
    applied with forward hooks on one zero image of the batch's shape (3-channel square inputs only)."""
    if ctx.cost is not None:
        return float(ctx.cost.flops_m)
    shape = tuple(inputs.shape[1:])
    if len(shape) != 3 or shape[0] != 3 or shape[1] != shape[2]:
        raise ValueError(f"flops without a benchmark cost needs 3 x R x R inputs, got a sample shape of {shape}")
    on_cpu = net if inputs.device.type == "cpu" else copy.deepcopy(net).cpu()  # hook_cost feeds a CPU image
    return hook_cost(on_cpu, shape[1])[1]
