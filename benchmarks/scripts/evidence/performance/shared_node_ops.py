"""nasi with one ReLU and one average pooling per source node, against the cell as built: time and score drift.

Not a test, and not used by the harness: the record of an optimisation that was measured and not kept
(docs/performance.md). In an NB201 cell every ReLU-Conv-BN edge applies its own ReLU to its source node and every
average-pooling edge pools it, so a node read by k such edges is rectified (or pooled) k times. Computing each once
per source node gives the same forward values; the backward then sums the edges' gradients before the ReLU (or
pooling) instead of after it, which is the same sum in another order: scores move by float rounding.

    python benchmarks/scripts/evidence/performance/shared_node_ops.py --cells sample:40:0 --rounds 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from harness.data.batch import make_batch
from harness.proxies._grad import mean_ce_gradients, sum_squares
from harness.scoring import parse_cells
from harness.scoring.allocator import keep_freed_memory
from harness.spaces import get_space
from harness.spaces.networks import Cell
from harness.spaces.ops import AvgPool, ReLUConvBN, zeros_in_layout


def shared_forward(self: Cell, x: torch.Tensor) -> torch.Tensor:
    """``Cell.forward`` computing each source node's ReLU and pooling once for all the edges that read it."""
    nodes, rectified, pooled = [x], {}, {}
    for wires in self.live_wiring if self.prune else self.full_wiring:
        total = None
        for module_id, src in wires:
            edge = self.edges[module_id]
            if isinstance(edge, ReLUConvBN):
                if src not in rectified:
                    rectified[src] = torch.relu(nodes[src])
                out = edge[2](edge[1](rectified[src]))
            elif isinstance(edge, AvgPool) and edge.preprocess is None:
                if src not in pooled:
                    pooled[src] = edge.pool(nodes[src])
                out = pooled[src]
            else:
                out = edge(nodes[src])
            total = out if total is None else total + out
        nodes.append(zeros_in_layout(x, self.c_out) if total is None else total)
    return nodes[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="sample:40:0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    space = get_space("nb201")
    nets = []
    for index in parse_cells(args.cells, "nb201"):
        torch.manual_seed(0)
        net = space.build(index, "cifar10").to(memory_format=torch.channels_last)
        net.train()
        net.set_prune(True)
        nets.append(net)
    batch = make_batch("cifar10", 64, "gaussian", "random", 0, None)
    inputs, targets = batch.inputs.contiguous(memory_format=torch.channels_last), batch.targets

    def score(net: torch.nn.Module) -> float:
        params = [p for p in net.parameters() if p.requires_grad]
        return sum_squares(mean_ce_gradients(net, inputs, targets, params))

    built_forward = Cell.forward
    times: dict[str, list[float]] = {"as built": [], "shared": []}
    drift = []
    for net in nets[:3]:
        score(net)
    order = random.Random(0)
    for _ in range(args.rounds):
        for net in nets:
            scores = {}
            for variant in order.sample(list(times), 2):  # interleaved, in a random order per cell
                Cell.forward = built_forward if variant == "as built" else shared_forward
                t0 = time.perf_counter()
                scores[variant] = score(net)
                times[variant].append(time.perf_counter() - t0)
            drift.append(abs(scores["shared"] - scores["as built"]) / abs(scores["as built"]))
    Cell.forward = built_forward
    base, shared = (sum(times[v]) for v in ("as built", "shared"))
    print(f"# nasi, {len(nets)} NB201 cells ({args.cells}) x {args.rounds} rounds, b = 64, Gaussian data, "
          f"{args.threads} threads, torch {torch.__version__}")  # fmt: skip
    for variant, ts in times.items():
        print(f"{variant:>9}: median {statistics.median(ts) * 1e3:.1f} ms per cell")
    print(f"shared / as built, total time: {shared / base:.3f}; largest relative score change: {max(drift):.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
