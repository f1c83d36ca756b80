"""What the table builders share (``headline.py``, ``literature_table.py``, ``ensemble_search.py``,
``search_table.py``): where the committed results live, which reference exports they read, the published values
more than one of them quotes, and how a correlation with its interval is written in their tables.

Imported by the builders; running it does nothing.
"""

from __future__ import annotations

from pathlib import Path

from harness.analysis.formatting import format_estimate
from harness.analysis.reference import REFERENCE_EXPORTS

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"

# The two 1,000-cell reference exports (every built-in proxy at b = 64, CIFAR-10, real data, seed 0), the same cells;
# the third reference export (ntk_trace at b = 64, a GPU job) covers only part of them, so the tables leave it out.
REFERENCE_B64 = tuple(ROOT / p for p in REFERENCE_EXPORTS[:2])

# VKDNW: Tybl & Neumann, CVPR 2025, Table 1, NB201 CIFAR-10 (github ondratybl/VKDNW table1.png): (row label, our
# proxy or aggregate, published Kendall, published Spearman), against CIFAR-10 test accuracy (NATS-Bench ori-test)
# over the 9,444 cells without unreachable operations, mean of 5 runs (results/literature/README.md has the evidence).
# A label + OFFICIAL: computed with vkdnw_entropy_official (the official code's matrix J^T L^T L J over the first 128
# tensors) in place of vkdnw_entropy (the paper's FIM).
OFFICIAL = "@official"
VKDNW_TABLE1 = [
    ("AZ-NAS", "az_nas", 0.712, 0.892),
    ("VKDNW_single", "vkdnw_single", 0.618, 0.815),
    ("VKDNW_agg", "vkdnw_agg", 0.750, 0.919),
    ("VKDNW_single, official matrix", "vkdnw_single" + OFFICIAL, 0.618, 0.815),
    ("VKDNW_agg, official matrix", "vkdnw_agg" + OFFICIAL, 0.750, 0.919),
    ("ZiCo", "zico", 0.607, 0.802),
    ("Jacov", "jacov", 0.616, 0.800),
    ("NASWOT", "nwot", 0.571, 0.762),
    ("SynFlow", "synflow", 0.561, 0.758),
    ("TE-NAS", "te_nas", 0.536, 0.722),
    ("FLOPs", "flops", 0.623, 0.799),
    ("SNIP", "snip", 0.431, 0.591),
    ("GraSP", "grasp", 0.352, 0.505),
    ("GradNorm", "grad_norm", 0.328, 0.438),
    ("Zen", "zen", 0.102, 0.103),
]


def vkdnw_published(proxies: tuple[str, ...] | None = None) -> dict[str, tuple[float, float]]:
    """Proxy -> (published Kendall, published Spearman) from ``VKDNW_TABLE1`` (only ``proxies``, when given)."""
    return {p: (kt, spr) for _, p, kt, spr in VKDNW_TABLE1 if proxies is None or p in proxies}


def stored(store: Path) -> Path:
    """The study's results database, else its committed export beside it (``scores.csv.gz``), read the same way."""
    export = store.with_name("scores.csv.gz")
    return export if not store.is_file() and export.is_file() else store


def estimate(value: float | None, ci: list[float] | tuple[float, float] | None) -> str:
    """A correlation and its interval as the tables write it, ``0.532 [0.511, 0.553]`` (``-`` when there is none)."""
    return format_estimate(value, *(ci or (None, None)))


def spearman(stats: dict | None) -> str:
    """``estimate`` of a stats dict's ``spearman`` and ``spearman_ci`` (``-`` for no dict)."""
    return estimate(stats["spearman"], stats["spearman_ci"]) if stats else "-"
