"""docs/api.md is executed: its python blocks run in order in one namespace (their asserts are the checks), and
the public API at the top of the package stays lazy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_the_doc_has_the_example() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 4
    code = "\n".join(blocks)
    for name in ("load_results(", "correlate(", "compare(", "agnostic(", "score("):
        assert name in code, name


def test_api_doc_executes(shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("NASI_HARNESS_DATA", str(shared_data))
    monkeypatch.chdir(REPO)
    namespace: dict = {"__name__": "api_doc"}
    for number, block in enumerate(python_blocks(DOC.read_text()), 1):
        try:
            exec(compile(block, f"{DOC.name}, python block {number}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"docs/api.md python block {number} failed: {exc!r}\n{block}") from exc
    assert "synflow" in capsys.readouterr().out


def test_import_harness_is_cheap() -> None:
    code = (
        "import sys, harness\n"
        "heavy = [m for m in ('torch', 'pandas', 'numpy', 'harness.api') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from harness import correlate, compare, agnostic, load_results, run_study, score\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_public_names() -> None:
    assert {"score", "run_study", "load_results", "correlate", "compare", "agnostic"} <= set(dir(harness))
    assert callable(harness.correlate) and harness.run_study.__module__ == "harness.api"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        harness.nope  # noqa: B018


def test_run_study_from_a_path(tmp_path: Path) -> None:
    """``harness.run_study`` loads the file, runs the units its store lacks, and resumes."""
    study = tmp_path / "tiny.toml"
    study.write_text(
        '[study]\nname = "tiny"\nspace = "nb201"\ncells = "0-1"\nproxies = ["params"]\ndatasets = ["cifar10"]\n'
        'data_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\nbatch_size = 4\ndevice = "cpu"\n'
        f'[output]\ndir = "{tmp_path / "out"}"\n'
    )
    first = harness.run_study(study, report=False, progress=False, log=lambda m: None)
    assert (first.ran, first.done_before, first.interrupted) == (2, 0, False)
    again = harness.run_study(str(study), report=False, progress=False, log=lambda m: None)
    assert (again.ran, again.done_before) == (0, 2)
    assert len(harness.load_results(tmp_path / "out" / "results.sqlite")) == 2
