"""``ResultStore``: the SQLite results database (WAL mode) that studies write and analyses read.

Durability and concurrency come from SQLite itself: every write is a transaction (``BEGIN IMMEDIATE``, so two
writers queue on the lock instead of failing half-way), WAL lets readers go on while a writer commits, and a
``kill -9`` loses only the uncommitted rows. A unit's key is unique, so rerunning never duplicates: a new result
replaces an ``error: ...`` row, but an error never replaces a finished result (ok, degenerate, nan).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness._version import __version__
from harness.errors import HarnessError
from harness.store import provenance as prov
from harness.store.schema import (
    CREATE_STATEMENTS,
    KEY_FIELDS,
    MIGRATIONS,
    PROTOCOL,
    RESULT_COLUMNS,
    SCHEMA_VERSION,
    SEARCH_COLUMNS,
    SEARCH_KEY_FIELDS,
    TABLES,
    UNIT_KEY_FIELDS,
    UnitKey,
    failed_sql,
    quote,
    select_list,
)

T = TypeVar("T")


class RecordLike(Protocol):
    """What ``write`` needs from a record (``harness.scoring.ScoreRecord`` fits)."""

    index: int
    arch: str
    proxy: str
    dataset: str
    data: str
    labels: str
    batch_size: int
    seed: int
    score: float | None
    status: str
    seconds: float
    peak_mem_mb: float | None
    device: str


def score_problem(score: float | None, status: str) -> str | None:
    """Why a (score, status) pair cannot be stored, or None: a stored score is finite (NaN/inf are status
    ``nan`` with no score), and an ``ok`` row has one. Writing and merging refuse the same rows."""
    if score is not None and not math.isfinite(score):
        return f"non-finite score {score} must have status 'nan'"
    if status == "ok" and score is None:
        return "status 'ok' without a score"
    return None


class StoreError(HarnessError):
    """The file cannot be used as a results database (newer schema, not a harness database, unreadable)."""


class DamagedStore(StoreError):
    """SQLite finds the file damaged (bad header, short file, a page that fails ``PRAGMA quick_check``): it is
    refused before anything reads or writes it, and left byte for byte as it was."""


class StoreFull(StoreError):
    """A write found the disk (or the database's page limit) full: the transaction was rolled back whole."""


SQLITE_HEADER = b"SQLite format 3\x00"
CHECK_SECONDS = 5.0  # quick_check's time budget per open (what a check costs: docs/store.md)


def _damaged(path: Path, problem: str) -> DamagedStore:
    problem = " ".join(problem.split())
    if len(problem) > 160:
        problem = problem[:160] + "..."
    return DamagedStore(
        f"{path} is damaged ({problem}); it was not changed. Recover its rows into a new file with "
        f"`sqlite3 {path} .recover | sqlite3 recovered.sqlite` (docs/store.md), or `nasi-harness merge NEW.sqlite` "
        "an export or another copy of it"
    )


def check_file(path: Path) -> None:
    """The cheap checks of a store file before SQLite opens it: an SQLite header, and not shorter than the size
    the header records (a truncated copy). An empty or missing file passes (a new store)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read results database {path}: {exc.strerror or exc}") from None
    if size == 0:
        return
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read results database {path}: {exc.strerror or exc}") from None
    if not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path} is not a nasi-harness results database (not an SQLite file)")
    if len(header) < 100:
        raise _damaged(path, f"the file is {size} bytes, shorter than an SQLite header")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages, change, valid_for = (int.from_bytes(header[i : i + 4], "big") for i in (28, 24, 92))
    if _in_use(path):  # until a checkpoint completes, the log beside the file holds pages the file lacks
        return
    if page_size and change == valid_for and pages and size < pages * page_size:
        raise _damaged(path, f"the file is {size} bytes but its header says {pages * page_size}: truncated")


def quick_check(path: Path, budget: float = CHECK_SECONDS, timeout: float = 60.0) -> None:
    """``PRAGMA quick_check`` of an existing store (every page's structure, not the indexes' contents) on a
    connection of its own that writes nothing: with no write-ahead log or journal beside the file it reads the file
    as immutable, so not even a ``-shm`` file is made. Stopped after ``budget`` seconds on a very large store (the
    pages not reached are still checked by SQLite as they are read)."""
    try:
        before = path.stat()
    except OSError:
        return
    if before.st_size == 0:
        return
    in_use = _in_use(path)
    problem = _quick_check(path, budget, timeout, immutable=not in_use)
    if problem is not None and not in_use:
        after = path.stat()
        changed = (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size)
        if changed or _in_use(path):
            problem = _quick_check(path, budget, timeout, immutable=False)  # a writer came by: read as SQLite does
    if problem is not None:
        raise _damaged(path, problem)


def _in_use(path: Path) -> bool:
    """Whether a write-ahead log or rollback journal lies beside the store (SQLite reads the file with it)."""
    return any(path.with_name(path.name + end).exists() for end in ("-wal", "-journal"))


def _quick_check(path: Path, budget: float, timeout: float, immutable: bool) -> str | None:
    """quick_check's first problem, or None (also when ``budget`` ran out)."""
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open results database {path}: {exc}") from None
    deadline = time.monotonic() + budget
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
    try:
        problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return None
        raise StoreError(f"cannot open results database {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    return None if problem == "ok" else str(problem)


def full_error(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's SQLITE_FULL (disk full, or the page limit reached)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL if code is not None else "database or disk is full" in str(exc)


def _connect(path: Path, readonly: bool, timeout: float) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def _retry_busy(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` again while another process holds a lock SQLite's busy handler does not wait for."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def check_version(conn: sqlite3.Connection, path: Path, readonly: bool = False) -> int:
    """The database's schema version; refuse newer schemas and SQLite files that are not ours."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if "malformed" in str(exc):
            raise _damaged(path, str(exc)) from None
        raise StoreError(f"{path} is not a nasi-harness results database ({exc})") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer nasi-harness (database schema {version}; this version "
            f"{__version__} reads up to schema {SCHEMA_VERSION}): upgrade nasi-harness to read it"
        )
    if version == 0 and tables and "results" not in tables:
        raise StoreError(f"{path} is an SQLite file but not a nasi-harness results database (tables: {sorted(tables)})")
    if readonly and "results" not in tables:
        raise StoreError(f"{path} is empty: no nasi-harness results in it")
    return version


_FULL_HINT = (
    "the disk is full (SQLite: database or disk is full); the last transaction was rolled back and nothing else "
    "changed. Free space (the write-ahead log beside the store needs a few MB, docs/store.md) and run again: "
    "it resumes"
)


def prepare_folder(path: Path) -> None:
    """The folder a new store goes in: its own folder is created when its parent exists (and the creation is
    said on stderr); a missing grandparent, a file in the way or a read-only parent is one error line."""
    folder = path.parent
    if folder.is_dir():
        return
    if folder.exists() or any(p.exists() and not p.is_dir() for p in folder.parents):
        raise StoreError(f"cannot create results database {path}: {folder} or a folder above it is a file")
    if not folder.parent.is_dir():
        raise StoreError(
            f"cannot create results database {path}: folder {folder.parent} does not exist (create it first)"
        )
    try:
        folder.mkdir()
    except FileExistsError:
        if folder.is_dir():  # another run on this store made it first
            return
        raise StoreError(f"cannot create results database {path}: {folder} is a file") from None
    except OSError as exc:
        raise StoreError(f"cannot create results database {path}: folder {folder}: {exc.strerror or exc}") from None
    print(f"nasi-harness: created folder {folder} for the results database", file=sys.stderr)


class ResultStore:
    """One results database file. Use as a context manager, or call ``close()``.

    ``readonly=True`` opens an existing file without creating, migrating or locking it for writing.
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.timeout = timeout
        if readonly and not self.path.is_file():
            raise StoreError(f"no results database at {self.path}")
        if not readonly:
            prepare_folder(self.path)
        check_file(self.path)
        quick_check(self.path, timeout=timeout)  # before anything is written to it or read from it
        try:
            self._conn = _connect(self.path, readonly, timeout)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open results database {self.path}: {exc}") from None
        try:
            self.schema_version = check_version(self._conn, self.path, readonly)
            if not readonly:
                self._prepare()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if full_error(exc):
                raise StoreFull(f"cannot prepare results database {self.path}: {_FULL_HINT}") from None
            raise StoreError(f"cannot open results database {self.path}: {exc}") from None
        except BaseException:
            self._conn.close()
            raise

    # -- setup ------------------------------------------------------------------------------------------------
    def _prepare(self) -> None:
        conn = self._conn
        _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone(), self.timeout)
        conn.execute("PRAGMA synchronous = NORMAL")  # in WAL: durable against a killed process, fast commits
        with self.transaction():
            version = check_version(conn, self.path)  # again, under the lock: another process may have created it
            if version == 0:
                for statement in CREATE_STATEMENTS:
                    conn.execute(statement)
            else:
                for step in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[step]:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.schema_version = SCHEMA_VERSION

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (``BEGIN IMMEDIATE``): commit on success."""
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")
        _retry_busy(lambda: self._conn.execute("BEGIN IMMEDIATE"), self.timeout)
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and full_error(exc):
                raise StoreFull(f"{self.path}: {_FULL_HINT}") from None
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    # -- score results ----------------------------------------------------------------------------------------
    def write(
        self,
        study: str,
        space: str,
        records: Iterable[RecordLike],
        *,
        provenance: prov.Provenance | None = None,
        commit_every: int = 1,
        versions: Mapping[str, int] | None = None,
        protocol: str = PROTOCOL,
        after_write: Callable[[sqlite3.Connection, list[tuple]], None] | None = None,
    ) -> int:
        """Insert ``records`` of ``study``/``space`` as they come, committing every ``commit_every`` rows.

        ``provenance`` describes the process that computed them (default: this one); ``versions`` gives each
        proxy's version (default: the registered one); ``protocol`` is the key's protocol for records that carry none
        (a ``ScoreRecord`` carries its own); ``after_write(conn, rows)`` runs inside each commit's
        transaction (releasing the units' claims with the rows that finish them). Returns the number of
        records consumed (an error record for a unit that already has a result leaves that result in place).
        An interrupted iteration keeps every row committed so far.
        """
        if commit_every < 1:
            raise ValueError(f"commit_every must be >= 1, got {commit_every}")
        columns = RESULT_COLUMNS
        update = [c for c in columns if c not in KEY_FIELDS]
        sql = (
            f"INSERT INTO results ({', '.join(quote(c) for c in columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(quote(k) for k in KEY_FIELDS)}) DO UPDATE SET "
            + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
            + f" WHERE {failed_sql('results.status')} OR NOT {failed_sql('excluded.status')}"
        )
        base = provenance or prov.current()
        version_of = _VersionLookup(versions)
        written, pending = 0, []
        for record in records:
            used = getattr(record, "protocol", None) or protocol  # a scoring record says which protocol made it
            pending.append(self._row(study, space, record, base, version_of(record.proxy), used))
            if len(pending) >= commit_every:
                written += self._flush(sql, pending, after_write)
                pending = []
        if pending:
            written += self._flush(sql, pending, after_write)
        return written

    def _flush(self, sql: str, rows: list[tuple], after_write: Callable | None = None) -> int:
        with self.transaction() as conn:
            conn.executemany(sql, rows)
            if after_write is not None:
                after_write(conn, rows)
        return len(rows)

    @staticmethod
    def _row(study: str, space: str, r: RecordLike, base: prov.Provenance, version: int, protocol: str) -> tuple:
        score = None if r.score is None else float(r.score)
        problem = score_problem(score, r.status)
        if problem:
            raise ValueError(f"record {r.index}/{r.proxy}: {problem}")
        values = {
            "study": study,
            "space": space,
            "index": int(r.index),
            "arch": r.arch,
            "proxy": r.proxy,
            "dataset": r.dataset,
            "data": r.data,
            "labels": r.labels,
            "batch_size": int(r.batch_size),
            "seed": int(r.seed),
            "proxy_version": int(version),
            "protocol": protocol,
            "score": score,
            "status": r.status,
            "seconds": float(r.seconds) if r.seconds is not None else None,
            "peak_mem_mb": float(r.peak_mem_mb) if r.peak_mem_mb is not None else None,
            "device": r.device,
            **base.columns(r.device),
            "created_at": prov.now_utc(),
        }
        return tuple(values[c] for c in RESULT_COLUMNS)

    def done_keys(self, study: str, space: str | None = None, *, include_errors: bool = False) -> set[UnitKey]:
        """The ``UnitKey`` of each unit of ``study`` already finished.

        ``error: ...`` and ``timeout`` rows are not finished (a rerun retries them) unless ``include_errors``.
        """
        sql = f"SELECT {select_list(UNIT_KEY_FIELDS, self.table_columns('results'))} FROM results WHERE study = ?"
        args: list[Any] = [study]
        if space is not None:
            sql += " AND space = ?"
            args.append(space)
        if not include_errors:
            sql += f" AND NOT {failed_sql()}"
        return {UnitKey(*row) for row in self._conn.execute(sql, args)}

    def table_columns(self, table: str) -> set[str]:
        """The columns ``table`` has in this file (a read-only older store lacks those added since)."""
        return {row[1] for row in self._conn.execute(f"PRAGMA table_info({quote(table)})")}

    def count(self, study: str | None = None) -> int:
        if study is None:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM results WHERE study = ?", (study,)).fetchone()[0]

    def studies(self) -> list[str]:
        """Every study with rows or a recorded configuration."""
        names = {r[0] for r in self._conn.execute("SELECT DISTINCT study FROM results")}
        names |= {r[0] for r in self._conn.execute("SELECT name FROM studies")}
        names |= {r[0] for r in self._conn.execute("SELECT DISTINCT study FROM search_runs")}
        return sorted(names)

    # -- study configurations ---------------------------------------------------------------------------------
    def record_study(self, name: str, space: str, config: dict, source: str | None = None) -> None:
        """Keep the study's validated configuration (incl. its analysis targets) beside its results."""
        text = json.dumps(config, sort_keys=True)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO studies (name, space, config, source, harness_version, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET space = excluded.space, "
                "config = excluded.config, source = excluded.source, harness_version = excluded.harness_version, "
                "updated_at = excluded.updated_at",
                (name, space, text, source, __version__, prov.now_utc()),
            )

    def study_config(self, name: str) -> dict | None:
        row = self._conn.execute("SELECT config FROM studies WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- search runs ------------------------------------------------------------------------------------------
    def search_run_keys(self, study: str) -> set[tuple[str, str, str, int, str]]:
        """``(algorithm, space, dataset, seed, config text)`` of the search runs stored under ``study``: what a
        search study skips on a rerun (``search_config_text`` gives the text of a config)."""
        rows = self._conn.execute(
            "SELECT algorithm, space, dataset, seed, config FROM search_runs WHERE study = ?", (study,)
        ).fetchall()
        return {(a, sp, d, int(seed), c) for a, sp, d, seed, c in rows}

    def write_search_run(
        self,
        study: str,
        algorithm: str,
        space: str,
        dataset: str,
        seed: int,
        config: dict,
        index: int,
        arch: str,
        accuracy: dict[str, float | None],
        seconds: float,
        device: str,
    ) -> None:
        """Store one search run. Its key is (study, algorithm, space, dataset, seed, config): a rerun replaces it."""
        config_text = search_config_text(config)
        clean: dict[str, float | None] = {}
        for name, value in accuracy.items():
            if value is not None and not (isinstance(value, int | float) and math.isfinite(float(value))):
                raise ValueError(f"accuracy[{name!r}] must be a finite number or None, got {value!r}")
            clean[str(name)] = None if value is None else float(value)
        values = {
            "study": study,
            "algorithm": algorithm,
            "space": space,
            "dataset": dataset,
            "seed": int(seed),
            "config": config_text,
            "index": int(index),
            "arch": arch,
            "accuracy": json.dumps(clean, sort_keys=True),
            "seconds": float(seconds),
            "device": device,
            **prov.current().columns(device),
            "created_at": prov.now_utc(),
        }
        update = [c for c in SEARCH_COLUMNS if c not in SEARCH_KEY_FIELDS]
        sql = (
            f"INSERT INTO search_runs ({', '.join(quote(c) for c in SEARCH_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(SEARCH_COLUMNS))}) "
            f"ON CONFLICT ({', '.join(quote(k) for k in SEARCH_KEY_FIELDS)}) DO UPDATE SET "
            + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        )
        with self.transaction() as conn:
            conn.execute(sql, tuple(values[c] for c in SEARCH_COLUMNS))


class _VersionLookup:
    """Each proxy's version: from ``versions``, else the registry (1 for a name not registered here)."""

    def __init__(self, versions: Mapping[str, int] | None) -> None:
        self.known = dict(versions or {})

    def __call__(self, proxy: str) -> int:
        if proxy not in self.known:
            self.known[proxy] = registered_version(proxy)
        return self.known[proxy]


def registered_version(proxy: str) -> int:
    """The registered version of ``proxy`` (1 when no such proxy is registered, e.g. rows merged from elsewhere)."""
    from harness.proxies import get_proxy

    try:
        return int(get_proxy(proxy).version)
    except (KeyError, ValueError):
        return 1


def search_config_text(config: dict) -> str:
    """The stored (key) form of a search run's settings: canonical JSON, keys sorted."""
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"))
    except TypeError as exc:
        raise ValueError(f"search config must be JSON-serialisable: {exc}") from None


__all__ = [
    "DamagedStore",
    "ResultStore",
    "StoreError",
    "StoreFull",
    "TABLES",
    "UNIT_KEY_FIELDS",
    "UnitKey",
    "search_config_text",
]
