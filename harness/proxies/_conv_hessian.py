"""Convolutions whose double backward reuses the forward, for grasp's Hessian-weight product H W.

grasp's score Σ -W ⊙ (H g) equals Σ -g ⊙ (H W) (H is symmetric), so the second backward may take the weights W as the
direction instead of g. For a convolution y = conv(x, W) whose first backward gave gx = convᵀ(gy, W) and gW =
wgrad(x, gy), the second backward of f = ⟨ggx, gx⟩ + ⟨ggW, gW⟩ is

    ∂f/∂gy = conv(ggx, W) + conv(x, ggW),   ∂f/∂W = wgrad(ggx, gy),   ∂f/∂x = convᵀ(gy, ggW),

four convolution-sized operations. With ggW = W two of them are results already at hand: conv(x, W) is the forward
output y and convᵀ(gy, W) is the first backward's gx. PyTorch's own double backward (``_convolution_double_backward``)
cannot know that ggW is W and computes all four. Here the forward is ``F.conv2d`` and the first backward is
``convolution_backward`` (values and ∂L/∂W bit-identical to PyTorch's), and the double backward takes the shortcut when
the incoming ggW equals W exactly (``torch.equal``: a few thousand weights per layer), else computes the four
products. y and gx are reused only while no in-place operation has changed them (their version counters).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from harness.proxies._torch_function import replacing

_CONV_ARGS = ("stride", "padding", "dilation", "groups")
_CONV_DEFAULTS = (1, 0, 1, 1)


def _pair(value: int | tuple[int, ...] | list[int]) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


def _backward(gy, x, w, conf, mask):  # noqa: ANN001, ANN202 - aten's convolution_backward with conv2d's settings
    stride, padding, dilation, groups = conf
    return torch.ops.aten.convolution_backward(gy, x, w, None, stride, padding, dilation, False, [0, 0], groups, mask)


def _kept(t: torch.Tensor | None, version: int) -> torch.Tensor | None:
    """``t`` if no in-place operation has touched it since it was recorded (else None: recompute)."""
    return t if t is not None and t._version == version else None


class _ConvGrad(torch.autograd.Function):
    """(gx, gW) of ``conv2d`` given gy (PyTorch's kernel), with a double backward that reuses y and gx when ggW = W."""

    @staticmethod
    def forward(ctx, gy, x, w, y, y_version, conf, need_x):  # noqa: ANN001, ANN205 - autograd.Function
        gx, gw, _ = _backward(gy, x, w, conf, [need_x, True, False])
        ctx.save_for_backward(gy, x, w)
        ctx.conf, ctx.y, ctx.y_version = conf, y, y_version
        ctx.gx = None if gx is None else gx.detach()
        ctx.gx_version = None if gx is None else gx._version
        ctx.set_materialize_grads(False)
        return gx, gw

    @staticmethod
    @once_differentiable
    def backward(ctx, ggx, ggw):  # noqa: ANN001, ANN205 - autograd.Function
        gy, x, w = ctx.saved_tensors
        conf = ctx.conf
        need_gy, need_x, need_w = ctx.needs_input_grad[:3]
        d_gy = d_x = d_w = None
        if ggx is not None:
            if need_gy:
                d_gy = F.conv2d(ggx, w, None, *conf)
            if need_w:
                d_w = _backward(gy, ggx, w, conf, [False, True, False])[1]
        if ggw is not None:
            weights = torch.equal(ggw, w)
            if need_gy:
                y = _kept(ctx.y, ctx.y_version) if weights else None
                y = F.conv2d(x, ggw, None, *conf) if y is None else y
                d_gy = y if d_gy is None else d_gy + y
            if need_x:
                gx = _kept(ctx.gx, ctx.gx_version) if weights else None
                d_x = _backward(gy, x, ggw, conf, [True, False, False])[0] if gx is None else gx
        return d_gy, d_x, d_w, None, None, None, None


class _Conv(torch.autograd.Function):
    """``F.conv2d`` without bias, whose backward is ``_ConvGrad`` (so the graph of the backward knows y)."""

    @staticmethod
    def forward(ctx, x, w, conf):  # noqa: ANN001, ANN205 - autograd.Function
        y = F.conv2d(x, w, None, *conf)
        ctx.save_for_backward(x, w)
        # detached (no reference cycle through the output's grad_fn), with the version it has now
        ctx.conf, ctx.y, ctx.y_version = conf, y.detach(), y._version
        return y

    @staticmethod
    def backward(ctx, gy):  # noqa: ANN001, ANN205 - autograd.Function
        x, w = ctx.saved_tensors
        gx, gw = _ConvGrad.apply(gy, x, w, ctx.y, ctx.y_version, ctx.conf, ctx.needs_input_grad[0])
        return gx, gw, None


def _conv2d(input, weight, bias=None, *args, **kwargs):  # noqa: A002, ANN001, ANN002, ANN003, ANN202
    """``F.conv2d``'s signature; a 2-D convolution without bias whose weight needs a gradient goes through ``_Conv``."""
    values = [
        args[i] if i < len(args) else kwargs.get(n, d) for i, (n, d) in enumerate(zip(_CONV_ARGS, _CONV_DEFAULTS))
    ]
    stride, padding, dilation, groups = values
    if bias is not None or isinstance(padding, str) or weight.dim() != 4 or not weight.requires_grad:
        return F.conv2d(input, weight, bias, *args, **kwargs)
    return _Conv.apply(input, weight, (_pair(stride), _pair(padding), _pair(dilation), int(groups)))


# For ``harness.proxies._torch_function.replacing``: what ``cheap_conv_second_order`` swaps.
CONV_SECOND_ORDER = {F.conv2d: _conv2d}


@contextmanager
def cheap_conv_second_order() -> Iterator[None]:
    """Within: every bias-free ``F.conv2d`` (``nn.Conv2d(bias=False)``) whose weight needs a gradient builds a graph
    whose double backward reuses the forward output and the first backward's input gradient when the direction on
    ∂L/∂W is W itself (H W). Forward values and first-order gradients are PyTorch's own kernels."""
    with replacing(CONV_SECOND_ORDER):
        yield
