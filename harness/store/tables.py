"""Results as flat tables (CSV, gzipped CSV, Parquet): what ``export`` writes and ``score --out`` prints, read
back so analysis and ``merge`` can take a table wherever they take a database."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

TEXT_COLUMNS = ("study", "space", "arch", "proxy", "dataset", "data", "labels", "status", "device")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def is_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a table by its suffix (anything else is read as a results database)."""
    return str(path).lower().endswith(TABLE_SUFFIXES)


def read_table(path: str | os.PathLike, space: str | None = None) -> pd.DataFrame:
    """The rows of a results table; ``space`` fills the column where the table has none (``score --out``),
    default ``nb201``. Text columns stay text: pandas would otherwise read the label mode "true" as a boolean."""
    path = Path(path)
    if not path.exists():
        raise HarnessError(f"no such results file: {path}")
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        else:
            # only an empty cell is missing: pandas' default would also read the status "nan" as a missing value
            frame = pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False, na_values=[""])
    except (ValueError, OSError, ImportError) as exc:
        raise HarnessError(f"cannot read results table {path}: {exc}") from None
    if "space" not in frame.columns:
        frame["space"] = space or "nb201"
    return frame
