"""Local worker processes (`run --workers N`): the same scores as one process, each unit once, clear failures."""

from __future__ import annotations

import os
import queue
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.proxies import proxy_names
from harness.store import load_units
from harness.studies import make_plan, parse_study, run_study
from harness.studies.process_backend import _work, run_processes, worker_parts


def _cheap_proxy() -> str:
    """A real registered proxy (spawned workers cannot see test-only ones), the cheapest available."""
    return "params"  # built in: always registered


def _study(tmp_path: Path, proxies: list[str], cells: str = "0-9"):
    doc = {
        "study": {"name": "proc_tiny", "space": "nb201", "cells": cells, "proxies": proxies, "datasets": ["cifar10"],
                  "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0, 1], "batch_size": 8,
                  "device": "cpu"},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip
    return parse_study(doc)


@pytest.mark.slow  # worker processes
def test_workers_score_like_one_process_and_resume(tmp_path):
    proxies = [_cheap_proxy()] + (["nasi"] if "nasi" in proxy_names() else [])
    study = _study(tmp_path, proxies)
    logs: list[str] = []
    summary = run_study(study, workers=2, progress=False, report=False, log=logs.append)
    units = 10 * 2 * len(proxies)
    assert summary.ran == units and summary.backend == "local" and not summary.interrupted
    assert any(line.startswith("local: 2 worker processes") for line in logs)
    frame = load_units(study.store_path)
    assert len(frame) == units and (frame.status == "ok").all()
    assert not frame.duplicated(["index", "proxy", "seed"]).any()

    single = run_study(study, store=tmp_path / "single.sqlite", progress=False, report=False, log=logs.append)
    assert single.ran == units
    keys = ["index", "proxy", "seed"]
    both = frame.merge(load_units(tmp_path / "single.sqlite"), on=keys, suffixes=("_proc", "_one"))
    assert len(both) == units
    # the study's threads (1) in every process: the split does not change a single bit of any score
    assert both["score_proc"].tolist() == both["score_one"].tolist()
    assert set(both["threads_proc"]) == set(both["threads_one"]) == {study.threads}

    again = run_study(study, workers=2, progress=False, report=False, log=logs.append)
    assert again.ran == 0 and again.done_before == units and len(load_units(study.store_path)) == units


def test_worker_parts_cover_every_cell_once(tmp_path):
    study = _study(tmp_path, [_cheap_proxy()], cells="0-20")
    shards = make_plan(study, set()).shards
    for workers in (1, 2, 3, 5):
        parts = worker_parts(shards, workers)
        assert len(parts) == workers
        for shard in shards:
            got = sorted(c for part in parts for p in part if p.seed == shard.seed for c in p.cells)
            assert got == sorted(shard.cells)


@pytest.mark.slow
def test_a_failing_worker_stops_the_run_with_its_reason(tmp_path):
    study = _study(tmp_path, [_cheap_proxy()], cells="0-3")
    bad = [replace(s, space="no_such_space") for s in make_plan(study, set()).shards]
    sent: queue.Queue = queue.Queue()
    _work(3, bad, None, 1, sent)  # in this process: the message the driver would receive
    kind, k, message = sent.get_nowait()
    assert (kind, k) == ("failed", 3) and "no_such_space" in message
    with pytest.raises(HarnessError, match=r"local worker \d failed: .*no_such_space"):
        list(run_processes(bad, workers=2, log=lambda m: None))


@pytest.mark.slow
def test_cli_workers_under_python_dash_m(tmp_path):
    """Spawned workers re-import the main module: ``python -m harness run --workers 2`` must not re-run the CLI."""
    import subprocess
    import sys

    proxy = _cheap_proxy()
    path = tmp_path / "tiny.toml"
    path.write_text(
        f'[study]\nname = "cli_tiny"\nspace = "nb201"\ncells = "0-5"\nproxies = ["{proxy}"]\ndatasets = ["cifar10"]\n'
        f'data_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\nbatch_size = 8\ndevice = "cpu"\n'
        f'[output]\ndir = "{tmp_path / "out"}"\n'
    )
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--workers", "2", "--no-report"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "local: 2 worker processes" in done.stderr + done.stdout
    assert len(load_units(tmp_path / "out" / "results.sqlite")) == 6


@pytest.mark.slow
def test_a_killed_worker_stops_the_run_and_what_it_sent_is_kept(tmp_path):
    """SIGKILL one worker mid-run (as the OOM killer would): the driver says which died instead of hanging."""
    import multiprocessing
    import os
    import signal

    study = _study(tmp_path, [_cheap_proxy()], cells="0-199")
    shards = make_plan(study, set()).shards
    got = []
    with pytest.raises(HarnessError, match=r"local worker \d died \(exit code -9\).*rerun to resume"):
        for outcome in run_processes(shards, workers=2, log=lambda m: None):
            got.append(outcome)
            if len(got) == 1:
                os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    assert got and not multiprocessing.active_children()


def _workers_of(driver: int) -> list[int]:
    """Spawned worker processes whose parent is ``driver`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == driver and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from Linux's /proc")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGKILL"])
def test_a_stopped_driver_leaves_no_worker_scoring(tmp_path, signame):
    """A scheduler's SIGTERM stops the run as Ctrl-C does (exit 130, workers terminated, rows kept); a driver killed
    outright takes its workers with it (Linux: PR_SET_PDEATHSIG) instead of leaving them scoring for nobody."""
    import contextlib
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "long.toml"
    path.write_text(
        '[study]\nname = "long"\nspace = "nb201"\ncells = "sample:1000:0"\nproxies = ["nasi"]\ndatasets = ["cifar10"]\n'
        'data_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\nbatch_size = 8\ndevice = "cpu"\n'
        f'[output]\ndir = "{tmp_path / "out"}"\n'
    )
    store = tmp_path / "out" / "results.sqlite"
    log = (tmp_path / "run.log").open("w")  # a file, not a pipe: workers left running would hold a pipe open
    driver = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--workers", "2", "--no-report"],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and driver.poll() is None:
            if not workers:
                found = _workers_of(driver.pid)
                workers = found if len(found) == 2 else []
            if workers and store.exists() and len(load_units(store)) >= 2:
                break
            time.sleep(0.5)
        assert driver.poll() is None and len(workers) == 2, "the run ended or never started its workers"
        driver.send_signal(getattr(signal, signame))
        driver.wait(timeout=60)
        out = (tmp_path / "run.log").read_text()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), f"workers still scoring after {signame} to the driver"
        kept = len(load_units(store))
        assert 2 <= kept < 1000
        if signame == "SIGTERM":
            assert driver.returncode == 130 and "interrupted:" in out, out  # the summary says how to resume
    finally:
        for pid in [driver.pid, *workers]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        log.close()
