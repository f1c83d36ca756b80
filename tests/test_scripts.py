"""Experiment code has one home, benchmarks/scripts/: every script there imports without running its experiment,
its ``--help`` works, its shell scripts parse, and results/ holds outputs only. One-off investigations sit in
benchmarks/scripts/evidence/PAGE/, each linked from docs/PAGE.md, the page whose claim it backs."""

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
# modules the scripts import (shared constants and helpers): no experiment of their own, so no main()
HELPERS = (SCRIPTS / "tables_common.py",)
PY_SCRIPTS = sorted(p for p in SCRIPTS.rglob("*.py") if p.name != "__init__.py" and p not in HELPERS)
EVIDENCE = SCRIPTS / "evidence"
SH_SCRIPTS = sorted(SCRIPTS.rglob("*.sh"))
OWN_PATH_HACK = re.compile(r"sys\.path\.(insert|append)\([^)\n]*(__file__|ROOT|HERE|parents|benchmarks|harness)")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


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
    module = importlib.import_module(_module(path))
    assert capsys.readouterr().out == "", "importing printed something: did it run the experiment?"
    assert callable(getattr(module, "main", None)), "each script has a main()"


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: p.name)
def test_helper_module_is_imported_and_runs_nothing(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(_module(path))
    assert capsys.readouterr().out == "" and not hasattr(module, "main"), "a helper module defines, it does not run"
    users = [p.name for p in PY_SCRIPTS if f"from {_module(path)} import" in p.read_text()]
    assert users, f"{path.name} is imported by no script: fold it back into the script that needs it"


@pytest.mark.parametrize("path", [p for p in PY_SCRIPTS if "argparse" in p.read_text()], ids=lambda p: p.name)
def test_script_help(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(_module(path)).main
    monkeypatch.setattr(sys, "argv", [path.name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        main(["--help"]) if inspect.signature(main).parameters else main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize("path", SH_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses(path: Path) -> None:
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_each_investigation_is_linked_from_the_page_it_backs() -> None:
    scripts = sorted(p for p in EVIDENCE.rglob("*.py") if p.name != "__init__.py")
    assert scripts, "benchmarks/scripts/evidence/ holds the one-off investigations"
    index = (EVIDENCE / "README.md").read_text()
    for path in scripts:
        page = ROOT / "docs" / f"{path.parent.name}.md"
        assert page.is_file(), f"{path.relative_to(ROOT)}: its folder names no page of docs/"
        text, rel = page.read_text(), path.relative_to(ROOT)
        assert rel.as_posix() in text or _module(path) in text, f"{page.relative_to(ROOT)} does not link {rel}"
        assert path.name in index, f"benchmarks/scripts/evidence/README.md does not list {path.name}"
