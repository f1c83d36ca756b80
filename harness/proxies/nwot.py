"""nwot: NASWOT, the log-determinant of the ReLU-code kernel (Mellor et al., ICML 2021, "Neural
Architecture Search without Training", v2 of arXiv:2006.04647).

Networks that give different inputs different ReLU on/off codes at initialisation separate them better.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.proxies._hooks import forward_hooks, require_relus
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import table_one_protocol


def code_kernel(codes: torch.Tensor) -> torch.Tensor:
    """``c c^T + (1 - c)(1 - c)^T`` for binary codes ``[B, N]``: the number of units on which two samples
    agree (N minus their Hamming distance). Exact in float32 up to 2**24 units per layer; returned as float64."""
    c = codes.float()
    agree = c @ c.T + (1.0 - c) @ (1.0 - c).T
    return agree.double()


def logdet_kernel(kernel: np.ndarray) -> float:
    """``log det K``. K is a sum of Gram matrices (positive semi-definite): a non-positive determinant means
    it is singular to working precision, where the log-determinant is undefined, so NaN is returned rather
    than the log of the absolute value."""
    sign, logabsdet = np.linalg.slogdet(kernel)
    return float(logabsdet) if sign > 0 else float("nan")


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, one batch of
# 64 N(0, 1) inputs, BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "naswot",
    data="gaussian",
    notes="Mellor et al.'s own code (BayesWatch/nas-without-training@b3a82a66 score_networks.py) scores a batch of "
    "128 training images at PyTorch's default init",
)


@register_proxy(
    "nwot",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="NASWOT: log det of the kernel of binary ReLU codes summed over ReLU layers",
    paper="Mellor et al., ICML 2021",
    protocol=PAPER_PROTOCOL,
)
def nwot(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = log det K, K = sum over nn.ReLU modules of c c^T + (1-c)(1-c)^T, c = [input > 0] per sample.

    Measured: one forward pass (no gradient) of the whole batch, BN in train mode; at every ``nn.ReLU`` the
    sign pattern of its *input* (flattened per sample) is read by a forward hook, as NASLib's
    ``naslib/predictors/utils/pruners/measures/nwot.py`` (the version NAS-Bench-Suite-Zero used, which
    hooks every torch ReLU module; an in-place ReLU's input equals its output on the sign test). K is
    accumulated in float64; slogdet's log|det| is returned when det > 0, NaN otherwise (the reference
    returns log|det| unconditionally, which differs only when K is numerically singular). Not prunable:
    ReLUs in branches that cannot reach the output still contribute codes. Not splittable: train-mode BN
    couples the samples' activations, and K needs every pair anyway.
    """
    relus = require_relus(net, "nwot")
    batch = inputs.shape[0]
    kernel = torch.zeros(batch, batch, dtype=torch.float64, device=inputs.device)

    def hook(_module: nn.Module, inp: tuple, _out: object) -> None:
        nonlocal kernel
        kernel += code_kernel(inp[0].detach().reshape(batch, -1) > 0)

    with torch.no_grad(), forward_hooks(relus, hook):
        net(inputs)
    return logdet_kernel(kernel.cpu().numpy())
