"""The Ray backend end to end on a local Ray instance: shards scored by workers, only the driver writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.store import load_units
from harness.studies import parse_study, run_study
from harness.studies.ray_backend import _gpu_device, slots

REPO = Path(__file__).resolve().parents[1]


def _cheap_proxy() -> str:
    """A real registered proxy (Ray workers cannot see test-only ones), the cheapest available."""
    return "params"  # built in: always registered


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'nasi-harness[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})  # fmt: skip
    yield
    ray.shutdown()


@pytest.mark.slow  # a local Ray cluster
def test_ray_backend_end_to_end(tmp_path, local_ray):
    proxy = _cheap_proxy()
    doc = {
        "study": {"name": "ray_tiny", "space": "nb201", "cells": "0-5", "proxies": [proxy], "datasets": ["cifar10"],
                  "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0, 1], "batch_size": 8,
                  "device": "cpu"},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip
    study = parse_study(doc)
    logs: list[str] = []
    summary = run_study(study, backend="ray", workers=2, progress=False, report=False, log=logs.append)
    assert summary.ran == 12 and summary.backend == "ray" and not summary.interrupted
    assert any(line.startswith("ray: 2 concurrent tasks, 1 CPU each") for line in logs)
    frame = load_units(study.store_path)
    assert len(frame) == 12 and sorted(set(frame["index"])) == list(range(6)) and set(frame.seed) == {0, 1}
    assert (frame.status == "ok").all() and frame.host.notna().all() and (frame.device == "cpu").all()
    assert (frame.threads == study.threads).all()  # each task fixed the study's thread count before scoring

    # The same study scored in-process gives the same scores (workers run the same engine on the same batch).
    local = run_study(study, store=tmp_path / "local.sqlite", progress=False, report=False, log=logs.append)
    assert local.ran == 12
    both = frame.merge(load_units(tmp_path / "local.sqlite"), on=["index", "seed"], suffixes=("_ray", "_local"))
    assert both["score_ray"].tolist() == pytest.approx(both["score_local"].tolist(), rel=1e-5)

    again = run_study(study, backend="ray", workers=2, progress=False, report=False, log=logs.append)
    assert again.ran == 0 and again.done_before == 12
    assert len(load_units(study.store_path)) == 12

    # threads = 2: each task asks Ray for 2 CPUs and scores with 2 threads; every row says so
    two = run_study(study, store=tmp_path / "two.sqlite", threads=2, backend="ray", workers=2, progress=False,
                    report=False, log=logs.append)  # fmt: skip
    assert two.ran == 12 and any(line.startswith("ray: 2 concurrent tasks, 2 CPU each") for line in logs)
    assert (load_units(tmp_path / "two.sqlite").threads == 2).all()


class _FakeRay:
    def __init__(self, resources):
        self.resources = resources

    def cluster_resources(self):
        return self.resources


def test_one_gpu_per_task_where_gpus_exist():
    assert slots(_FakeRay({"CPU": 16.0, "GPU": 4.0}), None) == (4, {"num_gpus": 1, "num_cpus": 1})
    assert slots(_FakeRay({"CPU": 16.0, "GPU": 4.0}), 2) == (2, {"num_gpus": 1, "num_cpus": 1})
    assert slots(_FakeRay({"CPU": 16.0, "GPU": 4.0}), None, want_gpu=False) == (16, {"num_cpus": 1})
    assert slots(_FakeRay({"CPU": 3.0}), None) == (3, {"num_cpus": 1})
    assert [_gpu_device(d) for d in ("cuda:3", "cuda", "auto")] == ["cuda", "cuda", "auto"]
