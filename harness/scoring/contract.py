"""The proxy contract: what every registered proxy must do for the engine's guarantees to hold.

Run on a handful of NB201 cells with a Gaussian batch (no dataset needed), as the engine would call the proxy
(seeded build, declared BN mode, pruning when declared). The checks:

- ``finite``: a finite number on normal cells (a returned None, string or multi-element tensor fails here);
- ``degenerate``: on a cell whose output ignores its input, a status (``degenerate`` with the score kept,
  ``nan`` or ``error``), never a sentinel (a finite placeholder ≥ 1e6 times the normal cells' largest score);
- ``deterministic``: the same score twice for a seed;
- ``labels``: declared ``needs_labels=False`` -> the same score under random labels;
- ``bn_mode``: the network's train/eval flags after the call are the declared mode (a proxy that switches modes
  restores them), and ``mutates_net=False`` -> the parameters are unchanged;
- ``prunable``: declared -> skipping dead edges gives the same score (relative 1e-5);
- ``splittable``: declared -> micro-batches give the whole-batch score (relative 1e-5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from harness.datasets import dataset_info
from harness.proxies import ProxyContext, ProxySpec, get_proxy
from harness.scoring.records import DEGENERATE, NAN, OK, error_status
from harness.spaces import get_space

# NB201 cells: all edges live; nodes 1 and 2 unused (dead edges, for pruning); output independent of the input.
LIVE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
DEAD_EDGES = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
DEGENERATE_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
RELATIVE = 1e-5
SENTINEL_FACTOR = 1e6


@dataclass(frozen=True)
class Check:
    """One line of the verdict: ``passed`` is None when the check does not apply to the proxy's declarations."""

    name: str
    passed: bool | None
    detail: str


@dataclass
class ContractReport:
    proxy: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]


@dataclass(frozen=True)
class _Call:
    score: float | None
    status: str
    modes_kept: bool = True
    params_kept: bool = True


def check_proxy(
    name: str,
    *,
    batch_size: int = 8,
    seed: int = 0,
    dataset: str = "cifar10",
    cells: Sequence[str] = (LIVE, DEAD_EDGES),
) -> ContractReport:
    """Run the contract on proxy ``name`` (registered: built-in or loaded from a plugin)."""
    spec = get_proxy(name)
    classes = dataset_info(dataset).num_classes
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, 32, 32, generator=gen)
    targets = torch.arange(batch_size) % classes  # every class present once the batch is large enough
    random_targets = torch.randint(0, classes, (batch_size,), generator=gen)
    report = ContractReport(name)

    def call(cell: str, labels: torch.Tensor = targets, **kw: object) -> _Call:
        return _call(spec, cell, inputs, labels, dataset=dataset, seed=seed, **kw)  # type: ignore[arg-type]

    normal = {cell: call(cell) for cell in cells}
    bad = {c: r for c, r in normal.items() if r.status != OK}
    scores = [r.score for r in normal.values() if r.score is not None]
    report.checks.append(Check("finite", not bad, f"{len(cells)} cells, finite scores" if not bad else _first(bad)))
    if bad:  # nothing else can be judged on cells that give no score
        return report

    degenerate = call(DEGENERATE_CELL)
    largest = max(abs(s) for s in scores)
    sentinel = degenerate.score is not None and abs(degenerate.score) >= SENTINEL_FACTOR * max(largest, 1e-12)
    report.checks.append(
        Check(
            "degenerate",
            not sentinel,
            f"status {degenerate.status!r}"
            + (f", score {degenerate.score:.6g} kept" if degenerate.score is not None else "")
            + (
                f": a sentinel? ≥ {SENTINEL_FACTOR:g} x the normal cells' largest |score| {largest:.3g}"
                if sentinel
                else ""
            ),
        )  # fmt: skip
    )

    first_cell, first = next(iter(normal.items()))
    again = call(first_cell)
    report.checks.append(Check("deterministic", again.score == first.score, f"{first.score!r} then {again.score!r}"))

    if spec.needs_labels:
        report.checks.append(Check("labels", None, "needs_labels=True: labels may change the score"))
    else:
        shuffled = call(first_cell, random_targets)
        report.checks.append(
            Check("labels", shuffled.score == first.score,
                  f"needs_labels=False: true labels {first.score!r}, random labels {shuffled.score!r}")
        )  # fmt: skip

    kept = all(r.modes_kept for r in normal.values())
    params = spec.mutates_net or all(r.params_kept for r in normal.values())
    problems = ([] if kept else [f"train/eval flags not left in the declared {spec.bn_mode!r} mode"]) + (
        [] if params else ["parameters changed but mutates_net=False"]
    )
    report.checks.append(
        Check(
            "bn_mode", not problems, "; ".join(problems) or f"{spec.bn_mode} mode kept, mutates_net={spec.mutates_net}"
        )
    )

    if not spec.prunable:
        report.checks.append(Check("prunable", None, "not declared"))
    else:
        full, pruned = call(DEAD_EDGES, prune=False), call(DEAD_EDGES, prune=True)
        report.checks.append(
            Check(
                "prunable",
                _close(full.score, pruned.score),
                f"dead edges computed {full.score!r}, skipped {pruned.score!r}",
            )
        )

    if not spec.splittable:
        report.checks.append(Check("splittable", None, "not declared"))
    else:
        micro = max(1, (batch_size + 1) // 2)
        split = call(first_cell, micro=micro)
        report.checks.append(
            Check("splittable", _close(first.score, split.score),
                  f"whole batch {first.score!r}, micro-batches of {micro} {split.score!r}"
                  + (f" ({split.status})" if split.status != OK else ""))
        )  # fmt: skip
    return report


def _call(
    spec: ProxySpec,
    cell: str,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    dataset: str,
    seed: int,
    prune: bool | None = None,
    micro: int | None = None,
) -> _Call:
    """One score, as the engine computes it (seeded build, declared BN mode, pruning when declared)."""
    sp = get_space("nb201")
    torch.manual_seed(seed)
    net = sp.build(cell, dataset)
    net.set_prune(spec.prunable if prune is None else prune)
    net.train(spec.bn_mode == "train")
    before = [p.detach().clone() for p in net.parameters()]
    ctx = ProxyContext(num_classes=dataset_info(dataset).num_classes, cost=sp.cost(cell, dataset), seed=seed)
    ctx.micro_batch = micro
    try:
        score: float | None = spec(net, inputs, targets, ctx)
    except Exception as exc:  # noqa: BLE001 - a failure is a status, as in the engine
        return _Call(None, error_status(exc))
    status = OK
    if not math.isfinite(score):
        score, status = None, NAN
    elif sp.is_degenerate(cell):
        status = DEGENERATE
    modes_kept = all(m.training == (spec.bn_mode == "train") for m in net.modules())
    params_kept = all(torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))
    return _Call(score, status, modes_kept, params_kept)


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12)


def _first(bad: dict[str, _Call]) -> str:
    cell, result = next(iter(bad.items()))
    return f"{len(bad)} of the normal cells gave no score; {cell}: {result.status}"


def format_report(report: ContractReport) -> list[str]:
    """The one-screen verdict, one line per check then the conclusion."""
    marks = {True: "PASS", False: "FAIL", None: "n/a "}
    lines = [f"proxy {report.proxy}: contract on NB201 cells, Gaussian batch"]
    lines += [f"  {marks[c.passed]}  {c.name:<13} {c.detail}" for c in report.checks]
    failed = report.failures()
    lines.append(
        f"verdict: {'PASS' if report.ok else 'FAIL'}"
        + (
            f" ({len(failed)} check{'s' * (len(failed) > 1)} failed: {', '.join(c.name for c in failed)})"
            if failed
            else ""
        )
    )
    return lines
