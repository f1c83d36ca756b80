"""Scoring seeds as an axis of correlate / compare / report: summaries over seeds against hand-computed values, the
interval over cells and seeds, one-seed tables unchanged, and pool aggregates formed within each seed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).parent / "data" / "one_seed_tables.txt"


def one_seed_outputs() -> str:
    """correlate and compare of a one-seed synthetic frame as Markdown, JSON and CSV: the golden file holds what
    the code before scoring seeds became an axis printed for it (written with that code; see ``_write_golden``)."""
    from harness.analysis import compare, correlate
    from harness.analysis import tables as views
    from harness.analysis.synthetic import synthetic_accuracy, synthetic_results

    accuracy = synthetic_accuracy(15625, seed=0)
    frame = synthetic_results(
        accuracy, {"nasi": 0.6, "snip": 0.3, "synflow": 0.45}, modes={("real", "random"): 0.9},
        cells=range(0, 6000, 40), degenerate=(40, 80),
    )  # fmt: skip
    corr = correlate(frame, accuracy, n_boot=200)
    ranked = compare(frame, accuracy, n_boot=200, ensembles=[("nasi", "snip")])
    parts = [
        views.render_markdown(corr.table, views.correlation_columns, notes=corr.footer()),
        views.to_json(corr.table),
        views.to_csv(corr.table),
        views.render_markdown(ranked.table, views.compare_columns, notes=ranked.footer()),
        views.to_json(ranked.table),
        views.to_csv(ranked.tables["pairwise"]),
    ]
    return "\n=====\n".join(parts)


def _write_golden() -> None:  # run once with the code before seeds: PYTHONPATH=<old checkout> python -c ...
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(one_seed_outputs())


ADDED = ("protocol", "proxy_version", "protocol_a", "protocol_b")  # machine fields added since the golden file


def _without_added(part: str) -> str:
    """A JSON or CSV part of ``one_seed_outputs`` without the fields added since (Markdown is returned as is)."""
    import csv
    import io
    import json

    if part.startswith("["):
        return json.dumps([{k: v for k, v in r.items() if k not in ADDED} for r in json.loads(part)], indent=2)
    if part.startswith("#"):
        return part
    rows = list(csv.reader(io.StringIO(part)))
    keep = [i for i, name in enumerate(rows[0]) if name not in ADDED]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    return out.getvalue()


def test_one_seed_tables_are_exactly_as_before() -> None:
    """Markdown exactly as before; JSON and CSV exactly as before but for the fields added since (proxy, protocol
    and proxy_version as fields of their own), which every row carries."""
    parts = one_seed_outputs().split("\n=====\n")
    golden = GOLDEN.read_text().split("\n=====\n")
    assert [_without_added(p) for p in parts] == golden
    assert all('"protocol": "harness"' in p for p in parts if p.startswith("["))
    assert all(p.splitlines()[0].startswith("space,dataset,data,labels,batch_size,seed,") for p in parts[2:3])


def _frame(scores: dict[int, dict[str, list[float]]], cells: list[int]) -> pd.DataFrame:
    """A results frame: seed -> proxy -> one score per cell (real data, true labels, nb201 cifar10, b 64)."""
    rows = [
        {"space": "nb201", "index": c, "proxy": p, "dataset": "cifar10", "data": "real", "labels": "true",
         "batch_size": 64, "seed": s, "score": float(v), "status": "ok", "study": "t"}
        for s, by_proxy in scores.items() for p, values in by_proxy.items() for c, v in zip(cells, values)
    ]  # fmt: skip
    return pd.DataFrame(rows)


CELLS = [11, 12, 13, 14, 15, 16, 17, 18]  # no degenerate cell among them
ACCURACY = pd.Series(np.arange(1.0, 9.0), index=CELLS)
UP = list(range(1, 9))


def test_spread_is_the_hand_computed_mean_sd_min_max() -> None:
    from harness.analysis.seeds import spread

    found = spread([0.5, 0.6, 0.8])
    assert found["mean"] == pytest.approx(1.9 / 3)
    mean = 1.9 / 3
    assert found["sd"] == pytest.approx(math.sqrt(((0.5 - mean) ** 2 + (0.6 - mean) ** 2 + (0.8 - mean) ** 2) / 2))
    assert (found["min"], found["max"]) == (0.5, 0.8)
    one = spread([0.4])
    assert one["mean"] == 0.4 and math.isnan(one["sd"]) and one["min"] == one["max"] == 0.4


def test_correlate_summarises_each_setting_over_seeds() -> None:
    """rho = 1, 1 - 6 * 2 / (8 * 63) (one adjacent swap) and -1 in seeds 0, 1, 2; the summary's numbers by hand."""
    from harness.analysis import correlate

    swapped = [1, 2, 4, 3, 5, 6, 7, 8]
    frame = _frame({0: {"p": UP}, 1: {"p": swapped}, 2: {"p": UP[::-1]}}, CELLS)
    result = correlate(frame, ACCURACY, n_boot=200, degenerate="included")
    assert list(result.table["seed"]) == [0, 1, 2]  # the main table stays per seed
    row = result.tables["seeds"].iloc[0]
    rhos = [1.0, 1 - 12 / 504, -1.0]
    assert row["seeds"] == (0, 1, 2) and row["n_seeds"] == 3 and row["n"] == 8
    assert row["spearman"] == pytest.approx(np.mean(rhos))
    assert row["spearman_sd"] == pytest.approx(np.std(rhos, ddof=1))
    assert (row["spearman_min"], row["spearman_max"]) == pytest.approx((-1.0, 1.0))
    assert row["precision@10%"] == pytest.approx(np.mean(result.table["precision@10%"]))
    assert "seed" not in result.tables["seeds"].columns
    assert any("scoring seeds" in line for line in result.method)
    one = correlate(frame, ACCURACY, n_boot=200, degenerate="included", seeds=1)
    assert list(one.table["seed"]) == [1] and one.table["spearman"].iloc[0] == pytest.approx(rhos[1])
    assert not any("scoring seeds" in line for line in one.method)
    with pytest.raises(ValueError, match="seed 7 is not in the results; present: 0, 1, 2"):
        correlate(frame, ACCURACY, seeds=7)


def test_the_interval_over_cells_and_seeds_contains_the_cells_only_one_when_seeds_differ() -> None:
    from harness.analysis import correlate
    from harness.analysis.synthetic import synthetic_accuracy, synthetic_results

    accuracy = synthetic_accuracy(15625, seed=0)
    cells = range(0, 4000, 25)
    frame = pd.concat(
        [synthetic_results(accuracy, {"a": r}, cells=cells, seed=s) for s, r in ((0, 0.2), (1, 0.5), (2, 0.8))],
        ignore_index=True,
    )
    summary = correlate(frame, accuracy, n_boot=300, degenerate="included").tables["seeds"]
    for m in ("spearman", "kendall", "pearson"):
        (lo, hi), (clo, chi) = summary[f"{m}_ci"].iloc[0], summary[f"{m}_combined_ci"].iloc[0]
        assert clo < lo and hi < chi, m
        assert clo <= summary[m].iloc[0] <= chi


def test_with_one_seed_both_intervals_are_the_cells_interval() -> None:
    from harness.analysis import correlate

    frame = _frame({3: {"p": [1, 3, 2, 4, 6, 5, 8, 7]}}, CELLS)
    result = correlate(frame, ACCURACY, n_boot=200, degenerate="included")
    row, summary = result.table.iloc[0], result.tables["seeds"].iloc[0]
    assert summary["seeds"] == (3,) and summary["n_seeds"] == 1 and math.isnan(summary["spearman_sd"])
    for m in ("spearman", "kendall", "pearson"):
        assert summary[m] == row[m]
        assert summary[f"{m}_ci"] == summary[f"{m}_combined_ci"] == row[f"{m}_ci"]


def test_seed_intervals_resample_the_seeds_on_top_of_the_cells() -> None:
    from harness.analysis.seeds import seed_intervals

    base = np.linspace(-0.05, 0.05, 1000)
    same = np.vstack([base, base, base])
    cells, both = seed_intervals(same)
    assert cells == both  # identical seeds: the seed stage adds nothing
    apart = np.vstack([base, base + 0.3, base + 0.6])
    cells, both = seed_intervals(apart)
    assert cells == pytest.approx((0.3 - 0.0475, 0.3 + 0.0475), abs=1e-3)  # the mean of the three, over cells
    assert both[0] < 0.15 and both[1] > 0.45 and seed_intervals(apart) == (cells, both)  # deterministic


def test_pool_aggregates_are_ranked_within_each_seed() -> None:
    """Seed 1's scores are 1,000 times seed 0's: ranked together, every seed-1 cell would beat every seed-0 cell."""
    from harness.analysis.aggregates import add_aggregates, resolve

    a0, b0 = [3, 1, 2, 8, 5, 4, 7, 6], [1, 2, 3, 4, 5, 6, 8, 7]
    a1, b1 = [1000 * v for v in (8, 7, 6, 5, 4, 3, 2, 1)], [1000 * v for v in (2, 1, 4, 3, 6, 5, 8, 7)]
    frame = _frame({0: {"a": a0, "b": b0}, 1: {"a": a1, "b": b1}}, CELLS)
    mix = resolve(["mix=a+b"], builtins=False)
    found = add_aggregates(frame, mix)
    found = found[found["proxy"] == "mix"]
    for seed, (a, b) in ((0, (a0, b0)), (1, (a1, b1))):
        alone = add_aggregates(frame[frame["seed"] == seed], mix)
        alone = alone[alone["proxy"] == "mix"].set_index("index")["score"]
        mine = found[found["seed"] == seed].set_index("index")["score"]
        pd.testing.assert_series_equal(mine.sort_index(), alone.sort_index())
        n = len(CELLS)  # sum of log(rank / N) over a and b, ranks within this seed only
        ranks = [pd.Series(v).rank().to_numpy() for v in (a, b)]
        assert mine.sort_index().to_numpy() == pytest.approx(np.log(ranks[0] / n) + np.log(ranks[1] / n))
    mixed = frame.assign(index=frame["index"] + 100 * frame["seed"]).drop(columns="seed")  # both seeds, one pool
    mixed = add_aggregates(mixed, mix)
    mixed = mixed[mixed["proxy"] == "mix"].set_index("index")["score"].sort_index()
    assert not np.allclose(mixed.to_numpy(), found.sort_values(["seed", "index"])["score"].to_numpy())


def test_compare_pairs_within_each_seed_and_says_whether_the_order_holds() -> None:
    """a beats b in seeds 0 and 1, b beats a in seed 2."""
    from harness.analysis import compare

    good, fair = UP, [2, 1, 3, 4, 6, 5, 7, 8]
    frame = _frame({0: {"a": good, "b": fair}, 1: {"a": good, "b": fair}, 2: {"a": fair, "b": good}}, CELLS)
    result = compare(frame, ACCURACY, n_boot=200)
    assert list(result.table["seed"]) == [0, 0, 1, 1, 2, 2]
    summary = result.tables["seeds"].set_index("proxy")
    assert summary.loc["a", "rank"] == 1 and summary.loc["a", "rank_min"] == 1 and summary.loc["a", "rank_max"] == 2
    assert not summary["same_order"].any()
    assert summary.loc["a", "beats_next"] == pytest.approx(2 / 3)
    rho_fair = 1 - 6 * 4 / (8 * 63)
    assert summary.loc["a", "oriented_spearman"] == pytest.approx((2 + rho_fair) / 3)
    assert summary.loc["b", "delta_vs_best"] == pytest.approx((1 - rho_fair) / 3)
    pairs = result.tables["seeds_pairwise"].set_index(["proxy_a", "proxy_b"])
    assert pairs.loc[("a", "b"), "a_beats_b"] == pytest.approx(2 / 3)
    assert pairs.loc[("b", "a"), "a_beats_b"] == pytest.approx(1 / 3)
    assert pairs.loc[("a", "b"), "delta_sd"] == pytest.approx(np.std([1 - rho_fair] * 2 + [rho_fair - 1], ddof=1))
    assert any("differs between seeds" in n and "2 of 3" in n for n in result.notes)
    steady = compare(frame[frame["seed"] < 2], ACCURACY, n_boot=200)
    assert steady.tables["seeds"]["same_order"].all()
    assert any("the same in all 2 seeds" in n for n in steady.notes)
    alone = compare(frame[frame["proxy"] == "a"], ACCURACY, n_boot=50)  # one proxy: nothing to pair
    assert list(alone.tables["seeds"]["rank"]) == [1] and alone.tables["seeds_pairwise"].empty


def test_text_views_name_the_seeds() -> None:
    from harness.analysis import correlate
    from harness.analysis import tables as views

    frame = _frame({0: {"p": UP}, 2: {"p": [2, 1, 3, 4, 5, 6, 7, 8]}}, CELLS)
    result = correlate(frame, ACCURACY, n_boot=50, degenerate="included")
    text = views.render_markdown(result.tables["seeds"], views.correlation_seed_columns)
    assert "| 2 seeds (0, 2)" in text and "spearman [CI cells+seeds]" in text and "spearman sd" in text
    csv = views.to_csv(result.tables["seeds"])
    header, first = csv.splitlines()[:2]
    assert "seeds,n_seeds" in header and ",0 2,2," in first
    assert "spearman_combined_lo,spearman_combined_hi,spearman_sd,spearman_min,spearman_max" in header
    record = views.records(result.tables["seeds"])[0]
    assert record["seeds"] == [0, 2] and record["n_seeds"] == 2 and len(record["spearman_combined_ci"]) == 2


@pytest.fixture(scope="module")
def seeds_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store

    accuracy = synthetic_accuracy(15625, seed=0)
    frame = pd.concat(
        [synthetic_results(accuracy, {"nasi": 0.6, "snip": 0.3}, cells=range(0, 12000, 100), seed=s) for s in range(3)],
        ignore_index=True,
    )
    path = tmp_path_factory.mktemp("seeds") / "results.db"
    write_store(str(path), frame, study="s")
    return path


def test_cli_summarises_over_seeds_and_selects_one(
    seeds_store: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    from harness.cli import main

    base = [str(seeds_store), "--data-dir", str(shared_data), "--bootstrap", "30"]
    assert main(["correlate", *base, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["n_seeds"] for r in rows} == {3} and all(r["seeds"] == [0, 1, 2] for r in rows)
    keys = {"spearman", "spearman_ci", "spearman_combined_ci", "spearman_sd", "spearman_min", "spearman_max"}
    assert keys <= set(rows[0])
    assert main(["correlate", *base, "--seed", "1", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert {r["seed"] for r in one} == {1} and "n_seeds" not in one[0]
    assert main(["correlate", *base, "--per-seed"]) == 0
    assert "| seed 2" in capsys.readouterr().out
    assert main(["compare", *base, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {"rank", "rank_min", "rank_max", "same_order", "beats_next", "oriented_spearman_combined_ci"} <= set(
        found["ranking"][0]
    )
    assert {"a_beats_b", "delta_combined_ci", "seeds"} <= set(found["pairwise"][0])
    assert main(["compare", *base]) == 0
    assert "3 seeds (0, 1, 2)" in capsys.readouterr().out
    assert main(["compare", *base, "--seed", "1", "--wide"]) == 0  # one seed: today's table, and a line saying so
    assert "note: 1 seed (1): the intervals cover which cells were drawn" in capsys.readouterr().out


def test_report_adds_the_summary_over_seeds(seeds_store: Path, shared_data: Path, tmp_path: Path) -> None:
    from harness.report import build_report

    path = build_report(seeds_store, tmp_path / "report", data_dir=shared_data, n_boot=20)
    text = path.read_text()
    assert "## Scoring seeds" in text and "3 seeds (0, 1, 2)" in text
    assert (tmp_path / "report" / "tables" / "seeds_correlation.csv").is_file()
    assert (tmp_path / "report" / "tables" / "seeds_pairwise.csv").is_file()
    one = build_report(seeds_store, tmp_path / "one", data_dir=shared_data, n_boot=20, seeds=[1])
    assert "## Scoring seeds" not in one.read_text()


def test_seed_is_the_scoring_seed_in_correlate_compare_and_report() -> None:
    """--seed was an old spelling of --bootstrap-seed in these commands; it is the scoring seed there now (as in
    score and run), and stays the old spelling in agnostic."""
    from harness.cli import build_parser

    parser = build_parser()
    for argv in (["correlate", "s.db"], ["compare", "s.db"], ["report", "s.db", "--out", "r"]):
        args = parser.parse_args([*argv, "--seed", "2", "--seed", "3"])
        assert args.seeds == [2, 3] and args.bootstrap_seed == 0
    assert parser.parse_args(["agnostic", "s.db", "--bootstrap-seed", "4"]).bootstrap_seed == 4


def test_a_proxy_scored_in_some_seeds_only_joins_its_setting() -> None:
    """c is scored in seed 1 only: it is ranked with its setting, counted with 1 seed, and the order of the proxies
    scored in every seed (a above b in both) still holds."""
    from harness.analysis import compare
    from harness.analysis import tables as views

    frame = _frame({0: {"a": UP, "b": [2, 1, 3, 4, 5, 6, 7, 8]}, 1: {"a": UP, "b": [2, 1, 4, 3, 5, 6, 7, 8]}}, CELLS)
    frame = pd.concat([frame, _frame({1: {"c": [1, 2, 3, 4, 5, 6, 8, 7]}}, CELLS)], ignore_index=True)
    summary = compare(frame, ACCURACY, n_boot=50).tables["seeds"].set_index("proxy")
    assert list(summary.index) == ["a", "c", "b"] and summary.loc["c", "n_seeds"] == 1
    assert summary["same_order"].all()
    text = views.render_markdown(summary.reset_index(), views.compare_seed_columns)
    assert text.count("###") == 1 and "| 2 seeds (0, 1)" in text
