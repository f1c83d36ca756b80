"""Crash safety: `nasi-harness run` killed with SIGKILL mid-run, then rerun, stores every unit exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import load_units

pytestmark = pytest.mark.slow  # real signals to whole study runs in subprocesses

REPO = Path(__file__).resolve().parents[1]
N_CELLS = 80


def _cheap_proxy() -> str:
    """A real registered proxy (the subprocess cannot see test-only ones), the cheapest available."""
    return "params"  # built in: always registered


def _rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the table is being created
        return 0


def _tiny_study(tmp_path: Path) -> tuple[Path, Path]:
    proxy = _cheap_proxy()
    study = tmp_path / "kill.toml"
    study.write_text(
        f"""
[study]
name = "kill"
space = "nb201"
cells = "0-{N_CELLS - 1}"
proxies = ["{proxy}"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 8
device = "cpu"
[output]
dir = "{tmp_path / "out"}"
"""
    )
    return study, tmp_path / "out" / "results.sqlite"


ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _start(study: Path) -> subprocess.Popen:
    """``nasi-harness run`` with the default SIGINT disposition (a background shell may have it ignored)."""
    cmd = [sys.executable, "-m", "harness", "run", str(study), "--no-report"]
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def _interrupt_mid_run(proc: subprocess.Popen, store: Path, sig: int, group: bool = False) -> None:
    """Send ``sig`` once a few rows are stored: to the process, or to its whole process group (a terminal's
    Ctrl-C reaches the driver and its workers alike)."""
    send = (lambda s: os.killpg(proc.pid, s)) if group else proc.send_signal
    try:
        deadline = time.monotonic() + 120
        while _rows(store) < 5:
            assert proc.poll() is None, f"run ended before it could be stopped: {proc.stderr.read()[-500:]}"
            assert time.monotonic() < deadline, "no rows appeared within 120 s"
            time.sleep(0.02)
        send(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            send(signal.SIGKILL)


def test_ctrl_c_stops_cleanly(tmp_path):
    study, store = _tiny_study(tmp_path)
    proc = _start(study)
    _interrupt_mid_run(proc, store, signal.SIGINT)
    out = proc.stdout.read()
    assert proc.returncode == 130, proc.stderr.read()[-1000:]
    stored = _rows(store)
    assert 5 <= stored < N_CELLS and f"ran {stored} in" in out  # everything finished is kept and counted
    assert f"interrupted: {N_CELLS - stored} units left; run the same command again to resume" in out


def test_sigkill_mid_run_then_resume(tmp_path):
    study, store = _tiny_study(tmp_path)
    proc = _start(study)
    _interrupt_mid_run(proc, store, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _rows(store)
    assert 5 <= killed_at < N_CELLS, "the kill did not land mid-run"

    cmd = [sys.executable, "-m", "harness", "run", str(study), "--no-report"]
    rerun = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-1000:]
    assert f"{killed_at} done before" in rerun.stdout  # committed rows survived the kill and were not redone

    frame = load_units(store)
    assert sorted(frame["index"]) == list(range(N_CELLS))  # every unit, exactly once
    key = ["study", "space", "index", "proxy", "dataset", "data", "labels", "batch_size", "seed"]
    assert not frame.duplicated(key).any() and (frame.status != "").all()
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_ctrl_c_with_worker_processes_then_resume(tmp_path):
    """Ctrl-C in a terminal reaches the driver and its workers (one process group): a clean stop, then a resume."""
    study, store = _tiny_study(tmp_path)
    cmd = [sys.executable, "-m", "harness", "run", str(study), "--no-report", "--workers", "2"]

    def own_group_default_sigint() -> None:
        os.setpgrp()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=own_group_default_sigint)  # fmt: skip
    _interrupt_mid_run(proc, store, signal.SIGINT, group=True)
    assert proc.returncode == 130, proc.stderr.read()[-1000:]
    stored = _rows(store)
    assert 5 <= stored < N_CELLS
    rerun = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-1000:]
    assert f"{stored} done before" in rerun.stdout
    frame = load_units(store)
    assert sorted(frame["index"]) == list(range(N_CELLS))
