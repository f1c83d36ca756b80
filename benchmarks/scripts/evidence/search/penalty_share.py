"""How much of NASI-FIX's aggregate Delta comes from the penalised samples (score above nu), per seed.

NASI's Delta = (1/T) sum_t R'(s_t) G_t / max(||G_1||..||G_t||) splits into the steps below nu (slope 1) and those
above it (slope 1 - mu). nasi scores are heavy-tailed, and the few samples above nu carry the largest gradients;
with mu = 2 their part, which pushes alpha towards operations that lower the score, can outweigh the rest, while
mu = 1 gives them slope 0. This prints both parts' norms and their pull on each operation (column sums).

    .venv/bin/python -m benchmarks.scripts.evidence.search.penalty_share --steps 400 --mu 2 --nu 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from harness.search.nasi import NasiConfig, NasiTrace, reward_slope, select
from harness.search.objective import DeltaAggregator
from harness.search.supernet import NUM_EDGES, NUM_OPS
from harness.search.traces import read_trace, trace_name, trace_paths
from harness.spaces.ops import OP_NAMES

HERE = Path(__file__).resolve().parents[4] / "results/search"  # where the outputs live


def split_delta(trace: NasiTrace, steps: int, mu: float, nu: float) -> tuple[torch.Tensor, torch.Tensor]:
    """T * (below-nu part, above-nu part) of NASI-FIX's Delta; checked to add up to T * ``select``'s alpha*."""
    below = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64)
    above = torch.zeros_like(below)
    aggregator = DeltaAggregator()  # its running max norm runs over every step, above nu or not
    for score, grad in zip(trace.scores[:steps], trace.grads[:steps]):
        term = aggregator.add(reward_slope(score, mu, nu) * torch.tensor(grad, dtype=torch.float64))
        part = above if score > nu else below
        part += term
    alpha = torch.tensor(select(trace, NasiConfig(steps=steps, mu=mu, nu=nu)).alpha, dtype=torch.float64)
    if not torch.allclose((below + above) / steps, alpha, rtol=1e-9, atol=1e-12):
        raise AssertionError("the two parts do not add up to NASI-FIX's alpha*")
    return below, above


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default=str(HERE / "raw"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--mu", type=float, default=2.0)
    parser.add_argument("--nu", type=float, default=100.0)
    args = parser.parse_args(argv)
    ops = " | ".join(f"{op} below / above" for op in OP_NAMES[1:])
    print(f"| seed | median score | mean score | steps above nu | norm below | norm above | {ops} |")
    print("|" + "---|" * (6 + len(OP_NAMES) - 1))
    for path in trace_paths(Path(args.raw), trace_name(NasiConfig(), "cifar10", "*")):  # the standard setting's
        doc, trace = read_trace(path)
        if len(trace.scores) < args.steps:
            continue
        below, above = split_delta(trace, args.steps, args.mu, args.nu)
        scores = trace.scores[: args.steps]
        n_above = sum(s > args.nu for s in scores)
        pulls = " | ".join(
            f"{float(below[:, o].sum()):+.2f} / {float(above[:, o].sum()):+.2f}" for o in range(1, len(OP_NAMES))
        )
        spread = f"{statistics.median(scores):.1f} | {statistics.fmean(scores):.1f} | {n_above}"
        norms = f"{float(below.norm()):.3f} | {float(above.norm()):.3f}"
        print(f"| {doc['seed']} | {spread} | {norms} | {pulls} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
