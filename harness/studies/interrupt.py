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


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM wait; at its end the first one that came is handled as it would have
    been. The run holds them while it stores a batch of rows and counts it: the write is one transaction either
    way, but an interrupt between the commit and the count made the summary say fewer units ran, and more are left,
    than the store holds. A signal being ignored stays ignored; off the main thread the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # ignored stays ignored; a handler installed outside Python (None here) cannot be put back, so it is left alone
    held = [s for s, handler in previous.items() if handler is not signal.SIG_IGN and handler is not None]
    for s in held:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s in held:
            signal.signal(s, previous[s])
    if caught:
        handler = previous[signal.Signals(caught[0])]
        if callable(handler):
            handler(caught[0], None)
        else:  # SIG_DFL: deliver it again now that the default action is back in place
            signal.raise_signal(caught[0])
