"""Analysis frames as text for reports and files: Markdown, CSV, JSON records, and the views they share.

Each analysis has one *view*: the columns a reader needs, formatted (a value and its interval in one cell,
one number format per column), grouped in blocks that share a setting and a target, so every table states
what it was ranked against. Terminal rendering (aligned text fitted to the screen) is the CLI's:
``harness.cli.tables``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.analysis.frames import SETTING
from harness.analysis.protocols import machine_fields


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def fmt_ci(value: float, ci: Sequence[float], digits: int = 3) -> str:
    """'0.532 [0.511, 0.553]' (or just the value when the interval is undefined)."""
    if ci is None or not all(isinstance(c, (int, float, np.floating)) and math.isfinite(c) for c in ci):
        return fmt(value, digits)
    return f"{fmt(value, digits)} [{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def _direction(up: bool) -> str:
    return "higher" if up else "lower"


def _best_rank(value: float) -> str:
    """Expected best true rank: one decimal always, so a column never mixes '20' and '803.8'."""
    return fmt(float(value), 1)


Column = tuple[str, Callable[[pd.Series], str]]


def correlation_columns(frame: pd.DataFrame) -> list[Column]:
    cols: list[Column] = [
        ("proxy", lambda r: r["proxy"]),
        ("better", lambda r: _direction(r["higher_is_better"])),
        ("degenerate", lambda r: "incl." if r["degenerate_included"] else "excl."),
        ("n", lambda r: fmt(r["n"])),
        ("spearman [95% CI]", lambda r: fmt_ci(r["spearman"], r["spearman_ci"])),
        ("kendall [95% CI]", lambda r: fmt_ci(r["kendall"], r["kendall_ci"])),
        ("pearson [95% CI]", lambda r: fmt_ci(r["pearson"], r["pearson_ci"])),
    ]
    return cols + _top_k_columns(frame, summary=False)


def _top_k_columns(frame: pd.DataFrame, *, summary: bool) -> list[Column]:
    """The top-k metrics present in ``frame``, in its column order (a seed summary's sd/min/max left out)."""
    cols: list[Column] = []
    spread = ("_sd", "_min", "_max") if summary else ()
    for name in frame.columns:
        if spread and name.endswith(spread):
            continue
        if name.startswith(("precision@", "kendall_top", "ndcg@")):
            cols.append((name.replace("precision", "prec"), lambda r, c=name: fmt(r[c], 2)))
        elif name.startswith("best_rank@"):
            cols.append((name.replace("best_rank", "best"), lambda r, c=name: _best_rank(r[c])))
    return cols


def compare_columns(frame: pd.DataFrame) -> list[Column]:
    return [
        ("rank", lambda r: fmt(r["rank"])),
        ("proxy", lambda r: r["proxy"]),
        ("better", lambda r: _direction(r["higher_is_better"])),
        ("n", lambda r: fmt(r["n"])),
        ("spearman [95% CI]", lambda r: fmt_ci(r["spearman"], r["spearman_ci"])),
        ("kendall [95% CI]", lambda r: fmt_ci(r["kendall"], r["kendall_ci"])),
        ("oriented rho", lambda r: fmt(r["oriented_spearman"])),
        ("best - this [paired 95% CI]", lambda r: "-" if r["rank"] == 1 else fmt_ci(r["delta_vs_best"], r["delta_ci"])),
        *[(c.replace("precision", "prec").replace("best_rank", "best"), _metric(c)) for c in _SHOWN if c in frame],
    ]


_SHOWN = ("precision@10%", "ndcg@10", "best_rank@10")


def _range(row: pd.Series, column: str, digits: int = 3) -> str:
    lo, hi = row.get(f"{column}_min"), row.get(f"{column}_max")
    return "-" if lo is None or not np.isfinite(lo) else f"{fmt(lo, digits)} to {fmt(hi, digits)}"


def _interval(ci: Sequence[float] | None, digits: int = 3) -> str:
    if ci is None or not all(isinstance(c, (int, float, np.floating)) and math.isfinite(c) for c in ci):
        return "-"
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def _seed_stat(name: str, column: str, digits: int = 3) -> list[Column]:
    """A statistic over seeds: mean [cells CI], sd, min to max, [cells and seeds CI]."""
    return [
        (f"{name} mean [CI cells]", lambda r: fmt_ci(r[column], r[f"{column}_ci"], digits)),
        (f"{name} sd", lambda r: fmt(r[f"{column}_sd"], digits)),
        (f"{name} min to max", lambda r: _range(r, column, digits)),
        (f"{name} [CI cells+seeds]", lambda r: _interval(r[f"{column}_combined_ci"], digits)),
    ]


def correlation_seed_columns(frame: pd.DataFrame) -> list[Column]:
    """``correlate``'s summary over scoring seeds (``tables["seeds"]``)."""
    cols: list[Column] = [
        ("proxy", lambda r: r["proxy"]),
        ("better", lambda r: _direction(r["higher_is_better"])),
        ("degenerate", lambda r: "incl." if r["degenerate_included"] else "excl."),
        ("n", lambda r: fmt(r["n"])),
        ("seeds", lambda r: fmt(r["n_seeds"])),
        *_seed_stat("spearman", "spearman"),
        *_seed_stat("kendall", "kendall"),
        *_seed_stat("pearson", "pearson"),
    ]
    return cols + _top_k_columns(frame, summary=True)


def compare_seed_columns(frame: pd.DataFrame) -> list[Column]:
    """``compare``'s ranking summarised over scoring seeds (``tables["seeds"]``)."""
    return [
        ("rank", lambda r: fmt(r["rank"])),
        ("proxy", lambda r: r["proxy"]),
        ("better", lambda r: _direction(r["higher_is_better"])),
        ("n", lambda r: fmt(r["n"])),
        ("seeds", lambda r: fmt(r["n_seeds"])),
        ("rank in a seed", lambda r: _rank_range(r)),
        *_seed_stat("oriented rho", "oriented_spearman"),
        ("best - this [CI cells+seeds]", _delta_combined),
        ("beats next", lambda r: "-" if not np.isfinite(r["beats_next"]) else f"{r['beats_next']:.0%}"),
        *[(c.replace("precision", "prec").replace("best_rank", "best"), _metric(c)) for c in _SHOWN if c in frame],
    ]


def _rank_range(row: pd.Series) -> str:
    lo, hi = int(row["rank_min"]), int(row["rank_max"])
    return str(lo) if lo == hi else f"{lo} to {hi}"


def _delta_combined(row: pd.Series) -> str:
    if row["rank"] == 1:
        return "-"
    return f"{fmt(row['delta_vs_best'])} {_interval(row['delta_combined_ci'])}"


def agreement_columns(frame: pd.DataFrame) -> list[Column]:
    return [
        ("proxy a", lambda r: r["proxy_a"]),
        ("proxy b", lambda r: r["proxy_b"]),
        ("n", lambda r: fmt(r["n"])),
        ("spearman [95% CI]", lambda r: fmt_ci(r["spearman"], r["spearman_ci"])),
        ("kendall [95% CI]", lambda r: fmt_ci(r["kendall"], r["kendall_ci"])),
        ("pearson [95% CI]", lambda r: fmt_ci(r["pearson"], r["pearson_ci"])),
    ]


def _metric(column: str) -> Callable[[pd.Series], str]:
    if column.startswith("best_rank"):
        return lambda r: _best_rank(r[column])
    return lambda r: fmt(r[column], 2)


def _seeds(value: object) -> str:
    return ",".join(str(s) for s in value) if isinstance(value, (list, tuple, np.ndarray)) else fmt(value)


def _floor_cell(r: pd.Series) -> str:
    return "1 (no seed effect)" if r["deterministic"] else fmt_ci(r["floor_kendall"], r["floor_kendall_ci"], 2)


def _pick_columns(size: int, transfer: str = "") -> list[Column]:
    """Sample-and-pick at one N: reference / swapped pick accuracy, regret, same pick (``transfer``: the same
    picks judged by that dataset's accuracy)."""
    key = f"{transfer}:" if transfer else ""
    tail = f" ({transfer})" if transfer else ""

    def picks(r: pd.Series) -> str:
        return f"{fmt(r[f'{key}pick@{size}_ref'], 2)} / {fmt(r[f'{key}pick@{size}'], 2)}"

    return [
        (f"pick@{size} ref / swap{tail}", picks),
        (f"regret@{size}{tail}", lambda r: fmt(r[f"{key}regret@{size}"], 2)),
        (f"same pick@{size}", lambda r: fmt(r[f"same_pick@{size}"], 2)),
    ]


def agnostic_columns(frame: pd.DataFrame) -> list[Column]:
    cols: list[Column] = [
        ("proxy", lambda r: r["proxy"]),
        ("mode", lambda r: f"{r['data']}/{r['labels']}"),
        ("seeds", lambda r: _seeds(r["seeds"])),
        ("n", lambda r: fmt(r["n"])),
        ("kendall [95% CI]", lambda r: fmt_ci(r["kendall"], r["kendall_ci"], 2)),
        ("seed floor [95% CI]", _floor_cell),
        ("τ - floor [95% CI]", lambda r: fmt_ci(r["delta_kendall"], r["delta_kendall_ci"], 2)),
        ("pearson [95% CI]", lambda r: fmt_ci(r["pearson"], r["pearson_ci"])),
    ]
    for name in frame.columns:
        if name.startswith("overlap@"):
            cols.append((name, lambda r, c=name: fmt(r[c], 2)))
    if "spearman_acc_ref" in frame.columns and frame["spearman_acc_ref"].notna().any():
        cols += [
            ("rho acc (ref)", lambda r: fmt(r["spearman_acc_ref"])),
            ("rho acc (swap)", lambda r: fmt(r["spearman_acc_swap"])),
            ("swap - ref [95% CI]", lambda r: fmt_ci(r["delta_acc"], r["delta_acc_ci"])),
        ]
    for size in (100, 10, 1000):  # one sample size in the text; every one is in the JSON/CSV
        if f"pick@{size}" in frame.columns and frame[f"pick@{size}"].notna().any():
            cols += _pick_columns(size)
            transfers = sorted({c.split(":")[0] for c in frame.columns if c.endswith(f":pick@{size}")})
            for name in transfers:
                cols += _pick_columns(size, name)[:2]
            break
    if "line_verdict" in frame.columns:
        cols.append(("line", lambda r: r["line_verdict"]))
    cols.append(("verdict", lambda r: r["verdict"]))
    return cols


def render(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """The formatted cells of a view, as strings."""
    return pd.DataFrame([[f(row) for _, f in columns] for _, row in frame.iterrows()], columns=[h for h, _ in columns])


def markdown_table(cells: pd.DataFrame) -> str:
    def esc(v: object) -> str:
        return str(v).replace("|", "\\|")

    headers = [esc(h) for h in cells.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)


def blocks(frame: pd.DataFrame, keys: Sequence[str] = SETTING) -> list[tuple[str, pd.DataFrame]]:
    """Rows split by setting (and target), each with a heading that names the setting and the target."""
    if frame.empty:
        return []
    present = [k for k in keys if k in frame.columns]
    group_keys = present + (["target"] if "target" in frame.columns else [])
    summary = "seeds" in frame.columns and "seed" not in present  # over scoring seeds: heading names them all
    out = []
    for values, rows in frame.groupby(group_keys, sort=False, dropna=False):
        info = dict(zip(group_keys, values if isinstance(values, tuple) else (values,)))
        if summary:
            info["seeds"] = sorted({int(s) for seeds in rows["seeds"] for s in seeds})
        out.append((heading(info), rows))
    return out


def heading(info: dict) -> str:
    parts = [str(info.get("space", "")), str(info.get("dataset", ""))]
    if "data" in info and "labels" in info:
        parts.append(f"data={info['data']} labels={info['labels']}")
    if int(info.get("batch_size", -1)) >= 0:
        parts.append(f"batch {info['batch_size']}")
    if int(info.get("seed", -1)) >= 0:
        parts.append(f"seed {info['seed']}")
    if info.get("seeds") is not None:
        from harness.analysis.seeds import label

        parts.append(label(info["seeds"]))
    text = " | ".join(p for p in parts if p)
    if info.get("target"):
        text += f"\ntarget: {info['target']}"
    return text


def render_markdown(
    frame: pd.DataFrame, columns: Callable[[pd.DataFrame], list[Column]], level: int = 3, notes: Sequence[str] = ()
) -> str:
    parts = []
    for title, rows in blocks(frame):
        first, *rest = title.split("\n")
        parts.append(f"{'#' * level} {first}\n" + "".join(f"\n*{r}*\n" for r in rest))
        parts.append(markdown_table(render(rows, columns(frame))))
    lines = [f"- {n}" for n in notes if n]
    return "\n\n".join(parts) + ("\n\nNotes:\n\n" + "\n".join(lines) if lines else "") + "\n"


def _plain(value: object) -> object:
    if isinstance(value, tuple | list | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: intervals as two-element lists, NaN as null, numpy scalars as Python ones; ``proxy`` the
    registered name and ``protocol`` a field of its own (``harness.analysis.protocols.machine_fields``)."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in machine_fields(frame).to_dict(orient="records")]


def to_json(frame: pd.DataFrame) -> str:
    return json.dumps(records(frame), indent=2)


def to_csv(frame: pd.DataFrame) -> str:
    """CSV with each interval split into ``<name>_lo`` / ``<name>_hi`` columns (spreadsheet-friendly), and the proxy
    and its protocol in columns of their own (``harness.analysis.protocols.machine_fields``)."""
    frame = machine_fields(frame)
    flat = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if column.endswith("_ci"):
            pairs = [tuple(v) if isinstance(v, tuple | list) else (np.nan, np.nan) for v in values]
            flat[f"{column[:-3]}_lo"] = [p[0] for p in pairs]
            flat[f"{column[:-3]}_hi"] = [p[1] for p in pairs]
        elif values.map(lambda v: isinstance(v, tuple | list)).any():  # seeds: "0 1 2"
            flat[column] = [" ".join(map(str, v)) if isinstance(v, tuple | list) else v for v in values]
        else:
            flat[column] = values
    return flat.to_csv(index=False)
