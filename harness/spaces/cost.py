"""Parameters and FLOPs in the benchmarks' own convention, computed in closed form.

The benchmarks count parameters as every trainable tensor (BN affine included) and FLOPs with
forward hooks on Conv2d (k*k*Cin*Cout per output position) and Linear (in*out + out), for one image;
pooling, BN, ReLU and additions are free (checked against the official files: counting pools would
add exactly their k*k per output element to every published value).
Values are in millions. A closed form makes a whole-space table take seconds instead of building
15,625 networks; ``hook_cost`` re-derives the numbers from a built network and the tests check both agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harness.spaces.cell import Genotype


def _op_cost(op: str, c_in: int, c_out: int, hw: int) -> tuple[int, int]:
    """(params, flops) of one stride-1 cell edge at spatial size hw x hw."""
    area = hw * hw
    if op == "none":
        return 0, 0
    if op == "skip_connect":
        return (0, 0) if c_in == c_out else (c_in * c_out + 2 * c_out, area * c_in * c_out)
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
        k2 = 1 if op == "nor_conv_1x1" else 9
        return k2 * c_in * c_out + 2 * c_out, area * k2 * c_in * c_out
    if op == "avg_pool_3x3":
        params, flops = (0, 0) if c_in == c_out else (c_in * c_out + 2 * c_out, area * c_in * c_out)
        return params, flops  # pooling itself is free in the benchmarks' counter
    raise ValueError(f"unknown operation {op!r}")


def network_cost(genotype: Genotype, channels: Sequence[int], num_classes: int, resolution: int) -> tuple[float, float]:
    """(params_m, flops_m) of ``CellNetwork(genotype, channels, num_classes)`` on resolution x resolution input."""
    n = len(channels) // 3
    reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
    hw = resolution
    params = 27 * channels[0] + 2 * channels[0]
    flops = hw * hw * 27 * channels[0]
    c_prev = channels[0]
    for c_curr, reduction in zip(channels, reductions):
        if reduction:
            hw_out = hw // 2
            area = hw_out * hw_out
            params += 9 * c_prev * c_curr + 2 * c_curr + 9 * c_curr * c_curr + 2 * c_curr + c_prev * c_curr
            flops += area * (9 * c_prev * c_curr + 9 * c_curr * c_curr + c_prev * c_curr)
            hw = hw_out
        else:
            for node in genotype:
                for op, src in node:
                    p, f = _op_cost(op, c_prev if src == 0 else c_curr, c_curr, hw)
                    params += p
                    flops += f
        c_prev = c_curr
    params += 2 * c_prev + c_prev * num_classes + num_classes
    flops += c_prev * num_classes + num_classes
    return params / 1e6, flops / 1e6


def hook_cost(net: nn.Module, resolution: int) -> tuple[float, float]:
    """(params_m, flops_m) measured on a built network with the benchmarks' hook rules (slow; for checks)."""
    total = [0]

    def conv_hook(m: nn.Conv2d, inp, out):  # noqa: ANN001
        kh, kw = m.kernel_size
        positions = out.shape[0] * out.shape[2] * out.shape[3]
        total[0] += kh * kw * m.in_channels * m.out_channels // m.groups * positions
        if m.bias is not None:
            total[0] += m.out_channels * positions

    def linear_hook(m: nn.Linear, inp, out):  # noqa: ANN001
        total[0] += inp[0].shape[0] * (m.in_features * m.out_features + (m.out_features if m.bias is not None else 0))

    handles = []
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, resolution, resolution))
    net.train(was_training)
    for h in handles:
        h.remove()
    params = sum(p.numel() for p in net.parameters())
    return params / 1e6, total[0] / 1e6
