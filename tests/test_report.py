"""The report on synthetic stores: every figure written and non-empty, tables that match the analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from harness.analysis import correlate
from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main
from harness.errors import DataMissing
from harness.report import OKABE_ITO, build_report, figures, proxy_styles, render_report
from harness.report.build import rho_order

N_BOOT = 100
FIGURES = (
    "scatter_toy_cifar10_real_true",
    "correlation_dots",
    "precision_topk",
    "agnostic_scatter_toy_cifar10",
    "agnostic_floor_toy_cifar10",
    "agnostic_picks_toy_cifar10",
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
        {"synflow": 0.7, "nasi": 0.4, "snip": 0.2},  # by rho: neither alphabetical nor registry order
        modes=modes,
        space="toy",
        degenerate=range(0, 300, 15),
        failed_fraction=0.02,
        seed=4,
    )


def _recording(drawn: dict[str, Figure]):  # noqa: ANN202
    """``figures.save`` that also keeps each figure by stem in ``drawn``, to inspect its axes and texts."""
    save = figures.save

    def recording(fig: Figure, out_dir: Path, stem: str, tight: bool = False) -> list[Path]:
        drawn[stem] = fig
        return save(fig, out_dir, stem, tight)

    return recording


def _render_recording(*args, **kwargs) -> tuple[Path, dict[str, Figure]]:  # noqa: ANN002, ANN003
    """``render_report`` with every figure it saves kept by stem."""
    drawn: dict[str, Figure] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "save", _recording(drawn))
        path = render_report(*args, **kwargs)
    return path, drawn


@pytest.fixture(scope="module")
def rendered(
    results: pd.DataFrame, accuracy: pd.Series, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Figure]]:
    out = tmp_path_factory.mktemp("report")
    return _render_recording(results, out, accuracy, ensembles=[("nasi", "snip")], n_boot=N_BOOT)


@pytest.fixture(scope="module")
def report(rendered: tuple[Path, dict[str, Figure]]) -> Path:
    return rendered[0]


@pytest.fixture(scope="module")
def wide(accuracy: pd.Series, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Figure]]:
    """Fourteen proxies on two datasets with a swapped mode: pages, a heatmap, the precision@k choice."""
    strengths = {f"p{i:02d}": 0.9 - 0.06 * i for i in range(13)} | {"nasi": 0.05}
    frame = pd.concat(
        [
            synthetic_results(accuracy, strengths, modes={("gaussian", "random"): 0.8}, space="toy", dataset=d)
            for d in ("cifar10", "cifar100")
        ],
        ignore_index=True,
    )
    return _render_recording(frame, tmp_path_factory.mktemp("wide"), lambda space, dataset: accuracy, n_boot=20)


def _texts(fig: Figure) -> list:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _panels(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


@pytest.mark.slow  # the fourteen-proxy report (module fixture wide)
def test_figures_fit_seven_inches_with_legible_text(
    rendered: tuple[Path, dict[str, Figure]], wide: tuple[Path, dict[str, Figure]]
) -> None:
    for path, drawn in (rendered, wide):
        pngs = sorted((path.parent / "figures").glob("*.png"))
        assert len(pngs) == len(drawn) >= 6
        for png in pngs:
            with Image.open(png) as image:
                assert image.size[0] / figures.DPI <= figures.MAX_WIDTH_IN + 1e-6, png.name
        for stem, fig in drawn.items():
            assert fig.get_figwidth() <= figures.MAX_WIDTH_IN + 1e-9, stem
            small = {(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < figures.MIN_FONT_PT}
            assert not small, (stem, small)


@pytest.mark.slow  # the fourteen-proxy report (module fixture wide)
def test_many_panels_are_split_into_pages(wide: tuple[Path, dict[str, Figure]]) -> None:
    path, drawn = wide
    scatter = sorted(s for s in drawn if s.startswith("scatter_toy_cifar10_"))
    assert scatter == ["scatter_toy_cifar10_real_true_p1", "scatter_toy_cifar10_real_true_p2"]
    assert [len(_panels(drawn[s])) for s in scatter] == [12, 2]  # 14 proxies
    swapped = [s for s in drawn if s.startswith("agnostic_scatter_toy_cifar10_p")]
    assert len(swapped) == 2 and all(len(_panels(drawn[s])) <= figures.PANELS_PER_PAGE for s in swapped)
    text = path.read_text()
    assert "(page 2 of 2)](figures/scatter_toy_cifar10_real_true_p2.png)" in text
    assert not (path.parent / "figures" / "scatter_toy_cifar10_real_true.png").exists()


@given(
    st.lists(st.integers(0, 5), max_size=60).map(sorted),
    st.integers(1, 12),
)
def test_paginate_keeps_order_page_size_and_groups(items: list[int], per_page: int) -> None:
    pages = figures.paginate(items, per_page, group=lambda x: x)
    assert [x for page in pages for x in page] == items
    assert all(len(page) <= per_page for page in pages)
    for value in set(items):
        holding = [k for k, page in enumerate(pages) if value in page]
        if items.count(value) <= per_page:
            assert len(holding) == 1  # a group that fits on one page is not split


@pytest.mark.slow  # the fourteen-proxy report (module fixture wide)
def test_proxies_are_ordered_by_rho(rendered: tuple[Path, dict[str, Figure]], wide) -> None:  # noqa: ANN001
    path, drawn = rendered
    corr = pd.read_csv(path.parent / "tables" / "correlation.csv")
    reference = corr[corr["degenerate_included"] & (corr["data"] == "real") & (corr["labels"] == "true")]
    by_rho = list(reference.sort_values("spearman", ascending=False)["proxy"])
    assert by_rho == ["synflow", "nasi", "snip"] == rho_order(corr)
    titles = [ax.get_title().split("\n")[0] for ax in _panels(drawn["scatter_toy_cifar10_real_true"])]
    assert titles == by_rho
    dots = drawn["correlation_dots"].axes[0]
    assert [t.get_text() for t in dots.get_yticklabels()] == by_rho  # one dataset: dots, best on top
    assert dots.get_ylim()[0] > dots.get_ylim()[1]
    agreement = drawn["agreement_toy_cifar10"].axes[0]
    assert [t.get_text() for t in agreement.get_yticklabels()] == by_rho
    floor = drawn["agnostic_floor_toy_cifar10"].axes[0]  # rows: largest drop below the floor on top
    agnostic = pd.read_csv(path.parent / "tables" / "agnostic.csv")
    assert [t.get_text() for t in floor.get_yticklabels()][::-1] == figures.swap_effect_order(agnostic)
    wide_corr = pd.read_csv(wide[0].parent / "tables" / "correlation.csv")
    wide_ref = wide_corr[wide_corr["degenerate_included"] & (wide_corr["data"] == "real")]
    mean_rho = wide_ref.groupby("proxy")["spearman"].mean().sort_values(ascending=False)
    assert rho_order(wide_corr) == list(mean_rho.index) and mean_rho.index[-1] == "nasi"
    heat = wide[1]["heatmap_correlation"].axes[0]  # two datasets: the heatmap, rows best first
    assert [t.get_text() for t in heat.get_yticklabels()] == list(mean_rho.index)


def test_rho_order_orients_lower_is_better_and_puts_missing_last() -> None:
    corr = pd.DataFrame(
        {
            "proxy": ["a", "b", "c", "d", "a"],
            "spearman": [0.5, -0.8, 0.9, float("nan"), 0.1],
            "higher_is_better": [True, False, True, True, True],
            "degenerate_included": [True, True, True, True, False],
            "data": "real",
            "labels": "true",
        }
    )
    assert rho_order(corr) == ["c", "b", "a", "d"]


def test_outliers_cannot_squash_a_score_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: dict[str, Figure] = {}
    monkeypatch.setattr(figures, "save", _recording(drawn))
    rng = np.random.default_rng(1)
    for n in (500, figures.HEXBIN_ABOVE + 100):  # scatter and hexbin
        score = rng.normal(10, 1, n)
        score[0], score[1] = 1e6, -5e4  # one outlier each side
        cells = pd.DataFrame(
            {"proxy": "grasp", "score": score, "accuracy": rng.uniform(10, 94, n), "degenerate": False}
        )
        figures.score_vs_accuracy(cells, {}, proxy_styles(["grasp"]), title="t", accuracy_label="acc",
                                  out_dir=tmp_path, stem=f"outlier{n}")  # fmt: skip
        ax = drawn[f"outlier{n}"].axes[0]
        lo, hi = ax.get_xlim()
        bulk = np.percentile(score, [1, 99])
        assert -5e4 < lo < bulk[0] and bulk[1] < hi < 1e6  # the outliers are outside, the bulk inside
        assert hi - lo < 20 and ax.get_xscale() == "linear"
        assert "2 far outliers at edge" in ax.get_xlabel() and "1st-99th pct" in ax.get_xlabel()
    degenerate = np.arange(500) < 5  # az_nas scores its degenerate cells -1e6
    score = np.where(degenerate, -1e6, rng.normal(10, 1, 500))
    cells = pd.DataFrame({"proxy": "az_nas", "score": score, "accuracy": 50.0, "degenerate": degenerate})
    figures.score_vs_accuracy(cells, {}, proxy_styles(["az_nas"]), title="t", accuracy_label="acc",
                              out_dir=tmp_path, stem="degenerate")  # fmt: skip
    ax = drawn["degenerate"].axes[0]
    assert ax.get_xlim()[0] > 0 and "outlier" not in ax.get_xlabel() and "1st-99th pct" in ax.get_xlabel()
    assert ax.get_legend().get_texts()[0].get_text() == "degenerate (5, 5 at edge)"
    clean = rng.normal(10, 1, 500)
    assert figures.robust_limits(clean) is None  # nothing far out: the axis shows everything
    lo, hi = figures.robust_limits(np.append(clean, 1e6))
    assert hi < 1e6 and lo < clean.min()  # only the outlying side is cut
    assert figures.robust_limits(10 ** rng.uniform(0, 6, 500), log=True) is None


@pytest.mark.slow  # the fourteen-proxy report (module fixture wide)
def test_precision_at_k_draws_the_best_five_and_nasi(wide: tuple[Path, dict[str, Figure]]) -> None:
    order = ["a", "b", "c", "d", "e", "f", "nasi"]
    assert figures.choose_proxies(order) == ["a", "b", "c", "d", "e", "nasi"]
    assert figures.choose_proxies(["nasi", *order[:6]]) == ["nasi", "a", "b", "c", "d"]
    assert figures.choose_proxies(order[:3]) == ["a", "b", "c"]
    path, drawn = wide
    fig = drawn["precision_topk"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    best = rho_order(pd.read_csv(path.parent / "tables" / "correlation.csv"))
    assert best[-1] == "nasi" and labels == [*best[:5], "nasi", "random (k/100)"]
    assert len(_panels(fig)) == 2  # one per dataset
    for ax in _panels(fig):
        assert len(ax.get_lines()) == 7
        random = ax.get_lines()[-1]
        assert np.allclose(random.get_ydata(), np.asarray(random.get_xdata()) / 100)
    legend_top = fig.legends[0].get_window_extent().y1
    assert all(legend_top < ax.get_window_extent().y0 for ax in _panels(fig))  # below the panels, not on the title
    assert ", ".join([*best[:5], "nasi"]) in path.read_text()


def test_precision_at_k_draws_the_proxies_asked_for(results: pd.DataFrame, accuracy: pd.Series, tmp_path: Path) -> None:
    path, drawn = _render_recording(results, tmp_path, accuracy, n_boot=10, precision_proxies=["snip", "nasi"])
    labels = [t.get_text() for t in drawn["precision_topk"].legends[0].get_texts()]
    assert labels == ["snip", "nasi", "random (k/100)"] and "snip, nasi (as asked" in path.read_text()
    with pytest.raises(ValueError, match="not in the results: zen"):
        render_report(results, tmp_path / "x", accuracy, n_boot=10, precision_proxies=["zen"])


def test_a_figure_saved_again_is_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PDFs carry no creation date: a report rebuilt later from the same results changes no figure file."""
    written = []
    for run, when in (("a", "1700000000"), ("b", "1800000000")):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", when)  # the clock matplotlib would stamp into the PDF
        fig = Figure(figsize=(3, 2))
        fig.subplots().plot([0, 1], [1, 0])
        written.append(figures.save(fig, tmp_path / run, "line"))
    for first, second in zip(*written):
        assert first.read_bytes() == second.read_bytes(), first.name


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
    expected = correlate(results, accuracy, n_boot=N_BOOT).to_frame()
    assert len(written) == len(expected) == 3 * 3 * 2
    merged = written.merge(expected, on=["proxy", "data", "labels", "degenerate_included"], suffixes=("", "_x"))
    assert len(merged) == len(expected)
    assert (merged["spearman"] - merged["spearman_x"]).abs().max() < 1e-12
    assert (merged["spearman_lo"] - merged["spearman_ci"].str[0]).abs().max() < 1e-12
    comparison = pd.read_csv(tables / "comparison.csv")
    assert "ensemble(nasi+snip)" in set(comparison["proxy"])
    agnostic = pd.read_csv(tables / "agnostic.csv")
    assert len(agnostic) == 3 * 2 and set(agnostic["verdict"]) == {"no seed floor (1 seed)"}  # one seed
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
    assert (tmp_path / "figures" / "correlation_dots.png").exists()
    path = render_report(results, tmp_path, missing, n_boot=50)  # replaces the report above
    text = path.read_text()
    assert "**Ground truth missing:** no ground truth for toy cifar10" in text
    assert "## Correlation with accuracy" not in text and "## Agnosticism" in text and "## Proxy agreement" in text
    assert (tmp_path / "figures" / "agnostic_floor_toy_cifar10.png").stat().st_size > 5000
    assert not (tmp_path / "figures" / "agnostic_picks_toy_cifar10.png").exists()  # picks need ground truth
    assert not (tmp_path / "figures" / "correlation_dots.png").exists()


def test_build_report_from_a_store(results: pd.DataFrame, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.delenv("NASI_HARNESS_DATA", raising=False)
    store = tmp_path / "results.db"
    write_store(str(store), results.assign(space="nb201"), study="toy-study")
    empty = tmp_path / "no-data"
    empty.mkdir()
    path = build_report(store, tmp_path / "out", study="toy-study", data_dir=empty, n_boot=30)
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


def _agnostic_rows(modes: list[str]) -> pd.DataFrame:
    rows = []
    for p, tau, floor in (("nasi", 0.8, 0.85), ("snip", 0.9, 0.9), ("params", 1.0, 1.0), ("plain", -0.4, 0.2)):
        for m in modes:
            rows.append(
                {"proxy": p, "mode": m, "kendall": tau, "kendall_ci": (tau - 0.02, min(1.0, tau + 0.02)),
                 "kendall_common": tau, "kendall_common_ci": (tau - 0.02, min(1.0, tau + 0.02)),
                 "floor_kendall": floor, "floor_kendall_ci": (floor - 0.03, min(1.0, floor + 0.03)),
                 "delta_kendall": tau - floor, "verdict": "beyond seed noise" if tau < floor else "within seed noise",
                 "pick@10": 90.0 + tau, "pick@10_ci": (89.0, 91.0), "pick@10_ref": 91.0, "pick@10_ref_ci": (90.0, 92.0),
                 "pick@100": 92.0, "pick@100_ci": (91.0, 93.0), "pick@100_ref": 92.5, "pick@100_ref_ci": (92, 93)}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_agnostic_figures_with_every_mode_and_an_outlier(tmp_path: Path) -> None:
    """Every data x label mode swapped (11, as a full agnosticism grid has), a proxy with no seed effect and one
    whose tau is far below the rest: every row drawn, the figure 7 inches wide, the outlier not squashing."""
    modes = [f"{d}/{lab}" for d in ("real", "gaussian", "uniform", "repeat") for lab in ("true", "random", "shuffled")]
    modes.remove("real/true")
    table = _agnostic_rows(modes)
    assert figures.swap_effect_order(table) == ["plain", "nasi", "snip", "params"]
    drawn: dict[str, Figure] = {}
    original = figures.save
    figures.save = _recording(drawn)
    try:
        paths = figures.agnostic_floor(table, out_dir=tmp_path, stem="floor")
        paths += figures.pick_curves(table, out_dir=tmp_path, stem="picks", order=["nasi", "snip", "params", "plain"])
    finally:
        figures.save = original
    assert all(p.stat().st_size > 0 for p in paths)
    assert drawn["floor"].get_size_inches()[0] <= figures.MAX_WIDTH_IN
    panels = [ax for ax in drawn["floor"].axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == modes
    lo, hi = sorted(panels[0].get_xlim())  # log of 1 - tau: 0.8 and 0.9 are far apart, -0.4 still on the axis
    assert lo <= figures.TAU_EDGE and hi >= 1.4
    span = np.log10(hi) - np.log10(lo)  # tau 0.8 to 0.9 takes a tenth of the axis (a linear one: 1/15)
    assert np.log10(0.2) - np.log10(0.1) > 0.1 * span
    picks = [ax for ax in drawn["picks"].axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in picks] == ["nasi", "snip", "params", "plain"]
    styles = {(line.get_color(), line.get_marker(), str(line.get_linestyle())) for line in picks[0].get_lines()}
    assert len(styles) >= len(modes)  # every mode its own colour/marker/line style
