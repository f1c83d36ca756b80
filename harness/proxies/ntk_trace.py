"""ntk_trace: the exact trace of the empirical NTK at initialisation — the quantity NASI's ``nasi`` estimates."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._ntk import (
    all_parameters,
    jacobian_row_grads,
    logit_cotangents,
    logit_jacobian_sq_norms,
    stacked_chunk,
)
from harness.proxies.base import ProxyContext, register_proxy, register_stacked
from harness.spaces.stacked import StackedNetworks


@register_proxy(
    "ntk_trace",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="exact NTK trace Σ_i Σ_k ||∂f_k(x_i)/∂θ||² over all parameters (batch function, train-mode BN)",
    paper="Shu et al., ICLR 2022 (the quantity NASI estimates)",
)
def ntk_trace(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ||Θ0||_tr = Σ_i Σ_k ||∂f_k(x_i; θ0)/∂θ||², the trace of the (B·K) x (B·K) empirical NTK.

    Differentiated: every logit k of every sample i (no loss, no labels, no reduction besides the sum of squares),
    w.r.t. all parameters with ``requires_grad`` (conv/linear weights and biases, BN γ and β) — the same set as
    ``nasi``. BN in train mode: the rows are those of the batch function, so they include the coupling through the
    batch statistics (see ``harness.proxies._ntk``). PyTorch default init as built by the engine. For a linear
    model f(x) = Wx the value is K·Σ_i ||x_i||² (plus B·K with a bias). Exact, with one backward per logit row:
    B·K backwards (640 at b = 64 on CIFAR-10), so it is a reference for ``nasi``, not a fast proxy. Prunable
    (gradients only). Not splittable with train-mode BN; ``ctx.micro_batch`` is exact without batch statistics.
    Reference: NASI (Shu et al., ICLR 2022), eq. 3-4; the trace definition of the NTK (Jacot et al. 2018).
    """
    norms = logit_jacobian_sq_norms(net, inputs, all_parameters, micro_batch=ctx.micro_batch)
    return float(norms.sum())


@register_stacked("ntk_trace")
def ntk_trace_stacked(nets: StackedNetworks, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``ntk_trace`` of each of K stacked networks, ``[K]`` float64: B·classes backwards serve all K at once.

    The cotangent selecting logit k of sample i in every network gives, w.r.t. network n's tensors, exactly
    ∂f_k(x_i)/∂θ of network n (the networks share no tensor), so one backward yields that row for all K; the
    squares are summed network by network.
    """
    logits = nets(inputs)  # [B, K, classes]
    batch, size, classes = logits.shape
    params = [t for t, _ in nets.parameter_groups()]
    cotangents = logit_cotangents(batch, classes, logits)[:, :, None, :].expand(-1, -1, size, -1)
    total = torch.zeros(size, dtype=torch.float64)
    for grads in jacobian_row_grads(logits, params, cotangents, stacked_chunk(logits.device, size)):
        total += nets.per_network_sq_norms(grads, rows=grads[0].shape[0])
    return total
