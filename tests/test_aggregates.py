"""Pool aggregates: the papers' rank scores against hand-computed ranks on small pools (ties, a missing
component, a NaN component), user rank ensembles, the legacy-name map, and the aggregates seen as proxies by
correlate / compare / agnostic / report / search sample."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.aggregates import (
    Aggregate,
    get_aggregate,
    log_rank_sum,
    parse_aggregate,
    register_aggregate,
    unregister_aggregate,
)
from harness.analysis.aggregates import add_aggregates, pool_notes, resolve
from harness.analysis.inputs import load_scores
from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main
from harness.store.legacy import LEGACY_PROXY_NAMES

log = math.log
AZ = ("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "az_nas_complexity")


def _long(table: dict[str, list[float | None]], cells: list[int], study: str = "s") -> pd.DataFrame:
    """Score rows (one per cell x proxy) from columns of values; None = no row at all, NaN = a failed row."""
    rows = []
    for proxy, values in table.items():
        for cell, value in zip(cells, values):
            if value is None:
                continue
            failed = isinstance(value, float) and math.isnan(value)
            rows.append({"study": study, "space": "nb201", "index": cell, "proxy": proxy, "dataset": "cifar10",
                         "data": "real", "labels": "true", "batch_size": 64, "seed": 0,
                         "score": value, "status": "nan" if failed else "ok"})  # fmt: skip
    return pd.DataFrame(rows)


def _values(frame: pd.DataFrame, name: str) -> dict[int, float]:
    rows = frame[frame["proxy"] == name]
    return dict(zip(rows["index"].astype(int), rows["score"].astype(float)))


# ---------------------------------------------------------------- the papers' aggregates, by hand


def test_az_nas_by_hand_with_ties_a_nan_and_a_missing_row() -> None:
    """N = 4. expressivity ties cells 11, 12 (rank 2.5 each); trainability failed on 11 (NaN row) and has no row
    for 13: both rank below the scored cells, tied (1.5); complexity is equal everywhere (2.5 each)."""
    cells = [10, 11, 12, 13]
    frame = _long({"az_nas_expressivity": [1.0, 2.0, 2.0, 3.0], "az_nas_progressivity": [0.5, 0.1, 0.3, 0.2],
                   "az_nas_trainability": [-1.0, float("nan"), -3.0, None],
                   "az_nas_complexity": [10.0, 10.0, 10.0, 10.0]}, cells)  # fmt: skip
    got = _values(add_aggregates(frame), "az_nas")
    expected = {
        10: log(1 / 4) + log(4 / 4) + log(4 / 4) + log(2.5 / 4),
        11: log(2.5 / 4) + log(1 / 4) + log(1.5 / 4) + log(2.5 / 4),
        12: log(2.5 / 4) + log(3 / 4) + log(3 / 4) + log(2.5 / 4),
        13: log(4 / 4) + log(2 / 4) + log(1.5 / 4) + log(2.5 / 4),
    }
    assert got == pytest.approx(expected, rel=1e-12)


def test_te_nas_by_hand_kappa_lower_is_better() -> None:
    """rank(-kappa) + rank(R); kappa ties on 2, 3 (3.5 each) and failed on 4 (ranks 1)."""
    frame = _long({"ntk_cond": [5.0, 1.0, 1.0, float("nan")], "te_nas_linear_regions": [3.0, 3.0, 2.0, 1.0]},
                  [1, 2, 3, 4])  # fmt: skip
    assert _values(add_aggregates(frame), "te_nas") == {1: 2 + 3.5, 2: 3.5 + 3.5, 3: 3.5 + 2, 4: 1 + 1}


def test_vkdnw_single_dense_lexicographic_rank_by_hand() -> None:
    """Dense rank of (P, entropy): equal pairs share one rank, no gaps; a missing entropy ranks first (1)."""
    frame = _long({"vkdnw_dim": [10.0, 12.0, 10.0, 12.0, 9.0], "vkdnw_entropy": [0.5, 0.1, 0.7, 0.1, float("nan")]},
                  [0, 1, 2, 3, 4])  # fmt: skip
    assert _values(add_aggregates(frame), "vkdnw_single") == {0: 2.0, 1: 4.0, 2: 3.0, 3: 4.0, 4: 1.0}


def test_vkdnw_agg_by_hand_unnormalised_log_ranks() -> None:
    """log(VKDNW_single rank) + log ranks of expressivity, trainability, flops, jacov (not divided by N, as the
    reference's vkdnw_comb_rank); jacov ties on cells 1, 2."""
    frame = _long({"vkdnw_dim": [5.0, 6.0, 6.0], "vkdnw_entropy": [0.9, 0.2, 0.3],
                   "az_nas_expressivity": [3.0, 1.0, 2.0], "az_nas_trainability": [-0.5, -0.1, -0.2],
                   "flops": [10.0, 20.0, 30.0], "jacov": [1.0, 2.0, 2.0]}, [0, 1, 2])  # fmt: skip
    expected = {
        0: log(1) + log(3) + log(1) + log(1) + log(1),
        1: log(2) + log(1) + log(3) + log(2) + log(2.5),
        2: log(3) + log(2) + log(2) + log(3) + log(2.5),
    }
    assert _values(add_aggregates(frame), "vkdnw_agg") == pytest.approx(expected, rel=1e-12)


def test_the_proxy_modules_rank_functions_agree_with_the_aggregates() -> None:
    """az_nas_rank_aggregate, te_nas_rank_combine and vkdnw_rank_single (the papers' rankings with their column
    names as arguments) compute the same numbers on a pivoted frame (one implementation of the rule)."""
    from harness.aggregates import az_nas_rank_aggregate as az
    from harness.aggregates import te_nas_rank_combine as rank_combine
    from harness.aggregates import vkdnw_rank_single as rank_single

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.integers(0, 4, size=(30, 8)).astype(float),
                         columns=[*AZ, "ntk_cond", "te_nas_linear_regions", "vkdnw_dim", "vkdnw_entropy"])  # fmt: skip
    table.iloc[3, 2] = np.nan
    assert get_aggregate("az_nas").compute(table).tolist() == pytest.approx(az(table).tolist())
    assert get_aggregate("te_nas").compute(table).tolist() == rank_combine(table).tolist()
    assert get_aggregate("vkdnw_single").compute(table).tolist() == rank_single(table).tolist()


def test_a_cell_without_any_component_is_not_in_the_pool_and_groups_are_separate() -> None:
    frame = _long({"ntk_cond": [1.0, 2.0, None], "te_nas_linear_regions": [1.0, 1.0, None]}, [0, 1, 2])
    other = _long({"ntk_cond": [3.0], "te_nas_linear_regions": [1.0]}, [5]).assign(seed=1)
    out = add_aggregates(pd.concat([frame, other, _long({"nwot": [1.0, 2.0, 3.0]}, [0, 1, 2])], ignore_index=True))
    te = out[out["proxy"] == "te_nas"]
    assert sorted(te.loc[te["seed"] == 0, "index"]) == [0, 1]  # cell 2 has no component row: not in the pool
    assert te.loc[te["seed"] == 1, "score"].tolist() == [2.0]  # a pool of one cell, its own setting
    assert set(te["pool"]) == {"2 cells of s", "1 cells of s"}
    assert "pool: 2 cells of s (nb201 cifar10 real/true, b 64) for te_nas" in pool_notes(out)
    assert (te["status"] == "ok").all()


def test_an_aggregate_is_skipped_without_its_components_unless_asked_for() -> None:
    frame = _long({"nwot": [1.0, 2.0]}, [0, 1])
    assert add_aggregates(frame).equals(frame)
    with pytest.raises(Exception, match="needs nwot, jacov|needs jacov"):
        add_aggregates(frame, [parse_aggregate("mine=nwot+jacov")], required={"mine"})


# ---------------------------------------------------------------- user rank ensembles and plugins


def test_user_ensemble_orients_each_member_and_sums_normalised_log_ranks() -> None:
    """mine = log(rank_nwot / N) + log(rank_-ntk_cond / N): ntk_cond is lower-is-better, so its smallest value
    ranks N."""
    frame = _long({"nwot": [1.0, 3.0, 2.0], "ntk_cond": [9.0, 1.0, 5.0]}, [0, 1, 2])
    out = add_aggregates(frame, resolve(["mine=nwot+ntk_cond"], builtins=False))
    assert _values(out, "mine") == pytest.approx(
        {0: log(1 / 3) + log(1 / 3), 1: log(3 / 3) + log(3 / 3), 2: log(2 / 3) + log(2 / 3)}
    )
    assert parse_aggregate("ensemble:nwot+ntk_cond").name == "ensemble(nwot+ntk_cond)"
    with pytest.raises(ValueError, match="at least two"):
        parse_aggregate("solo=nwot")


def test_a_registered_aggregate_is_picked_up_by_name() -> None:
    def first_component(table: pd.DataFrame, direction) -> pd.Series:  # noqa: ANN001
        return table["nwot"]

    register_aggregate(Aggregate("plugin_agg", ("nwot",), first_component, "test"))
    try:
        frame = _long({"nwot": [1.0, 2.0]}, [0, 1])
        assert _values(add_aggregates(frame, resolve(["plugin_agg"], builtins=False)), "plugin_agg") == {0: 1, 1: 2}
        with pytest.raises(ValueError, match="already registered"):
            register_aggregate(Aggregate("plugin_agg", ("jacov",), first_component, "other"))
    finally:
        unregister_aggregate("plugin_agg")
    assert log_rank_sum(pd.DataFrame({"a": [1.0, 2.0]}), {"a": True}).tolist() == [log(0.5), 0.0]


# ---------------------------------------------------------------- the legacy names


def test_legacy_names_load_as_the_per_cell_surrogates(tmp_path: Path) -> None:
    """Rows stored as az_nas / te_nas / vkdnw / vkdnw_single (in older stores) read as the surrogates' new names, in a
    store and in an export; the aggregates of the old names are then computed from the components, not confused
    with the stored rows."""
    accuracy = synthetic_accuracy(15625, seed=0)
    names = [*LEGACY_PROXY_NAMES, *AZ]
    frame = synthetic_results(accuracy, dict.fromkeys(names, 0.5), cells=range(0, 600, 20))
    store, export = tmp_path / "old.sqlite", tmp_path / "old.csv"
    write_store(str(store), frame, study="old")
    frame.assign(study="old").to_csv(export, index=False)
    for path in (store, export):
        loaded = load_scores(path)
        proxies = set(loaded["proxy"])
        assert set(LEGACY_PROXY_NAMES.values()) <= proxies
        assert "az_nas" in proxies and loaded.loc[loaded["proxy"] == "az_nas", "pool"].notna().all()
        assert "te_nas" not in proxies and "vkdnw_single" not in proxies  # their components are not stored
        assert _values(loaded, "az_nas_sum") == pytest.approx(_values(frame, "az_nas"))


# ---------------------------------------------------------------- wherever a proxy is: the commands


@pytest.fixture(scope="module")
def component_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 nb201 cells with every component of the four built-ins (+ nwot), two label modes."""
    names = [*AZ, "ntk_cond", "te_nas_linear_regions", "vkdnw_dim", "vkdnw_entropy", "flops", "jacov", "nwot"]
    frame = synthetic_results(synthetic_accuracy(15625, seed=0), dict.fromkeys(names, 0.5),
                              modes={("real", "random"): 0.95}, cells=range(0, 15000, 100))  # fmt: skip
    path = tmp_path_factory.mktemp("agg") / "results.sqlite"
    write_store(str(path), frame, study="parts")
    return path


BUILTINS = {"az_nas", "te_nas", "vkdnw_single", "vkdnw_agg"}


def test_correlate_and_compare_see_aggregates(component_store: Path, shared_data: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001, E501
    base = ["--data-dir", str(shared_data), "--bootstrap", "20"]
    out = tmp_path / "corr.md"
    assert main(["correlate", str(component_store), *base, "--aggregate", "mine=nwot+jacov", "--out", str(out)]) == 0
    text = out.read_text()
    assert all(name in text for name in [*BUILTINS, "mine"])
    assert "pool: 150 cells of parts (nb201 cifar10 real/true, b 64) for az_nas, mine, te_nas, vkdnw_agg" in text
    assert main(["compare", str(component_store), *base, "--proxies", "az_nas,vkdnw_agg,nwot", "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)["ranking"]
    assert {r["proxy"] for r in ranking} == {"az_nas", "vkdnw_agg", "nwot"} and {r["n"] for r in ranking} == {150}
    assert main(["correlate", str(component_store), *base, "--no-aggregates", "--json"]) == 0
    assert not BUILTINS & {r["proxy"] for r in json.loads(capsys.readouterr().out)}


def test_agnostic_and_agreement_see_aggregates(component_store: Path, capsys) -> None:  # noqa: ANN001
    assert main(["agnostic", str(component_store), "--no-accuracy", "--bootstrap", "20", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["proxy"] for r in rows} >= BUILTINS
    assert {r["labels"] for r in rows if r["proxy"] == "az_nas"} == {"random"}  # each mode is its own pool
    assert main(["compare", str(component_store), "--agreement", "--proxies", "az_nas,te_nas", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agreement"]


@pytest.mark.slow  # a whole report
def test_report_names_the_pool(component_store: Path, tmp_path: Path) -> None:
    from harness.report import build_report

    path = build_report(
        component_store, tmp_path / "report", data_dir=tmp_path, n_boot=20, aggregates=["mine=nwot+jacov"]
    )
    text = path.read_text()
    assert "**Pool aggregates**" in text and "150 cells of parts" in text and "mine" in text


def test_search_sample_ranks_an_aggregate_over_the_sampled_cells(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    """sample-and-pick with --proxies te_nas: its components are scored on the N cells and the pick is the best
    rank sum over those N (no real scoring here: score_cells is replaced by fixed scores)."""
    pytest.importorskip("torch")
    from harness.scoring.records import ScoreRecord
    from harness.search import sample

    def fake(space, cells, proxies, **kw):  # noqa: ANN001, ANN202
        for i, cell in enumerate(cells):
            for proxy in proxies:
                value = {"ntk_cond": 10.0 - i, "te_nas_linear_regions": float(i % 3)}[proxy]
                yield ScoreRecord(cell, "", proxy, "cifar10", "gaussian", "random", 4, 0, value, "ok", 0.0, None, "cpu")

    monkeypatch.setattr(sample, "score_cells", fake)
    config = sample.SampleConfig(n=6, proxies=("te_nas",), batch_size=4, data_mode="gaussian", label_mode="random")
    outcome = sample.run_sample(config, "nb201", "cifar10", seed=0, device="cpu")
    # rank(-kappa) = i + 1; regions i % 3 rank 1.5, 3.5, 5.5: totals 2.5, 5.5, 8.5, 5.5, 8.5, 11.5 -> the last cell
    import random

    cells = random.Random(0).sample(range(15625), 6)
    assert outcome.index == cells[5] and outcome.scores == {"te_nas": 11.5}
    argv = ["search", "sample", "--proxies", "te_nas", "--n", "6", "--batch-size", "4", "--data-mode", "gaussian",
            "--labels", "random", "--device", "cpu", "--no-accuracy", "--json"]  # fmt: skip
    assert main(argv) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["index"] == cells[5]
