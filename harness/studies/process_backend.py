"""Local worker processes: one study's shards split by cell over N processes on this machine.

Why processes and not threads: eager PyTorch on small NB201 networks is bound by Python and kernel-launch
overhead, which intra-op threads do not parallelise; N single-threaded processes run N cells at once, and N
processes sharing one GPU can overlap each other's launches (``benchmarks/scripts/speed.py --workers N`` measures the
throughput on a given machine). As with Ray, workers never touch the
database: each sends one outcome per record to the driver, which writes it at once, so a killed run loses at
most the cells in progress and a rerun resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from harness.errors import HarnessError
from harness.studies.execute import Outcome, iter_shard
from harness.studies.units import Shard

_DONE = "done"
_FAILED = "failed"
POLL_SECONDS = 1.0


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
    k: int, parts: list[Shard], data: str | None, threads: int, out: Any, plugins: tuple = (), driver: int | None = None
) -> None:
    """Runs in worker k: score its parts, send each outcome, then a final done or failed message. ``driver``: the
    driver's pid; the worker stops when the driver is gone."""
    try:
        if driver is not None:
            _exit_with_driver(driver)
        import torch

        from harness.plugins import load_sources

        load_sources(plugins)  # the driver's plugin files, so their proxies and spaces exist here too
        torch.set_num_threads(threads)
        for shard in parts:
            for outcome in iter_shard(shard, data):
                if driver is not None and os.getppid() != driver:
                    return  # orphaned: nobody reads the queue any more
                out.put(outcome)
        out.put((_DONE, k, ""))
    except KeyboardInterrupt:  # the driver was interrupted too and stops the run
        pass
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which raises it there
        text = str(exc).strip()
        out.put((_FAILED, k, f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")))


def run_processes(
    shards: Sequence[Shard],
    *,
    data: str | os.PathLike | None = None,
    workers: int = 2,
    log: Any = print,
) -> Iterator[Outcome]:
    """Score ``shards`` in ``workers`` spawned processes; yield each record's outcome as it arrives.

    A worker that raises or dies stops the run with a ``HarnessError`` naming it (what finished is stored);
    stopping early (Ctrl-C, an exception, closing the generator) terminates the workers.
    """
    parts = [p for p in worker_parts(shards, workers) if p]
    if not parts:
        return
    threads = shards[0].threads  # the study's: scores must not depend on how many processes share the cores
    log(f"local: {len(parts)} worker processes, {threads} thread{'s' * (threads > 1)} each")
    if len(parts) * threads > (os.cpu_count() or 1):
        log(f"note: {len(parts)} x {threads} threads exceed this machine's {os.cpu_count()} cores")
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once torch has started its thread pools
    out = ctx.Queue()
    data_arg = None if data is None else str(data)
    from harness.plugins import loaded_sources

    plugins = loaded_sources()
    driver = os.getpid()
    procs = {
        k: ctx.Process(
            target=_work, args=(k, part, data_arg, threads, out, plugins, driver), name=f"worker-{k}", daemon=True
        )
        for k, part in enumerate(parts)
    }
    for proc in procs.values():
        proc.start()
    running = set(procs)
    try:
        while running:
            try:
                item = out.get(timeout=POLL_SECONDS)
            except queue_module.Empty:
                for k in sorted(running):
                    if not procs[k].is_alive() and out.empty():
                        raise HarnessError(
                            f"local worker {k} died (exit code {procs[k].exitcode}); the results it sent are stored, "
                            "rerun to resume"
                        ) from None
                continue
            if isinstance(item, Outcome):
                yield item
            elif item[0] == _DONE:
                running.discard(item[1])
            else:
                raise HarnessError(f"local worker {item[1]} failed: {item[2]}")
    finally:
        for proc in procs.values():
            if proc.is_alive():
                proc.terminate()
        for proc in procs.values():
            proc.join(timeout=10)
        out.close()
