"""Ranks over a candidate set, for the proxies whose official score only exists relative to a set
(TE-NAS's rank sum, AZ-NAS's log-rank aggregation, VKDNW's lexicographic rank).

Convention: rank 1 is the worst candidate and N the best (``scipy.stats.rankdata`` on the "higher is
better" orientation, which is what the reference notebooks rank), ties share their average rank, and a
missing component (NaN: the proxy failed, or the reference would have produced -inf / NaN for it) ranks
below every scored candidate, tied with the other missing ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """``ValueError`` unless ``frame`` is a DataFrame holding every column of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} needs a pandas DataFrame (one row per cell), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(pivot the score records first: frame.pivot(index='index', columns='proxy', values='score'))"
        )


def oriented_rank(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Average ranks 1..N with N for the best value; NaN ranks lowest (tied)."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.any():
        raise ValueError(f"column {values.name!r} holds non-numeric values, e.g. {values[bad].iloc[0]!r}")
    oriented = numeric.astype(float) if higher_is_better else -numeric.astype(float)
    return oriented.fillna(-np.inf).rank(method="average", ascending=True)
