"""docs/extending.md: a plugin is code that runs in the driver and again in every worker process, so its
import-time side effects happen in each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.studies import parse_study, run_study

pytestmark = pytest.mark.usefixtures("isolated_registries")

PLUGIN = """
import os

from harness.proxies import register_proxy

with open({log!r}, "a") as f:  # an import-time side effect: one line per process that imports the plugin
    f.write(f"{{os.getpid()}}\\n")


@register_proxy("imported_twice", needs_labels=False)
def fn(net, inputs, targets, ctx):
    return 1.0
"""


def test_a_plugins_import_time_code_runs_in_the_driver_and_in_each_worker(tmp_path):
    log = tmp_path / "imports.log"
    (tmp_path / "p.py").write_text(PLUGIN.format(log=str(log)))
    study = parse_study(
        {"study": {"name": "side", "space": "nb201", "cells": "0-3", "proxies": ["imported_twice"],
                   "datasets": ["cifar10"], "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0],
                   "batch_size": 4, "device": "cpu", "plugins": ["p.py"]},
         "output": {"dir": str(tmp_path / "out")}},
        source=tmp_path / "s.toml",
    )  # fmt: skip
    assert Path(log).read_text().split() == [str(os.getpid())]  # the driver, at validation
    summary = run_study(study, workers=2, progress=False, report=False, log=lambda m: None)
    assert summary.ran == 4
    pids = Path(log).read_text().split()
    assert len(pids) == 3 and len(set(pids)) == 3 and pids[0] == str(os.getpid())  # the driver, then each worker
