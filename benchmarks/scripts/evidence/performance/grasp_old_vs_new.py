"""grasp now against grasp at an older commit, and optionally the peer's, on the same cells: Spearman, the
relative differences, and CPU and wall seconds per cell with the medians of the per-cell ratios.

The old proxy is read with ``git show REV:harness/proxies/grasp.py`` (and that commit's ``_grad.py`` and
``_bn_hessian.py`` where it has them, under other module names) and registered under another name; nothing else of
that commit is used. Both of ours run in the engine (``score_cells`` fed one cell at a time, as in a study); the
peer (``--peer``, a checkout of SamsungLabs/zero-cost-nas, imported from there) builds its model and calls
``find_measures``, as in ``peer_speed.py``. All sides run in one process, interleaved per cell in rotating order.

    PYTHONPATH=. python benchmarks/scripts/evidence/performance/grasp_old_vs_new.py --rev 4751f71 \
        --cells sample:30:0 --threads 1 --peer /tmp/zero-cost-nas --data DIR
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import torch
from scipy.stats import spearmanr

from benchmarks.scripts.peer_speed import PeerRunner, ProjectRunner
from harness.data import make_batch
from harness.spaces import get_space
from harness.spaces.cells import parse_cells

OLD = "grasp_at_old_commit"
HELPERS = ("_bn_hessian", "_grad")  # imported by the old grasp.py, in dependency order


def _show(rev: str, path: str) -> str | None:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def old_grasp(rev: str) -> str:
    """Register the grasp of ``rev`` (with that commit's helper modules) as ``OLD``; return its name."""
    renames: dict[str, str] = {}
    for helper in HELPERS:
        source = _show(rev, f"harness/proxies/{helper}.py")
        if source is None:
            continue
        for old, new in renames.items():
            source = source.replace(old, new)
        alias = f"{OLD}{helper}"
        module = types.ModuleType(alias)
        sys.modules[alias] = module
        exec(compile(source, f"{rev}:harness/proxies/{helper}.py", "exec"), module.__dict__)  # noqa: S102 - our history
        renames[f"harness.proxies.{helper}"] = alias
    source = _show(rev, "harness/proxies/grasp.py")
    if source is None:
        raise SystemExit(f"error: no harness/proxies/grasp.py at {rev}")
    for old, new in renames.items():
        source = source.replace(old, new)
    source = source.replace('@register_proxy(\n    "grasp",', f'@register_proxy(\n    "{OLD}",', 1)
    module = types.ModuleType(OLD)
    exec(compile(source, f"{rev}:harness/proxies/grasp.py", "exec"), module.__dict__)  # noqa: S102 - our history
    return OLD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the commit whose grasp to compare with")
    parser.add_argument("--cells", default="sample:20:0")
    parser.add_argument("--warmup", default="sample:1:999", help="cells scored first by every side, not timed")
    parser.add_argument("--data", default=os.environ.get("NASI_HARNESS_DATA", ""))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--peer", type=Path, help="a checkout of SamsungLabs/zero-cost-nas: time its grasp too")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runners = {"old": ProjectRunner((old_grasp(args.rev),), args.data, 64, 0),
               "new": ProjectRunner(("grasp",), args.data, 64, 0)}  # fmt: skip
    space = get_space("nb201")
    if args.peer:
        batch = make_batch("cifar10", 64, "real", "true", 0, args.data)
        peer = PeerRunner(args.peer, batch.inputs.clone(), batch.targets.clone(), 10, 0)
        runners["peer"] = lambda index: peer(space.arch(index), ("grasp",))  # type: ignore[assignment]
    sides = list(runners)
    warm = parse_cells(args.warmup, "nb201") if args.warmup else []
    scores: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    wall: dict[str, list[float]] = {side: [] for side in sides}
    load_before = os.getloadavg()[0]
    for step, index in enumerate([*warm, *parse_cells(args.cells, "nb201")]):
        timed = step >= len(warm)
        order = sides[step % len(sides) :] + sides[: step % len(sides)]
        for side in order:
            c0, t0 = time.process_time(), time.perf_counter()
            out = runners[side](index)
            seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
            if timed:
                cpu[side].append(cpu_seconds)
                wall[side].append(seconds)
                if side in scores:
                    scores[side].append(out[0].score)
        if timed:
            print(f"cell {index}: old {scores['old'][-1]:.9g}, new {scores['new'][-1]:.9g}; CPU s "
                  + ", ".join(f"{s} {cpu[s][-1]:.3f}" for s in sides), flush=True)  # fmt: skip
    rho = spearmanr(scores["old"], scores["new"]).statistic
    rels = [abs(a - b) / max(abs(a), 1e-30) for a, b in zip(scores["old"], scores["new"])]
    worst = max(range(len(rels)), key=rels.__getitem__)
    print(f"{len(rels)} cells, {args.threads} thread(s), load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"Spearman old/new {rho:.6f}; relative difference median {statistics.median(rels):.2g}, largest "
          f"{rels[worst]:.3g} (old {scores['old'][worst]:.6g}, new {scores['new'][worst]:.6g}); cells over 1e-4: "
          f"{sum(r > 1e-4 for r in rels)}")  # fmt: skip
    print("median s per cell, CPU / wall: " + ", ".join(
        f"{s} {statistics.median(cpu[s]):.3f} / {statistics.median(wall[s]):.3f}" for s in sides))  # fmt: skip
    pairs = [("new", "old")] + ([("peer", "old"), ("peer", "new")] if args.peer else [])
    for a, b in pairs:
        ratios = [statistics.median(x / y for x, y in zip(kind[a], kind[b])) for kind in (cpu, wall)]
        print(f"median per-cell ratio {a} / {b}: CPU {ratios[0]:.3f}, wall {ratios[1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
