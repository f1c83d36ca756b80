"""The results database layout: tables, the unit key, and the schema version a database was written with.

The version lives in SQLite's ``PRAGMA user_version`` so that reading it needs no table. A database written
by a newer schema is refused (its columns may mean something this version does not know); an older one is
migrated in place by the steps in ``MIGRATIONS``.
"""

from __future__ import annotations

from typing import NamedTuple

SCHEMA_VERSION = 1


class UnitKey(NamedTuple):
    """One work unit of a study (within its study and space): the one definition of the key, read by name."""

    index: int
    proxy: str
    dataset: str
    data: str
    labels: str
    batch_size: int
    seed: int


UNIT_KEY_FIELDS: tuple[str, ...] = UnitKey._fields
# One row per work unit; a unit is identified by these columns (the rest is its result and provenance).
KEY_FIELDS: tuple[str, ...] = ("study", "space", *UNIT_KEY_FIELDS)
RESULT_FIELDS = ("arch", "score", "status", "seconds", "peak_mem_mb", "device")
PROVENANCE_FIELDS = ("harness_version", "git_commit", "torch_version", "device_name", "host", "created_at")
RESULT_COLUMNS = KEY_FIELDS[:3] + ("arch",) + KEY_FIELDS[3:] + RESULT_FIELDS[1:] + PROVENANCE_FIELDS

SEARCH_KEY_FIELDS = ("study", "algorithm", "space", "dataset", "seed", "config")
SEARCH_COLUMNS = SEARCH_KEY_FIELDS + ("index", "arch", "accuracy", "seconds", "device") + PROVENANCE_FIELDS

TABLES = ("results", "search_runs", "studies")


def quote(name: str) -> str:
    """``index`` is an SQL keyword: quote every column name."""
    return f'"{name}"'


_RESULTS_DDL = f"""
CREATE TABLE IF NOT EXISTS results (
    study TEXT NOT NULL, space TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    proxy TEXT NOT NULL, dataset TEXT NOT NULL, data TEXT NOT NULL, labels TEXT NOT NULL,
    batch_size INTEGER NOT NULL, seed INTEGER NOT NULL,
    score REAL, status TEXT NOT NULL, seconds REAL, peak_mem_mb REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, device_name TEXT, host TEXT, created_at TEXT,
    PRIMARY KEY ({", ".join(quote(k) for k in KEY_FIELDS)})
) WITHOUT ROWID
"""

_SEARCH_DDL = f"""
CREATE TABLE IF NOT EXISTS search_runs (
    study TEXT NOT NULL, algorithm TEXT NOT NULL, space TEXT NOT NULL, dataset TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    accuracy TEXT NOT NULL, seconds REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, device_name TEXT, host TEXT, created_at TEXT,
    PRIMARY KEY ({", ".join(quote(k) for k in SEARCH_KEY_FIELDS)})
)
"""

_STUDIES_DDL = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, space TEXT, config TEXT NOT NULL, source TEXT, harness_version TEXT, updated_at TEXT
)
"""

CREATE_STATEMENTS = (_RESULTS_DDL, _SEARCH_DDL, _STUDIES_DDL)

# MIGRATIONS[v] upgrades a version-v database to v + 1 (none yet: version 1 is the first released layout).
MIGRATIONS: dict[int, tuple[str, ...]] = {}
