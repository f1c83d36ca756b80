"""How an estimate and its interval read as text, one rule for every table, note and report: ``0.532 [0.511, 0.553]``.

Values are written as given: NaN reads ``nan``, as the f-strings this replaces wrote it. ``None`` for the value reads
``-`` (a record with no estimate); ``None`` for either bound leaves the interval out. Table views that print a
missing value as ``-`` (``harness.analysis.tables.fmt_ci``) decide that before they get here.
"""

from __future__ import annotations


def format_estimate(
    value: float | None, low: float | None = None, high: float | None = None, digits: int = 3, *, signed: bool = False
) -> str:
    """``value [low, high]``, each to ``digits`` decimals (``signed``: with a sign, for differences)."""
    if value is None:
        return "-"
    spec = f"{'+' if signed else ''}.{digits}f"
    text = f"{value:{spec}}"
    return text if low is None or high is None else f"{text} [{low:{spec}}, {high:{spec}}]"
