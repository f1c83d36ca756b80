"""Side-by-side speed against the reference implementation (SamsungLabs/zero-cost-nas ``find_measures``).

Not a test: run it by hand on a machine you can describe, with a checkout of the peer you fetched yourself
(nothing of the peer is copied here; it is imported from --peer):

    python benchmarks/scripts/peer_speed.py --peer /tmp/zero-cost-nas --cells sample:30:0 --threads 2 \
        --data $NASI_HARNESS_DATA --out-dir results/speed

Both sides score the same NB201 cells (the peer's ``nasbench2`` model built from the same arch string), the same
real CIFAR-10 batch (b = 64), the same thread count, in one process, interleaved per cell (A B, then B A). Each
per-cell time is what a user pays for that cell: the project's engine (``score_cells``, network built from the
previous cell's blocks, as in a study) against ``get_model_from_arch_str`` + ``find_measures``. Weights are not the
same: the peer's model is a masked supernet (every op built on every edge, convolutions with biases, BN without
affine in cells), whose module tree does not line up with ours; both draw their default init after
``torch.manual_seed(seed)``. Timing depends on the computation, not on the values.

Prints per proxy and for the seven together: medians and the peer/project ratio (median of the per-cell ratios);
the seven together against the sum of the seven apart (the saving of shared work); the whole-process wall of the
seven on all cells (fresh interpreters, start-up, imports, data loading and construction included); nasi's median
seconds per cell; the load average before and after; the peer commit.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PROXIES = ("grad_norm", "snip", "fisher", "jacov", "plain", "synflow", "grasp")
PEER_NAME = {"jacov": "jacob_cov"}
TOGETHER = "seven together"
ROOT = Path(__file__).resolve().parents[2]


def peer_commit(peer: Path) -> str:
    """The peer checkout's commit (``git rev-parse HEAD``), or the contents of a ``COMMIT`` file beside it."""
    proc = subprocess.run(["git", "-C", str(peer), "rev-parse", "HEAD"], capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout.strip()
    marker = peer / "COMMIT"
    return marker.read_text().strip() if marker.exists() else "unknown (not a git checkout, no COMMIT file)"


def import_peer(peer: Path):  # noqa: ANN201 - the peer's modules
    if not (peer / "foresight" / "pruners" / "predictive.py").exists():
        raise SystemExit(f"error: {peer} is not a zero-cost-nas checkout (no foresight/pruners/predictive.py)")
    sys.path.insert(0, str(peer))
    from foresight.models import nasbench2  # noqa: PLC0415
    from foresight.pruners import predictive  # noqa: PLC0415

    return nasbench2, predictive


class PeerRunner:
    """What a user of the peer does per cell: build its model, call ``find_measures`` on one batch."""

    def __init__(self, peer: Path, inputs, targets, num_classes: int, seed: int) -> None:  # noqa: ANN001
        import torch  # noqa: PLC0415

        self.torch = torch
        self.nasbench2, self.predictive = import_peer(peer)
        self.loader = [(inputs, targets)]
        self.num_classes, self.seed = num_classes, seed

    def __call__(self, arch: str, proxies: tuple[str, ...]) -> dict:
        self.torch.manual_seed(self.seed)
        net = self.nasbench2.get_model_from_arch_str(arch, self.num_classes)
        names = [PEER_NAME.get(p, p) for p in proxies]
        info = ("random", 1, self.num_classes)
        return self.predictive.find_measures(net, self.loader, info, self.torch.device("cpu"), measure_names=names)


class ProjectRunner:
    """The project's engine fed one cell at a time, so each cell's time is taken in a running study."""

    def __init__(self, proxies: tuple[str, ...], data: str, batch_size: int, seed: int) -> None:
        from harness.scoring import score_cells  # noqa: PLC0415

        self.queue: list[int] = []
        self.proxies = proxies
        self.records = score_cells("nb201", self._feed(), list(proxies), data_dir=data, batch_size=batch_size,
                                   seed=seed, device="cpu")  # fmt: skip

    def _feed(self) -> Iterator[int]:
        while self.queue:
            yield self.queue.pop(0)

    def __call__(self, index: int) -> list:
        """Score one cell; the engine stays suspended after its last record until the next call."""
        self.queue.append(index)
        return [next(self.records) for _ in self.proxies]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load(label: str) -> str:
    one, five, fifteen = os.getloadavg()
    return f"{label} {one:.2f} / {five:.2f} / {fifteen:.2f}"


def child(args: argparse.Namespace) -> int:
    """One whole-process run of the seven on all cells (for the wall-clock comparison)."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    from harness.spaces import get_space  # noqa: PLC0415
    from harness.spaces.cells import parse_cells  # noqa: PLC0415

    cells = parse_cells(args.cells, "nb201")
    if args.child == "project":
        from harness.scoring import score_cells  # noqa: PLC0415

        for _ in score_cells("nb201", cells, list(PROXIES), data_dir=args.data, batch_size=args.batch_size,
                             seed=args.seed, device="cpu"):  # fmt: skip
            pass
        return 0
    inputs, targets = torch.load(args.batch_file, weights_only=True)  # the batch, not re-read from CIFAR files
    run = PeerRunner(args.peer, inputs, targets, 10, args.seed)
    space = get_space("nb201")
    for index in cells:
        run(space.arch(index), PROXIES)
    return 0


def wall_runs(args: argparse.Namespace, batch_file: Path) -> dict[str, list[float]]:
    """Fresh interpreters, A B B A ...: seconds from spawn to exit for each side."""
    walls: dict[str, list[float]] = {"project": [], "peer": [], "project cpu": [], "peer cpu": []}
    base = [sys.executable, str(Path(__file__).resolve()), "--peer", str(args.peer), "--cells", args.wall_cells,
            "--threads", str(args.threads), "--data", args.data, "--batch-size", str(args.batch_size),
            "--seed", str(args.seed), "--batch-file", str(batch_file)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(args.wall_runs):
        order = ("project", "peer") if run % 2 == 0 else ("peer", "project")
        for side in order:
            t0, c0 = time.perf_counter(), _children_cpu()
            proc = subprocess.run([*base, "--child", side], env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            walls[side + " cpu"].append(_children_cpu() - c0)
            if proc.returncode != 0:
                raise SystemExit(f"error: the {side} whole-process run failed: {proc.stderr.strip()[-800:]}")
            walls[side].append(seconds)
            print(f"  wall {side}: {seconds:.1f} s (CPU {walls[side + ' cpu'][-1]:.1f} s)", flush=True)
    return walls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True, help="a checkout of SamsungLabs/zero-cost-nas")
    parser.add_argument("--cells", default="sample:30:0")
    parser.add_argument("--warmup", default="sample:2:999", help="cells scored first by both, not timed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default=os.environ.get("NASI_HARNESS_DATA", ""), help="the CIFAR-10 directory")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wall-runs", type=int, default=2, help="whole-process runs per side (0: skip)")
    parser.add_argument("--wall-cells", default="sample:30:0", help="the cells of the whole-process runs")
    parser.add_argument("--out-dir", type=Path, help="write peer_speed.md and peer_speed.csv here")
    parser.add_argument("--child", choices=("project", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--batch-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.data:
        raise SystemExit("error: pass --data DIR or set NASI_HARNESS_DATA (real CIFAR-10 images are needed)")
    if args.child:
        return child(args)

    import torch  # noqa: PLC0415

    from harness.data import make_batch  # noqa: PLC0415
    from harness.scoring import score_cells  # noqa: PLC0415
    from harness.spaces import get_space  # noqa: PLC0415
    from harness.spaces.cells import parse_cells  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    commit = peer_commit(args.peer)
    space = get_space("nb201")
    cells = parse_cells(args.cells, "nb201")
    warm = parse_cells(args.warmup, "nb201") if args.warmup else []
    batch = make_batch("cifar10", args.batch_size, "real", "true", args.seed, args.data)
    peer = PeerRunner(args.peer, batch.inputs.clone(), batch.targets.clone(), 10, args.seed)
    configs = {p: (p,) for p in PROXIES} | {TOGETHER: PROXIES}
    ours = {name: ProjectRunner(proxies, args.data, args.batch_size, args.seed) for name, proxies in configs.items()}
    loads = [load("before")]
    where = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{args.threads} threads each, peer {commit}")  # fmt: skip
    print(f"# {len(cells)} NB201 cells ({args.cells}), CIFAR-10 real, b = {args.batch_size}; {where}; {loads[0]}")

    rows: list[dict] = []
    for step, index in enumerate([*warm, *cells]):
        timed = step >= len(warm)
        arch = space.arch(index)
        for k, (name, proxies) in enumerate(configs.items()):
            order = ("project", "peer") if (step + k) % 2 == 0 else ("peer", "project")
            for side in order:
                c0, t0 = time.process_time(), time.perf_counter()
                if side == "project":
                    records = ours[name](index)
                    bad = [r.proxy for r in records if r.status not in ("ok", "degenerate", "nan")]
                    if bad:
                        raise SystemExit(f"error: cell {index}: {bad} failed: {[r.status for r in records]}")
                else:
                    peer(arch, proxies)
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
                if timed:
                    rows.append({"cell": index, "config": name, "side": side, "first": side == order[0],
                                 "seconds": round(seconds, 5), "cpu_seconds": round(cpu, 5)})  # fmt: skip
        if timed:
            done = [r for r in rows if r["cell"] == index and r["config"] == TOGETHER]
            print(f"  cell {index}: seven together " + ", ".join(f"{r['side']} {r['seconds']:.2f} s" for r in done),
                  flush=True)  # fmt: skip
    loads.append(load("after the interleaved runs"))

    nasi = []
    for r in score_cells("nb201", [*warm, *cells], ["nasi"], data_dir=args.data, batch_size=args.batch_size,
                         seed=args.seed, device="cpu"):  # fmt: skip
        nasi.append(r.seconds)
    nasi = nasi[len(warm) :]
    loads.append(load("after nasi"))

    walls: dict[str, list[float]] = {"project": [], "peer": [], "project cpu": [], "peer cpu": []}
    if args.wall_runs:
        batch_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"peer_speed_batch_{os.getpid()}.pt"
        torch.save((batch.inputs, batch.targets), batch_file)
        try:
            walls = wall_runs(args, batch_file)
        finally:
            batch_file.unlink(missing_ok=True)
        loads.append(load("after the whole-process runs"))

    lines = summary(rows, cells, nasi, walls, loads, where, args)
    print("\n".join(lines))
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "peer_speed.md").write_text("\n".join(lines) + "\n")
        with (args.out_dir / "peer_speed.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.out_dir}/peer_speed.md and peer_speed.csv", file=sys.stderr)
    return 0


def summary(rows: list[dict], cells: list[int], nasi: list[float], walls: dict, loads: list[str],
            where: str, args: argparse.Namespace) -> list[str]:  # fmt: skip
    """The markdown report: per proxy medians and ratios (wall and CPU time), shared work, walls, nasi, load."""
    med = statistics.median

    def times(config: str, side: str, kind: str = "seconds") -> dict[int, float]:
        return {r["cell"]: r[kind] for r in rows if r["config"] == config and r["side"] == side}

    def ratio(config: str, kind: str) -> float:
        ours, theirs = times(config, "project", kind), times(config, "peer", kind)
        return med(theirs[c] / ours[c] for c in ours)

    lines = [
        f"# Speed against SamsungLabs/zero-cost-nas ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{len(cells)} NB201 cells (`{args.cells}`), the same real CIFAR-10 batch (b = {args.batch_size}, seed "
        f"{args.seed}) for both; {where}; one process, interleaved per cell (A B / B A); a cell's time includes "
        "building its network. Load average (1 / 5 / 15 min): " + "; ".join(loads) + ". CPU time is the "
        "process's user + system time over the call (both threads), less disturbed by other processes than the "
        "wall clock on a shared machine.",
        "",
        "| proxy | project median s | peer median s | peer / project, wall | peer / project, CPU time |",
        "|---|---|---|---|---|",
    ]
    for config in [*PROXIES, TOGETHER]:
        ours, theirs = times(config, "project"), times(config, "peer")
        lines.append(f"| {config} | {med(ours.values()):.4f} | {med(theirs.values()):.4f} | "
                     f"**{ratio(config, 'seconds'):.2f}x** | **{ratio(config, 'cpu_seconds'):.2f}x** |")  # fmt: skip
    lines.append("")
    lines.append("Ratios are medians of the per-cell ratios. The seven together against the seven apart, per cell "
                 "(median of together / sum apart; below 1 is the saving of shared work):")  # fmt: skip
    for side in ("project", "peer"):
        for kind in ("seconds", "cpu_seconds"):
            apart = {c: sum(times(p, side, kind)[c] for p in PROXIES) for c in cells}
            together = times(TOGETHER, side, kind)
            share = med(together[c] / apart[c] for c in cells)
            label = "wall" if kind == "seconds" else "CPU time"
            lines.append(f"- {side}, {label}: {share:.2f} (medians {med(together.values()):.3f} s together, "
                         f"{med(apart.values()):.3f} s apart)")  # fmt: skip
    lines.append("")
    lines.append(f"nasi (project only): median {med(nasi):.4f} s per cell (proxy call, b = {args.batch_size}, "
                 f"{len(nasi)} cells), p90 {sorted(nasi)[int(0.9 * (len(nasi) - 1))]:.4f} s.")  # fmt: skip
    if walls["project"] and walls["peer"]:
        p, q = med(walls["project"]), med(walls["peer"])
        pc, qc = med(walls["project cpu"]), med(walls["peer cpu"])
        lines.append("")
        lines.append(f"Whole process, the seven on the cells `{args.wall_cells}` (a fresh interpreter each: start-up, "
                     f"imports, data, construction): project {', '.join(f'{w:.1f}' for w in walls['project'])} s, "
                     f"peer {', '.join(f'{w:.1f}' for w in walls['peer'])} s (runs alternated, A B B A); peer / "
                     f"project **{q / p:.2f}x** wall (medians {q:.1f} / {p:.1f} s), **{qc / pc:.2f}x** CPU time "
                     f"({qc:.1f} / {pc:.1f} s). The peer's run reads the batch from a tensor file; the project's "
                     "loads it from the CIFAR-10 files.")  # fmt: skip
    lines.append("")
    lines.append(f"Reproduce: `PYTHONPATH=. python benchmarks/scripts/peer_speed.py --peer PATH --cells {args.cells} "
                 f"--wall-cells {args.wall_cells} --threads {args.threads} --data $NASI_HARNESS_DATA --wall-runs "
                 f"{args.wall_runs} --out-dir results/speed` with PATH a checkout of zero-cost-nas at the commit "
                 "above.")  # fmt: skip
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
