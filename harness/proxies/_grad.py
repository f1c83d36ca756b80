"""Shared plumbing for the loss-gradient proxies (nasi, grad_norm, snip, grasp, fisher, plain): which layers
count, whether a micro-batch split is exact, and the gradient of the whole-batch mean cross-entropy.

NASLib's pruning measures (``naslib/predictors/utils/pruners``) score the weights of every ``nn.Conv2d`` and
``nn.Linear``; biases and BatchNorm affine parameters do not count there. ``weight_layers`` keeps that rule
(any convolution dimension) so the baselines compute what NAS-Bench-Suite-Zero published.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from harness.proxies._bn_hessian import BATCH_NORM_SECOND_ORDER
from harness.proxies._conv_hessian import CONV_SECOND_ORDER
from harness.proxies._torch_function import replacing
from harness.proxies.base import ProxyContext

WEIGHT_LAYERS = (_ConvNd, nn.Linear)


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """Every convolution and linear layer in registration order (NASLib's ``get_layer_metric_array``)."""
    layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise ValueError("the network has no nn.Conv*/nn.Linear layer whose weights this proxy scores")
    return layers


def couples_samples(net: nn.Module) -> bool:
    """True when a module mixes samples of a batch: BatchNorm using batch statistics (train mode, or no
    running statistics). Then the output of one sample depends on the others and a split is not exact."""
    return any(isinstance(m, _BatchNorm) and (m.training or not m.track_running_stats) for m in net.modules())


def sample_slices(batch: int, micro_batch: int | None) -> list[slice]:
    """Consecutive slices of at most ``micro_batch`` samples covering ``batch`` (one slice when None)."""
    if micro_batch is None or micro_batch >= batch:
        return [slice(0, batch)]
    if micro_batch < 1:
        raise ValueError(f"micro-batch must be >= 1, got {micro_batch}")
    return [slice(s, min(s + micro_batch, batch)) for s in range(0, batch, micro_batch)]


def check_split(net: nn.Module, batch: int, micro_batch: int | None, proxy: str) -> list[slice]:
    """The slices to process, refusing a split that would silently change the score."""
    slices = sample_slices(batch, micro_batch)
    if len(slices) > 1 and couples_samples(net):
        raise ValueError(
            f"{proxy}: a micro-batch of {micro_batch} < batch {batch} is not exact with batch-statistics "
            "BatchNorm (train mode): the samples are coupled"
        )
    return slices


def require_logits(logits: torch.Tensor) -> torch.Tensor:
    if logits.dim() != 2:
        raise ValueError(f"expected logits of shape [batch, classes], got {tuple(logits.shape)}")
    return logits


def mean_ce_gradients(
    net: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    params: Sequence[torch.Tensor],
    micro_batch: int | None = None,
    proxy: str = "proxy",
) -> list[torch.Tensor]:
    """Gradient of the mean cross-entropy over the whole batch w.r.t. ``params`` (zeros where unused).

    With ``micro_batch`` each slice contributes ``sum CE / B``, so the accumulated gradient equals the whole-batch
    one exactly when no module couples samples (``check_split`` refuses the other case).
    """
    batch = inputs.shape[0]
    if batch < 1:
        raise ValueError("empty batch")
    grads: list[torch.Tensor | None] = [None] * len(params)
    for part in check_split(net, batch, micro_batch, proxy):
        logits = require_logits(net(inputs[part]))
        loss = F.cross_entropy(logits, targets[part], reduction="sum") / batch
        chunk = torch.autograd.grad(loss, list(params), allow_unused=True)
        for j, g in enumerate(chunk):
            if g is not None:
                grads[j] = g if grads[j] is None else grads[j] + g
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def sum_squares(tensors: Sequence[torch.Tensor]) -> float:
    """Σ ||t||² over the tensors in float64, with one fused norm kernel for all of them."""
    if not tensors:
        return 0.0
    norms = torch._foreach_norm(list(tensors))
    return float(torch.stack(norms).double().square().sum())


# Memo key under which the engine lists the names of the proxies it will run on the cell (a frozenset), so that
# the first of them computes in one pass what the others of that cell will ask for.
CELL_PROXIES = ("cell proxies",)


@dataclass(frozen=True)
class CrossEntropyPass:
    """What one forward and backward of the mean cross-entropy yield for the Conv/Linear weights W.

    ``grads``: ∂L/∂W (detached; zeros where unused). ``fisher``: layer position -> Σ_n (Σ_spatial a·∂L/∂a)² per
    output channel of that layer's output a (float64), or None when not asked. ``hessian_weights``: H W, the
    Hessian of L w.r.t. the weights times the weights themselves (held constant), or None when not asked; grasp's
    Wᵀ H g is gᵀ H W (H is symmetric), and H W is the cheaper product (``_conv_hessian.py``).
    """

    grads: list[torch.Tensor]
    fisher: dict[int, torch.Tensor] | None
    hessian_weights: list[torch.Tensor] | None


def is_channels_last(inputs: torch.Tensor) -> bool:
    """True for a 4-D batch stored channels-last (the engine's CPU layout), not also plain contiguous."""
    return inputs.dim() == 4 and not inputs.is_contiguous() and inputs.is_contiguous(memory_format=torch.channels_last)


def cross_entropy_pass(
    net: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    ctx: ProxyContext,
    *,
    fisher: bool = False,
    hessian: bool = False,
) -> CrossEntropyPass:
    """The mean-CE pass, shared by the proxies of one cell through ``ctx.remember``.

    grad_norm, snip, plain, fisher and grasp differentiate the same loss on the same weights and batch: when the
    engine lists them for the cell (``CELL_PROXIES``), the first one computes everything any of them needs in
    one forward and one backward (with ``create_graph`` and the Hessian-weight product when grasp is among
    them, fisher's activation hooks when fisher is), and the others read it. Each score is then the same number
    whoever computed the pass (tested). The key names the BN mode and the pruning switches, which change the
    forward; whole batch only (the callers keep their micro-batch paths).
    """
    if ctx.memo is None:
        return _cross_entropy_pass(net, inputs, targets, fisher, hessian)
    company = ctx.memo.get(CELL_PROXIES, frozenset())
    # grasp takes its own NCHW pass on a channels-last batch (see grasp.py), so H W is only shared otherwise
    fisher, hessian = fisher or "fisher" in company, hessian or ("grasp" in company and not is_channels_last(inputs))
    prune = tuple(bool(getattr(m, "prune", False)) for m in net.modules() if hasattr(m, "prune"))
    key = ("mean-CE pass", net.training, prune, fisher, hessian)
    return ctx.remember(key, lambda: _cross_entropy_pass(net, inputs, targets, fisher, hessian))


def _cross_entropy_pass(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, fisher: bool, hessian: bool
) -> CrossEntropyPass:
    layers = weight_layers(net)
    weights = [m.weight for m in layers]
    batch = inputs.shape[0]
    if batch < 1:
        raise ValueError("empty batch")
    sq_sums: dict[int, torch.Tensor] = {}

    def on_forward(position: int):  # noqa: ANN202 - a forward hook
        def hook(_module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            if not out.requires_grad:
                return
            act = out.detach()

            def on_grad(grad: torch.Tensor) -> None:
                with torch.no_grad():
                    prod = act * grad
                    g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
                    value = g_nk.double().square().sum(0)
                sq_sums[position] = value if position not in sq_sums else sq_sums[position] + value

            handles.append(out.register_hook(on_grad))

        return hook

    handles = [layer.register_forward_hook(on_forward(i)) for i, layer in enumerate(layers)] if fisher else []
    try:
        # with H W to take, train-mode BN gets a closed-form double backward and convolutions one that reuses their
        # forward (values and ∂L/∂W bit-identical)
        with replacing({**BATCH_NORM_SECOND_ORDER, **CONV_SECOND_ORDER}) if hessian else nullcontext():
            logits = require_logits(net(inputs))
        loss = F.cross_entropy(logits, targets, reduction="sum") / batch
        grads = torch.autograd.grad(loss, weights, allow_unused=True, create_graph=hessian)
    finally:  # the activation hooks too: H W's backward reaches the activations again
        for handle in handles:
            handle.remove()
    hessian_weights = None
    if hessian:  # H W = ∂(W_fixedᵀ ∂L/∂W)/∂W through the graph of the backward just taken
        terms = [(w.detach() * g).sum() for w, g in zip(weights, grads) if g is not None]
        hw = torch.autograd.grad(torch.stack(terms).sum(), weights, allow_unused=True) if terms else []
        hessian_weights = [
            torch.zeros_like(w) if h is None else h for w, h in zip(weights, hw or [None] * len(weights))
        ]
    grads = [torch.zeros_like(w) if g is None else g.detach() for w, g in zip(weights, grads)]
    return CrossEntropyPass(grads, sq_sums if fisher else None, hessian_weights)


def weight_gradients(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext, proxy: str
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The Conv/Linear weights and ∂L/∂W of the mean CE: the cell's shared pass, or micro-batches when the engine
    split the batch (``ctx.micro_batch``)."""
    weights = [m.weight for m in weight_layers(net)]
    if ctx.micro_batch is not None:
        return weights, mean_ce_gradients(net, inputs, targets, weights, ctx.micro_batch, proxy)
    return weights, cross_entropy_pass(net, inputs, targets, ctx).grads
