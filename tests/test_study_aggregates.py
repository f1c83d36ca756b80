"""Pool aggregates declared in a study file: ``[analysis] aggregates`` (the CLI's ``--aggregate`` syntax) and
``builtin_aggregates`` (``--no-aggregates``) reach the study's report, a bad spec is one error line naming the file
and the key before any work, and the scoring units are the same with or without them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main
from harness.report.study import build_study_report
from harness.studies import StudyError, load_study, make_plan

AZ = ("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "az_nas_complexity")
PROXIES = ("meco", "synflow", "jacov", *AZ)

STUDY = """
[study]
name = "agg"
space = "nb201"
cells = "sample:40:0"
proxies = [{proxies}]
datasets = ["cifar10"]
data_modes = ["real"]
label_modes = ["true"]
seeds = [0]
device = "cpu"

[analysis]
reports = ["correlation"]
{analysis}
"""


def _write(tmp_path: Path, analysis: str = "", proxies: tuple[str, ...] = PROXIES) -> Path:
    text = STUDY.format(proxies=", ".join(f'"{p}"' for p in proxies), analysis=analysis)
    path = tmp_path / "study.toml"
    path.write_text(text + f'\n[output]\ndir = "{tmp_path / "out"}"\n')
    return path


def test_the_keys_are_parsed_and_kept_with_the_study(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, 'aggregates = ["zoo=meco+synflow+jacov", "ensemble:meco+synflow"]'))
    assert study.analysis.aggregates == ("zoo=meco+synflow+jacov", "ensemble:meco+synflow")
    assert study.analysis.builtin_aggregates is True
    config = study.as_config()["analysis"]  # stored beside the results (record_study)
    assert list(config["aggregates"]) == ["zoo=meco+synflow+jacov", "ensemble:meco+synflow"]
    assert config["builtin_aggregates"] is True
    plain = load_study(_write(tmp_path))
    assert plain.analysis.aggregates == () and plain.analysis.builtin_aggregates is True
    off = load_study(_write(tmp_path, "builtin_aggregates = false"))
    assert off.analysis.builtin_aggregates is False


def test_the_units_planned_are_the_same_with_or_without_aggregates(tmp_path: Path) -> None:
    plain = load_study(_write(tmp_path))
    declared = load_study(_write(tmp_path, 'aggregates = ["zoo=meco+synflow", "az_nas"]\nbuiltin_aggregates = false'))
    assert declared.total_units == plain.total_units
    first, second = (make_plan(s, ()) for s in (plain, declared))
    assert first.total == second.total == plain.total_units and first.shards and first.shards == second.shards
    # the resume key: every field of the study but its [analysis] section is the same
    a, b = plain.as_config(), declared.as_config()
    assert {k: v for k, v in a.items() if k != "analysis"} == {k: v for k, v in b.items() if k != "analysis"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study's rows: synthetic scores of its proxies on 40 cells, stored under study 'agg'."""
    frame = synthetic_results(synthetic_accuracy(15625, seed=0), dict.fromkeys(PROXIES, 0.5),
                              cells=range(0, 15600, 390))  # fmt: skip
    path = tmp_path_factory.mktemp("study_agg") / "results.sqlite"
    write_store(str(path), frame, study="agg")
    return path


def _reported(study_path: Path, store: Path, data: Path) -> set[str]:
    study = load_study(study_path)
    report, note = build_study_report(study, store, data)
    assert report is not None, note
    return set(pd.read_csv(study.report_dir / "tables" / "correlation.csv")["proxy"].astype(str))


@pytest.mark.slow  # a whole study run and its report
def test_the_study_report_has_its_aggregates(tmp_path: Path, store: Path, shared_data: Path) -> None:
    study = _write(tmp_path, 'aggregates = ["zoo=meco+synflow+jacov"]')
    proxies = _reported(study, store, shared_data)
    assert {"zoo", "az_nas", *PROXIES} <= proxies  # the declared ensemble beside the built-in that applies
    assert "zoo" in (tmp_path / "out" / "report" / "report.md").read_text()

    off = _write(tmp_path, 'aggregates = ["zoo=meco+synflow+jacov"]\nbuiltin_aggregates = false')
    proxies = _reported(off, store, shared_data)
    assert "zoo" in proxies and "az_nas" not in proxies


@pytest.mark.parametrize(
    "analysis, needle",
    [
        ('aggregates = ["zoo=meco"]', r"'zoo=meco': rank ensemble 'zoo' needs at least two proxies"),
        ('aggregates = ["=meco+synflow"]', r"'=meco\+synflow': aggregate name '': letters, digits"),
        ('aggregates = ["my zoo=meco+synflow"]', r"aggregate name 'my zoo'"),
        ('aggregates = ["zoo"]', r"'zoo': unknown aggregate 'zoo'; registered: az_nas"),
        ('aggregates = ["zoo=meco+nope"]', r"'zoo=meco\+nope': not a registered proxy: nope"),
        ('aggregates = ["zoo=meco+nwot"]', r"nwot not among this study's proxies \(\[study\] proxies\)"),
        ('aggregates = ["vkdnw_single"]', r"vkdnw_dim, vkdnw_entropy not among this study's proxies"),
        ('aggregates = ["nwot=meco+synflow"]', r"'nwot' is the name of a proxy"),
        ('aggregates = ["az_nas=meco+synflow"]', r"'az_nas' is a registered aggregate's name"),
        ('aggregates = ["zoo=meco+synflow", "zoo=meco+jacov"]', r"the aggregate 'zoo' is named twice"),
        ('aggregates = ["zoo=meco+synflow", "zoo=meco+synflow"]', r"listed twice: zoo=meco\+synflow"),
        ("aggregates = []", r"expected a non-empty list of strings"),
        ("aggregates = [1]", r"expected a non-empty list of strings"),
        ('builtin_aggregates = "no"', r"\[analysis\] builtin_aggregates: expected true or false"),
    ],
)
def test_a_bad_aggregate_is_one_error_naming_the_file_and_the_key(tmp_path: Path, analysis: str, needle: str) -> None:
    path = _write(tmp_path, analysis)
    with pytest.raises(StudyError, match=needle) as err:
        load_study(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: [analysis] ")
    assert "aggregates" in message.split(":")[1]


def test_run_refuses_a_bad_aggregate_before_any_work(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = _write(tmp_path, 'aggregates = ["zoo=meco+nope"]')
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[analysis] aggregates: 'zoo=meco+nope': not a registered proxy: nope" in err
    assert not (tmp_path / "out").exists()  # nothing started, no store created


def test_a_plugin_aggregate_can_be_named(tmp_path: Path) -> None:
    """A study's plugin file is loaded before validation, so the aggregates it registers can be named."""
    from harness.aggregates import unregister_aggregate

    (tmp_path / "agg_plugin.py").write_text(
        "from harness.aggregates import get_aggregate, rank_ensemble, register_aggregate\n"
        "register_aggregate(rank_ensemble('t_plugin_zoo', ['meco', 'synflow']))\n"
    )
    path = _write(tmp_path, 'aggregates = ["t_plugin_zoo"]')
    path.write_text(path.read_text().replace("[study]\n", '[study]\nplugins = ["agg_plugin.py"]\n', 1))
    try:
        assert load_study(path).analysis.aggregates == ("t_plugin_zoo",)
    finally:
        unregister_aggregate("t_plugin_zoo")
