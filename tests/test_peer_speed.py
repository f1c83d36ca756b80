"""benchmarks/scripts/peer_speed.py without the peer: the report's arithmetic on made-up timings, and a clear error
for a path that is not a zero-cost-nas checkout (the timing itself needs the peer and is run by hand)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.scripts.peer_speed import PROXIES, TOGETHER, import_peer, summary


def rows_for(cells: list[int]) -> list[dict]:
    """The project takes 1 s per proxy on every cell; the peer takes (cell + 2) s, together 0.5x / 0.9x apart."""
    rows = []
    for c in cells:
        for config in [*PROXIES, TOGETHER]:
            ours = 0.5 * len(PROXIES) if config == TOGETHER else 1.0
            theirs = 0.9 * len(PROXIES) * (c + 2) if config == TOGETHER else float(c + 2)
            rows.append({"cell": c, "config": config, "side": "project", "seconds": ours, "cpu_seconds": 2 * ours})
            rows.append({"cell": c, "config": config, "side": "peer", "seconds": theirs, "cpu_seconds": 2 * theirs})
    return rows


def test_summary_gives_medians_of_per_cell_ratios_and_the_shared_work():
    cells = [0, 1, 4]  # the peer takes 2, 3 and 6 s: per-cell ratios 2, 3, 6, median 3
    args = argparse.Namespace(cells="0,1,4", wall_cells="0,1,4", batch_size=64, seed=0, threads=2, wall_runs=2)
    walls = {"project": [10.0, 12.0], "peer": [40.0, 44.0], "project cpu": [20.0, 20.0], "peer cpu": [50.0, 70.0]}
    text = "\n".join(summary(rows_for(cells), cells, [0.1, 0.2, 0.3], walls, ["before 1.00"], "here", args))
    assert "| grad_norm | 1.0000 | 3.0000 | **3.00x** | **3.00x** |" in text
    assert "| seven together | 3.5000 | 18.9000 | **5.40x** | **5.40x** |" in text  # 0.9 / 0.5 x 3
    assert "- project, wall: 0.50" in text and "- peer, CPU time: 0.90" in text
    assert "nasi (project only): median 0.2000 s" in text
    assert "**3.82x** wall (medians 42.0 / 11.0 s), **3.00x** CPU time" in text
    assert "before 1.00" in text


def test_a_path_without_the_peer_is_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="not a zero-cost-nas checkout"):
        import_peer(tmp_path)
