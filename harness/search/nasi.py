"""NASI's search (Algorithm 1): T reward gradients at alpha_0 = 0 aggregated into one step, then arg-max per edge.

Every step samples a mini-batch and an architecture (straight-through Gumbel-softmax on the NB201 supernet,
whose weights stay at initialisation), scores it with the trace-norm estimator, and differentiates the
penalised reward w.r.t. alpha through the estimator (second order). Alpha itself never moves during the
loop: NASI takes a single first-order step from alpha_0 (its eq. 16-18), so the samples are uniform cells.

Constraint ``nu``: NASI-FIX keeps it fixed (given, or the mean score of ``nu_cells`` uniformly random cells on
the same supernet, each on its own batch); NASI-ADA uses the running mean of the scores of the sampled
architectures, the current one included (with the given ``nu`` as an initial observation when set).

``none_op`` says how NB201's 'none' operation takes part (NASI does not say for NB201): a candidate like any
other, sampled but never chosen at the end (DARTS's derivation), or absent from the space.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from harness.data import make_batch, validate_modes
from harness.datasets import dataset_info
from harness.search.gumbel import sample_gumbel, straight_through
from harness.search.objective import DeltaAggregator, RunningMean, reward, trace_norm_estimate
from harness.search.supernet import NUM_EDGES, NUM_OPS, NB201Supernet, arch_from_choice
from harness.spaces.ops import OP_NAMES

VARIANTS = ("fix", "ada")
# How the 'none' operation takes part: "candidate" (sampled and choosable, as NAS-Bench-201's own search code
# derives cells), "not-derived" (sampled, but the final arg-max skips it, as DARTS's ``genotype`` does), or
# "excluded" (never sampled, never chosen: a 4-operation space; the nu cells are drawn from it too).
NONE_OP_MODES = ("candidate", "not-derived", "excluded")
_NONE = OP_NAMES.index("none")


@dataclass(frozen=True)
class NasiConfig:
    """Settings of one NASI search. Defaults: the paper's DARTS-space values (T=100, b=64, mu=2, tau=1)."""

    variant: str = "fix"
    steps: int = 100
    mu: float = 2.0
    nu: float | None = None
    nu_cells: int = 50
    batch_size: int = 64
    tau: float = 1.0
    cells_per_stage: int = 5
    channels: int = 16
    cell_bn_affine: bool = True  # False: the cells' BNs have no gamma/beta (DARTS / NB201 search-code supernets)
    none_op: str = "candidate"  # see NONE_OP_MODES
    data_mode: str = "real"
    label_mode: str = "true"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown NASI variant {self.variant!r}; expected one of {', '.join(VARIANTS)}")
        if self.none_op not in NONE_OP_MODES:
            raise ValueError(f"unknown none_op {self.none_op!r}; expected one of {', '.join(NONE_OP_MODES)}")
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.mu >= 0, f"mu must be >= 0, got {self.mu}"),
            (self.nu is None or self.nu > 0, f"nu must be > 0, got {self.nu}"),
            (self.nu_cells >= 1, f"nu_cells must be >= 1, got {self.nu_cells}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (batch-norm statistics), got {self.batch_size}"),
            (self.tau > 0, f"tau must be > 0, got {self.tau}"),
            (self.cells_per_stage >= 1, f"cells_per_stage must be >= 1, got {self.cells_per_stage}"),
            (self.channels >= 1, f"channels must be >= 1, got {self.channels}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        validate_modes(self.data_mode, self.label_mode)

    def as_dict(self) -> dict:
        return asdict(self)


def stream_seed(seed: int, stream: str, k: int = 0) -> int:
    """An independent 63-bit seed per (seed, stream, k): the nu estimate never shifts the search's samples."""
    digest = hashlib.sha256(f"nasi-harness/search/{stream}/{seed}/{k}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


@dataclass
class NasiTrace:
    """What the T steps measured: per step the sampled cell, its score and ``d score / d alpha`` (at alpha_0).

    Alpha never moves during NASI's loop, so each step's samples and gradients do not depend on the variant,
    mu, nu or T: the reward gradient is ``G_t = R'(score_t) * d score_t / d alpha`` with the scalar slope
    ``R' = 1`` below nu and ``1 - mu`` above. ``select`` therefore turns one trace into any variant, and the
    first T steps of a 4T trace are exactly a T-step search with the same seed.
    """

    choices: list[list[int]]
    scores: list[float]
    grads: list[list[list[float]]]
    step_seconds: list[float]
    nu_estimate: float | None  # mean score of nu_cells random cells (fix variant without a given nu)
    nu_seconds: float


@dataclass
class NasiOutcome:
    arch: str
    alpha: list[list[float]]  # alpha* = alpha_0 + Delta, rows = edges, columns = OP_NAMES
    nu: float  # the constraint of the last step (fix: constant; ada: the final running mean)
    mean_score: float
    nu_seconds: float


def trace_nasi(
    config: NasiConfig,
    dataset: str,
    seed: int,
    device: torch.device,
    data: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    previous: NasiTrace | None = None,
) -> NasiTrace:
    """Run NASI's ``config.steps`` sampling/differentiation steps (and the fix nu estimate when needed).

    ``previous``: a shorter trace of the same seed and settings to extend; its steps are kept (the random
    streams are replayed past them), so extending T to 4T costs only the new steps.
    """
    done = 0 if previous is None else len(previous.scores)
    if done > config.steps:
        raise ValueError(f"previous trace has {done} steps, more than the {config.steps} asked for")
    info = dataset_info(dataset)
    torch.manual_seed(seed)
    net = NB201Supernet(info.num_classes, config.channels, config.cells_per_stage, config.cell_bn_affine).to(device)
    net.train()

    def batch(stream: str, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        b = make_batch(
            dataset, config.batch_size, config.data_mode, config.label_mode, stream_seed(seed, stream, k), data
        )
        return b.inputs.to(device), b.targets.to(device)

    def fixed_score(choice: list[int], inputs: torch.Tensor, targets: torch.Tensor) -> float:
        weights = torch.zeros(NUM_EDGES, NUM_OPS, device=device)
        weights[range(NUM_EDGES), choice] = 1.0
        logits = net(inputs, weights)
        return float(trace_norm_estimate(logits, targets, net.active_parameters(choice), create_graph=False))

    t0 = time.perf_counter()
    nu_estimate = None if previous is None else previous.nu_estimate
    if config.variant == "fix" and config.nu is None and nu_estimate is None:
        cell_gen = torch.Generator().manual_seed(stream_seed(seed, "nu-cells"))
        ops = [o for o in range(NUM_OPS) if config.none_op != "excluded" or o != _NONE]
        scores = []
        for k in range(config.nu_cells):
            choice = [ops[i] for i in torch.randint(len(ops), (NUM_EDGES,), generator=cell_gen).tolist()]
            scores.append(fixed_score(choice, *batch("nu-data", k)))
        nu_estimate = sum(scores) / len(scores)
        if not nu_estimate > 0:
            raise ValueError(f"estimated nu {nu_estimate!r} is not positive; pass nu explicitly")
    nu_seconds = time.perf_counter() - t0 + (0.0 if previous is None else previous.nu_seconds)

    alpha = torch.zeros(NUM_EDGES, NUM_OPS, device=device, requires_grad=True)
    excluded = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.bool, device=device)
    if config.none_op == "excluded":  # probability 0 and a zero gradient for 'none' on every edge
        excluded[:, _NONE] = True
    gumbel_gen = torch.Generator().manual_seed(stream_seed(seed, "gumbel"))
    trace = NasiTrace([], [], [], [], nu_estimate, nu_seconds)
    if previous is not None:
        for field_name in ("choices", "scores", "grads", "step_seconds"):
            getattr(trace, field_name).extend(getattr(previous, field_name))
    for t in range(config.steps):
        noise = sample_gumbel((NUM_EDGES, NUM_OPS), gumbel_gen)
        if t < done:  # replayed: the generator must advance exactly as in the original run
            continue
        start = time.perf_counter()
        weights = straight_through(alpha.masked_fill(excluded, float("-inf")), noise, config.tau)
        choice = weights.detach().argmax(dim=-1).tolist()
        inputs, targets = batch("search-data", t)
        score = trace_norm_estimate(net(inputs, weights), targets, net.active_parameters(choice), create_graph=True)
        if not torch.isfinite(score.detach()):
            raise ValueError(f"non-finite NASI score at step {t + 1} for {arch_from_choice(choice)}")
        (grad,) = torch.autograd.grad(score, alpha)  # frees the step's graph: memory stays one step's worth
        trace.choices.append(choice)
        trace.scores.append(float(score.detach()))
        trace.grads.append(grad.detach().cpu().tolist())
        del score, grad, weights
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        trace.step_seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(t + 1, config.steps)
    return trace


def reward_slope(score: float, mu: float, nu: float) -> float:
    """``dR/dscore`` at ``score``, from ``reward`` itself (1 up to nu, 1 - mu above)."""
    s = torch.tensor(float(score), dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(reward(s, mu, nu), s)
    return float(slope)


def select(trace: NasiTrace, config: NasiConfig, steps: int | None = None) -> NasiOutcome:
    """Aggregate the first ``steps`` (default ``config.steps``) of ``trace`` for ``config``'s variant, mu and nu."""
    steps = config.steps if steps is None else steps
    if not 1 <= steps <= len(trace.scores):
        raise ValueError(f"steps must be in 1..{len(trace.scores)} for this trace, got {steps}")
    if config.variant == "fix":
        nu = config.nu if config.nu is not None else trace.nu_estimate
        if nu is None:
            raise ValueError("this trace has no nu estimate: give nu for the fix variant")
    running = RunningMean(config.nu) if config.variant == "ada" else None
    aggregator = DeltaAggregator()
    for t in range(steps):
        score = trace.scores[t]
        if running is not None:
            nu = running.update(score)
        aggregator.add(reward_slope(score, config.mu, nu) * torch.tensor(trace.grads[t], dtype=torch.float64))
    alpha_star = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64) + aggregator.delta  # alpha_0 = 0
    choosable = alpha_star.clone()
    if config.none_op != "candidate":
        choosable[:, _NONE] = float("-inf")
    return NasiOutcome(
        arch=arch_from_choice(choosable.argmax(dim=-1).tolist()),
        alpha=[[float(v) for v in row] for row in alpha_star],
        nu=float(nu),
        mean_score=sum(trace.scores[:steps]) / steps,
        nu_seconds=trace.nu_seconds if config.variant == "fix" and config.nu is None else 0.0,
    )


def run_nasi(
    config: NasiConfig,
    dataset: str,
    seed: int,
    device: torch.device,
    data: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> NasiOutcome:
    """One NASI search; deterministic for a seed on a given device."""
    return select(trace_nasi(config, dataset, seed, device, data, progress), config)
