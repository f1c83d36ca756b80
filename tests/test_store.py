"""The results database: round trip, unit keys, rerun rules, schema refusal, concurrent writers, export."""

from __future__ import annotations

import multiprocessing
import sqlite3
from dataclasses import dataclass

import pandas as pd
import pytest

from harness.cli import main
from harness.store import (
    RESULT_COLUMNS,
    SCHEMA_VERSION,
    ResultStore,
    StoreError,
    UnitKey,
    load_search_runs,
    load_units,
)


@dataclass
class Rec:
    """Stands in for ``harness.scoring.ScoreRecord`` (the store only reads its fields)."""

    index: int
    proxy: str = "params"
    score: float | None = 1.0
    status: str = "ok"
    arch: str = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    dataset: str = "cifar10"
    data: str = "gaussian"
    labels: str = "random"
    batch_size: int = 8
    seed: int = 0
    seconds: float = 0.01
    peak_mem_mb: float | None = 12.5
    device: str = "cpu"


CONTRACT_COLUMNS = ("study", "space", "index", "arch", "proxy", "dataset", "data", "labels", "batch_size", "seed",
                    "score", "status", "seconds", "peak_mem_mb", "device", "harness_version", "git_commit",
                    "torch_version", "device_name", "created_at")  # fmt: skip


@pytest.fixture
def db(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        yield store


def test_round_trip_columns_and_provenance(db, tmp_path):
    db.write("s", "nb201", [Rec(i, score=float(i) - 2.5) for i in range(4)] + [Rec(9, score=None, status="nan")])
    frame = load_units(db.path)
    assert set(CONTRACT_COLUMNS) <= set(frame.columns)
    assert tuple(frame.columns) == RESULT_COLUMNS
    assert len(frame) == 5
    ok = frame[frame.status == "ok"].sort_values("index")
    assert ok["score"].tolist() == [-2.5, -1.5, -0.5, 0.5]  # signed, as given
    assert frame.loc[frame["index"] == 9, "score"].isna().all()
    assert frame["index"].dtype == "int64" and frame["score"].dtype == "float64"
    row = frame.iloc[0]
    assert row.harness_version and row.torch_version and row.device_name and row.created_at
    assert len(row.git_commit) == 40 or row.git_commit == "unknown"
    assert db.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert load_units(db.path, study="other").empty


def test_rerun_never_duplicates(db):
    records = [Rec(i) for i in range(10)]
    db.write("s", "nb201", records)
    db.write("s", "nb201", records)
    db.write("t", "nb201", records[:3])  # another study is another key
    assert db.count("s") == 10 and db.count() == 13
    assert db.studies() == ["s", "t"]


def test_errors_are_retried_but_never_overwrite_a_result(db):
    db.write("s", "nb201", [Rec(0, score=None, status="error: RuntimeError: boom"), Rec(1, score=3.0)])
    assert db.done_keys("s") == {UnitKey(1, "params", "cifar10", "gaussian", "random", 8, 0)}
    assert len(db.done_keys("s", include_errors=True)) == 2
    db.write("s", "nb201", [Rec(0, score=2.0), Rec(1, score=None, status="error: later failure")])
    frame = load_units(db.path).set_index("index")
    assert frame.loc[0, "status"] == "ok" and frame.loc[0, "score"] == 2.0  # error replaced by the retry
    assert frame.loc[1, "status"] == "ok" and frame.loc[1, "score"] == 3.0  # a result is not replaced by an error
    assert len(db.done_keys("s")) == 2 and db.done_keys("s", space="nats-sss") == set()


@pytest.mark.parametrize(
    "record, needle",
    [(Rec(0, score=None, status="ok"), "without a score"), (Rec(0, score=float("inf")), "non-finite")],
)
def test_bad_records_are_refused(db, record, needle):
    with pytest.raises(ValueError, match=needle):
        db.write("s", "nb201", [record])
    assert db.count() == 0


def test_commits_as_records_are_produced(db):
    def produce():
        yield Rec(0)
        yield Rec(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        db.write("s", "nb201", produce())
    assert db.count("s") == 2  # both rows were committed before the interruption


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for opener in (lambda: ResultStore(path), lambda: load_units(path)):
        with pytest.raises(StoreError, match=r"newer nasi-harness .*upgrade"):
            opener()


def test_foreign_files_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a nasi-harness results database"):
        ResultStore(other)
    text = tmp_path / "scores.csv"
    text.write_text("index,score\n" * 200)
    with pytest.raises(StoreError, match="not a nasi-harness results database|cannot open"):
        ResultStore(text)
    with pytest.raises(StoreError, match="no results database"):
        load_units(tmp_path / "absent.sqlite")
    (tmp_path / "empty.sqlite").touch()
    with pytest.raises(StoreError, match="is empty"):
        load_units(tmp_path / "empty.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()  # reading never creates


def test_search_runs(db):
    acc = {"cifar10": 93.5, "cifar100": 70.1, "ImageNet16-120": None}
    db.write_search_run("s", "nasi", "nb201", "cifar10", 0, {"T": 10, "mode": "fix"}, 11472, "arch", acc, 12.0, "cpu")
    db.write_search_run("s", "nasi", "nb201", "cifar10", 0, {"mode": "fix", "T": 10}, 6111, "arch2", acc, 11.0, "cpu")
    db.write_search_run("s", "nasi", "nb201", "cifar10", 1, {"T": 10, "mode": "fix"}, 5, "arch3", acc, 10.0, "cpu")
    runs = load_search_runs(db.path)
    assert len(runs) == 2  # same key (config order does not matter) -> replaced
    first = runs[runs.seed == 0].iloc[0]
    assert first["index"] == 6111 and first["config"] == {"T": 10, "mode": "fix"}
    assert first["accuracy"] == acc and first["accuracy_cifar10"] == 93.5
    assert pd.isna(first["accuracy_ImageNet16-120"])
    with pytest.raises(ValueError, match="accuracy"):
        db.write_search_run("s", "nasi", "nb201", "cifar10", 2, {}, 1, "a", {"cifar10": float("nan")}, 1.0, "cpu")
    with pytest.raises(ValueError, match="JSON"):
        db.write_search_run("s", "nasi", "nb201", "cifar10", 2, {"f": object()}, 1, "a", {}, 1.0, "cpu")


def _writer(path: str, study: str, start: int, n: int) -> None:
    with ResultStore(path, timeout=120) as store:
        for i in range(start, start + n):  # one transaction per row: maximal lock contention
            store.write(study, "nb201", [Rec(i, score=float(i))])


@pytest.mark.slow  # writer processes
def test_two_concurrent_writers(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, "s", start, 150)) for start in (0, 100)]  # 50 shared units
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with ResultStore(path) as store:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count("s") == 250
    frame = load_units(path)
    assert sorted(frame["index"]) == list(range(250))
    assert (frame["score"] == frame["index"]).all()


def test_export_csv_and_parquet(db, tmp_path, capsys):
    db.write("s", "nb201", [Rec(i, score=i / 3) for i in range(5)])
    db.write("t", "nb201", [Rec(0)])
    out = tmp_path / "x.csv"
    assert main(["export", str(db.path), "--format", "csv", "--out", str(out), "--study", "s"]) == 0
    csv = pd.read_csv(out)
    assert len(csv) == 5 and list(csv.columns) == list(RESULT_COLUMNS)
    assert csv["score"].tolist() == pytest.approx([i / 3 for i in range(5)])
    pytest.importorskip("pyarrow", reason="pyarrow not installed: parquet export unavailable")
    assert main(["export", str(db.path), "--format", "parquet"]) == 0
    parquet = pd.read_parquet(db.path.with_suffix(".parquet"))
    assert len(parquet) == 6 and parquet["score"].dtype == "float64"
    capsys.readouterr()
    assert main(["export", str(db.path)]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(",") == list(RESULT_COLUMNS)


def test_gzipped_csv_export_reads_back_for_analysis(db, tmp_path):
    """results/ ships ``scores.csv.gz`` exports; analysis must read them like the store itself."""
    from harness.analysis.inputs import load_scores

    db.write("s", "nb201", [Rec(i, score=i / 3) for i in range(5)] + [Rec(5, score=None, status="nan")])
    out = tmp_path / "scores.csv.gz"
    assert main(["export", str(db.path), "--format", "csv", "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic: compressed, not plain text
    frame = load_scores(out)
    assert frame["score"].tolist()[:5] == pytest.approx([i / 3 for i in range(5)])
    for column in ("labels", "status"):  # "true" stays text, and the status "nan" is not a missing value
        assert frame[column].tolist() == load_scores(db.path)[column].tolist()


def test_export_bad_input_is_one_error_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "absent.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results database" in err
