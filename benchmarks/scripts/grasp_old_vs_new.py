"""grasp now against grasp at an older commit, on the same cells, weights and batch (#24): Spearman and the largest
relative difference, with the seconds of each. The old module is read with ``git show REV:harness/proxies/grasp.py``
and registered under another name; nothing else of that commit is used.

    PYTHONPATH=. python benchmarks/scripts/grasp_old_vs_new.py --rev 05220d4 --cells sample:20:0 --data DIR
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types

import torch
from scipy.stats import spearmanr

from harness.data import make_batch
from harness.proxies import ProxyContext, get_proxy
from harness.scoring import parse_cells
from harness.spaces import get_space


def old_grasp(rev: str):  # noqa: ANN201 - the old proxy function
    source = subprocess.run(["git", "show", f"{rev}:harness/proxies/grasp.py"], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    source = source.replace('"grasp",', '"grasp_at_old_commit",', 1)
    module = types.ModuleType("grasp_at_old_commit")
    exec(compile(source, f"{rev}:harness/proxies/grasp.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return get_proxy("grasp_at_old_commit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the commit whose grasp to compare with")
    parser.add_argument("--cells", default="sample:20:0")
    parser.add_argument("--data", default=os.environ.get("NASI_HARNESS_DATA", ""))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    old, new = old_grasp(args.rev), get_proxy("grasp")
    space = get_space("nb201")
    batch = make_batch("cifar10", 64, "real", "true", 0, args.data)
    x = batch.inputs.contiguous(memory_format=torch.channels_last)  # the engine's CPU layout
    scores: dict[str, list[float]] = {"old": [], "new": []}
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    for step, index in enumerate(parse_cells(args.cells, "nb201")):
        torch.manual_seed(0)
        net = space.build(index, "cifar10").to(memory_format=torch.channels_last).train()
        net.set_prune(True)
        for side in ("old", "new") if step % 2 == 0 else ("new", "old"):
            t0 = time.process_time()
            value = (old if side == "old" else new)(net, x, batch.targets, ProxyContext(num_classes=10))
            seconds[side].append(time.process_time() - t0)
            scores[side].append(value)
        print(f"cell {index}: old {scores['old'][-1]:.9g}, new {scores['new'][-1]:.9g}", flush=True)
    rho = spearmanr(scores["old"], scores["new"]).statistic
    rel, worst = max((abs(a - b) / max(abs(a), 1e-30), k) for k, (a, b) in enumerate(zip(scores["old"], scores["new"])))
    print(f"largest relative difference {rel:.3g} at old {scores['old'][worst]:.6g}, new {scores['new'][worst]:.6g}; "
          f"median |old score| {statistics.median(abs(a) for a in scores['old']):.3g}")  # fmt: skip
    print(f"Spearman {rho:.6f}; largest relative difference {rel:.3g}; median CPU s per cell: old "
          f"{statistics.median(seconds['old']):.3f}, new {statistics.median(seconds['new']):.3f} "
          f"({args.threads} thread(s); load {os.getloadavg()[0]:.1f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
