"""The exact optimum of NASI's penalised objective over a fully scored space: what a perfect optimiser would pick.

NASI's search maximises R(A) = s(A) - mu * max(0, s(A) - nu) with s = the trace-norm estimate. With every cell's
s known (e.g. ``nasi`` over all 15,625 NB201 cells), the maximiser needs no search: for mu > 1 it is the cell with
the largest s <= nu or one just above it; for mu = 1 every cell with s >= nu ties at R = nu; for mu < 1 it is the
largest s. Its accuracy bounds what the search can reach at that (mu, nu) -- apart from the search's own noise
(one mini-batch and one initialisation per step), which this deliberately leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObjectiveOptimum:
    mu: float
    nu: float
    best_reward: float
    cells: np.ndarray  # indices of every maximiser (ties: all of them)
    accuracy_mean: float  # over the maximisers
    near_cells: np.ndarray  # the top ``near`` cells by R (a stand-in for "the search lands close to the optimum")
    near_accuracy_mean: float
    near_accuracy_std: float


def rewards(scores: np.ndarray, mu: float, nu: float) -> np.ndarray:
    """R = s - mu * max(0, s - nu), elementwise; NaN scores stay NaN."""
    scores = np.asarray(scores, dtype=float)
    return scores - mu * np.maximum(0.0, scores - nu)


def objective_optimum(
    indices: np.ndarray, scores: np.ndarray, accuracy: np.ndarray, mu: float, nu: float, near: int = 10,
    rtol: float = 1e-12,
) -> ObjectiveOptimum:  # fmt: skip
    """The maximisers of R over the scored cells (NaN scores and NaN accuracies left out) and their accuracy.

    ``indices``, ``scores`` and ``accuracy`` are aligned arrays. Ties are rewards within ``rtol`` of the best.
    """
    if mu < 0:
        raise ValueError(f"mu must be >= 0, got {mu}")
    indices, scores, accuracy = (np.asarray(a) for a in (indices, scores, accuracy))
    if not (indices.shape == scores.shape == accuracy.shape):
        raise ValueError("indices, scores and accuracy must have the same shape")
    keep = np.isfinite(scores) & np.isfinite(accuracy.astype(float))
    if not keep.any():
        raise ValueError("no cell has both a finite score and an accuracy")
    indices, scores, accuracy = indices[keep], scores[keep], accuracy[keep].astype(float)
    r = rewards(scores, mu, nu)
    best = float(r.max())
    tied = r >= best - rtol * max(1.0, abs(best))
    order = np.argsort(-r, kind="stable")[: max(1, near)]
    return ObjectiveOptimum(
        mu=mu, nu=nu, best_reward=best, cells=indices[tied], accuracy_mean=float(accuracy[tied].mean()),
        near_cells=indices[order], near_accuracy_mean=float(accuracy[order].mean()),
        near_accuracy_std=float(accuracy[order].std(ddof=1)) if order.size > 1 else 0.0,
    )  # fmt: skip
