"""Proxy-proxy agreement: oriented correlations on the cells both proxies scored, against scipy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.analysis import agreement_matrix, bootstrap_correlations, percentile_interval, score_agreement
from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    accuracy = synthetic_accuracy(200, seed=3)
    frame = synthetic_results(accuracy, {"nasi": 0.7, "snip": 0.5, "ntk_cond": 0.6}, failed_fraction=0.05, seed=1)
    return frame


def _wide(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    return ok.pivot(index="index", columns="proxy", values="score")


def test_matches_scipy_on_common_cells_with_orientation(results):
    found = score_agreement(results, proxies=["nasi", "ntk_cond", "snip"], n_boot=200)
    table = found.table
    pairs = [("nasi", "ntk_cond"), ("nasi", "snip"), ("ntk_cond", "snip")]
    assert list(zip(table["proxy_a"], table["proxy_b"])) == pairs
    wide = _wide(results)
    for row in table.itertuples():
        pair = wide[[row.proxy_a, row.proxy_b]].dropna()
        sign = -1.0 if "ntk_cond" in (row.proxy_a, row.proxy_b) else 1.0  # ntk_cond: lower is better
        x, y = pair[row.proxy_a].to_numpy(), pair[row.proxy_b].to_numpy()
        assert row.n == len(pair) < 200  # failed rows are left out pair by pair
        assert row.spearman == pytest.approx(sign * stats.spearmanr(x, y)[0], abs=1e-12)
        assert row.kendall == pytest.approx(sign * stats.kendalltau(x, y)[0], abs=1e-12)
        assert row.pearson == pytest.approx(sign * stats.pearsonr(x, y)[0], abs=1e-12)
        lo, hi = row.spearman_ci
        assert lo <= row.spearman <= hi
        # pairs sharing their cells are bootstrapped together: the same interval as the pair on its own
        alone = bootstrap_correlations(sign * x, y, methods=("kendall",), n_boot=200, seed=0)["kendall"][0]
        assert row.kendall_ci == pytest.approx(percentile_interval(alone), abs=1e-12)
    assert "200 resamples" in found.method[0] and found.targets == ()  # no accuracy involved


def test_identical_and_opposite_proxies_and_matrix():
    cells = np.arange(50)
    scores = np.random.default_rng(0).normal(size=50)
    rows = []
    for proxy, values in (("nasi", scores), ("grad_norm", 2 * scores + 1), ("ntk_cond", scores)):
        rows.append(pd.DataFrame({"index": cells, "proxy": proxy, "score": values, "status": "ok"}))
    setting = dict(space="nb201", dataset="cifar10", data="real", labels="true", batch_size=64, seed=0)
    frame = pd.concat(rows, ignore_index=True).assign(**setting)
    table = score_agreement(frame, n_boot=0).table.set_index(["proxy_a", "proxy_b"])
    assert table.loc[("grad_norm", "nasi"), "kendall"] == pytest.approx(1.0)
    assert table.loc[("nasi", "ntk_cond"), "spearman"] == pytest.approx(-1.0)  # same raw scores, opposite preference
    assert np.isnan(table.loc[("nasi", "ntk_cond"), "spearman_ci"][0])  # no bootstrap asked for
    matrix = agreement_matrix(table.reset_index(), "spearman")
    assert (np.diag(matrix) == 1).all() and np.allclose(matrix, matrix.T)
    assert matrix.loc["ntk_cond", "grad_norm"] == pytest.approx(-1.0)


def test_bad_requests(results):
    with pytest.raises(ValueError, match="not in the results"):
        score_agreement(results, proxies=["nasi", "zen"])
    with pytest.raises(ValueError, match="at least two proxies"):
        score_agreement(results, proxies=["nasi"])


def test_cli_agreement_json_and_one_line_errors(results, tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    write_store(str(store), results)
    capsys.readouterr()
    assert main(["compare", str(store), "--agreement", "--bootstrap", "50", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["agreement"]) == 3 and len(payload["agreement"][0]["spearman_ci"]) == 2
    assert main(["compare", str(store), "--agreement", "--bootstrap", "50"]) == 0
    assert "proxy a" in capsys.readouterr().out
    assert main(["compare", str(store), "--agreement", "--proxies", "nasi,zen"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
