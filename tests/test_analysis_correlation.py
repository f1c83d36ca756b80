"""correlate / compare on synthetic results frames with a known answer (no store, no benchmark files)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.analysis import AnalysisResult, compare, correlate, frames, rank_ensemble
from harness.analysis.synthetic import latent_spearman, synthetic_accuracy, synthetic_results
from harness.analysis.target import describe
from harness.errors import DataMissing

N_BOOT = 200


@pytest.fixture(scope="module")
def accuracy() -> pd.Series:
    return synthetic_accuracy(400, seed=3)


@pytest.fixture(scope="module")
def results(accuracy: pd.Series) -> pd.DataFrame:
    return synthetic_results(
        accuracy,
        {"good": 0.8, "weak": 0.3, "noise": 0.0},
        space="toy",
        degenerate=range(0, 400, 20),
        failed_fraction=0.05,
        seed=1,
    )


def test_correlate_rows_keys_and_values(results: pd.DataFrame, accuracy: pd.Series) -> None:
    result = correlate(results, accuracy, n_boot=N_BOOT)
    assert isinstance(result, AnalysisResult) and result.targets == tuple(dict.fromkeys(result.table["target"]))
    assert result.method and "resamples" in result.method[0] and not result.table.attrs
    table = result.to_frame()
    assert len(table) == 3 * 2  # proxies x (degenerate included, excluded)
    for key in (
        "proxy",
        "data",
        "labels",
        "n",
        "spearman",
        "spearman_ci",
        "kendall",
        "kendall_ci",
        "pearson",
        "pearson_ci",
        "degenerate_included",
        "precision@1%",
        "precision@5%",
        "precision@10%",
        "kendall_top10%",
        "ndcg@10",
        "ndcg@100",
        "best_rank@10",
        "best_rank@100",
        "target",
    ):
        assert key in table.columns, key
    frame = frames.prepare(results)
    for row in table.itertuples():
        rows = frame[(frame["proxy"] == row.proxy) & frame["usable"]]
        if not row.degenerate_included:
            rows = rows[~rows["degenerate"]]
        assert row.n == len(rows)
        assert row.n_unscored == int((~frame.loc[frame["proxy"] == row.proxy, "usable"]).sum())
        assert row.n_degenerate == (int(rows["degenerate"].sum()) if row.degenerate_included else 0)
        x = rows.set_index("index")["score"]
        y = accuracy.reindex(x.index)
        assert row.spearman == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert row.kendall == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
        assert row.pearson == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
        for name in ("spearman", "kendall", "pearson"):
            lo, hi = getattr(row, f"{name}_ci")
            assert lo <= getattr(row, name) <= hi
    included = table[table["degenerate_included"]].set_index("proxy")
    # latent correlations 0.8 / 0.3 / 0: Spearman near 6/pi asin(r/2), ordered, noise's interval holds 0
    assert included.loc["good", "spearman"] == pytest.approx(latent_spearman(0.8), abs=0.08)
    assert included.loc["good", "spearman"] > included.loc["weak", "spearman"] > included.loc["noise", "spearman"]
    lo, hi = included.loc["noise", "spearman_ci"]
    assert lo < 0 < hi
    assert "synthetic" in included.loc["good", "target"]


def test_degenerate_choice_and_errors(results: pd.DataFrame, accuracy: pd.Series) -> None:
    only = correlate(results, accuracy, degenerate="excluded", n_boot=50).to_frame()
    assert not only["degenerate_included"].any() and (only["n_degenerate"] == 0).all()
    with pytest.raises(ValueError, match="degenerate"):
        correlate(results, accuracy, degenerate="sometimes")
    with pytest.raises(ValueError, match="lack column"):
        correlate(results.drop(columns="score"), accuracy)
    with pytest.raises(ValueError, match="no results"):
        correlate(results.iloc[:0], accuracy)


def test_missing_ground_truth_is_a_clear_error_or_a_note(results: pd.DataFrame, accuracy: pd.Series) -> None:
    def none(space: str, dataset: str) -> pd.Series:
        raise DataMissing(f"no ground truth for {space} {dataset}: put the benchmark file under --data")

    with pytest.raises(DataMissing, match="no ground truth for toy cifar10"):
        correlate(results, none, n_boot=50)
    other = results.assign(dataset="cifar100")
    both = pd.concat([results, other])

    def only_cifar10(space: str, dataset: str) -> pd.Series:
        return accuracy if dataset == "cifar10" else none(space, dataset)

    table = correlate(both, only_cifar10, n_boot=50)
    assert set(table.table["dataset"]) == {"cifar10"}
    assert any("cifar100" in note for note in table.notes)


def test_compare_and_correlate_note_missing_and_partial_ground_truth_once(
    results: pd.DataFrame, accuracy: pd.Series
) -> None:
    partial = accuracy.copy()
    partial.attrs["note"] = "ground truth covers 390 of 400 cells"
    other = results.assign(dataset="cifar100")
    gaussian = results.assign(data="gaussian")  # a second mode on the same space and dataset

    def cifar10_only(space: str, dataset: str) -> pd.Series:
        if dataset != "cifar10":
            raise DataMissing(f"no ground truth for {space} {dataset}")
        return partial

    every = pd.concat([results, gaussian, other, other.assign(data="gaussian")])
    for analysis in (correlate, compare):
        notes = analysis(every, cifar10_only, n_boot=20).notes
        assert notes.count("toy cifar10: ground truth covers 390 of 400 cells") == 1, analysis
        assert notes.count("toy cifar100: skipped, no ground truth for toy cifar100") == 1, analysis


def test_lower_is_better_proxy_is_reported_signed_and_ranked_negated(
    results: pd.DataFrame, accuracy: pd.Series, monkeypatch: pytest.MonkeyPatch
) -> None:
    flipped = results.copy()
    flipped.loc[flipped["proxy"] == "good", "score"] *= -1  # a "condition number": lower is better
    baseline = correlate(results, accuracy, degenerate="included", n_boot=50).table.set_index("proxy")
    monkeypatch.setattr(frames, "higher_is_better", lambda name: name != "good")
    table = correlate(flipped, accuracy, degenerate="included", n_boot=50).table.set_index("proxy")
    assert not table.loc["good", "higher_is_better"]
    assert table.loc["good", "spearman"] == pytest.approx(-baseline.loc["good", "spearman"])  # raw, signed
    for metric in ("precision@5%", "ndcg@10", "best_rank@10"):  # the proxy still finds the same cells
        assert table.loc["good", metric] == pytest.approx(baseline.loc["good", metric])


def test_duplicate_rows_keep_the_last(accuracy: pd.Series) -> None:
    base = synthetic_results(accuracy, {"p": 0.5}, cells=range(50))
    rerun = base.assign(score=-base["score"])  # same keys, later rows
    table = correlate(pd.concat([base, rerun]), accuracy, degenerate="included", n_boot=20).table
    assert table["n"].iloc[0] == 50
    expected = correlate(rerun, accuracy, degenerate="included", n_boot=20).table["spearman"].iloc[0]
    assert table["spearman"].iloc[0] == pytest.approx(expected)


def test_rank_ensemble_by_hand() -> None:
    scores = pd.DataFrame({"a": [1.0, 2, 3, np.nan], "b": [30.0, 10, 20, 5]}, index=[7, 8, 9, 10])
    out = rank_ensemble(scores, {"a": True, "b": True})
    # harness.ranking's one rule: the missing score ranks last and the cell stays (N = 4);
    # ranks (1 = worst, 4 = best): a -> 2, 3, 4, 1; b -> 4, 2, 3, 1
    expected = np.log([2 / 4, 3 / 4, 4 / 4, 1 / 4]) + np.log([4 / 4, 2 / 4, 3 / 4, 1 / 4])
    assert out.index.tolist() == [7, 8, 9, 10]
    assert out.to_numpy() == pytest.approx(expected)
    assert out.name == "ensemble(a+b)"
    flipped = rank_ensemble(scores.assign(b=-scores["b"]), {"a": True, "b": False})
    assert flipped.to_numpy() == pytest.approx(expected)  # direction handled: lower-is-better negated
    assert out.idxmax() == 9  # best under both proxies combined


def test_compare_ranks_with_paired_intervals(results: pd.DataFrame, accuracy: pd.Series) -> None:
    out = compare(results, accuracy, ensembles=[("good", "weak")], n_boot=N_BOOT)
    ranking = out.to_frame()
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    assert ranking["proxy"].iloc[-1] == "noise"
    assert set(ranking["proxy"]) == {"good", "weak", "noise", "ensemble(good+weak)"}
    assert ranking["n"].nunique() == 1  # all on the same cells
    assert ranking["oriented_spearman"].is_monotonic_decreasing
    best = ranking.iloc[0]
    assert best["delta_vs_best"] == 0
    noise = ranking.set_index("proxy").loc["noise"]
    assert noise["delta_ci"][0] > 0  # clearly worse than the best, paired
    pairs = out.to_frame("pairwise")
    assert len(pairs) == 4 * 3
    ab = pairs[(pairs["proxy_a"] == "good") & (pairs["proxy_b"] == "weak")].iloc[0]
    ba = pairs[(pairs["proxy_a"] == "weak") & (pairs["proxy_b"] == "good")].iloc[0]
    assert ab["delta"] == pytest.approx(-ba["delta"])
    assert ab["delta_ci"][0] == pytest.approx(-ba["delta_ci"][1])
    with pytest.raises(ValueError, match="not in the results"):
        compare(results, accuracy, proxies=["missing"])


def test_degenerate_cells_come_from_status_and_from_the_space() -> None:
    from harness.spaces import get_space

    space = get_space("nb201")
    accuracy = synthetic_accuracy(200, seed=1)
    results = synthetic_results(accuracy, {"p": 0.5}, space="nb201", degenerate=[0])  # cell 0 flagged by status
    prepared = frames.prepare(results)
    expected = {0} | {i for i in range(200) if space.is_degenerate(i)}  # e.g. cell 10: "none" into the output
    assert 10 in expected
    assert frames.degenerate_cells(prepared) == expected
    assert prepared.loc[prepared["index"] == 10, "status"].iloc[0] == "ok"  # the status alone would miss it


def test_a_prepared_frame_is_taken_as_it_is_and_analyses_agree(accuracy: pd.Series) -> None:
    """The report prepares once and hands the prepared frame to every analysis: same results as the raw frame."""
    results = synthetic_results(accuracy, {"a": 0.5, "b": 0.2}, degenerate=[3], failed_fraction=0.05, seed=2)
    prepared = frames.prepare(results)
    again = frames.prepare(prepared)
    assert again is not prepared
    pd.testing.assert_frame_equal(again, prepared)
    raw = correlate(results, accuracy, n_boot=30)
    pd.testing.assert_frame_equal(correlate(prepared, accuracy, n_boot=30).table, raw.table)
    assert not frames.prepare(results.copy()).empty and "usable" not in results.columns  # the input is untouched


def test_a_proxy_without_any_usable_score_is_reported_not_dropped(accuracy: pd.Series) -> None:
    frame = synthetic_results(accuracy, {"ok": 0.5, "broken": 0.5}, cells=range(30))
    frame.loc[frame["proxy"] == "broken", ["score", "status"]] = [np.nan, "error: RuntimeError: boom"]
    table = correlate(frame, accuracy, degenerate="included", n_boot=20).table.set_index("proxy")
    assert table.loc["broken", "n"] == 0 and table.loc["broken", "n_unscored"] == 30
    assert np.isnan(table.loc["broken", "spearman"]) and table.loc["ok", "n"] == 30


def test_one_result_type_for_every_analysis(results: pd.DataFrame, accuracy: pd.Series) -> None:
    """correlate, compare, agnosticism and score_agreement return the same kind of object: table, notes, target
    provenance and method in fields (not in DataFrame.attrs, which filtering drops)."""
    from harness.analysis import agnosticism, score_agreement

    swapped = synthetic_results(accuracy, {"good": 0.8}, modes={("real", "random"): 0.9}, space="toy", seed=4)
    found = [
        correlate(results, accuracy, n_boot=20),
        compare(results, accuracy, n_boot=20),
        agnosticism(swapped, accuracy, n_boot=20),
        score_agreement(results, n_boot=20),
    ]
    for result in found:
        assert type(result) is AnalysisResult and not result.table.attrs
        frame = result.to_frame()
        assert frame.equals(result.table) and frame is not result.table and len(result) == len(frame) > 0
        assert result.footer()[-1] == result.method[-1] and "resamples" in result.method[-1]
    assert found[0].targets == found[1].targets == found[2].targets == (describe(accuracy),)
    assert list(found[1].tables) == ["pairwise", "seeds", "seeds_pairwise"] and not found[1].to_frame("pairwise").empty
    assert list(found[0].tables) == ["seeds"] and found[0].to_frame("seeds")["n_seeds"].eq(1).all()
    with pytest.raises(KeyError, match="no table 'ranking'"):
        found[0].to_frame("ranking")
    rows = found[0].records()  # JSON-ready, as ``--json`` prints them
    json.dumps(rows, allow_nan=False)
    assert len(rows) == len(found[0]) and isinstance(rows[0]["spearman_ci"], list)
    assert type(rows[0]["n"]) is int and type(rows[0]["degenerate_included"]) is bool
    assert found[1].records("pairwise") and found[1].records("pairwise")[0].keys() == set(found[1].tables["pairwise"])


def test_rows_are_ordered_by_oriented_rho_within_each_block(
    results: pd.DataFrame, accuracy: pd.Series, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = correlate(results, accuracy, n_boot=20).table
    for _, block in table.groupby("degenerate_included", sort=False):
        assert list(block["proxy"]) == ["good", "weak", "noise"]
    assert list(table["degenerate_included"]) == sorted(table["degenerate_included"], reverse=True)  # blocks kept
    flipped = results.copy()
    flipped.loc[flipped["proxy"] == "good", "score"] *= -1  # lower is better: its negative rho still ranks it first
    monkeypatch.setattr(frames, "higher_is_better", lambda name: name != "good")
    table = correlate(flipped, accuracy, degenerate="included", n_boot=20).table
    assert list(table["proxy"]) == ["good", "weak", "noise"] and table["spearman"].iloc[0] < 0
