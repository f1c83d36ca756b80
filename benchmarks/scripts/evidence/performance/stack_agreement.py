"""How closely stacked scoring (``--stack K``) reproduces per-cell scoring, proxy by proxy.

Not a test (tests/test_stacked.py asserts the tolerances): prints the largest and median relative difference
between stacked and per-cell scores on a fixed sample, per-cell in NCHW (the layout the stacked path uses; the
CPU default NHWC rounds differently by up to ~1e-3 on ill-conditioned cells).

    python benchmarks/scripts/evidence/performance/stack_agreement.py --proxies nasi --cells sample:8:0 --batch-size 8
    python benchmarks/scripts/evidence/performance/stack_agreement.py --proxies ntk_trace --cells sample:4:0 \
        --batch-size 2
    python benchmarks/scripts/evidence/performance/stack_agreement.py --proxies ntk_cond --cells sample:8:0 \
        --batch-size 8
"""

from __future__ import annotations

import argparse
import statistics

from harness.proxies import parse_proxy_list
from harness.scoring import parse_cells, score_cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxies", default="nasi")
    parser.add_argument("--cells", default="sample:8:0")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    cells = parse_cells(args.cells, "nb201")
    common = dict(data_mode="gaussian", label_mode="random", batch_size=args.batch_size, device=args.device,
                  channels_last=False)  # fmt: skip
    for proxy in parse_proxy_list(args.proxies):
        one = {r.index: r.score for r in score_cells("nb201", cells, [proxy], **common)}
        stacked = {r.index: r.score for r in score_cells("nb201", cells, [proxy], stack=len(cells), **common)}
        rel = [abs(stacked[i] - one[i]) / abs(one[i]) for i in one if one[i] and stacked[i] is not None]
        print(f"{proxy}: {len(rel)} cells, b = {args.batch_size}, {args.device}: stacked vs per-cell relative "
              f"difference max {max(rel):.1e}, median {statistics.median(rel):.1e}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
