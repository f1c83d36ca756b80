"""Analysis views as aligned terminal text, fitted to 100 characters unless ``--wide``.

A row of ``correlate`` has ~15 columns and ran to 250 characters; wrapped, it is unreadable. By default the
columns a reader needs least are hidden (lowest priority first, the rightmost of equals first) until a table
fits, and a note names what was hidden. Files and ``--wide`` get every column.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.tables import Column

WIDTH = 100
GAP = "  "

# Hide order: lower goes first. Identity columns (proxy, mode, n, verdict, ...) are never hidden.
_EXACT = {"prec@10%": 60, "best@10": 55, "ndcg@10": 50, "oriented rho": 86}
_PREFIX = (
    ("spearman", 90),
    ("best - this", 88),
    ("τ - floor", 82),
    ("kendall [", 80),
    ("kendall ", 80),  # a summary over seeds: "kendall mean [95% CI cells]", "kendall sd", ...
    ("oriented rho ", 89),
    ("seed floor", 78),
    ("regret@", 36),
    ("pick@", 34),
    ("same pick", 20),
    ("overlap@", 50),
    ("rho acc", 45),
    ("swap - ref", 45),
    ("pearson", 40),
    ("prec@", 30),
    ("best@", 30),
    ("ndcg@", 30),
    ("kendall_top", 30),
)
_KEEP = 1000


def priority(header: str) -> int:
    """How much a column is worth keeping when a table must be narrowed."""
    if header in _EXACT:
        return _EXACT[header]
    value = next((value for prefix, value in _PREFIX if header.startswith(prefix)), _KEEP)
    if value < _KEEP and header.endswith((" sd", " min to max")):  # the spread over seeds goes before the intervals
        value -= 5
    return value


def fit(headers: Sequence[str], widths: Sequence[int], width: int = WIDTH) -> list[int]:
    """Indices of the columns to show so that the line fits ``width`` (all of them if it already does)."""
    shown = list(range(len(headers)))

    def total() -> int:
        return sum(widths[i] for i in shown) + len(GAP) * (len(shown) - 1)

    droppable = sorted((i for i in shown if priority(headers[i]) < _KEEP), key=lambda i: (priority(headers[i]), -i))
    for i in droppable:
        if total() <= width:
            break
        shown.remove(i)
    return shown


def text_table(cells: pd.DataFrame, width: int | None = WIDTH) -> tuple[str, list[str]]:
    """Aligned plain-text table (numbers right-aligned, words left-aligned) and the headers hidden to fit."""
    headers = [str(h) for h in cells.columns]
    body = cells.astype(str).to_numpy().tolist()
    widths = [max([len(h), *(len(row[i]) for row in body)]) for i, h in enumerate(headers)]
    shown = list(range(len(headers))) if width is None else fit(headers, widths, width)
    numeric = [all(_numeric(row[i]) for row in body) and bool(body) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return GAP.join(
            values[i].rjust(widths[i]) if numeric[i] else values[i].ljust(widths[i]) for i in shown
        ).rstrip()

    text = "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in body)])
    return text, [h for i, h in enumerate(headers) if i not in shown]


def _numeric(text: str) -> bool:
    head = text.split(" [")[0]
    try:
        float(head)
    except ValueError:
        return head == "-"
    return True


def render_text(
    frame: pd.DataFrame,
    columns: Callable[[pd.DataFrame], list[Column]],
    notes: Sequence[str] = (),
    wide: bool = False,
) -> str:
    """Every block of an analysis as heading + aligned table, then the notes (and what was hidden to fit)."""
    from harness.analysis.tables import blocks, render

    parts, hidden = [], {}
    for title, rows in blocks(frame):
        table, dropped = text_table(render(rows, columns(frame)), None if wide else WIDTH)
        parts.append(f"{prose(title, wide)}\n{table}")
        hidden.update(dict.fromkeys(dropped))
    notes = [n for n in notes if n]
    if hidden:
        notes.append(f"hidden to fit {WIDTH} characters: {', '.join(hidden)} (--wide shows every column)")
    lines = [prose(f"note: {n}", wide) for n in notes]
    return "\n\n".join(parts) + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def prose(text: str, wide: bool = False) -> str:
    """Headings and notes wrapped at the table width (continuation lines indented), each line on its own."""
    if wide:
        return text
    return "\n".join(
        textwrap.fill(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False) for line in text.split("\n")
    )
