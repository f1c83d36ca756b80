"""How much the cells' BatchNorm gamma/beta matter to NASI's search: traces with and without them, seed by seed.

Both traces of a seed sample the same cells on the same batches (the Gumbel and data streams do not depend on the
supernet), so they differ only in the parameter set whose gradient norm is scored. Prints, per seed, the ratio of
the scores without / with the cells' BN affine parameters, the cosine between the two reward gradients w.r.t.
alpha, and the cell (NB201 index) NASI-FIX and NASI-ADA select from each at the steps both traces have.

    NASI_HARNESS_DATA=../shared/data .venv/bin/python -m benchmarks.scripts.evidence.search.bn_affine_effect
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from harness.search.nasi import NasiConfig, select
from harness.search.traces import read_trace, trace_path
from harness.spaces import get_space

HERE = Path(__file__).resolve().parents[4] / "results/search"  # where the outputs live


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default=str(HERE / "raw"))
    parser.add_argument("--seeds", default="0,1,2,3")
    args = parser.parse_args(argv)
    raw = Path(args.raw)
    space = get_space("nb201")
    print("| seed | steps | score ratio without/with: min, median | gradient cosine: min, median | nu estimate with -> "
          "without | NASI-FIX cell with / without | NASI-ADA cell with / without |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for seed in (int(s) for s in args.seeds.split(",")):
        paths = tuple(trace_path(raw, NasiConfig(cell_bn_affine=affine), "cifar10", seed) for affine in (True, False))
        if not all(p.exists() for p in paths):
            print(f"seed {seed}: missing {' or '.join(p.name for p in paths if not p.exists())}", file=sys.stderr)
            continue
        (doc_a, with_bn), (_, without) = read_trace(paths[0]), read_trace(paths[1])
        steps = min(len(with_bn.scores), len(without.scores))
        if with_bn.choices[:steps] != without.choices[:steps]:
            raise SystemExit(f"seed {seed}: the traces sampled different cells; they are not comparable")
        ratios = [b / a for a, b in zip(with_bn.scores[:steps], without.scores[:steps])]
        cosines = []
        for ga, gb in zip(with_bn.grads[:steps], without.grads[:steps]):
            a, b = torch.tensor(ga, dtype=torch.float64).flatten(), torch.tensor(gb, dtype=torch.float64).flatten()
            if a.norm() > 0 and b.norm() > 0:
                cosines.append(float(a @ b / (a.norm() * b.norm())))
        base = {k: v for k, v in doc_a["config"].items() if k not in ("variant", "steps", "nu", "cell_bn_affine")}
        cells = []
        for variant in ("fix", "ada"):
            config = NasiConfig(**base, variant=variant, steps=steps)
            a, b = (space.resolve(select(t, config).arch) for t in (with_bn, without))
            cells.append(f"{a} / {b}" + (" (same)" if a == b else " (differ)"))
        print(f"| {seed} | {steps} | {min(ratios):.4f}, {statistics.median(ratios):.4f} | "
              f"{min(cosines):.5f}, {statistics.median(cosines):.5f} | "
              f"{with_bn.nu_estimate:.1f} -> {without.nu_estimate:.1f} | {cells[0]} | {cells[1]} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
