"""Trace NASI on NAS-Bench-201 once per seed and save it; ``search_table.py`` derives NASI-FIX/ADA at T and 4T.

NASI never moves alpha during its loop, so one trace of 4T steps holds everything the four variants need
(see ``harness.search.nasi.NasiTrace``); a T-step search with the same seed is exactly the first T steps.
Traces are checkpointed every ``--chunk`` steps and extended in place, so ``--steps 100`` now and
``--steps 400`` later costs 400 steps in all.

    NASI_HARNESS_DATA=../shared/data OMP_NUM_THREADS=1 \\
        .venv/bin/python benchmarks/scripts/nasi_traces.py --seeds 0-3 --steps 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from harness.scoring.device import device_label, resolve_device
from harness.search import parse_seeds
from harness.search.nasi import NasiConfig, NasiTrace, trace_nasi
from harness.search.traces import read_trace, trace_path

HERE = Path(__file__).resolve().parents[2] / "results/search"  # where the outputs live


def load_trace(path: Path) -> tuple[dict, NasiTrace] | None:
    return read_trace(path) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=25, help="checkpoint every CHUNK steps")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--cells-per-stage", type=int, default=5)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--nu-cells", type=int, default=50)
    parser.add_argument("--data-mode", default="real")
    parser.add_argument("--label-mode", default="true")
    parser.add_argument(
        "--no-cell-bn-affine", dest="cell_bn_affine", action="store_false",
        help="cells' BatchNorms without gamma/beta (DARTS / NB201 search-code supernets)",
    )  # fmt: skip
    parser.add_argument(
        "--none-op", default="candidate", choices=("candidate", "excluded"),
        help="excluded: 'none' is never sampled (a 4-operation space); not-derived needs no trace of its own",
    )  # fmt: skip
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data", help="data root")
    parser.add_argument("--out", default=str(HERE / "raw"))
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    for seed in parse_seeds(args.seeds):
        config = NasiConfig(
            variant="fix", steps=args.steps, nu_cells=args.nu_cells, batch_size=args.batch_size,
            cells_per_stage=args.cells_per_stage, channels=args.channels, data_mode=args.data_mode,
            label_mode=args.label_mode, cell_bn_affine=args.cell_bn_affine, none_op=args.none_op,
        )  # fmt: skip
        path = trace_path(out, config, args.dataset, seed)
        loaded = load_trace(path)
        trace = loaded[1] if loaded else None
        done = 0 if trace is None else len(trace.scores)
        while done < args.steps:
            target = min(args.steps, done + args.chunk)
            start = time.perf_counter()
            trace = trace_nasi(
                NasiConfig(**{**config.as_dict(), "steps": target}), args.dataset, seed, device, args.data,
                previous=trace,
            )  # fmt: skip
            doc = {
                "dataset": args.dataset,
                "seed": seed,
                "config": {**config.as_dict(), "steps": target},
                "device": device_label(device),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "trace": asdict(trace),
            }
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            tmp.replace(path)
            print(
                f"seed {seed}: {target}/{args.steps} steps, {time.perf_counter() - start:.0f} s for this chunk, "
                f"nu estimate {trace.nu_estimate}",
                file=sys.stderr,
                flush=True,
            )
            done = target
    return 0


if __name__ == "__main__":
    sys.exit(main())
