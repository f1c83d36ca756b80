"""Leases: runs sharing a store claim units before scoring them; a dead owner's claims are taken over; two
runs started at once on one store score every unit exactly once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import ResultStore, UnitKey, load_units
from harness.store.leases import Lease, pid_alive

REPO = Path(__file__).resolve().parents[1]
KEYS = [UnitKey(i, "params", "cifar10", "gaussian", "random", 8, 0) for i in range(6)]


@pytest.fixture
def db(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        yield store


def _owner_row(db: ResultStore, owner: str, host: str, pid: int, age: float) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO run_owners VALUES (?, ?, ?, 'then', ?)", (owner, host, pid, time.time() - age))
        conn.executemany(
            'INSERT INTO claims VALUES ("s", "nb201", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [(*k, owner) for k in KEYS]
        )


def test_claimed_units_are_skipped_until_released(db):
    a, b = Lease(db, "s", "nb201"), Lease(db, "s", "nb201")
    assert a.claim(KEYS[:4]) == set(KEYS[:4])
    assert b.claim(KEYS) == set(KEYS[4:])  # a's units are not b's
    assert a.held() == 4 and b.held() == 2
    a.close()
    assert b.claim(KEYS) == set(KEYS)  # released by a's close
    b.close()
    assert db.connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert db.connection.execute("SELECT COUNT(*) FROM run_owners").fetchone()[0] == 0


def test_finished_units_are_not_claimed_unless_rescored(db):
    from tests.test_store import Rec

    db.write("s", "nb201", [Rec(0), Rec(1, score=None, status="error: RuntimeError: x")])
    lease = Lease(db, "s", "nb201")
    assert lease.claim(KEYS[:3]) == {KEYS[1], KEYS[2]}  # 0 is finished; an error row is retried
    assert lease.claim(KEYS[:1], rescore=["params"]) == {KEYS[0]}
    lease.close()


def test_a_dead_or_silent_owner_is_taken_over_and_a_live_one_is_not(db):
    import socket

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not pid_alive(gone.pid) and pid_alive(os.getpid())
    lease = Lease(db, "s", "nb201", stale=30)
    for owner, host, pid, age in [("live-elsewhere", "other-host", 1, 5), ("live-here", socket.gethostname(),
                                                                          os.getpid(), 5)]:  # fmt: skip
        _owner_row(db, owner, host, pid, age)
        assert lease.claim(KEYS) == set(), owner
        with db.transaction() as conn:
            conn.execute("DELETE FROM claims")
            conn.execute("DELETE FROM run_owners WHERE owner = ?", (owner,))
    for owner, host, pid, age in [("dead-here", socket.gethostname(), gone.pid, 5), ("silent", "other-host", 1, 99)]:
        _owner_row(db, owner, host, pid, age)
        assert lease.claim(KEYS) == set(KEYS), owner
        with db.transaction() as conn:
            conn.execute("DELETE FROM claims WHERE owner = ?", (lease.owner,))
    lease.close()


def test_the_heartbeat_keeps_a_lease_alive(db):
    lease = Lease(db, "s", "nb201", heartbeat=0.05)
    first = db.connection.execute("SELECT heartbeat FROM run_owners").fetchone()[0]
    time.sleep(0.4)
    assert db.connection.execute("SELECT heartbeat FROM run_owners").fetchone()[0] > first
    lease.close()


STUDY = """
[study]
name = "race"
space = "nb201"
cells = "0-{last}"
proxies = ["params", "flops"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 8
device = "cpu"
[output]
dir = "{out}"
"""


def write_race_study(tmp_path: Path, cells: int) -> Path:
    path = tmp_path / "race.toml"
    path.write_text(STUDY.format(last=cells - 1, out=tmp_path / "out"))
    return path


def start_run(study: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "harness", "run", str(study), "--no-report", *extra]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ran(stdout: str) -> int:
    match = re.search(r"; ran (\d+) in ", stdout)
    assert match, stdout
    return int(match.group(1))


@pytest.mark.slow  # two whole runs in subprocesses
def test_two_runs_started_at_once_score_every_unit_once(tmp_path):
    cells = 120
    study = write_race_study(tmp_path, cells)
    procs = [start_run(study), start_run(study)]
    outs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-800:]
    scored = [ran(out) for out, _ in outs]
    assert sum(scored) == 2 * cells, outs  # each unit scored by exactly one of the two runs
    frame = load_units(tmp_path / "out" / "results.sqlite")
    assert len(frame) == 2 * cells and not frame.duplicated(["index", "proxy"]).any()
    assert not frame.status.str.startswith("error").any()
    with ResultStore(tmp_path / "out" / "results.sqlite", readonly=True) as db:
        assert db.connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
