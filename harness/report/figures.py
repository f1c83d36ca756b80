"""The report's figures, each written as PNG (for the Markdown) and PDF (for a paper).

Figures are built on ``matplotlib.figure.Figure`` directly (the Agg canvas, no pyplot state), so the
report runs headless and never opens a window. Every axis is labelled, every proxy keeps its style from
:mod:`harness.report.palette`, and dense scatter plots become hexbin density plots (rasterised in the PDF).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from harness.report.palette import DEGENERATE_MARKER, NEUTRAL, Style

HEXBIN_ABOVE = 2000  # cells; above this a scatter plot is a blot, so show density instead
PANEL_COLUMNS = 5
DPI = 150


def save(fig: Figure, out_dir: Path, stem: str, tight: bool = True) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` under ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=DPI, bbox_inches="tight" if tight else None)
    fig.savefig(paths[1], bbox_inches="tight" if tight else None)
    return paths


# Panel grids have a fixed layout in inches: with 20 panels, matplotlib's automatic layouts (constrained,
# tight bbox) measure every tick label again and take most of the report's time.
_AXES_W, _AXES_H = 2.5, 1.95
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM, _SUPTITLE = 0.62, 0.12, 0.42, 0.45, 0.4


def _grid(count: int, axes_w: float = _AXES_W, axes_h: float = _AXES_H) -> tuple[Figure, list]:
    cols = max(1, min(PANEL_COLUMNS, count))
    rows = max(1, math.ceil(count / cols))
    cell_w = _PAD_LEFT + axes_w + _PAD_RIGHT
    cell_h = _PAD_TOP + axes_h + _PAD_BOTTOM
    width, height = cols * cell_w, rows * cell_h + _SUPTITLE
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    fig.subplots_adjust(
        left=_PAD_LEFT / width,
        right=1 - _PAD_RIGHT / width,
        bottom=_PAD_BOTTOM / height,
        top=1 - (_SUPTITLE + _PAD_TOP) / height,
        wspace=(_PAD_LEFT + _PAD_RIGHT) / axes_w,
        hspace=(_PAD_TOP + _PAD_BOTTOM) / axes_h,
    )
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _title(ax, name: str, detail: str) -> None:  # noqa: ANN001
    """Panel title: the name, then its statistics on a second line (above the data rather than over it)."""
    ax.set_title(name + (f"\n{detail}" if detail else ""), fontsize=7.5)


def _log_scale(values: np.ndarray) -> bool:
    """Scores spanning three or more decades of positive values read better on a log axis (synflow, NTK)."""
    finite = values[np.isfinite(values)]
    return finite.size > 1 and bool(np.all(finite > 0)) and finite.max() / finite.min() >= 1e3


def _density(ax, x: np.ndarray, y: np.ndarray, style: Style, log_x: bool) -> None:  # noqa: ANN001
    if x.size > HEXBIN_ABOVE:
        cmap = LinearSegmentedColormap.from_list("density", ["#FFFFFF", style.color])
        ax.hexbin(
            x,
            y,
            gridsize=40,
            bins="log",
            mincnt=1,
            cmap=cmap,
            xscale="log" if log_x else "linear",
            linewidths=0,
            rasterized=True,
        )
    else:
        size = 8 if x.size > 300 else 18  # few cells: bigger markers
        ax.scatter(x, y, s=size, color=style.color, marker=style.marker, alpha=0.7, linewidths=0, rasterized=True)
        if log_x:
            ax.set_xscale("log")


def score_vs_accuracy(
    cells: pd.DataFrame,
    stats: Mapping[str, str],
    styles: Mapping[str, Style],
    *,
    title: str,
    accuracy_label: str,
    out_dir: Path,
    stem: str,
) -> list[Path]:
    """One panel per proxy: score (x) against accuracy (y); degenerate cells as grey crosses.

    ``cells``: columns proxy, score, accuracy, degenerate. ``stats``: proxy -> text for the panel (rho, tau).
    """
    proxies = list(dict.fromkeys(cells["proxy"]))
    fig, axes = _grid(len(proxies))
    for ax, proxy in zip(axes, proxies):
        rows = cells[cells["proxy"] == proxy]
        x, y = rows["score"].to_numpy(float), rows["accuracy"].to_numpy(float)
        degenerate = rows["degenerate"].to_numpy(bool)
        log_x = _log_scale(x)
        _density(ax, x[~degenerate], y[~degenerate], styles[proxy], log_x)
        if degenerate.any():
            ax.scatter(
                x[degenerate],
                y[degenerate],
                s=14,
                marker=DEGENERATE_MARKER,
                color=NEUTRAL,
                linewidths=0.8,
                label=f"degenerate ({degenerate.sum()})",
                rasterized=True,
            )
            ax.legend(loc="lower right", fontsize=6, frameon=False)
        _title(ax, proxy, stats.get(proxy, ""))
        ax.set_xlabel("score" + (" (log scale)" if log_x else ""), fontsize=8)
        ax.set_ylabel(accuracy_label, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / fig.get_figheight(), va="top")
    return save(fig, out_dir, stem, tight=False)


def heatmap(
    matrices: Mapping[str, pd.DataFrame],
    *,
    title: str,
    out_dir: Path,
    stem: str,
    value_label: str = "correlation",
    xlabel: str = "dataset",
    ylabel: str = "proxy",
    cell_width: float = 0.9,
    annotate: bool = True,
) -> list[Path]:
    """Side-by-side heatmaps (proxy x dataset, or proxy x proxy), values written in the cells (``annotate``:
    each value is a text the layout measures, so a large matrix leaves them to its table).

    Diverging ColorBrewer PuOr (colour-blind safe), fixed to [-1, 1] so that colours compare across panels.
    """
    names = list(matrices)
    first = matrices[names[0]]
    width = 1.2 + cell_width * first.shape[1]
    value_size = 7 if cell_width >= 0.6 else 5.5
    fig = Figure(figsize=(width * len(names) + 1.2, 0.8 + 0.32 * max(first.shape[0], 3)), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False).ravel()
    image = None
    for ax, name in zip(axes, names):
        matrix = matrices[name]
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="PuOr", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index], fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(name, fontsize=9)
        for (i, j), v in np.ndenumerate(values if annotate else np.empty((0, 0))):
            text = "-" if not np.isfinite(v) else f"{v:.2f}"
            colour = "white" if abs(v) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=value_size, color=colour)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8, label=value_label)
    fig.suptitle(title, fontsize=10)
    return save(fig, out_dir, stem)


def agreement_scatter(
    pairs: pd.DataFrame, stats: Mapping[tuple[str, str], str], styles: Mapping[str, Style], *, out_dir: Path, stem: str
) -> list[Path]:
    """One panel per proxy x swapped mode: reference score (x) against swapped score (y), with the y = x line."""
    order = {p: i for i, p in enumerate(styles)}
    keys = sorted(dict.fromkeys(zip(pairs["proxy"], pairs["mode"])), key=lambda k: (order.get(k[0], 0), k))
    fig, axes = _grid(len(keys))
    for ax, (proxy, mode) in zip(axes, keys):
        rows = pairs[(pairs["proxy"] == proxy) & (pairs["mode"] == mode)]
        x, y = rows["ref"].to_numpy(float), rows["swap"].to_numpy(float)
        log_x = _log_scale(x) and _log_scale(y)
        _density(ax, x, y, styles[proxy], log_x)
        if log_x:
            ax.set_yscale("log")
        finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
        if finite.size:
            lo, hi = finite.min(), finite.max()
            ax.plot([lo, hi], [lo, hi], color=NEUTRAL, linewidth=0.8, linestyle="--", label="y = x")
        _title(ax, f"{proxy}: {mode}", stats.get((proxy, mode), ""))
        ax.set_xlabel("score, real data / true labels", fontsize=8)
        ax.set_ylabel(f"score, {mode}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        "Scores under swapped data/labels against the reference scores (same cells)",
        fontsize=10,
        y=1 - 0.12 / fig.get_figheight(),
        va="top",
    )
    return save(fig, out_dir, stem, tight=False)


HATCHES = ("", "///", "...", "xxx", "\\\\\\", "+++", "ooo", "---", "|||", "**", "OO", "//..", "xx..", "\\\\||")
MAX_WIDTH_IN = 28.0  # a figure any wider is unreadable on a page; the bars get thinner instead


def agreement_bars(
    table: pd.DataFrame,
    styles: Mapping[str, Style],
    *,
    thresholds: tuple[float, float],
    out_dir: Path,
    stem: str,
    measures: Sequence[tuple[str, str]] = (("kendall", "Kendall tau"), ("pearson", "Pearson r (NASI's measure)")),
) -> list[Path]:
    """Grouped bars: per proxy, one bar per swapped mode (hatch = mode), height = agreement, whiskers = 95% CI."""
    proxies = list(dict.fromkeys(table["proxy"]))
    modes = list(dict.fromkeys(table["mode"]))
    mode_hatch = {m: HATCHES[k % len(HATCHES)] for k, m in enumerate(modes)}  # repeats only past len(HATCHES)
    width = 0.8 / max(len(modes), 1)
    wide = min(MAX_WIDTH_IN, max(6.0, 0.55 * len(proxies) * max(len(modes), 1) + 2))
    fig = Figure(figsize=(wide, 3.2 * len(measures)), layout="constrained")
    axes = fig.subplots(len(measures), 1, squeeze=False).ravel()
    for ax, (column, label) in zip(axes, measures):
        for j, mode in enumerate(modes):
            for i, proxy in enumerate(proxies):
                row = table[(table["proxy"] == proxy) & (table["mode"] == mode)]
                if row.empty:
                    continue
                value = float(row[column].iloc[0])
                lo, hi = row[f"{column}_ci"].iloc[0]
                x = i - 0.4 + width * (j + 0.5)
                ax.bar(
                    x,
                    value,
                    width=width * 0.9,
                    color=styles[proxy].color,
                    hatch=mode_hatch[mode],
                    edgecolor="white" if not mode_hatch[mode] else "#333333",
                    linewidth=0.4,
                )
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.errorbar(
                        x,
                        value,
                        yerr=[[max(value - lo, 0)], [max(hi - value, 0)]],
                        color="#333333",
                        capsize=2,
                        linewidth=0.8,
                    )
        if column == "kendall":
            ax.axhline(thresholds[0], color=NEUTRAL, linestyle="--", linewidth=0.8, label=f"holds >= {thresholds[0]}")
            ax.axhline(thresholds[1], color=NEUTRAL, linestyle=":", linewidth=0.8, label=f"fails < {thresholds[1]}")
        ax.set_xticks(range(len(proxies)), proxies, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.set_xlabel("proxy", fontsize=8)
        ax.set_ylim(min(-0.05, float(np.nanmin(table[column])) - 0.1), 1.05)
        ax.axhline(0, color="black", linewidth=0.5)
        handles = [Patch(facecolor="white", edgecolor="#333333", hatch=mode_hatch[m], label=m) for m in modes]
        line_handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles=handles + line_handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    fig.suptitle("Agreement of swapped-mode scores with reference scores (95% bootstrap intervals)", fontsize=10)
    return save(fig, out_dir, stem)


def precision_curves(
    curves: pd.DataFrame,
    styles: Mapping[str, Style],
    *,
    panels: Sequence[tuple[str, pd.DataFrame]],
    out_dir: Path,
    stem: str,
) -> list[Path]:
    """Precision of the proxy's top-k% among the true top-k%, against k (log axis), one panel per dataset."""
    cols = max(1, min(3, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = Figure(figsize=(4.2 * cols + 1.4, 3.2 * rows + 0.5), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in grid[len(panels) :]:
        ax.set_visible(False)
    axes = grid[: len(panels)]
    for ax, (title, rows) in zip(axes, panels):
        for proxy in dict.fromkeys(rows["proxy"]):
            curve = rows[rows["proxy"] == proxy].sort_values("percent")
            style = styles[proxy]
            ax.plot(
                curve["percent"],
                curve["precision"],
                color=style.color,
                linestyle=style.linestyle,
                marker=style.marker,
                markersize=3.5,
                linewidth=1.2,
                label=proxy,
            )
        ks = np.array(sorted(set(rows["percent"])))
        ax.plot(ks, ks / 100, color=NEUTRAL, linestyle="--", linewidth=0.8, label="random")
        ax.set_xscale("log")
        ax.set_xticks(ks, [f"{k:g}" for k in ks])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("k (% of cells)", fontsize=8)
        ax.set_ylabel("precision at top-k%", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    legend: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle("Precision of each proxy's top-k% among the true top-k%", fontsize=10)
    return save(fig, out_dir, stem)
