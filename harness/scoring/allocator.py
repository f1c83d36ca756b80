"""Keep freed heap memory in the scoring process, so that a graph-sized allocation is not page-faulted in anew for
every cell.

glibc hands memory above ``M_MMAP_THRESHOLD`` straight back to the OS when it is freed and trims the heap above
``M_TRIM_THRESHOLD``; both adapt upwards only to 32 MB. A proxy whose autograd graph grows to ~1 GB (grasp's double
backward) then pays tens of thousands of minor page faults per cell: a large share of its CPU time in the kernel,
much less with the thresholds below (docs/performance.md, grasp). Scores do not change; the
process keeps up to ``TRIM_BYTES`` of freed memory for the next cell. ``NASI_HARNESS_MALLOC_TUNING=0`` switches it
off; glibc's own ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_MMAP_THRESHOLD_`` in the environment win over it.

The same switch governs the request for transparent huge pages (``request_huge_pages``): PyTorch's CPU allocator
then aligns tensors of 2 MB and more to pages and marks them for huge pages (its ``THP_MEM_ALLOC_ENABLE``), which
spares the memory-bound layers a TLB miss per 4 kB page (nasi slightly faster, docs/performance.md; scores
bit for bit the same). PyTorch reads the variable at its first CPU allocation, so ``harness.scoring`` asks on import.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping, MutableMapping

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
TRIM_BYTES = 1 << 30
MMAP_BYTES = 256 << 20
ENV_SWITCH = "NASI_HARNESS_MALLOC_TUNING"
TORCH_HUGE_PAGES = "THP_MEM_ALLOC_ENABLE"  # PyTorch's (c10/core/alloc_cpu.cpp), read once per process
GLIBC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_applied: bool | None = None


def _glibc() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


def tune(environ: Mapping[str, str], platform: str, mallopt: Callable[[int, int], int] | None) -> tuple[bool, str]:
    """Set the two thresholds with ``mallopt`` unless switched off, not Linux/glibc, or set by the user's
    environment; returns (applied, why)."""
    if switched_off(environ):
        return False, f"{ENV_SWITCH}=0"
    if any(name in environ for name in GLIBC_ENV):
        return False, "the environment sets glibc's thresholds"
    if not platform.startswith("linux") or mallopt is None:
        return False, "not glibc"
    if not (mallopt(M_TRIM_THRESHOLD, TRIM_BYTES) and mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)):
        return False, "mallopt refused"
    return True, f"trim threshold {TRIM_BYTES >> 20} MiB, mmap threshold {MMAP_BYTES >> 20} MiB"


def switched_off(environ: Mapping[str, str]) -> bool:
    """``NASI_HARNESS_MALLOC_TUNING=0``: the heap thresholds and the huge-page request both stay PyTorch's/glibc's."""
    return environ.get(ENV_SWITCH, "1") == "0"


def request_huge_pages(environ: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Set ``THP_MEM_ALLOC_ENABLE=1`` unless switched off, set by the user or not Linux; True when it was set here.

    It takes effect only if no CPU tensor was allocated yet in this process (PyTorch reads it once): hence the call
    from ``harness.scoring``'s import; a process that allocated before runs as without it, only slower.
    """
    if switched_off(environ) or TORCH_HUGE_PAGES in environ or not platform.startswith("linux"):
        return False
    environ[TORCH_HUGE_PAGES] = "1"
    return True


def huge_pages_in_effect() -> bool:
    """Whether PyTorch's allocator page-aligns large tensors, i.e. read ``THP_MEM_ALLOC_ENABLE`` as on (a
    byte-aligned heap block lands on a page boundary 1 time in 64; four in a row are not chance)."""
    import torch  # noqa: PLC0415  (the allocator tuning itself must not need torch)

    blocks = [torch.empty(1 << 20) for _ in range(4)]  # 4 MB each, above PyTorch's 2 MB threshold
    return all(b.data_ptr() % 4096 == 0 for b in blocks)


def keep_freed_memory() -> bool:
    """Apply ``tune`` once per process (the engine calls it before scoring); True when the thresholds are set."""
    global _applied
    if _applied is None:
        _applied = tune(os.environ, sys.platform, _glibc())[0]
    return _applied
