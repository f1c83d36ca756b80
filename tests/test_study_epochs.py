"""``[analysis] epochs`` of a study: left out, the study's space's full schedule (200 epochs for nb201, 90 for
nats-sss), resolved where the ground truth is read, so a nats-sss study no longer asks for 200-epoch ground truth
that does not exist; a given value must be one of the space's schedules. The stored null reaches ``report --study``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.analysis.target import TargetSpec, target_loader
from harness.report import build_report
from harness.report.settings import study_analysis_defaults
from harness.report.study import build_study_report
from harness.store import ResultStore
from harness.studies import StudyError, load_study

PROXIES = ("meco", "synflow")
STUDY = """
[study]
name = "ep"
space = "{space}"
cells = "0,11,284"
proxies = ["meco", "synflow"]
datasets = ["cifar10"]
data_modes = ["real"]
label_modes = ["true"]
seeds = [0]
device = "cpu"

[analysis]
reports = ["correlation"]
{analysis}
"""
SIZES = {"nb201": 15625, "nats-sss": 32768}


def _write(folder: Path, space: str, analysis: str = "") -> Path:
    path = folder / f"{space}.toml"
    path.write_text(STUDY.format(space=space, analysis=analysis) + f'\n[output]\ndir = "{folder / "out"}"\n')
    return path


def _store(folder: Path, space: str, study_path: Path | None = None) -> Path:
    """Synthetic scores of 20 cells of ``space`` under study 'ep'; with ``study_path`` its configuration recorded
    as ``run`` records it."""
    frame = synthetic_results(synthetic_accuracy(SIZES[space], seed=0), dict.fromkeys(PROXIES, 0.5), space=space,
                              cells=range(0, SIZES[space] - 1, SIZES[space] // 20))  # fmt: skip
    path = folder / f"{space}.sqlite"
    write_store(str(path), frame, study="ep")
    if study_path is not None:
        study = load_study(study_path)
        with ResultStore(path) as db:
            db.record_study(study.name, study.space, study.as_config(), str(study_path))
    return path


def _settings_line(report: Path) -> str:
    return next(line for line in report.read_text().splitlines() if line.startswith("**Analysis settings:**"))


@pytest.mark.parametrize("space, full", [("nb201", 200), ("nats-sss", 90)])
def test_left_out_it_is_the_spaces_full_schedule(tmp_path: Path, space: str, full: int) -> None:
    study = load_study(_write(tmp_path, space))
    assert study.analysis.epochs is None and study.as_config()["analysis"]["epochs"] is None
    assert TargetSpec(epochs=study.analysis.epochs).epochs_for(space) == full


@pytest.mark.parametrize("space, epochs", [("nb201", 200), ("nb201", 12), ("nats-sss", 90), ("nats-sss", 12),
                                           ("nats-sss", 1)])  # fmt: skip
def test_each_schedule_of_the_space_is_accepted(tmp_path: Path, space: str, epochs: int) -> None:
    assert load_study(_write(tmp_path, space, f"epochs = {epochs}")).analysis.epochs == epochs


@pytest.mark.parametrize(
    "space, epochs, needle",
    [
        ("nb201", 90, "epochs: unknown value 90 for space nb201; allowed: 200, 12 (left out: the full schedule, 200)"),
        ("nb201", 1, "epochs: unknown value 1 for space nb201; allowed: 200, 12"),
        ("nats-sss", 200, "epochs: unknown value 200 for space nats-sss; allowed: 90, 12, 1 (left out: the full "
                          "schedule, 90)"),
    ],
)  # fmt: skip
def test_another_value_is_one_error_naming_the_space(tmp_path: Path, space: str, epochs: int, needle: str) -> None:
    path = _write(tmp_path, space, f"epochs = {epochs}")
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: [analysis] ") and needle in message


@pytest.mark.parametrize("space, full", [("nb201", 200), ("nats-sss", 90)])
def test_the_run_report_ranks_against_the_full_schedule(
    tmp_path: Path, space: str, full: int, report_targets: list, shared_data: Path
) -> None:
    study = load_study(_write(tmp_path, space))
    report, note = build_study_report(study, _store(tmp_path, space), tmp_path / "none")
    assert report is not None, note
    assert report_targets == [TargetSpec(split="test", epochs=None)]
    line = _settings_line(report)
    assert f"the space's full training schedule ({full} epochs)" in line
    assert line.startswith(f"**Analysis settings:** from study file `{study.source}`'s [analysis]: ")
    # that spec reads the full schedule's ground truth (the reference data: nb201's CSV, nats-sss's sample)
    accuracy = target_loader(report_targets[0], data_dir=shared_data)(space, "cifar10")
    assert accuracy.attrs["provenance"]["epochs"] == full and accuracy.name == f"cifar10/test/{full}ep"


def test_a_stored_null_is_the_full_schedule_for_report_study(tmp_path: Path, report_targets: list) -> None:
    store = _store(tmp_path, "nats-sss", _write(tmp_path, "nats-sss"))
    assert study_analysis_defaults(store, "ep") == {
        "split": "test",
        "epochs": None,
        "aggregates": (),
        "builtin_aggregates": True,
    }
    path = build_report(store, tmp_path / "report", study="ep", data_dir=tmp_path / "none", n_boot=20)
    assert report_targets == [TargetSpec(split="test", epochs=None)] and report_targets[0].epochs_for("nats-sss") == 90
    line = _settings_line(path)
    assert (
        "from study `ep`'s stored [analysis]: target test accuracy, the space's full training schedule (90 epochs)"
        in line
    )
    assert "default" not in line  # the study chose the full schedule: not a setting it left unset
