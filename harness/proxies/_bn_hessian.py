"""Train-mode BatchNorm whose second derivative is cheap, for Hessian-vector products (grasp's H g).

PyTorch's double backward of batch norm (``batchnorm_double_backward``) is a generic composite: it always computes
the γ term, materialises x - μ and several full-size temporaries, about 30 passes over the activation per layer; on
an NB201 network it was a large share of grasp's H g on a CPU, several times the closed form below
(docs/performance.md, grasp). Here the forward and the first backward are PyTorch's own kernels
(``native_batch_norm`` and ``native_batch_norm_backward``, so forward values and first-order gradients are
bit-identical to ``F.batch_norm``), and only the backward of the backward is written out: the derivatives of
⟨u, ∂L/∂x⟩ w.r.t. the incoming gradient and the input, from five per-channel sums and two fused passes. BN's γ and β are
constants here (no gradient reaches them), which is what the weight-only Hessian of grasp needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from harness.proxies._torch_function import replacing


def _channel_view(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | float:
    """A per-channel vector shaped to broadcast against ``like`` (N, C, ...), or 1.0 for an absent γ."""
    if t is None:
        return 1.0
    return t.reshape((1, -1) + (1,) * (like.dim() - 2))


class _BatchNormGrad(torch.autograd.Function):
    """∂L/∂x of train-mode BN given ∂L/∂y (PyTorch's kernel), with a closed-form backward (the double backward)."""

    @staticmethod
    def forward(ctx, grad_out, x, weight, mean, invstd, eps):  # noqa: ANN001, ANN205 - autograd.Function
        ctx.save_for_backward(grad_out, x, weight, mean, invstd)
        mask = [True, False, False]
        return torch.ops.aten.native_batch_norm_backward(grad_out, x, weight, None, None, mean, invstd, True, eps,
                                                         mask)[0]  # fmt: skip

    @staticmethod
    @once_differentiable
    def backward(ctx, u):  # noqa: ANN001, ANN205 - autograd.Function
        """With x̂ = (x - μ)s, gx = γs(gy - mean(gy) - x̂ mean(gy x̂)) and f = ⟨u, gx⟩: ∂f/∂gy = γs(u - mean(u) -
        x̂ mean(u x̂)); ∂f/∂x = γs²(-c gy - b u + k x̂ + c a + b v) with a, b, v, c, d the channel means of gy,
        gy x̂, u, u x̂, u gy and k = 3bc - d + av (x̂ is never materialised: its means come from sums with x)."""
        gy, x, weight, mean, invstd = ctx.saved_tensors
        dims = [0, *range(2, x.dim())]
        count = x.numel() // x.shape[1]
        s, mu, gamma = _channel_view(invstd, x), _channel_view(mean, x), _channel_view(weight, x)

        def channel_mean(t: torch.Tensor) -> torch.Tensor:
            return t.sum(dims, keepdim=True) / count

        a, v = channel_mean(gy), channel_mean(u)
        b = s * (channel_mean(gy * x) - mu * a)  # mean(gy x̂)
        c = s * (channel_mean(u * x) - mu * v)  # mean(u x̂)
        d = channel_mean(u * gy)
        gs = gamma * s
        # ∂f/∂gy = gs u - gs s c x + gs (s c μ - v)
        k_x = gs * s * c
        grad_gy = (u * gs).addcmul_(x, k_x, value=-1).add_(k_x * mu - gs * v)
        # ∂f/∂x = gs s (-c gy - b u + k s x + (c a + b v - k s μ))
        gss = gs * s
        k = 3 * b * c - d + a * v
        grad_x = (gy * (-c * gss)).addcmul_(u, -b * gss).addcmul_(x, k * s * gss)
        grad_x.add_(gss * (c * a + b * v - k * s * mu))
        return grad_gy, grad_x, None, None, None, None


class _BatchNormTrain(torch.autograd.Function):
    """Train-mode BN (batch statistics; running statistics updated as ``F.batch_norm`` does) with γ, β constant."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):  # noqa: ANN001, ANN205
        out, mean, invstd = torch.native_batch_norm(x, weight, bias, running_mean, running_var, True, momentum, eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205 - autograd.Function
        x, weight, mean, invstd = ctx.saved_tensors
        return _BatchNormGrad.apply(grad_out, x, weight, mean, invstd, ctx.eps), None, None, None, None, None, None


def _train_batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training=False,  # noqa: A002, ANN001, ANN202
                      momentum=0.1, eps=1e-5):  # fmt: skip
    """``F.batch_norm``'s signature; batch statistics (``training``) go through ``_BatchNormTrain``."""
    if not training or input.dim() < 2 or input.numel() <= input.shape[1]:  # F.batch_norm validates those
        return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    weight = None if weight is None else weight.detach()
    bias = None if bias is None else bias.detach()
    return _BatchNormTrain.apply(input, weight, bias, running_mean, running_var, momentum, eps)


# For ``harness.proxies._torch_function.replacing``: what ``cheap_batch_norm_second_order`` swaps.
BATCH_NORM_SECOND_ORDER = {F.batch_norm: _train_batch_norm}


@contextmanager
def cheap_batch_norm_second_order() -> Iterator[None]:
    """Within: every ``F.batch_norm`` with batch statistics (``nn.BatchNorm*`` in train mode) builds a graph whose
    double backward is the closed form of ``_BatchNormGrad``; its γ and β get no gradient. Values and first-order
    gradients w.r.t. everything else are PyTorch's own, bit for bit."""
    with replacing(BATCH_NORM_SECOND_ORDER):
        yield
