"""The one result type of the analyses (correlate, compare, agnosticism, score_agreement).

A table alone loses what a reader must see beside it: settings skipped for want of ground truth, which accuracy
the numbers are against, how the intervals were made. Keeping those in fields (not in ``DataFrame.attrs``, which
most pandas operations drop) means they survive filtering and reach every table printed or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class AnalysisResult:
    """``table``: one row per setting x proxy (x mode); ``notes``: what was skipped or is partial, one line each;
    ``targets``: the provenance of each accuracy target compared against (empty when none was needed);
    ``method``: how the statistics were made (bootstrap, verdict thresholds), one line each; ``tables``: further
    named tables (``compare``: ``"pairwise"``, every ordered pair's difference; ``correlate`` and ``compare``:
    ``"seeds"``, the main table summarised over scoring seeds, and ``compare``'s ``"seeds_pairwise"``; see
    :mod:`harness.analysis.seeds`)."""

    table: pd.DataFrame
    notes: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    method: tuple[str, ...] = ()
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def to_frame(self, name: str | None = None) -> pd.DataFrame:
        """A copy of the main table, or of the named further table."""
        if name is None:
            return self.table.copy()
        if name not in self.tables:
            raise KeyError(f"no table {name!r}; this result has: {', '.join(self.tables) or 'only the main one'}")
        return self.tables[name].copy()

    def records(self, name: str | None = None) -> list[dict[str, Any]]:
        """The table's rows as JSON-ready dicts (what ``--json`` prints): intervals as two-element lists, NaN as
        ``None``, numpy scalars as Python ones, ``proxy`` the registered name beside its ``protocol`` (the table
        itself shows ``"grad_norm [paper]"``: ``harness.analysis.protocols.machine_fields``)."""
        from harness.analysis.protocols import machine_fields

        frame = machine_fields(self.table if name is None else self.to_frame(name))
        return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]

    @property
    def empty(self) -> bool:
        return self.table.empty

    def __len__(self) -> int:
        return len(self.table)

    def footer(self) -> list[str]:
        """The lines to print under the table: notes first, then how the statistics were made."""
        return [line for line in (*self.notes, *self.method) if line]


def targets_of(table: pd.DataFrame) -> tuple[str, ...]:
    """The distinct values of a table's ``target`` column, in order of appearance."""
    if "target" not in table.columns:
        return ()
    return tuple(dict.fromkeys(str(t) for t in table["target"].dropna() if str(t)))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
