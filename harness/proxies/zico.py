"""zico: ZiCo, zero-shot inverse coefficient of variation of gradients (Li et al., ICLR 2023, "ZiCo:
Zero-shot NAS via Inverse Coefficient of Variation on Gradients").

Gradients that are large on average and consistent across mini-batches predict fast, good convergence.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import table_one_protocol


def zico_from_gradients(per_layer: list[np.ndarray]) -> float:
    """sum over layers of log( sum_theta mean_b|g| / std_b(g) ), each array ``[batches, weights]``.

    As the official ``caculate_zico``: std is the population std (ddof=0) over the mini-batches; weights
    with zero std are left out; a layer whose sum is 0 (no weight with a non-zero std) is left out."""
    total = 0.0
    for grads in per_layer:
        grads = np.asarray(grads, dtype=np.float64)
        std = grads.std(axis=0)
        keep = std != 0
        ratio_sum = float(np.sum(np.abs(grads).mean(axis=0)[keep] / std[keep]))
        if ratio_sum != 0:
            total += float(np.log(ratio_sum))
    return total


def _layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): PyTorch's default init, two training batches
# of 64 with their labels (``batch_iter=2``; the proxy splits its 128 samples in those halves), BN in train mode.
PAPER_PROTOCOL = table_one_protocol("zico", data="real", labels="true", batch_size=128, init="default")


@register_proxy(
    "zico",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="ZiCo: sum over layers of log sum_theta mean|g|/std(g) across two half-batches",
    paper="Li et al., ICLR 2023",
    protocol=PAPER_PROTOCOL,
)
def zico(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = sum_layers log( sum_theta mean_k |g_k(theta)| / std_k(g_k(theta)) ), k over 2 mini-batches.

    Differentiated: mean cross-entropy of the logits against the labels, separately for the two halves of
    the batch (samples [0, B//2) and [B//2, B), each its own forward/backward with train-mode BN), w.r.t.
    the weights of every Conv2d and Linear (not biases, not BN), as the official
    ``SLDGroup/ZiCo ZeroShotProxy/compute_zico.py`` with a loader of two batches. The gradients are reset
    between the halves, so each half contributes its own gradient, as the paper's definition (Eqs. 5-6)
    states and as the official loop does since commit d7076d5 (2023-02-17) added ``zero_grad`` to it; the
    first release (bbabe28, 2023-02-09) did not, and so recorded g1 and g1 + g2. Layers whose weights get
    no gradient (cannot reach the loss) are left out, like layers whose gradient std is zero everywhere;
    hence prunable (pruning removes exactly those).
    Not splittable: the halves are fixed, and within a half train-mode BN couples the samples.
    """
    n = inputs.shape[0]
    if n < 2:
        raise ValueError(f"zico needs at least 2 samples (two mini-batches), got {n}")
    if targets.shape[0] != n:
        raise ValueError(f"zico needs one label per sample: {n} inputs, {targets.shape[0]} targets")
    layers = _layers(net)
    if not layers:
        raise ValueError("zico reads Conv2d/Linear weight gradients, but the network has none")
    grads: dict[str, list[np.ndarray]] = {}
    for start, end in ((0, n // 2), (n // 2, n)):
        net.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(inputs[start:end]), targets[start:end])
        loss.backward()
        for name, module in layers:
            if module.weight.grad is not None:
                grads.setdefault(name, []).append(module.weight.grad.detach().reshape(-1).double().cpu().numpy())
    net.zero_grad(set_to_none=True)
    return zico_from_gradients([np.stack(g) for g in grads.values() if len(g) == 2])
