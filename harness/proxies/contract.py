"""The proxy contract: what every registered proxy must do for the engine's guarantees to hold.

Run on a handful of cells of one search space (NB201 by default; any registered space, a plugin's included) with
a Gaussian batch (no dataset needed), as the engine would call the proxy (seeded build, declared BN mode, pruning
when declared). The checks:

- ``finite``: a finite number on normal cells (a returned None, string or multi-element tensor fails here);
- ``degenerate``: on a cell whose output ignores its input, a status (``degenerate`` with the score kept,
  ``nan`` or ``error``), never a sentinel (a finite placeholder ≥ 1e6 times the normal cells' largest score);
  skipped (n/a, with the reason) on a space that names no such cell (it does not override ``is_degenerate``, or
  none of the sampled cells is one);
- ``deterministic``: the same score twice for a seed;
- ``labels``: declared ``needs_labels=False`` -> the same score under random labels;
- ``bn_mode``: the network's train/eval flags after the call are the declared mode (a proxy that switches modes
  restores them), and ``mutates_net=False`` -> the parameters are unchanged;
- ``prunable``: declared -> pruning (dead edges skipped, convolutions of zero nodes not computed) gives the same
  score (relative 1e-5); n/a on a space whose networks have no ``set_prune`` (the engine never prunes them);
- ``splittable``: declared -> micro-batches give the whole-batch score (relative 1e-5).

Each check is one function, ``check_<name>``, of the scores the proxy gave (``check_proxy`` runs ``check_finite``,
then ``CHECKS`` in this order when every normal cell gave a score).

Which cells (``contract_cells``): on NB201 two fixed normal cells (one with edges pruning skips) and a fixed
input-independent one; on any other space ``SAMPLED`` cells drawn with the seed, the degenerate one found among
up to ``SCAN`` drawn cells by the space's own ``is_degenerate``; or the cells the caller names. Before any proxy
runs, every chosen cell is built, costed and run forward once: a space that cannot do that is one
``ContractError`` line, not a proxy failure.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from harness.datasets import dataset_info
from harness.errors import HarnessError
from harness.proxies import ProxyContext, ProxySpec, get_proxy
from harness.proxies.status import DEGENERATE, NAN, OK, error_status
from harness.spaces import SearchSpace, get_space, space_names

# NB201 cells: all edges live; pruned edges (below); output independent of the input.
LIVE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
# DEAD_EDGES: node 1 is zero (only ``none`` into it) and node 2 unused, so pruning skips node 2's edges and does not
# compute node 3's convolution of node 1 (its exact output is known): a proxy must score it as with every edge computed.
DEAD_EDGES = "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|"
DEGENERATE_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
RELATIVE = 1e-5
SENTINEL_FACTOR = 1e6
SAMPLED = 3  # normal cells drawn on a space other than NB201
SCAN = 1000  # cells drawn at most to find them (and a degenerate one)
MAX_CELLS = 16  # cells a caller may name: the contract is a quick check, not a scoring run


class ContractError(HarnessError):
    """The contract cannot run: an unknown space, a space that cannot build its cells, a bad cell selection."""


@dataclass(frozen=True)
class ContractCells:
    """The cells (official indices) the contract runs on in one space."""

    space: str
    normal: tuple[int, ...]
    degenerate: int | None  # a cell whose output ignores its input; None: the check is skipped, ``why`` says why
    why: str
    dead_edges: int | None  # a cell with edges pruning skips (NB201); None: the first normal cell


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
    space: str = "nb201"

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


def load_space(name: str) -> SearchSpace:
    """The registered space ``name``, or one ``ContractError`` line (unknown, or a class that cannot be made)."""
    try:
        return get_space(name)
    except ValueError:
        raise ContractError(
            f"unknown search space {name!r}; registered: {', '.join(space_names())} "
            "(a plugin space needs --plugin FILE.py)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a plugin class that cannot be instantiated is one line
        raise ContractError(f"search space {name!r} cannot be instantiated: {_one_line(exc)}") from None


def contract_cells(space: str = "nb201", cells: Sequence[int | str] | None = None, *, seed: int = 0) -> ContractCells:
    """The cells of ``space`` the contract runs on: ``cells`` when given (its degenerate members, by the space's
    ``is_degenerate``, go to the degenerate check), else NB201's fixed cells or ``SAMPLED`` cells drawn with
    ``seed`` (see the module docstring)."""
    sp = load_space(space)
    named = type(sp).is_degenerate is not SearchSpace.is_degenerate
    try:
        size = len(sp)
    except Exception as exc:  # noqa: BLE001 - foreign code: one line
        raise ContractError(f"search space {space!r} cannot list its cells: {_one_line(exc)}") from None
    if size < 1:
        raise ContractError(f"search space {space!r} has no cells")
    given: list[int] | None = None
    if cells is not None:
        given = list(dict.fromkeys(sp.resolve(c) for c in cells))  # a malformed cell: the space's ValueError
        if not given or len(given) > MAX_CELLS:
            raise ContractError(f"proxy check takes 1 to {MAX_CELLS} cells, got {len(given)}")
    flags = _Degenerate(sp, space, named)
    order = random.Random(seed).sample(range(size), min(size, SCAN))  # the space's own sampling
    if given is not None:
        normal = [i for i in given if not flags(i)]
        if not normal:
            raise ContractError(f"every chosen {space} cell is degenerate (input-independent); name a normal one too")
    elif space == "nb201":
        normal = [sp.resolve(LIVE), sp.resolve(DEAD_EDGES)]
    else:
        normal = sorted(itertools.islice((i for i in order if not flags(i)), SAMPLED))
        if not normal:
            raise ContractError(f"none of {len(order)} sampled {space} cells is a normal (input-dependent) one")
    degenerate = next((i for i in given or () if flags(i)), None)
    dead_edges, why = None, ""
    if space == "nb201":
        degenerate = sp.resolve(DEGENERATE_CELL) if degenerate is None else degenerate
        dead_edges = sp.resolve(DEAD_EDGES)
    elif not named:
        why = f"{space} names no input-independent cell (it does not override is_degenerate)"
    elif degenerate is None:
        degenerate = next((i for i in order if flags(i)), None)
        if degenerate is None:
            why = f"none of {len(order)} sampled {space} cells is degenerate (by its is_degenerate)"
    return ContractCells(space, tuple(normal), degenerate, why, dead_edges)


class _Degenerate:
    """``space.is_degenerate`` of an index (False when the space does not override it); foreign code: one line."""

    def __init__(self, sp: SearchSpace, name: str, named: bool) -> None:
        self.sp, self.name, self.named = sp, name, named

    def __call__(self, index: int) -> bool:
        if not self.named:
            return False
        try:
            return bool(self.sp.is_degenerate(index))
        except Exception as exc:  # noqa: BLE001
            raise ContractError(
                f"search space {self.name!r}: is_degenerate({index}) failed: {_one_line(exc)}"
            ) from None


def check_space(cells: ContractCells, inputs: torch.Tensor, *, dataset: str = "cifar10", seed: int = 0) -> bool:
    """Build, cost and run forward every contract cell once (no proxy): a space that cannot is one
    ``ContractError`` line naming the cell. Returns whether its networks can prune (have ``set_prune``)."""
    sp = get_space(cells.space)
    classes = dataset_info(dataset).num_classes
    chosen = [*cells.normal, *(c for c in (cells.degenerate, cells.dead_edges) if c is not None)]
    prunes = True
    for index in dict.fromkeys(chosen):
        where = f"search space {cells.space!r} cannot build cell {_label(sp, index)}"
        try:
            torch.manual_seed(seed)
            net = sp.build(index, dataset)
            if not isinstance(net, torch.nn.Module):
                raise TypeError(f"build returned {type(net).__name__}, expected a torch.nn.Module")
            sp.cost(index, dataset)
            net.eval()
            with torch.no_grad():
                out = net(inputs)
        except Exception as exc:  # noqa: BLE001 - foreign code: one line
            raise ContractError(f"{where}: {_one_line(exc)}") from None
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (inputs.shape[0], classes):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ContractError(f"{where}: its network returned {shape}, expected logits of shape "
                                f"({inputs.shape[0]}, {classes})")  # fmt: skip
        prunes = prunes and callable(getattr(net, "set_prune", None))
    return prunes


@dataclass
class _Subject:
    """What the contract checks share: the proxy, its cells, the Gaussian batch and the normal cells' scores (one
    call each, made once). ``call`` scores one cell as the engine would."""

    spec: ProxySpec
    sp: SearchSpace
    cells: ContractCells
    inputs: torch.Tensor
    targets: torch.Tensor
    random_targets: torch.Tensor
    can_prune: bool
    dataset: str
    seed: int
    normal: dict[int, _Call] = field(default_factory=dict)

    def call(self, cell: int, labels: torch.Tensor | None = None, **kw: object) -> _Call:
        labels = self.targets if labels is None else labels
        return _call(self.spec, self.sp, cell, self.inputs, labels, dataset=self.dataset, seed=self.seed,
                     **kw)  # type: ignore[arg-type]  # fmt: skip

    @property
    def first_cell(self) -> int:
        return next(iter(self.normal))

    @property
    def first(self) -> _Call:
        return self.normal[self.first_cell]


def check_finite(s: _Subject) -> Check:
    """A finite number on every normal cell (the other checks need these scores)."""
    bad = {c: r for c, r in s.normal.items() if r.status != OK}
    shown = ", ".join(_label(s.sp, c) for c in s.cells.normal)
    n = len(s.normal)
    detail = f"{n} cell{'s' * (n > 1)} ({shown}), finite scores" if not bad else _first(s.sp, bad)
    return Check("finite", not bad, detail)


def check_degenerate(s: _Subject) -> Check:
    """On the input-independent cell, a status, never a sentinel score."""
    cells = s.cells
    if cells.degenerate is None:
        return Check("degenerate", None, f"skipped: {cells.why}")
    degenerate = s.call(cells.degenerate)
    largest = max(abs(r.score) for r in s.normal.values() if r.score is not None)
    sentinel = degenerate.score is not None and abs(degenerate.score) >= SENTINEL_FACTOR * max(largest, 1e-12)
    return Check(
        "degenerate",
        not sentinel,
        f"cell {_label(s.sp, cells.degenerate)}: status {degenerate.status!r}"
        + (f", score {degenerate.score:.6g} kept" if degenerate.score is not None else "")
        + (
            f": a sentinel? ≥ {SENTINEL_FACTOR:g} x the normal cells' largest |score| {largest:.3g}"
            if sentinel
            else ""
        ),
    )  # fmt: skip


def check_deterministic(s: _Subject) -> Check:
    """The same score twice for a seed."""
    first, again = s.first, s.call(s.first_cell)
    return Check("deterministic", again.score == first.score, f"{first.score!r} then {again.score!r}")


def check_labels(s: _Subject) -> Check:
    """``needs_labels=False``: the same score under random labels."""
    if s.spec.needs_labels:
        return Check("labels", None, "needs_labels=True: labels may change the score")
    first, shuffled = s.first, s.call(s.first_cell, s.random_targets)
    return Check("labels", shuffled.score == first.score,
                 f"needs_labels=False: true labels {first.score!r}, random labels {shuffled.score!r}")  # fmt: skip


def check_bn_mode(s: _Subject) -> Check:
    """The declared BN mode left in place, and the parameters unchanged unless ``mutates_net``."""
    spec = s.spec
    kept = all(r.modes_kept for r in s.normal.values())
    params = spec.mutates_net or all(r.params_kept for r in s.normal.values())
    problems = ([] if kept else [f"train/eval flags not left in the declared {spec.bn_mode!r} mode"]) + (
        [] if params else ["parameters changed but mutates_net=False"]
    )
    return Check(
        "bn_mode", not problems, "; ".join(problems) or f"{spec.bn_mode} mode kept, mutates_net={spec.mutates_net}"
    )


def check_prunable(s: _Subject) -> Check:
    """``prunable``: the same score with pruning on and off (on NB201, a cell with edges pruning skips)."""
    if not s.spec.prunable:
        return Check("prunable", None, "not declared")
    if not s.can_prune:
        return Check("prunable", None, f"{s.cells.space} networks have no set_prune: the engine never prunes")
    dead_edges = s.cells.dead_edges
    cell = s.first_cell if dead_edges is None else dead_edges
    full, pruned = s.call(cell, prune=False), s.call(cell, prune=True)
    label = _label(s.sp, cell)
    detail = (
        f"pruned edges of cell {label} computed {full.score!r}, skipped {pruned.score!r}"
        if dead_edges is not None
        else f"cell {label}: pruning off {full.score!r}, on {pruned.score!r}"
    )
    return Check("prunable", _close(full.score, pruned.score), detail)


def check_splittable(s: _Subject) -> Check:
    """``splittable``: micro-batches of half the batch give the whole-batch score."""
    if not s.spec.splittable:
        return Check("splittable", None, "not declared")
    first = s.first
    micro = max(1, (s.inputs.shape[0] + 1) // 2)
    split = s.call(s.first_cell, micro=micro)
    return Check("splittable", _close(first.score, split.score),
                 f"whole batch {first.score!r}, micro-batches of {micro} {split.score!r}"
                 + (f" ({split.status})" if split.status != OK else ""))  # fmt: skip


# The checks after ``check_finite``, in the order of the verdict; each judges the scores ``check_finite`` passed.
CHECKS = (check_degenerate, check_deterministic, check_labels, check_bn_mode, check_prunable, check_splittable)


def check_proxy(
    name: str,
    *,
    space: str = "nb201",
    cells: Sequence[int | str] | None = None,
    batch_size: int = 8,
    seed: int = 0,
    dataset: str = "cifar10",
) -> ContractReport:
    """Run the contract on proxy ``name`` (registered: built-in or loaded from a plugin) over cells of ``space``
    (``contract_cells``: ``cells`` when given, else the space's own): ``check_finite``, then, when every normal
    cell gave a score, each of ``CHECKS``. ``ContractError`` when the space cannot run it."""
    spec = get_proxy(name)
    chosen = contract_cells(space, cells, seed=seed)
    info = dataset_info(dataset)
    classes = info.num_classes
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, info.resolution, info.resolution, generator=gen)
    targets = torch.arange(batch_size) % classes  # every class present once the batch is large enough
    random_targets = torch.randint(0, classes, (batch_size,), generator=gen)
    can_prune = check_space(chosen, inputs, dataset=dataset, seed=seed)
    subject = _Subject(spec, get_space(space), chosen, inputs, targets, random_targets, can_prune, dataset, seed)
    subject.normal = {cell: subject.call(cell) for cell in chosen.normal}
    report = ContractReport(name, space=space)
    report.checks.append(check_finite(subject))
    if report.checks[-1].passed:  # nothing else can be judged on cells that give no score
        report.checks.extend(check(subject) for check in CHECKS)
    return report


def _call(
    spec: ProxySpec,
    sp: SearchSpace,
    cell: int,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    dataset: str,
    seed: int,
    prune: bool | None = None,
    micro: int | None = None,
) -> _Call:
    """One score, as the engine computes it (seeded build, declared BN mode, pruning when declared)."""
    torch.manual_seed(seed)
    net = sp.build(cell, dataset)
    if hasattr(net, "set_prune"):  # as the engine: a space whose networks cannot prune is never pruned
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


def _label(sp: SearchSpace, index: int) -> str:
    """A cell as shown: its arch string when short (w8, 8:16:24:32:40), else its index (NB201's are long)."""
    arch = sp.arch(index)
    return arch if len(arch) <= 24 else str(index)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12)


def _first(sp: SearchSpace, bad: dict[int, _Call]) -> str:
    cell, result = next(iter(bad.items()))
    return f"{len(bad)} of the normal cells gave no score; cell {_label(sp, cell)}: {result.status}"


def format_report(report: ContractReport) -> list[str]:
    """The one-screen verdict, one line per check then the conclusion."""
    marks = {True: "PASS", False: "FAIL", None: "n/a "}
    lines = [f"proxy {report.proxy}: contract on {report.space} cells, Gaussian batch"]
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
