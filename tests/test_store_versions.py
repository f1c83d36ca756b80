"""Schema 2: proxy version and protocol in the key, threads and CPU in provenance, v1 stores migrated in place,
v1 exports read as version 1, a bumped proxy re-scored, analysis keeping one version per proxy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.inputs import load_scores
from harness.proxies.base import temporary_proxy
from harness.store import RESULT_COLUMNS, SCHEMA_VERSION, ResultStore, UnitKey, load_units, merge_results
from harness.store.load import latest_versions
from harness.studies import parse_study, run_study

REPO = Path(__file__).resolve().parents[1]

# The version-1 layout as released (schema.py before schema 2), to build a v1 store as users have them.
V1_DDL = """
CREATE TABLE results (
    study TEXT NOT NULL, space TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    proxy TEXT NOT NULL, dataset TEXT NOT NULL, data TEXT NOT NULL, labels TEXT NOT NULL,
    batch_size INTEGER NOT NULL, seed INTEGER NOT NULL,
    score REAL, status TEXT NOT NULL, seconds REAL, peak_mem_mb REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, device_name TEXT, host TEXT, created_at TEXT,
    PRIMARY KEY ("study", "space", "index", "proxy", "dataset", "data", "labels", "batch_size", "seed")
) WITHOUT ROWID;
CREATE TABLE search_runs (
    study TEXT NOT NULL, algorithm TEXT NOT NULL, space TEXT NOT NULL, dataset TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL, "index" INTEGER NOT NULL, arch TEXT NOT NULL,
    accuracy TEXT NOT NULL, seconds REAL, device TEXT,
    harness_version TEXT, git_commit TEXT, torch_version TEXT, device_name TEXT, host TEXT, created_at TEXT,
    PRIMARY KEY ("study", "algorithm", "space", "dataset", "seed", "config")
);
CREATE TABLE studies (
    name TEXT PRIMARY KEY, space TEXT, config TEXT NOT NULL, source TEXT, harness_version TEXT, updated_at TEXT
);
PRAGMA user_version = 1;
"""
ARCH = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def _arch(index: int) -> str:
    from harness.spaces import get_space

    return get_space("nb201").arch(index)


def _v1_store(path: Path, n: int = 3) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_DDL)
        conn.executemany(
            'INSERT INTO results VALUES (?, "nb201", ?, ?, "params", "cifar10", "gaussian", "random", 8, 0, ?, "ok", '
            '0.1, NULL, "cpu", "0.1", "abc", "2.0", "cpu0", "h", "2026-01-01T00:00:00+00:00")',
            [("tiny", i, _arch(i), float(i)) for i in range(n)],  # merge checks each cell's arch
        )
    return path


def test_v1_store_reads_as_version_1_without_being_changed(tmp_path):
    path = _v1_store(tmp_path / "v1.sqlite")
    frame = load_units(path)
    assert tuple(frame.columns) == RESULT_COLUMNS and len(frame) == 3
    assert (frame.proxy_version == 1).all() and (frame.protocol == "harness").all() and frame.threads.isna().all()
    with ResultStore(path, readonly=True) as db:
        assert db.done_keys("tiny") == {UnitKey(i, "params", "cifar10", "gaussian", "random", 8, 0) for i in range(3)}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # reading never migrates


def test_v1_store_is_migrated_in_place_keeping_every_row(tmp_path):
    path = _v1_store(tmp_path / "v1.sqlite", n=50)
    before = load_units(path)
    with ResultStore(path) as db:
        assert db.schema_version == SCHEMA_VERSION == 2
        assert {"proxy_version", "protocol", "threads", "cpu"} <= db.table_columns("results")
        assert {"threads", "cpu"} <= db.table_columns("search_runs")
        assert db.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        pk = [r[1] for r in db.connection.execute("PRAGMA table_info(results)") if r[5]]
        assert "proxy_version" in pk and "protocol" in pk
    after = load_units(path)
    pd.testing.assert_frame_equal(before, after)
    merged = merge_results(tmp_path / "m.sqlite", [path])  # a v1 source merges like any other
    assert merged.added == 50


def test_an_unmigrated_v1_store_merges_with_its_search_runs(tmp_path):
    path = _v1_store(tmp_path / "v1.sqlite", n=4)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO search_runs VALUES ('s', 'nasi', 'nb201', 'cifar10', 0, '{}', 7, ?, '{}', 1.0, 'cpu', "
            "'0.1', 'abc', '2.0', 'cpu0', 'h', 'then')",
            (ARCH,),
        )
    merged = merge_results(tmp_path / "m.sqlite", [path])
    assert merged.added == 4 and merged.search_runs_added == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # a source is only read


def test_committed_exports_read_as_version_1():
    export = REPO / "results" / "quickstart" / "scores.csv"
    if not export.is_file():
        pytest.skip(f"{export} is not in this checkout")
    frame = load_scores(export)
    assert len(frame) and (frame.proxy_version == 1).all()


def test_latest_versions_keeps_one_version_per_proxy_and_says_so():
    frame = pd.DataFrame({"proxy": ["a", "a", "a", "b"], "proxy_version": [1, 2, 2, 1], "score": [1.0, 2.0, 3.0, 4]})
    kept, notes = latest_versions(frame)
    assert kept.proxy_version.tolist() == [2, 2, 1] and kept.proxy.tolist() == ["a", "a", "b"]
    assert notes == ["a: version 2 kept; 1 rows of version 1 left out"]
    assert latest_versions(kept)[1] == []


def _study(tmp_path: Path, proxy: str):
    doc = {
        "study": {"name": "versions", "space": "nb201", "cells": "0-3", "proxies": [proxy], "datasets": ["cifar10"],
                  "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0], "batch_size": 8,
                  "device": "cpu"},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip
    return parse_study(doc)


def test_a_bumped_proxy_is_rescored_and_analysis_keeps_the_new_version(tmp_path):
    def v1(net, inputs, targets, ctx):
        return 1.0

    def v2(net, inputs, targets, ctx):
        return 2.0

    with temporary_proxy("t_versioned", v1, needs_labels=False):
        study = _study(tmp_path, "t_versioned")
        first = run_study(study, progress=False, report=False, log=lambda m: None)
        assert first.ran == 4
    with temporary_proxy("t_versioned", v2, needs_labels=False, version=2):
        logs: list[str] = []
        second = run_study(study, progress=False, report=False, log=logs.append)
        assert second.ran == 4 and second.done_before == 0
        assert "re-scoring 4 rows of proxy t_versioned stored under version 1 (now 2)" in logs
        again = run_study(study, progress=False, report=False, log=logs.append)
        assert again.ran == 0
    stored = load_units(study.store_path)
    assert sorted(stored.proxy_version) == [1] * 4 + [2] * 4  # the old rows stay, under their version
    row = stored.iloc[0]
    assert row.threads >= 1 and row.cpu and row.torch_version
    frame = load_scores(study.store_path)
    assert (frame.proxy_version == 2).all() and (frame.score == 2.0).all()
    assert frame.attrs["notes"] == ["t_versioned: version 2 kept; 4 rows of version 1 left out"]
