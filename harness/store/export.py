"""Export a results database to CSV or Parquet, for tools that do not read SQLite."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.store.load import load_search_runs, load_units

FORMATS = ("csv", "parquet")
TABLES = ("results", "search_runs")


def export(
    path: str | os.PathLike,
    fmt: str = "csv",
    out: str | os.PathLike | None = None,
    *,
    study: str | None = None,
    table: str = "results",
) -> Path | None:
    """Write ``table`` of the database at ``path`` to ``out`` (CSV to stdout when ``out`` is None).

    Parquet needs a file: by default ``<store>.parquet`` (or ``<store>.search_runs.parquet``) beside the store.
    Returns the file written, or None for stdout.
    """
    return export_rows(path, fmt, out, study=study, table=table)[0]


def default_out(path: str | os.PathLike, table: str = "results") -> Path:
    """Where a Parquet export goes without ``out``: ``<store>.parquet`` (``<store>.search_runs.parquet``)."""
    return Path(path).with_suffix(".parquet" if table == "results" else ".search_runs.parquet")


def export_rows(
    path: str | os.PathLike,
    fmt: str = "csv",
    out: str | os.PathLike | None = None,
    *,
    study: str | None = None,
    table: str = "results",
) -> tuple[Path | None, int]:
    """``export``, also returning the number of rows written (the CLI reports it)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise HarnessError(
                "parquet export needs pyarrow: pip install 'nasi-harness[parquet]' (or use csv)"
            ) from None
    frame = load_units(path, study) if table == "results" else load_search_runs(path, study)
    if table == "search_runs":  # nested dicts -> JSON text, which both formats can hold
        frame["config"] = [json.dumps(c, sort_keys=True) for c in frame["config"]]
        frame["accuracy"] = [json.dumps(a, sort_keys=True) for a in frame["accuracy"]]
    if out is None and fmt == "parquet":
        out = default_out(path, table)
    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return None, len(frame)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    return out, len(frame)
