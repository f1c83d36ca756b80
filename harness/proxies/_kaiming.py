"""Kaiming-normal (fan-in) re-initialisation, the ``init_model(model, 'kaiming_norm_fanin')`` that the AZ-NAS
and VKDNW reference code apply to every network before scoring it.

Both proxies are calibrated for variance-preserving weights (AZ-NAS's trainability peaks at a unit Jacobian
spectral norm; VKDNW's eval-mode BN at initialisation is the identity), so they re-draw the weights rather
than use PyTorch's default init. Draws come from a CPU generator seeded by the caller, in module order, so
a score does not depend on the device or on the global RNG.
"""

from __future__ import annotations

import torch
from torch import nn


def cpu_generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


@torch.no_grad()
def kaiming_normal_fanin_(net: nn.Module, gen: torch.Generator) -> None:
    """Conv2d / Linear weights ~ N(0, 2 / fan_in), their biases 0; BatchNorm2d / GroupNorm affine weight 1,
    bias 0. Other modules keep their weights (as in the reference code)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            draw = torch.empty(m.weight.shape, dtype=m.weight.dtype)
            nn.init.kaiming_normal_(draw, mode="fan_in", nonlinearity="relu", generator=gen)
            m.weight.copy_(draw)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            m.weight.fill_(1.0)
            m.bias.zero_()


def rademacher(shape: torch.Size, like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A tensor of independent +-1 entries (the reference's ``(bernoulli(0.5) - 0.5) * 2``), drawn on the CPU."""
    draw = torch.randint(0, 2, tuple(shape), generator=gen, dtype=torch.int8).to(like.dtype) * 2 - 1
    return draw.to(like.device)
