"""nasi: NASI's estimator of the NTK trace norm (Shu et al., "NASI: Label- and Data-agnostic Neural Architecture
Search at Initialization", ICLR 2022, Sec. 3.2, eq. 12).

NASI ranks a cell by ||Θ0||_tr = Σ_x ||∂f(x; θ0)/∂θ||²_F and, to make that affordable, replaces the sum of
per-sample Jacobian norms by the squared norm of one mini-batch loss gradient. ``ntk_trace`` computes the exact
quantity for comparison.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.proxies._grad import mean_ce_gradients, sum_squares
from harness.proxies.base import ProxyContext, register_proxy, register_stacked
from harness.proxies.protocol import PaperProtocol
from harness.spaces.stacked import StackedNetworks

# Paper protocol: NASI's official code (shuyao95/NASI) has no snapshot this project can read, so
# the declaration fixes nothing and lists what that code would settle as unconfirmed (b = 64 is NASI's stated batch,
# docs/search.md). Declare it, with a version bump if the settings differ, once the code can be read.
PAPER_PROTOCOL = PaperProtocol(
    source="Shu et al., ICLR 2022 (shuyao95/NASI not available to this harness)",
    unconfirmed=("data", "labels", "batch_size", "init", "repeats"),
)


@register_proxy(
    "nasi",
    needs_labels=True,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="NASI (ICLR 2022, eq. 12): squared L2 norm of the mean-CE gradient over all parameters",
    paper="Shu et al., ICLR 2022",
    protocol=PAPER_PROTOCOL,
)
def nasi(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = ||∇_θ (1/b) Σ_i CE(f(x_i; θ0), y_i)||²₂ with θ all parameters concatenated.

    Differentiated: the cross-entropy of the logits, mean-reduced over the b samples of one mini-batch (the
    engine's batch, default b = 64), w.r.t. every parameter with ``requires_grad`` — convolution and linear
    weights, linear biases and the BatchNorm affine γ/β alike; nothing is excluded and nothing is weighted.
    The squared norm is taken over the concatenation (Σ over tensors of ||g||²), not per layer: that is what
    separates it from ``grad_norm`` (Σ of unsquared per-layer norms of conv/linear weights only).
    BN in training mode (batch statistics), PyTorch default initialisation as the engine built the network;
    one forward and one backward. Higher is better (NASI keeps cells with a large NTK trace norm).

    Prunable: only gradients enter, and dead edges have exactly zero gradient. Not splittable: with train-mode
    BN the mean loss of the whole batch is not the sum of the micro-batch losses' contributions (the batch
    statistics couple the samples). ``ctx.micro_batch`` is honoured, exactly, when no BN uses batch statistics
    (e.g. ``net.eval()``) and refused with an error otherwise.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nasi: the network has no trainable parameter")
    grads = mean_ce_gradients(net, inputs, targets, params, ctx.micro_batch, "nasi")
    return sum_squares(grads)


@register_stacked("nasi")
def nasi_stacked(nets: StackedNetworks, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``nasi`` of each of K stacked networks at once, ``[K]`` float64: the same loss, gradient and sum.

    The loss is the sum over networks of each one's mean cross-entropy; the networks share no tensor, so the
    gradient w.r.t. network k's tensors is that of network k's own mean loss, and its squared norm is summed
    over network k's groups only.
    """
    logits = nets(inputs)  # [B, K, classes]
    batch, size, classes = logits.shape
    labels = targets[:, None].expand(batch, size).reshape(-1)
    loss = F.cross_entropy(logits.reshape(batch * size, classes), labels, reduction="sum") / batch
    params = [t for t, _ in nets.parameter_groups()]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return nets.per_network_sq_norms([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])
