"""Exact NTK quantities at initialisation from rows of the parameter Jacobian of the *batch* function.

A row is ∂⟨c, f(X; θ)⟩/∂θ for a cotangent ``c`` over the logits of the whole batch: ``c = e_ik`` gives
∂f_k(x_i)/∂θ, ``c = e_i ⊗ 1`` gives ∂(Σ_k f_k(x_i))/∂θ (TE-NAS's per-sample row). With train-mode BatchNorm
the batch statistics couple the samples, so these are rows of the Jacobian of the function the network
actually computes on the batch — not per-sample Jacobians of a single-sample forward (``vmap`` over single
samples would silently change the BN statistics). One forward builds the graph; every row is one backward
through it (``retain_graph``), ``chunk`` rows at a time (``is_grads_batched``, i.e. vmap over the backward),
so memory is bounded by ``chunk`` gradients and the full Jacobian is never stored unless asked for (the Gram).
On CPU the batched backward was slower than a loop (docs/performance.md), so the default chunk is 1 there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from harness.proxies._grad import check_split, require_logits

ParamFilter = Callable[[str, torch.Tensor], bool]


def all_parameters(name: str, p: torch.Tensor) -> bool:
    return True


def weights_only(name: str, p: torch.Tensor) -> bool:
    """TE-NAS's rule (``lib/procedures/ntk.py``): parameters whose name contains ``weight`` — conv and linear
    weights and the BatchNorm γ; biases and BatchNorm β are left out."""
    return "weight" in name


def select_parameters(net: nn.Module, keep: ParamFilter = all_parameters) -> list[torch.Tensor]:
    params = [p for n, p in net.named_parameters() if p.requires_grad and keep(n, p)]
    if not params:
        raise ValueError("the network has no trainable parameter selected for the NTK")
    return params


def default_chunk(device: torch.device) -> int:
    return 32 if device.type == "cuda" else 1


def stacked_chunk(device: torch.device, networks: int) -> int:
    """Rows per batched backward through ``networks`` stacked networks: each row already carries all their work,
    and memory grows as rows x networks, so the batch of rows shrinks by the same factor (at least one row)."""
    return max(1, default_chunk(device) // max(1, networks))


def jacobian_row_grads(
    logits: torch.Tensor, params: list[torch.Tensor], cotangents: torch.Tensor, chunk: int
) -> Iterator[list[torch.Tensor]]:
    """Per block of ``chunk`` cotangents (``cotangents`` is ``[R, *logits.shape]``), each parameter's Jacobian
    rows as ``[c, *p.shape]``, one row per cotangent; zeros where the output does not depend on a parameter.

    The graph of ``logits`` is kept.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for start in range(0, cotangents.shape[0], chunk):
        block = cotangents[start : start + chunk]
        rows = block.shape[0]
        batched = rows > 1
        grads = torch.autograd.grad(
            logits,
            params,
            grad_outputs=block if batched else block[0],
            retain_graph=True,
            allow_unused=True,
            is_grads_batched=batched,
        )
        yield [
            torch.zeros(rows, *p.shape, device=p.device, dtype=p.dtype) if g is None else g.reshape(rows, *p.shape)
            for p, g in zip(params, grads)
        ]


def jacobian_rows(
    logits: torch.Tensor, params: list[torch.Tensor], cotangents: torch.Tensor, chunk: int
) -> Iterator[torch.Tensor]:
    """Yield ``[c, P]`` blocks of Jacobian rows, one row per cotangent (``jacobian_row_grads`` concatenated)."""
    for grads in jacobian_row_grads(logits, params, cotangents, chunk):
        yield torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1).detach()


def logit_cotangents(batch: int, classes: int, like: torch.Tensor) -> torch.Tensor:
    """``[B*K, B, K]`` one-hot cotangents, row ``i*K + k`` selecting logit k of sample i."""
    return torch.eye(batch * classes, dtype=like.dtype, device=like.device).reshape(-1, batch, classes)


def sample_sum_cotangents(batch: int, classes: int, like: torch.Tensor) -> torch.Tensor:
    """``[B, B, K]`` cotangents, row ``i`` selecting the sum of sample i's logits (TE-NAS)."""
    eye = torch.eye(batch, dtype=like.dtype, device=like.device)
    return eye[:, :, None].expand(batch, batch, classes).contiguous()


def _batch_rows(
    net: nn.Module,
    inputs: torch.Tensor,
    params: list[torch.Tensor],
    cotangent_fn: Callable[[int, int, torch.Tensor], torch.Tensor],
    chunk: int | None,
    micro_batch: int | None,
    proxy: str,
) -> Iterator[torch.Tensor]:
    """Jacobian rows in sample order. With ``micro_batch`` (only when no module couples samples) each slice is
    forwarded on its own: a sample's rows then depend on that sample alone, so the rows are unchanged."""
    for part in check_split(net, inputs.shape[0], micro_batch, proxy):
        logits = require_logits(net(inputs[part]))
        batch, classes = logits.shape
        yield from jacobian_rows(
            logits, params, cotangent_fn(batch, classes, logits), chunk or default_chunk(logits.device)
        )


def logit_jacobian_sq_norms(
    net: nn.Module,
    inputs: torch.Tensor,
    keep: ParamFilter = all_parameters,
    chunk: int | None = None,
    micro_batch: int | None = None,
) -> torch.Tensor:
    """``[B, K]`` float64 matrix of ||∂f_k(x_i)/∂θ||² (the diagonal of the B·K x B·K NTK), batch function."""
    params = select_parameters(net, keep)
    rows = _batch_rows(net, inputs, params, logit_cotangents, chunk, micro_batch, "ntk_trace")
    norms = torch.cat([block.double().square().sum(dim=1).cpu() for block in rows])
    return norms.reshape(inputs.shape[0], -1)


def sample_sum_gram(
    net: nn.Module,
    inputs: torch.Tensor,
    keep: ParamFilter = weights_only,
    chunk: int | None = None,
    micro_batch: int | None = None,
) -> torch.Tensor:
    """``[B, B]`` float64 NTK of TE-NAS: Θ_ij = ⟨∂Σ_k f_k(x_i)/∂θ, ∂Σ_k f_k(x_j)/∂θ⟩ over the kept parameters.

    Holds the ``B x P`` row matrix (float32) once; the products are accumulated in float64 by column blocks.
    """
    params = select_parameters(net, keep)
    rows = torch.cat(list(_batch_rows(net, inputs, params, sample_sum_cotangents, chunk, micro_batch, "ntk_cond")))
    batch = rows.shape[0]
    gram = torch.zeros(batch, batch, dtype=torch.float64, device=rows.device)
    step = 1 << 18
    for start in range(0, rows.shape[1], step):
        block = rows[:, start : start + step].double()
        gram += block @ block.T
    return gram.cpu()
