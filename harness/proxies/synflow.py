"""synflow: synaptic flow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
synaptic flow", NeurIPS 2020), as NAS-Bench-Suite-Zero computed and stored it (natural log)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from harness.proxies._grad import weight_layers
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS, table_one_protocol


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@contextmanager
def batchnorm_bypassed(net: nn.Module) -> Iterator[None]:
    """Make every BatchNorm an identity for the block (NASLib's ``copynet(bn=False)``), then restore it."""
    patched = [(m, m.__dict__.get("forward")) for m in net.modules() if isinstance(m, _BatchNorm)]
    for m, _ in patched:
        m.forward = _identity  # an instance attribute shadows the class method
    try:
        yield
    finally:
        for m, previous in patched:
            if previous is None:
                del m.forward
            else:
                m.forward = previous


def synflow_sum(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Σ |W ⊙ ∂R/∂W| over conv/linear weights, R = Σ f(1; |θ|) in float64 with BN bypassed. The network's own
    tensors are never modified: |θ| is passed to a functional call."""
    layers = weight_layers(net)
    weight_names = {id(m.weight): None for m in layers}
    params: dict[str, torch.Tensor] = {}
    scored: list[torch.Tensor] = []
    for name, p in net.named_parameters():
        params[name] = p.detach().double().abs().requires_grad_(True)
        if id(p) in weight_names:
            scored.append(params[name])
    buffers = {name: b.detach().double().abs() if b.is_floating_point() else b for name, b in net.named_buffers()}
    device = next(iter(params.values())).device if params else torch.device("cpu")
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    with batchnorm_bypassed(net):
        output = functional_call(net, (params, buffers), (ones,))
    grads = torch.autograd.grad(output.sum(), scored, allow_unused=True)
    with torch.no_grad():
        return float(sum((w * g).abs().sum() for w, g in zip(scored, grads) if g is not None))


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, BN removed,
# one all-ones input in float64 (the code draws a batch of 64 N(0, 1) inputs and keeps only its shape).
PAPER_PROTOCOL = table_one_protocol(
    "synflow",
    data="gaussian",
    notes=f"Abdelfattah et al.'s zero-cost code scores PyTorch's default init: {ZERO_COST_NAS}",
)


@register_proxy(
    "synflow",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="eval",
    mutates_net=False,
    prunable=True,
    splittable=True,
    description="log Σ |W ⊙ ∂R/∂W|, R = sum of logits of an all-ones input through |θ|, BN bypassed, float64",
    paper="Tanaka et al., NeurIPS 2020",
    protocol=PAPER_PROTOCOL,
)
def synflow(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ln Σ |W ⊙ ∂R/∂W| over the weights W of every Conv/Linear layer.

    R = Σ_k f_k(1; |θ|): every parameter and floating buffer replaced by its absolute value, the whole network in
    float64, one all-ones input of the batch's sample shape, and every BatchNorm bypassed (an identity: NASLib
    registers synflow with ``bn=False``). No data, no labels, no loss. Follows NASLib
    ``naslib/predictors/utils/pruners/measures/synflow.py``; the natural log is what NASLib's ``ZeroCost``
    predictor applies and what NAS-Bench-Suite-Zero stored (same ranking as the raw sum). A raw sum of exactly 0
    (no path from input to output, e.g. a degenerate cell) has log -inf, which the engine records as ``nan``.
    Modules are put in eval mode by the engine only so that dropout-like layers are deterministic; BN is
    bypassed either way. Prunable (gradients only); the batch size does not matter (splittable).
    """
    raw = synflow_sum(net, tuple(inputs.shape[1:]))
    return math.log(raw) if raw > 0 else float("-inf")
