"""Agnosticism on synthetic stores whose answer is known: identical, near-identical and unrelated modes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import Thresholds, agnosticism, claim
from harness.analysis.synthetic import latent_kendall, synthetic_accuracy, synthetic_results
from harness.errors import DataMissing

N_BOOT = 200


@pytest.fixture(scope="module")
def accuracy() -> pd.Series:
    return synthetic_accuracy(500, seed=5)


@pytest.fixture(scope="module")
def results(accuracy: pd.Series) -> pd.DataFrame:
    modes = {("real", "random"): 0.995, ("gaussian", "true"): 0.0, ("gaussian", "random"): 0.85}
    frame = synthetic_results(accuracy, {"p": 0.6, "q": 0.4}, modes=modes, space="toy", seed=2)
    # "params" ignores data and labels: identical scores in every mode
    base = frame[(frame["proxy"] == "p") & (frame["data"] == "real") & (frame["labels"] == "true")]
    same = [base.assign(proxy="params", data=d, labels=lab) for d, lab in [("real", "true"), *modes]]
    return pd.concat([frame, *same], ignore_index=True)


def test_thresholds_verdicts() -> None:
    t = Thresholds()
    assert (t.holds, t.fails) == (0.8, 0.5)
    assert t.verdict(0.85, 0.95) == "holds"
    assert t.verdict(0.1, 0.4) == "fails"
    assert t.verdict(0.55, 0.75) == "partial"
    assert t.verdict(0.7, 0.9) == "inconclusive"
    assert t.verdict(0.4, 0.6) == "inconclusive"
    assert t.verdict(np.nan, np.nan) == "undetermined"
    assert "0.80" in t.describe() and "0.50" in t.describe()
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(holds=0.3, fails=0.6)


def test_claims() -> None:
    assert claim("real", "random") == "label-agnostic"
    assert claim("gaussian", "true") == "data-agnostic"
    assert claim("other:cifar100", "true") == "data-agnostic"
    assert claim("uniform", "shuffled") == "data- and label-agnostic"


def test_known_answers(results: pd.DataFrame, accuracy: pd.Series) -> None:
    found = agnosticism(results, accuracy, n_boot=N_BOOT)
    assert found.method[0].startswith("verdict on Kendall tau") and found.targets
    table = found.to_frame()
    assert len(table) == 3 * 3  # proxies x swapped modes
    row = table.set_index(["proxy", "data", "labels"])
    identical = row.loc[("params", "gaussian", "true")]
    assert identical["kendall"] == pytest.approx(1.0) and identical["pearson"] == pytest.approx(1.0)
    assert identical["verdict"] == "holds" and identical["overlap@1%"] == pytest.approx(1.0)
    near = row.loc[("p", "real", "random")]  # latent agreement 0.995: tau = 2/pi asin(0.995) = 0.94
    assert near["kendall"] == pytest.approx(latent_kendall(0.995), abs=0.03)
    assert near["verdict"] == "holds"
    assert near["verdict_text"].startswith("label-agnostic: holds, τ = 0.9")
    unrelated = row.loc[("q", "gaussian", "true")]  # fresh noise: no agreement at all
    assert abs(unrelated["kendall"]) < 0.1 and unrelated["verdict"] == "fails"
    assert unrelated["claim"] == "data-agnostic"
    assert unrelated["spearman_acc_swap"] == pytest.approx(0, abs=0.15)  # swapped scores lost the signal
    assert unrelated["delta_acc_ci"][1] < 0  # and the loss is clear, paired against the reference
    middle = row.loc[("p", "gaussian", "random")]  # latent 0.85: tau = 0.64, between the thresholds
    assert middle["kendall"] == pytest.approx(latent_kendall(0.85), abs=0.05)
    assert middle["verdict"] == "partial"
    assert middle["claim"] == "data- and label-agnostic"
    for r in table.itertuples():
        assert r.kendall_ci[0] <= r.kendall <= r.kendall_ci[1]


def test_without_ground_truth_agreement_is_still_computed(results: pd.DataFrame) -> None:
    plain = agnosticism(results, None, n_boot=50).table
    assert plain["spearman_acc_ref"].isna().all() and plain["kendall"].notna().all()

    def missing(space: str, dataset: str) -> pd.Series:
        raise DataMissing("no ground truth here")

    noted = agnosticism(results, missing, n_boot=50)
    assert noted.table["kendall"].notna().all()
    assert any("no ground truth here" in n for n in noted.notes)


def test_no_reference_or_no_swapped_mode(results: pd.DataFrame) -> None:
    reference_only = results[(results["data"] == "real") & (results["labels"] == "true")]
    assert agnosticism(reference_only, None, n_boot=20).empty
    swapped_only = results[results["labels"] == "random"]
    table = agnosticism(swapped_only, None, n_boot=20)
    assert table.empty and any("no reference" in n for n in table.notes)
    custom = agnosticism(results, None, reference=("gaussian", "true"), n_boot=20).table
    assert set(zip(custom["data"], custom["labels"])) == {("real", "true"), ("real", "random"), ("gaussian", "random")}
