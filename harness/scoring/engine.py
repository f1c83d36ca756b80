"""The scoring engine: cells x proxies -> records, one network per cell, one batch per call.

Guarantees: every proxy of a cell starts from the same initial weights (``torch.manual_seed(seed)`` then
``space.build``; the state is restored before each proxy, and proxies that mutate the network get a copy);
every cell sees the same batch for a seed; a NaN/inf score, a degenerate cell or an exception becomes a
record with a status; on CUDA an out-of-memory error is retried with micro-batches for proxies where the
split is exact (``splittable``) before giving up with a status.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from harness.data import make_batch
from harness.datasets import dataset_info
from harness.paths import data_dir_arg
from harness.proxies import ProxyContext, ProxySpec, get_proxy
from harness.proxies._grad import CELL_PROXIES
from harness.proxies.base import get_stacked
from harness.proxies.protocol import (
    HARNESS,
    PAPER,
    Effective,
    PaperProtocol,
    check_protocol,
    effective,
    initialise_,
    repeat_seed,
)
from harness.scoring.allocator import keep_freed_memory
from harness.scoring.device import Measurement, device_label, is_out_of_memory, measure, resolve_device
from harness.scoring.records import DEGENERATE, NAN, OK, ScoreRecord, error_status
from harness.scoring.snapshot import Snapshot
from harness.scoring.stacked import score_stack
from harness.spaces import SearchSpace, get_space
from harness.spaces.recycle import ModulePool

SkipFn = Callable[[int, str], bool]
# ``started(units)``: called with the (index, proxy) units one computation is about to score, before it starts
StartFn = Callable[[list[tuple[int, str]]], None]


def _run_proxy(
    spec: ProxySpec, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext
) -> tuple[float | None, str]:
    """Call one proxy; return (score, status). Retries with micro-batches on OOM where that is exact."""
    micro_batches = [None]
    if spec.splittable and inputs.device.type == "cuda":
        size = inputs.shape[0] // 2
        while size >= 1:
            micro_batches.append(size)
            size //= 2
    for micro in micro_batches:
        ctx.micro_batch = micro
        try:
            value = spec(net, inputs, targets, ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status, the run goes on
            if is_out_of_memory(exc):
                net.zero_grad(set_to_none=True)
                if inputs.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            return None, error_status(exc)
        value = float(value)
        if not math.isfinite(value):
            return None, NAN
        return value, OK
    return None, f"error: out of memory at batch {inputs.shape[0]}" + (
        " (micro-batches down to 1 also failed)" if spec.splittable and inputs.device.type == "cuda" else ""
    )


def score_cells(
    space: str,
    cells: Iterable[int | str],
    proxies: Sequence[str],
    *,
    dataset: str = "cifar10",
    data_mode: str = "real",
    label_mode: str = "true",
    batch_size: int = 64,
    seed: int = 0,
    device: str = "auto",
    data_dir: str | os.PathLike | None = None,
    skip: SkipFn | None = None,
    share_isomorphic: bool = False,
    channels_last: bool = True,
    share_intermediates: bool = True,
    recycle_modules: bool = True,
    stack: int = 1,
    protocol: str = HARNESS,
    started: StartFn | None = None,
    data: str | os.PathLike | None = None,
) -> Iterator[ScoreRecord]:
    """Score ``cells`` with ``proxies``; yield one record per (cell, proxy) as soon as it is computed.

    ``protocol``: ``harness`` (every proxy on this batch, default init, one scoring) or ``paper`` (each proxy as
    its ``PaperProtocol`` declares: the data, labels and batch size it fixes replace these, so proxies are scored in
    groups that share one batch; its initialisation, BN mode and repeats apply); each record says which protocol
    and which data, labels and batch size made it.

    ``skip(index, proxy)`` filters units already done (resuming). ``share_isomorphic`` copies the score of
    the first cell of an isomorphism class to the others (exact up to the weight permutation).
    ``channels_last`` stores activations NHWC on CPU: the same function, faster convolutions (oneDNN);
    scores agree with NCHW to float rounding (relative 1e-3 at worst on ill-conditioned cells, measured) and
    stay bit-identical between reruns. ``share_intermediates`` lets the proxies of one cell reuse what another
    already computed on the same weights and batch (``ProxyContext.remember``: ntk_cond and te_nas share the NTK
    Gram; grad_norm, snip, plain, fisher, and grasp on NCHW batches, one mean-CE pass), so a later proxy's
    ``seconds`` can be its own cost only; turn it off to time proxies alone.
    ``recycle_modules`` builds each network from the blocks of the previous one (``spaces.recycle``): the same
    initial weights bit for bit, in less host time than constructing ~350 modules per cell.
    ``stack`` > 1 scores the proxies that have a stacked form (``nasi``) K cells per computation
    (``harness.spaces.stacked``: one grouped kernel per layer for K networks, for GPUs that one small network
    leaves launch-bound); same weights, scores equal to the per-cell ones to float rounding; each record is
    charged the stack's time / K. Other proxies are scored per cell as usual.
    The first call keeps freed heap memory in the process (``harness.scoring.allocator``: glibc's thresholds,
    no change to scores; ``NASI_HARNESS_MALLOC_TUNING=0`` switches it off).
    ``started(units)`` is told the (index, proxy) units of each computation just before it starts (one unit, or a
    stack's units; a score copied from an isomorphic cell is not a computation): a watcher can time each one.
    ``data_dir``: the data root (``data=`` is its deprecated spelling: a record's ``data`` is a data mode).
    Raises ``DataMissing`` before any work when the modes need a dataset that is absent.
    """
    data_dir = data_dir_arg(data_dir, data, "score_cells")
    check_protocol(protocol)
    sp = get_space(space)
    specs = [get_proxy(p) for p in proxies]
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    groups: dict[Effective, list[ProxySpec]] = {}
    for spec in specs:  # under the paper protocol, proxies that fix other settings get their own batch
        groups.setdefault(effective(spec.protocol, protocol, data_mode, label_mode, batch_size), []).append(spec)
    if len(groups) > 1:  # each group goes over the cells; one group takes them as they come (a fed generator)
        cells = list(cells)
    resolution = dataset_info(dataset).resolution
    for spec in specs:  # inputs are the dataset's resolution: a declaration asking for another cannot be honoured
        decl = spec.protocol if protocol == PAPER else None
        if decl is not None and decl.input_size not in (None, resolution):
            raise ValueError(f"proxy {spec.name}: its paper protocol asks for {decl.input_size} px inputs; {dataset} "
                             f"is {resolution} px and the harness does not resize")  # fmt: skip
    dev = resolve_device(device)
    keep_freed_memory()
    batches = {eff: _Batches(dataset, eff, data_dir, dev, channels_last) for eff in groups}
    for batches_of in batches.values():  # every batch before any work: absent data is an error up front
        batches_of.get(seed)
    pool = ModulePool() if recycle_modules else None
    for eff, members in groups.items():
        group = _GroupScorer(
            sp, members, dataset=dataset, eff=eff, seed=seed, dev=dev, batches=batches[eff], skip=skip,
            share_isomorphic=share_isomorphic, share_intermediates=share_intermediates, pool=pool, stack=stack,
            started=started,
        )  # fmt: skip
        yield from group.records(cells)


class _Batches:
    """The batches of one group, by seed (a repeat that redraws the batch asks for another seed's)."""

    def __init__(self, dataset: str, eff: Effective, data: str | os.PathLike | None, dev: torch.device,
                 channels_last: bool) -> None:  # fmt: skip
        self.dataset, self.eff, self.data, self.dev, self.channels_last = dataset, eff, data, dev, channels_last
        self.cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        # NHWC only on CPU: on CUDA it was slower (docs/performance.md) and vmap cannot trace it (torch 2.11).
        self.layout = torch.contiguous_format

    def get(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        if seed not in self.cache:
            eff = self.eff
            batch = make_batch(self.dataset, eff.batch_size, eff.data, eff.labels, seed, self.data)
            inputs, targets = batch.inputs.to(self.dev), batch.targets.to(self.dev)
            if self.channels_last and self.dev.type == "cpu" and inputs.dim() == 4:
                self.layout = torch.channels_last
            self.cache[seed] = (inputs.contiguous(memory_format=self.layout), targets)
        return self.cache[seed]


@dataclass
class _GroupScorer:
    """``score_cells`` for proxies that share one batch (all of them under the harness protocol).

    ``records`` walks the cells; with stacked forms it gathers ``stack`` cells and scores them together
    (``_score_stack``: the stacked proxies for all of them, then the others per cell); a cell's other proxies are
    one ``_CellScorer`` each."""

    sp: SearchSpace
    specs: list[ProxySpec]
    dataset: str
    eff: Effective
    seed: int
    dev: torch.device
    batches: _Batches
    skip: SkipFn | None
    share_isomorphic: bool
    share_intermediates: bool
    pool: ModulePool | None
    stack: int
    started: StartFn | None = None

    def __post_init__(self) -> None:
        protocol = self.eff.protocol
        self.stacked = (
            _stacked_forms(self.sp, self.specs, self.stack, self.share_isomorphic) if protocol == HARNESS else {}
        )
        self.label = device_label(self.dev)
        self.info = dataset_info(self.dataset)
        self.inputs, self.targets = self.batches.get(self.seed)
        self.layout = self.batches.layout
        self.shared: dict[tuple[str, str], tuple[float | None, str]] = {}  # (canonical, proxy) -> (score, status)
        self.declared = {s.name: s.protocol if protocol == PAPER else None for s in self.specs}
        self.fixed = (self.dataset, self.eff.data, self.eff.labels, self.eff.batch_size, self.seed)

    def records(self, cells: Iterable[int | str]) -> Iterator[ScoreRecord]:
        """Every unit of ``cells`` not skipped, cell by cell, or stack by stack where proxies have a stacked form."""
        pending: list[tuple[int, list[ProxySpec]]] = []
        for cell in cells:
            index = self.sp.resolve(cell)
            todo = [s for s in self.specs if self.skip is None or not self.skip(index, s.name)]
            if not todo:
                continue
            if not self.stacked:
                yield from _CellScorer(self, index, todo).records()
                continue
            pending.append((index, todo))
            if len(pending) == self.stack:
                yield from self._score_stack(pending)
                pending = []
        if pending:
            yield from self._score_stack(pending)

    def _score_stack(self, pending: list[tuple[int, list[ProxySpec]]]) -> Iterator[ScoreRecord]:
        """One stack of cells: the stacked proxies for all of them, then the others cell by cell."""
        yield from self._stacked_records(pending)
        for index, todo in pending:
            rest = [s for s in todo if s.name not in self.stacked]
            if rest:
                yield from _CellScorer(self, index, rest).records()

    def _stacked_records(self, pending: list[tuple[int, list[ProxySpec]]]) -> Iterator[ScoreRecord]:
        """Each stacked proxy on the cells of ``pending`` that still need it, in one computation."""
        sp = self.sp
        plain_inputs = self.inputs.contiguous()
        for name, fn in self.stacked.items():
            indices = [index for index, todo in pending if any(s.name == name for s in todo)]
            if not indices:
                continue
            if self.started is not None:
                self.started([(index, name) for index in indices])
            results = score_stack(sp, indices, fn, plain_inputs, self.targets, num_classes=self.info.num_classes,
                                  seed=self.seed)  # fmt: skip
            rows = [(r.scores[j], r.statuses[j], r.seconds / len(r.scores), r.peak_mem_mb)
                    for r in results for j in range(len(r.scores))]  # fmt: skip
            for index, (score, status, seconds, peak) in zip(indices, rows):
                if status == OK and sp.is_degenerate(index):
                    status = DEGENERATE
                yield ScoreRecord(index, sp.arch(index), name, *self.fixed, score, status, seconds, peak, self.label)


class _CellScorer:
    """The proxies ``todo`` of one cell, in order, on one network.

    The network is built on first need (a fully-resumed cell costs nothing) from the unit's seed, and every proxy
    starts from its initial state: weights, BN running statistics and no gradients, whatever earlier proxies left
    behind (a mutating proxy gets a copy of that state, not of the leftovers). Under ``share_isomorphic`` a proxy
    already scored on the cell's isomorphism class copies that score instead."""

    def __init__(self, group: _GroupScorer, index: int, todo: list[ProxySpec]) -> None:
        sp = group.sp
        self.group, self.index, self.todo = group, index, todo
        self.arch = sp.arch(index)
        self.degenerate = sp.is_degenerate(index)
        self.canonical = sp.canonical(index) if group.share_isomorphic else ""
        self.base: torch.nn.Module | None = None
        self.initial_state: Snapshot | None = None  # taken only when a second proxy will need it
        self.pristine = False  # base holds exactly the initial state (just built, nothing has run on it)
        self.cost = sp.cost(index, group.dataset)
        self.memos: dict[tuple, dict] = {}  # one memo per (weights, BN mode): the paper protocol may change either
        self.repeated = any(d is not None and d.repeats > 1 for d in (group.declared[s.name] for s in todo))

    def records(self) -> Iterator[ScoreRecord]:
        g = self.group
        unit = functools.partial(ScoreRecord, self.index, self.arch)
        for spec in self.todo:
            if g.share_isomorphic and (self.canonical, spec.name) in g.shared:
                score, status = g.shared[(self.canonical, spec.name)]
                yield unit(spec.name, *g.fixed, score, status, 0.0, None, g.label, g.eff.protocol)
                continue
            if g.started is not None:
                g.started([(self.index, spec.name)])
            score, status, m = self._score(spec)
            if self.degenerate and status == OK:
                status = DEGENERATE
            if g.share_isomorphic:
                g.shared[(self.canonical, spec.name)] = (score, status)
            yield unit(spec.name, *g.fixed, score, status, m.seconds, m.peak_mem_mb, g.label, g.eff.protocol)
        if self.base is not None and g.pool is not None:
            g.pool.recycle(self.base)

    def _score(self, spec: ProxySpec) -> tuple[float | None, str, Measurement]:
        """One proxy on the cell's network in its initial state: (score, status, measurement); only the proxy's
        call is measured (under ``decl``, its repeats), not the build or the copy."""
        g = self.group
        net = self._network(spec)
        decl = g.declared[spec.name]
        bn_mode = decl.bn_mode if decl is not None and decl.bn_mode else spec.bn_mode
        ctx = ProxyContext(num_classes=g.info.num_classes, cost=self.cost, device=g.dev, seed=g.seed,
                           memo=self._memo(spec))  # fmt: skip
        with measure(g.dev) as m:
            if decl is None:
                _set_modes(net, bn_mode, spec.prunable)
                score, status = _run_proxy(spec, net, g.inputs, g.targets, ctx)
            else:
                rebuild = functools.partial(_fresh_network, g.sp, self.index, g.dataset, g.dev, g.layout)
                score, status = _run_declared(spec, decl, self.base, net, bn_mode, ctx, g.batches, self.initial_state,
                                              rebuild)  # fmt: skip
        return score, status, m

    def _network(self, spec: ProxySpec) -> torch.nn.Module:
        """The network ``spec`` runs on: the cell's, built now if not yet, in its initial state; a copy of it for a
        proxy that mutates the network."""
        g = self.group
        decl = g.declared[spec.name]
        if self.base is None:
            torch.manual_seed(g.seed)
            build = functools.partial(g.sp.build, self.index, g.dataset)
            self.base = (build() if g.pool is None else g.pool.build(build)).to(g.dev, memory_format=g.layout)
            self.pristine = True
            if len(self.todo) > 1 or self.repeated or _engine_init(decl) is not None:
                self.initial_state = Snapshot(self.base)
        if not self.pristine:
            assert self.initial_state is not None
            self.initial_state.restore()
        self.pristine = spec.mutates_net and decl is None  # a proxy on a copy leaves base as it was (unless repeated)
        return copy.deepcopy(self.base) if spec.mutates_net else self.base

    def _sharing(self, spec: ProxySpec) -> tuple:
        decl = self.group.declared[spec.name]
        return _engine_init(decl), decl.bn_mode if decl is not None else None  # None: as under harness

    def _memo(self, spec: ProxySpec) -> dict | None:
        """The memo ``spec`` shares with the cell's proxies on the same weights and BN mode (None: not shared)."""
        decl = self.group.declared[spec.name]
        if not self.group.share_intermediates or (decl is not None and decl.repeats > 1):
            return None
        key = self._sharing(spec)
        if key not in self.memos:  # who will run, so the first of a group computes what the others of it need
            self.memos[key] = {CELL_PROXIES: frozenset(s.name for s in self.todo if self._sharing(s) == key)}
        return self.memos[key]


def _stacked_forms(sp, specs: Sequence[ProxySpec], stack: int, share_isomorphic: bool) -> dict:  # noqa: ANN001
    """The proxies to score ``stack`` cells at a time (those with a stacked form); {} for per-cell scoring."""
    if stack < 1:
        raise ValueError(f"stack must be >= 1, got {stack}")
    if stack == 1:
        return {}
    forms = {s.name: fn for s in specs if (fn := get_stacked(s.name)) is not None}
    if forms and sp.channels_layout is None:
        raise ValueError(f"--stack needs a space whose networks share their widths; {sp.name} varies them by cell")
    if forms and share_isomorphic:
        raise ValueError("--stack and --share-isomorphic cannot be combined")
    return forms


def _engine_init(decl: PaperProtocol | None) -> str | None:
    """The initialisation the engine draws for a declaration (None: the network as built)."""
    return None if decl is None else decl.engine_init


def _set_modes(net: torch.nn.Module, bn_mode: str, prunable: bool) -> None:
    """BN in the proxy's mode; dead edges skipped only for a proxy that declares ``prunable``."""
    net.train(bn_mode == "train")
    if hasattr(net, "set_prune"):
        net.set_prune(prunable)


def _fresh_network(sp, index: int, dataset: str, dev: torch.device, layout: torch.memory_format,  # noqa: ANN001
                   seed: int) -> torch.nn.Module:  # fmt: skip
    """Cell ``index`` built with PyTorch's default initialisation from ``seed`` (a repeat that redraws it)."""
    torch.manual_seed(seed)
    return sp.build(index, dataset).to(dev, memory_format=layout)


def _run_declared(
    spec: ProxySpec,
    decl: PaperProtocol,
    base: torch.nn.Module,
    net: torch.nn.Module,
    bn_mode: str,
    ctx: ProxyContext,
    batches: _Batches,
    initial_state: Snapshot | None,
    rebuild: Callable[[int], torch.nn.Module],
) -> tuple[float | None, str]:
    """One proxy under its declared protocol: the mean over ``decl.repeats`` scorings (the first with the unit's
    seed: with one repeat and the default init this is exactly the harness scoring of this batch). A repeat
    redraws the weights (the declared init from the repeat's seed; the default one by building the cell again)
    and/or the batch, as ``decl.redraw`` says. The first failing repeat's status is the unit's."""
    scores = []
    seed = ctx.seed
    for r in range(decl.repeats):
        seed_r = repeat_seed(seed, r)
        fresh_weights = r == 0 or "init" in decl.redraw
        target = net
        if r > 0:  # back to the cell's initial state (base), or a new default draw
            if "init" in decl.redraw and decl.init == "default":
                target = rebuild(seed_r)
            else:
                if initial_state is not None:
                    initial_state.restore()
                target = copy.deepcopy(base) if spec.mutates_net else base
        if fresh_weights and decl.engine_init is not None:
            initialise_(target, decl.engine_init, seed_r)
        ctx.seed = seed_r if "init" in decl.redraw else seed  # proxies drawing their own init read it
        inputs, targets = batches.get(seed_r if r > 0 and "batch" in decl.redraw else seed)
        _set_modes(target, bn_mode, spec.prunable)
        score, status = _run_proxy(spec, target, inputs, targets, ctx)
        if status != OK:
            return None, status
        scores.append(score)
    ctx.seed = seed
    return float(sum(scores) / len(scores)), OK
