"""ntk_cond: the condition number of the empirical NTK at initialisation, TE-NAS's trainability term (Chen et al.,
"Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically Inspired Perspective", ICLR 2021)."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._ntk import sample_sum_gram, weights_only
from harness.proxies.base import ProxyContext, register_proxy


def condition_number(gram: torch.Tensor) -> float:
    """λmax / λmin of a symmetric PSD matrix (float64 ``eigvalsh``); +inf when λmin <= 0 (singular), which the
    engine records as ``nan``: the condition number of a singular NTK is infinite, not a large finite value."""
    eigenvalues = torch.linalg.eigvalsh(gram.double())
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    return largest / smallest if smallest > 0 else float("inf")


def weights_gram(net: nn.Module, inputs: torch.Tensor, ctx: ProxyContext | None = None) -> torch.Tensor:
    """TE-NAS's B x B NTK Gram over the weights (``sample_sum_gram`` with ``weights_only``), computed once per cell
    when ``ctx`` carries the engine's memo: ``ntk_cond`` and ``te_nas`` then share it (the B backward passes are
    the whole cost of both). Pruning dead edges does not change it (their weights have zero gradient)."""
    micro_batch = None if ctx is None else ctx.micro_batch
    compute = lambda: sample_sum_gram(net, inputs, weights_only, micro_batch=micro_batch)  # noqa: E731
    if ctx is None:
        return compute()
    return ctx.remember(("sample_sum_gram", "weights_only", net.training), compute)


@register_proxy(
    "ntk_cond",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=False,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="TE-NAS NTK condition number λmax/λmin of the B x B Gram of ∂Σ_k f_k(x_i)/∂(weights); lower is better",
)
def ntk_cond(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = λmax(Θ) / λmin(Θ), Θ_ij = ⟨∂Σ_k f_k(x_i)/∂θ_w, ∂Σ_k f_k(x_j)/∂θ_w⟩ (a B x B matrix).

    Follows TE-NAS ``lib/procedures/ntk.py`` (``get_ntk_n`` with ``train_mode=True``, as its search calls it):
    per sample i, the gradient of the *sum of its logits* (``logit[i].backward(ones)``) through the batch
    function; parameters θ_w are those whose name contains ``weight`` (conv and linear weights and BN γ; biases
    and BN β excluded); no loss, no labels. BN in train mode (batch statistics couple the rows, as in TE-NAS);
    PyTorch default init as built by the engine (TE-NAS re-initialises with its own ``init_model``; we do not).
    Eigenvalues in float64 (TE-NAS: float32 ``symeig``). Lower is better (a well-conditioned NTK trains
    faster). B backwards (64 at b = 64). Prunable; not splittable with train-mode BN.
    """
    gram = weights_gram(net, inputs, ctx)
    if gram.shape[0] < 2:
        raise ValueError(f"ntk_cond needs at least 2 samples, got {gram.shape[0]}")
    return condition_number(gram)
