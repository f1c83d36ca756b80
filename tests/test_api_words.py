"""One word per meaning in the Python API: ``data_dir=`` is a data folder (``data=``, its old spelling, still
works with a DeprecationWarning), each public name means one function, and the paper-protocol dataclass does not
shadow ``typing.Protocol``."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness.analysis.target import TargetSpec, target_loader
from harness.groundtruth import describe_sources, load_accuracy

REPO = Path(__file__).resolve().parents[1]
SCORES = REPO / "results" / "quickstart" / "scores.csv"


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return call()


def test_score_takes_data_dir_and_the_old_data_with_a_deprecation(tmp_path: Path) -> None:
    kwargs = dict(data_mode="gaussian", label_mode="random", batch_size=4, device="cpu")
    new = _no_warning(lambda: harness.score([0], ["params"], data_dir=tmp_path, **kwargs))
    with pytest.warns(DeprecationWarning, match=r"score\(data=\.\.\.\) is deprecated; the data folder is data_dir="):
        old = harness.score([0], ["params"], data=tmp_path, **kwargs)
    cols = ["index", "proxy", "score", "status"]
    pd.testing.assert_frame_equal(new[cols], old[cols])
    with pytest.raises(TypeError, match="data_dir= and data="):
        harness.score([0], ["params"], data_dir=tmp_path, data=tmp_path, **kwargs)


def test_analyses_take_data_dir_and_the_old_data_with_a_deprecation(shared_data: Path) -> None:
    results = harness.load_results(SCORES)
    results = results[results["proxy"].isin(["params", "nwot"])]
    for name in ("correlate", "compare", "agnostic"):
        analysis = getattr(harness, name)
        new = _no_warning(lambda: analysis(results, data_dir=shared_data, n_boot=20))  # noqa: B023
        with pytest.warns(DeprecationWarning, match=rf"{name}\(data=\.\.\.\) is deprecated"):
            old = analysis(results, data=shared_data, n_boot=20)
        pd.testing.assert_frame_equal(new.table, old.table)


def test_ground_truth_functions_take_data_dir(shared_data: Path) -> None:
    new = _no_warning(lambda: load_accuracy("nb201", data_dir=shared_data))
    with pytest.warns(DeprecationWarning, match=r"load_accuracy\(data=\.\.\.\)"):
        old = load_accuracy("nb201", data=shared_data)
    pd.testing.assert_series_equal(new, old)
    with pytest.warns(DeprecationWarning, match=r"describe_sources\(data=\.\.\.\)"):
        assert describe_sources(data=shared_data) == describe_sources(data_dir=shared_data)
    with pytest.warns(DeprecationWarning, match=r"target_loader\(data=\.\.\.\)"):
        old_target = target_loader(TargetSpec(), data=shared_data)
    pd.testing.assert_series_equal(
        old_target("nb201", "cifar10"), target_loader(data_dir=shared_data)("nb201", "cifar10")
    )


def test_run_study_passes_data_dir_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[dict] = []
    module = importlib.import_module("harness.studies.load")  # the package's ``load`` is also a function
    monkeypatch.setattr(module, "run", lambda study, **options: seen.append(options))
    harness.run_study("study.toml", data_dir=tmp_path, report=False)
    with pytest.warns(DeprecationWarning, match=r"run_study\(data=\.\.\.\)"):
        harness.run_study("study.toml", data=tmp_path, report=False)
    assert seen == [{"data_dir": tmp_path, "report": False}] * 2


def test_a_loaded_study_runs_with_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = importlib.import_module("harness.studies.load")
    seen: list = []
    monkeypatch.setattr(module, "run_study", lambda spec, **options: seen.append(options["data_dir"]))
    study = module.load(REPO / "benchmarks" / "quickstart.toml")
    _no_warning(lambda: study.run(tmp_path / "s.sqlite", data_dir=tmp_path))
    study.run(tmp_path / "s.sqlite", tmp_path)  # positional, as the command line calls it
    with pytest.warns(DeprecationWarning, match=r"run\(data=\.\.\.\)"):
        study.run(tmp_path / "s.sqlite", data=tmp_path)
    assert seen == [tmp_path] * 3


def test_score_cells_and_run_study_take_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.scoring import score_cells
    from harness.studies import load

    cells = dict(proxies=["params"], data_mode="gaussian", label_mode="random", batch_size=2, device="cpu")
    new = [r.score for r in _no_warning(lambda: list(score_cells("nb201", [1], data_dir=tmp_path, **cells)))]
    with pytest.warns(DeprecationWarning, match=r"score_cells\(data=\.\.\.\)"):
        old = [r.score for r in score_cells("nb201", [1], data=tmp_path, **cells)]
    assert new == old
    study = load(REPO / "benchmarks" / "quickstart.toml").spec
    with pytest.raises(TypeError, match="data_dir= and data="):
        from harness.studies.runner import run_study

        run_study(study, tmp_path / "s.sqlite", data_dir=tmp_path, data=tmp_path)
    assert not (tmp_path / "s.sqlite").exists()


def test_the_store_reader_is_load_units_and_load_results_is_the_analyses_view() -> None:
    import harness.store
    from harness.store import load_units

    assert harness.load_results is not load_units and "load_results" not in harness.store.__all__
    with pytest.warns(DeprecationWarning, match="harness.store.load_units"):
        old = harness.store.load_results
    assert old is load_units
    with pytest.raises(AttributeError):
        harness.store.nope  # noqa: B018


def test_the_paper_protocol_does_not_shadow_typing_protocol() -> None:
    import harness.proxies.protocol as protocol

    assert protocol.PaperProtocol.__name__ == "PaperProtocol" and not hasattr(protocol, "Protocol")


def test_batches_and_dataset_checks_take_data_dir(tmp_path: Path) -> None:
    from harness.data import describe_datasets, make_batch

    new = _no_warning(lambda: make_batch("cifar10", 2, "gaussian", "random", 0, data_dir=tmp_path))
    with pytest.warns(DeprecationWarning, match=r"make_batch\(data=\.\.\.\)"):
        old = make_batch("cifar10", 2, "gaussian", "random", 0, data=tmp_path)
    assert new.inputs.equal(old.inputs) and new.targets.equal(old.targets)
    with pytest.warns(DeprecationWarning, match=r"describe_datasets\(data=\.\.\.\)"):
        assert describe_datasets(data=tmp_path) == describe_datasets(tmp_path)
