"""``report STORE --study NAME`` uses the study's [analysis] settings that ``run`` stored (target, epochs, pool
aggregates, builtin_aggregates) where none is given; given ones win; a CSV/Parquet export (no configuration) and a
report without ``--study`` keep the defaults; report.md says where each setting came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.analysis.target import TargetSpec
from harness.cli import build_parser, main
from harness.report import build_report
from harness.report.settings import resolve_settings, study_analysis_defaults
from harness.store import ResultStore, export
from harness.studies import load_study

AZ = ("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "az_nas_complexity")
PROXIES = ("meco", "synflow", "jacov", *AZ)  # the AZ components: the built-in az_nas applies
STUDY = """
[study]
name = "s"
space = "nb201"
cells = "sample:20:0"
proxies = [{proxies}]
datasets = ["cifar10"]
data_modes = ["real"]
label_modes = ["true"]
seeds = [0]
device = "cpu"

[analysis]
{analysis}
"""
STORED = 'target = "valid"\nepochs = 12\naggregates = ["zoo=meco+synflow"]\nbuiltin_aggregates = false'


def _store(folder: Path, analysis: str | None) -> Path:
    """20 synthetic cells of the study's proxies under study 's'; its configuration recorded as ``run`` does
    (``analysis`` None: rows only, no configuration)."""
    frame = synthetic_results(synthetic_accuracy(15625, seed=0), dict.fromkeys(PROXIES, 0.5),
                              cells=range(0, 15600, 780))  # fmt: skip
    path = folder / "results.sqlite"
    write_store(str(path), frame, study="s")
    if analysis is not None:
        toml = folder / "study.toml"
        toml.write_text(STUDY.format(proxies=", ".join(f'"{p}"' for p in PROXIES), analysis=analysis))
        study = load_study(toml)
        with ResultStore(path) as db:
            db.record_study(study.name, study.space, study.as_config(), str(toml))
    return path


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("stored"), STORED)


def _aggregates(report: Path) -> set[str]:
    """The pool aggregates the report's rows hold (its header names them)."""
    found = re.search(r"\(and the pool aggregates ([^)]*)\)", report.read_text())
    return set(found.group(1).split(", ")) if found else set()


def _settings_line(report: Path) -> str:
    return next(line for line in report.read_text().splitlines() if line.startswith("**Analysis settings:**"))


def test_the_stored_settings_are_read_back(stored: Path, tmp_path: Path) -> None:
    assert study_analysis_defaults(stored, "s") == {
        "split": "valid",
        "epochs": 12,
        "aggregates": ("zoo=meco+synflow",),
        "builtin_aggregates": False,
    }
    assert study_analysis_defaults(stored, None) is None
    assert study_analysis_defaults(stored, "other") is None
    rows_only = _store(tmp_path, None)
    assert study_analysis_defaults(rows_only, "s") is None


def test_the_report_uses_the_studys_stored_settings(stored: Path, tmp_path: Path, report_targets: list) -> None:
    path = build_report(stored, tmp_path / "out", study="s", data_dir=tmp_path / "none", n_boot=20)
    assert report_targets == [TargetSpec(split="valid", epochs=12)]
    assert _aggregates(path) == {"zoo"}  # the study's ensemble; its builtin_aggregates = false leaves az_nas out
    line = _settings_line(path)
    head = "**Analysis settings:** from study `s`'s stored [analysis]: target valid accuracy, 12 epochs"
    assert line.startswith(head)
    assert "`zoo=meco+synflow`" in line and "left out" in line and "given" not in line


def test_given_flags_win(stored: Path, tmp_path: Path, report_targets: list, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "cli"
    argv = ["report", str(stored), "--out", str(out), "--study", "s", "--data-dir", str(tmp_path / "none")]
    argv += ["--bootstrap", "20", "--target", "test", "--aggregate", "other=meco+jacov"]
    assert main(argv) == 0, capsys.readouterr().err
    assert report_targets == [TargetSpec(split="test", epochs=12)]  # --target given, the epochs still the study's
    assert _aggregates(out / "report.md") == {"other"}  # --aggregate replaces the study's list
    line = _settings_line(out / "report.md")
    assert "given (command line or arguments): target test accuracy, aggregates `other=meco+jacov`" in line
    assert "from study `s`'s stored [analysis]: 12 epochs, built-in pool aggregates left out" in line


def test_no_aggregates_overrides_the_studys_builtin_aggregates(tmp_path: Path, report_targets: list) -> None:
    store = _store(tmp_path, 'target = "valid"')  # built-ins on, no user aggregates
    path = build_report(store, tmp_path / "on", study="s", data_dir=tmp_path / "none", n_boot=20)
    assert _aggregates(path) == {"az_nas"}
    assert report_targets[-1] == TargetSpec(split="valid", epochs=None)  # nb201: 200
    out = tmp_path / "off"
    argv = ["report", str(store), "--out", str(out), "--study", "s", "--data-dir", str(tmp_path / "none")]
    assert main([*argv, "--bootstrap", "20", "--no-aggregates", "--epochs", "12"]) == 0
    assert _aggregates(out / "report.md") == set() and report_targets[-1] == TargetSpec(split="valid", epochs=12)


def test_an_export_and_a_report_without_study_keep_the_defaults(
    stored: Path, tmp_path: Path, report_targets: list
) -> None:
    csv = export(stored, "csv", tmp_path / "s.csv", study="s")
    assert csv is not None and study_analysis_defaults(csv, "s") is None
    path = build_report(csv, tmp_path / "csv", study="s", data_dir=tmp_path / "none", n_boot=20)
    assert report_targets[-1] == TargetSpec(split="test", epochs=None)
    assert _aggregates(path) == {"az_nas"}  # neither zoo nor the study's builtin_aggregates = false
    assert "Study `s` has no stored configuration" in _settings_line(path)
    path = build_report(stored, tmp_path / "all", data_dir=tmp_path / "none", n_boot=20)  # every row, no --study
    assert report_targets[-1] == TargetSpec(split="test", epochs=None) and _aggregates(path) == {"az_nas"}
    assert _settings_line(path).startswith("**Analysis settings:** default: target test accuracy")


def test_the_first_store_that_recorded_the_study_is_read(stored: Path, tmp_path: Path) -> None:
    rows_only = _store(tmp_path, None)
    settings = resolve_settings([rows_only, stored], "s", epochs=200)
    assert (settings.split, settings.epochs, settings.aggregates) == ("valid", 200, ("zoo=meco+synflow",))
    assert settings.origins == dict(split="study", epochs="given", aggregates="study", builtin_aggregates="study")
    assert resolve_settings(stored, "s", aggregates=()).aggregates == ()  # given empty: none, not the study's


def test_the_other_analysis_commands_keep_their_defaults() -> None:
    parser = build_parser()
    for command in ("correlate", "compare", "agnostic"):
        args = parser.parse_args([command, "store.sqlite"])
        assert (args.split, args.epochs, args.aggregate, args.builtin_aggregates) == ("test", None, [], True)
    args = parser.parse_args(["report", "store.sqlite", "--out", "r"])
    assert (args.split, args.epochs, args.aggregate, args.builtin_aggregates) == (None, None, None, None)
    args = parser.parse_args(["report", "store.sqlite", "--out", "r", "--no-aggregates", "--aggregate", "a=b+c"])
    assert (args.aggregate, args.builtin_aggregates) == (["a=b+c"], False)
