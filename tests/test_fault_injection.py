"""Fault injection: ``kill -9`` at many points of the store's write path (schema migration, lease
registration, claims, row writes, releases), chosen by hypothesis as the N-th SQL statement or the N-th batch of
SQLite VM steps; two writers at once; corrupt store files. After every fault: ``PRAGMA integrity_check`` passes,
no unit is stored twice, and a rerun stores every unit exactly once (committed rows are never scored again)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.store import ResultStore, StoreError, UnitKey
from harness.store.leases import Lease
from tests.test_store_versions import V1_DDL

UNITS = 60

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fault injection forks writer processes (POSIX)")


@dataclass
class Rec:
    index: int
    score: float
    proxy: str = "params"
    arch: str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    dataset: str = "cifar10"
    data: str = "gaussian"
    labels: str = "random"
    batch_size: int = 8
    seed: int = 0
    status: str = "ok"
    seconds: float = 0.0
    peak_mem_mb: float | None = None
    device: str = "cpu"


def _write_units(path: Path, mode: str, n: int) -> int:
    """A writer as a run is one, on the store layer only: register a lease, claim units a few at a time, write each
    claimed unit's row in the transaction that releases its claim. ``mode`` "statement": SIGKILL itself at the
    n-th SQL statement; "steps": at the n-th progress callback (every 50 SQLite VM instructions, i.e. inside a
    statement); "none": run to the end. Returns how many rows it wrote."""
    import harness.store.db as dbmod

    calls = [0]

    def tick(*_: object) -> int:
        calls[0] += 1
        if calls[0] >= n:
            os.kill(os.getpid(), signal.SIGKILL)
        return 0

    original = dbmod._connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = original(*args, **kwargs)
        if mode == "statement":
            conn.set_trace_callback(tick)
        elif mode == "steps":
            conn.set_progress_handler(tick, 50)
        return conn

    dbmod._connect = connect
    written = 0
    with ResultStore(path) as db:
        lease = Lease(db, "s", "nb201")
        keys = [UnitKey(i, "params", "cifar10", "gaussian", "random", 8, 0) for i in range(UNITS)]
        for start in range(0, len(keys), 7):
            held = sorted(lease.claim(keys[start : start + 7]))
            rows = [Rec(k.index, score=float(k.index)) for k in held]
            written += db.write("s", "nb201", rows, versions={"params": 1}, after_write=lease.release_rows)
        lease.close()
    return written


def _fork(path: Path, mode: str = "none", n: int = 0) -> tuple[int, int]:
    """Start ``_write_units`` in a forked child (no interpreter start-up: many faults in a few seconds)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.write(write, str(_write_units(path, mode, n)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _wait(child: tuple[int, int]) -> tuple[int, int | None]:
    """(exit status: 0, or minus the killing signal; rows written, None when killed)."""
    pid, read = child
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, int(text) if code == 0 else None


def _check(path: Path) -> int:
    """Integrity, schema all-or-nothing, no unit twice, every row whole; the number of stored rows."""
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        assert "results_v2" not in tables  # a migration is all or nothing
        columns = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
        assert ("proxy_version" in columns) == (version == 2), (version, columns)
        rows = conn.execute('SELECT "index", score, status FROM results').fetchall()
    indices = [r[0] for r in rows]
    assert len(indices) == len(set(indices))
    assert all(score == float(i) and status == "ok" for i, score, status in rows)
    return len(rows)


def _rerun_completes_exactly_once(path: Path, before: int) -> None:
    code, written = _wait(_fork(path))
    assert code == 0 and written is not None
    assert before + written == UNITS  # the rerun scored only what was not stored
    assert _check(path) == UNITS
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM run_owners").fetchone()[0] == 0  # the dead owner was reaped


FAULTS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow  # hundreds of kill -9s of a writer process
@FAULTS
@given(mode=st.sampled_from(["statement", "steps"]), n=st.integers(min_value=1, max_value=400),
       legacy=st.booleans())  # fmt: skip
def test_kill_9_anywhere_in_the_write_path_then_rerun(tmp_path_factory, mode, n, legacy):
    path = tmp_path_factory.mktemp("kill") / "r.sqlite"
    if legacy:  # a version-1 store: the kill may land inside its migration
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.executescript(V1_DDL)
    code, _ = _wait(_fork(path, mode, n))
    assert code in (0, -signal.SIGKILL)
    before = _check(path)
    _rerun_completes_exactly_once(path, before)


def test_two_writers_at_once_write_each_unit_once_even_when_one_is_killed(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()  # created first, so both writers start at once on the same file
    for kill_at in (None, 90, 150):
        path.unlink()
        ResultStore(path).close()
        children = [_fork(path), _fork(path, "statement", kill_at) if kill_at else _fork(path)]
        (code_a, first), (code_b, second) = [_wait(c) for c in children]
        assert code_a == 0 and first is not None and code_b in (0, -signal.SIGKILL)
        stored = _check(path)
        if second is not None:
            assert first + second == UNITS == stored  # both finished: each unit written by one of them
    _rerun_completes_exactly_once(path, stored)


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"SQLite format 3\x00" + b"\x00" * 50, "cannot open results database|not a nasi-harness|is damaged"),
        (b"not a database at all, just text" * 40, "not a nasi-harness results database|cannot open"),
    ],
)
def test_a_corrupt_store_is_one_error_and_is_left_as_it_was(tmp_path, content, needle):
    path = tmp_path / "r.sqlite"
    path.write_bytes(content)
    for open_store in (lambda: ResultStore(path), lambda: ResultStore(path, readonly=True)):
        with pytest.raises(StoreError, match=needle) as info:
            open_store()
        assert "\n" not in str(info.value)
    assert path.read_bytes() == content


def test_a_truncated_store_is_refused_or_read_intact(tmp_path):
    path = tmp_path / "r.sqlite"
    assert _wait(_fork(path))[0] == 0
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        with ResultStore(path, readonly=True) as db:
            db.connection.execute("SELECT COUNT(*) FROM results").fetchone()
            problem = db.connection.execute("PRAGMA integrity_check").fetchone()[0]
        assert problem != "ok"  # SQLite sees the damage; it is never silently read as a whole store
    except (StoreError, sqlite3.DatabaseError) as exc:
        assert "\n" not in str(exc)
