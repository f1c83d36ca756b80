"""Start-up of the command line: help and the analysis commands never import torch; flags keep one meaning.

The torch checks run the CLI in a fresh interpreter (this test process has torch loaded already) and report,
after each command, whether ``torch``, ``nas_201_api`` or ``nats_bench`` is in ``sys.modules``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import build_parser, main

HEAVY = ("torch", "nas_201_api", "nats_bench")

# Runs each argv (one per line of stdin, JSON) and prints, per argv, its exit status and the heavy modules loaded.
_PROBE = (
    f"HEAVY = {HEAVY!r}\n"
    + """
import contextlib, io, json, sys
from harness.cli import main
report = []
for argv in json.loads(sys.stdin.read()):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    heavy = [m for m in HEAVY if m in sys.modules]
    report.append({"argv": argv, "code": code, "heavy": heavy, "err": err.getvalue()[-300:]})
print(json.dumps(report))
"""
)


def _run_fresh(argvs: list[list[str]], env: dict[str, str] | None = None) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the parser (``score``, ``space show``, ``search nasi``, ...)."""
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths += _command_paths(sub, (*prefix, name))
    return paths


def test_every_help_prints_without_torch() -> None:
    paths = _command_paths(build_parser())
    assert {("score",), ("correlate",), ("space", "show"), ("search", "nasi"), ("data", "check")} <= set(paths)
    argvs = [["--help"], *([*path, "--help"] for path in paths)]
    for row in _run_fresh(argvs):
        assert row["code"] == 0, row
        assert row["heavy"] == [], f"{' '.join(row['argv'])} imported {row['heavy']}"


@pytest.mark.slow  # every analysis command in a fresh interpreter
def test_analysis_commands_never_import_torch(tmp_path: Path, shared_data: Path) -> None:
    frame = synthetic_results(
        synthetic_accuracy(15625, seed=0), {"nasi": 0.6, "ntk_cond": -0.4}, modes={("real", "random"): 0.9},
        cells=range(0, 6000, 100),
    )  # fmt: skip
    from harness.spaces import get_space

    frame["arch"] = [get_space("nb201").arch(int(i)) for i in frame["index"]]  # merge checks each cell's arch
    store = tmp_path / "results.sqlite"
    write_store(str(store), frame, study="s")
    exported = tmp_path / "scores.csv"
    data = ["--data-dir", str(shared_data), "--bootstrap", "20"]
    argvs = [
        ["correlate", str(store), *data],
        ["compare", str(store), *data, "--pairwise", "--ensemble", "nasi,ntk_cond"],
        ["compare", str(store), "--agreement", "--bootstrap", "20"],
        ["agnostic", str(store), *data],
        ["export", str(store), "--out", str(exported)],
        ["merge", str(tmp_path / "merged.sqlite"), str(exported)],
        ["correlate", str(exported), *data, "--json"],
        ["report", str(store), "--out", str(tmp_path / "report"), *data],
    ]
    for row in _run_fresh(argvs, {"NASI_HARNESS_DATA": str(shared_data)}):
        assert row["code"] == 0, row
        assert row["heavy"] == [], f"{' '.join(row['argv'][:2])} imported {row['heavy']}"
    assert (tmp_path / "report" / "report.md").is_file()


def test_proxy_directions_without_the_registry_match_it() -> None:
    """The analysis reads each built-in proxy's direction from its declaration; it must equal the registry's."""
    from harness.analysis.directions import declared_directions
    from harness.proxies import get_proxy, proxy_names

    declared = declared_directions()
    builtin = [n for n in proxy_names() if get_proxy(n).builtin]
    assert sorted(declared) == sorted(builtin)
    assert {n: get_proxy(n).higher_is_better for n in builtin} == declared
    assert declared["ntk_cond"] is False and declared["nasi"] is True


def test_constants_repeated_for_a_light_parser_match_the_library() -> None:
    from harness.analysis.agnostic import TRANSFER_DATASETS
    from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
    from harness.cli import agnostic_cmd, export_cmd, options, run_cmd, score_cmd, search_cmd
    from harness.plugins import ENTRY_POINT_GROUP
    from harness.search import NONE_OP_MODES, VARIANTS
    from harness.spaces.cells import SPEC_FORM

    export = importlib.import_module("harness.store.export")  # the package's ``export`` is the function
    from harness.studies import BACKENDS

    assert (options.DEFAULT_RESAMPLES, options.DEFAULT_LEVEL) == (DEFAULT_RESAMPLES, DEFAULT_LEVEL)
    from harness.analysis.decisions import PICK_SIZES

    assert (agnostic_cmd.DEFAULT_PICKS, agnostic_cmd.TRANSFER) == (PICK_SIZES, TRANSFER_DATASETS)
    assert (export_cmd.FORMATS, export_cmd.TABLES) == (export.FORMATS, export.TABLES)
    assert run_cmd.BACKENDS == BACKENDS and score_cmd.SPEC_FORM == SPEC_FORM
    assert (search_cmd.VARIANTS, search_cmd.NONE_OP_MODES) == (VARIANTS, NONE_OP_MODES)
    assert ENTRY_POINT_GROUP == "nasi_harness.proxies"  # harness.cli._plugin_entry_points looks this group up


@pytest.mark.parametrize(
    ("argv", "old", "new", "dest", "value"),
    [
        (["score", "nb201", "--proxies", "nasi"], "--data-root", "--data-dir", "data_dir", "/d"),
        (["run", "s.toml"], "--data", "--data-dir", "data_dir", "/d"),
        (["search", "nasi"], "--data", "--data-dir", "data_dir", "/d"),
        (["space", "show", "nb201", "0"], "--data", "--data-dir", "data_dir", "/d"),
        (["data", "check"], "--data", "--data-dir", "data_dir", "/d"),
        (["report", "s.sqlite", "--out", "r"], "--data", "--data-dir", "data_dir", "/d"),
        (["agnostic", "s.sqlite"], "--seed", "--bootstrap-seed", "bootstrap_seed", "7"),
    ],
)
def test_old_spelling_is_the_new_one_with_a_notice(
    argv: list[str], old: str, new: str, dest: str, value: str, capsys: pytest.CaptureFixture
) -> None:
    parser = build_parser()
    assert getattr(parser.parse_args([*argv, new, value]), dest) == getattr(
        parser.parse_args([*argv, old, value]), dest
    )
    assert capsys.readouterr().err == f"nasi-harness: {old} is deprecated; use {new}\n"


def test_score_data_is_the_mode_and_out_reports_rows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """In score, --data is the data mode (a folder is --data-dir); --out into a missing folder ends 'wrote N rows'."""
    out = tmp_path / "missing" / "scores.csv"
    argv = ["score", "nb201", "--proxies", "params", "--cells", "0,1", "--data", "gaussian", "--labels", "random"]
    assert main([*argv, "--batch-size", "2", "--out", str(out)]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"wrote 2 rows to {out}"
    rows = out.read_text().strip().splitlines()
    assert len(rows) == 3 and ",gaussian,random," in rows[1]


def test_mode_flags_are_spelled_alike_in_score_and_search(capsys: pytest.CaptureFixture) -> None:
    parser = build_parser()
    short = parser.parse_args(["score", "nb201", "--proxies", "nasi", "--data", "gaussian", "--labels", "random"])
    long = parser.parse_args(
        ["score", "nb201", "--proxies", "nasi", "--data-mode", "gaussian", "--label-mode", "random"]
    )
    assert (short.data_mode, short.labels) == (long.data_mode, long.labels) == ("gaussian", "random")
    search = parser.parse_args(
        ["search", "sample", "--proxies", "nasi", "--data-mode", "uniform", "--labels", "random"]
    )
    assert (search.data_mode, search.label_mode) == ("uniform", "random")
    assert capsys.readouterr().err == ""  # none of these is deprecated
