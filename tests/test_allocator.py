"""The engine's heap tuning: set once, switched off by the environment, never where glibc is absent."""

from __future__ import annotations

import subprocess
import sys

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
