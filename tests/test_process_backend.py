"""Local worker processes (`run --workers N`): the same scores as one process, each unit once, clear failures."""

from __future__ import annotations

import queue
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.proxies import proxy_names
from harness.store import load_results
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


def test_workers_score_like_one_process_and_resume(tmp_path):
    proxies = [_cheap_proxy()] + (["nasi"] if "nasi" in proxy_names() else [])
    study = _study(tmp_path, proxies)
    logs: list[str] = []
    summary = run_study(study, workers=2, progress=False, report=False, log=logs.append)
    units = 10 * 2 * len(proxies)
    assert summary.ran == units and summary.backend == "local" and not summary.interrupted
    assert any(line.startswith("local: 2 worker processes") for line in logs)
    frame = load_results(study.store_path)
    assert len(frame) == units and (frame.status == "ok").all()
    assert not frame.duplicated(["index", "proxy", "seed"]).any()

    single = run_study(study, store=tmp_path / "single.sqlite", progress=False, report=False, log=logs.append)
    assert single.ran == units
    keys = ["index", "proxy", "seed"]
    both = frame.merge(load_results(tmp_path / "single.sqlite"), on=keys, suffixes=("_proc", "_one"))
    assert len(both) == units
    # the study's threads (1) in every process: the split does not change a single bit of any score (#23)
    assert both["score_proc"].tolist() == both["score_one"].tolist()
    assert set(both["threads_proc"]) == set(both["threads_one"]) == {study.threads}

    again = run_study(study, workers=2, progress=False, report=False, log=logs.append)
    assert again.ran == 0 and again.done_before == units and len(load_results(study.store_path)) == units


def test_worker_parts_cover_every_cell_once(tmp_path):
    study = _study(tmp_path, [_cheap_proxy()], cells="0-20")
    shards = make_plan(study, set()).shards
    for workers in (1, 2, 3, 5):
        parts = worker_parts(shards, workers)
        assert len(parts) == workers
        for shard in shards:
            got = sorted(c for part in parts for p in part if p.seed == shard.seed for c in p.cells)
            assert got == sorted(shard.cells)


def test_a_failing_worker_stops_the_run_with_its_reason(tmp_path):
    study = _study(tmp_path, [_cheap_proxy()], cells="0-3")
    bad = [replace(s, space="no_such_space") for s in make_plan(study, set()).shards]
    sent: queue.Queue = queue.Queue()
    _work(3, bad, None, 1, sent)  # in this process: the message the driver would receive
    kind, k, message = sent.get_nowait()
    assert (kind, k) == ("failed", 3) and "no_such_space" in message
    with pytest.raises(HarnessError, match=r"local worker \d failed: .*no_such_space"):
        list(run_processes(bad, workers=2, log=lambda m: None))


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
    assert len(load_results(tmp_path / "out" / "results.sqlite")) == 6


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
