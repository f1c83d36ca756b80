"""Read a results database into pandas (read-only: loading never creates, migrates or locks a file)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import pandas as pd

from harness.store.db import ResultStore
from harness.store.legacy import rename_legacy_proxies
from harness.store.schema import RESULT_COLUMNS, SEARCH_COLUMNS, select_list

_RESULT_DTYPES = {"index": "int64", "batch_size": "int64", "seed": "int64", "proxy_version": "int64",
                  "score": "float64", "seconds": "float64", "peak_mem_mb": "float64"}  # fmt: skip


def _query(path: str | os.PathLike, table: str, columns: tuple[str, ...], study: str | None) -> pd.DataFrame:
    with ResultStore(path, readonly=True) as store:
        sql = f"SELECT {select_list(columns, store.table_columns(table))} FROM {table}"
        args: tuple = ()
        if study is not None:
            sql += " WHERE study = ?"
            args = (study,)
        order = 'study, space, dataset, data, labels, seed, proxy, "index"' if table == "results" else "rowid"
        rows = store.connection.execute(f"{sql} ORDER BY {order}", args).fetchall()
    return pd.DataFrame.from_records(rows, columns=list(columns))


def load_units(
    path: str | os.PathLike, study: str | None = None, columns: Sequence[str] = RESULT_COLUMNS
) -> pd.DataFrame:
    """One row per stored unit; ``score`` is NaN unless ``status == "ok"`` (or a finite degenerate score).

    Columns: study, space, index, arch, proxy, dataset, data, labels, batch_size, seed, proxy_version, protocol,
    score, status, seconds, peak_mem_mb, device, harness_version, git_commit, torch_version, threads, cpu,
    device_name, host, created_at (a store written before schema 2 reads as proxy version 1, protocol harness,
    threads and cpu unknown; a legacy proxy name reads as its current one, ``harness.store.legacy``); ``columns``
    reads only some of them (a full space's provenance text is most of the loading time of an analysis).
    """
    unknown = [c for c in columns if c not in RESULT_COLUMNS]
    if unknown:
        raise ValueError(f"unknown results column(s) {', '.join(unknown)}")
    frame = rename_legacy_proxies(_query(path, "results", tuple(columns), study))
    return frame.astype({c: t for c, t in _RESULT_DTYPES.items() if c in frame.columns})


def load_search_runs(path: str | os.PathLike, study: str | None = None) -> pd.DataFrame:
    """One row per search run; ``config`` and ``accuracy`` are dicts, and each accuracy is also a column
    ``accuracy_<dataset>`` (NaN where unknown) for easy aggregation."""
    frame = _query(path, "search_runs", SEARCH_COLUMNS, study)
    frame["config"] = [json.loads(t) for t in frame["config"]]
    frame["accuracy"] = [json.loads(t) for t in frame["accuracy"]]
    keys = sorted({k for acc in frame["accuracy"] for k in acc})
    for key in keys:
        frame[f"accuracy_{key}"] = pd.array([acc.get(key) for acc in frame["accuracy"]], dtype="Float64").astype(
            "float64"
        )
    return frame.astype({"seed": "int64", "index": "int64", "seconds": "float64"})


def latest_versions(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Only the rows of each proxy's latest stored version, and a note per proxy whose older rows were left out:
    an analysis never mixes two versions of one proxy in one table."""
    if "proxy_version" not in frame.columns or frame.empty:
        return frame, []
    versions = frame["proxy_version"].fillna(1).astype("int64")
    latest = versions.groupby(frame["proxy"]).transform("max")
    older = versions < latest
    if not older.any():
        return frame, []
    notes = []
    for proxy, rows in frame[older].groupby("proxy"):
        kept = int(latest[rows.index[0]])
        dropped = ", ".join(str(v) for v in sorted(set(versions[rows.index])))
        notes.append(f"{proxy}: version {kept} kept; {len(rows)} rows of version {dropped} left out")
    return frame[~older], notes
