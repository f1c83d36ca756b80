"""fisher: channel-wise Fisher information (Theis et al. 2018, "Faster gaze prediction with dense networks and
Fisher pruning"; Turner et al. 2020) summed over the network, as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from harness.proxies._grad import check_split, cross_entropy_pass, require_logits, weight_layers
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS_PROTOCOL

# Paper protocol: Abdelfattah et al.'s zero-cost code for NAS-Bench-201 (harness.proxies.protocol).
PAPER_PROTOCOL = ZERO_COST_NAS_PROTOCOL


@register_proxy(
    "fisher",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Σ over conv/linear output channels of ½·mean_n(Σ_spatial a·∂L/∂a)², times the layer fan-in",
    paper="Turner et al., ICLR 2020",
    protocol=PAPER_PROTOCOL,
)
def fisher(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ_layers fan_in · Σ_k ½ · mean_n (Σ_{h,w} a_nkhw · ∂L/∂a_nkhw)².

    a = the output of every Conv/Linear layer (before BN), ∂L/∂a its gradient; L = cross-entropy, mean over the
    batch; n runs over samples, k over output channels. NASLib (``measures/fisher.py``) computes the per-channel
    value and then broadcasts it to every weight of that channel before summing, which multiplies it by the
    layer's fan-in ``prod(weight.shape[1:])``; we keep that factor so the numbers are NASLib's. BN in train
    mode; default init. A layer called twice in one forward counts each call (NASLib fails there). Prunable: a
    dead edge's output has zero gradient. Not splittable with train-mode BN; with ``ctx.micro_batch`` and no
    batch statistics each slice's loss is ``sum CE / B``, which keeps ∂L/∂a per sample and so is exact.
    """
    layers = weight_layers(net)
    batch = inputs.shape[0]
    slices = check_split(net, batch, ctx.micro_batch, "fisher")
    if len(slices) == 1:  # the cell's shared mean-CE pass (same loss, same hooks)
        sq_sums = cross_entropy_pass(net, inputs, targets, ctx, fisher=True).fisher
        assert sq_sums is not None
        return _total(layers, sq_sums, batch)
    sq_sums = {}  # layer position -> Σ_n g_nk² per channel k

    def on_forward(position: int):
        def hook(_module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            if not out.requires_grad:
                return
            act = out.detach()

            def on_grad(grad: torch.Tensor) -> None:
                prod = act * grad
                g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
                value = g_nk.double().square().sum(0)
                sq_sums[position] = value if position not in sq_sums else sq_sums[position] + value

            out.register_hook(on_grad)

        return hook

    handles = [layer.register_forward_hook(on_forward(i)) for i, layer in enumerate(layers)]
    try:
        for part in slices:
            logits = require_logits(net(inputs[part]))
            loss = F.cross_entropy(logits, targets[part], reduction="sum") / batch
            # the tensor hooks read ∂L/∂a on the way; autograd.grad leaves the parameters' .grad untouched
            torch.autograd.grad(loss, [layer.weight for layer in layers], allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    return _total(layers, sq_sums, batch)


def _total(layers: list[nn.Module], sq_sums: dict[int, torch.Tensor], batch: int) -> float:
    total = 0.0
    for position, value in sq_sums.items():
        fan_in = math.prod(layers[position].weight.shape[1:])
        total += fan_in * float(value.sum()) * 0.5 / batch
    return total
