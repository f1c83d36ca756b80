"""Where a NASI search step's time goes: forward, first backward (graph kept), second backward, per step.

Not a test. One step of ``harness.search.nasi.trace_nasi`` on the benchmark supernet (C = 16, N = 5) and a
Gaussian batch, split into its three phases; ``--profile`` adds torch.profiler's most expensive operators.

    python benchmarks/scripts/evidence/search/search_step.py --steps 6 [--threads 1] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from harness.search.gumbel import sample_gumbel, straight_through
from harness.search.objective import trace_norm_estimate
from harness.search.supernet import NUM_EDGES, NUM_OPS, NB201Supernet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-cell-bn-affine", dest="cell_bn_affine", action="store_false")
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's top operators")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = NB201Supernet(10, cell_bn_affine=args.cell_bn_affine).train()
    gen = torch.Generator().manual_seed(0)
    alpha = torch.zeros(NUM_EDGES, NUM_OPS, requires_grad=True)
    x, y = torch.randn(args.batch_size, 3, 32, 32), torch.randint(0, 10, (args.batch_size,))

    def step() -> tuple[float, float, float]:
        weights = straight_through(alpha, sample_gumbel((NUM_EDGES, NUM_OPS), gen))
        choice = weights.detach().argmax(dim=-1).tolist()
        t0 = time.perf_counter()
        logits = net(x, weights)
        t1 = time.perf_counter()
        score = trace_norm_estimate(logits, y, net.active_parameters(choice), create_graph=True)
        t2 = time.perf_counter()
        torch.autograd.grad(score, alpha)
        return t1 - t0, t2 - t1, time.perf_counter() - t2

    for _ in range(args.warmup):
        step()
    phases = [step() for _ in range(args.steps)]
    names = ("forward", "first backward", "second backward")
    total = statistics.median(sum(p) for p in phases)
    print(f"# supernet C=16 N=5, b = {args.batch_size}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{args.steps} steps; median s per step {total:.2f}")  # fmt: skip
    for i, name in enumerate(names):
        median = statistics.median(p[i] for p in phases)
        print(f"{name:16s} {median:7.2f} s  ({median / total:.0%})")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
