"""The thread-count rule: each scoring process uses the study's ``threads``, every row records it, and a
resume under another count is refused unless allowed; refused arguments create no store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.errors import HarnessError
from harness.proxies.base import temporary_proxy
from harness.store import load_units
from harness.studies import StudyError, parse_study, run_study


def _doc(tmp_path: Path, **study: object) -> dict:
    return {
        "study": {"name": "threads", "space": "nb201", "cells": "0-2", "proxies": ["t_threads"],
                  "datasets": ["cifar10"], "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0],
                  "batch_size": 8, "device": "cpu", **study},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip


@pytest.fixture
def proxy():
    seen: list[int] = []

    def threads_seen(net, inputs, targets, ctx):
        seen.append(torch.get_num_threads())
        return 1.0

    with temporary_proxy("t_threads", threads_seen, needs_labels=False):
        yield seen


def _quiet(**kwargs):
    return {"progress": False, "report": False, "log": kwargs.pop("log", lambda m: None), **kwargs}


def test_threads_key_is_validated(tmp_path, proxy):
    assert parse_study(_doc(tmp_path)).threads == 1
    assert parse_study(_doc(tmp_path, threads=3)).threads == 3
    for bad in (0, "2", 1.5, True):
        with pytest.raises(StudyError, match=r"\[study\] threads"):
            parse_study(_doc(tmp_path, threads=bad))


def test_each_row_records_the_thread_count_it_was_scored_with(tmp_path, proxy):
    before = torch.get_num_threads()
    study = parse_study(_doc(tmp_path, threads=2))
    run_study(study, **_quiet())
    assert proxy == [2, 2, 2]  # the proxy ran under the study's count
    assert load_units(study.store_path).threads.tolist() == [2, 2, 2]
    torch.set_num_threads(before)


def test_a_resume_under_another_thread_count_is_refused_unless_allowed(tmp_path, proxy):
    before = torch.get_num_threads()
    study = parse_study(_doc(tmp_path, cells="0-3"))
    run_study(study, part=(0, 2), **_quiet())
    assert set(load_units(study.store_path).threads) == {1}
    with pytest.raises(HarnessError, match=r"CPU rows scored with 1 intra-op thread .* this run uses 2.*--threads 1"):
        run_study(study, threads=2, **_quiet())
    assert len(load_units(study.store_path)) == 2  # nothing ran
    logs: list[str] = []
    summary = run_study(study, threads=2, allow_thread_change=True, **_quiet(log=logs.append))
    assert summary.ran == 2 and any(line.startswith("warning: study threads has CPU rows") for line in logs)
    assert sorted(load_units(study.store_path).threads) == [1, 1, 2, 2]
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"device": "cuda"}, "CUDA is not available"),
        ({"workers": 0}, "workers must be a positive integer"),
        ({"threads": 0}, "threads must be a positive integer"),
        ({"rescore": ["nope"]}, "not a proxy of study"),
        ({"backend": "local", "address": "127.0.0.1:6379"}, "--address connects to a Ray cluster"),
        ({"part": (2, 2)}, "part must be K/N"),
    ],
)
def test_refused_arguments_create_no_store(tmp_path, proxy, kwargs, needle):
    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    study = parse_study(_doc(tmp_path))
    with pytest.raises(ValueError, match=needle):
        run_study(study, **_quiet(**kwargs))
    assert not study.store_path.exists() and not study.store_path.parent.exists()


def test_cli_run_with_cuda_absent_creates_nothing(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    from harness.cli import main

    path = tmp_path / "study.toml"
    path.write_text(
        '[study]\nname = "cli"\nspace = "nb201"\ncells = "0-1"\nproxies = ["params"]\ndatasets = ["cifar10"]\n'
        f'data_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\n[output]\ndir = "{tmp_path / "out"}"\n'
    )
    assert main(["run", str(path), "--device", "cuda", "--no-report"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]
    assert not (tmp_path / "out").exists()
