"""vkdnw_entropy_official: VKDNW's entropy as the official code computes it, beside the textbook one.

Tybl & Neumann, CVPR 2025; official code ondratybl/VKDNW, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``
(``get_fisher``, ``cholesky_covariance``, ``get_jacobian_index``, ``compute_nas_score``) at commit 6901b65fc68c
(2025-06-10, the newest); the lines that form the matrix are unchanged since 7c8239f (2024-10-17).

Why two: the paper's FIM is that of the softmax model, F = mean_b J_b^T (diag p_b - p_b p_b^T) J_b =
J^T L L^T J with L L^T the covariance's Cholesky factorisation (``vkdnw_entropy`` in ``vkdnw.py`` computes
this). The official ``get_fisher`` instead multiplies the Jacobian by L from the left
and forms (L J)^T (L J) = J^T L^T L J, another matrix (L^T L != L L^T in general), and it keeps only the
first 128 parameter tensors (``params_grad_len=128``). NB201 networks have 21 + 45 k tensors for k
convolution edges, so the cut acts on every network with k >= 3: 7,120 of the 15,625 (45.6%).

Which one the paper's numbers used: the official one. Table 1 is assembled in ``NB201/paper_preparation.ipynb``
(commit 779a3a8, 2024-11-12, "table 1 adjust") from the wandb runs of ``NB201/tss_general_.py``, which calls
this ``compute_nas_score`` with ``--params_grad_len`` 128 by default; every version of the file from
7c8239f to the newest calls ``get_fisher(..., use_logits=False)``, i.e. J^T L^T L J; no version forms
J^T L L^T J. The published numbers are this code's output, so where the paper's definition and the code
differ, the numbers follow the code.

Computed here (the official procedure, re-derived, not copied):

1. weights re-drawn Kaiming-normal fan-in, biases 0, BN affine 1 / 0 (official ``init_model``; here from a CPU
   generator seeded with ``ctx.seed``, there from the global RNG); the network in eval mode;
2. J[b, c, k] = d logit_c(x_b) / d (first element of the k-th named parameter), k < 128 (the official
   ``get_jacobian_index(model, input, 0, 128)`` of 2024-11; at the newest commit ``--p 1`` selects the same
   single element, ``torch.linspace(0, n - 1, steps=1) = [0]``);
3. p_b = (1 - a) softmax(logits_b) + a / C with the official ``alpha``, a float16 tensor: a = 0.05 rounded
   to float16, and 1 - a and a / C are float16 too (0.9501953125 and, for C = 10, 0.00499725341796875), so p_b
   sums to 1 + 1.7e-4 (C = 10), not 1;
4. L_b = the official ``cholesky_covariance``, the closed-form Cholesky factor of diag(p_b) - p_b p_b^T
   (Tanabe & Sagae 1992): q_k = 1 - sum_{j<=k} p_j with q_{C-1} set to 0 and q_{-1} = 1, d_k = sqrt(p_k q_k /
   q_{k-1}), L[k, k] = d_k, L[i, k] = -p_i d_k / q_k for i > k, the last column 0. Exact for p summing to 1;
   with the float16 smoothing it is the official code's L, whose L L^T is off by ~1e-4;
5. F = 1/B sum_b J_b^T L_b^T L_b J_b (float64 here, float32 there);
6. lambda = the singular values of F (``torch.svd(...).S``); their deciles at 0.1, ..., 0.9 (``torch.quantile``,
   linear interpolation);
7. t = deciles / (sum |deciles| + 1e-10); score = -sum t log(t + 1e-10), in [0, ln 9]; higher is better.

Protocol of the paper's NB201 runs (``tss_general_.py``, defaults; for a ``PaperProtocol`` declaration): data
Gaussian N(0, 1) of the image shape (``vkdnw`` is not in ``real_input_metrics``, so ``trainloader=None`` and
``compute_nas_score`` draws ``torch.randn(batch_size, 3, res, res)``; ``--real_input`` switches to training
images); batch 64 (``--batch_size``); init Kaiming-normal fan-in (inside the score, step 1); one evaluation
per network and run, runs with ``--rand_seed`` 1-5 (Table 1 reports the ``*_mean`` columns over runs); BN
eval mode with fresh running statistics.

VKDNW_single and VKDNW_agg with this entropy: use the column ``vkdnw_entropy_official`` as the entropy
component in place of ``vkdnw_entropy``, beside ``vkdnw_dim`` (which counts all tensors: the official
``vkdnw_dim`` is not cut), e.g.
``aggregates.vkdnw_rank_single(frame, entropy_column="vkdnw_entropy_official")`` or the pool aggregates' component name.
"""

from __future__ import annotations

import dataclasses
import struct

import torch
from torch import nn

from harness.proxies._first_element_jacobian import first_element_jacobian
from harness.proxies._kaiming import cpu_generator, kaiming_normal_fanin_
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.vkdnw import PAPER_PROTOCOL as VKDNW_PROTOCOL

OFFICIAL_TENSORS = 128  # ``params_grad_len``
OFFICIAL_ALPHA = 0.05  # the official ``alpha``, a float16 tensor there: arithmetic on it stays float16
OFFICIAL_SMOOTHING = struct.unpack("e", struct.pack("e", OFFICIAL_ALPHA))[0]  # float16(0.05) = 0.04998779296875
OFFICIAL_EPS = 1e-10
DECILES = tuple(k / 10 for k in range(1, 10))


def official_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Step 3 in float64: the smoothed softmax with the official float16 factors 1 - a and a / C."""
    classes = logits.shape[1]
    alpha = torch.tensor(OFFICIAL_ALPHA, dtype=torch.float16)  # made here: no tensor at import (allocator.py)
    keep, floor = float(1 - alpha), float(alpha / classes)
    return torch.softmax(logits.double(), dim=1) * keep + floor


def multinomial_cholesky(p: torch.Tensor) -> torch.Tensor:
    """[B, C] probabilities -> [B, C, C] lower-triangular L, step 4: L L^T = diag(p) - p p^T when p sums to 1.

    q_k = 1 - cumsum(p)_k with the last set to 0, as the official code forms it (so its L is reproduced also
    when the float16 smoothing leaves p summing to slightly more than 1); needs 1 - cumsum > 0 before the end,
    which holds with the smoothing (each p_k >= a / C)."""
    q = 1.0 - p.cumsum(dim=1)
    q[:, -1] = 0.0
    q_prev = torch.cat([torch.ones_like(q[:, :1]), q[:, :-1]], dim=1)
    d = torch.sqrt(torch.clamp(p * q / q_prev, min=0.0))
    below = -p[:, :, None] * (d / torch.where(q > 0, q, torch.ones_like(q)))[:, None, :]
    return torch.tril(below, diagonal=-1) + torch.diag_embed(d)


def official_fisher(
    net: nn.Module, inputs: torch.Tensor, tensors: int | None = OFFICIAL_TENSORS, micro_batch: int | None = None
) -> torch.Tensor:
    """The official code's matrix, float64: 1/B sum_b J_b^T L_b^T L_b J_b over the first ``tensors`` parameter
    tensors (None: all). Eval mode; samples are independent, so ``micro_batch`` chunks are summed exactly."""
    batch = inputs.shape[0]
    step = batch if micro_batch is None else max(1, int(micro_batch))
    total = None
    for start in range(0, batch, step):
        logits, jac = first_element_jacobian(net, inputs[start : start + step])
        jac = jac if tensors is None else jac[:, :, :tensors]
        lj = multinomial_cholesky(official_probabilities(logits)) @ jac
        part = torch.einsum("bcp,bcq->pq", lj, lj)
        total = part if total is None else total + part
    return total / batch


def official_decile_entropy(fisher: torch.Tensor) -> float:
    """Steps 6-7: the entropy of the normalised deciles of the singular values, with the official 1e-10s."""
    values = torch.linalg.svdvals(fisher)
    deciles = torch.quantile(values, torch.tensor(DECILES, dtype=values.dtype, device=values.device))
    t = deciles / (deciles.abs().sum() + OFFICIAL_EPS)
    return float(-(t * torch.log(t + OFFICIAL_EPS)).sum()) + 0.0  # + 0.0: no -0.0 when all deciles are 0


# Paper protocol (the official code; see harness.proxies.protocol and the module docstring): weights Kaiming-normal
# fan-in (drawn by the proxy under both protocols), one batch of 64 N(0, 1) inputs, eval mode.
# vkdnw_entropy's declaration, less its deviation (this proxy is what that deviation names).
PAPER_PROTOCOL = dataclasses.replace(VKDNW_PROTOCOL, deviations="")


@register_proxy(
    "vkdnw_entropy_official",
    needs_labels=False,
    needs_real_data=False,
    higher_is_better=True,
    bn_mode="eval",
    mutates_net=True,
    prunable=True,
    splittable=True,
    description="VKDNW entropy as the official code computes it: J^T L^T L J over the first 128 tensors",
    version=2,  # 2: the official float16 1 - a and a / C, and its 1 - cumsum tails (1: float64 smoothing)
    paper="Tybl & Neumann, CVPR 2025",
    protocol=PAPER_PROTOCOL,
)
def vkdnw_entropy_official(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = decile entropy of the official code's matrix J^T L^T L J (module docstring, steps 1-7).

    The matrix the paper's published numbers were computed with (module docstring); ``vkdnw_entropy`` is the
    textbook FIM's. Mutates the network (re-initialisation); prunable (dead
    edges give zero Jacobian columns either way; pruning keeps every parameter, so the 128-tensor cut selects
    the same tensors); splittable (eval mode: F sums over independent samples).
    """
    kaiming_normal_fanin_(net, cpu_generator(ctx.seed))
    return official_decile_entropy(official_fisher(net, inputs, OFFICIAL_TENSORS, ctx.micro_batch))
