"""Local worker processes: one study's shards split by cell over N processes on this machine.

Why processes and not threads: eager PyTorch on small NB201 networks is bound by Python and kernel-launch
overhead, which intra-op threads do not parallelise; N single-threaded processes run N cells at once, and N
processes sharing one GPU can overlap each other's launches (``benchmarks/scripts/speed.py --workers N`` measures the
throughput on a given machine). As with Ray, workers never touch the
database: each sends one outcome per record to the driver, which writes it at once, so a killed run loses at
most the cells in progress and a rerun resumes.

Each worker has a pipe of its own to the driver (not one shared queue): a worker the driver stops can leave at most
its own pipe half-written, never a lock the other workers need.

``unit_timeout``: each worker tells the driver when a unit (or a stack's units) starts. One that runs past the limit
becomes a ``timeout`` row, its worker process is terminated (SIGTERM, then SIGKILL), and a new worker takes the units
that worker had not finished, so the run goes on. A process is what makes this robust: a proxy stuck in C code
(a kernel, a lock) cannot be interrupted inside the process, only stopped with it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from typing import Any

from harness.errors import HarnessError
from harness.studies.execute import Outcome, iter_shard
from harness.studies.units import Shard

_DONE = "done"
_FAILED = "failed"
_BEGIN = "begin"  # (begin, k, part, units, device label): a computation of these units starts now
_RESULT = "result"  # (result, k, part, outcome)
POLL_SECONDS = 1.0
STOP_SECONDS = 5.0  # how long a terminated worker gets before SIGKILL


def worker_parts(shards: Sequence[Shard], workers: int) -> list[list[Shard]]:
    """Worker k gets part k of every shard (disjoint by cell; isomorphism classes stay whole when shared)."""
    return [[p for p in (s.part(k, workers) for s in shards) if p.units] for k in range(workers)]


def _exit_with_driver(driver: int) -> None:
    """A worker must not outlive its driver. A driver killed outright (SIGKILL, the OOM killer) runs no cleanup, and
    its workers would go on scoring their whole part for nobody: hours of CPU. On Linux the kernel sends the worker
    SIGTERM when the driver dies (``PR_SET_PDEATHSIG``); everywhere the worker also checks its parent between units."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no libc prctl: the parent check below still applies
            pass
    if os.getppid() != driver:  # the driver died before the request above took effect
        os._exit(1)


def _work(
    k: int,
    parts: list[Shard],
    data: str | None,
    threads: int,
    out: Any,
    plugins: tuple = (),
    driver: int | None = None,
    watch: bool = False,
) -> None:
    """Runs in worker k: score its parts, send each outcome, then a final done or failed message. ``driver``: the
    driver's pid; the worker stops when the driver is gone. ``watch``: also say when each unit starts (a unit
    timeout is set). ``out``: a pipe's sending end (or anything with ``put``)."""
    send = out.put if hasattr(out, "put") else out.send
    try:
        if driver is not None:
            _exit_with_driver(driver)
        import torch

        from harness.plugins import load_sources

        load_sources(plugins)  # the driver's plugin files, so their proxies and spaces exist here too
        torch.set_num_threads(threads)
        for j, shard in enumerate(parts):
            started = None
            if watch:
                from harness.scoring.device import device_label, resolve_device

                label = device_label(resolve_device(shard.device))

                def started(units: list, j: int = j, label: str = label) -> None:
                    send((_BEGIN, k, j, units, label))

            for outcome in iter_shard(shard, data, started):
                if driver is not None and os.getppid() != driver:
                    return  # orphaned: nobody reads the pipe any more
                send((_RESULT, k, j, outcome))
        send((_DONE, k, ""))
    except KeyboardInterrupt:  # the driver was interrupted too and stops the run
        pass
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which raises it there
        text = str(exc).strip()
        send((_FAILED, k, f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")))


@dataclass
class _Worker:
    """One worker process, the parts it was given, and what the driver has heard from it."""

    proc: Any
    conn: Any
    parts: list[Shard]
    done: set[tuple[int, int, str]] = field(default_factory=set)  # (part, index, proxy) received
    current: tuple[int, list[tuple[int, str]], str, float] | None = None  # (part, units, device label, started at)

    def received(self, j: int, outcome: Outcome) -> None:
        self.done.update((j, r.index, r.proxy) for r in outcome.records)
        if self.current is not None and all((self.current[0], *u) in self.done for u in self.current[1]):
            self.current = None

    def remaining(self, stopped: set[tuple[int, str]]) -> list[Shard]:
        """The parts' units neither received nor ``stopped`` (the current part on; earlier parts are finished)."""
        assert self.current is not None
        first = self.current[0]
        out = []
        for j in range(first, len(self.parts)):
            shard = self.parts[j]
            skip = {(i, p) for (jj, i, p) in self.done if jj == j} | (stopped if j == first else set())
            skip = {u for u in skip if u[0] in shard.cells and u[1] in shard.proxies}
            piece = replace(shard, done=shard.done | frozenset(skip))
            if piece.units:
                out.append(piece)
        return out


def _stop(proc: Any) -> None:
    """Terminate a worker and wait for it (SIGKILL when SIGTERM is not enough): no process is left behind."""
    if proc.is_alive():
        proc.terminate()
        proc.join(STOP_SECONDS)
    if proc.is_alive():
        proc.kill()
    proc.join(STOP_SECONDS)


def _timed_out(w: _Worker, waited: float) -> tuple[Outcome, set[tuple[int, str]]]:
    """The ``timeout`` rows of the worker's current units (with their isomorphic copies in the same part when
    scores are shared: they would only wait for the same computation again)."""
    from harness.scoring.records import TIMEOUT, ScoreRecord
    from harness.spaces import get_space
    from harness.store.provenance import current

    assert w.current is not None
    j, units, label, _ = w.current
    shard = w.parts[j]
    sp = get_space(shard.space)
    stopped = {(i, p) for i, p in units}
    if shard.share_isomorphic:
        classes = {(sp.canonical(i), p) for i, p in units}
        stopped |= {(c, p) for c in shard.cells for p in shard.proxies if (sp.canonical(c), p) in classes}
    stopped = {u for u in stopped if (j, *u) not in w.done and not shard.skip(*u)}
    records = [ScoreRecord(i, sp.arch(i), p, shard.dataset, shard.data_mode, shard.label_mode, shard.batch_size,
                           shard.seed, None, TIMEOUT, round(waited, 3), None, label, shard.protocol)
               for i, p in sorted(stopped)]  # fmt: skip
    return Outcome(shard, records, replace(current(), threads=shard.threads)), stopped


def run_processes(
    shards: Sequence[Shard],
    *,
    data: str | os.PathLike | None = None,
    workers: int = 2,
    log: Any = print,
    unit_timeout: float | None = None,
) -> Iterator[Outcome]:
    """Score ``shards`` in ``workers`` spawned processes; yield each record's outcome as it arrives.

    A worker that raises or dies stops the run with a ``HarnessError`` naming it (what finished is stored);
    stopping early (Ctrl-C, an exception, closing the generator) terminates the workers. ``unit_timeout``
    (seconds): a unit running longer is yielded as a ``timeout`` record and its worker is replaced (module doc).
    """
    parts = [p for p in worker_parts(shards, workers) if p]
    if not parts:
        return
    threads = shards[0].threads  # the study's: scores must not depend on how many processes share the cores
    log(f"local: {len(parts)} worker process{'es' * (len(parts) > 1)}, {threads} thread{'s' * (threads > 1)} each"
        + (f", {unit_timeout:g} s per unit at most" if unit_timeout is not None else ""))  # fmt: skip
    if len(parts) * threads > (os.cpu_count() or 1):
        log(f"note: {len(parts)} x {threads} threads exceed this machine's {os.cpu_count()} cores")
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once torch has started its thread pools
    data_arg = None if data is None else str(data)
    from harness.plugins import loaded_sources

    plugins = loaded_sources()
    driver = os.getpid()
    live: dict[int, _Worker] = {}
    everyone: list[_Worker] = []

    def start(work: list[Shard]) -> None:
        k = len(everyone)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_work, args=(k, work, data_arg, threads, sender, plugins, driver,
                                               unit_timeout is not None), name=f"worker-{k}", daemon=True)  # fmt: skip
        proc.start()
        sender.close()  # the worker holds the only sending end: its exit is an end-of-file here
        live[k] = _Worker(proc, receiver, work)
        everyone.append(live[k])

    def died(k: int) -> HarnessError:
        proc = live[k].proc
        proc.join(STOP_SECONDS)
        return HarnessError(f"local worker {k} died (exit code {proc.exitcode}); the results it sent are stored, "
                            "rerun to resume")  # fmt: skip

    for part in parts:
        start(part)
    try:
        while live:
            by_conn = {w.conn: k for k, w in live.items()}
            for conn in wait(list(by_conn), timeout=POLL_SECONDS):
                k = by_conn[conn]
                w = live[k]
                try:
                    item = conn.recv()
                except (EOFError, OSError):
                    raise died(k) from None
                if item[0] == _RESULT:
                    w.received(item[2], item[3])
                    yield item[3]
                elif item[0] == _BEGIN:
                    w.current = (item[2], [tuple(u) for u in item[3]], item[4], time.monotonic())
                elif item[0] == _DONE:
                    del live[k]
                    w.conn.close()
                else:
                    raise HarnessError(f"local worker {item[1]} failed: {item[2]}")
            if unit_timeout is None:
                continue
            now = time.monotonic()
            for k in [k for k, w in live.items() if w.current is not None and now - w.current[3] > unit_timeout]:
                w = live.pop(k)
                _stop(w.proc)
                w.conn.close()
                outcome, stopped = _timed_out(w, now - w.current[3])
                rest = w.remaining(stopped)
                units = ", ".join(f"cell {i} {p}" for i, p in sorted(stopped)[:3]) + (" ..." * (len(stopped) > 3))
                left = sum(s.units for s in rest)
                log(f"local worker {k}: {units} ran past the unit timeout ({unit_timeout:g} s): stored as timeout; "
                    f"worker stopped" + (f", a new one takes its {left} other units" if rest else ""))  # fmt: skip
                yield outcome
                if rest:
                    start(rest)
    finally:
        for w in everyone:
            if w.proc.is_alive():
                w.proc.terminate()
        for w in everyone:
            w.proc.join(timeout=10)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=10)
            w.conn.close()
