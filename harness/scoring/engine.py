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

import torch

from harness.data import make_batch
from harness.datasets import dataset_info
from harness.proxies import ProxyContext, ProxySpec, get_proxy
from harness.proxies._grad import CELL_PROXIES
from harness.proxies.base import get_stacked
from harness.scoring.device import device_label, is_out_of_memory, measure, resolve_device
from harness.scoring.records import DEGENERATE, NAN, OK, ScoreRecord, error_status
from harness.scoring.snapshot import Snapshot
from harness.scoring.stacked import score_stack
from harness.spaces import get_space
from harness.spaces.recycle import ModulePool

SkipFn = Callable[[int, str], bool]


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
    data: str | os.PathLike | None = None,
    skip: SkipFn | None = None,
    share_isomorphic: bool = False,
    channels_last: bool = True,
    share_intermediates: bool = True,
    recycle_modules: bool = True,
    stack: int = 1,
) -> Iterator[ScoreRecord]:
    """Score ``cells`` with ``proxies``; yield one record per (cell, proxy) as soon as it is computed.

    ``skip(index, proxy)`` filters units already done (resuming). ``share_isomorphic`` copies the score of
    the first cell of an isomorphism class to the others (exact up to the weight permutation).
    ``channels_last`` stores activations NHWC on CPU: the same function, about 2x faster convolutions (oneDNN);
    scores agree with NCHW to float rounding (relative 1e-3 at worst on ill-conditioned cells, measured) and
    stay bit-identical between reruns. ``share_intermediates`` lets the proxies of one cell reuse what another
    already computed on the same weights and batch (``ProxyContext.remember``: ntk_cond and te_nas share the NTK
    Gram; grad_norm, snip, plain, fisher, and grasp on NCHW batches, one mean-CE pass), so a later proxy's
    ``seconds`` can be its own cost only; turn it off to time proxies alone.
    ``recycle_modules`` builds each network from the blocks of the previous one (``spaces.recycle``): the same
    initial weights bit for bit, half the host time of constructing ~350 modules per cell.
    ``stack`` > 1 scores the proxies that have a stacked form (``nasi``) K cells per computation
    (``harness.spaces.stacked``: one grouped kernel per layer for K networks, for GPUs that one small network
    leaves launch-bound); same weights, scores equal to the per-cell ones to float rounding; each record is
    charged the stack's time / K. Other proxies are scored per cell as usual.
    Raises ``DataMissing`` before any work when the modes need a dataset that is absent.
    """
    sp = get_space(space)
    specs = [get_proxy(p) for p in proxies]
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    stacked = _stacked_forms(sp, specs, stack, share_isomorphic)
    dev = resolve_device(device)
    label = device_label(dev)
    info = dataset_info(dataset)
    batch = make_batch(dataset, batch_size, data_mode, label_mode, seed, data)
    inputs, targets = batch.inputs.to(dev), batch.targets.to(dev)
    # NHWC only on CPU: on CUDA it was slower (H200: 19 vs 17 ms for nasi) and vmap cannot trace it (torch 2.11).
    nhwc = channels_last and dev.type == "cpu" and inputs.dim() == 4
    layout = torch.channels_last if nhwc else torch.contiguous_format
    inputs = inputs.contiguous(memory_format=layout)
    shared: dict[tuple[str, str], tuple[float | None, str]] = {}
    pool = ModulePool() if recycle_modules else None

    def per_cell(index: int, todo: list[ProxySpec]) -> Iterator[ScoreRecord]:
        arch = sp.arch(index)
        degenerate = sp.is_degenerate(index)
        canonical = sp.canonical(index) if share_isomorphic else ""
        base = None
        initial_state: Snapshot | None = None  # taken only when a second proxy will need it
        pristine = False  # base holds exactly the initial state (just built, nothing has run on it)
        cost = sp.cost(index, dataset)
        memo: dict | None = {} if share_intermediates else None  # one cell, one batch, one set of initial weights
        if memo is not None:  # who will run, so the first of a group computes what the others of it need
            memo[CELL_PROXIES] = frozenset(spec.name for spec in todo)

        unit = functools.partial(ScoreRecord, index, arch)
        fixed = (dataset, data_mode, label_mode, batch_size, seed)
        for spec in todo:
            if share_isomorphic and (canonical, spec.name) in shared:
                score, status = shared[(canonical, spec.name)]
                yield unit(spec.name, *fixed, score, status, 0.0, None, label)
                continue
            if base is None:  # build lazily: a fully-resumed cell costs nothing
                torch.manual_seed(seed)
                build = functools.partial(sp.build, index, dataset)
                base = (build() if pool is None else pool.build(build)).to(dev, memory_format=layout)
                pristine = True
                if len(todo) > 1:
                    initial_state = Snapshot(base)
            # Every proxy starts from the initial state: weights, BN running statistics and no gradients, whatever
            # earlier proxies left behind (a mutating proxy gets a copy of that state, not of the leftovers).
            if not pristine:
                assert initial_state is not None
                initial_state.restore()
            pristine = spec.mutates_net  # a proxy working on a copy leaves base as it was
            net = copy.deepcopy(base) if spec.mutates_net else base
            net.train(spec.bn_mode == "train")
            if hasattr(net, "set_prune"):
                net.set_prune(spec.prunable)
            ctx = ProxyContext(num_classes=info.num_classes, cost=cost, device=dev, seed=seed, memo=memo)
            with measure(dev) as m:
                score, status = _run_proxy(spec, net, inputs, targets, ctx)
            if degenerate and status == OK:
                status = DEGENERATE
            if share_isomorphic:
                shared[(canonical, spec.name)] = (score, status)
            yield unit(spec.name, *fixed, score, status, m.seconds, m.peak_mem_mb, label)
            if spec.mutates_net:
                del net
        if base is not None and pool is not None:
            pool.recycle(base)

    def stacked_part(pending: list[tuple[int, list[ProxySpec]]]) -> Iterator[ScoreRecord]:
        plain_inputs = inputs.contiguous()
        for name, fn in stacked.items():
            indices = [index for index, todo in pending if any(s.name == name for s in todo)]
            if not indices:
                continue
            results = score_stack(sp, indices, fn, plain_inputs, targets, num_classes=info.num_classes, seed=seed)
            rows = [(r.scores[j], r.statuses[j], r.seconds / len(r.scores), r.peak_mem_mb)
                    for r in results for j in range(len(r.scores))]  # fmt: skip
            for index, (score, status, seconds, peak) in zip(indices, rows):
                if status == OK and sp.is_degenerate(index):
                    status = DEGENERATE
                fixed = (dataset, data_mode, label_mode, batch_size, seed)
                yield ScoreRecord(index, sp.arch(index), name, *fixed, score, status, seconds, peak, label)

    def flush(pending: list[tuple[int, list[ProxySpec]]]) -> Iterator[ScoreRecord]:
        """One stack of cells: the stacked proxies for all of them, then the others cell by cell."""
        yield from stacked_part(pending)
        for index, todo in pending:
            rest = [s for s in todo if s.name not in stacked]
            if rest:
                yield from per_cell(index, rest)

    pending: list[tuple[int, list[ProxySpec]]] = []
    for cell in cells:
        index = sp.resolve(cell)
        todo = [s for s in specs if skip is None or not skip(index, s.name)]
        if not todo:
            continue
        if not stacked:
            yield from per_cell(index, todo)
            continue
        pending.append((index, todo))
        if len(pending) == stack:
            yield from flush(pending)
            pending = []
    if pending:
        yield from flush(pending)


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
