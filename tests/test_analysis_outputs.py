"""Machine-facing outputs of the analyses: proxy, protocol and proxy_version as fields of their own in JSON/CSV,
a cell set (``--cells``, ``cells=``) chosen before anything is pooled, and asked-for aggregates never dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.analysis import frames
from harness.analysis.inputs import load_scores, select_cells
from harness.analysis.synthetic import synthetic_accuracy, synthetic_results
from harness.cli import main
from harness.errors import HarnessError
from harness.spaces import get_space
from harness.spaces.cells import parse_cells

ACCURACY = synthetic_accuracy(15625, seed=1)
CELLS = range(0, 15625, 25)  # 625 cells, some with unreachable operations


def _frame(protocol: str | None = None) -> pd.DataFrame:
    frame = synthetic_results(ACCURACY, {"jacov": 0.5, "meco": 0.4, "nwot": 0.3}, cells=CELLS)
    frame["proxy_version"] = 1
    if protocol is not None:
        frame["protocol"] = protocol
    return frame


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_reachable_is_the_9445_cells_of_nas_bench_suite_zero() -> None:
    space = get_space("nb201")
    reachable = parse_cells("reachable", "nb201")
    assert len(reachable) == 9445 and reachable == sorted(reachable)
    # the one cell of 'none' edges only has no operation, so none is unreachable; the literature's 9,444 leave it out
    empty = space.resolve("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert empty in reachable and [i for i in reachable if space.is_degenerate(i)] == [empty]
    assert space.resolve("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|") in reachable
    # a convolution whose node feeds nothing, and one reading a node nothing feeds: unreachable operations
    assert space.resolve("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|") not in reachable
    assert space.resolve("|none~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|") not in reachable
    with pytest.raises(ValueError, match="cell-topology space"):
        parse_cells("reachable", "nats-sss")


def test_reachable_equals_the_suite_zero_table(shared_data: Path) -> None:
    ref = pd.read_csv(shared_data / "reference-proxies" / "nbsuitezero_cifar10_9445nets.csv", usecols=["net_str"])
    space = get_space("nb201")
    assert sorted(space.resolve(a) for a in ref["net_str"]) == parse_cells("reachable", "nb201")


def test_json_and_csv_rows_carry_proxy_protocol_and_version() -> None:
    frame = pd.concat([_frame("paper"), _frame("harness").assign(proxy_version=2)], ignore_index=True)
    result = harness.correlate(frame, ACCURACY, n_boot=20, degenerate="included")
    shown = set(result.table["proxy"])
    assert "jacov [paper]" in shown and "jacov" in shown  # the frame keeps the shown name (one column each)
    rows = result.records()
    assert {(r["proxy"], r["protocol"], r["proxy_version"]) for r in rows} == {
        (p, protocol, version)
        for p in ("jacov", "meco", "nwot")
        for protocol, version in (("paper", 1), ("harness", 2))
    }
    assert list(rows[0])[list(rows[0]).index("proxy") :][:3] == ["proxy", "protocol", "proxy_version"]
    assert not any("[" in r["proxy"] for r in rows)
    from harness.analysis import tables

    csv = pd.read_csv(io.StringIO(tables.to_csv(result.table)))
    assert {"proxy", "protocol", "proxy_version"} <= set(csv.columns)
    assert set(csv["proxy"]) == {"jacov", "meco", "nwot"} and set(csv["protocol"]) == {"paper", "harness"}
    assert json.loads(tables.to_json(result.table)) == rows
    text = tables.render_markdown(result.table, tables.correlation_columns)
    assert "jacov [paper]" in text


def test_compare_and_agnostic_rows_carry_the_fields() -> None:
    frame = synthetic_results(
        ACCURACY, {"jacov": 0.5, "meco": 0.4}, modes={("real", "random"): 0.9}, cells=CELLS
    ).assign(proxy_version=3, protocol="paper")
    compared = harness.compare(frame, ACCURACY, n_boot=20)
    assert {(r["proxy"], r["protocol"], r["proxy_version"]) for r in compared.records()} >= {("jacov", "paper", 3)}
    pairs = compared.records("pairwise")
    assert {r["proxy_a"] for r in pairs} == {"jacov", "meco"} and {r["protocol_a"] for r in pairs} == {"paper"}
    agnostic = harness.agnostic(frame, None, n_boot=20)
    assert {(r["proxy"], r["protocol"], r["proxy_version"]) for r in agnostic.records()} == {
        ("jacov", "paper", 3),
        ("meco", "paper", 3),
    }


def test_a_registered_name_selects_the_proxy_under_every_protocol() -> None:
    """``--proxies jacov`` on paper-protocol rows (shown as ``jacov [paper]``) means that proxy, in compare and
    agreement as in correlate; a name matching nothing is still an error naming what is present."""
    paper = _frame("paper")
    both = pd.concat([paper, _frame("harness")], ignore_index=True)
    ranked = harness.compare(paper, ACCURACY, proxies=["jacov", "meco"], n_boot=20).records()
    assert {(r["proxy"], r["protocol"]) for r in ranked} == {("jacov", "paper"), ("meco", "paper")}
    ranked = harness.compare(both, ACCURACY, proxies=["jacov"], n_boot=20).records()
    assert {(r["proxy"], r["protocol"]) for r in ranked} == {("jacov", "paper"), ("jacov", "harness")}
    assert harness.compare(both, ACCURACY, proxies=["jacov [paper]"], n_boot=20).records()[0]["protocol"] == "paper"
    with pytest.raises(ValueError, match=r"'zico' is not in the results; present: jacov, jacov \[paper\]"):
        harness.compare(both, ACCURACY, proxies=["zico"], n_boot=20)
    from harness.analysis import score_agreement

    pairs = score_agreement(paper, proxies=["jacov", "meco"], n_boot=20).records()
    assert {(r["proxy_a"], r["protocol_a"]) for r in pairs} == {("jacov", "paper")}


def test_mixed_versions_are_a_list(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[frame["index"] < 5000, "proxy_version"] = 2
    table = harness.correlate(frame, ACCURACY, n_boot=20, degenerate="included").table  # a frame built by hand
    assert set(map(tuple, table["proxy_version"])) == {(1, 2)}
    # a loaded table never mixes: load_scores keeps each proxy's latest version
    loaded = harness.correlate(str(_csv(frame, tmp_path / "mixed.csv")), ACCURACY, n_boot=20).table
    assert set(loaded["proxy_version"]) == {2} and loaded["n"].max() < len(CELLS)
    # no version known: None
    assert frames.proxy_fields(table, frames.prepare(frame.assign(proxy_version=None)))["proxy_version"].isna().all()


def _json_rows(args: list[str], capsys: pytest.CaptureFixture) -> list[dict]:
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_cells_gives_the_numbers_of_a_prefiltered_table(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    frame = _frame()
    kept = frame[frame["index"].isin(parse_cells("reachable", "nb201"))]
    assert 0 < len(kept) < len(frame)
    whole, filtered = _csv(frame, tmp_path / "all.csv"), _csv(kept, tmp_path / "reachable.csv")
    common = ["--data-dir", str(shared_data), "--bootstrap", "30", "--aggregate", "e=jacov+meco"]
    for command in ("correlate", "compare"):
        chosen = _json_rows([command, str(whole), "--cells", "reachable", *common], capsys)
        expected = _json_rows([command, str(filtered), *common], capsys)
        assert chosen == expected
        names = {r["proxy"] for r in (chosen["ranking"] if command == "compare" else chosen)}
        assert "e" in names
    # the API: a path or a loaded frame (its pool aggregates recomputed over the chosen cells)
    target = ACCURACY
    ours = harness.correlate(str(whole), target, cells="reachable", n_boot=30).table
    theirs = harness.correlate(str(filtered), target, n_boot=30).table
    pd.testing.assert_frame_equal(ours, theirs)
    # a loaded frame: registered pool aggregates (te_nas here) recomputed over the chosen cells; a user's cannot be
    spec = "0-4999"
    path = _csv(synthetic_results(ACCURACY, {"ntk_cond": 0.4, "te_nas_linear_regions": 0.3}, cells=CELLS), whole)
    a = harness.correlate(load_scores(str(path)), target, cells=spec, n_boot=30).table
    b = harness.correlate(load_scores(str(path), cells=spec), target, n_boot=30).table
    assert "te_nas" in set(a["proxy"])
    pd.testing.assert_frame_equal(a, b)
    assert np.isfinite(a["spearman"]).all()
    with pytest.raises(HarnessError, match="cannot recompute"):
        select_cells(load_scores(str(path), aggregates=["e=ntk_cond+te_nas_linear_regions"]), spec)


def test_an_asked_aggregate_is_kept_by_proxies(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _csv(_frame(), tmp_path / "scores.csv")
    common = ["--data-dir", str(shared_data), "--bootstrap", "20", "--proxies", "jacov,meco"]
    rows = _json_rows(["correlate", str(path), *common, "--aggregate", "e=jacov+meco"], capsys)
    assert {r["proxy"] for r in rows} == {"jacov", "meco", "e"}
    ranking = _json_rows(["compare", str(path), *common, "--aggregate", "e=jacov+nwot"], capsys)["ranking"]
    assert {r["proxy"] for r in ranking} == {"jacov", "meco", "e"}  # its component nwot computed it, not shown
    rows = _json_rows(["correlate", str(path), *common], capsys)
    assert {r["proxy"] for r in rows} == {"jacov", "meco"}


def test_report_cells_and_csv_fields(tmp_path: Path, shared_data: Path) -> None:
    frame = _frame("paper")
    whole = _csv(frame, tmp_path / "all.csv")
    filtered = _csv(frame[frame["index"].isin(parse_cells("reachable", "nb201"))], tmp_path / "reachable.csv")
    common = ["--data-dir", str(shared_data), "--bootstrap", "20", "--no-aggregates"]
    assert main(["report", str(whole), "--out", str(tmp_path / "a"), "--cells", "reachable", *common]) == 0
    assert main(["report", str(filtered), "--out", str(tmp_path / "b"), *common]) == 0
    assert "cells `reachable`" in (tmp_path / "a" / "report.md").read_text()
    for name in ("correlation.csv", "comparison.csv", "precision_topk.csv"):
        ours, theirs = (pd.read_csv(tmp_path / d / "tables" / name) for d in ("a", "b"))
        pd.testing.assert_frame_equal(ours, theirs)
        assert list(ours.columns[list(ours.columns).index("proxy") :][:3]) == ["proxy", "protocol", "proxy_version"]
        assert set(ours["proxy"]) == {"jacov", "meco", "nwot"} and set(ours["protocol"]) == {"paper"}
    assert "jacov [paper]" in (tmp_path / "a" / "tables" / "correlation.md").read_text()
