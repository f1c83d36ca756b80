"""Merge results databases and exported tables into one database.

Why: a study split over machines (``run --part K/N``, a GPU session and a CPU box) leaves one database per
machine, and a long study is continued on another machine from its committed export. Merging gives one store
that ``run`` resumes from (finished units are skipped) and that analyses read as one study.

The rule is the store's own: a finished row (ok, degenerate, nan) is never replaced by a failed one, and a failed
row (``error: ...``, ``timeout``) is replaced by a finished one. A unit finished in two rows (the target and a
source, two sources, or twice in one source) with different results (status or score, e.g. scores from two
devices) is a conflict: an error naming the unit, unless ``prefer`` is ``newest`` or ``oldest``, which keeps the
row with the later or earlier ``created_at`` (a row without one counts as oldest; on a tie the row already there
stays). Rows keep their provenance.

Every row is checked against the schema and its space before the target is opened: a status of the vocabulary
(``harness.store.schema``), a cell index in the space's range whose arch string is the row's, a known dataset,
a positive batch size, a non-negative seed, a known protocol (data and label modes are not checked here: that
would load torch, which merging does not need). Study and proxy names follow
the rule ``run`` applies to a study file (``harness.names``): a name with quotes, ``;`` or ``../`` is refused.
Each bad row is one line naming the file, row and problem (the first ``MAX_PROBLEM_LINES``, then how many more
rows failed). The whole merge is one transaction: a bad source or a conflict leaves the target as it was (or
absent, when it did not exist).
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
from harness.store.db import ResultStore, check_file, quick_check, score_problem
from harness.store.load import load_units
from harness.store.schema import (
    KEY_FIELDS,
    RESULT_COLUMNS,
    SEARCH_COLUMNS,
    STATUS_FORM,
    failed_sql,
    is_failed,
    known_status,
    quote,
    select_list,
)
from harness.store.tables import is_table, read_table

REQUIRED_COLUMNS = (*KEY_FIELDS, "arch", "score", "status")
_INTEGER_COLUMNS = ("index", "batch_size", "seed", "proxy_version")
_FLOAT_COLUMNS = ("score", "seconds", "peak_mem_mb")
_NAME_COLUMNS = ("study", "proxy")
PREFER = ("newest", "oldest")
PROTOCOLS = ("harness", "paper")
MAX_PROBLEM_LINES = 10  # lines of an error listing bad rows or conflicts; the rest are counted
MAX_LINE = 300  # characters per line at most


def _problems(header: str | None, lines: list[str], what: str, total: int | None = None) -> HarnessError:
    """One error: the first lines (each cut to ``MAX_LINE``), then how many more ``what`` there were (of ``total``,
    when more exist than ``lines`` lists)."""
    total = len(lines) if total is None else total
    shown = [line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..." for line in lines[:MAX_PROBLEM_LINES]]
    if total > len(shown):
        shown.append(f"... and {total - len(shown)} more {what}")
    return HarnessError("\n".join(([header] if header else []) + shown))


@dataclass
class MergeSummary:
    """What a merge did to the target, per source and in all (results rows; search runs and studies apart)."""

    added: int = 0
    replaced_errors: int = 0
    kept: int = 0
    differing: int = 0  # finished in both with different results (conflicts), each settled by ``prefer``
    preferred: int = 0  # of those, how many the source's row won
    prefer: str | None = None
    warnings: list[str] = field(default_factory=list)
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
            out[-1] += (f" ({self.differing} of them differ from the merged row: the {self.prefer} row was kept, "
                        f"{self.preferred} times the merged one)")  # fmt: skip
        out += self.warnings
        if self.search_runs_added or self.studies_added:
            out.append(f"search runs added: {self.search_runs_added}; study configurations added: {self.studies_added}")
        return out


def merge_results(
    target: str | os.PathLike,
    sources: Sequence[str | os.PathLike],
    *,
    study: str | None = None,
    prefer: str | None = None,
    allow_thread_change: bool = False,
) -> MergeSummary:
    """Merge ``sources`` (databases, or CSV/Parquet results tables) into the database ``target`` (created if
        missing); ``study`` keeps only that study's rows, and files the rows of a table without a study column
        (``score --out``) under it. ``prefer`` (newest | oldest) settles units finished twice with different results
        by ``created_at``; without it they are an error. CPU rows of a study whose rows in the target (or an earlier
    source) were scored with another thread count, or with none recorded (an old ``score --out`` table), are refused
    unless ``allow_thread_change`` (then ``summary.lines()`` says so), as ``run`` refuses to resume under another
    count. Returns what was added, replaced and kept."""
    if not sources:
        raise HarnessError("merge needs at least one source")
    if prefer is not None and prefer not in PREFER:
        raise HarnessError(f"prefer must be one of {', '.join(PREFER)}, got {prefer!r}")
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
    check_file(target_path)  # a damaged target is refused before any source is read
    if target_path.exists():
        quick_check(target_path)
    loaded = [(str(source), *_read_source(source, study, prefer)) for source in sources]  # all before writing
    summary = MergeSummary(prefer=prefer)
    existed = target_path.exists()
    try:
        with ResultStore(target_path) as store, store.transaction() as conn:
            conn.execute(_temp_table_ddl())
            for name, rows, search_rows, studies in loaded:
                for note in _thread_changes(conn, rows, name, target_path):
                    if not allow_thread_change:
                        raise HarnessError(f"{note}: CPU scores depend on the thread count; give "
                                           "--allow-thread-change to merge them anyway")  # fmt: skip
                    summary.warnings.append(f"warning: {note}; merged anyway (--allow-thread-change)")
                counts = _merge_rows(conn, rows, prefer, name, target_path)
                summary.added += counts[0]
                summary.replaced_errors += counts[1]
                summary.kept += counts[2]
                summary.differing += counts[3]
                summary.preferred += counts[4]
                summary.per_source.append((name, len(rows), counts[0]))
                summary.search_runs_added += _insert_new(conn, "search_runs", SEARCH_COLUMNS, search_rows)
                summary.studies_added += _insert_new(conn, "studies", _STUDY_COLUMNS, studies)
            conn.execute("DROP TABLE temp.incoming")
    except HarnessError:  # a conflict: the transaction is rolled back; a target this merge created goes too
        if not existed:
            for path in (target_path, Path(f"{target_path}-wal"), Path(f"{target_path}-shm")):
                path.unlink(missing_ok=True)
        raise
    return summary


_STUDY_COLUMNS = ("name", "space", "config", "source", "harness_version", "updated_at")


def _read_source(
    source: str | os.PathLike, study: str | None, prefer: str | None = None
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(results rows, search-run rows, study rows) of one source, checked, as tuples in the table's column order."""
    if is_table(source):
        frame = read_table(source)
        search_rows: list[tuple] = []
        studies: list[tuple] = []
    else:
        frame = load_units(source)
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
    rows, problems = _checked_rows(frame, source)
    if problems:
        raise _problems(None, problems, "rows failed")
    return _settled_duplicates(rows, source, prefer), search_rows, studies


def _checked_rows(frame: pd.DataFrame, source: str | os.PathLike) -> tuple[list[tuple], list[str]]:
    """Rows in ``RESULT_COLUMNS`` order, and one line per row the store must not take (``_row_problem``); a
    missing optional column (time, device, provenance) stays NULL."""
    rows, problems = [], []
    checks = _Checks()
    for number, record in enumerate(frame.to_dict("records"), start=2 if is_table(source) else 1):
        values = {c: _clean(record.get(c)) for c in RESULT_COLUMNS}
        problem = _row_problem(values, checks)
        if problem:
            problems.append(f"{source}, row {number}: {problem}")
        else:
            rows.append(tuple(values[c] for c in RESULT_COLUMNS))
    return rows, problems


class _Checks:
    """Per-value checks, each done once per distinct value (a store has thousands of rows and few spaces)."""

    def __init__(self) -> None:
        self.spaces: dict[str, object] = {}

    def space(self, name: str):  # noqa: ANN201 - a SearchSpace, or an error line
        if name not in self.spaces:
            from harness.spaces import get_space, space_names

            try:
                self.spaces[name] = get_space(name)
            except ValueError:
                self.spaces[name] = (f"unknown space {name!r} (known: {', '.join(space_names())}; a plugin space "
                                     "needs --plugin)")  # fmt: skip
        return self.spaces[name]


def _row_problem(values: dict, checks: _Checks) -> str | None:
    """Why the store must not take this row (``values`` made typed in place), or None."""
    from harness.datasets import DATASETS

    for column in (*KEY_FIELDS, "arch", "status"):
        if values[column] is None or values[column] == "":
            return f"empty {column}"
    for column in _NAME_COLUMNS:  # what ``run`` would refuse in a study file never enters the store either
        if name_problem(values[column]):
            return f"{column} {name_problem(values[column])}"
    try:
        for column in _INTEGER_COLUMNS:
            number_value = float(values[column])
            if not number_value.is_integer():
                raise ValueError(values[column])
            values[column] = int(number_value)
        for column in _FLOAT_COLUMNS:
            values[column] = None if values[column] is None else float(values[column])
    except (TypeError, ValueError, OverflowError):
        return f"{column} is not a number ({values[column]!r})"
    if not known_status(values["status"]):
        return f"status {values['status']!r} is not one of {STATUS_FORM}"
    problem = score_problem(values["score"], values["status"])
    if problem:
        return problem
    if is_failed(values["status"]) and values["score"] is not None:
        return f"a {values['status'].split(':')[0]!r} row has a score ({values['score']})"
    if values["threads"] is not None:
        try:
            values["threads"] = int(values["threads"])
        except (TypeError, ValueError, OverflowError):
            return f"threads is not a number ({values['threads']!r})"
        if values["threads"] < 1:
            return f"threads {values['threads']} is not positive"
    if values["batch_size"] < 1:
        return f"batch size {values['batch_size']} is not positive"
    if values["seed"] < 0 or values["proxy_version"] < 1:
        return f"seed {values['seed']} / proxy version {values['proxy_version']} out of range"
    if str(values["dataset"]) not in DATASETS:
        return f"unknown dataset {values['dataset']!r} (known: {', '.join(DATASETS)})"
    if str(values["protocol"]) not in PROTOCOLS:
        return f"unknown protocol {values['protocol']!r} (known: {', '.join(PROTOCOLS)})"
    sp = checks.space(str(values["space"]))
    if isinstance(sp, str):
        return sp
    index = values["index"]
    if not 0 <= index < len(sp):
        return f"cell index {index} is out of range for space {values['space']} (0 to {len(sp) - 1})"
    if sp.arch(index) != values["arch"]:
        return f"arch {values['arch']!r} is not cell {index}'s arch in {values['space']} ({sp.arch(index)})"
    return None


_KEY_AT = tuple(RESULT_COLUMNS.index(k) for k in KEY_FIELDS)
_STATUS_AT, _SCORE_AT, _CREATED_AT = (RESULT_COLUMNS.index(c) for c in ("status", "score", "created_at"))


def describe_unit(row: tuple) -> str:
    """A unit named in a message: study, space, cell, proxy and its batch."""
    v = dict(zip(RESULT_COLUMNS, row))
    return (f"study {v['study']} {v['space']} cell {v['index']} proxy {v['proxy']} v{v['proxy_version']} "
            f"({v['protocol']}) on {v['dataset']} {v['data']}/{v['labels']} b={v['batch_size']} "
            f"seed {v['seed']}")  # fmt: skip


def _result(status: str, score: float | None, created_at: str | None) -> str:
    return f"{status} {score!r} (created {created_at or 'at an unknown time'})"


def _of(row: tuple) -> str:
    return _result(row[_STATUS_AT], row[_SCORE_AT], row[_CREATED_AT])


def _newer(a: tuple, b: tuple) -> bool:
    return (a[_CREATED_AT] or "") > (b[_CREATED_AT] or "")


def _settled_duplicates(rows: list[tuple], source: str | os.PathLike, prefer: str | None) -> list[tuple]:
    """One row per unit of one source: a finished row beats a failed one; of two failed ones, the later; two
    finished ones with different results are a conflict that ``prefer`` settles (else an error listing them)."""
    kept: dict[tuple, tuple] = {}
    conflicts = []
    for row in rows:
        key = tuple(row[i] for i in _KEY_AT)
        old = kept.get(key)
        if old is None or is_failed(old[_STATUS_AT]):
            kept[key] = row
        elif is_failed(row[_STATUS_AT]) or (old[_STATUS_AT], old[_SCORE_AT]) == (row[_STATUS_AT], row[_SCORE_AT]):
            continue  # a finished row stays; the same result twice is one row
        elif prefer is None:
            conflicts.append(f"{describe_unit(row)}: {_of(old)} vs {_of(row)}")
        elif _newer(row, old) if prefer == "newest" else _newer(old, row):
            kept[key] = row
    if conflicts:
        raise _problems(f"{source} lists {len(conflicts)} units twice with different results (give --prefer newest "
                        "or --prefer oldest to keep one by created_at):", conflicts, "conflicting units")  # fmt: skip
    return list(kept.values())


def _clean(value: object) -> object:
    """pandas' missing values (NaN, None, NA) -> None; numpy scalars -> Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def _temp_table_ddl() -> str:
    columns = ", ".join(quote(c) for c in RESULT_COLUMNS)
    keys = ", ".join(quote(k) for k in KEY_FIELDS)
    return f"CREATE TEMP TABLE incoming ({columns}, PRIMARY KEY ({keys}))"


_STUDY_AT, _DEVICE_AT, _THREADS_AT = (RESULT_COLUMNS.index(c) for c in ("study", "device", "threads"))


def _thread_changes(conn, rows: list[tuple], source: str, target: os.PathLike | str) -> list[str]:
    """One line per study whose incoming finished CPU rows have a thread count (or none) that its CPU rows in
    the target do not: CPU scores depend on it (``harness.studies.runner.check_threads`` for ``run``)."""
    incoming: dict[str, dict[int | None, int]] = {}
    for row in rows:
        if row[_DEVICE_AT] == "cpu" and not is_failed(row[_STATUS_AT]):
            counts = incoming.setdefault(row[_STUDY_AT], {})
            counts[row[_THREADS_AT]] = counts.get(row[_THREADS_AT], 0) + 1
    notes = []
    for study, counts in incoming.items():
        stored = {int(t) for (t,) in conn.execute(
            f"SELECT DISTINCT threads FROM results WHERE study = ? AND device = 'cpu' AND threads IS NOT NULL "
            f"AND NOT {failed_sql()}", (study,))}  # fmt: skip
        other = {t: n for t, n in counts.items() if t not in stored}
        if stored and other:
            what = " or ".join("no thread count" if t is None else f"{t} threads" for t in sorted(other, key=str))
            notes.append(f"{source}: {sum(other.values())} CPU rows of study {study} have {what}; its rows in "
                         f"{target} used {' and '.join(map(str, sorted(stored)))}")  # fmt: skip
    return notes


def _conflict_sql(there: str, new: str, prefer: str | None) -> tuple[str, str]:
    """SQL for (finished in both with different results, the new row wins by ``prefer``) with table aliases."""
    differ = (f"NOT {failed_sql(f'{there}.status')} AND NOT {failed_sql(f'{new}.status')} "
              f"AND ({there}.status != {new}.status OR {there}.score IS NOT {new}.score)")  # fmt: skip
    order = {"newest": ">", "oldest": "<"}.get(prefer or "")
    wins = "false" if order is None else f"COALESCE({new}.created_at, '') {order} COALESCE({there}.created_at, '')"
    return differ, wins


def _merge_rows(
    conn, rows: list[tuple], prefer: str | None = None, source: str = "", target: os.PathLike | str = ""
) -> tuple[int, int, int, int, int]:
    """Merge one source's rows (one per unit); (added, failed rows replaced, kept, conflicts, conflicts the
    source's row won by ``prefer``). Conflicts without ``prefer`` raise, naming the units."""
    conn.execute("DELETE FROM temp.incoming")
    names = ", ".join(quote(c) for c in RESULT_COLUMNS)
    placeholders = ", ".join("?" * len(RESULT_COLUMNS))
    conn.executemany(f"INSERT OR REPLACE INTO temp.incoming ({names}) VALUES ({placeholders})", rows)
    join = " AND ".join(f"r.{quote(k)} = i.{quote(k)}" for k in KEY_FIELDS)
    differ, wins = _conflict_sql("r", "i", prefer)
    total = conn.execute("SELECT COUNT(*) FROM temp.incoming").fetchone()[0]
    replaces = f"{failed_sql('r.status')} AND NOT {failed_sql('i.status')}"
    present, replace, differing, won = conn.execute(
        f"""SELECT COUNT(*), COALESCE(SUM({replaces}), 0), COALESCE(SUM({differ}), 0),
                   COALESCE(SUM(({differ}) AND {wins}), 0)
            FROM temp.incoming i JOIN results r ON {join}"""
    ).fetchone()
    if differing and prefer is None:
        shown = conn.execute(
            f"SELECT {', '.join(f'i.{quote(c)}' for c in RESULT_COLUMNS)}, r.status, r.score, r.created_at "
            f"FROM temp.incoming i JOIN results r ON {join} WHERE {differ} LIMIT {MAX_PROBLEM_LINES}"
        ).fetchall()
        lines = [f"{describe_unit(row)}: {_result(*row[-3:])} vs {_of(row)}" for row in shown]
        raise _problems(f"{source}: {differing} units are finished in {target} (or an earlier source) with another "
                        "result (give --prefer newest or --prefer oldest to keep one by created_at):",
                        lines, "conflicting units", differing)  # fmt: skip
    update = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in RESULT_COLUMNS if c not in KEY_FIELDS)
    settle = " OR (({}) AND {})".format(*_conflict_sql("results", "excluded", prefer))
    conn.execute(
        f"INSERT INTO results ({names}) SELECT {names} FROM temp.incoming WHERE true "
        f"ON CONFLICT ({', '.join(quote(k) for k in KEY_FIELDS)}) DO UPDATE SET {update} "
        f"WHERE ({failed_sql('results.status')} AND NOT {failed_sql('excluded.status')}){settle}"
    )
    return total - present, replace, present - replace - won, differing, won


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
