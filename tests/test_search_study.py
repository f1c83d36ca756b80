"""Search study files: parsing, one-line errors, and a resumable run into the results database."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.store import load_search_runs
from harness.studies.search_study import is_search_study, load_search_study, parse_search_study
from harness.studies.spec import StudyError

TINY_NASI = """
[study]
name = "tiny_nasi"
datasets = ["cifar10"]
seeds = [0, 1]
device = "cpu"

[search]
algorithm = "nasi"
steps = 2
nu = 1.0
channels = 4
cells_per_stage = 1
batch_size = 8
data_mode = "gaussian"
label_mode = "random"

[output]
dir = "{out}"
"""


def _write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(text.replace("{out}", str(tmp_path / "out")))
    return path


def test_parse_a_search_study(tmp_path):
    study = load_search_study(_write(tmp_path, TINY_NASI))
    assert (study.name, study.algorithm, study.space, study.datasets, study.seeds) == (
        "tiny_nasi", "nasi", "nb201", ("cifar10",), (0, 1)
    )  # fmt: skip
    assert study.settings.steps == 2 and study.settings.channels == 4
    assert study.store_path == tmp_path / "out" / "results.sqlite"
    assert study.runs() == [("cifar10", 0), ("cifar10", 1)]
    assert is_search_study(tmp_path / "study.toml")
    assert not is_search_study(Path("benchmarks/quickstart.toml"))
    ranged = parse_search_study(
        {"study": {"name": "s", "seeds": "0-2"}, "search": {"algorithm": "sample", "proxies": "params"}}
    )
    assert ranged.seeds == (0, 1, 2) and ranged.settings.proxies == ("params",)


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({"study": {"name": "s", "seeds": [0]}}, "missing section [search]"),
        ({"study": {"name": "s", "seeds": [0]}, "search": {"algorithm": "x"}}, "algorithm must be one of nasi, sample"),
        ({"study": {"name": "s", "seeds": [0]}, "search": {"algorithm": "nasi", "stepz": 3}}, "unknown nasi setting"),
        ({"study": {"name": "s", "seeds": [0]}, "search": {"algorithm": "nasi", "steps": 0}}, "steps must be >= 1"),
        ({"study": {"name": "s", "seeds": "x"}, "search": {"algorithm": "nasi"}}, "[study] seeds: bad seeds"),
        ({"study": {"name": "s", "seeds": [0], "cells": "all"}, "search": {"algorithm": "nasi"}}, "key 'cells'"),
        ({"study": {"seeds": [0]}, "search": {"algorithm": "nasi"}}, "name must be a non-empty string"),
        ({"study": {"name": "s", "seeds": [0], "datasets": ["cifra10"]}, "search": {"algorithm": "nasi"}}, "'cifra10'"),
        ({"study": {"name": "s", "seeds": [0]}, "search": {"algorithm": "nasi"}, "analysis": {}}, "unknown section"),
    ],
)
def test_bad_search_studies_are_one_line_errors(document, needle):
    with pytest.raises(StudyError) as info:
        parse_search_study(document, "f.toml")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_cli_runs_a_search_study_and_resumes(tmp_path, shared_data, capsys):
    path = _write(tmp_path, TINY_NASI)
    assert main(["run", str(path), "--data", str(shared_data), "--dry-run"]) == 0
    assert "2 runs (1 datasets x 2 seeds), 2 to run" in capsys.readouterr().out
    assert main(["run", str(path), "--data", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert (
        "cifar10 seed 0: cell" in out
        and "cifar10 seed 1: cell" in out
        and "tiny_nasi: searched on cifar10, 2 seeds" in out
    )
    runs = load_search_runs(tmp_path / "out" / "results.sqlite", "tiny_nasi")
    assert sorted(runs.seed) == [0, 1] and runs.accuracy_cifar10.notna().all()
    first = runs.set_index("seed")["index"].to_dict()

    assert main(["run", str(path), "--data", str(shared_data)]) == 0  # everything stored: nothing runs again
    captured = capsys.readouterr()
    assert "2 runs already stored, skipped" in captured.err and "seed 0: cell" not in captured.out
    again = load_search_runs(tmp_path / "out" / "results.sqlite", "tiny_nasi")
    assert len(again) == 2 and again.set_index("seed")["index"].to_dict() == first

    more = _write(tmp_path, TINY_NASI.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"), "more.toml")
    assert main(["run", str(more), "--data", str(shared_data)]) == 0  # only the new seed runs
    captured = capsys.readouterr()
    assert "seed 2: cell" in captured.out and "seed 0: cell" not in captured.out
    assert len(load_search_runs(tmp_path / "out" / "results.sqlite", "tiny_nasi")) == 3


def test_scoring_options_are_refused_for_a_search_study(tmp_path, capsys):
    path = _write(tmp_path, TINY_NASI)
    assert main(["run", str(path), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers apply to scoring studies, not to a search study" in err and err.count("\n") == 1


def test_runs_stored_before_a_setting_existed_count_as_done(tmp_path):
    """A run stored without a later-added setting (none_op, cell_bn_affine) ran with that setting's default: it is
    not redone; a run stored with another value of it is."""
    from harness.store import search_config_text
    from harness.studies.search_study import pending_runs

    study = load_search_study(_write(tmp_path, TINY_NASI))
    config = study.settings.as_dict()
    older = {k: v for k, v in config.items() if k not in ("none_op", "cell_bn_affine")}
    stored = {("nasi", "nb201", "cifar10", 0, search_config_text(older))}
    assert pending_runs(study, stored) == [("cifar10", 1)]
    other = {("nasi", "nb201", "cifar10", 1, search_config_text({**config, "none_op": "excluded"}))}
    assert pending_runs(study, stored | other) == [("cifar10", 1)]


def test_load_returns_the_study_of_its_kind(tmp_path):
    """``harness.studies.load`` reads either kind of file; both answer plan() and run() the same way."""
    from harness.studies import ScoringStudy, load
    from harness.studies.search_study import SearchStudy

    search = load(_write(tmp_path, TINY_NASI))
    assert isinstance(search, SearchStudy) and search.kind == "search" and search.name == "tiny_nasi"
    lines = search.plan().lines()
    assert lines[0] == "search study tiny_nasi: nasi on nb201, 2 runs (1 datasets x 2 seeds), 2 to run"
    assert lines[-1] == f"store: {tmp_path / 'out' / 'results.sqlite'}"
    with pytest.raises(ValueError, match=r"^--workers, --stack apply to scoring studies, not to a search study"):
        search.run(workers=2, stack=4, backend="local")
    with pytest.raises(ValueError, match="--rescore apply to scoring studies"):
        search.plan(rescore=["nasi"])
    with pytest.raises(ValueError, match="^--threads, --allow-thread-change apply to scoring studies"):
        search.plan(threads=2, allow_thread_change=True, workers=None, rescore=[], part=None)
    assert search.plan(threads=None, allow_thread_change=False, backend="local").pending == 2  # defaults: fine
    assert not (tmp_path / "out").exists()  # refused before anything was opened

    scoring = load(Path("benchmarks/quickstart.toml"))
    assert isinstance(scoring, ScoringStudy) and scoring.kind == "scoring" and scoring.name == "quickstart"
    plan = scoring.plan(tmp_path / "none.sqlite", workers=2)  # execution options do not change the plan
    assert (
        plan.lines()[0].startswith("study quickstart: 1600 units") and "0 done before, 1600 to run" in plan.lines()[0]
    )
    assert plan.lines()[-1] == f"store: {tmp_path / 'none.sqlite'}"


def test_load_errors_are_one_line(tmp_path):
    from harness.studies import load

    with pytest.raises(StudyError, match="study file not found"):
        load(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("[study\n")
    with pytest.raises(StudyError, match="invalid TOML"):
        load(tmp_path / "bad.toml")
    with pytest.raises(StudyError, match=r"unknown section \[analysis\]; a search study allows"):
        load(_write(tmp_path, TINY_NASI + "[analysis]\ntarget = 'test'\n", "mixed.toml"))
