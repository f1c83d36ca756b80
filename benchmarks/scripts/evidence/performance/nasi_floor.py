"""How far nasi's CPU time per cell is from what this machine's convolution kernels allow.

Not a test: run it on an idle machine and record the figures with the time and load (docs/performance.md).

    python benchmarks/scripts/evidence/performance/nasi_floor.py --cells sample:30:0 --data real --labels true

Three passes over the same cells through the engine (``score_cells``, as ``speed.py`` times it): timed; under
``torch.profiler`` (self CPU time of the convolution kernels against all operators); under a dispatch mode that
records every convolution call (shapes, strides, which gradients). Then each distinct call is timed alone, warm in
cache, as often as the cells made it: the time the same convolutions take when nothing else competes for the
caches. If the network's convolution time is close to that, they cannot get faster without changing what is
computed (lower precision, Winograd), and the rest of the time is the other layers' memory traffic.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

from harness.scoring import parse_cells, score_cells
from harness.scoring.allocator import keep_freed_memory

CONV_KERNELS = ("aten::mkldnn_convolution", "aten::convolution_backward")
FORWARD, BACKWARD = torch.ops.aten.convolution.default, torch.ops.aten.convolution_backward.default


class ConvCalls(TorchDispatchMode):
    """Counts convolution calls by everything that sets their cost, and their FLOPs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter = Counter()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func is FORWARD or func is BACKWARD:
            key = _call_key(func, args)
            self.calls[key] += 1
            self.flops += _flops(key)
        return func(*args, **(kwargs or {}))


def _call_key(func, args) -> tuple:  # noqa: ANN001
    if func is FORWARD:
        x, w, _, stride, padding, dilation, _, _, groups = args
        return ("forward", tuple(x.shape), tuple(w.shape), tuple(stride), tuple(padding), groups, (False, False))
    g, x, w, _, stride, padding, dilation, _, _, groups, mask = args
    return ("backward", tuple(x.shape), tuple(w.shape), tuple(stride), tuple(padding), groups, tuple(mask[:2]))


def _flops(key: tuple) -> int:
    kind, x, w, stride, padding, groups, mask = key
    out_hw = [(x[2 + i] + 2 * padding[i] - w[2 + i]) // stride[i] + 1 for i in range(2)]
    one = 2 * x[0] * w[0] * out_hw[0] * out_hw[1] * w[1] * w[2] * w[3]
    return one if kind == "forward" else one * sum(mask)


def _time_alone(key: tuple, reps: int = 20) -> float:
    """Seconds for one call of ``key``, channels-last like the engine's CPU networks, warm in cache."""
    kind, x_shape, w_shape, stride, padding, groups, mask = key
    cl = torch.channels_last
    x = torch.randn(x_shape).contiguous(memory_format=cl)
    w = torch.randn(w_shape).contiguous(memory_format=cl)
    y = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    g = torch.randn_like(y)

    def call() -> None:
        if kind == "forward":
            torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, groups=groups)
        else:
            BACKWARD(g, x, w, None, list(stride), list(padding), [1, 1], False, [0, 0], groups, [*mask, False])

    for _ in range(3):
        call()
    t0 = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - t0) / reps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="sample:30:0")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", dest="data_mode", default="gaussian")
    parser.add_argument("--labels", default="random")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    cells = parse_cells(args.cells, "nb201")
    common = dict(dataset="cifar10", data_mode=args.data_mode, label_mode=args.labels, batch_size=args.batch_size,
                  device="cpu", share_intermediates=False)  # fmt: skip

    def run() -> list[float]:
        return [r.seconds for r in score_cells("nb201", cells, ["nasi"], **common)]

    run()  # warm-up: oneDNN primitives, allocator
    seconds = statistics.median(run())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    n = len(cells)
    conv_s = sum(self_us.get(k, 0) for k in CONV_KERNELS) / 1e6 / n
    ops_s = sum(v for k, v in self_us.items() if k.startswith("aten::")) / 1e6 / n
    calls = ConvCalls()
    with calls:
        run()
    alone_s = sum(count * _time_alone(key) for key, count in calls.calls.items()) / n

    print(f"# nasi, {n} NB201 cells ({args.cells}), b = {args.batch_size}, {args.threads} threads, "
          f"torch {torch.__version__}; {len(calls.calls)} distinct convolution calls")  # fmt: skip
    print(f"median per cell (timed pass): {seconds * 1e3:.1f} ms")
    print(f"profiled pass, per cell: convolution kernels {conv_s * 1e3:.1f} ms of {ops_s * 1e3:.1f} ms in operators "
          f"({conv_s / ops_s:.0%}); {calls.flops / n / 1e9:.1f} GFLOP of convolution, "
          f"{calls.flops / n / conv_s / 1e9:.0f} GFLOP/s")  # fmt: skip
    print(f"the same convolution calls alone, warm in cache: {alone_s * 1e3:.1f} ms per cell, "
          f"{calls.flops / n / alone_s / 1e9:.0f} GFLOP/s")  # fmt: skip
    print(f"the other operators (profiled): {(ops_s - conv_s) * 1e3:.1f} ms per cell")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
