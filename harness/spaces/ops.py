"""The candidate operations and blocks of NAS-Bench-201 / NATS-Bench, as the benchmarks trained them.

Layer for layer the same modules (and so the same parameter count, FLOPs and default initialisation
order) as the benchmarks' own networks: ReLU-Conv-BN convolutions without bias, average pooling that
excludes padding, a residual reduction block with an average-pool + 1x1-conv shortcut.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.spaces.cell import OP_NAMES as OP_NAMES  # re-exported: defined beside the arch-string parser
from harness.spaces.recycle import pooled


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def on_zero_input(self, like: torch.Tensor) -> torch.Tensor:
        """This op applied to an all-zero input of ``like``'s shape, without running ReLU and convolution.

        ReLU(0) = 0 and a bias-free convolution of zeros is exactly zero, so BN receives the tensor it would have
        received, values and layout; the convolution's weight gradient was exactly zero and is now absent (as for
        a pruned edge). BN still runs: in train mode it maps zeros to its bias, whose gradient is not zero.
        """
        conv = self[1]
        height, width = (
            (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
            for size, pad, dil, k, stride in zip(
                like.shape[2:], conv.padding, conv.dilation, conv.kernel_size, conv.stride
            )
        )
        return self[2](zeros_of_shape(like, (like.shape[0], conv.out_channels, height, width)))


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the output shape (kept so the graph matches the benchmark)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.c_in, self.c_out = c_in, c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.c_in == self.c_out:
            return x.mul(0.0)
        return zeros_in_layout(x, self.c_out)


def zeros_in_layout(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zeros of ``x``'s shape with ``channels`` channels, in ``x``'s memory layout: an NCHW zero node in a
    channels-last network made every convolution after it copy its input to channels-last (forward and backward)."""
    return zeros_of_shape(x, (*x.shape[:1], channels, *x.shape[2:]))


def zeros_of_shape(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros of ``shape`` with ``like``'s dtype, device and (channels-last or not) memory layout."""
    if like.dim() == 4 and not like.is_contiguous() and like.is_contiguous(memory_format=torch.channels_last):
        return torch.empty(shape, dtype=like.dtype, device=like.device, memory_format=torch.channels_last).zero_()
    return like.new_zeros(shape)


class AvgPool(nn.Module):
    """3x3 average pooling; a 1x1 ReLU-Conv-BN first when the channel count changes."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.preprocess = None if c_in == c_out else ReLUConvBN(c_in, c_out, 1, 1, 0)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.preprocess is None else self.preprocess(x))


class ChannelProjection(nn.Module):
    """``skip_connect`` between different widths (the benchmarks' stride-1 FactorizedReduce): 1x1 conv + BN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def make_op(name: str, c_in: int, c_out: int) -> nn.Module:
    """A stride-1 cell operation ``name`` from ``c_in`` to ``c_out`` channels (pooled: see ``recycle``)."""
    return pooled(("op", name, c_in, c_out), lambda: _new_op(name, c_in, c_out))


def _new_op(name: str, c_in: int, c_out: int) -> nn.Module:
    if name == "none":
        return Zero(c_in, c_out)
    if name == "skip_connect":
        return nn.Identity() if c_in == c_out else ChannelProjection(c_in, c_out)
    if name == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, 1, 1)
    if name == "avg_pool_3x3":
        return AvgPool(c_in, c_out)
    raise ValueError(f"unknown operation {name!r}; expected one of {', '.join(OP_NAMES)}")


class ResidualReduction(nn.Module):
    """The stride-2 residual block between stages (ResNet basic block, avg-pool + 1x1 conv shortcut)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False),
        )
        self.out_channels = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))
