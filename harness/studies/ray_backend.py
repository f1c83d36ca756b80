"""The Ray backend: shards scored by Ray tasks (one GPU each where the cluster has GPUs, one CPU otherwise).

The driver submits shards, collects each finished shard's records and writes them itself: workers never touch
the database, so it can live on the driver's disk while workers run on other machines (which need
nasi-harness installed and, for real data, the datasets under their own data root).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from harness.errors import HarnessError
from harness.studies.execute import Outcome, score_shard
from harness.studies.units import Shard

INSTALL_HINT = "the ray backend needs Ray: pip install 'nasi-harness[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise HarnessError(INSTALL_HINT) from None
    return ray


def _ray_task(shard: Shard, data: str | None, plugins: tuple = ()) -> Outcome:
    """Runs on a worker with the study's thread count (``iter_shard`` fixes it; Ray assigns as many CPUs). ``plugins``:
    the driver's plugin files as text (``harness.plugins``), so a worker on another machine needs no copy."""
    from harness.plugins import load_sources

    load_sources(plugins)
    return score_shard(shard, data)


def _gpu_device(device: str) -> str:
    """Ray gives each task its own GPU (CUDA_VISIBLE_DEVICES): ``cuda:N`` means "a GPU" there."""
    return "cuda" if device.startswith("cuda") else device


def slots(ray: Any, workers: int | None, want_gpu: bool = True) -> tuple[int, dict[str, float]]:
    """How many shards to keep in flight and the resources each task asks for."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus >= 1 and want_gpu:
        return workers or gpus, {"num_gpus": 1, "num_cpus": 1}
    return workers or max(1, cpus), {"num_cpus": 1}


def run_ray(
    shards: Sequence[Shard],
    *,
    data: str | os.PathLike | None = None,
    workers: int | None = None,
    address: str | None = None,
    log: Any = print,
) -> Iterator[Outcome]:
    """Score ``shards`` on Ray; yield each finished shard's outcome in completion order.

    Uses the Ray instance this process is already connected to, else connects to ``address`` (a running
    cluster), else starts a local instance with ``workers`` CPUs. Stopping early (Ctrl-C, an exception, closing
    the generator) cancels the shards still in flight.
    """
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        started = True
    try:
        in_flight, options = slots(ray, workers, want_gpu=any(s.device != "cpu" for s in shards))
        uses_gpu = "num_gpus" in options
        options["num_cpus"] = max((s.threads for s in shards), default=1)  # a thread per CPU Ray reserves
        cpus = f"{options['num_cpus']} CPU"
        device_note = f"1 GPU and {cpus}" if uses_gpu and options["num_cpus"] > 1 else "1 GPU" if uses_gpu else cpus
        log(f"ray: {in_flight} concurrent tasks, {device_note} each, {len(shards)} shards")
        task = ray.remote(_ray_task).options(**options)
        data_arg = None if data is None else str(data)
        from harness.plugins import loaded_sources

        plugins = ray.put(loaded_sources())
        queue = list(shards)
        pending: dict[Any, Shard] = {}
        try:
            while queue or pending:
                while queue and len(pending) < in_flight:
                    shard = queue.pop(0)
                    if uses_gpu:
                        shard = replace(shard, device=_gpu_device(shard.device))
                    pending[task.remote(shard, data_arg, plugins)] = shard
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    shard = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None) or exc
                        text = str(cause).strip()
                        message = text.splitlines()[0] if text else type(cause).__name__
                        raise HarnessError(f"a Ray worker failed on {shard.modes}: {message}") from None
                    yield outcome
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()
