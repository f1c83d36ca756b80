"""te_nas: TE-NAS (Chen, Gong & Wang, ICLR 2021, "Neural Architecture Search on ImageNet in Four GPU
Hours: A Theoretically Inspired Perspective"; official code VITA-Group/TENAS).

TE-NAS judges a network by two indicators: trainability, the condition number kappa of its empirical NTK
(lower is better), and expressivity, its number of linear regions R (higher is better). It combines them
by RANKS over the candidates (rank of kappa + rank of R), which no per-cell number can reproduce, so this
module offers per-cell proxies and the set-level combination:

- ``ntk_cond`` (``harness.proxies.ntk_cond``, TENAS's ``get_ntk_n`` in train mode, lower is better): kappa.
  It is the TE-NAS trainability component and is reused here rather than registered a second time;
- ``te_nas_linear_regions``: R;
- ``te_nas_log_ratio``: the per-cell surrogate log R - log kappa (documented below; registered as ``te_nas``
  before the pool aggregates took that name);
- ``harness.aggregates.te_nas_rank_combine(frame)``: the true TE-NAS rank sum over a set of cells, from the two
  component scores. The name ``te_nas`` is that score: the pool aggregate of ``harness.aggregates``, computed at
  analysis time.

Setting followed: the per-architecture TE-NAS of the AZ-NAS repository (cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_te_nas_score.py``, itself ported from ZenNAS and TENAS), which scores every
NAS-Bench-201 network as built (no re-initialisation: TENAS's own launcher passes an init name its
``init_model`` does not match, so its networks keep PyTorch's default init too), BN in train mode, the NTK
on one real-image batch and the linear regions of the full network over one batch (the AZ-NAS port feeds
Gaussian noise there; here the engine's batch is used for both, so ``--data gaussian`` reproduces that
half). TENAS's search-time pruning (deltas on a C=3 supernet; regions of 3x3 crops through a C=1 thin
net) is a different, supernet-level use of the same indicators and is not reproduced.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.proxies._linear_regions import linear_regions
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.ntk_cond import condition_number, weights_gram
from harness.proxies.protocol import AUGMENTED, PaperProtocol, table_one, table_one_protocol

NTK_COMPONENT = "ntk_cond"
REGIONS_COMPONENT = "te_nas_linear_regions"


def _kappa(net: nn.Module, inputs: torch.Tensor, ctx: ProxyContext | None) -> float:
    """kappa of the weights' NTK Gram, +inf when singular; at least two samples are needed for a B x B Gram."""
    if inputs.shape[0] < 2:
        raise ValueError(f"the NTK condition number needs a batch of at least 2 samples, got {inputs.shape[0]}")
    return condition_number(weights_gram(net, inputs, ctx))


def ntk_condition_number(net: nn.Module, inputs: torch.Tensor, ctx: ProxyContext | None = None) -> float:
    """TE-NAS's kappa, computed exactly as the ``ntk_cond`` proxy (``weights_gram``, shared with it within a cell
    when ``ctx`` carries the engine's memo, then ``condition_number``); ``ValueError`` when the NTK is singular
    (kappa infinite), e.g. for a network whose output ignores its input or a batch of repeated images."""
    kappa = _kappa(net, inputs, ctx)
    if not math.isfinite(kappa):
        raise ValueError("the NTK is singular (smallest eigenvalue <= 0): its condition number is undefined")
    return kappa


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): PyTorch's default init (compute_te_nas_score
# draws none), the NTK on one batch of 64 training images, the linear regions on 64 N(0, 1) inputs, BN in train mode.
TENAS_NOTE = ("TE-NAS's own code (VITA-Group/TENAS@9df78ffd prune_tenas.py via prune_launch.py) scores prunings "
              "of a supernet, not single cells: Kaiming-normal weights (fan-out for the NTK, fan-in for the regions) "
              "re-drawn for each of --repeat 3, batch 72 on CIFAR-10")  # fmt: skip
NTK_PROTOCOL = table_one_protocol(
    "te_nas",
    data="real",
    init="default",
    deviations="the official code counts the linear regions on a separate batch of 64 N(0, 1) inputs; here both "
    f"halves see the training batch (te_nas_linear_regions alone takes the N(0, 1) batch); {AUGMENTED}",
    notes=TENAS_NOTE,
)
REGIONS_PROTOCOL = PaperProtocol(
    source=f"{table_one('te_nas')} (compute_RN_score, num_batch=1)",
    data="gaussian",
    batch_size=64,
    notes=TENAS_NOTE,
)


@register_proxy(
    REGIONS_COMPONENT,
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="TE-NAS expressivity: distinct ReLU activation patterns (linear regions) over the batch",
    paper="Chen et al., ICLR 2021",
    protocol=REGIONS_PROTOCOL,
)
def te_nas_linear_regions(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = number of distinct activation patterns over the batch (1 .. B), higher is better.

    Measured (no gradients): the binary pattern ``output > 0`` of every ``nn.ReLU`` module fed a 4-D
    tensor, concatenated over all such ReLUs, one pattern per sample; two samples share a linear region iff
    their patterns are identical (TENAS ``LinearRegionCount``, counted exactly here). BN in train mode as in
    the reference. With the ~10^5-10^6 ReLU units of a NAS-Bench-201 network and B = 64 distinct inputs,
    nearly every cell reaches R = B, so the component mostly separates cells whose ReLU patterns collapse.
    Not prunable: ReLUs on dead edges still fire and count. Not splittable: the count is over the batch.
    """
    return linear_regions(net, inputs)


@register_proxy(
    "te_nas_log_ratio",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=False,
    splittable=False,
    description="TE-NAS per-cell surrogate (not the paper's rank score te_nas): log(linear regions) - "
    "log(NTK condition number)",
    paper="Chen et al., ICLR 2021",
    protocol=NTK_PROTOCOL,
)
def te_nas_log_ratio(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = log R - log kappa, with R = ``te_nas_linear_regions`` and kappa = ``ntk_cond``.

    TE-NAS itself ranks a SET: rank(-kappa) + rank(R) (the pool aggregate ``te_nas``; ``te_nas_rank_combine``). A
    single cell has no rank, so this surrogate weighs the two indicators equally on a log scale, the scale on
    which both spread over candidates (kappa spans orders of magnitude). It orders cells exactly as the rank
    sum whenever R is the same for all of them (the common case at B = 64, see ``te_nas_linear_regions``);
    otherwise it is an approximation, and studies of TE-NAS itself should use the pool aggregate on the two components.
    Regions are counted first (no gradients), then the NTK (B backward passes of the whole batch: the
    expensive part, skipped when ``ntk_cond`` already computed it on this cell); BN in train mode throughout.
    A singular NTK (kappa infinite, e.g. a cell whose output ignores its input) gives -inf: status ``nan``, no
    score, as ``ntk_cond`` gives for it.
    """
    regions = linear_regions(net, inputs)
    kappa = _kappa(net, inputs, ctx)
    return math.log(regions) - math.log(kappa)  # singular NTK: kappa = inf -> -inf, recorded as status nan
