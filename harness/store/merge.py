"""Merge results databases and exported tables into one database.

Why: a study split over machines (``run --part K/N``, a GPU session and a CPU box) leaves one database per
machine, and a long study is continued on another machine from its committed export. Merging gives one store
that ``run`` resumes from (finished units are skipped) and that analyses read as one study.

The rule is the store's own: a finished row (ok, degenerate, nan) is never replaced, an ``error: ...`` row is
replaced by a finished one, and a unit finished in both keeps the target's row (reported when the two differ,
e.g. scores from two devices). Rows keep their provenance. Study and proxy names follow the rule ``run``
applies to a study file (``harness.names``): a name with quotes, ``;`` or ``../`` is refused, naming the file
and row. Every source is checked before the target is opened, and the whole merge is one transaction: a bad
source leaves the target as it was (or absent, when it did not exist).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.names import name_problem
from harness.store.db import ResultStore, score_problem
from harness.store.load import load_results
from harness.store.schema import KEY_FIELDS, RESULT_COLUMNS, SEARCH_COLUMNS, quote, select_list
from harness.store.tables import is_table, read_table

REQUIRED_COLUMNS = (*KEY_FIELDS, "arch", "score", "status")
_INTEGER_COLUMNS = ("index", "batch_size", "seed", "proxy_version")
_FLOAT_COLUMNS = ("score", "seconds", "peak_mem_mb")
_NAME_COLUMNS = ("study", "proxy")


@dataclass
class MergeSummary:
    """What a merge did to the target, per source and in all (results rows; search runs and studies apart)."""

    added: int = 0
    replaced_errors: int = 0
    kept: int = 0
    differing: int = 0
    search_runs_added: int = 0
    studies_added: int = 0
    per_source: list[tuple[str, int, int]] = field(default_factory=list)  # (source, rows read, rows added)

    def lines(self) -> list[str]:
        out = [f"{source}: {read} rows read, {added} new" for source, read, added in self.per_source]
        out.append(
            f"merged: {self.added} rows added, {self.replaced_errors} error rows replaced by finished ones, "
            f"{self.kept} already present kept"
        )
        if self.differing:
            out[-1] += f" ({self.differing} of them differ from the merged row: the target's row was kept)"
        if self.search_runs_added or self.studies_added:
            out.append(f"search runs added: {self.search_runs_added}; study configurations added: {self.studies_added}")
        return out


def merge_results(
    target: str | os.PathLike, sources: Sequence[str | os.PathLike], *, study: str | None = None
) -> MergeSummary:
    """Merge ``sources`` (databases, or CSV/Parquet results tables) into the database ``target`` (created if
    missing); ``study`` keeps only that study's rows, and files the rows of a table without a study column
    (``score --out``) under it. Returns what was added, replaced and kept."""
    if not sources:
        raise HarnessError("merge needs at least one source")
    if study is not None and name_problem(study):
        raise HarnessError(f"--study: {name_problem(study)}")
    target_path = Path(target)
    for source in sources:
        if not Path(source).exists():
            raise HarnessError(f"no such results file: {source}")
        if Path(source).resolve() == target_path.resolve():
            raise HarnessError(f"{source} is the merge target: merge it into another file")
    if is_table(target_path):
        raise HarnessError(f"the merge target must be a results database, not a table: {target_path}")
    loaded = [(str(source), *_read_source(source, study)) for source in sources]  # validate all before writing
    summary = MergeSummary()
    with ResultStore(target_path) as store, store.transaction() as conn:
        conn.execute(_temp_table_ddl())
        for name, rows, search_rows, studies in loaded:
            counts = _merge_rows(conn, rows)
            summary.added += counts[0]
            summary.replaced_errors += counts[1]
            summary.kept += counts[2]
            summary.differing += counts[3]
            summary.per_source.append((name, len(rows), counts[0]))
            summary.search_runs_added += _insert_new(conn, "search_runs", SEARCH_COLUMNS, search_rows)
            summary.studies_added += _insert_new(conn, "studies", _STUDY_COLUMNS, studies)
        conn.execute("DROP TABLE temp.incoming")
    return summary


_STUDY_COLUMNS = ("name", "space", "config", "source", "harness_version", "updated_at")


def _read_source(source: str | os.PathLike, study: str | None) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(results rows, search-run rows, study rows) of one source, checked, as tuples in the table's column order."""
    if is_table(source):
        frame = read_table(source)
        search_rows: list[tuple] = []
        studies: list[tuple] = []
    else:
        frame = load_results(source)
        with ResultStore(source, readonly=True) as store:
            conn = store.connection
            search_columns = select_list(SEARCH_COLUMNS, store.table_columns("search_runs"))  # older files too
            search_rows = conn.execute(f"SELECT {search_columns} FROM search_runs").fetchall()
            studies = conn.execute(f"SELECT {', '.join(_STUDY_COLUMNS)} FROM studies").fetchall()
        if study is not None:
            search_rows = [r for r in search_rows if r[0] == study]
            studies = [r for r in studies if r[0] == study]
    if "study" not in frame.columns and study is not None:  # a ``score --out`` table: filed under ``study``
        frame["study"] = study
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        hint = " (a `score --out` table? give --study NAME to file it under a study)" if "study" in missing else ""
        raise HarnessError(f"{source} is not a results table: no column {', '.join(missing)}{hint}")
    if study is not None:
        frame = frame[frame["study"].astype(str) == study]
    for kind, names in (("search run", [r[0] for r in search_rows]), ("study configuration", [r[0] for r in studies])):
        for name in dict.fromkeys(names):
            if name_problem(name):
                raise HarnessError(f"{source}: {kind} of study {name_problem(name)}")
    return _checked_rows(frame, source), search_rows, studies


def _checked_rows(frame: pd.DataFrame, source: str | os.PathLike) -> list[tuple]:
    """Rows in ``RESULT_COLUMNS`` order, refusing what the store would refuse (a score that is not finite, an
    ``ok`` row without one, an empty key); a missing optional column (time, device, provenance) stays NULL."""
    rows = []
    for number, record in enumerate(frame.to_dict("records"), start=2 if is_table(source) else 1):
        values = {c: _clean(record.get(c)) for c in RESULT_COLUMNS}
        where = f"{source}, row {number}"
        for column in (*KEY_FIELDS, "arch", "status"):
            if values[column] is None or values[column] == "":
                raise HarnessError(f"{where}: empty {column}")
        for column in _NAME_COLUMNS:  # what ``run`` would refuse in a study file never enters the store either
            if name_problem(values[column]):
                raise HarnessError(f"{where}: {column} {name_problem(values[column])}")
        try:
            for column in _INTEGER_COLUMNS:
                number_value = float(values[column])
                if not number_value.is_integer():
                    raise ValueError(values[column])
                values[column] = int(number_value)
            for column in _FLOAT_COLUMNS:
                values[column] = None if values[column] is None else float(values[column])
        except (TypeError, ValueError):
            raise HarnessError(f"{where}: {column} is not a number ({values[column]!r})") from None
        problem = score_problem(values["score"], values["status"])
        if problem:
            raise HarnessError(f"{where}: {problem}")
        rows.append(tuple(values[c] for c in RESULT_COLUMNS))
    return rows


def _clean(value: object) -> object:
    """pandas' missing values (NaN, None, NA) -> None; numpy scalars -> Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def _temp_table_ddl() -> str:
    columns = ", ".join(quote(c) for c in RESULT_COLUMNS)
    keys = ", ".join(quote(k) for k in KEY_FIELDS)
    return f"CREATE TEMP TABLE incoming ({columns}, PRIMARY KEY ({keys}))"


def _merge_rows(conn, rows: list[tuple]) -> tuple[int, int, int, int]:
    """Merge one source's rows; (added, errors replaced, kept, kept but differing)."""
    conn.execute("DELETE FROM temp.incoming")
    names = ", ".join(quote(c) for c in RESULT_COLUMNS)
    # a unit listed twice in one source: the later row wins, as when analysis reads the table
    placeholders = ", ".join("?" * len(RESULT_COLUMNS))
    conn.executemany(f"INSERT OR REPLACE INTO temp.incoming ({names}) VALUES ({placeholders})", rows)
    join = " AND ".join(f"r.{quote(k)} = i.{quote(k)}" for k in KEY_FIELDS)
    total = conn.execute("SELECT COUNT(*) FROM temp.incoming").fetchone()[0]
    present, replace, differ = conn.execute(
        f"""SELECT COUNT(*),
                   COALESCE(SUM(r.status LIKE 'error%' AND i.status NOT LIKE 'error%'), 0),
                   COALESCE(SUM(r.status NOT LIKE 'error%' AND i.status NOT LIKE 'error%'
                                AND (r.status != i.status OR r.score IS NOT i.score)), 0)
            FROM temp.incoming i JOIN results r ON {join}"""
    ).fetchone()
    update = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in RESULT_COLUMNS if c not in KEY_FIELDS)
    conn.execute(
        f"INSERT INTO results ({names}) SELECT {names} FROM temp.incoming WHERE true "
        f"ON CONFLICT ({', '.join(quote(k) for k in KEY_FIELDS)}) DO UPDATE SET {update} "
        "WHERE results.status LIKE 'error%' AND excluded.status NOT LIKE 'error%'"
    )
    return total - present, replace, present - replace, differ


def _insert_new(conn, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
    """Insert rows whose key is not in ``table`` yet (search runs, study configurations); the target's win."""
    if not rows:
        return 0
    before = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    placeholders = ", ".join("?" * len(columns))
    conn.executemany(
        f"INSERT OR IGNORE INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES ({placeholders})", rows
    )
    return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] - before


__all__ = ["MergeSummary", "merge_results"]
