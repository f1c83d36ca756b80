"""swap, swap_reg: SWAP-score, the number of distinct sample-wise activation patterns, and its regularised form
(Peng et al., ICLR 2024, "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS"; official code
pym1024/SWAP at f6049f7c979b (2024-05-30), ``src/metrics/swap.py``, ``src/utils/utilities.py``, ``correlation.py``).

Every ReLU unit maps the batch to an on/off pattern over the samples; a network with more distinct
patterns is more expressive on that batch. Regularised SWAP multiplies the count by a Gaussian bump of the model
size, which favours networks near a chosen size (and, in the paper, raises the correlation in cell spaces).

Official protocol (``correlation.py``, the repository's only driver, written for the DARTS space; for a
``PaperProtocol`` declaration):

- data: real training images, the first 16 of the unshuffled CIFAR-10 training set (``--input_samples 16``,
  ``DataLoader`` without shuffle, transform = normalise by the dataset mean/std: ``RandomCrop(32, padding=0)``
  and ``RandChannel(3)`` are the identity at 32 px / 3 channels); one batch for all networks;
- init: before every repeat ``network_weight_gaussian_init``: Conv2d and Linear weights ~ N(0, 1), their biases 0,
  BatchNorm/GroupNorm weight 1, bias 0 (drawn from the global RNG, never re-seeded: ``SWAP.reinit`` seeds only
  when the seed changes);
- repeats: 32 (``--repeats 32``), new weights each time, same inputs; score = mean of the 32 counts
  (``np.mean(swap_score)``);
- BN: train mode (the network is never put in eval mode), forward under ``torch.no_grad``;
- regularisation: off in ``correlation.py`` (``SWAP(..., regular=False)`` by default).

Regulariser (``cal_regular_factor``): f = exp(-(P - mu)^2 / sigma), P = the number of parameters of tensors
whose name lacks "auxiliary", in thousands (``count_parameters`` divides by 1e3), so mu is in thousands and
sigma in thousands squared. The repository sets no mu or sigma (no caller passes ``regular=True``), and the
paper's NB201 values were not at hand here; ``swap_reg`` uses REG_MU_K and REG_SIGMA_K below, chosen by us, not
by the paper: the mean of the NB201 CIFAR-10 parameter counts (398.6 K over the 15,625 cells) and twice their
variance (2 x 232.8^2 K^2), a Gaussian of the space's own spread. Replace them by the paper's once read.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.proxies._hooks import forward_hooks, require_relus
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import PaperProtocol

WORD_BITS = 62  # samples packed per int64 word (stays clear of the sign bit)
# swap_reg's regulariser constants, in thousands of parameters (ours; module docstring): NB201 CIFAR-10 mean and
# twice the variance of the parameter count over the 15,625 cells.
REG_MU_K = 398.6
REG_SIGMA_K = 2 * 232.8**2


def pack_patterns(active: torch.Tensor) -> torch.Tensor:
    """Pack ``[B, N]`` booleans (sample x unit) into ``[N, ceil(B / 62)]`` int64 words, one row per unit:
    equal rows <=> equal patterns. Keeps memory at 8 bytes per unit per 62 samples."""
    batch = active.shape[0]
    words = []
    for start in range(0, batch, WORD_BITS):
        chunk = active[start : start + WORD_BITS].to(torch.int64)
        weights = torch.pow(2, torch.arange(chunk.shape[0], device=chunk.device, dtype=torch.int64))
        words.append((chunk * weights[:, None]).sum(dim=0))
    return torch.stack(words, dim=1)


def count_unique_rows(packed: torch.Tensor) -> int:
    if packed.shape[1] == 1:
        return int(torch.unique(packed[:, 0]).numel())
    return int(torch.unique(packed, dim=0).shape[0])


def swap_count(net: nn.Module, inputs: torch.Tensor, proxy: str = "swap") -> int:
    """The number of distinct on/off patterns over the batch among the units of every ``nn.ReLU`` applied to a
    4-D feature map, from one forward pass without gradients (the network in whatever mode it is in)."""
    relus = require_relus(net, proxy)
    batch = inputs.shape[0]
    packed: list[torch.Tensor] = []

    def hook(_module: nn.Module, inp: tuple, out: object) -> None:
        if isinstance(inp, tuple) and inp and inp[0].dim() == 4 and isinstance(out, torch.Tensor):
            packed.append(pack_patterns(out.detach().reshape(batch, -1) > 0))

    with torch.no_grad(), forward_hooks(relus, hook):
        net(inputs)
    if not packed:
        raise ValueError(f"{proxy} found no nn.ReLU applied to a 4-D feature map")
    return count_unique_rows(torch.cat(packed, dim=0))


def parameters_k(net: nn.Module, ctx: ProxyContext) -> float:
    """The official regulariser's model size: parameters in thousands (the benchmark's count, ``ctx.cost``, when
    known; else every parameter whose name lacks "auxiliary", as ``count_parameters``)."""
    if ctx.cost is not None:
        return float(ctx.cost.params_m) * 1e3
    return sum(p.numel() for name, p in net.named_parameters() if "auxiliary" not in name) / 1e3


def regular_factor(params_k: float, mu: float = REG_MU_K, sigma: float = REG_SIGMA_K) -> float:
    """exp(-(params_k - mu)^2 / sigma): the official ``cal_regular_factor`` (sizes in thousands)."""
    return math.exp(-((params_k - mu) ** 2) / sigma)


# Paper protocol (the official correlation.py, module docstring): 16 training images, 32 repeats each with new
# N(0, 1) weights (same images), the mean of the 32 counts, BN in train mode.
PAPER_PROTOCOL = PaperProtocol(
    source="pym1024/SWAP@f6049f7c correlation.py (--input_samples 16, --repeats 32), src/utils/utilities.py "
    "(network_weight_gaussian_init)",
    data="real",
    batch_size=16,
    repeats=32,
    redraw=("init",),
    init="normal",
    deviations="the official script takes the first 16 images of the unshuffled training set for every network; "
    "the harness draws 16 with the unit's seed, and each repeat's weights from a seed derived from it",
)


@register_proxy(
    "swap",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="SWAP: number of distinct on/off patterns over the batch among all ReLU units (unregularised)",
    paper="Peng et al., ICLR 2024",
    protocol=PAPER_PROTOCOL,
)
def swap(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = |{ (sign(relu_u(x_1)), ..., sign(relu_u(x_B))) : u a ReLU unit }|, the set size over all units.

    Measured: one forward pass without gradients of the whole batch, BN in train mode; the output of every
    ``nn.ReLU`` whose input is 4-D (feature maps; each channel x position is a unit) is binarised (> 0) and
    all units of all such ReLUs are pooled, as the official ``src/metrics/swap.py`` (``torch.unique`` over the
    transposed sample x unit sign matrix). Unregularised (``swap_reg`` is the regularised score).

    Protocol: the harness's, not the official one (module docstring). It scores the batch and the weights it
    is given, once: under the harness protocol the unit's batch (b = 64) and PyTorch's default initialisation;
    the official script feeds 16 real images and averages 32 N(0, 1) re-initialisations (with many more
    samples almost every unit has its own pattern and the score approaches the unit count). Not prunable
    (ReLUs in dead branches count); not splittable (patterns span the batch and train-mode BN couples the
    samples).
    """
    return float(swap_count(net, inputs, "swap"))


@register_proxy(
    "swap_reg",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="Regularised SWAP: SWAP x exp(-(params_K - mu)^2 / sigma), mu and sigma ours (module docstring)",
    paper="Peng et al., ICLR 2024",
    protocol=PAPER_PROTOCOL,
)
def swap_reg(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ``swap`` x exp(-(P - REG_MU_K)^2 / REG_SIGMA_K), P = parameters in thousands (``parameters_k``).

    The official ``SWAP(regular=True, mu, sigma)``: the count times ``cal_regular_factor`` of the model. The
    factor depends on the network only, so under the official protocol the mean over repeats is the mean
    count times the factor. The form is the paper's; mu and sigma are ours (module docstring). Same
    measurement, flags and protocol as ``swap``.
    """
    return float(swap_count(net, inputs, "swap_reg")) * regular_factor(parameters_k(net, ctx))
