"""How much CPU scores move with torch's intra-op thread count, and how long each count takes.

Scores the same cells with the same proxies under each thread count in one process and prints, per proxy, the
largest relative difference from the first count and the seconds each count took. docs/reliability.md quotes it:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scripts/evidence/reliability/thread_drift.py --cells sample:20:0 \
        --proxies grad_norm,nasi,synflow --threads 1,2
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.scoring import score_cells
from harness.spaces.cells import parse_cells


def scores(cells: list[int], proxies: list[str], args: argparse.Namespace) -> tuple[dict, float]:
    start = time.perf_counter()
    records = score_cells(args.space, cells, proxies, dataset=args.dataset, data_mode=args.data_mode,
                          label_mode=args.label_mode, batch_size=args.batch_size, seed=0, device="cpu",
                          data_dir=args.data)  # fmt: skip
    out = {(r.index, r.proxy): r.score for r in records}
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--cells", default="sample:20:0")
    parser.add_argument("--proxies", default="grad_norm,nasi,synflow")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-mode", default="gaussian")
    parser.add_argument("--label-mode", default="random")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    cells = list(parse_cells(args.cells, args.space))
    proxies = [p.strip() for p in args.proxies.split(",")]
    counts = [int(t) for t in args.threads.split(",")]
    results = {}
    for threads in counts:
        torch.set_num_threads(threads)
        results[threads] = scores(cells, proxies, args)
        print(f"{threads} thread(s): {results[threads][1]:.1f} s for {len(cells)} cells x {len(proxies)} proxies")
    base = results[counts[0]][0]
    for threads in counts[1:]:
        other = results[threads][0]
        for proxy in proxies:
            pairs = [(base.get((c, proxy)), other.get((c, proxy))) for c in cells]
            diffs = [abs(b - a) / max(abs(a), 1e-30) for a, b in pairs if a is not None and b is not None]
            changed = sum(d > 0 for d in diffs)
            print(f"{proxy}: {counts[0]} vs {threads} threads: max relative difference {max(diffs, default=0):.2e}, "
                  f"{changed} of {len(diffs)} cells differ")  # fmt: skip


if __name__ == "__main__":
    main()
