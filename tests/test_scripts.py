"""Experiment code has one home, benchmarks/scripts/: every script there imports without running its experiment,
its ``--help`` works, its shell scripts parse, and results/ holds outputs only (#25)."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "benchmarks" / "scripts"
PY_SCRIPTS = sorted(p for p in SCRIPTS.glob("*.py") if p.name != "__init__.py")
SH_SCRIPTS = sorted(SCRIPTS.glob("*.sh"))
OWN_PATH_HACK = re.compile(r"sys\.path\.(insert|append)\([^)\n]*(__file__|ROOT|HERE|parents|benchmarks|harness)")


def test_results_hold_no_code() -> None:
    code = [str(p.relative_to(ROOT)) for p in (ROOT / "results").rglob("*") if p.suffix in {".py", ".sh"}]
    assert code == [], f"experiment code belongs in benchmarks/scripts/, not results/: {code}"


def test_benchmarks_root_holds_study_files_only() -> None:
    stray = [p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "__init__.py"]
    assert stray == [], f"scripts belong in benchmarks/scripts/: {stray}"


def test_there_are_scripts() -> None:
    assert len(PY_SCRIPTS) >= 10 and SH_SCRIPTS


@pytest.mark.parametrize("path", PY_SCRIPTS, ids=lambda p: p.name)
def test_script_imports_without_running(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Importing a script must only define things: the experiment runs under ``if __name__ == "__main__"``."""
    source = path.read_text()
    # no path hacks to reach this repository's code (the library is installed; siblings are benchmarks.scripts.X);
    # a foreign checkout given on the command line (peer_speed.py) may still be put on sys.path
    assert not OWN_PATH_HACK.search(source), "import the library or benchmarks.scripts.X, no sys.path hacks"
    assert 'if __name__ == "__main__":' in source
    module = importlib.import_module(f"benchmarks.scripts.{path.stem}")
    assert capsys.readouterr().out == "", "importing printed something: did it run the experiment?"
    assert callable(getattr(module, "main", None)), "each script has a main()"


@pytest.mark.parametrize("path", [p for p in PY_SCRIPTS if "argparse" in p.read_text()], ids=lambda p: p.name)
def test_script_help(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"benchmarks.scripts.{path.stem}").main
    monkeypatch.setattr(sys, "argv", [path.name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        main(["--help"]) if inspect.signature(main).parameters else main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize("path", SH_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses(path: Path) -> None:
    subprocess.run(["bash", "-n", str(path)], check=True)
