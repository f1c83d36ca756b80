"""nasi-harness: score, correlate and compare training-free NAS proxies on NAS-Bench-201 / NATS-Bench.

The library at a glance (``docs/api.md``)::

    from harness import score, run_study, load_results, correlate, compare, agnostic

They are loaded on first use (module ``__getattr__``), so ``import harness`` imports neither torch nor pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness._version import __version__

_API = ("score", "run_study", "load_results", "correlate", "compare", "agnostic")
__all__ = ["__version__", "agnostic", "compare", "correlate", "load_results", "run_study", "score"]

if TYPE_CHECKING:
    from harness.api import agnostic, compare, correlate, load_results, run_study, score


def __getattr__(name: str) -> Any:
    if name in _API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
