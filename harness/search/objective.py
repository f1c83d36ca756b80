"""NASI's objective pieces (Shu et al., ICLR 2022, Sec. 3): the trace-norm estimator, the penalised reward and
the one-step aggregation of reward gradients. Kept apart from the search loop so each is testable alone."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


def trace_norm_estimate(
    logits: torch.Tensor, targets: torch.Tensor, params: Iterable[nn.Parameter], create_graph: bool
) -> torch.Tensor:
    """NASI's estimator of the NTK trace norm (its eq. 12, constants dropped): ``||grad_theta mean CE||_2^2``.

    ``create_graph`` keeps the graph so the estimate can itself be differentiated (w.r.t. architecture
    weights): the search needs that second-order path, scoring a fixed cell does not.
    """
    loss = F.cross_entropy(logits, targets)
    params = [p for p in params if p.requires_grad]
    grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
    total = logits.new_zeros(())
    for g in grads:
        if g is not None:
            total = total + g.pow(2).sum()
    return total


def reward(score: torch.Tensor, mu: float, nu: float) -> torch.Tensor:
    """``R = score - mu * max(0, score - nu)`` (NASI eq. 13/14): the trace norm, exterior penalty above ``nu``."""
    return score - mu * torch.relu(score - nu)  # relu: slope 1 at score == nu (no excess, no penalty)


class DeltaAggregator:
    """NASI eq. 18: ``Delta = (1/T) sum_t G_t / max(||G_1||, ..., ||G_t||)`` (with xi = 1).

    The running maximum norm stands in for the norm of the expected gradient; it never decreases, which acts
    like a decaying step size. A zero gradient while every norm so far is zero adds nothing but still counts.
    """

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.max_norm = 0.0
        self.count = 0

    def add(self, grad: torch.Tensor) -> torch.Tensor:
        """Aggregate one step's reward gradient; returns its normalised term ``G_t / max norm`` (before the 1/T)."""
        grad = grad.detach()
        norm = float(grad.norm())
        if not math.isfinite(norm):
            raise ValueError(f"non-finite reward gradient at step {self.count + 1}")
        self.max_norm = max(self.max_norm, norm)
        term = grad / self.max_norm if self.max_norm > 0 else torch.zeros_like(grad)
        self.total = term if self.total is None else self.total + term
        self.count += 1
        return term

    @property
    def delta(self) -> torch.Tensor:
        if self.total is None:
            raise ValueError("no gradient aggregated yet")
        return self.total / self.count


class RunningMean:
    """NASI-ADA's constraint: ``nu`` is the mean of the scores seen so far (an optional initial value counts as one)."""

    def __init__(self, initial: float | None = None) -> None:
        self.sum = 0.0 if initial is None else float(initial)
        self.count = 0 if initial is None else 1

    def update(self, value: float) -> float:
        self.sum += float(value)
        self.count += 1
        return self.sum / self.count
