"""grasp: gradient signal preservation (Wang et al., "Picking Winning Tickets Before Training by Preserving
Gradient Flow", ICLR 2020) summed over the network, as NAS-Bench-Suite-Zero computed it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.proxies._grad import (
    CrossEntropyPass,
    _cross_entropy_pass,
    check_split,
    cross_entropy_pass,
    is_channels_last,
    mean_ce_gradients,
    require_logits,
    weight_layers,
)
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS, table_one_protocol


def _grasp_sum(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Σ -W ⊙ (H g) for the mean-CE loss L, with g = ∂L/∂W and H the Hessian of L w.r.t. the Conv/Linear weights W.

    On the whole batch it is taken as Σ -g ⊙ (H W), the same number (H is symmetric) from a cheaper product: the
    convolutions' double backward reuses their forward output and input gradient when the direction is W
    (``_conv_hessian.py``). With micro-batches (no batch statistics) g is accumulated over the slices first, then
    H g slice by slice, which is exact."""
    weights = [m.weight for m in weight_layers(net)]
    batch = inputs.shape[0]
    slices = check_split(net, batch, ctx.micro_batch, "grasp")
    if len(slices) == 1:
        if is_channels_last(inputs):
            done = _nchw_cross_entropy_pass(net, inputs, targets)
        else:  # one forward: g is the detached copy of the graph's own first-order gradient
            done = cross_entropy_pass(net, inputs, targets, ctx, hessian=True)
        assert done.hessian_weights is not None
        return _signed_sum(done.grads, done.hessian_weights)
    hg: list[torch.Tensor | None] = [None] * len(weights)
    g_full = mean_ce_gradients(net, inputs, targets, weights, ctx.micro_batch, "grasp")
    for part in slices:
        loss = F.cross_entropy(require_logits(net(inputs[part])), targets[part], reduction="sum") / batch
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        terms = [(f * g).sum() for f, g in zip(g_full, grads) if g is not None]
        if not terms:
            continue
        for j, h in enumerate(torch.autograd.grad(torch.stack(terms).sum(), weights, allow_unused=True)):
            if h is not None:
                hg[j] = h if hg[j] is None else hg[j] + h
    return _signed_sum(weights, [torch.zeros_like(w) if h is None else h for w, h in zip(weights, hg)])


def _signed_sum(vectors: list[torch.Tensor], products: list[torch.Tensor]) -> float:
    """Σ -v ⊙ p over the layers, in float64."""
    with torch.no_grad():
        return float(sum((-v * p).sum(dtype=torch.float64) for v, p in zip(vectors, products)))


def _nchw_cross_entropy_pass(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> CrossEntropyPass:
    """``cross_entropy_pass`` with H W, with the network's 4-D tensors and the activations in NCHW for the call.

    On a CPU, NCHW H g is more accurate than channels-last (median 1.2e-4 against 6.8e-4 relative to float64 on 12
    NB201 cells, 0.11 at worst on cell 14585, where BN's channels-last kernels accumulate the batch statistics
    less exactly) and, at the time, cheaper (docs/performance.md); the other gradient proxies' pass stays
    NHWC. Only the storage of the 4-D parameters and buffers is swapped for an NCHW copy (exact) and put back on
    the way out: the same tensor objects throughout (the engine's snapshot still restores them), and no
    ``Module.to`` walk over ~350 modules each way per cell."""
    swapped = [t for t in (*net.parameters(), *net.buffers()) if t.dim() == 4 and not _plain_strides(t)]
    kept = [t.data for t in swapped]
    try:
        for t in swapped:
            t.data = t.data.clone(memory_format=torch.contiguous_format)
        return _cross_entropy_pass(net, inputs.contiguous(), targets, fisher=False, hessian=True)
    finally:
        for t, data in zip(swapped, kept):
            t.data = data


def _plain_strides(t: torch.Tensor) -> bool:
    """NCHW strides exactly: a 1x1 kernel stored channels-last passes ``is_contiguous()`` and still makes the
    convolution choose channels-last, so ``is_contiguous`` is not the test."""
    expected, step = [], 1
    for size in reversed(t.shape):
        expected.append(step)
        step *= size
    return t.stride() == tuple(reversed(expected))


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, one batch of
# 64 training images with their labels, BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "grasp",
    data="real",
    labels="true",
    notes=f"Abdelfattah et al.'s zero-cost code uses PyTorch's default init: {ZERO_COST_NAS}",
)


@register_proxy(
    "grasp",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Σ -W ⊙ (H g) over conv/linear weights (mean CE, train-mode BN)",
    paper="Wang et al., ICLR 2020",
    protocol=PAPER_PROTOCOL,
    # 2: H g in NCHW on CPU batches, train-mode BN's closed-form double backward; 3: Σ -g ⊙ (H W) with the
    # convolutions' double backward reusing their forward (each a float-rounding change)
    version=3,
)
def grasp(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = Σ -W ⊙ (H g) over the weights W of every Conv/Linear layer, signed.

    L = cross-entropy, mean over the batch (temperature T = 1); g = ∂L/∂W treated as a constant; H g =
    ∂(gᵀ ∂L/∂W)/∂W, a Hessian-gradient product through the weights only. BN in train mode; default init; biases
    and BN parameters are not differentiated. NASLib (``measures/grasp.py``) runs two identical forwards for g and
    for H g; with the same batch and train-mode BN they are the same graph, so one forward with
    ``create_graph`` gives the same number, taken as Σ -g ⊙ (H W) (equal: H is symmetric; cheaper, see
    ``_grasp_sum``). The minus sign is NASLib's (it negates GraSP's pruning score
    because accuracy correlated negatively with it). Prunable: dead edges have zero g and zero H g. Not
    splittable with train-mode BN; with ``ctx.micro_batch`` and no batch statistics g is accumulated over the
    slices first, then H g, which is exact.
    """
    return _grasp_sum(net, inputs, targets, ctx)
