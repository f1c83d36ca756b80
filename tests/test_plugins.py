"""Plugins (harness.plugins): proxy and space files loaded by path or entry point, from the CLI, study files and
worker processes; every bad plugin is one error line and leaves nothing registered or stored."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from harness import plugins
from harness.cli import main
from harness.plugins import PluginError, load_plugins, loaded_sources
from harness.proxies import base as proxy_base
from harness.proxies import get_proxy, proxy_names
from harness.spaces import base as space_base
from harness.spaces import get_space, space_names
from harness.studies import StudyError, parse_study, run_study

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PROXY = REPO / "docs" / "examples" / "logit_spread.py"
EXAMPLE_SPACE = REPO / "docs" / "examples" / "toy_space.py"

PROXY_FILE = """
from harness.proxies import register_proxy

@register_proxy("{name}", needs_labels=False, version=2, paper="a test")
def fn(net, inputs, targets, ctx):
    return net(inputs).abs().mean().item()
"""


# each test starts and ends with only the built-in proxies and spaces registered
pytestmark = pytest.mark.usefixtures("isolated_registries")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_plugin_file_registers_its_proxy_once_with_its_version(tmp_path):
    path = _write(tmp_path / "my_proxy.py", PROXY_FILE.format(name="tmp_plugin"))
    assert load_plugins([path], entry_points=False) == ["tmp_plugin"]
    assert load_plugins([path], entry_points=False) == []  # the same file again: nothing new
    spec = get_proxy("tmp_plugin")
    assert (spec.version, spec.paper, spec.builtin) == (2, "a test", False)
    assert [s.path for s in loaded_sources()] == [str(path.resolve())]


def test_two_files_with_one_name_are_two_modules(tmp_path):
    a = _write(tmp_path / "a" / "my_proxy.py", PROXY_FILE.format(name="tmp_a"))
    b = _write(tmp_path / "b" / "my_proxy.py", PROXY_FILE.format(name="tmp_b"))
    assert load_plugins([a, b], entry_points=False) == ["tmp_a", "tmp_b"]
    assert len({s.module_name for s in loaded_sources()}) == 2


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("boom.py", PROXY_FILE.format(name="tmp_half") + "\nraise RuntimeError('boom')\n",
         r"boom\.py failed to import: RuntimeError: boom$"),
        ("clash.py", PROXY_FILE.format(name="snip"), r"clash\.py failed to import: .*'snip' is a built-in proxy"),
        ("syntax.py", "def broken(:\n", r"syntax\.py: not valid Python: SyntaxError"),
        ("nul.py", "x = 1\0\n", r"nul\.py: not valid Python"),
        ("notes.txt", "hello\n", r"notes\.txt: not a Python file"),
        ("space.py", "from harness.spaces import register_space\nregister_space('nb201')(type('X', (), {}))\n",
         r"search space 'nb201' is already registered"),
    ],
)  # fmt: skip
def test_a_bad_plugin_is_one_line_and_registers_nothing(tmp_path, filename, text, message):
    path = _write(tmp_path / filename, text)
    proxies, spaces = proxy_names(), space_names()
    nb201 = space_base._SPACES["nb201"]
    with pytest.raises(PluginError, match=message) as info:
        load_plugins([path], entry_points=False)
    assert "\n" not in str(info.value) and filename in str(info.value)
    assert proxy_names() == proxies and space_names() == spaces and space_base._SPACES["nb201"] is nb201
    assert not loaded_sources() and not any(m.startswith("nasi_harness_plugin_boom") for m in sys.modules)


def test_missing_file_and_proxy_spec_without_a_name(tmp_path):
    with pytest.raises(PluginError, match="file not found"):
        load_plugins([tmp_path / "absent.py"], entry_points=False)
    with pytest.raises(PluginError, match=r"name the proxy too, as .*x\.py:NAME"):
        plugins.plugin_proxy(str(tmp_path / "x.py"))


class _EntryPoint:
    def __init__(self, name: str, load) -> None:  # noqa: ANN001
        self.name, self.value, self.load = name, f"pkg.{name}:register", load


def test_entry_points_are_loaded_once_and_failures_name_them(monkeypatch):
    def register() -> None:
        proxy_base.register_proxy("tmp_entry", needs_labels=False)(lambda net, x, y, ctx: 1.0)

    calls: list[str] = []
    monkeypatch.setattr(plugins, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(
        plugins.metadata, "entry_points", lambda group: calls.append(group) or [_EntryPoint("good", register)]
    )
    assert plugins.load_entry_points() == ["tmp_entry"] and plugins.load_entry_points() == []
    assert calls == [plugins.ENTRY_POINT_GROUP]

    def broken() -> None:
        raise ImportError("no module named torchvision")

    monkeypatch.setattr(plugins, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [_EntryPoint("bad", broken)])
    with pytest.raises(PluginError, match=r"entry point bad \(pkg\.bad:register\) failed to import: ImportError"):
        plugins.load_entry_points()


def test_score_cli_with_a_plugin_space_and_proxy(tmp_path):
    out = tmp_path / "scores.csv"
    argv = ["score", "toy_widths", "--plugin", str(EXAMPLE_SPACE), "--plugin", str(EXAMPLE_PROXY), "--proxies",
            "logit_spread,params", "--cells", "0,w32", "--data", "gaussian", "--labels", "random", "--batch-size",
            "4", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["arch"], r["proxy"], r["status"]) for r in rows] == [
        ("w4", "logit_spread", "ok"), ("w4", "params", "ok"), ("w32", "logit_spread", "ok"), ("w32", "params", "ok"),
    ]  # fmt: skip
    assert float(rows[3]["score"]) == get_space("toy_widths").cost("w32").params_m


def test_score_cli_with_a_failing_plugin_writes_nothing(tmp_path, capsys):
    bad = _write(tmp_path / "bad.py", "raise ValueError('bad plugin')\n")
    out = tmp_path / "scores.csv"
    argv = ["score", "nb201", "--plugin", str(bad), "--proxies", "params", "--cells", "0", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nasi-harness: error: plugin {bad.resolve()} failed to import: ValueError: bad plugin"]
    assert not out.exists()


def _study(tmp_path: Path, plugins_field: list[str]) -> dict:
    return {
        "study": {"name": "plugin_study", "space": "nb201", "cells": "0-3", "proxies": ["logit_spread", "params"],
                  "datasets": ["cifar10"], "data_modes": ["gaussian"], "label_modes": ["random"], "seeds": [0],
                  "batch_size": 4, "device": "cpu", "plugins": plugins_field},
        "output": {"dir": str(tmp_path / "out")},
    }  # fmt: skip


@pytest.mark.slow  # worker processes
def test_study_plugins_are_relative_to_the_study_file_and_reach_worker_processes(tmp_path):
    from harness.store import load_units

    plugin_dir = tmp_path / "study"
    _write(plugin_dir / "logit_spread.py", EXAMPLE_PROXY.read_text())
    study = parse_study(_study(tmp_path, ["logit_spread.py"]), source=plugin_dir / "study.toml")
    assert study.plugins == (str((plugin_dir / "logit_spread.py").resolve()),)
    (plugin_dir / "logit_spread.py").unlink()  # workers get the text the driver loaded, not the path
    summary = run_study(study, workers=2, progress=False, report=False, log=lambda m: None)  # spawned workers
    frame = load_units(study.store_path)
    assert summary.ran == 8 and (frame.status == "ok").all()
    assert sorted(frame[frame.proxy == "logit_spread"]["index"]) == [0, 1, 2, 3]


def test_a_study_with_a_failing_plugin_stops_before_any_scoring(tmp_path):
    _write(tmp_path / "study" / "bad.py", "import no_such_module_here\n")
    with pytest.raises(StudyError, match=r"plugins.*bad\.py failed to import: ModuleNotFoundError"):
        parse_study(_study(tmp_path, ["bad.py"]), source=tmp_path / "study" / "study.toml")
    assert not (tmp_path / "out").exists()


def test_proxy_check_and_list_cli(tmp_path, capsys):
    assert main(["proxy", "check", f"{EXAMPLE_PROXY}:logit_spread", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("verdict: PASS") and len(out.splitlines()) <= 12
    broken = _write(
        tmp_path / "none.py",
        PROXY_FILE.format(name="tmp_none").replace("return net(inputs)", "return None, net(inputs)"),
    )
    assert main(["proxy", "check", f"{broken}:tmp_none", "--batch-size", "4"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  finite" in out and "returned tuple" in out and "verdict: FAIL" in out
    assert main(["proxy", "list", "--plugin", str(EXAMPLE_PROXY)]) == 0
    listing = capsys.readouterr().out
    assert "logit_spread" in listing and "[plugin]" in listing and "Shu et al., ICLR 2022" in listing


@pytest.mark.slow  # a local Ray cluster
def test_ray_workers_execute_the_plugin_text(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'nasi-harness[ray]')")
    from harness.store import load_units

    plugin_dir = tmp_path / "study"
    _write(plugin_dir / "logit_spread.py", EXAMPLE_PROXY.read_text())
    study = parse_study(_study(tmp_path, ["logit_spread.py"]), source=plugin_dir / "study.toml")
    (plugin_dir / "logit_spread.py").unlink()  # as on another machine: no copy of the file
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})  # fmt: skip
    try:
        summary = run_study(study, backend="ray", workers=2, progress=False, report=False, log=lambda m: None)
    finally:
        ray.shutdown()
    frame = load_units(study.store_path)
    assert summary.ran == 8 and (frame.status == "ok").all() and set(frame.proxy) == {"logit_spread", "params"}


def test_search_sample_cli_with_a_plugin_proxy(capsys):
    argv = ["search", "sample", "--plugin", str(EXAMPLE_PROXY), "--proxies", "logit_spread", "--n", "3",
            "--data-mode", "gaussian", "--label-mode", "random", "--batch-size", "4", "--device", "cpu",
            "--no-accuracy"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("seed 0: cell ")
