"""harness.ranking: the one module that ranks a set of cells, its one rule for missing and non-finite components,
and one ensemble giving one rho in correlate, compare (--aggregate and the deprecated --ensemble), report and
search sample."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.stats import correlation
from harness.cli import main
from harness.ranking import COMBINATIONS, MISSING_RULE, combine_ranks, log_rank_sum, oriented_rank, rank_sum


def test_missing_and_non_finite_components_rank_last_tied_and_stay_in_the_set() -> None:
    values = pd.Series([3.0, np.nan, 1.0, np.inf, -np.inf, 2.0], name="a")
    ranks = oriented_rank(values, higher_is_better=True)
    # 1, 2, 3 rank 4, 5, 6 (= N); NaN, +inf and -inf tie below them at the average of 1, 2, 3
    assert ranks.tolist() == [6.0, 2.0, 4.0, 2.0, 2.0, 5.0]
    assert oriented_rank(values, higher_is_better=False).tolist() == [4.0, 2.0, 6.0, 2.0, 2.0, 5.0]
    table = pd.DataFrame({"a": [1.0, None, 3.0], "b": [2.0, 1.0, math.inf]})
    out = log_rank_sum(table, {"a": True, "b": True})
    assert out.tolist() == pytest.approx([math.log(2 / 3) + math.log(3 / 3), math.log(1 / 3) + math.log(2 / 3),
                                          math.log(3 / 3) + math.log(1 / 3)])  # fmt: skip
    assert rank_sum(table, {"a": True, "b": True}).tolist() == [5.0, 3.0, 4.0]
    assert "ranks below every scored cell" in MISSING_RULE


def test_the_combinations_are_named_options_of_one_function() -> None:
    table = pd.DataFrame({"a": [1.0, 2.0, 2.0, np.nan], "b": [4.0, 3.0, 5.0, 1.0]})
    up = {"a": True, "b": False}
    assert combine_ranks(table, up).equals(log_rank_sum(table, up))
    assert combine_ranks(table, up, "log_rank").tolist() == pytest.approx(log_rank_sum(table, up, normalise=False))
    assert combine_ranks(table, up, "rank_sum").equals(rank_sum(table, up))
    dense = combine_ranks(table, {"a": True, "b": True}, "dense_lexicographic")
    assert dense.tolist() == [2.0, 3.0, 4.0, 1.0]  # (2, 5) > (2, 3) > (1, 4) > a missing tuple
    assert set(COMBINATIONS) == {"log_rank_sum", "log_rank", "rank_sum", "dense_lexicographic"}
    with pytest.raises(ValueError, match="unknown rank combination"):
        combine_ranks(table, up, "borda")


def test_the_papers_aggregates_and_the_user_ensembles_rank_through_it() -> None:
    from harness.aggregates import az_nas_pool, get_aggregate, parse_aggregate, te_nas_pool

    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(20, 4)), columns=list(get_aggregate("az_nas").components))
    table.iloc[3, 1] = np.nan
    assert az_nas_pool(table).equals(combine_ranks(table, dict.fromkeys(table.columns, True)).rename("az_nas"))
    te = pd.DataFrame({"ntk_cond": rng.normal(size=9), "te_nas_linear_regions": rng.normal(size=9)})
    te.iloc[2, 0] = np.inf
    expected = combine_ranks(te, {"ntk_cond": False, "te_nas_linear_regions": True}, "rank_sum")
    assert te_nas_pool(te).equals(expected.rename("te_nas"))
    ens = parse_aggregate("z=a+b").compute(table.set_axis(["a", "b", "c", "d"], axis=1), lambda p: p != "b")
    assert ens.tolist() == combine_ranks(table.set_axis(["a", "b", "c", "d"], axis=1), {"a": True, "b": False}).tolist()


def test_search_sample_picks_by_rank_sum_under_the_same_rule() -> None:
    from harness.search.sample import pick_best

    higher = {"a": True, "b": True}
    # cell 1 is missing a and has a non-finite b: last on both; cell 2 wins the rank sum
    assert pick_best([10, 11, 12], {"a": [1.0, None, 2.0], "b": [5.0, math.inf, 6.0]}, higher) == 2
    assert pick_best([10, 11, 12], {"a": [1.0, float("nan"), 2.0]}, higher) == 2


def test_search_sample_reads_a_rank_ensemble_as_the_analyses_do() -> None:
    from harness.search.sample import SampleConfig, _pool_scores, aggregate_of

    config = SampleConfig(n=3, proxies="params,ens=flops+synflow,ensemble:params+synflow")
    assert config.proxies == ("params", "ens=flops+synflow", "ensemble:params+synflow")
    assert aggregate_of("ensemble:params+synflow").name == "ensemble(params+synflow)"
    assert aggregate_of("params") is None
    with pytest.raises(ValueError, match="at least two proxies"):
        SampleConfig(n=3, proxies="ens=flops")
    raw = {"flops": [1.0, 3.0, None, 2.0], "synflow": [2.0, math.inf, None, 1.0]}
    values = _pool_scores("ens=flops+synflow", raw)
    assert values[2] is None  # no usable component: not in the pool
    pool = pd.DataFrame({"flops": [1.0, 3.0, 2.0], "synflow": [2.0, math.inf, 1.0]})
    assert [values[0], values[1], values[3]] == log_rank_sum(pool, {"flops": True, "synflow": True}).tolist()


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], dict]:
    """search sample's N = 12 nb201 cells with params and the ensemble of flops and synflow (Gaussian data), and a
    results database holding the component scores it computed."""
    from harness.search import sample as sample_module
    from harness.search.sample import SampleConfig, sample_scores
    from harness.store import ResultStore

    kept = []

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        records = list(score_cells(*args, **kwargs))
        kept.extend(records)
        return records

    score_cells = sample_module.score_cells
    config = SampleConfig(n=12, proxies=("params", "ens=flops+synflow"), data_mode="gaussian", label_mode="random")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sample_module, "score_cells", recording)
        cells, scores = sample_scores(config, "nb201", "cifar10", seed=3, device="cpu")
    assert {r.proxy for r in kept} == {"params", "flops", "synflow"}
    path = tmp_path_factory.mktemp("sampled") / "results.db"
    with ResultStore(str(path)) as store:
        assert store.write("sampled", "nb201", kept) == len(kept)
    return path, cells, scores


def _rho(rows: list[dict], proxy: str) -> float:
    (row,) = [r for r in rows if r["proxy"] == proxy and r.get("degenerate_included", True) in (True, "True")]
    return float(row["spearman"])


@pytest.mark.slow  # scores 12 cells and writes a report
def test_one_ensemble_one_rho_in_correlate_compare_report_and_search_sample(
    sampled: tuple[Path, list[int], dict], shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from harness.analysis.target import TargetSpec, resolve, target_loader

    path, cells, scores = sampled
    base = ["--data-dir", str(shared_data), "--bootstrap", "20"]
    accuracy = resolve(target_loader(TargetSpec(), data_dir=shared_data), "nb201", "cifar10").reindex(cells).to_numpy()
    rho_sample = correlation(np.array(scores["ens=flops+synflow"], dtype=float), accuracy.astype(float), "spearman")

    assert main(["correlate", str(path), *base, "--aggregate", "ens=flops+synflow", "--json", "--no-aggregates"]) == 0
    rho_correlate = _rho(json.loads(capsys.readouterr().out), "ens")
    every = ["--json", "--no-aggregates"]
    assert main(["compare", str(path), *base, *every, "--aggregate", "ens=flops+synflow", "--proxies", "ens"]) == 0
    rho_compare = _rho(json.loads(capsys.readouterr().out)["ranking"], "ens")
    assert main(["compare", str(path), *base, *every, "--ensemble", "flops,synflow", "--proxies", "params"]) == 0
    ranked = json.loads(capsys.readouterr().out)["ranking"]
    rho_deprecated = _rho(ranked, "ensemble(flops+synflow)")
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), *base, "--aggregate", "ens=flops+synflow",
                 "--ensemble", "flops,synflow", "--no-aggregates"]) == 0  # fmt: skip
    capsys.readouterr()
    correlation_table = pd.read_csv(out / "tables" / "correlation.csv").to_dict(orient="records")
    values = {
        "search sample": rho_sample,
        "correlate": rho_correlate,
        "compare --aggregate": rho_compare,
        "compare --ensemble": rho_deprecated,
        "report correlation": _rho(correlation_table, "ens"),
    }
    assert len(cells) == 12 and all(np.isfinite(v) for v in values.values())
    assert max(values.values()) - min(values.values()) < 1e-12, values

    # All proxies side by side: compare and report's comparison pair them on the cells every one scored, so the
    # ensemble's rho there is over fewer cells when a component is missing somewhere; the same in both.
    assert main(["compare", str(path), *base, *every, "--aggregate", "ens=flops+synflow",
                 "--ensemble", "flops,synflow"]) == 0  # fmt: skip
    ranked = json.loads(capsys.readouterr().out)["ranking"]
    comparison = pd.read_csv(out / "tables" / "comparison.csv").to_dict(orient="records")
    for name in ("ens", "ensemble(flops+synflow)"):
        assert _rho(comparison, name) == pytest.approx(_rho(ranked, name), abs=1e-12)
    assert _rho(ranked, "ens") == pytest.approx(_rho(ranked, "ensemble(flops+synflow)"), abs=1e-12)


def test_compare_ensemble_is_a_deprecated_spelling_of_aggregate(
    sampled: tuple[Path, list[int], dict], shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    path, _, _ = sampled
    base = ["--data-dir", str(shared_data), "--bootstrap", "20", "--no-aggregates", "--json"]
    assert main(["compare", str(path), *base, "--ensemble", "params,synflow"]) == 0
    captured = capsys.readouterr()
    notice = [line for line in captured.err.splitlines() if "deprecated" in line]
    assert notice == ["note: --ensemble is deprecated; use --aggregate ensemble:params+synflow (same values)"]
    old = json.loads(captured.out)["ranking"]
    assert main(["compare", str(path), *base, "--aggregate", "ensemble:params+synflow"]) == 0
    captured = capsys.readouterr()
    assert "deprecated" not in captured.err
    new = json.loads(captured.out)["ranking"]
    assert old == new
