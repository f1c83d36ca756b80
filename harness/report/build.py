"""``build_report``: every table and figure of the analysis, regenerated from the results store alone.

No scoring, no GPU: the store's rows, the benchmark's ground truth (optional) and a seeded bootstrap are all
it reads. Without ground truth the report still has the score-only parts (agnosticism) and says what is
missing and how to get it.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.analysis import frames, tables
from harness.analysis.aggregates import pool_notes
from harness.analysis.agnostic import Thresholds, agnosticism, describe_floor
from harness.analysis.agreement import agreement_matrix, score_agreement
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from harness.analysis.compare import compare, ensemble_name
from harness.analysis.correlation import aligned, bootstrap_note, correlate, precision_curve
from harness.analysis.formatting import format_estimate
from harness.analysis.inputs import Sources, load_scores, name_sources, source_paths
from harness.analysis.result import AnalysisResult
from harness.analysis.seeds import multi_seed, select_seeds
from harness.analysis.target import Target, TargetSpec, describe, resolve, target_loader, with_ground_truth
from harness.errors import DataMissing
from harness.paths import data_dir_arg
from harness.report import figures
from harness.report.palette import proxy_styles
from harness.report.settings import resolve_settings

PRECISION_PERCENTS = (0.5, 1, 2, 5, 10, 20, 50)


def build_report(
    store_path: Sources,
    out_dir: str | os.PathLike,
    study: str | None = None,
    data_dir: str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
    split: str | None = None,
    epochs: int | None = None,
    ensembles: Sequence[Sequence[str]] = (),
    aggregates: Sequence[str] | None = None,
    builtin_aggregates: bool | None = None,
    given_from: str | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    thresholds: Thresholds | None = None,
    precision_proxies: Sequence[str] | None = None,
    seeds: int | Sequence[int] | None = None,
    cells: str | None = None,
) -> Path:
    """Write ``out_dir/report.md`` with ``figures/`` (PNG + PDF) and ``tables/`` (CSV + Markdown); return its path.

    ``data_dir``: ground-truth root (else ``$NASI_HARNESS_DATA``, ``$TORCH_HOME``, ``~/.torch``; ``data=``: its
    deprecated spelling).
    ``split`` / ``epochs``: the accuracy ranked against. ``aggregates``: user pool aggregates (``NAME=a+b``)
    beside the built-ins (unless ``builtin_aggregates=False``). Each of these four left None takes the study's
    stored ``[analysis]`` value (``study`` given and recorded in a store by ``run``), else the default: test
    accuracy, the space's full schedule, none, the built-ins included (``harness.report.settings``); report.md
    says which came from where; ``given_from`` names what gave the given ones (the study runner: the study file's
    ``[analysis]``, a None epochs in it meaning the full schedule), else they read as the command line's.
    ``precision_proxies``: the proxies the precision@k figure draws (default: the best five by rho, and nasi).
    ``seeds``: only these scoring seeds (default every seed; see :func:`render_report`). ``cells``: a cell SPEC
    (``harness.spaces.cells``, e.g. ``reachable``): only those cells, before pool aggregates are formed.
    """
    data = data_dir_arg(data_dir, data, "build_report")
    paths = source_paths(store_path)
    settings = resolve_settings(
        paths,
        study,
        split=split,
        epochs=epochs,
        aggregates=aggregates,
        builtin_aggregates=builtin_aggregates,
        given_from=given_from,
    )
    results = load_scores(
        paths,
        study=study,
        aggregates=settings.aggregates,
        builtin_aggregates=settings.builtin_aggregates,
        cells=cells,
    )
    if results.empty:
        on = f" on the cells {cells!r}" if cells else ""
        raise ValueError(f"no results in {name_sources(paths)}" + (f" for study {study!r}" if study else "") + on)
    target = target_loader(TargetSpec(split=settings.split, epochs=settings.epochs), data_dir=data)
    source = " + ".join(f"`{p}`" for p in paths) + (f", study `{study}`" if study else "")
    source += f", cells `{cells}`" if cells else ""
    return render_report(
        results,
        out_dir,
        target,
        source=source,
        settings=settings.describe(tuple(results["space"].astype(str).unique())),
        ensembles=ensembles,
        n_boot=n_boot,
        seed=seed,
        level=level,
        thresholds=thresholds,
        precision_proxies=precision_proxies,
        seeds=seeds,
    )


def render_report(
    results: pd.DataFrame,
    out_dir: str | os.PathLike,
    target: Target | None,
    *,
    source: str = "results frame",
    settings: str | None = None,
    ensembles: Sequence[Sequence[str]] = (),
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    thresholds: Thresholds | None = None,
    precision_proxies: Sequence[str] | None = None,
    seeds: int | Sequence[int] | None = None,
) -> Path:
    """The report of a results frame (what :func:`build_report` does after loading the store).

    Scoring seeds: every per-setting table and figure is per seed, as without seeds; where a setting has
    several seeds a section "Scoring seeds" adds the summaries over seeds of correlate and compare
    (``tables/seeds_correlation``, ``tables/seeds_comparison``, ``tables/seeds_pairwise.csv``). ``seeds``: only
    these scoring seeds.

    ``settings``: a Markdown line on the analysis settings and where they came from, printed under the header.
    A previous report in ``out_dir`` is replaced: its figures and tables are removed first, so that nothing
    stale (say, a heatmap from a run that had ground truth) sits beside the new report.
    """
    out = Path(out_dir)
    fig_dir, tab_dir = out / "figures", out / "tables"
    frame = frames.prepare(select_seeds(results, seeds))
    if frame.empty:
        raise ValueError("no results to report")
    results = frame  # prepared once: every analysis below takes it as it is
    unknown = sorted(set(precision_proxies or ()) - set(frame["proxy"]))
    if unknown:  # before anything is written or replaced
        raise ValueError(f"precision@k proxies not in the results: {', '.join(unknown)}")
    if (out / "report.md").is_file():
        for folder, suffixes in ((fig_dir, (".png", ".pdf")), (tab_dir, (".csv", ".md"))):
            for old in folder.glob("*"):
                if old.is_file() and old.suffix in suffixes:
                    old.unlink()
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    styles = proxy_styles([*frame["proxy"].unique(), *(ensemble_name(g) for g in ensembles)])
    report = _Report(out, fig_dir, tab_dir)
    report.precision_proxies = list(precision_proxies) if precision_proxies else None
    report.header(frame, source, n_boot, seed, level, settings)

    truth_missing = None
    try:
        corr = correlate(results, target, degenerate="both", n_boot=n_boot, seed=seed, level=level)
    except DataMissing as exc:
        corr, truth_missing = None, str(exc)
    report.ground_truth(frame, target, truth_missing)
    report.order = rho_order(corr.table) if corr is not None else []
    if corr is not None and not corr.empty:
        report.correlation(frame, corr, target, styles)
        report.heatmap(corr.table, styles)
        compared = report.comparison(results, target, ensembles, n_boot, seed, level)
        report.seeds(corr, compared)
        report.precision(results, target, styles)
    report.agreement(results)
    report.agnostic(frame, results, target if truth_missing is None else None, thresholds, styles, n_boot, seed, level)
    return report.write()


ANNOTATE_MAX = 12  # proxies in an agreement heatmap with values written in its cells


def rho_order(corr: pd.DataFrame) -> list[str]:
    """Proxies best first by oriented Spearman rho (negated when lower is better) with degenerate cells
    included, averaged over the reference settings (all settings when none is the reference): the order of
    every figure and heatmap row, so that a reader finds the strong proxies first, not the early letters."""
    rows = corr[corr["degenerate_included"]]
    reference = rows[(rows["data"] == frames.REFERENCE_MODE[0]) & (rows["labels"] == frames.REFERENCE_MODE[1])]
    rows = reference if not reference.empty else rows
    if rows.empty:
        return []
    oriented = rows["spearman"].astype(float) * rows["higher_is_better"].map(lambda up: 1.0 if up else -1.0)
    mean = oriented.groupby(rows["proxy"]).mean()
    return sorted(
        mean.index.astype(str), key=lambda p: (not math.isfinite(mean[p]), -mean[p] if math.isfinite(mean[p]) else 0, p)
    )


def _pools(frame: pd.DataFrame) -> str:
    """The header's paragraph on pool aggregates: which cells formed each pool (empty when there are none)."""
    lines = pool_notes(frame)
    if not lines:
        return ""
    head = "\n\n**Pool aggregates** (computed from the stored component scores, not re-scored): "
    return head + "; ".join(lines) + "."


def _slug(*parts: object) -> str:
    text = "_".join(str(p) for p in parts if str(p) != "")
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


class _Report:
    """Collects Markdown sections while writing the figures and tables they embed."""

    def __init__(self, out: Path, fig_dir: Path, tab_dir: Path) -> None:
        self.out, self.fig_dir, self.tab_dir = out, fig_dir, tab_dir
        self.sections: list[str] = []
        self.notes: list[str] = []
        self.files: list[Path] = []
        self.order: list[str] = []  # proxies best rho first (empty without ground truth): see rho_order
        self.precision_proxies: list[str] | None = None  # None: figures.choose_proxies

    # -- helpers ---------------------------------------------------------------------------------------------
    def _figure(self, paths: list[Path], caption: str) -> str:
        """Markdown for a figure's pages (``paths``: PNG, PDF of each page, in page order)."""
        self.files += paths
        pages = list(zip(paths[0::2], paths[1::2]))
        parts = []
        for k, (png, pdf) in enumerate(pages, start=1):
            text = caption + (f" (page {k} of {len(pages)})" if len(pages) > 1 else "")
            rel_png, rel_pdf = png.relative_to(self.out).as_posix(), pdf.relative_to(self.out).as_posix()
            parts.append(f"![{text}]({rel_png})\n\n*{text}* ([PDF]({rel_pdf}))")
        return "\n\n".join(parts)

    def _table(self, frame: pd.DataFrame, name: str, columns, notes: Sequence[str] = ()) -> str:  # noqa: ANN001
        csv_path = self.tab_dir / f"{name}.csv"
        md_path = self.tab_dir / f"{name}.md"
        csv_path.write_text(tables.to_csv(frame))
        markdown = tables.render_markdown(frame, columns, level=4, notes=notes)
        md_path.write_text(markdown)
        self.files += [csv_path, md_path]
        return (
            markdown
            + f"\nTable files: [{csv_path.name}](tables/{csv_path.name}), [{md_path.name}](tables/{md_path.name})"
        )

    def _settings_label(self, setting: frames.Setting, many: bool) -> str:
        text = f"{setting.space} {setting.dataset}"
        return text + (f" (batch {setting.batch_size}, seed {setting.seed})" if many else "")

    # -- sections --------------------------------------------------------------------------------------------
    def header(
        self, frame: pd.DataFrame, source: str, n_boot: int, seed: int, level: float, settings: str | None = None
    ) -> None:
        from harness._version import __version__

        modes = sorted({f"{d}/{lab}" for d, lab in zip(frame["data"], frame["labels"])})
        pooled = frame["pool"].notna() if "pool" in frame.columns else pd.Series(False, index=frame.index)
        aggregates = sorted(set(frame.loc[pooled, "proxy"]))
        pools = _pools(frame)
        frame = frame[~pooled]  # the stored rows; the aggregates are named apart
        statuses: dict[str, int] = {}
        for status, count in frame["status"].value_counts().items():  # "error: <message>" counts as "error"
            key = str(status).split(":")[0]
            statuses[key] = statuses.get(key, 0) + int(count)
        self.sections.append(
            "# Training-free proxy evaluation report\n\n"
            f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by nasi-harness {__version__} from "
            f"{source}: {len(frame):,} score rows, {frame['proxy'].nunique()} proxies"
            + (f" (and the pool aggregates {', '.join(aggregates)})" if aggregates else "")
            + f", {frame['index'].nunique():,} cells, spaces {', '.join(sorted(frame['space'].unique()))}, datasets "
            f"{', '.join(sorted(frame['dataset'].unique()))}, data/label modes {', '.join(modes)}. Row statuses: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))
            + ".\n\n"
            + (f"{settings}\n\n" if settings else "")
            + "**Method.** "
            + bootstrap_note(n_boot, seed, level)
            + ". Correlations are of the raw (signed) score; "
            "top-k metrics rank cells by the oriented score (negated for lower-is-better proxies), with ties at "
            "the top-k boundary resolved by expectation over random tie-breaking. A cell is degenerate when its "
            "output cannot depend on its input (the search space says so, or the scorer flagged it); correlation "
            "tables show every proxy with degenerate cells included and excluded. Scores with status nan/error/"
            "skipped are left out and counted (`n_unscored`)." + pools
        )

    def ground_truth(self, frame: pd.DataFrame, target: Target | None, missing: str | None) -> None:
        lines = ["## Ground truth"]
        if missing is not None:
            lines.append(
                f"**Ground truth missing:** {missing}\n\nThe correlation, comparison and precision sections are "
                "omitted; the agnosticism section below needs no ground truth."
            )
        else:
            for space, dataset in sorted({(s, d) for s, d in zip(frame["space"], frame["dataset"])}):
                try:
                    accuracy = resolve(target, space, dataset)
                except DataMissing as exc:
                    lines.append(f"- {space} {dataset}: missing ({exc})")
                    continue
                lines.append(f"- {space} {dataset}: {describe(accuracy)}")
                if accuracy.attrs.get("note"):
                    lines.append(f"  - note: {accuracy.attrs['note']}")
        self.sections.append("\n\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:]))

    def correlation(self, frame: pd.DataFrame, found: AnalysisResult, target: Target, styles: dict) -> None:
        corr, notes = found.table, list(found.notes)
        parts = ["## Correlation with accuracy"]
        reference = [(s, r) for s, r in frames.settings(frame) if s.mode == frames.REFERENCE_MODE]
        shown = reference or list(frames.settings(frame))
        many = len({(s.batch_size, s.seed) for s, _ in shown}) > 1
        for setting, rows, accuracy in with_ground_truth(shown, target, notes=[], missing=[]):
            table, acc = aligned(frames.score_table(rows), accuracy)
            if table.empty:
                continue
            degenerate = frames.degenerate_cells(rows)
            long = table.reset_index().melt(id_vars="index", var_name="proxy", value_name="score").dropna()
            long["accuracy"] = acc.reindex(long["index"]).to_numpy()
            long["degenerate"] = long["index"].isin(degenerate)
            chosen = corr[
                (corr["space"] == setting.space)
                & (corr["dataset"] == setting.dataset)
                & (corr["data"] == setting.data)
                & (corr["labels"] == setting.labels)
                & (corr["batch_size"] == setting.batch_size)
                & (corr["seed"] == setting.seed)
                & corr["degenerate_included"]
            ]
            stats = {
                r.proxy: f"ρ = {format_estimate(r.spearman, *r.spearman_ci, 2)}\nτ = {r.kendall:.2f}, n = {r.n:,}"
                for r in chosen.itertuples()
            }
            split = accuracy.attrs.get("provenance", {}).get("split", "")
            label = self._settings_label(setting, many)
            paths = figures.score_vs_accuracy(
                long,
                stats,
                styles,
                title=f"{label}, {setting.data} data / {setting.labels} labels: score against {split} accuracy",
                accuracy_label=f"{split} accuracy (%)".strip(),
                order=self.order,
                out_dir=self.fig_dir,
                stem=_slug(
                    "scatter",
                    setting.space,
                    setting.dataset,
                    setting.data,
                    setting.labels,
                    *((setting.batch_size, setting.seed) if many else ()),
                ),
            )
            parts.append(self._figure(paths, f"Score against accuracy, {label} (degenerate cells as grey crosses)"))
        self.notes += notes
        parts.append(self._table(corr, "correlation", tables.correlation_columns))
        self.sections.append("\n\n".join(parts))

    def heatmap(self, corr: pd.DataFrame, styles: dict) -> None:
        ref = corr[corr["degenerate_included"]]
        reference = ref[(ref["data"] == frames.REFERENCE_MODE[0]) & (ref["labels"] == frames.REFERENCE_MODE[1])]
        ref = reference if not reference.empty else ref
        many_spaces = ref["space"].nunique() > 1
        many_runs = ref[["batch_size", "seed"]].drop_duplicates().shape[0] > 1
        many_modes = ref[["data", "labels"]].drop_duplicates().shape[0] > 1

        def column(r: pd.Series) -> str:
            text = (f"{r['space']} " if many_spaces else "") + str(r["dataset"])
            text += f" {r['data']}/{r['labels']}" if many_modes else ""
            return text + (f" b{r['batch_size']} s{r['seed']}" if many_runs else "")

        ref = ref.assign(column=ref.apply(column, axis=1))
        if ref["column"].nunique() == 1:  # one dataset: dots with their intervals, not a one-column heatmap
            rows = ref.set_index("proxy").loc[figures.ordered(list(ref["proxy"]), self.order)].reset_index()
            paths = figures.correlation_dots(
                rows,
                styles,
                title=f"Correlation of each proxy with accuracy, {rows['column'].iloc[0]}",
                out_dir=self.fig_dir,
                stem="correlation_dots",
            )
            self.sections.append(
                "## Proxy x dataset\n\n"
                + self._figure(paths, "Signed rank correlations with 95% bootstrap intervals, best rho first")
            )
            return
        matrices = {}
        for name, value in (("Spearman rho (signed)", "spearman"), ("Kendall tau (signed)", "kendall")):
            matrix = ref.pivot_table(index="proxy", columns="column", values=value)
            matrices[name] = matrix.loc[figures.ordered(list(matrix.index), self.order)]
        paths = figures.heatmap(
            matrices,
            title="Correlation of each proxy with accuracy, per dataset",
            out_dir=self.fig_dir,
            stem="heatmap_correlation",
        )
        self.sections.append(
            "## Proxy x dataset\n\n" + self._figure(paths, "Signed rank correlations, proxy x dataset, best rho first")
        )

    def comparison(
        self, results: pd.DataFrame, target: Target, ensembles, n_boot: int, seed: int, level: float
    ) -> None:  # noqa: ANN001
        result = compare(results, target, ensembles=ensembles, n_boot=n_boot, seed=seed, level=level)
        if result.empty:
            self.notes += result.notes
            return result
        self.notes += result.notes
        text = (
            "## Comparison\n\nProxies ranked by oriented Spearman rho on the cells all of them scored; 'best - this' "
            "is the paired-bootstrap interval of the difference from the best proxy (containing 0: not "
            "distinguishable on these cells)."
        )
        if ensembles:
            text += " `ensemble(...)` = sum over its proxies of log(rank / N), rank N = best (AZ-NAS aggregation)."
        pair_path = self.tab_dir / "pairwise.csv"
        pair_path.write_text(tables.to_csv(result.tables["pairwise"]))
        self.files.append(pair_path)
        self.sections.append(
            text
            + "\n\n"
            + self._table(result.table, "comparison", tables.compare_columns)
            + f"\n\nEvery pairwise difference: [{pair_path.name}](tables/{pair_path.name})"
        )
        return result

    def seeds(self, corr: AnalysisResult, compared: AnalysisResult | None) -> None:
        """The summaries over scoring seeds, when some setting has several seeds (nothing otherwise)."""
        if not multi_seed(corr.table, frames.SETTING):
            return
        parts = [
            "## Scoring seeds\n\nThe tables above are per scoring seed (initial weights and mini-batch). Here each "
            "setting over its seeds: the mean, sd and min to max over seeds, the 95% interval over cells of the "
            "mean, and an interval over cells and seeds (each bootstrap replicate of the cells also draws the "
            "seeds with replacement; docs/studies.md). Each seed is ranked and pool-aggregated on its own.",
            "### Correlation with accuracy over seeds",
            self._table(corr.tables["seeds"], "seeds_correlation", tables.correlation_seed_columns),
        ]
        if compared is not None and not compared.empty and "seeds" in compared.tables:
            pair_path = self.tab_dir / "seeds_pairwise.csv"
            pair_path.write_text(tables.to_csv(compared.tables["seeds_pairwise"]))
            self.files.append(pair_path)
            parts += [
                "### Comparison over seeds\n\nProxies paired and ranked within each seed, ordered by the mean "
                "oriented rho; 'rank in a seed' is the range of their ranks in single seeds, 'beats next' the "
                "share of seeds in which a proxy is above the next one.",
                self._table(compared.tables["seeds"], "seeds_comparison", tables.compare_seed_columns),
                f"Every pairwise difference over seeds: [{pair_path.name}](tables/{pair_path.name})",
            ]
        self.sections.append("\n\n".join(parts))

    def agreement(self, results: pd.DataFrame) -> None:
        """Proxy x proxy agreement of the oriented scores (point estimates; ``compare --agreement`` gives
        intervals), one heatmap per reference setting: needs no accuracy."""
        found = score_agreement(results, methods=("spearman", "pearson"), n_boot=0)
        table = found.table
        if table.empty:
            return
        self.notes += found.notes
        path = self.tab_dir / "agreement.csv"
        path.write_text(tables.to_csv(table.drop(columns=[c for c in table.columns if c.endswith("_ci")])))
        self.files.append(path)
        reference = table[(table["data"] == frames.REFERENCE_MODE[0]) & (table["labels"] == frames.REFERENCE_MODE[1])]
        shown = reference if not reference.empty else table
        keys = ["space", "dataset", "data", "labels", "batch_size", "seed"]
        many = shown[keys].drop_duplicates().shape[0] > shown[["space", "dataset"]].drop_duplicates().shape[0]
        parts = [
            "## Proxy agreement\n\nHow alike two proxies rank the cells both scored: Spearman rho of the oriented "
            "scores (negated when lower is better, so +1 = they prefer the same cells); no accuracy involved. "
            "Intervals: `nasi-harness compare STORE --agreement`."
        ]
        for values, rows in shown.groupby(keys, sort=True):
            info = dict(zip(keys, values))
            label = f"{info['space']} {info['dataset']}" + (
                f" {info['data']}/{info['labels']} b{info['batch_size']} s{info['seed']}" if many else ""
            )
            matrix = agreement_matrix(rows, "spearman")
            names = figures.ordered(list(matrix.index), self.order)
            matrix = matrix.loc[names, [c for c in names if c in matrix.columns]]
            paths = figures.heatmap(
                {"Spearman rho (oriented)": matrix},
                title=f"Proxy agreement, {label}",
                out_dir=self.fig_dir,
                stem=_slug("agreement", *(values if many else values[:2])),
                xlabel="proxy",
                cell_width=0.42,
                annotate=len(matrix) <= ANNOTATE_MAX,  # the values of a larger matrix are in agreement.csv
            )
            parts.append(self._figure(paths, f"Proxy x proxy agreement, {label}"))
        parts.append(f"Every pair (Spearman, Pearson, n): [{path.name}](tables/{path.name})")
        self.sections.append("\n\n".join(parts))

    def precision(self, results: pd.DataFrame, target: Target, styles: dict) -> None:
        curves = precision_curve(results, target, PRECISION_PERCENTS)
        if curves.empty:
            return
        curves_path = self.tab_dir / "precision_topk.csv"
        curves_path.write_text(tables.to_csv(frames.proxy_fields(curves, frames.prepare(results))))
        self.files.append(curves_path)
        reference = curves[
            (curves["data"] == frames.REFERENCE_MODE[0]) & (curves["labels"] == frames.REFERENCE_MODE[1])
        ]
        shown = reference if not reference.empty else curves
        keys = ["space", "dataset", "data", "labels", "batch_size", "seed"]
        panels = []
        for values, rows in shown.groupby(keys, sort=True):
            info = dict(zip(keys, values))
            title = f"{info['space']} {info['dataset']}"
            if shown[keys].drop_duplicates().shape[0] > len(shown[["space", "dataset"]].drop_duplicates()):
                title += f" {info['data']}/{info['labels']} b{info['batch_size']} s{info['seed']}"
            panels.append((title, rows))
        present = figures.ordered(list(shown["proxy"]), self.order)
        if self.precision_proxies:
            chosen, why = list(self.precision_proxies), "as asked"
        else:
            chosen, why = figures.choose_proxies(present), "the best five by rho, and nasi"
        paths = figures.precision_curves(
            shown, styles, panels=panels, out_dir=self.fig_dir, stem="precision_topk", proxies=chosen
        )
        caption = (
            f"Precision of the proxy's top-k% among the true top-k% for {', '.join(chosen)} ({why}; dashed: "
            "random, k/100)"
        )
        self.sections.append(
            "## Precision at top-k\n\n"
            + self._figure(paths, caption)
            + f"\n\nValues: [{curves_path.name}](tables/{curves_path.name})"
        )

    def agnostic(
        self,
        frame: pd.DataFrame,
        results: pd.DataFrame,
        target: Target | None,
        thresholds: Thresholds | None,
        styles: dict,
        n_boot: int,
        seed: int,
        level: float,
    ) -> None:
        found = agnosticism(results, target, thresholds=thresholds, n_boot=n_boot, seed=seed, level=level)
        table = found.table
        self.notes += found.notes
        if table.empty:
            self.sections.append(
                "## Agnosticism\n\nNo proxy was scored under both the reference mode (real data, true labels) and "
                "a swapped mode, so data/label agnosticism was not tested."
            )
            return
        table = table.assign(mode=table["data"] + "/" + table["labels"])
        verdicts = "\n".join(
            f"- **{r.proxy}** ({r.space} {r.dataset}, {r.mode}): {r.verdict_text}" for r in table.itertuples()
        )
        rule = describe_floor()
        parts = [
            "## Agnosticism",
            f"Yardstick: the proxy's own seed noise. The {rule[0].lower()}{rule[1:]}. Pearson r between the two "
            "score vectors (the measure NASI's paper reports) is in the table beside the rank agreements."
            + (f" Also: {thresholds.describe()}." if thresholds is not None else ""),
            verdicts,
        ]
        for (space, dataset), rows in table.groupby(["space", "dataset"], sort=True):
            pairs = self._pairs(frame, space, dataset, rows)
            stats = {
                (r.proxy, r.mode): f"τ = {format_estimate(r.kendall, *r.kendall_ci, 2)}\n"
                f"r = {r.pearson:.2f}: {r.verdict}"
                for r in rows.itertuples()
            }
            if not pairs.empty:
                scatter = figures.agreement_scatter(
                    pairs,
                    stats,
                    styles,
                    out_dir=self.fig_dir,
                    stem=_slug("agnostic_scatter", space, dataset),
                    order=self.order,
                )
                parts.append(self._figure(scatter, f"Reference against swapped scores, {space} {dataset}"))
            floor = figures.agnostic_floor(
                rows,
                out_dir=self.fig_dir,
                stem=_slug("agnostic_floor", space, dataset),
                title=f"Kendall τ(reference, swapped) against the seed floor, {space} {dataset}",
            )
            parts.append(
                self._figure(
                    floor,
                    f"Agreement with the reference scores against the seed floor, {space} {dataset} (rows: largest "
                    "drop below the floor first; dot: τ at the same seed on the cells every seed has, 95% CI; grey "
                    "band: τ between two seeds' reference scores, 95% CI)",
                )
            )
            if "pick@10" in rows.columns and rows["pick@10"].notna().any():
                picks = figures.pick_curves(
                    rows,
                    out_dir=self.fig_dir,
                    stem=_slug("agnostic_picks", space, dataset),
                    title=f"Accuracy of the pick from N random cells, {space} {dataset}: reference vs swapped scores",
                    order=figures.swap_effect_order(rows),
                )
                parts.append(
                    self._figure(
                        picks,
                        f"Sample-and-pick, {space} {dataset}: mean accuracy of the best-scored of N random cells "
                        "(the same samples for every mode); whiskers and band: 95% of single searches",
                    )
                )
        parts.append(self._table(table.drop(columns="mode"), "agnostic", tables.agnostic_columns))
        self.sections.append("\n\n".join(parts))

    @staticmethod
    def _pairs(frame: pd.DataFrame, space: str, dataset: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Per proxy x swapped mode, each cell's reference and swapped score (same cells, same batch/seed)."""
        out = []
        for r in rows.itertuples():
            common = frame[
                (frame["space"] == space)
                & (frame["dataset"] == dataset)
                & (frame["proxy"] == r.proxy)
                & (frame["batch_size"] == r.batch_size)
                & (frame["seed"] == r.seeds[0])
                & frame["usable"]
            ]
            ref = common[(common["data"] == frames.REFERENCE_MODE[0]) & (common["labels"] == frames.REFERENCE_MODE[1])]
            swap = common[(common["data"] == r.data) & (common["labels"] == r.labels)]
            both = pd.merge(ref[["index", "score"]], swap[["index", "score"]], on="index", suffixes=("_ref", "_swap"))
            out.append(
                pd.DataFrame({"proxy": r.proxy, "mode": r.mode, "ref": both["score_ref"], "swap": both["score_swap"]})
            )
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame()

    def write(self) -> Path:
        body = list(self.sections)
        if self.notes:
            body.append("## Notes\n\n" + "\n".join(f"- {n}" for n in dict.fromkeys(self.notes)))
        listing = sorted({p.relative_to(self.out).as_posix() for p in self.files})
        body.append("## Files\n\n" + "\n".join(f"- [{p}]({p})" for p in listing))
        path = self.out / "report.md"
        path.write_text("\n\n".join(body) + "\n")
        return path
