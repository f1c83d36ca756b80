"""The engine's heap tuning: set once, switched off by the environment, never where glibc is absent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.scoring.allocator import ENV_SWITCH, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, MMAP_BYTES, TRIM_BYTES, tune


def _recorder(result: int = 1):
    calls = []

    def mallopt(param: int, value: int) -> int:
        calls.append((param, value))
        return result

    return calls, mallopt


def test_tune_sets_both_thresholds_on_glibc():
    calls, mallopt = _recorder()
    applied, why = tune({}, "linux", mallopt)
    assert applied and "MiB" in why
    assert calls == [(M_TRIM_THRESHOLD, TRIM_BYTES), (M_MMAP_THRESHOLD, MMAP_BYTES)]


def test_tune_leaves_the_allocator_alone_when_asked_or_unable():
    for environ, platform, result in (({ENV_SWITCH: "0"}, "linux", 1), ({"MALLOC_MMAP_THRESHOLD_": "1"}, "linux", 1),
                                      ({}, "darwin", 1), ({}, "linux", 0)):  # fmt: skip
        calls, mallopt = _recorder(result)
        applied, why = tune(environ, platform, mallopt)
        assert not applied and why
        assert calls == [] or result == 0
    assert tune({}, "linux", None) == (False, "not glibc")


@pytest.mark.slow  # a fresh interpreter
def test_scoring_applies_it_once_in_a_fresh_process():
    code = (
        "import harness.scoring.allocator as a\n"
        "from harness.scoring import score_cells\n"
        "assert a._applied is None\n"
        "list(score_cells('nb201', [0], ['params'], data_mode='gaussian', label_mode='random', batch_size=2,"
        " device='cpu'))\n"
        "first = a._applied\n"
        "assert a.keep_freed_memory() is first\n"
        "print(first)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ("True" if sys.platform.startswith("linux") else "False")


def test_huge_pages_are_requested_unless_switched_off_or_set_by_the_user():
    from harness.scoring.allocator import TORCH_HUGE_PAGES, request_huge_pages

    environ: dict[str, str] = {}
    assert request_huge_pages(environ, "linux") and environ == {TORCH_HUGE_PAGES: "1"}
    for given in ({ENV_SWITCH: "0"}, {TORCH_HUGE_PAGES: "0"}):
        environ = dict(given)
        assert not request_huge_pages(environ, "linux") and environ == given
    assert not request_huge_pages({}, "darwin")


def _huge_pages_after_scoring(env: dict[str, str]) -> str:
    code = (
        "from harness.scoring import score_cells\n"
        "from harness.scoring.allocator import huge_pages_in_effect\n"
        "list(score_cells('nb201', [0], ['params'], data_mode='gaussian', label_mode='random', batch_size=2,"
        " device='cpu'))\n"
        "print(huge_pages_in_effect())\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("THP_MEM_ALLOC_ENABLE", ENV_SWITCH)} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environ).stdout


@pytest.mark.slow  # a fresh interpreter
def test_importing_the_engine_turns_pytorchs_huge_pages_on_in_time():
    """PyTorch reads THP_MEM_ALLOC_ENABLE at the process's first allocation: importing harness.scoring must come
    before it, and the switch must turn it off."""
    on_linux = sys.platform.startswith("linux")
    assert _huge_pages_after_scoring({}).strip() == str(on_linux)
    assert _huge_pages_after_scoring({ENV_SWITCH: "0"}).strip() == "False"


@pytest.mark.slow  # a fresh interpreter
def test_no_harness_module_makes_a_tensor_on_import():
    """Any tensor made before harness.scoring is imported would fix PyTorch's huge-page setting to off (the CLI
    and the studies import proxies, spaces and data first)."""
    code = (
        "import importlib, pkgutil, harness\n"
        "from torch.utils._python_dispatch import TorchDispatchMode\n"
        "class Spy(TorchDispatchMode):\n"
        "    calls = []\n"
        "    def __torch_dispatch__(self, func, types, args=(), kwargs=None):\n"
        "        self.calls.append(str(func))\n"
        "        return func(*args, **(kwargs or {}))\n"
        "with Spy() as spy:\n"
        "    names = [m.name for m in pkgutil.walk_packages(harness.__path__, 'harness.')]\n"
        "    for name in names:\n"
        "        importlib.import_module(name)\n"
        "print(len(names), spy.calls)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert int(out[0]) > 50 and out[1].strip() == "[]"
