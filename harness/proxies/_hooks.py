"""Shared plumbing for the activation / Jacobian proxies: scoped forward hooks, the input Jacobian, the
feature map before global pooling, and device-independent random draws.

The engine reuses one network for several proxies, so every hook registered here is removed when the
``with`` block ends, even on error (the reference implementations leave theirs on a throw-away copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

HookFn = Callable[[nn.Module, tuple, object], None]


@contextmanager
def forward_hooks(modules: Iterable[nn.Module], hook: HookFn) -> Iterator[None]:
    """Register ``hook`` as a forward hook on every module for the duration of the block."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def relu_modules(net: nn.Module) -> list[nn.Module]:
    """Every ``nn.ReLU`` module of ``net`` in registration order (functional ReLUs are invisible)."""
    return [m for m in net.modules() if isinstance(m, nn.ReLU)]


def require_relus(net: nn.Module, proxy: str) -> list[nn.Module]:
    relus = relu_modules(net)
    if not relus:
        raise ValueError(f"{proxy} reads nn.ReLU activations, but the network has no nn.ReLU module")
    return relus


def input_jacobian(net: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Gradient of the summed logits w.r.t. each input sample, flattened to ``[B, C*H*W]``, and the number
    of logits. This is ``y.backward(ones_like(y)); x.grad`` of Mellor et al. / NASLib: with train-mode BN the
    rows include the coupling through the batch statistics. The engine's batch tensor is not touched.
    A network whose logits ignore the input has J = 0 (the proxies then score NaN: status ``nan``)."""
    x = inputs.detach().clone().requires_grad_(True)
    net.zero_grad(set_to_none=True)
    logits = net(x)
    if logits.dim() != 2:
        raise ValueError(f"expected logits of shape [batch, classes], got {tuple(logits.shape)}")
    (grad,) = torch.autograd.grad(logits.sum(), x, allow_unused=True)
    if grad is None:  # the logits ignore the input (a cell with no path from input to output): J = 0
        grad = torch.zeros_like(x)
    return grad.detach().reshape(grad.shape[0], -1), logits.shape[1]


def pre_gap_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The feature map that global average pooling reduces: ``net.forward_features`` when the network has it,
    else the input of its single ``nn.AdaptiveAvgPool2d`` (what NASLib's ``forward_before_global_avg_pool``
    reads)."""
    if callable(getattr(net, "forward_features", None)):
        return net.forward_features(x)
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if len(pools) != 1:
        raise ValueError(
            f"cannot find the feature map before global pooling: the network has no forward_features() and "
            f"{len(pools)} nn.AdaptiveAvgPool2d modules (expected exactly 1)"
        )
    captured: list[torch.Tensor] = []
    with forward_hooks(pools, lambda _m, inp, _out: captured.append(inp[0])):
        net(x)
    return captured[0]


def cpu_generator(seed: int) -> torch.Generator:
    """A CPU generator: random draws are made on the CPU and then moved, so CPU and GPU runs agree."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


def randn_like_on(shape: torch.Size | tuple[int, ...], like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Standard normal draws of ``shape`` from ``gen`` (CPU), on ``like``'s device and dtype."""
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32).to(device=like.device, dtype=like.dtype)
