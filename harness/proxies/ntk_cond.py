"""ntk_cond: the condition number of the empirical NTK at initialisation, TE-NAS's trainability term (Chen et al.,
"Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically Inspired Perspective", ICLR 2021)."""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies._ntk import jacobian_row_grads, sample_sum_cotangents, sample_sum_gram, stacked_chunk, weights_only
from harness.proxies.base import ProxyContext, register_proxy, register_stacked
from harness.proxies.protocol import table_one_protocol
from harness.spaces.stacked import StackedNetworks


def condition_number(gram: torch.Tensor) -> float:
    """λmax / λmin of a symmetric PSD matrix (float64 ``eigvalsh``); +inf when λmin <= 0 (singular), which the
    engine records as ``nan``: the condition number of a singular NTK is infinite, not a large finite value."""
    eigenvalues = torch.linalg.eigvalsh(gram.double())
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    return largest / smallest if smallest > 0 else float("inf")


def weights_gram(net: nn.Module, inputs: torch.Tensor, ctx: ProxyContext | None = None) -> torch.Tensor:
    """TE-NAS's B x B NTK Gram over the weights (``sample_sum_gram`` with ``weights_only``), computed once per cell
    when ``ctx`` carries the engine's memo: ``ntk_cond`` and ``te_nas_log_ratio`` then share it (the B backward
    passes are the whole cost of both). Pruning dead edges does not change it (their weights have zero gradient)."""
    micro_batch = None if ctx is None else ctx.micro_batch
    compute = lambda: sample_sum_gram(net, inputs, weights_only, micro_batch=micro_batch)  # noqa: E731
    if ctx is None:
        return compute()
    return ctx.remember(("sample_sum_gram", "weights_only", net.training), compute)


# Paper protocol (VKDNW's Table 1 code for TE-NAS's NTK half, see harness.proxies.protocol): PyTorch's default init,
# one batch of 64 training images (``get_ntk_n(..., train_mode=True, num_batch=1)``), BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "te_nas",
    data="real",
    init="default",
    notes="TE-NAS's own code (VITA-Group/TENAS@9df78ffd prune_tenas.py) uses this NTK on supernet prunings with "
    "Kaiming-normal fan-out weights re-drawn for each of 3 repeats (te_nas.py)",
)


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
    paper="Chen et al., ICLR 2021",
    protocol=PAPER_PROTOCOL,
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


@register_stacked("ntk_cond")
def ntk_cond_stacked(nets: StackedNetworks, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``ntk_cond`` of each of K stacked networks, ``[K]`` float64 (+inf where the NTK is singular).

    The cotangent selecting the sum of sample i's logits in every network gives, w.r.t. network n's tensors,
    exactly network n's TE-NAS row i (the networks share no tensor), so B backwards serve all K; the rows over the
    weight tensors (``weight_groups``, TE-NAS's name rule) are kept and each network's B x B Gram is formed from
    its own share of them.
    """
    if inputs.shape[0] < 2:
        raise ValueError(f"ntk_cond needs at least 2 samples, got {inputs.shape[0]}")
    logits = nets(inputs)  # [B, K, classes]
    batch, size, classes = logits.shape
    groups = nets.weight_groups()
    params = [nets.parameter_groups()[g][0] for g in groups]
    cotangents = sample_sum_cotangents(batch, classes, logits)[:, :, None, :].expand(-1, -1, size, -1)
    rows = [torch.empty(batch, *p.shape, dtype=p.dtype, device=p.device) for p in params]
    start = 0
    for grads in jacobian_row_grads(logits, params, cotangents, stacked_chunk(logits.device, size)):
        count = grads[0].shape[0]
        for r, g in zip(rows, grads):
            r[start : start + count] = g.detach()
        start += count
    grams = nets.per_network_gram(rows, groups)
    return torch.tensor([condition_number(g) for g in grams], dtype=torch.float64)
