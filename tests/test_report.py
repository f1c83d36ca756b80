"""The report on synthetic stores: every figure written and non-empty, tables that match the analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import correlate
from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main
from harness.errors import DataMissing
from harness.report import OKABE_ITO, build_report, proxy_styles, render_report

N_BOOT = 100
FIGURES = (
    "scatter_toy_cifar10_real_true",
    "heatmap_correlation",
    "precision_topk",
    "agnostic_scatter_toy_cifar10",
    "agnostic_bars_toy_cifar10",
    "agreement_toy_cifar10",
)


@pytest.fixture(scope="module")
def accuracy() -> pd.Series:
    return synthetic_accuracy(300, seed=9)


@pytest.fixture(scope="module")
def results(accuracy: pd.Series) -> pd.DataFrame:
    modes = {("real", "random"): 0.98, ("gaussian", "true"): 0.5}
    return synthetic_results(
        accuracy,
        {"nasi": 0.7, "snip": 0.4, "synflow": 0.2},
        modes=modes,
        space="toy",
        degenerate=range(0, 300, 15),
        failed_fraction=0.02,
        seed=4,
    )


@pytest.fixture(scope="module")
def report(results: pd.DataFrame, accuracy: pd.Series, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return render_report(results, out, accuracy, ensembles=[("nasi", "snip")], n_boot=N_BOOT)


def test_every_figure_is_written_as_png_and_pdf(report: Path) -> None:
    for stem in FIGURES:
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
            path = report.parent / "figures" / f"{stem}{suffix}"
            assert path.is_file(), path
            assert path.stat().st_size > 5000 and path.read_bytes()[:4] == magic
    text = report.read_text()
    for stem in FIGURES:
        assert f"](figures/{stem}.png)" in text
    for section in (
        "## Ground truth",
        "## Correlation with accuracy",
        "## Proxy x dataset",
        "## Comparison",
        "## Precision at top-k",
        "## Agnosticism",
        "## Proxy agreement",
        "## Files",
    ):
        assert section in text, section


def test_tables_match_the_analysis(report: Path, results: pd.DataFrame, accuracy: pd.Series) -> None:
    tables = report.parent / "tables"
    for name in ("correlation", "comparison", "agnostic"):
        assert (tables / f"{name}.csv").is_file() and (tables / f"{name}.md").is_file()
    written = pd.read_csv(tables / "correlation.csv")
    expected = correlate(results, accuracy, n_boot=N_BOOT)
    assert len(written) == len(expected) == 3 * 3 * 2
    merged = written.merge(expected, on=["proxy", "data", "labels", "degenerate_included"], suffixes=("", "_x"))
    assert len(merged) == len(expected)
    assert (merged["spearman"] - merged["spearman_x"]).abs().max() < 1e-12
    assert (merged["spearman_lo"] - merged["spearman_ci"].str[0]).abs().max() < 1e-12
    comparison = pd.read_csv(tables / "comparison.csv")
    assert "ensemble(nasi+snip)" in set(comparison["proxy"])
    agnostic = pd.read_csv(tables / "agnostic.csv")
    assert len(agnostic) == 3 * 2 and set(agnostic["verdict"]) <= {"holds", "partial", "inconclusive", "fails"}
    text = report.read_text()
    for row in agnostic.itertuples():
        assert row.verdict_text in text  # every verdict is in the report, with its interval
    assert "| proxy | better | degenerate |" in (tables / "correlation.md").read_text()
    agreement = pd.read_csv(tables / "agreement.csv")  # 3 pairs in each of the 3 modes, point estimates
    assert len(agreement) == 3 * 3 and {"proxy_a", "proxy_b", "n", "spearman", "pearson"} <= set(agreement.columns)
    precision = pd.read_csv(tables / "precision_topk.csv")
    assert set(precision["percent"]) == {0.5, 1, 2, 5, 10, 20, 50}
    assert precision["precision"].between(0, 1).all()


def test_report_without_ground_truth_keeps_the_score_only_parts(results: pd.DataFrame, tmp_path: Path) -> None:
    def missing(space: str, dataset: str) -> pd.Series:
        raise DataMissing(f"no ground truth for {space} {dataset}: get the benchmark file")

    render_report(results, tmp_path, synthetic_accuracy(300, seed=9), n_boot=20)
    assert (tmp_path / "figures" / "heatmap_correlation.png").exists()
    path = render_report(results, tmp_path, missing, n_boot=50)  # replaces the report above
    text = path.read_text()
    assert "**Ground truth missing:** no ground truth for toy cifar10" in text
    assert "## Correlation with accuracy" not in text and "## Agnosticism" in text and "## Proxy agreement" in text
    assert (tmp_path / "figures" / "agnostic_bars_toy_cifar10.png").stat().st_size > 5000
    assert not (tmp_path / "figures" / "heatmap_correlation.png").exists()


def test_build_report_from_a_store(results: pd.DataFrame, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.delenv("NASI_HARNESS_DATA", raising=False)
    store = tmp_path / "results.db"
    write_store(str(store), results.assign(space="nb201"), study="toy-study")
    empty = tmp_path / "no-data"
    empty.mkdir()
    path = build_report(store, tmp_path / "out", study="toy-study", data=empty, n_boot=30)
    assert path == tmp_path / "out" / "report.md"
    assert "Ground truth missing" in path.read_text() and "study `toy-study`" in path.read_text()
    assert main(["report", str(store), "--out", str(tmp_path / "cli"), "--data", str(empty), "--bootstrap", "20"]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "cli" / "report.md").is_file()
    assert main(["report", str(tmp_path / "missing.db"), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_styles_are_unique_stable_and_colour_blind_safe() -> None:
    names = [f"proxy{i}" for i in range(20)]
    styles = proxy_styles(names)
    assert len({(s.color, s.marker, s.linestyle, s.hatch) for s in styles.values()}) == 20
    assert {s.color for s in styles.values()} <= set(OKABE_ITO)
    assert proxy_styles(reversed(names)) == styles  # independent of the order a store lists them in
    few = proxy_styles(["snip", "nasi", "ensemble(nasi+snip)"])
    assert len({s.color for s in few.values()}) == 3  # a small report gets distinct colours


def test_dense_scores_become_a_hexbin_and_wide_ranges_a_log_axis(tmp_path: Path) -> None:
    import numpy as np

    from harness.report import figures

    rng = np.random.default_rng(0)
    n = figures.HEXBIN_ABOVE + 500
    cells = pd.DataFrame(
        {
            "proxy": "synflow",
            "score": 10 ** rng.uniform(0, 6, n),
            "accuracy": rng.uniform(10, 94, n),
            "degenerate": np.arange(n) < 20,
        }
    )
    paths = figures.score_vs_accuracy(
        cells,
        {"synflow": "ρ = 0.5"},
        proxy_styles(["synflow"]),
        title="t",
        accuracy_label="test accuracy (%)",
        out_dir=tmp_path,
        stem="dense",
    )
    assert [p.name for p in paths] == ["dense.png", "dense.pdf"] and all(p.stat().st_size > 5000 for p in paths)
    assert figures._log_scale(cells["score"].to_numpy()) and not figures._log_scale(np.array([-1.0, 5.0]))


def test_agreement_bars_with_more_modes_than_hatches(tmp_path: Path) -> None:
    """Every data x label mode swapped (11 swaps, as a full agnosticism grid has): one distinct hatch each."""
    from harness.report import figures

    modes = [f"{d}/{lab}" for d in ("real", "gaussian", "uniform", "repeat") for lab in ("true", "random", "shuffled")]
    modes.remove("real/true")
    rows = [
        {"proxy": p, "mode": m, "kendall": 0.5, "kendall_ci": (0.4, 0.6), "pearson": 0.7, "pearson_ci": (0.6, 0.8)}
        for p in ("nasi", "snip") for m in modes
    ]  # fmt: skip
    paths = figures.agreement_bars(pd.DataFrame(rows), proxy_styles(["nasi", "snip"]), thresholds=(0.5, 0.8),
                                   out_dir=tmp_path, stem="bars")  # fmt: skip
    assert paths and all(p.stat().st_size > 0 for p in paths)
    assert len({figures.HATCHES[k % len(figures.HATCHES)] for k in range(len(modes))}) == len(modes)
