"""The results database layout: tables, the unit key, and the schema version a database was written with.

The version lives in SQLite's ``PRAGMA user_version`` so that reading it needs no table. A database written
by a newer schema is refused (its columns may mean something this version does not know); an older one is
migrated in place by the steps in ``MIGRATIONS``.
"""

from __future__ import annotations

from typing import NamedTuple

SCHEMA_VERSION = 2
PROTOCOL = "harness"  # the default scoring protocol, and that of rows written before the column (the other: "paper")

# The status vocabulary. Finished (final) statuses: a rerun skips the unit and nothing replaces the row but
# ``run --rescore``. Failed ones: ``error: <message>`` (the proxy raised) and ``timeout`` (the unit ran past the
# run's ``unit_timeout`` and its worker process was stopped); a rerun retries them, and a failed row never replaces
# a finished one (writing or merging). Neither kind of failed row has a score.
FINISHED_STATUSES = ("ok", "degenerate", "nan")
TIMEOUT = "timeout"
STATUS_FORM = "ok, degenerate, nan, timeout or 'error: <message>'"


def is_failed(status: str) -> bool:
    """An ``error: ...`` or ``timeout`` status: no score, retried by a rerun."""
    return status == TIMEOUT or status.startswith("error")


def known_status(status: object) -> bool:
    """A status of the vocabulary above (what a store may hold)."""
    return isinstance(status, str) and (
        status in FINISHED_STATUSES or status == TIMEOUT or status == "error" or status.startswith("error: ")
    )


def failed_sql(column: str = "status") -> str:
    """SQL that is true for a failed status in ``column`` (``is_failed`` in SQL)."""
    return f"({column} LIKE 'error%' OR {column} = '{TIMEOUT}')"


class UnitKey(NamedTuple):
    """One work unit of a study (within its study and space): the one definition of the key, read by name.

    ``proxy_version`` is the proxy's registered version when the row was scored (a fixed proxy bumps it, so its
    old rows no longer count as done); ``protocol`` names how the proxy was applied. Rows written before schema 2
    read as version 1 of the ``harness`` protocol."""

    index: int
    proxy: str
    dataset: str
    data: str
    labels: str
    batch_size: int
    seed: int
    proxy_version: int = 1
    protocol: str = PROTOCOL


UNIT_KEY_FIELDS: tuple[str, ...] = UnitKey._fields
# One row per work unit; a unit is identified by these columns (the rest is its result and provenance).
KEY_FIELDS: tuple[str, ...] = ("study", "space", *UNIT_KEY_FIELDS)
RESULT_FIELDS = ("arch", "score", "status", "seconds", "peak_mem_mb", "device")
# ``threads``: intra-op threads of the scoring process (CPU scores depend on it); ``cpu``: its CPU model.
PROVENANCE_FIELDS = ("harness_version", "git_commit", "torch_version", "threads", "cpu", "device_name", "host",
                     "created_at")  # fmt: skip
RESULT_COLUMNS = KEY_FIELDS[:3] + ("arch",) + KEY_FIELDS[3:] + RESULT_FIELDS[1:] + PROVENANCE_FIELDS
# What a column added by a migration reads as in a store or export written before it.
LEGACY_DEFAULTS: dict[str, object] = {"proxy_version": 1, "protocol": PROTOCOL, "threads": None, "cpu": None}

SEARCH_KEY_FIELDS = ("study", "algorithm", "space", "dataset", "seed", "config")
SEARCH_COLUMNS = SEARCH_KEY_FIELDS + ("index", "arch", "accuracy", "seconds", "device") + PROVENANCE_FIELDS

TABLES = ("results", "search_runs", "studies", "run_owners", "claims")


def quote(name: str) -> str:
    """``index`` is an SQL keyword: quote every column name."""
    return f'"{name}"'


def select_list(columns: tuple[str, ...] | list[str], present: set[str]) -> str:
    """A SELECT list of ``columns`` that reads a column absent from an older table as its legacy default."""
    parts = []
    for c in columns:
        if c in present or c not in LEGACY_DEFAULTS:
            parts.append(quote(c))
        else:
            value = LEGACY_DEFAULTS[c]
            literal = "NULL" if value is None else repr(value) if isinstance(value, int) else f"'{value}'"
            parts.append(f"{literal} AS {quote(c)}")
    return ", ".join(parts)


def _results_ddl(table: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
    study TEXT NOT NULL, space TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    proxy TEXT NOT NULL, dataset TEXT NOT NULL, data TEXT NOT NULL, labels TEXT NOT NULL,
    batch_size INTEGER NOT NULL, seed INTEGER NOT NULL,
    proxy_version INTEGER NOT NULL DEFAULT 1, protocol TEXT NOT NULL DEFAULT '{PROTOCOL}',
    score REAL, status TEXT NOT NULL, seconds REAL, peak_mem_mb REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, threads INTEGER, cpu TEXT, device_name TEXT,
    host TEXT, created_at TEXT,
    PRIMARY KEY ({", ".join(quote(k) for k in KEY_FIELDS)})
) WITHOUT ROWID
"""


_SEARCH_DDL = f"""
CREATE TABLE IF NOT EXISTS search_runs (
    study TEXT NOT NULL, algorithm TEXT NOT NULL, space TEXT NOT NULL, dataset TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    accuracy TEXT NOT NULL, seconds REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, threads INTEGER, cpu TEXT, device_name TEXT,
    host TEXT, created_at TEXT,
    PRIMARY KEY ({", ".join(quote(k) for k in SEARCH_KEY_FIELDS)})
)
"""

_STUDIES_DDL = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, space TEXT, config TEXT NOT NULL, source TEXT, harness_version TEXT, updated_at TEXT
)
"""

# Leases: a run registers itself (``run_owners``, its heartbeat refreshed while it runs) and claims the units it
# is about to score (``claims``); other runs skip units claimed by a live owner.
_OWNERS_DDL = """
CREATE TABLE IF NOT EXISTS run_owners (
    owner TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL,
    heartbeat REAL NOT NULL
)
"""

_CLAIMS_DDL = f"""
CREATE TABLE IF NOT EXISTS claims (
    study TEXT NOT NULL, space TEXT NOT NULL, "index" INTEGER NOT NULL, proxy TEXT NOT NULL, dataset TEXT NOT NULL,
    data TEXT NOT NULL, labels TEXT NOT NULL, batch_size INTEGER NOT NULL, seed INTEGER NOT NULL,
    proxy_version INTEGER NOT NULL, protocol TEXT NOT NULL, owner TEXT NOT NULL,
    PRIMARY KEY ({", ".join(quote(k) for k in KEY_FIELDS)})
) WITHOUT ROWID
"""

_CLAIMS_INDEX = "CREATE INDEX IF NOT EXISTS claims_by_owner ON claims (owner)"

CREATE_STATEMENTS = (_results_ddl("results"), _SEARCH_DDL, _STUDIES_DDL, _OWNERS_DDL, _CLAIMS_DDL, _CLAIMS_INDEX)

_V1_RESULT_COLUMNS = ", ".join(quote(c) for c in RESULT_COLUMNS if c not in LEGACY_DEFAULTS)

# MIGRATIONS[v] upgrades a version-v database to v + 1, inside the transaction that opens it.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: the key gains proxy_version and protocol (SQLite cannot alter a primary key: the table is rebuilt,
    # its rows read as version 1 of the harness protocol); provenance gains threads and cpu; leases.
    1: (
        _results_ddl("results_v2"),
        f"INSERT INTO results_v2 ({_V1_RESULT_COLUMNS}) SELECT {_V1_RESULT_COLUMNS} FROM results",
        "DROP TABLE results",
        "ALTER TABLE results_v2 RENAME TO results",
        "ALTER TABLE search_runs ADD COLUMN threads INTEGER",
        "ALTER TABLE search_runs ADD COLUMN cpu TEXT",
        _OWNERS_DDL,
        _CLAIMS_DDL,
        _CLAIMS_INDEX,
    ),
}
