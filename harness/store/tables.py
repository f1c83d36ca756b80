"""Results as flat tables (CSV, gzipped CSV, Parquet): what ``export`` writes and ``score --out`` prints, read
back so analysis and ``merge`` can take a table wherever they take a database."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

TEXT_COLUMNS = ("study", "space", "arch", "proxy", "dataset", "data", "labels", "protocol", "status", "device")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
# How each space writes a cell, for tables that do not say their space (``score --out``)
ARCH_PATTERNS = {"nb201": re.compile(r"^\|.*\|$"), "nats-sss": re.compile(r"^\d+(:\d+)+$")}


def is_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a table by its suffix (anything else is read as a results database)."""
    return str(path).lower().endswith(TABLE_SUFFIXES)


def read_table(path: str | os.PathLike, space: str | None = None) -> pd.DataFrame:
    """The rows of a results table; ``space`` fills the column where the table has none (``score --out``),
    else it is inferred from the arch strings. Text columns stay text: pandas would otherwise read the label
    mode "true" as a boolean."""
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
        frame["space"] = space or infer_space(frame, path)
    from harness.store.schema import LEGACY_DEFAULTS

    for column in ("proxy_version", "protocol"):  # an export from before schema 2: version 1, harness protocol
        if column not in frame.columns:
            frame[column] = LEGACY_DEFAULTS[column]
    from harness.store.legacy import rename_legacy_proxies

    return rename_legacy_proxies(frame)


def infer_space(frame: pd.DataFrame, path: str | os.PathLike) -> str:
    """The space whose arch format the rows' arch strings have; nb201 when none has a known format (synthetic
    names); an error when rows of two spaces are mixed."""
    if "arch" not in frame.columns or frame.empty:
        return "nb201"
    archs = frame["arch"].astype(str)
    present = [name for name, pattern in ARCH_PATTERNS.items() if archs.str.match(pattern).any()]
    if len(present) > 1:
        raise HarnessError(
            f"{path} has no space column and mixes the arch strings of {' and '.join(present)}: give --space"
        )
    return present[0] if present else "nb201"
