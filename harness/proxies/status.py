"""A score's status, as the engine and the proxy contract classify one call of a proxy.

"ok"; "degenerate" (the cell ignores its input; the score is kept when finite so analyses can include or exclude
such cells); "nan" (the proxy gave NaN/inf: no score); "error: <message>" (no score). The score records
(``harness.scoring.records``) carry them.
"""

from __future__ import annotations

OK = "ok"
DEGENERATE = "degenerate"
NAN = "nan"


def error_status(exc: BaseException) -> str:
    """``error: <type>[: <first line of the message, 200 characters at most>]``."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}" + (f": {message[:200]}" if message else "")
