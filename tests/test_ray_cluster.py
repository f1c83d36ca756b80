"""The distributed path as users run it: a two-node Ray cluster on this host (``ray start --head``, then
``ray start --address``), a study sent with ``run --backend ray --address``, the second node killed mid-run; the
run finishes with every unit stored exactly once. Ray 2.60 refuses a second node and a client without
``RAY_AUTH_MODE=token`` (the token from ``ray get-auth-token --generate``): docs/scaling.md."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.proxies import proxy_names

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
CELLS = 1000


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO)}  # fmt: skip


def _node(args: list[str], log: Path) -> subprocess.Popen:
    """``ray start ... --block`` in its own session, so the node (raylet, workers) dies with its process group."""
    ports = _free_ports(4)
    cmd = [str(RAY), "start", *args, "--num-cpus=1", "--node-ip-address=127.0.0.1", "--block",
           f"--node-manager-port={ports[0]}", f"--object-manager-port={ports[1]}",
           f"--dashboard-agent-listen-port={ports[2]}", f"--metrics-export-port={ports[3]}"]  # fmt: skip
    return subprocess.Popen(cmd, env=_env(), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_started(proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"ray node did not start: {log.read_text()[-1500:]}")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (``ray start --block`` stops its node), then SIGKILL to whatever of the group is left."""
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)


def _tasks_on_node(pgid: int) -> int:
    """Ray tasks running on the node started by ``_node`` as process group ``pgid``: worker processes (named after
    the task they run, each in a process group of its own) whose parent, the node's raylet, is in that group."""
    procs: dict[int, tuple[int, int, bytes]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                procs[int(entry.name)] = (int(stat[1]), int(stat[2]), (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):
                continue
    return sum(1 for ppid, _, cmd in procs.values() if b"_ray_task" in cmd and procs.get(ppid, (0, 0, b""))[1] == pgid)


def _rows(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture
def cluster():
    pytest.importorskip("ray", reason="ray is not installed (pip install 'nasi-harness[ray]')")
    if not RAY.exists():
        pytest.skip(f"no ray command beside {sys.executable}")
    if not {"params", "flops"} <= set(proxy_names()):
        pytest.skip("params and flops are not registered in this build")
    subprocess.run([str(RAY), "get-auth-token", "--generate"], env=_env(), capture_output=True, check=True, timeout=60)
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    port, client = _free_ports(2)
    head = _node(["--head", f"--port={port}", f"--ray-client-server-port={client}", "--include-dashboard=false",
                  f"--temp-dir={temp}"], temp / "head.log")  # fmt: skip
    nodes = [head]
    try:
        _wait_started(head, temp / "head.log")
        second = _node([f"--address=127.0.0.1:{port}"], temp / "node2.log")
        nodes.append(second)
        _wait_started(second, temp / "node2.log")
        yield f"127.0.0.1:{port}", second, temp
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_killed_node_leaves_every_unit_stored_exactly_once(tmp_path, cluster):
    address, second, _ = cluster
    study = tmp_path / "two_nodes.toml"
    study.write_text(f"""
[study]
name = "two_nodes"
space = "nb201"
cells = "0-{CELLS - 1}"
proxies = ["params", "flops"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 8
device = "cpu"
[output]
dir = "{tmp_path / "out"}"
""")
    store = tmp_path / "out" / "results.sqlite"
    cmd = [sys.executable, "-m", "harness", "run", str(study), "--backend", "ray", "--address", address, "--no-report"]
    run = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _rows(store) < 20 or not _tasks_on_node(second.pid):  # both nodes are scoring: kill the second
        assert run.poll() is None, run.communicate()[1][-1500:]
        assert time.monotonic() < deadline, "the second node ran no task in time"
        time.sleep(0.1)
    os.killpg(second.pid, signal.SIGKILL)
    killed_at = _rows(store)
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-1500:]
    assert killed_at < 2 * CELLS, "the run finished before the node was killed: nothing was tested"
    match = re.search(r"; ran (\d+) in ", out)
    assert match and int(match.group(1)) == 2 * CELLS, out  # each unit written once, none lost with the node
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        rows = conn.execute('SELECT COUNT(*), COUNT(DISTINCT "index" || proxy) FROM results').fetchone()
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert rows == (2 * CELLS, 2 * CELLS)
