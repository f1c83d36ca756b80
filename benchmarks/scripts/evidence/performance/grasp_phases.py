"""Where grasp's time goes: forward, the backward that keeps its graph, and the Hessian-gradient product,
in the engine's CPU layout (channels-last) and in NCHW, against one plain forward + backward; CPU seconds of this
process (both layouts on the same cell back to back, best of ``--repeats``: steadier than the wall clock on a
shared machine).

    PYTHONPATH=. python benchmarks/scripts/evidence/performance/grasp_phases.py --cells sample:8:0 --threads 1 \
        --data DIR
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from harness.data import make_batch
from harness.proxies._grad import weight_layers
from harness.spaces import get_space
from harness.spaces.cells import parse_cells

LAYOUTS = {"NHWC": torch.channels_last, "NCHW": torch.contiguous_format}
PHASES = ("forward", "backward, create_graph", "H g", "plain forward + backward")


def phases(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    weights = [m.weight for m in weight_layers(net)]
    marks = [time.process_time()]
    loss = F.cross_entropy(net(x), y)
    marks.append(time.process_time())
    grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    marks.append(time.process_time())
    torch.autograd.grad(sum((g.detach() * g).sum() for g in grads if g is not None), weights, allow_unused=True)
    marks.append(time.process_time())
    torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
    marks.append(time.process_time())
    return [b - a for a, b in zip(marks, marks[1:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="sample:8:0")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", default=os.environ.get("NASI_HARNESS_DATA", ""))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    batch = make_batch("cifar10", 64, "real", "true", 0, args.data)
    table: dict[str, list[list[float]]] = {name: [] for name in LAYOUTS}
    for index in parse_cells(args.cells, "nb201"):
        for name, layout in LAYOUTS.items():
            torch.manual_seed(0)
            net = space.build(index, "cifar10").to(memory_format=layout).train()
            net.set_prune(True)
            x = batch.inputs.contiguous(memory_format=layout)
            runs = [phases(net, x, batch.targets) for _ in range(args.repeats)]
            table[name].append([min(r[k] for r in runs) for k in range(len(PHASES))])
            print(f"cell {index} {name}: " + ", ".join(f"{p} {s:.3f}" for p, s in zip(PHASES, table[name][-1])))
    print(f"median CPU s per cell ({args.threads} thread(s), load {os.getloadavg()[0]:.1f}):")
    for name, rows in table.items():
        medians = [statistics.median(r[k] for r in rows) for k in range(len(PHASES))]
        print(f"  {name}: " + ", ".join(f"{p} {s:.3f}" for p, s in zip(PHASES, medians)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
