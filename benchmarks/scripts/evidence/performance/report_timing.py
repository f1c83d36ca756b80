"""Time the analyses and the report on a synthetic store of the full benchmark's size (no test, no files).

``python -m benchmarks.scripts.evidence.performance.report_timing``
``[--cells 15625] [--proxies 20] [--bootstrap 1000] [--swapped 0]``
writes a results database of cells x proxies (x swapped modes) into a temporary directory, then times
loading it, ``correlate`` (degenerate cells included and excluded), ``compare``, ``agnosticism`` and the
whole report, and prints wall-clock and CPU seconds (on a shared machine the CPU time is the fair number:
everything here is single-threaded) and the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=15625)
    parser.add_argument("--proxies", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--swapped", type=int, default=0, help="swapped data/label modes per proxy (0-3)")
    parser.add_argument("--out", help="keep the report in this directory (default: a temporary one)")
    args = parser.parse_args(argv)

    import numpy as np

    from harness.analysis import agnosticism, compare, correlate
    from harness.analysis.inputs import load_scores
    from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
    from harness.report import render_report

    accuracy = synthetic_accuracy(args.cells, seed=0)
    rng = np.random.default_rng(1)
    proxies = {f"proxy{i:02d}": float(rng.uniform(-0.2, 0.85)) for i in range(args.proxies)}
    modes = dict(
        [(("real", "random"), 0.97), (("gaussian", "true"), 0.7), (("gaussian", "random"), 0.6)][: args.swapped]
    )
    frame = synthetic_results(accuracy, proxies, modes=modes, degenerate=range(0, args.cells, 45), seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "synthetic.db"
        start = time.perf_counter()
        write_store(str(store), frame)
        print(f"store: {len(frame):,} rows written in {time.perf_counter() - start:.1f} s")
        timings: dict[str, tuple[float, float]] = {}
        start, cpu = time.perf_counter(), time.process_time()
        results = load_scores(store)
        timings["load"] = (time.perf_counter() - start, time.process_time() - cpu)
        for name, run in (
            ("correlate (incl. + excl. degenerate)", lambda: correlate(results, accuracy, n_boot=args.bootstrap)),
            ("compare", lambda: compare(results, accuracy, n_boot=args.bootstrap)),
            ("agnosticism", lambda: agnosticism(results, accuracy, n_boot=args.bootstrap)),
        ):
            _clear_memo()
            start, cpu = time.perf_counter(), time.process_time()
            run()
            timings[name] = (time.perf_counter() - start, time.process_time() - cpu)
        _clear_memo()
        out = Path(args.out) if args.out else Path(tmp) / "report"
        start, cpu = time.perf_counter(), time.process_time()
        results = load_scores(store)
        render_report(results, out, accuracy, source="synthetic store", n_boot=args.bootstrap)
        timings["report (load + everything)"] = (time.perf_counter() - start, time.process_time() - cpu)
    print(f"{args.cells:,} cells x {args.proxies} proxies x {1 + args.swapped} modes, {args.bootstrap} resamples")
    print(f"  {'step':40s} {'wall':>7s} {'cpu':>7s}")
    for name, (wall, cpu_s) in timings.items():
        print(f"  {name:40s} {wall:6.1f}s {cpu_s:6.1f}s")
    print(f"load average during the run: {' '.join(f'{v:.1f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    return 0


def _clear_memo() -> None:
    from harness.analysis import bootstrap

    bootstrap._MEMO.clear()


if __name__ == "__main__":
    raise SystemExit(main())
