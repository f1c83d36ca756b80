"""Straight-through Gumbel-softmax sampling of one operation per edge (Jang et al., 2017; NASI Sec. 3.3)."""

from __future__ import annotations

import torch


def sample_gumbel(shape: tuple[int, ...], generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """Standard Gumbel(0, 1) noise from ``generator`` (CPU), so a seed fixes every sampled architecture."""
    u = torch.rand(shape, generator=generator, dtype=dtype)
    tiny = torch.finfo(dtype).tiny
    return -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))


def straight_through(logits: torch.Tensor, noise: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Exactly one-hot rows (arg-max of ``(logits + noise) / tau``) whose gradient is the softmax's.

    ``hard + (soft - soft.detach())`` rather than ``hard - soft.detach() + soft``: the added term is exactly
    zero, so the forward pass is exactly the sampled architecture, not one up to rounding.
    """
    if tau <= 0:
        raise ValueError(f"Gumbel-softmax temperature must be > 0, got {tau}")
    soft = torch.softmax((logits + noise.to(logits.device, logits.dtype)) / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.detach().argmax(dim=-1, keepdim=True), 1.0)
    return hard + (soft - soft.detach())
