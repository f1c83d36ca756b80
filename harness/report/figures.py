"""The report's figures, each written as PNG (for the Markdown) and PDF (for a paper).

Sized for a paper: no figure is wider than ``MAX_WIDTH_IN`` (a two-column page's text width), no text is
smaller than ``MIN_FONT_PT`` at that size, and a figure of many panels is split into pages of at most
``PANELS_PER_PAGE`` panels (``stem_p1``, ``stem_p2``, ...) instead of one image too tall to print. Proxies
appear in the order the caller gives (the report passes them best rho first), never alphabetically.

Figures are built on ``matplotlib.figure.Figure`` directly (the Agg canvas, no pyplot state), so the
report runs headless and never opens a window. Every axis is labelled, every proxy keeps its style from
:mod:`harness.report.palette`, and dense scatter plots become hexbin density plots (rasterised in the PDF).
A few extreme scores must not squash a panel into a vertical line, so score axes get robust limits
(:func:`robust_limits`), say so in their label, and draw the cells beyond them as triangles at the edge.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from harness.report.palette import DEGENERATE_MARKER, LINESTYLES, MARKERS, NEUTRAL, OKABE_ITO, Style

HEXBIN_ABOVE = 2000  # cells; above this a scatter plot is a blot, so show density instead
PANEL_COLUMNS = 3
PANELS_PER_PAGE = 12
MAX_WIDTH_IN = 7.0  # a paper's full text width; every figure fits it
MIN_FONT_PT = 7.0  # legible in print at MAX_WIDTH_IN
TITLE_PT = 9.0
DPI = 150
ROBUST_PERCENTILES = (1.0, 99.0)
FAR = 0.25  # a value further than FAR x (1st-99th percentile span) beyond those percentiles is an outlier

T = TypeVar("T")


def save(fig: Figure, out_dir: Path, stem: str, tight: bool = False) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` under ``out_dir``; return both paths. Not ``tight`` by default: the
    layouts here already fit their text inside the figure, and a tight box would pad it past its set width."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=DPI, bbox_inches="tight" if tight else None)
    # no creation date: a report rebuilt from the same results writes the same PDF bytes, so a diff shows real changes
    fig.savefig(paths[1], bbox_inches="tight" if tight else None, metadata={"CreationDate": None})
    return paths


def paginate(items: Sequence[T], per_page: int = PANELS_PER_PAGE, group: Callable[[T], Hashable] | None = None):
    """``items`` in pages of at most ``per_page``, in order; items of one ``group`` (say, one proxy's modes) are
    kept on one page when they fit on one, so a reader finds a proxy's panels together."""
    if group is None:
        return [list(items[i : i + per_page]) for i in range(0, len(items), per_page)] or [[]]
    runs: list[list[T]] = []
    for item in items:
        if runs and group(runs[-1][-1]) == group(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    pages: list[list[T]] = []
    for run in runs:
        for start in range(0, len(run), per_page):
            chunk = run[start : start + per_page]
            if pages and len(pages[-1]) + len(chunk) <= per_page:
                pages[-1].extend(chunk)
            else:
                pages.append(list(chunk))
    return pages or [[]]


def page_stems(stem: str, count: int) -> list[str]:
    """One page keeps ``stem``; several are ``stem_p1`` ... ``stem_pN``."""
    return [stem] if count == 1 else [f"{stem}_p{k}" for k in range(1, count + 1)]


def _page_title(title: str, k: int, count: int) -> str:
    return title + (f" (page {k} of {count})" if count > 1 else "")


def ordered(names: Sequence[str], order: Sequence[str] | None) -> list[str]:
    """``names`` in ``order`` (the report's rho ranking); names it lacks keep their own order, after it."""
    unique = list(dict.fromkeys(names))
    if not order:
        return unique
    rank = {p: i for i, p in enumerate(order)}
    return sorted(unique, key=lambda p: (rank.get(p, len(rank)), unique.index(p)))


# Panel grids have a fixed layout in inches: with 12 panels, matplotlib's automatic layouts (constrained,
# tight bbox) measure every tick label again and take most of the report's time. Three columns fill 7 inches.
_CELL_W = MAX_WIDTH_IN / PANEL_COLUMNS
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 0.62, 0.1, 0.5, 0.6
_TITLE_CHAR_IN = 0.075  # width of an average character of a TITLE_PT title, with some room


def wrap(title: str, width_in: float) -> str:
    """``title`` broken into lines that fit ``width_in`` inches at ``TITLE_PT`` (a narrow figure's title would
    otherwise run off both sides)."""
    return textwrap.fill(title, max(20, int(width_in / _TITLE_CHAR_IN)))


_AXES_H = 1.45


def _grid(count: int, title: str) -> tuple[Figure, list]:
    """A page of ``count`` panels, at most ``PANEL_COLUMNS`` wide, with ``title`` above them (a lone panel
    gets half as much width again: a one-proxy study is one figure in a column of text)."""
    cols = max(1, min(PANEL_COLUMNS, count))
    rows = max(1, math.ceil(count / cols))
    cell_w = _CELL_W * (1.5 if count == 1 else 1.0)
    axes_w = cell_w - _PAD_LEFT - _PAD_RIGHT
    width = cols * cell_w
    title = wrap(title, width)
    suptitle = 0.12 + 0.17 * (title.count("\n") + 1)
    height = rows * (_PAD_TOP + _AXES_H + _PAD_BOTTOM) + suptitle
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    fig.subplots_adjust(
        left=_PAD_LEFT / width,
        right=1 - _PAD_RIGHT / width,
        bottom=_PAD_BOTTOM / height,
        top=1 - (suptitle + _PAD_TOP) / height,
        wspace=(_PAD_LEFT + _PAD_RIGHT) / axes_w,
        hspace=(_PAD_TOP + _PAD_BOTTOM) / _AXES_H,
    )
    for ax in axes[count:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=TITLE_PT, y=1 - 0.08 / height, va="top")
    return fig, axes[:count]


def _title(ax, name: str, detail: str) -> None:  # noqa: ANN001
    """Panel title: the name, then its statistics below it (above the data rather than over it)."""
    ax.set_title(name + (f"\n{detail}" if detail else ""), fontsize=MIN_FONT_PT, linespacing=1.1)


def _finite(values: np.ndarray, log: bool = False) -> np.ndarray:
    keep = np.isfinite(values) & ((values > 0) if log else True)
    return values[keep]


def _log_scale(values: np.ndarray) -> bool:
    """Scores whose bulk (1st-99th percentile) spans three or more decades of positive values read better on a
    log axis (synflow, NTK); one outlier alone does not make an axis logarithmic."""
    finite = values[np.isfinite(values)]
    if finite.size < 2 or not bool(np.all(finite > 0)):
        return False
    lo, hi = np.percentile(finite, ROBUST_PERCENTILES) if finite.size >= 20 else (finite.min(), finite.max())
    return bool(hi / lo >= 1e3)


def robust_limits(values: np.ndarray, log: bool = False, bulk: np.ndarray | None = None) -> tuple[float, float] | None:
    """Axis limits that outliers cannot squash: on a side where values lie further than ``FAR`` x the
    1st-99th percentile span beyond its percentile, the axis ends just past the last value within that reach
    (so only those far values fall outside). ``None`` when no side needs cutting (then the axis shows
    everything, as usual). Computed on log10 values for a log axis. ``bulk`` (default ``values``): the values
    the percentiles are taken of, e.g. the non-degenerate cells, whose axis a degenerate cell's score (az_nas
    gives them -1e6) must not squash either."""
    finite = _finite(values, log)
    reference = finite if bulk is None else _finite(bulk, log)
    if reference.size < 20:
        return None
    v = np.log10(finite) if log else finite
    p_lo, p_hi = np.percentile(np.log10(reference) if log else reference, ROBUST_PERCENTILES)
    span = p_hi - p_lo
    if span <= 0:
        return None
    near = v[(v >= p_lo - FAR * span) & (v <= p_hi + FAR * span)]
    if near.size == v.size:
        return None
    margin = 0.04 * (near.max() - near.min())
    lo, hi = near.min() - margin, near.max() + margin
    return (10**lo, 10**hi) if log else (float(lo), float(hi))


ROBUST_AXIS_NOTE = f"(axis: 1st-99th pct ± {FAR:.0%})"


def _clip_note(limits: tuple[float, float] | None, beyond: int) -> str:
    plural = "s" if beyond != 1 else ""
    return f"; {beyond} far outlier{plural} at edge ▸\n{ROBUST_AXIS_NOTE}" if limits is not None and beyond else ""


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
        size = 6 if x.size > 300 else 14  # few cells: bigger markers
        ax.scatter(x, y, s=size, color=style.color, marker=style.marker, alpha=0.7, linewidths=0, rasterized=True)
        if log_x:
            ax.set_xscale("log")


def _beyond(ax, x: np.ndarray, y: np.ndarray, limits: tuple[float, float]) -> int:  # noqa: ANN001
    """Cells outside ``limits`` drawn as grey triangles on the edge they lie beyond; returns how many."""
    lo, hi = limits
    count = 0
    for side, marker, mask in ((lo, "<", x < lo), (hi, ">", x > hi)):
        if mask.any():
            ax.scatter(np.full(mask.sum(), side), y[mask], s=12, marker=marker, color=NEUTRAL, clip_on=False)
            count += int(mask.sum())
    return count


def score_vs_accuracy(
    cells: pd.DataFrame,
    stats: Mapping[str, str],
    styles: Mapping[str, Style],
    *,
    title: str,
    accuracy_label: str,
    out_dir: Path,
    stem: str,
    order: Sequence[str] | None = None,
) -> list[Path]:
    """One panel per proxy (in ``order``): score (x) against accuracy (y); degenerate cells as grey crosses;
    pages of ``PANELS_PER_PAGE``. Returns each page's PNG and PDF, in page order.

    ``cells``: columns proxy, score, accuracy, degenerate. ``stats``: proxy -> text for the panel (rho, tau).
    """
    proxies = ordered(list(cells["proxy"]), order)
    pages = paginate(proxies)
    paths: list[Path] = []
    for k, (page, page_stem) in enumerate(zip(pages, page_stems(stem, len(pages))), start=1):
        fig, axes = _grid(len(page), _page_title(title, k, len(pages)))
        for ax, proxy in zip(axes, page):
            rows = cells[cells["proxy"] == proxy]
            x, y = rows["score"].to_numpy(float), rows["accuracy"].to_numpy(float)
            degenerate = rows["degenerate"].to_numpy(bool)
            log_x = _log_scale(x[~degenerate])
            limits = robust_limits(x, log_x, bulk=x[~degenerate])
            inside = np.ones(x.size, bool) if limits is None else (x >= limits[0]) & (x <= limits[1])
            _density(ax, x[~degenerate & inside], y[~degenerate & inside], styles[proxy], log_x)
            if degenerate.any():  # crosses, on the edge when beyond it (a sentinel score is no outlier)
                shown = x if limits is None else np.clip(x, *limits)
                at_edge = int((degenerate & ~inside).sum())
                ax.scatter(
                    shown[degenerate],
                    y[degenerate],
                    s=10,
                    marker=DEGENERATE_MARKER,
                    color=NEUTRAL,
                    linewidths=0.7,
                    label=f"degenerate ({degenerate.sum()}{f', {at_edge} at edge' if at_edge else ''})",
                    rasterized=True,
                    clip_on=False,
                )
                ax.legend(loc="lower right", fontsize=MIN_FONT_PT, frameon=False, handletextpad=0.2)
            beyond = 0
            if limits is not None:
                beyond = _beyond(ax, x[~degenerate], y[~degenerate], limits)
                ax.set_xlim(*limits)
            _title(ax, proxy, stats.get(proxy, ""))
            note = _clip_note(limits, beyond) or (f"\n{ROBUST_AXIS_NOTE}" if limits is not None else "")
            ax.set_xlabel("score" + (" (log axis)" if log_x else "") + note, fontsize=MIN_FONT_PT)
            ax.set_ylabel(accuracy_label, fontsize=MIN_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT)
        paths += save(fig, out_dir, page_stem)
    return paths


def correlation_dots(
    table: pd.DataFrame,
    styles: Mapping[str, Style],
    *,
    title: str,
    out_dir: Path,
    stem: str,
    measures: Sequence[tuple[str, str]] = (("spearman", "Spearman ρ"), ("kendall", "Kendall τ")),
) -> list[Path]:
    """One dataset's correlations as dots with their intervals, one row per proxy in the table's order (the
    report sorts it by rho, best on top): a one-column heatmap would show the same numbers without intervals.

    ``table``: columns proxy, and per measure ``m`` the value ``m`` and its interval ``m_ci`` (lo, hi).
    """
    proxies = list(dict.fromkeys(table["proxy"]))
    height = 0.9 + 0.17 * max(len(proxies), 3)
    fig = Figure(figsize=(min(MAX_WIDTH_IN, 2.6 + 2.2 * len(measures)), height), layout="constrained")
    axes = fig.subplots(1, len(measures), squeeze=False, sharey=True).ravel()
    rows = np.arange(len(proxies))
    for ax, (column, label) in zip(axes, measures):
        for i, proxy in enumerate(proxies):
            row = table[table["proxy"] == proxy].iloc[0]
            value, (lo, hi) = float(row[column]), row[f"{column}_ci"]
            style = styles[proxy]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [i, i], color=style.color, linewidth=1.2, solid_capstyle="butt")
            ax.plot([value], [i], marker=style.marker, color=style.color, markersize=4, linestyle="none")
        ax.axvline(0, color=NEUTRAL, linewidth=0.6)
        ax.set_xlim(-1, 1)
        ax.set_xticks([-1, -0.5, 0, 0.5, 1], ["−1", "−0.5", "0", "0.5", "1"])  # 0.25 steps crowd a 3-inch panel
        ax.set_xticks([-0.75, -0.25, 0.25, 0.75], minor=True)
        ax.set_xlabel(f"{label} with accuracy (signed; bar: 95% CI)", fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.grid(axis="x", which="both", color="#DDDDDD", linewidth=0.5)
    axes[0].set_yticks(rows, proxies, fontsize=MIN_FONT_PT)
    axes[0].set_ylim(len(proxies) - 0.5, -0.5)  # best on top
    axes[0].set_ylabel("proxy (best ρ first)", fontsize=MIN_FONT_PT)
    fig.suptitle(wrap(title, fig.get_figwidth()), fontsize=TITLE_PT)
    return save(fig, out_dir, stem)


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
    """Side-by-side heatmaps (proxy x dataset, or proxy x proxy) in the matrices' row order, values written in
    the cells (``annotate``) while a cell is wide enough for them at ``MIN_FONT_PT``.

    Cells narrow to keep the figure within ``MAX_WIDTH_IN``. Diverging ColorBrewer PuOr (colour-blind safe),
    fixed to [-1, 1] so that colours compare across panels.
    """
    names = list(matrices)
    first = matrices[names[0]]
    label_w, colorbar_w = 1.6, 0.9  # tick labels of each panel; the shared colour bar
    room = (MAX_WIDTH_IN - colorbar_w) / len(names) - label_w
    cell_w = max(0.12, min(cell_width, room / max(first.shape[1], 1)))
    cell_h = min(0.3, max(0.14, cell_w))
    annotate = annotate and cell_w >= 0.34
    width = min(MAX_WIDTH_IN, (label_w + cell_w * first.shape[1]) * len(names) + colorbar_w)
    height = 1.3 + (0.6 if xlabel == "proxy" else 0) + cell_h * max(first.shape[0], 3)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False).ravel()
    image = None
    for ax, name in zip(axes, names):
        matrix = matrices[name]
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="PuOr", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right")
        ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.set_xlabel(xlabel, fontsize=MIN_FONT_PT)
        ax.set_ylabel(ylabel, fontsize=MIN_FONT_PT)
        ax.set_title(name, fontsize=MIN_FONT_PT + 1)
        for (i, j), v in np.ndenumerate(values if annotate else np.empty((0, 0))):
            text = "-" if not np.isfinite(v) else f"{v:.2f}"
            colour = "white" if abs(v) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=MIN_FONT_PT, color=colour)
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), shrink=0.8)
        bar.set_label(value_label, fontsize=MIN_FONT_PT)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
    fig.suptitle(wrap(title, fig.get_figwidth()), fontsize=TITLE_PT)
    return save(fig, out_dir, stem)


def agreement_scatter(
    pairs: pd.DataFrame,
    stats: Mapping[tuple[str, str], str],
    styles: Mapping[str, Style],
    *,
    out_dir: Path,
    stem: str,
    order: Sequence[str] | None = None,
) -> list[Path]:
    """One panel per proxy x swapped mode (proxies in ``order``): reference score (x) against swapped score
    (y), with the y = x line; pages of ``PANELS_PER_PAGE``, a proxy's modes kept on one page where they fit."""
    proxies = ordered(list(pairs["proxy"]), order or list(styles))
    rank = {p: i for i, p in enumerate(proxies)}
    keys = sorted(dict.fromkeys(zip(pairs["proxy"], pairs["mode"])), key=lambda k: (rank[k[0]], k[1]))
    pages = paginate(keys, group=lambda k: k[0])
    paths: list[Path] = []
    for n, (page, page_stem) in enumerate(zip(pages, page_stems(stem, len(pages))), start=1):
        title = "Scores under swapped data/labels against the reference scores (dashed: y = x)"
        fig, axes = _grid(len(page), _page_title(title, n, len(pages)))
        for ax, (proxy, mode) in zip(axes, page):
            rows = pairs[(pairs["proxy"] == proxy) & (pairs["mode"] == mode)]
            x, y = rows["ref"].to_numpy(float), rows["swap"].to_numpy(float)
            log_x = _log_scale(x) and _log_scale(y)
            x_lim, y_lim = robust_limits(x, log_x), robust_limits(y, log_x)
            inside = np.ones(x.size, bool)
            for lim, v in ((x_lim, x), (y_lim, y)):
                if lim is not None:
                    inside &= (v >= lim[0]) & (v <= lim[1])
            _density(ax, x[inside], y[inside], styles[proxy], log_x)
            if log_x:
                ax.set_yscale("log")
            finite = np.concatenate([x[inside & np.isfinite(x)], y[inside & np.isfinite(y)]])
            if finite.size:
                lo, hi = finite.min(), finite.max()
                ax.plot([lo, hi], [lo, hi], color=NEUTRAL, linewidth=0.8, linestyle="--")
            if x_lim is not None:
                ax.set_xlim(*x_lim)
            if y_lim is not None:
                ax.set_ylim(*y_lim)
            note = (
                ""
                if inside.all()
                else f"\n{int((~inside).sum())} far outlier(s) not drawn\n{ROBUST_AXIS_NOTE.replace('axis', 'axes')}"
            )
            _title(ax, f"{proxy}: {mode}", stats.get((proxy, mode), ""))
            ax.set_xlabel("score, real data / true labels" + note, fontsize=MIN_FONT_PT)
            ax.set_ylabel(f"score, {mode}", fontsize=MIN_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT)
        paths += save(fig, out_dir, page_stem)
    return paths


FLOOR_COLOUR = "#D9D9D9"  # the seed floor's interval band
WITHIN_COLOUR, BEYOND_COLOUR, NO_FLOOR_COLOUR = "#0072B2", "#D55E00", "#000000"  # Okabe-Ito blue, vermillion
MODE_COLUMNS = 4  # swapped modes side by side at MAX_WIDTH_IN


def swap_effect_order(table: pd.DataFrame) -> list[str]:
    """Proxies by the swap's effect relative to the seed floor, largest drop first: mean tau_swap - floor over
    the swapped modes (tau_swap - 1 where a proxy has no floor)."""
    effect = table["delta_kendall"].where(table["delta_kendall"].notna(), table["kendall"] - 1.0)
    mean = effect.groupby(table["proxy"], sort=False).mean()
    return [str(p) for p in mean.sort_values(kind="stable").index]


TAU_EDGE = 0.004  # 1 - tau below this (tau > 0.996) is drawn at the axis' edge
TAU_TICKS = (0.99, 0.95, 0.8, 0.5, -0.5)


def _discord(tau: object) -> np.ndarray:
    """x position of a Kendall tau: 1 - tau (twice the share of cell pairs ordered differently), on a log axis,
    so that 0.95 against 0.85 is as visible as 0.5 against -0.5 and no low tau squashes the high ones."""
    return np.clip(1.0 - np.asarray(tau, dtype=float), TAU_EDGE, 2.0)


def _tau_axis(ax, values: np.ndarray) -> None:  # noqa: ANN001
    """Log axis of 1 - tau, tau increasing to the right, ticks labelled in tau."""
    v = _discord(values[np.isfinite(values)]) if np.isfinite(values).any() else np.array([TAU_EDGE, 1.0])
    lo, hi = max(TAU_EDGE / 1.3, float(v.min()) / 1.4), min(2.2, float(v.max()) * 1.4)
    ax.set_xscale("log")
    ticks = [t for t in TAU_TICKS if lo <= 1 - t <= hi]
    ax.set_xticks([TAU_EDGE, *(1 - t for t in ticks)], ["1", *(f"{t:g}" for t in ticks)])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(hi, lo)  # reversed: agreement grows to the right


def agnostic_floor(table: pd.DataFrame, *, out_dir: Path, stem: str, title: str = "") -> list[Path]:
    """Per swapped mode (panels), per proxy (rows, largest drop below the seed floor at the top): Kendall tau
    between reference and swapped scores with its 95% interval (dot), against the seed floor (grey band: its
    95% interval; tick: the floor). Dots are coloured by the verdict. ``table``: the agnosticism rows of one
    space and dataset (with ``mode``)."""
    proxies = swap_effect_order(table)
    modes = list(dict.fromkeys(table["mode"]))
    cols = max(1, min(MODE_COLUMNS, len(modes)))
    panel_rows = math.ceil(len(modes) / cols)
    row_h = 0.2
    axes_h = row_h * len(proxies) + 0.25
    label_w = 0.12 + 0.065 * max(len(p) for p in proxies)
    heading = title or "Agreement of swapped-mode scores with the reference scores, against the seed floor"
    heading = wrap(heading + " (x: log scale of 1 − τ; τ > 0.996 at the edge, 1)", MAX_WIDTH_IN)
    title_h = 0.2 + 0.17 * (heading.count("\n") + 1)
    height = panel_rows * (axes_h + 0.55) + 0.6 + title_h
    fig = Figure(figsize=(MAX_WIDTH_IN, height))
    grid = fig.subplots(panel_rows, cols, squeeze=False, sharey=True)
    fig.subplots_adjust(
        left=label_w / MAX_WIDTH_IN,
        right=1 - 0.1 / MAX_WIDTH_IN,
        top=1 - (title_h + 0.2) / height,
        bottom=0.75 / height,
        wspace=0.08,
        hspace=0.55 / axes_h,
    )
    has_floor = table["floor_kendall"].notna()
    tau = np.where(has_floor, table.get("kendall_common", table["kendall"]), table["kendall"]).astype(float)
    tau_ci = [
        ci if f else k
        for f, ci, k in zip(has_floor, table.get("kendall_common_ci", table["kendall_ci"]), table["kendall_ci"])
    ]
    values = np.concatenate(
        [tau, [c for ci in tau_ci for c in ci], [c for ci in table["floor_kendall_ci"] for c in ci]]
    )
    values = np.asarray(values, dtype=float)
    y_of = {p: len(proxies) - 1 - i for i, p in enumerate(proxies)}
    for k, ax in enumerate(grid.ravel()):
        if k >= len(modes):
            ax.set_visible(False)
            continue
        mode = modes[k]
        rows = table.assign(tau_plot=tau, ci_plot=tau_ci)[table["mode"] == mode]
        for r in rows.itertuples():
            y = y_of[r.proxy]
            if np.isfinite(r.floor_kendall):
                lo, hi = _discord(r.floor_kendall_ci)
                ax.fill_betweenx(
                    [y - 0.35, y + 0.35], hi, lo * 0.97 if lo == hi else lo, color=FLOOR_COLOUR, linewidth=0
                )
                ax.plot([_discord(r.floor_kendall)] * 2, [y - 0.35, y + 0.35], color=NEUTRAL, linewidth=1.0)
            colour = {"within seed noise": WITHIN_COLOUR, "beyond seed noise": BEYOND_COLOUR}.get(
                r.verdict, NO_FLOOR_COLOUR
            )
            x, (lo, hi) = _discord(r.tau_plot), _discord(r.ci_plot)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y, y], color=colour, linewidth=1.0)
            ax.scatter([x], [y], s=14, color=colour, zorder=3, clip_on=False)
        _tau_axis(ax, values)
        ax.set_ylim(-0.6, len(proxies) - 0.4)
        ax.set_yticks(range(len(proxies)), list(reversed(proxies)), fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT, length=2)
        ax.grid(axis="x", color="#EEEEEE", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_title(mode, fontsize=MIN_FONT_PT + 0.5)
        if k // cols == panel_rows - 1 or k + cols >= len(modes):
            ax.set_xlabel("Kendall τ", fontsize=MIN_FONT_PT)
    handles = [
        Patch(facecolor=FLOOR_COLOUR, edgecolor=NEUTRAL, label="seed floor: τ between two seeds (95% CI)"),
        Line2D([], [], color=WITHIN_COLOUR, marker="o", markersize=4, label="swap within seed noise"),
        Line2D([], [], color=BEYOND_COLOUR, marker="o", markersize=4, label="swap beyond seed noise"),
    ]
    if (~has_floor).any():
        handles.append(Line2D([], [], color=NO_FLOOR_COLOUR, marker="o", markersize=4, label="no seed floor (1 seed)"))
    fig.legend(handles=handles, fontsize=MIN_FONT_PT, frameon=False, loc="lower center", ncols=2)
    fig.suptitle(heading, fontsize=TITLE_PT, y=1 - 0.08 / height, va="top")
    return save(fig, out_dir, stem)


def pick_curves(
    table: pd.DataFrame,
    *,
    out_dir: Path,
    stem: str,
    prefix: str = "",
    title: str = "",
    order: Sequence[str] | None = None,
) -> list[Path]:
    """Sample-and-pick: mean accuracy of the best-scored cell of N random cells (log x) with the reference
    scores (black, grey band: 95% bootstrap CI over cells) and each swapped mode (colour + marker + line style,
    whiskers: the same CI, offset a little in N so they do not overlap); one panel per proxy (``order``).
    ``prefix``: a transfer dataset's fields (``cifar100:``)."""
    from harness.analysis.decisions import pick_sizes

    sizes = pick_sizes([c[len(prefix) :] for c in table.columns if c.startswith(prefix)])
    proxies = ordered(list(table["proxy"]), order)
    modes = list(dict.fromkeys(table["mode"]))
    palette = [c for c in OKABE_ITO if c != "#000000"]  # black is the reference's
    colours = {m: palette[i % len(palette)] for i, m in enumerate(modes)}
    markers = {m: MARKERS[(i // len(palette)) % len(MARKERS)] for i, m in enumerate(modes)}
    dashes = {m: LINESTYLES[(i // len(palette)) % len(LINESTYLES)] for i, m in enumerate(modes)}
    pages = paginate(proxies)
    paths: list[Path] = []
    heading = title or "Accuracy of the pick from N random cells: reference against swapped scores"
    for n_page, (page, page_stem) in enumerate(zip(pages, page_stems(stem, len(pages))), start=1):
        fig, axes = _grid(len(page), _page_title(heading, n_page, len(pages)))
        spare = [ax for ax in fig.axes if not ax.get_visible()]  # empty slots of the last row hold the legend
        if not spare:
            legend_rows = math.ceil((len(modes) + 1) / 3)
            extra = 0.2 * legend_rows + 0.1
            w, h = fig.get_size_inches()
            fig.set_size_inches(w, h + extra)
            for ax in fig.axes:  # the panels keep their place in inches: the legend goes in the new room below
                box = ax.get_position()
                ax.set_position([box.x0, (box.y0 * h + extra) / (h + extra), box.width, box.height * h / (h + extra)])
            if fig._suptitle is not None:
                fig._suptitle.set_y(1 - 0.08 / (h + extra))
        for ax, proxy in zip(axes, page):
            rows = table[table["proxy"] == proxy]
            spans: list[float] = []
            ref = rows.iloc[0]
            ns = [s for s in sizes if np.isfinite(ref.get(f"{prefix}pick@{s}_ref", np.nan))]
            ref_mean = [ref[f"{prefix}pick@{s}_ref"] for s in ns]
            ref_ci = np.array([ref[f"{prefix}pick@{s}_ref_ci"] for s in ns], dtype=float).reshape(-1, 2)
            if ns:
                ax.fill_between(ns, ref_ci[:, 0], ref_ci[:, 1], color=FLOOR_COLOUR, linewidth=0)
                ax.plot(ns, ref_mean, color="black", marker="o", markersize=3, linewidth=1.2)
                spans += [*ref_mean, *ref_ci.ravel()]
            for j, mode in enumerate(modes):
                got = rows[rows["mode"] == mode]
                if got.empty or not ns:
                    continue
                r = got.iloc[0]
                shift = 1.0 + 0.05 * (j + 1)
                mean = np.array([r[f"{prefix}pick@{s}"] for s in ns], dtype=float)
                ci = np.array([r[f"{prefix}pick@{s}_ci"] for s in ns], dtype=float).reshape(-1, 2)
                x = np.array(ns, dtype=float) * shift
                ax.errorbar(
                    x,
                    mean,
                    yerr=[np.maximum(mean - ci[:, 0], 0), np.maximum(ci[:, 1] - mean, 0)],
                    color=colours[mode],
                    marker=markers[mode],
                    linestyle=dashes[mode],
                    markersize=2.5,
                    linewidth=0.9,
                    elinewidth=0.6,
                    capsize=1.2,
                )
                spans += [*mean, *ci.ravel()]
            ax.set_xscale("log")
            if ns:
                ax.set_xticks(ns, [str(s) for s in ns])
                ax.set_xlim(min(ns) / 1.5, max(ns) * (1.6 + 0.05 * len(modes)))
                ax.xaxis.set_minor_locator(NullLocator())
            finite = np.asarray(spans, dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size:  # a far-off interval end is cut rather than squashing the panel
                p10, p90 = np.percentile(finite, [10, 90])
                reach = max(0.5, p90 - p10)
                lo = max(float(np.min(finite)), p10 - reach)
                hi = min(float(np.max(finite)), p90 + reach)
                ax.set_ylim(lo - 0.05 * (hi - lo + 0.1), hi + 0.05 * (hi - lo + 0.1))
            _title(ax, proxy, "")
            ax.set_xlabel("N cells sampled", fontsize=MIN_FONT_PT)
            ax.set_ylabel(f"{prefix.rstrip(':') or 'accuracy'} of pick (%)", fontsize=MIN_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT)
        handles = [Line2D([], [], color="black", marker="o", markersize=3, label="reference (band: 95% CI)")]
        handles += [
            Line2D([], [], color=colours[m], marker=markers[m], linestyle=dashes[m], markersize=3, label=m)
            for m in modes
        ]
        if spare:
            holder = spare[0]
            holder.set_visible(True)
            holder.axis("off")
            holder.legend(handles=handles, fontsize=MIN_FONT_PT, frameon=False, loc="center", ncols=len(spare))
        else:
            fig.legend(handles=handles, fontsize=MIN_FONT_PT, frameon=False, loc="lower center", ncols=3)
        paths += save(fig, out_dir, page_stem)
    return paths


def choose_proxies(order: Sequence[str], best: int = 5, always: Sequence[str] = ("nasi",)) -> list[str]:
    """The proxies a precision@k figure draws: the ``best`` first of ``order`` (best rho first) and ``always``
    (where present), in ``order``; 26 overlapping lines tell a reader nothing."""
    chosen = list(order[:best]) + [p for p in always if p in order and p not in order[:best]]
    return ordered(chosen, order)


def precision_curves(
    curves: pd.DataFrame,
    styles: Mapping[str, Style],
    *,
    panels: Sequence[tuple[str, pd.DataFrame]],
    out_dir: Path,
    stem: str,
    proxies: Sequence[str] | None = None,
) -> list[Path]:
    """Precision of the proxy's top-k% among the true top-k%, against k (log axis), one panel per dataset, for
    ``proxies`` (default all, in the curves' order) and the random baseline k/100; the legend below the panels."""
    shown = list(proxies) if proxies is not None else list(dict.fromkeys(curves["proxy"]))
    cols = max(1, min(3, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    width = min(MAX_WIDTH_IN, max(4.5, 2.3 * cols + 0.3))
    legend_cols = max(1, int(width / 1.5))  # a label of ~15 characters at MIN_FONT_PT and its line
    legend_rows = math.ceil((len(shown) + 1) / legend_cols)
    fig = Figure(figsize=(width, 2.2 * rows + 0.5 + 0.2 * legend_rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in grid[len(panels) :]:
        ax.set_visible(False)
    axes = grid[: len(panels)]
    for ax, (title, frame) in zip(axes, panels):
        for proxy in shown:
            curve = frame[frame["proxy"] == proxy].sort_values("percent")
            if curve.empty:
                continue
            style = styles[proxy]
            ax.plot(
                curve["percent"],
                curve["precision"],
                color=style.color,
                linestyle=style.linestyle,
                marker=style.marker,
                markersize=3,
                linewidth=1.1,
                label=proxy,
            )
        ks = np.array(sorted(set(frame["percent"])))
        ax.plot(ks, ks / 100, color=NEUTRAL, linestyle="--", linewidth=1.0, label="random (k/100)")
        ax.set_xscale("log")
        ax.set_xticks(ks, [f"{k:g}" for k in ks])
        ax.minorticks_off()
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("k (% of cells)", fontsize=MIN_FONT_PT)
        ax.set_ylabel("precision at top-k%", fontsize=MIN_FONT_PT)
        ax.set_title(title, fontsize=MIN_FONT_PT + 1)
        ax.tick_params(labelsize=MIN_FONT_PT)
    legend: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside lower center",
            ncols=min(legend_cols, len(legend)),
            fontsize=MIN_FONT_PT,
            frameon=False,
        )
    fig.suptitle(wrap("Precision of each proxy's top-k% among the true top-k%", fig.get_figwidth()), fontsize=TITLE_PT)
    return save(fig, out_dir, stem)
