"""Unit time limits (`run --unit-timeout`, the study key `unit_timeout`): a proxy that never returns becomes a
`timeout` row, its worker process is stopped and replaced, and the run reaches the later cells; nothing is left
behind (processes, claims, files)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import ResultStore, load_units
from harness.store.schema import is_failed, known_status
from harness.studies import StudyError, parse_study, run_study

# sleeps (far past any test's limit) on the cells whose parameter counts SLEEPY_STUCK lists, scores the others at
# once (worker processes inherit the variable)
SLEEPY = """
import os
import time

from harness.proxies import register_proxy


@register_proxy("sleepy", needs_labels=False)
def sleepy(net, inputs, targets, ctx):
    n = sum(p.numel() for p in net.parameters())
    if str(n) in os.environ.get("SLEEPY_STUCK", "").split(","):
        time.sleep(600)
    return float(n)
"""

pytestmark = pytest.mark.usefixtures("isolated_registries")


@pytest.fixture(autouse=True)
def _stuck_cells(monkeypatch):
    monkeypatch.setenv("SLEEPY_STUCK", "")


def _params(cells: list[int]) -> list[int]:
    """Each cell's parameter count: what the plugin sees of the cell (a proxy is not told its index)."""
    from harness.spaces import get_space

    sp = get_space("nb201")
    return [sum(p.numel() for p in sp.build(i, "cifar10").parameters()) for i in cells]


def _doc(tmp_path: Path, cells: str, **extra) -> dict:
    return {
        "study": {"name": "slow", "space": "nb201", "cells": cells, "proxies": ["params", "sleepy"],
                  "datasets": ["cifar10"], "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0],
                  "batch_size": 4, "device": "cpu", "plugins": ["sleepy.py"], **extra},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip


def _plugin(tmp_path: Path, stuck_cells: list[int]) -> Path:
    os.environ["SLEEPY_STUCK"] = ",".join(map(str, _params(stuck_cells)))  # the test's monkeypatch restores it
    path = tmp_path / "sleepy.py"
    path.write_text(SLEEPY)
    return path


def _children() -> list[int]:
    """Live processes whose parent is this test process (only our own, never anyone else's)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cmdline = (entry / "cmdline").read_bytes() if (entry / "cmdline").exists() else b""
        if int(stat[1]) == me and stat[0] != "Z" and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def _pick(cells: list[int], avoid: list[int]) -> list[int]:
    """Cells whose parameter count differs from those of ``avoid`` (so only the stuck cells sleep)."""
    bad = set(_params(avoid))
    return [c for c, n in zip(cells, _params(cells)) if n not in bad]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads child processes from Linux's /proc")
def test_a_stuck_unit_becomes_timeout_and_its_worker_is_replaced(tmp_path):
    stuck = 1
    cells = [0, stuck, *_pick(list(range(2, 12)), [stuck])[:2]]  # worker 1 gets the stuck cell, then a later one
    _plugin(tmp_path, [stuck])
    doc = _doc(tmp_path, ",".join(map(str, cells)))
    study = parse_study(doc, source=tmp_path / "study.toml")
    messages: list[str] = []
    before = set(_children())
    start = time.monotonic()
    summary = run_study(study, workers=2, unit_timeout=5, progress=False, report=False, log=messages.append)
    assert time.monotonic() - start < 120
    frame = load_units(study.store_path)
    status = {(int(r["index"]), r["proxy"]): r["status"] for _, r in frame.iterrows()}
    assert status.pop((stuck, "sleepy")) == "timeout"
    assert set(status) == {(c, p) for c in cells for p in ("params", "sleepy")} - {(stuck, "sleepy")}
    assert set(status.values()) == {"ok"}  # every other unit, the later cells of the stuck worker included
    row = frame[frame.status == "timeout"].iloc[0]
    assert row["score"] != row["score"] and row["seconds"] >= 5  # no score (NaN in the frame), the time it had
    assert summary.by_status == {"ok": 7, "timeout": 1}
    assert any("ran past the unit timeout (5 s)" in m and "a new one takes" in m for m in messages), messages
    assert any("1 units ran past the unit timeout (5 s)" in line for line in summary.lines())
    assert set(_children()) <= before  # no worker left behind
    files = {p.name for p in tmp_path.rglob("*") if p.is_file()}  # no temporary file (SQLite's WAL files aside)
    assert files <= {"sleepy.py", "results.sqlite", "results.sqlite-wal", "results.sqlite-shm"}, files
    with ResultStore(study.store_path, readonly=True) as db:
        assert db.connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        assert db.connection.execute("SELECT COUNT(*) FROM run_owners").fetchone()[0] == 0

    # a rerun retries the timeout (and only it); fixed, the unit is scored and replaces the timeout row
    os.environ["SLEEPY_STUCK"] = ""
    again = run_study(study, workers=2, unit_timeout=5, progress=False,
                      report=False, log=lambda m: None)  # fmt: skip
    assert again.ran == 1 and again.by_status == {"ok": 1}
    assert set(load_units(study.store_path)["status"]) == {"ok"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads child processes from Linux's /proc")
def test_cli_unit_timeout_with_one_worker_uses_a_worker_process(tmp_path):
    """No --workers: the one worker is a process all the same (a unit stuck in the driver could not be stopped)."""
    stuck = 0
    cells = [stuck, *_pick([1, 2, 3, 4, 5], [stuck])[:1]]
    _plugin(tmp_path, [stuck])
    path = tmp_path / "study.toml"
    path.write_text(
        f'[study]\nname = "slow"\nspace = "nb201"\ncells = "{",".join(map(str, cells))}"\n'
        'proxies = ["sleepy", "params"]\ndatasets = ["cifar10"]\ndata_modes = ["gaussian"]\n'
        'label_modes = ["random"]\nseeds = [0]\nbatch_size = 4\ndevice = "cpu"\nplugins = ["sleepy.py"]\n'
        f'unit_timeout = 900\n[output]\ndir = "{tmp_path / "out"}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--unit-timeout", "5", "--no-report"],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # a unit failed
    assert "local: 1 worker process, 1 thread each, 5 s per unit at most" in out
    assert "1 units ran past the unit timeout (5 s)" in out
    frame = load_units(tmp_path / "out" / "results.sqlite")
    status = {(int(r["index"]), r["proxy"]): r["status"] for _, r in frame.iterrows()}
    assert status == {(stuck, "sleepy"): "timeout", (stuck, "params"): "ok",
                      (cells[1], "sleepy"): "ok", (cells[1], "params"): "ok"}  # fmt: skip


def test_unit_timeout_in_a_study_file_is_validated(tmp_path):
    _plugin(tmp_path, [])
    assert parse_study(_doc(tmp_path, "0-1"), source=tmp_path / "s.toml").unit_timeout is None
    study = parse_study(_doc(tmp_path, "0-1", unit_timeout=2.5), source=tmp_path / "s.toml")
    assert study.unit_timeout == 2.5 and study.as_config()["unit_timeout"] == 2.5
    for bad in (0, -3, "60", True, [5]):
        with pytest.raises(StudyError, match=r"\[study\] unit_timeout.*positive number of seconds"):
            parse_study(_doc(tmp_path, "0-1", unit_timeout=bad), source=tmp_path / "s.toml")


def test_unit_timeout_is_refused_by_the_ray_backend_and_when_not_positive(tmp_path):
    _plugin(tmp_path, [])
    study = parse_study(_doc(tmp_path, "0-1"), source=tmp_path / "s.toml")
    with pytest.raises(ValueError, match="not supported by the ray backend"):
        run_study(study, backend="ray", unit_timeout=5, progress=False, report=False)
    with pytest.raises(ValueError, match="positive number of seconds"):
        run_study(study, unit_timeout=0, progress=False, report=False)
    assert not (tmp_path / "out").exists()  # refused before the store is created


def test_a_timeout_row_is_retried_and_never_replaces_a_finished_one(tmp_path):
    from harness.scoring.records import ScoreRecord

    def record(status, score):
        return ScoreRecord(3, "arch", "params", "cifar10", "gaussian", "random", 4, 0, score, status, 1.0, None, "cpu")

    with ResultStore(tmp_path / "r.sqlite") as db:
        db.write("s", "nb201", [record("timeout", None)])
        assert db.done_keys("s", "nb201") == set()  # a rerun retries it
        db.write("s", "nb201", [record("ok", 2.0)])
        db.write("s", "nb201", [record("timeout", None)])  # a later timeout leaves the finished row
        rows = db.connection.execute("SELECT status, score FROM results WHERE study = 's'").fetchall()
        assert rows == [("ok", 2.0)]
    assert is_failed("timeout") and is_failed("error: X") and not is_failed("nan")
    assert all(map(known_status, ("ok", "degenerate", "nan", "timeout", "error: RuntimeError: x")))
    assert not any(map(known_status, ("weird", "", "Timeout", None, "errors")))
