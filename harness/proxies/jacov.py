"""jacov: Jacobian covariance (Mellor et al. 2020, "Neural Architecture Search without Training", arXiv v1).

Networks whose input Jacobians are decorrelated across samples separate inputs better at initialisation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.proxies._hooks import input_jacobian
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import ZERO_COST_NAS, table_one_protocol

K = 1e-5  # eigenvalue offset of the reference


def jacov_from_jacobian(jacobian: np.ndarray) -> float:
    """``-sum(log(v + k) + 1/(v + k))`` over the eigenvalues ``v`` of the sample correlation matrix of the
    Jacobian rows. NaN when the matrix is undefined (a sample with a constant Jacobian, e.g. a cell whose
    output ignores its input) or when an eigenvalue is below ``-k`` (log of a negative number)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(np.asarray(jacobian, dtype=np.float64))
    if not np.all(np.isfinite(corr)):
        return float("nan")
    eigenvalues = np.linalg.eigvalsh(corr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(-np.sum(np.log(eigenvalues + K) + 1.0 / (eigenvalues + K)))


# Paper protocol (VKDNW's Table 1 code, see harness.proxies.protocol): Kaiming-normal fan-in weights, one batch of
# 64 training images (the code reads the loader itself), BN in train mode.
PAPER_PROTOCOL = table_one_protocol(
    "jacov",
    data="real",
    driver=False,
    notes=f"Abdelfattah et al.'s zero-cost code uses PyTorch's default init: {ZERO_COST_NAS}",
)


@register_proxy(
    "jacov",
    needs_labels=False,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="Jacobian covariance: -sum(log(v+k)+1/(v+k)) over eigenvalues of the input-Jacobian correlation",
    paper="Mellor et al., arXiv 2020 (v1)",
    protocol=PAPER_PROTOCOL,
)
def jacov(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = -sum_i [log(v_i + 1e-5) + 1/(v_i + 1e-5)], v = eigenvalues of ``corrcoef(J)``.

    Differentiated: the sum of all logits w.r.t. the input pixels, one row of ``J`` per sample (flattened
    C*H*W); no loss, no labels, no parameters. BN in train mode (batch statistics), one forward/backward on
    the whole batch. Correlations and eigenvalues in float64 (``eigvalsh``: the matrix is symmetric, the
    reference's general ``eig`` gives the same real spectrum). Follows NASLib
    ``naslib/predictors/utils/pruners/measures/jacov.py`` (the v1 score of Mellor et al. 2020, as used by
    NAS-Bench-Suite-Zero). Prunable: only the logits and their input gradient enter, and pruning skips
    exactly the edges that cannot affect the logits. Not splittable: with train-mode BN every sample's
    Jacobian depends on the whole batch.
    """
    jacobian, _ = input_jacobian(net, inputs)
    if jacobian.shape[0] < 2:
        raise ValueError(f"jacov needs at least 2 samples for a correlation matrix, got {jacobian.shape[0]}")
    return jacov_from_jacobian(jacobian.cpu().numpy())
