"""Device choice, timing and peak-memory measurement (CUDA events on GPU, wall clock on CPU)."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU. Asking for CUDA without one is an error, not a silent fallback."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
        return torch.device(name)
    raise ValueError(f"unknown device {name!r}; expected auto, cpu or cuda[:N]")


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return "cpu"


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_mem_mb: float | None = None


@contextmanager
def measure(device: torch.device):
    """Time the block; on CUDA with events (asynchronous kernels) and record peak allocated memory.

    On CPU ``peak_mem_mb`` is the process's resident high-water mark (monotonic: a per-call peak is visible
    only when the call raises it).
    """
    result = Measurement()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        try:
            yield result
        finally:
            end.record()
            torch.cuda.synchronize(device)
            result.seconds = start.elapsed_time(end) / 1000.0
            result.peak_mem_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        t0 = time.perf_counter()
        try:
            yield result
        finally:
            result.seconds = time.perf_counter() - t0
            result.peak_mem_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
