"""Agnosticism on synthetic stores whose answer is known: the seed floor, the verdict, and sample-and-pick."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis import Thresholds, agnosticism, claim, decisions
from harness.analysis.agnostic import BEYOND, WITHIN, transfer_picks
from harness.analysis.synthetic import latent_kendall, synthetic_accuracy, synthetic_results
from harness.errors import DataMissing

N_BOOT = 200
CELLS = 400
SIGMA = 0.6  # seed noise of the synthetic proxies


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


def seeded_results(seeds: tuple[int, ...] = (0, 1, 2), cells: int = CELLS) -> pd.DataFrame:
    """Scores under several seeds: each proxy = a fixed signal + fresh seed noise (SIGMA) per seed.

    Under the swapped mode real/random, "same" gets fresh noise of the seed's size (the swap moves it as much
    as a new seed does), "worse" three times that, and "params" none at all (identical in every seed and mode).
    """
    rng = np.random.default_rng(11)
    signal = rng.standard_normal(cells)
    rows = []

    def add(proxy: str, data: str, labels: str, seed: int, score: np.ndarray) -> None:
        rows.append(
            pd.DataFrame(
                {
                    "space": "toy",
                    "index": np.arange(cells),
                    "proxy": proxy,
                    "dataset": "cifar10",
                    "data": data,
                    "labels": labels,
                    "batch_size": 64,
                    "seed": seed,
                    "score": score,
                    "status": "ok",
                }
            )  # fmt: skip
        )

    for seed in seeds:
        ref = signal + SIGMA * rng.standard_normal(cells)
        add("same", "real", "true", seed, ref)
        add("same", "real", "random", seed, signal + SIGMA * rng.standard_normal(cells))
        ref = signal + SIGMA * rng.standard_normal(cells)
        add("worse", "real", "true", seed, ref)
        add("worse", "real", "random", seed, signal + 3 * SIGMA * rng.standard_normal(cells))
        add("params", "real", "true", seed, signal)
        add("params", "real", "random", seed, signal)
    return pd.concat(rows, ignore_index=True)


def test_thresholds_are_only_a_secondary_line() -> None:
    t = Thresholds()
    assert (t.holds, t.fails) == (0.8, 0.5)
    assert t.verdict(0.85, 0.95) == "holds"
    assert t.verdict(0.1, 0.4) == "fails"
    assert t.verdict(0.55, 0.75) == "partial"
    assert t.verdict(0.7, 0.9) == "inconclusive"
    assert t.verdict(np.nan, np.nan) == "undetermined"
    assert "secondary" in t.describe() and "0.80" in t.describe()
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(holds=0.3, fails=0.6)


def test_claims() -> None:
    assert claim("real", "random") == "label-agnostic"
    assert claim("gaussian", "true") == "data-agnostic"
    assert claim("other:cifar100", "true") == "data-agnostic"
    assert claim("uniform", "shuffled") == "data- and label-agnostic"


def test_verdict_against_the_seed_floor() -> None:
    found = agnosticism(seeded_results(), None, n_boot=N_BOOT)
    assert found.method[0].startswith("verdict against the seed floor")
    row = found.table.set_index("proxy")
    same, worse, params = row.loc["same"], row.loc["worse"], row.loc["params"]
    for r in (same, worse, params):
        assert r["seeds"] == [0, 1, 2] and r["floor_seeds"] == [0, 1, 2] and r["floor_pairs"] == 3
        assert r["floor_n"] == CELLS and r["seed"] == -1
    # swap noise equal to seed noise: tau(ref, swap) ~ the floor, and the difference's interval holds 0
    assert same["kendall"] == pytest.approx(same["floor_kendall"], abs=0.05)
    assert same["verdict"] == WITHIN and same["delta_kendall_ci"][0] <= 0 <= same["delta_kendall_ci"][1]
    assert "within seed noise" in same["verdict_text"] and "seed floor τ = " in same["verdict_text"]
    # three times the seed noise: clearly below the floor, and the size is reported
    assert worse["verdict"] == BEYOND and worse["delta_kendall_ci"][1] < 0
    assert worse["delta_kendall"] < -0.15 and f"Δτ = {worse['delta_kendall']:+.2f}" in worse["verdict_text"]
    assert not worse["deterministic"]
    # no seed dependence at all: floor 1, said so, and an identical swap is within
    assert params["deterministic"] and params["floor_kendall"] == 1.0 and params["floor_kendall_ci"] == (1.0, 1.0)
    assert params["verdict"] == WITHIN and "seed floor 1 (scores identical across seeds)" in params["verdict_text"]
    assert params["floor_spearman"] == 1.0 and params["kendall"] == pytest.approx(1.0)


def test_floor_seeds_without_swapped_mode_and_partial_seeds() -> None:
    """A reference-only seed still counts for the floor; a seed covering few cells is left out of it."""
    frame = seeded_results((0, 1, 2, 3))
    frame = frame[~((frame["seed"] == 2) & (frame["labels"] == "random"))]  # seed 2: reference only
    frame = frame[~((frame["seed"] == 3) & (frame["index"] >= 10))]  # seed 3: 10 cells
    found = agnosticism(frame, None, n_boot=50)
    row = found.table.set_index("proxy").loc["same"]
    assert row["seeds"] == [0, 1] and row["floor_seeds"] == [0, 1, 2] and row["floor_n"] == CELLS
    assert row["floor_pairs"] == 3
    left_out = [n for n in found.notes if "left out of the seed floor" in n]
    assert len(left_out) == 1 and left_out[0].startswith("toy cifar10: reference seed(s) 3 left out of the seed floor")
    assert "same" in left_out[0] and "worse" in left_out[0]


def test_one_seed_has_no_floor_and_says_so(results: pd.DataFrame) -> None:
    table = agnosticism(results, None, n_boot=50).table
    assert (table["verdict"] == "no seed floor (1 seed)").all()
    assert table["kendall"].notna().all() and table["floor_kendall"].isna().all()
    assert all(t.startswith(f"{c}: no seed floor (1 seed), τ(ref, swap) = ") for c, t in
               zip(table["claim"], table["verdict_text"]))  # fmt: skip
    assert "line_verdict" not in table.columns  # the fixed lines are off by default


def test_known_answers(results: pd.DataFrame, accuracy: pd.Series) -> None:
    found = agnosticism(results, accuracy, n_boot=N_BOOT, thresholds=Thresholds())
    assert found.targets and any(m.startswith("secondary line") for m in found.method)
    table = found.to_frame()
    assert len(table) == 3 * 3  # proxies x swapped modes
    row = table.set_index(["proxy", "data", "labels"])
    identical = row.loc[("params", "gaussian", "true")]
    assert identical["kendall"] == pytest.approx(1.0) and identical["pearson"] == pytest.approx(1.0)
    assert identical["line_verdict"] == "holds" and identical["overlap@1%"] == pytest.approx(1.0)
    assert identical["same_pick@10"] == pytest.approx(1.0) and identical["regret@100"] == pytest.approx(0.0)
    near = row.loc[("p", "real", "random")]  # latent agreement 0.995: tau = 2/pi asin(0.995) = 0.94
    assert near["kendall"] == pytest.approx(latent_kendall(0.995), abs=0.03)
    assert near["line_verdict"] == "holds"
    unrelated = row.loc[("q", "gaussian", "true")]  # fresh noise: no agreement at all
    assert abs(unrelated["kendall"]) < 0.1 and unrelated["line_verdict"] == "fails"
    assert unrelated["claim"] == "data-agnostic"
    assert unrelated["spearman_acc_swap"] == pytest.approx(0, abs=0.15)  # swapped scores lost the signal
    assert unrelated["delta_acc_ci"][1] < 0  # and the loss is clear, paired against the reference
    # a pick by unrelated scores is a random cell's accuracy; the reference's is better, so regret > 0
    assert unrelated["regret@100"] > 0 and unrelated["pick@100"] == pytest.approx(accuracy.mean(), abs=1.5)
    assert "pick@1000" not in table.columns  # 500 cells: a sample of 1,000 is not a sample
    middle = row.loc[("p", "gaussian", "random")]
    assert middle["kendall"] == pytest.approx(latent_kendall(0.85), abs=0.05)
    assert middle["line_verdict"] == "partial"
    for r in table.itertuples():
        assert r.kendall_ci[0] <= r.kendall <= r.kendall_ci[1]


def brute_force_picks(ref: np.ndarray, swap: np.ndarray, acc: np.ndarray, idx: np.ndarray) -> dict:
    """The same quantities by an explicit loop over the draws and the cells of each draw."""
    picks_ref, picks_swap, same = [], [], []
    for sample in idx:
        best_ref = max(ref[c] for c in sample)
        best_swap = max(swap[c] for c in sample)
        tied_ref = [c for c in sample if ref[c] == best_ref]
        tied_swap = [c for c in sample if swap[c] == best_swap]
        picks_ref.append(sum(acc[c] for c in tied_ref) / len(tied_ref))
        picks_swap.append(sum(acc[c] for c in tied_swap) / len(tied_swap))
        same.append(sum(1 for a in tied_ref for b in tied_swap if a == b) / (len(tied_ref) * len(tied_swap)))
    return {"ref": np.array(picks_ref), "swap": np.array(picks_swap), "same": np.array(same)}


def test_sample_and_pick_matches_brute_force() -> None:
    acc = np.array([70.0, 91, 85, 60, 93, 88, 75, 90, 80, 65, 94, 72])
    ref = np.array([1.0, 5, 4, 0, 6, 5, 2, 7, 3, 1, 9, 2])  # ties at 5, 2 and 1
    swap = np.array([2.0, 6, 3, 1, 2, 5, 6, 7, 3, 1, 8, 0])  # ties at 6, 3, 2 and 1
    draws = 300
    found = decisions.sample_and_pick(ref, swap, acc, (3, 5, 12), draws=draws, seed=4)
    assert "pick@12" not in found  # N = pool size is left out
    for size in (3, 5):
        idx = decisions.samples(acc.size, size, draws, 4)
        assert all(len(set(row)) == size for row in idx)  # without replacement
        brute = brute_force_picks(ref, swap, acc, idx)
        assert found[f"same_pick@{size}"] == pytest.approx(brute["same"].mean())
        lo, hi = found[f"pick@{size}_spread"]
        assert lo == pytest.approx(np.percentile(brute["swap"], 2.5)) and hi == pytest.approx(
            np.percentile(brute["swap"], 97.5)
        )
        # the picks are the exact expectation over every sample of that size; the draws' share of same picks is
        # close to it, and so is their mean pick
        exact = brute_force_picks(ref, swap, acc, np.array(list(itertools.combinations(range(acc.size), size))))
        assert found[f"pick@{size}_ref"] == pytest.approx(exact["ref"].mean())
        assert found[f"pick@{size}"] == pytest.approx(exact["swap"].mean())
        assert found[f"regret@{size}"] == pytest.approx((exact["ref"] - exact["swap"]).mean())
        assert found[f"same_pick@{size}"] == pytest.approx(exact["same"].mean(), abs=0.08)
        assert brute["ref"].mean() == pytest.approx(exact["ref"].mean(), abs=1.0)
        # the closed form the cell bootstrap uses is that exact expectation
        assert decisions.expected_pick(ref, acc, size)[0] == pytest.approx(exact["ref"].mean())
        assert decisions.expected_pick(swap, acc, size)[0] == pytest.approx(exact["swap"].mean())
        assert found[f"pick@{size}_ref_ci"][0] <= found[f"pick@{size}_ref"] <= found[f"pick@{size}_ref_ci"][1]


def test_expected_pick_on_a_resampled_pool_is_the_multiset_expectation() -> None:
    """A bootstrap resample repeats cells: the closed form with counts equals enumerating the repeated pool."""
    acc = np.array([70.0, 91, 85, 60, 93, 88, 75])
    scores = np.array([1.0, 5, 4, 0, 5, 6, 2])
    counts = np.array([[2, 0], [0, 1], [1, 3], [0, 0], [3, 1], [0, 2], [1, 0]], dtype=float)  # columns sum to 7
    got = decisions.expected_pick(scores, acc, 3, counts)
    for b in range(counts.shape[1]):
        pool = np.repeat(np.arange(acc.size), counts[:, b].astype(int))
        picks = []
        for sample in itertools.combinations(range(pool.size), 3):
            cells = pool[list(sample)]
            best = scores[cells].max()
            picks.append(acc[cells[scores[cells] == best]].mean())
        assert got[b] == pytest.approx(np.mean(picks))


def test_pooled_picks_draw_from_every_seed() -> None:
    acc = np.arange(20.0)
    pools = [(acc, acc, acc), (acc, -acc, acc)]  # a swap that agrees, one that reverses the order
    found = decisions.pooled_picks(pools, (5,), draws=100)
    assert found["pick@5_ref"] == pytest.approx(decisions.sample_and_pick(acc, acc, acc, (5,), draws=100)["pick@5"])
    assert found["pick@5_ref_ci"] == pytest.approx(
        decisions.sample_and_pick(acc, acc, acc, (5,), draws=100)["pick@5_ci"]
    )
    assert found["same_pick@5"] == pytest.approx(0.5)


def test_transfer_picks_judge_one_score_by_other_datasets() -> None:
    scores = pd.Series(np.arange(50.0))
    accuracies = {"cifar100": pd.Series(np.arange(50.0)), "ImageNet16-120": pd.Series(-np.arange(50.0))}
    table = transfer_picks(scores, accuracies, sizes=(10,), draws=200).set_index("dataset")
    assert table.loc["cifar100", "regret@10"] == pytest.approx(0)  # same order: the pick is the sample's best
    assert table.loc["ImageNet16-120", "regret@10"] > 0 and table.loc["ImageNet16-120", "n"] == 50


def test_transfer_fields_in_rows(results: pd.DataFrame, accuracy: pd.Series) -> None:
    other = accuracy.rename("cifar100")

    def target(space: str, dataset: str) -> pd.Series:
        if dataset == "ImageNet16-120":
            raise DataMissing("not here")
        return accuracy if dataset == "cifar10" else other

    found = agnosticism(results, target, n_boot=20, transfer=("cifar100", "ImageNet16-120"))
    table = found.table
    assert {"cifar100:pick@10", "cifar100:pick@10_ref", "cifar100:regret@100"} <= set(table.columns)
    assert np.allclose(table["cifar100:pick@10"], table["pick@10"])  # same accuracy, same picks
    assert any("ImageNet16-120" in n and "not here" in n for n in found.notes)


def test_without_ground_truth_agreement_is_still_computed(results: pd.DataFrame) -> None:
    plain = agnosticism(results, None, n_boot=50).table
    assert plain["spearman_acc_ref"].isna().all() and plain["kendall"].notna().all()
    assert not any(c.startswith("pick@") for c in plain.columns)

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


def test_json_fields(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from harness.cli import main

    frame = seeded_results((0, 1)).assign(space="nb201", arch="", study="s")
    frame["index"] = frame["index"] * 30  # real nb201 cells, so the synthetic ground truth below lines up
    path = tmp_path / "seeds.csv"
    frame.to_csv(path, index=False)
    argv = ["agnostic", str(path), "--no-accuracy", "--bootstrap", "20", "--json", "--line", "0.8,0.5"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    fields = {"seeds", "kendall", "kendall_ci", "floor_kendall", "floor_kendall_ci", "floor_spearman", "floor_n",
              "delta_kendall", "delta_kendall_ci", "deterministic", "verdict", "verdict_text", "line_verdict",
              "overlap@1%", "overlap@5%"}  # fmt: skip
    assert all(fields <= r.keys() for r in rows) and {r["proxy"] for r in rows} == {"same", "worse", "params"}
    assert all(r["seeds"] == [0, 1] and len(r["floor_kendall_ci"]) == 2 for r in rows)
    assert {r["proxy"]: r["verdict"] for r in rows}["worse"] == BEYOND


def test_cli_picks_and_transfer_on_reference_ground_truth(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--picks and --transfer with the benchmark's accuracy: CIFAR-10 picks judged on CIFAR-100 and ImageNet16-120."""
    from harness.cli import main

    frame = seeded_results((0, 1), cells=300).assign(space="nb201", arch="", study="s")
    frame["index"] = frame["index"] * 50  # nb201 cells spread over the space
    path = tmp_path / "seeds.csv"
    frame.to_csv(path, index=False)
    argv = ["agnostic", str(path), "--data-dir", str(shared_data), "--bootstrap", "20", "--json", "--picks", "10,50"]
    assert main([*argv, "--transfer"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for name in ("", "cifar100:", "ImageNet16-120:"):
        for field in ("pick@10", "pick@10_ref", "pick@10_ci", "regret@50", "regret@50_ci", "same_pick@50"):
            assert all(f"{name}{field}" in r for r in rows), name + field
    params = next(r for r in rows if r["proxy"] == "params")  # identical scores: identical picks everywhere
    assert params["same_pick@10"] == 1.0 and params["cifar100:regret@50"] == 0.0
    assert not any(k.startswith("pick@100") for k in params)
