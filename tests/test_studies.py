"""Study files and the local runner: validation (one line per invalid field), planning, resume, skips, report hook."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.proxies import base as proxy_base
from harness.proxies import proxy_names, register_proxy
from harness.store import ResultStore, UnitKey, load_units
from harness.studies import StudyError, load_study, make_plan, parse_study, run_study
from harness.studies.units import Shard

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((REPO / "benchmarks").glob("*.toml"))

VALID = """
[study]
name = "tiny"
space = "nb201"
cells = "0-2"
proxies = ["t_cheap"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 8
device = "cpu"
"""

CALLS: list[int] = []


@pytest.fixture
def cheap_proxies():
    """In-process test proxies: a cheap signed score, one that fails, one that Ctrl-Cs on its third call."""

    @register_proxy("t_cheap", needs_labels=False)
    def cheap(net, inputs, targets, ctx):
        return -float(sum(p.numel() for p in net.parameters())) / 1e6

    @register_proxy("t_fail", needs_labels=False)
    def fail(net, inputs, targets, ctx):
        raise RuntimeError("deliberate failure")

    @register_proxy("t_ctrl_c", needs_labels=False)
    def ctrl_c(net, inputs, targets, ctx):
        CALLS.append(1)
        if len(CALLS) == 3:
            raise KeyboardInterrupt
        return 1.0

    CALLS.clear()
    yield
    for name in ("t_cheap", "t_fail", "t_ctrl_c"):
        proxy_base.unregister_proxy(name)


def _study(tmp_path: Path, text: str = VALID, **edits: str):
    body = text
    for key, value in edits.items():
        lines = [ln for ln in body.splitlines() if not ln.startswith(f"{key} =")]
        lines.insert(lines.index("[study]") + 1, f"{key} = {value}")
        body = "\n".join(lines)
    body += f'\n[output]\ndir = "{tmp_path / "out"}"\n'
    path = tmp_path / "study.toml"
    path.write_text(body)
    return load_study(path)


# -- shipped study files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_shipped_study_files_validate(path):
    """Every shipped study file loads as its kind (scoring or [search]) through the one loader."""
    from harness.studies import ScoringStudy, load

    study = load(path)
    assert study.name == path.stem and study.store_path == Path("results") / path.stem / "results.sqlite"
    assert study.kind == ("scoring" if isinstance(study, ScoringStudy) else "search")
    if isinstance(study, ScoringStudy):
        assert study.spec.total_units > 0 and study.spec.analysis.target == "test"


def test_shipped_studies_match_the_issue():
    names = {p.stem for p in BENCHMARKS}
    assert {"quickstart", "nb201_proxies", "nb201_nasi_full", "agnosticism"} <= names


# -- validation: one error line naming the field and the allowed values ---------------------------------------


@pytest.mark.parametrize(
    "edits, needle",
    [
        ({"proxies": '["t_cheap", "nasy"]'}, r"\[study\] proxies: unknown value 'nasy'; allowed: .*t_cheap"),
        ({"space": '"nb202"'}, r"\[study\] space: unknown value 'nb202'; allowed: nats-sss, nb201"),
        ({"datasets": '["cifar11"]'}, r"\[study\] datasets: unknown value 'cifar11'; allowed: cifar10, .*cifar100"),
        ({"data_modes": '["noise"]'}, r"\[study\] data_modes: unknown data mode 'noise'; expected .*gaussian"),
        ({"data_modes": '["other:mnist"]'}, r"\[study\] data_modes: .*unknown dataset 'mnist'"),
        (
            {"label_modes": '["wrong"]'},
            r"\[study\] label_modes: unknown label mode 'wrong'; expected one of true, random",
        ),
        ({"cells": '"sample:x"'}, r"\[study\] cells: malformed cell spec 'sample:x'"),
        ({"cells": '"5-99999"'}, r"\[study\] cells: bad cell range"),
        ({"cells": "[1, 2]"}, r"\[study\] cells: expected a cell SPEC string: 'all', 'unique'"),
        ({"seeds": '"zero"'}, r"\[study\] seeds: expected a non-empty list of non-negative integers"),
        ({"seeds": "[0, 0]"}, r"\[study\] seeds: listed twice: 0"),
        ({"batch_size": "0"}, r"\[study\] batch_size: must be >= 1"),
        ({"batch_size": "8.5"}, r"\[study\] batch_size: expected an integer"),
        ({"device": '"gpu"'}, r"\[study\] device: unknown device 'gpu'; allowed: auto, cpu, cuda or cuda:N"),
        ({"name": '"my study"'}, r"\[study\] name: 'my study' is not a valid name; allowed: letters"),
        ({"proxys": '["t_cheap"]'}, r"\[study\] unknown key 'proxys'; allowed keys: name, description, space, cells"),
        ({"share_isomorphic": '"yes"'}, r"\[study\] share_isomorphic: expected true or false"),
    ],
)
def test_invalid_study_fields(tmp_path, cheap_proxies, edits, needle):
    with pytest.raises(StudyError, match=needle) as err:
        _study(tmp_path, **edits)
    assert "\n" not in str(err.value) and str(tmp_path / "study.toml") in str(err.value)


@pytest.mark.parametrize(
    "text, needle",
    [
        (VALID.replace('space = "nb201"\n', ""), r"\[study\] space: missing required field; required: name, space"),
        (VALID.replace("seeds = [0]\n", ""), r"\[study\] seeds: missing required field"),
        (VALID + '[analysis]\ntarget = "train"\n', r"\[analysis\] target: unknown value 'train'; allowed: test, valid"),
        (
            VALID + "[analysis]\nepochs = 100\n",
            r"\[analysis\] epochs: unknown value 100 for space nb201; allowed: 200, 12",
        ),
        (
            VALID + "[analysis]\nepochs = 90\n",
            r"epochs: unknown value 90 for space nb201; allowed: 200, 12 \(left out: the full schedule, 200\)",
        ),
        (
            VALID.replace('"nb201"', '"nats-sss"') + "[analysis]\nepochs = 200\n",
            r"\[analysis\] epochs: unknown value 200 for space nats-sss; allowed: 90, 12, 1 "
            r"\(left out: the full schedule, 90\)",
        ),
        (
            VALID + '[analysis]\nepochs = "200"\n',
            r"\[analysis\] epochs: expected an integer \(training epochs of the ground truth: 200, 12\)",
        ),
        (VALID + '[analysis]\nreports = ["pie"]\n', r"\[analysis\] reports: unknown value 'pie'; allowed: correlation"),
        (VALID + '[analysis]\ndatasets = ["x"]\n', r"\[analysis\] datasets: unknown value 'x'"),
        (VALID + '[analysis]\ntargett = "test"\n', r"\[analysis\] unknown key 'targett'; allowed keys: datasets"),
        (VALID + '[outputs]\ndir = "x"\n', r"unknown section \[outputs\]; allowed sections: study, analysis, output"),
        (VALID + '[output]\nfolder = "x"\n', r"\[output\] unknown key 'folder'; allowed keys: dir, store, report_dir"),
        ('[output]\ndir = "x"\n', r"missing section \[study\]"),
        (VALID + "oops = = 1\n", r"invalid TOML"),
    ],
)
def test_invalid_study_documents(tmp_path, cheap_proxies, text, needle):
    path = tmp_path / "study.toml"
    path.write_text(text)
    with pytest.raises(StudyError, match=needle) as err:
        load_study(path)
    assert "\n" not in str(err.value)


def test_missing_study_file(tmp_path):
    with pytest.raises(StudyError, match="study file not found"):
        load_study(tmp_path / "nope.toml")


def test_cli_rejects_an_invalid_study_before_any_work(tmp_path, capsys):
    text = VALID.replace('proxies = ["t_cheap"]', 'proxies = ["nasy"]') + f'[output]\ndir = "{tmp_path / "out"}"\n'
    (tmp_path / "bad.toml").write_text(text)
    assert main(["run", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "proxies: unknown value 'nasy'; allowed:" in err
    assert not (tmp_path / "out").exists()  # nothing started, no store created


# -- planning ------------------------------------------------------------------------------------------------


def test_plan_counts_done_and_not_applicable(tmp_path, cheap_proxies):
    study = _study(tmp_path, data_modes='["gaussian", "other:cifar10"]', label_modes='["random", "true"]',
                   seeds="[0, 1]", proxies='["t_cheap", "t_fail"]')  # fmt: skip
    assert study.total_units == 3 * 2 * 1 * 2 * 2 * 2
    done = {
        UnitKey(0, "t_cheap", "cifar10", "gaussian", "random", 8, 0),
        UnitKey(0, "t_cheap", "cifar10", "gaussian", "random", 9, 0),
    }
    plan = make_plan(study, done)  # the second key has another batch size: not this study's unit
    assert plan.done_before == 1
    assert sum(plan.not_applicable.values()) == 24 and "other:cifar10 on cifar10" in next(iter(plan.not_applicable))
    assert plan.todo == 48 - 24 - 1 and len(plan.shards) == 4
    assert "48 units" in plan.describe() and "23 to run" in plan.describe()


def test_shard_split_keeps_its_done_units_and_isomorphic_classes():
    shard = Shard("nb201", "cifar10", "gaussian", "random", 0, 8, "cpu", cells=tuple(range(10)), proxies=("a", "b"),
                  done=frozenset({(0, "a"), (0, "b"), (5, "a")}))  # fmt: skip
    parts = shard.split(3)
    assert sum(p.units for p in parts) == shard.units == 17
    assert [p.cells for p in parts][0] == (0, 1, 2) and parts[0].done == {(0, "a"), (0, "b")}
    from harness.spaces import get_space

    sp = get_space("nb201")
    cells = tuple(range(40))
    grouped = Shard("nb201", "cifar10", "gaussian", "random", 0, 8, "cpu", cells, ("a",), share_isomorphic=True)
    keys = [sp.canonical(i) for part in grouped.split(5) for i in part.cells]
    assert sorted(keys) == keys  # members of a class are adjacent, so a chunk scores a class once


def test_shard_parts_are_disjoint_cover_and_keep_isomorphic_classes():
    shard = Shard("nb201", "cifar10", "gaussian", "random", 0, 8, "cpu", cells=tuple(range(10)), proxies=("a",),
                  done=frozenset({(0, "a"), (5, "a")}))  # fmt: skip
    parts = [shard.part(k, 3) for k in range(3)]
    assert sorted(i for p in parts for i in p.cells) == list(range(10))
    assert sum(p.units for p in parts) == shard.units == 8
    assert parts[0].done == {(0, "a")} and parts[2].done == {(5, "a")}
    from harness.spaces import get_space

    sp = get_space("nb201")
    grouped = Shard("nb201", "cifar10", "gaussian", "random", 0, 8, "cpu", tuple(range(300)), ("a",),
                    share_isomorphic=True)  # fmt: skip
    classes = [{sp.canonical(i) for i in grouped.part(k, 4).cells} for k in range(4)]
    assert all(not (a & b) for j, a in enumerate(classes) for b in classes[j + 1 :])  # a class is in one part
    assert sum(len(grouped.part(k, 4).cells) for k in range(4)) == 300


def test_parts_into_one_store_equal_a_whole_run(tmp_path, cheap_proxies):
    study = _study(tmp_path, cells='"0-9"')
    logs: list[str] = []
    for k in range(3):
        summary = run_study(study, progress=False, report=False, log=logs.append, part=(k, 3))
        assert summary.ran == len(range(k, 10, 3))
    assert any(line.startswith("part 2/3: 3 of the 3 units") for line in logs)
    frame = load_units(study.store_path)
    assert sorted(frame["index"]) == list(range(10))
    assert run_study(study, progress=False, report=False, log=logs.append).ran == 0
    with pytest.raises(ValueError, match="part must be K/N"):
        run_study(study, progress=False, report=False, part=(3, 3))


def test_cli_rejects_a_bad_part(tmp_path, cheap_proxies, capsys):
    study = _study(tmp_path)
    with pytest.raises(SystemExit):
        main(["run", str(study.source), "--part", "2/2"])
    assert "expected K/N with 0 <= K < N" in capsys.readouterr().err


# -- running --------------------------------------------------------------------------------------------------


def test_run_resume_and_idempotent_rerun(tmp_path, cheap_proxies):
    study = _study(tmp_path, proxies='["t_cheap", "t_fail"]', label_modes='["random", "shuffled"]', seeds="[0, 3]")
    logs: list[str] = []
    summary = run_study(study, progress=False, report=False, log=logs.append)
    assert summary.total == 3 * 2 * 2 * 2 and summary.done_before == 0
    # shuffled labels need CIFAR-10 (the true labels of the batch): run or skipped depending on the data here.
    assert summary.ran + summary.skipped_units == 24
    assert summary.by_status["error"] == summary.ran // 2 and "deliberate failure" in summary.errors[0]
    frame = load_units(study.store_path)
    assert len(frame) == summary.ran
    ok = frame[frame.status == "ok"]
    assert (ok["score"] < 0).all() and (ok.proxy == "t_cheap").all()  # signed scores kept as they are
    assert set(frame.status[frame.proxy == "t_fail"]) == {"error: RuntimeError: deliberate failure"}

    again = run_study(study, progress=False, report=False, log=logs.append)
    assert again.done_before == summary.ran // 2  # finished units are not rerun ...
    assert again.ran == summary.ran // 2 and set(again.by_status) == {"error"}  # ... errors are retried
    assert len(load_units(study.store_path)) == summary.ran  # and never duplicated
    with ResultStore(study.store_path) as db:
        assert db.study_config("tiny")["analysis"]["target"] == "test"


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupt_during_a_write_is_counted_with_what_was_stored(tmp_path, cheap_proxies, monkeypatch, signame):
    """Ctrl-C (or a scheduler's SIGTERM) that lands just after a batch is committed stops the run after that batch
    is counted: the summary's ran / left agree with the store (it used to count one batch short)."""
    import signal

    study = _study(tmp_path)
    write = ResultStore.write

    def write_then_signal(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = write(self, *args, **kwargs)
        signal.raise_signal(getattr(signal, signame))  # the commit is done; the count comes next
        return out

    monkeypatch.setattr(ResultStore, "write", write_then_signal)
    summary = run_study(study, progress=False, report=False, log=lambda _: None)
    stored = len(load_units(study.store_path))
    assert summary.interrupted and 0 < stored < summary.total
    assert summary.ran == stored and summary.remaining == summary.total - stored - summary.skipped_units


def test_an_ignored_interrupt_stays_ignored_while_held():
    """A run started from a background shell ignores SIGINT: holding signals must not turn it back on."""
    import signal

    from harness.studies.interrupt import interrupts_held

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_held_signal_with_its_default_action_ends_the_process_after_the_block():
    import signal
    import subprocess

    code = ("import signal; from harness.studies.interrupt import interrupts_held\n"
            "with interrupts_held():\n    signal.raise_signal(signal.SIGTERM)\n    print('block done', flush=True)\n"
            "print('not reached', flush=True)\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.returncode == -signal.SIGTERM and proc.stdout == "block done\n", (proc.returncode, proc.stdout)


def test_missing_data_is_skipped_with_a_message(tmp_path, cheap_proxies):
    study = _study(tmp_path, data_modes='["gaussian", "real"]', label_modes='["random", "true"]')
    logs: list[str] = []
    empty = tmp_path / "no-data"
    empty.mkdir()
    summary = run_study(study, data_dir=empty, progress=False, report=False, log=logs.append)
    assert summary.ran == 3 and summary.skipped_units == 9
    (reason,) = summary.skipped
    assert "gaussian/true" in reason and "real/random" in reason and "real/true" in reason
    assert str(empty) in reason and "cs.toronto.edu" in reason  # where it looked, how to get it
    assert any(line.startswith("skipping 9 units needing absent data") for line in logs)
    assert any("skipped 9 units" in line for line in summary.lines())


def test_ctrl_c_keeps_finished_units(tmp_path, cheap_proxies):
    study = _study(tmp_path, proxies='["t_ctrl_c"]', cells='"0-5"')
    summary = run_study(study, progress=False, report=False, log=lambda m: None)
    assert summary.interrupted and summary.ran == 2 and summary.remaining == 4
    assert "interrupted" in summary.lines()[-3] and "skipped" in summary.report_note
    assert len(load_units(study.store_path)) == 2
    resumed = run_study(study, progress=False, report=False, log=lambda m: None)
    assert not resumed.interrupted and resumed.done_before == 2 and resumed.ran == 4


def test_report_step_is_called_when_available(tmp_path, cheap_proxies, monkeypatch):
    from harness.report import study as report_study
    from harness.report.study import build_study_report
    from harness.studies.runner import NO_REPORT_STEP

    study = _study(tmp_path)
    calls = []

    def build_report(store_path, out_dir, study=None, data=None, *, split="test", epochs=None, aggregates=(),
                     builtin_aggregates=True, given_from=None):  # fmt: skip
        calls.append((Path(store_path), Path(out_dir), study, given_from))
        return Path(out_dir) / "report.md"

    monkeypatch.setattr(report_study, "build_report", build_report)
    summary = run_study(study, progress=False, log=lambda m: None, report=build_study_report)
    assert calls == [(study.store_path, study.report_dir, "tiny", f"study file `{study.source}`'s [analysis]")]
    assert summary.report == study.report_dir / "report.md" and f"report: {summary.report}" in summary.lines()

    def with_targets(store_path, out_dir, study=None, data=None, *, split="test", epochs=None, aggregates=(),
                     builtin_aggregates=True, given_from=None):  # fmt: skip
        calls.append((split, epochs, tuple(aggregates), builtin_aggregates))
        raise ValueError("no ground truth here\nsecond line")

    monkeypatch.setattr(report_study, "build_report", with_targets)
    analysis = '[analysis]\ntarget = "valid"\nepochs = 12\nbuiltin_aggregates = false\n'
    study = _study(tmp_path, text=VALID + analysis)
    summary = run_study(study, progress=False, log=lambda m: None, report=build_study_report)
    assert calls[-1] == ("valid", 12, (), False)  # the study's [analysis] targets reach the report layer
    assert summary.report is None and summary.report_note == "not built: no ground truth here"
    # The studies never import the report: without a step given, a run says so and builds none.
    summary = run_study(study, progress=False, log=lambda m: None)
    assert summary.report is None and summary.report_note == NO_REPORT_STEP and len(calls) == 2


def test_the_run_report_says_its_settings_came_from_the_study_file(tmp_path, cheap_proxies):
    from harness import run_study as api_run_study

    study = _study(tmp_path)  # no [analysis]: every setting is the study file's default, epochs the full schedule
    summary = api_run_study(study.source, progress=False, log=lambda m: None, data_dir=tmp_path / "none")
    assert summary.report is not None, summary.report_note
    line = next(ln for ln in summary.report.read_text().splitlines() if ln.startswith("**Analysis settings:**"))
    assert line == (
        f"**Analysis settings:** from study file `{study.source}`'s [analysis]: target test accuracy, "
        "the space's full training schedule (200 epochs), no user aggregates, built-in pool aggregates included."
    )


def test_cli_run_builds_the_report_after_the_study(tmp_path, cheap_proxies, capsys):
    study = _study(tmp_path)
    assert main(["run", str(study.source), "--data-dir", str(tmp_path / "none"), "--no-report"]) == 0
    assert "report: skipped (--no-report)" in capsys.readouterr().out.splitlines()
    assert main(["run", str(study.source), "--data-dir", str(tmp_path / "none")]) == 0
    assert f"report: {study.report_dir / 'report.md'}" in capsys.readouterr().out.splitlines()
    assert (study.report_dir / "report.md").is_file()


def test_bad_run_options(tmp_path, cheap_proxies):
    study = _study(tmp_path)
    for kwargs, needle in [
        ({"backend": "spark"}, "unknown backend 'spark'; expected one of local, ray"),
        ({"workers": 0}, "workers must be a positive integer"),
        ({"workers": 0, "backend": "ray"}, "workers must be a positive integer"),
        ({"address": "ray://x:10001"}, "--address connects to a Ray cluster"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ]:
        with pytest.raises(ValueError, match=needle):
            run_study(study, progress=False, **kwargs)
    assert not study.store_path.exists()


def test_parse_study_all_proxies(cheap_proxies):
    doc = {"study": {"name": "x", "space": "nb201", "cells": "1,2,1", "proxies": "all", "datasets": ["cifar10"],
                     "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": 0}}  # fmt: skip
    study = parse_study(doc)
    assert study.proxies == tuple(proxy_names()) and "t_cheap" in study.proxies
    assert study.cell_indices == (1, 2) and study.seeds == (0,)
    assert study.store_path == Path("results/x/results.sqlite") and study.report_dir == Path("results/x/report")


def test_dry_run_prints_the_plan(tmp_path, cheap_proxies, capsys):
    text = VALID + f'[output]\ndir = "{tmp_path / "out"}"\n'
    (tmp_path / "s.toml").write_text(text)
    assert main(["run", str(tmp_path / "s.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("study tiny: 3 units") and "0 done before, 3 to run" in out
    assert not (tmp_path / "out").exists()


def test_rescore_replaces_one_proxys_units(tmp_path, cheap_proxies):
    study = _study(tmp_path, text=VALID.replace('proxies = ["t_cheap"]', 'proxies = ["t_cheap", "t_ctrl_c"]'))
    CALLS.extend([1, 1, 1])  # t_ctrl_c interrupts only on its third call
    first = run_study(study, progress=False, report=False, log=lambda m: None)
    assert first.ran == 6
    before = load_units(study.store_path).set_index(["index", "proxy"]).created_at
    logs: list[str] = []
    again = run_study(study, progress=False, report=False, log=logs.append, rescore=["t_cheap"])
    assert again.ran == 3 and again.done_before == 3  # only t_cheap's three units ran
    assert any("rescoring t_cheap" in line for line in logs)
    after = load_units(study.store_path).set_index(["index", "proxy"]).created_at
    assert len(after) == 6
    assert all(after[(i, "t_cheap")] >= before[(i, "t_cheap")] for i in range(3))
    assert all(after[(i, "t_ctrl_c")] == before[(i, "t_ctrl_c")] for i in range(3))
    with pytest.raises(ValueError, match="--rescore nope: not a proxy of study 'tiny'"):
        run_study(study, progress=False, report=False, rescore=["nope"])
