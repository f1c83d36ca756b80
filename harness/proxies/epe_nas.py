"""epe_nas: per-class Jacobian correlations (Lopes et al. 2021, "EPE-NAS: Efficient Performance Estimation
Without Training for Neural Architecture Search").

A network that gives samples of the same class correlated input Jacobians, but not all samples alike,
is taken to separate the classes well at initialisation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.proxies._hooks import input_jacobian
from harness.proxies.base import ProxyContext, register_proxy
from harness.proxies.protocol import PaperProtocol

K = 1e-5  # offset inside the log, as in the reference
MANY_CLASSES = 100  # above this, the reference normalises per class and compares classes pairwise


def _class_term(rows: np.ndarray, many_classes: bool) -> float | None:
    """``sum(log(|corrcoef(rows)| + k))`` for one class (divided by its sample count with many classes).

    A class seen once has the 1x1 "matrix" 1.0 in the reference (``np.corrcoef`` of one row), giving
    ``log(1 + k)`` (NaN for a constant row); with many classes the reference's ``len()`` of that scalar
    raises and the class is skipped (None). Zero-variance rows give NaN, which propagates as in the reference.
    """
    if rows.shape[0] == 1:
        if many_classes:
            return None
        return float(np.log(1.0 + K)) if np.var(rows) > 0 else float("nan")  # corrcoef of a constant row: 0/0
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(rows)
        term = float(np.sum(np.log(np.abs(corr) + K)))
    return term / corr.shape[0] if many_classes else term


def epe_nas_from_jacobian(jacobian: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """The EPE-NAS score of Jacobian rows grouped by label (the reference's ``eval_score_perclass``)."""
    jacobian = np.asarray(jacobian, dtype=np.float64)
    labels = np.asarray(labels)
    many = num_classes > MANY_CLASSES
    terms = []
    for label in dict.fromkeys(labels.tolist()):  # first-seen order, like the reference's dict
        term = _class_term(jacobian[labels == label], many)
        if term is not None:
            terms.append(term)
    if not many:
        # |s_c| is part of the published definition (a sum of magnitudes of per-class log-correlation sums).
        return float(sum(np.absolute(t) for t in terms))
    if not terms:
        return 0.0
    return float(sum(np.absolute(a - b) for a in terms for b in terms) / len(terms))


# Paper protocol (EPE-NAS's official search.py, run by its reproduce.sh): one batch of 256 training images with their
# labels (--batch_size 256, --evaluate_size 256) at PyTorch's default init, the network in train mode.
PAPER_PROTOCOL = PaperProtocol(
    source="VascoLopes/EPE-NAS@22bd3410 search.py (--batch_size 256, --evaluate_size 256; networks as built)",
    data="real",
    labels="true",
    batch_size=256,
    deviations="the official loader's training images are augmented (random crop, flip); the harness draws them "
    "unaugmented",
)


@register_proxy(
    "epe_nas",
    needs_labels=True,
    needs_real_data=True,
    higher_is_better=True,
    bn_mode="train",
    mutates_net=False,
    prunable=True,
    splittable=False,
    description="EPE-NAS: per-class sums of log |correlation| of input Jacobians",
    paper="Lopes et al., ICANN 2021",
    protocol=PAPER_PROTOCOL,
)
def epe_nas(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score (<= 100 classes) = sum_c | sum_ij log(|corr(J_c)|_ij + 1e-5) |, J_c = Jacobian rows of class c.

    Differentiated: the sum of all logits w.r.t. the input pixels (one flattened row per sample, as in
    jacov); labels only group the rows. With more than 100 classes (the reference's switch, on the number
    of logits): each class sum is divided by its size and the score is sum_{c,c'} |s_c - s_c'| / #classes.
    BN in train mode, one forward/backward on the whole batch, float64 statistics. Follows NASLib
    ``naslib/predictors/utils/pruners/measures/epe_nas.py`` (from the authors' EPE-NAS ``search.py``),
    as used by NAS-Bench-Suite-Zero; the absolute values are the published definition, not a sign fix.
    Prunable and not splittable for the same reasons as jacov.
    """
    if targets.dim() == 2:  # one-hot / soft labels: the class is the argmax, as in the reference
        targets = targets.argmax(dim=1)
    if targets.dim() != 1 or targets.shape[0] != inputs.shape[0]:
        raise ValueError(f"epe_nas needs one label per sample, got targets of shape {tuple(targets.shape)}")
    jacobian, num_logits = input_jacobian(net, inputs)
    return epe_nas_from_jacobian(jacobian.cpu().numpy(), targets.cpu().numpy(), num_logits)
