"""SIGTERM ends a run as Ctrl-C does.

Job schedulers and service managers stop a job with SIGTERM (SLURM's ``scancel``, Kubernetes, systemd, ``kill``),
whose default action ends the driver at once: no ``finally`` runs, so its worker processes are not stopped and
the run's claims on its units stay held until their lease expires. Raised as ``KeyboardInterrupt`` instead, the
run stops the way an interrupted one does: what was written is kept, workers are terminated, claims released,
and a rerun resumes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread; the previous handler after it.
    Off the main thread (where handlers cannot be set) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
