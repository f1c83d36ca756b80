"""Shared plumbing for the loss-gradient proxies (nasi, grad_norm, snip, grasp, fisher, plain): which layers
count, whether a micro-batch split is exact, and the gradient of the whole-batch mean cross-entropy.

NASLib's pruning measures (``naslib/predictors/utils/pruners``) score the weights of every ``nn.Conv2d`` and
``nn.Linear``; biases and BatchNorm affine parameters do not count there. ``weight_layers`` keeps that rule
(any convolution dimension) so the baselines compute what NAS-Bench-Suite-Zero published.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

WEIGHT_LAYERS = (_ConvNd, nn.Linear)


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """Every convolution and linear layer in registration order (NASLib's ``get_layer_metric_array``)."""
    layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise ValueError("the network has no nn.Conv*/nn.Linear layer whose weights this proxy scores")
    return layers


def couples_samples(net: nn.Module) -> bool:
    """True when a module mixes samples of a batch: BatchNorm using batch statistics (train mode, or no
    running statistics). Then the output of one sample depends on the others and a split is not exact."""
    return any(isinstance(m, _BatchNorm) and (m.training or not m.track_running_stats) for m in net.modules())


def sample_slices(batch: int, micro_batch: int | None) -> list[slice]:
    """Consecutive slices of at most ``micro_batch`` samples covering ``batch`` (one slice when None)."""
    if micro_batch is None or micro_batch >= batch:
        return [slice(0, batch)]
    if micro_batch < 1:
        raise ValueError(f"micro-batch must be >= 1, got {micro_batch}")
    return [slice(s, min(s + micro_batch, batch)) for s in range(0, batch, micro_batch)]


def check_split(net: nn.Module, batch: int, micro_batch: int | None, proxy: str) -> list[slice]:
    """The slices to process, refusing a split that would silently change the score."""
    slices = sample_slices(batch, micro_batch)
    if len(slices) > 1 and couples_samples(net):
        raise ValueError(
            f"{proxy}: a micro-batch of {micro_batch} < batch {batch} is not exact with batch-statistics "
            "BatchNorm (train mode): the samples are coupled"
        )
    return slices


def require_logits(logits: torch.Tensor) -> torch.Tensor:
    if logits.dim() != 2:
        raise ValueError(f"expected logits of shape [batch, classes], got {tuple(logits.shape)}")
    return logits


def mean_ce_gradients(
    net: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    params: Sequence[torch.Tensor],
    micro_batch: int | None = None,
    proxy: str = "proxy",
) -> list[torch.Tensor]:
    """Gradient of the mean cross-entropy over the whole batch w.r.t. ``params`` (zeros where unused).

    With ``micro_batch`` each slice contributes ``sum CE / B``, so the accumulated gradient equals the whole-batch
    one exactly when no module couples samples (``check_split`` refuses the other case).
    """
    batch = inputs.shape[0]
    if batch < 1:
        raise ValueError("empty batch")
    grads: list[torch.Tensor | None] = [None] * len(params)
    for part in check_split(net, batch, micro_batch, proxy):
        logits = require_logits(net(inputs[part]))
        loss = F.cross_entropy(logits, targets[part], reduction="sum") / batch
        chunk = torch.autograd.grad(loss, list(params), allow_unused=True)
        for j, g in enumerate(chunk):
            if g is not None:
                grads[j] = g if grads[j] is None else grads[j] + g
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def sum_squares(tensors: Sequence[torch.Tensor]) -> float:
    """Σ ||t||² over the tensors in float64, with one fused norm kernel for all of them."""
    if not tensors:
        return 0.0
    norms = torch._foreach_norm(list(tensors))
    return float(torch.stack(norms).double().square().sum())
