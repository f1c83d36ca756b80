"""Leases: runs sharing one store claim the units they are about to score, so no unit is scored twice.

A run registers an owner (id, host, pid, heartbeat) in ``run_owners`` and refreshes its heartbeat from a thread;
before scoring units it claims them in ``claims``, in the same transaction that checks they are neither finished
nor claimed by a live owner. The row that finishes a unit is written in the transaction that drops its claim.
A claim is taken over when its owner is dead: its heartbeat is older than ``stale`` seconds, or its process is
gone on this host. Everything here is a short ``BEGIN IMMEDIATE`` transaction, so a ``kill -9`` at any point
leaves either the old state or the new one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterable

from harness.store.db import ResultStore, StoreFull
from harness.store.provenance import now_utc
from harness.store.schema import KEY_FIELDS, RESULT_COLUMNS, UNIT_KEY_FIELDS, UnitKey, failed_sql, quote

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 60.0
_KEY_AT = [RESULT_COLUMNS.index(k) for k in KEY_FIELDS]  # where a written row holds its key


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as dead: it scores nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Lease:
    """This run's owner row and claims in ``store`` for ``study``/``space``; ``close()`` releases what is left."""

    def __init__(
        self,
        store: ResultStore,
        study: str,
        space: str,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale: float = STALE_SECONDS,
    ) -> None:
        self.store, self.study, self.space = store, study, space
        self.owner, self.host, self.pid = uuid.uuid4().hex, socket.gethostname(), os.getpid()
        self.stale = stale
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO run_owners (owner, host, pid, started_at, heartbeat) VALUES (?, ?, ?, ?, ?)",
                (self.owner, self.host, self.pid, now_utc(), time.time()),
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), name="lease-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self, every: float) -> None:
        conn = sqlite3.connect(str(self.store.path), timeout=self.store.timeout, isolation_level=None)
        try:
            while not self._stop.wait(every):
                with contextlib.suppress(sqlite3.OperationalError):  # busy past the timeout: the next beat retries
                    conn.execute("UPDATE run_owners SET heartbeat = ? WHERE owner = ?", (time.time(), self.owner))
        finally:
            conn.close()

    def _reap(self, conn: sqlite3.Connection) -> None:
        """Drop the owners (and their claims) that are dead: heartbeat stale, or process gone on this host."""
        limit = time.time() - self.stale
        dead = [
            owner
            for owner, host, pid, beat in conn.execute("SELECT owner, host, pid, heartbeat FROM run_owners")
            if owner != self.owner and (beat < limit or (host == self.host and not pid_alive(int(pid))))
        ]
        for owner in dead:
            conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))
            conn.execute("DELETE FROM run_owners WHERE owner = ?", (owner,))

    def claim(self, keys: Iterable[UnitKey], rescore: Collection[str] = ()) -> set[UnitKey]:
        """Claim those of ``keys`` that are not finished (a proxy in ``rescore`` counts as unfinished) and not
        claimed by a live owner; return the keys this run now holds."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        names = ", ".join(quote(k) for k in KEY_FIELDS)
        match = " AND ".join(f"r.{quote(k)} = c.{quote(k)}" for k in KEY_FIELDS)
        again = ", ".join("?" * len(rescore)) or "NULL"
        with self.store.transaction() as conn:
            self._reap(conn)
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS wanted ({names})")
            conn.execute("DELETE FROM temp.wanted")
            conn.executemany(
                f"INSERT INTO temp.wanted ({names}) VALUES ({', '.join('?' * len(KEY_FIELDS))})",
                [(self.study, self.space, *key) for key in wanted],
            )
            conn.execute(
                f"INSERT OR IGNORE INTO claims ({names}, owner) SELECT {names}, ? FROM temp.wanted c "
                f"WHERE c.proxy IN ({again}) OR NOT EXISTS (SELECT 1 FROM results r WHERE {match} "
                f"AND NOT {failed_sql('r.status')})",
                (self.owner, *rescore),
            )
            held = conn.execute(
                f"SELECT {', '.join(f'c.{quote(k)}' for k in UNIT_KEY_FIELDS)} FROM temp.wanted c "
                f"JOIN claims r ON {match} WHERE r.owner = ?",
                (self.owner,),
            ).fetchall()
            conn.execute("DELETE FROM temp.wanted")
        return {UnitKey(*row) for row in held}

    def release_rows(self, conn: sqlite3.Connection, rows: list[tuple]) -> None:
        """Drop this run's claims on the units of ``rows`` (written rows, in the writing transaction)."""
        where = " AND ".join(f"{quote(k)} = ?" for k in KEY_FIELDS)
        conn.executemany(
            f"DELETE FROM claims WHERE {where} AND owner = ?",
            [(*(row[i] for i in _KEY_AT), self.owner) for row in rows],
        )

    def held(self) -> int:
        return self.store.connection.execute("SELECT COUNT(*) FROM claims WHERE owner = ?", (self.owner,)).fetchone()[0]

    def close(self) -> None:
        """Stop the heartbeat; release every claim left (units not scored) and the owner row."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._release_all()
        except StoreFull:  # a full disk: the write-ahead log folded into the file may leave room for the release
            with contextlib.suppress(sqlite3.Error):
                self.store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try:
                self._release_all()
            except StoreFull:
                raise StoreFull(
                    f"{self.store.path}: the disk is full (SQLite: database or disk is full), so this run's claims "
                    "could not be released; every row written is kept. Free space (the write-ahead log beside the "
                    "store needs a few MB, docs/store.md) and run again: it takes the claims over and resumes"
                ) from None

    def _release_all(self) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
            conn.execute("DELETE FROM run_owners WHERE owner = ?", (self.owner,))
