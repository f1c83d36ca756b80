"""zen: Zen-score (Lin et al., ICCV 2021, "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition").

The expressivity of a Gaussian-initialised network: how much its pre-pooling feature map moves under a
small input perturbation, corrected by the BN scaling that hides the raw magnitude.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._hooks import cpu_generator, pre_gap_features, randn_like_on
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import table_one_protocol

MIXUP_GAMMA = 1e-2


@torch.no_grad()
def gaussian_init_(net: nn.Module, gen: torch.Generator) -> None:
    """Zen-NAS's ``network_weight_gaussian_init``: conv and linear weights ~ N(0, 1), their biases 0; BN /
    GroupNorm affine weight 1, bias 0. Draws come from ``gen`` in module order."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(randn_like_on(m.weight.shape, m.weight, gen))
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            m.weight.fill_(1.0)
            m.bias.zero_()


def bn_log_scaling(net: nn.Module) -> torch.Tensor:
    """sum over BatchNorm2d of log sqrt(mean(running_var)); BNs without running statistics are skipped."""
    total = torch.zeros((), dtype=torch.float64)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and m.running_var is not None:
            total += torch.log(torch.sqrt(m.running_var.double().mean())).cpu()
    return total


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): weights N(0, 1) (drawn by the proxy itself
# under both protocols), two batches of 64 N(0, 1) inputs, one repeat, BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "zen",
    data="gaussian",
    init="normal",
    init_in_proxy=True,
    notes="Zen-NAS's own script (idstcv/ZenNAS@d1d617e0 ZeroShotProxy/compute_zen_score.py __main__) averages "
    "--repeat_times 32 re-initialisations on batches of 16",
)


@register_proxy(
    "zen",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=True,
    prunable=False,
    splittable=False,
    description="Zen-score: log E||f(x) - f(x + 0.01 e)||_1 of the pre-pooling map + sum log sqrt(BN running var)",
    paper="Lin et al., ICCV 2021",
    protocol=PAPER_PROTOCOL,
)
def zen(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = log mean_b sum_chw |f(x)_b - f(x + 0.01 e)_b| + sum_BN log sqrt(mean(running_var)).

    Measured: no gradients. The weights are re-initialised Gaussian (conv/linear N(0,1), BN affine 1/0:
    the proxy mutates the network), then x ~ N(0, I) and e ~ N(0, I) of the batch's shape are drawn: the
    batch content is ignored by definition (only its shape is used), so the proxy needs no real data. f is
    the feature map before global average pooling (``forward_features``, i.e. after the final BN-ReLU, or
    the input of the single AdaptiveAvgPool2d). BN in train mode: the two forward passes update the running
    variances with the default momentum, and those updated buffers enter the BN term, exactly as NASLib
    ``naslib/predictors/utils/pruners/measures/zen.py`` (repeat=1, mixup_gamma=1e-2; from the Zen-NAS code)
    computes it for NAS-Bench-Suite-Zero. All random draws come from a CPU generator seeded with
    ``ctx.seed`` (weights first, then x, then e), so the score is reproducible and device-independent.
    Not prunable (BNs of dead branches enter the BN term); not splittable (train-mode BN).
    """
    gen = cpu_generator(ctx.seed)
    gaussian_init_(net, gen)
    with torch.no_grad():
        x = randn_like_on(inputs.shape, inputs, gen)
        noise = randn_like_on(inputs.shape, inputs, gen)
        out = pre_gap_features(net, x)
        mixed = pre_gap_features(net, x + MIXUP_GAMMA * noise)
        dims = list(range(1, out.dim()))
        expressivity = torch.abs(out - mixed).sum(dim=dims).mean().double().cpu()
        score = torch.log(expressivity) + bn_log_scaling(net)
    return float(score)
