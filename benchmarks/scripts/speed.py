"""Scoring throughput benchmark: median seconds per cell and peak memory, per proxy, on this device.

Not a test: run it by hand and record the figure with the device it ran on.

    python benchmarks/scripts/speed.py --proxies nasi --cells sample:200:0 --batch-size 64
    python benchmarks/scripts/speed.py --proxies all --cells sample:20:0 --out results/speed/cpu.csv
    python benchmarks/scripts/speed.py --proxies nasi --cells sample:200:0 --workers 4   # 4 processes: throughput

Scores are computed on a fixed NB201 sample with Gaussian data and random labels by default (timing does not
depend on pixel values, and this runs without any dataset); pass --data real to use the dataset.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from harness.proxies import parse_proxy_list
from harness.scoring import resolve_device, score_cells
from harness.scoring.allocator import huge_pages_in_effect
from harness.scoring.device import device_label
from harness.spaces.cells import parse_cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--proxies", default="nasi")
    parser.add_argument("--cells", default="sample:200:0")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data", dest="data_mode", default="gaussian")
    parser.add_argument("--labels", default="random")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--warmup", type=int, default=3, help="cells scored first and not timed")
    parser.add_argument(
        "--layout",
        choices=("channels_last", "contiguous"),
        default="channels_last",
        help="activation memory layout (the engine's default: channels_last)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="score in N processes at once (disjoint cells, cores split evenly, or one GPU shared): median s/cell is "
        "then each cell's own time, and the wall per cell is the throughput of all N together",
    )
    parser.add_argument(
        "--fresh-networks",
        action="store_true",
        help="construct every network from scratch instead of from the previous cell's blocks (the engine's "
        "default, same weights): to measure what recycling saves",
    )
    parser.add_argument(
        "--stack",
        type=int,
        default=1,
        metavar="K",
        help="score K cells per computation with the proxies that have a stacked form (nasi)",
    )
    parser.add_argument("--out", type=Path, help="write the table as CSV here too")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    proxies = parse_proxy_list(args.proxies)
    cells = parse_cells(args.cells, args.space)
    warm = parse_cells(f"sample:{args.warmup}:999", args.space) if args.warmup else []
    common = dict(dataset=args.dataset, data_mode=args.data_mode, label_mode=args.labels,
                  batch_size=args.batch_size, device=args.device,
                  channels_last=args.layout == "channels_last", recycle_modules=not args.fresh_networks,
                  stack=args.stack,
                  share_intermediates=False)  # fmt: skip  # each proxy timed alone, nothing reused
    workers = max(1, args.workers)
    if workers == 1:
        results = [_time_cells(args.space, cells, warm, proxies, common)]
        threads = torch.get_num_threads()
    else:  # N processes on disjoint cells, timed from a common start after each one's warm-up
        threads = max(1, (os.cpu_count() or 1) // workers)  # the cores split evenly over the workers
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(args.space, cells[k::workers], warm, proxies, common, threads,
                                                   barrier, out)) for k in range(workers)]  # fmt: skip
        for proc in procs:
            proc.start()
        results = [out.get() for _ in procs]
        for proc in procs:
            proc.join()
    seconds = {p: [x for r in results for x in r["seconds"][p]] for p in proxies}
    peak = {p: max(r["peak"][p] for r in results) for p in proxies}
    bad = {p: sum(r["bad"][p] for r in results) for p in proxies}
    wall = max(r["t1"] for r in results) - min(r["t0"] for r in results)

    procs = f"{workers} process{'es' * (workers > 1)} x {threads} thread{'s' * (threads > 1)}"
    networks = "fresh" if args.fresh_networks else "recycled"
    where = f"{device_label(device)}; {platform.processor() or platform.machine()}; torch {torch.__version__}; " \
            f"{procs}; {args.layout}; {networks} networks; stack {args.stack}; " \
            f"huge pages {'on' if huge_pages_in_effect() else 'off'}"  # fmt: skip
    mem_kind = "peak CUDA allocated" if device.type == "cuda" else "process max RSS"
    print(f"# {args.space}, {len(cells)} cells ({args.cells}), batch {args.batch_size}, {args.dataset}, "
          f"data={args.data_mode}, labels={args.labels}; {where}; wall {wall:.1f} s "
          f"({wall / max(1, len(cells)):.4f} s per cell for all proxies over all processes, network construction "
          "included)")  # fmt: skip
    rows = []
    for p in proxies:
        s = seconds[p]
        row = {
            "proxy": p,
            "cells": len(s),
            "median_s": round(statistics.median(s), 5) if s else None,
            "p90_s": round(sorted(s)[int(0.9 * (len(s) - 1))], 5) if s else None,
            "peak_mem_mb": round(peak[p], 1),
            "failed": bad[p],
            "device": device_label(device),
            "workers": workers,
            "wall_s_per_cell_all_proxies": round(wall / max(1, len(cells)), 5),
        }
        rows.append(row)
    print(f"{'proxy':<24}{'median s/cell':>14}{'p90 s':>10}{mem_kind + ' MB':>24}{'failed':>8}")
    for r in rows:
        print(f"{r['proxy']:<24}{r['median_s']:>14}{r['p90_s']:>10}{r['peak_mem_mb']:>24}{r['failed']:>8}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) + ["setup"])
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "setup": where})
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _time_cells(space: str, cells: list, warm: list, proxies: list[str], common: dict, barrier=None) -> dict:
    """Score the warm-up cells untimed, wait for the other processes (if any), then time ``cells``."""
    for _ in score_cells(space, warm, proxies, **common):
        pass
    if barrier is not None:
        barrier.wait()
    seconds: dict[str, list[float]] = {p: [] for p in proxies}
    peak: dict[str, float] = {p: 0.0 for p in proxies}
    bad: dict[str, int] = {p: 0 for p in proxies}
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes on one machine
    for r in score_cells(space, cells, proxies, **common):
        seconds[r.proxy].append(r.seconds)
        peak[r.proxy] = max(peak[r.proxy], r.peak_mem_mb or 0.0)
        bad[r.proxy] += r.status not in ("ok", "degenerate")
    return {"seconds": seconds, "peak": peak, "bad": bad, "t0": t0, "t1": time.perf_counter()}


def _worker(space, cells, warm, proxies, common, threads, barrier, out) -> None:  # noqa: ANN001
    torch.set_num_threads(threads)
    out.put(_time_cells(space, cells, warm, proxies, common, barrier))


if __name__ == "__main__":
    raise SystemExit(main())
