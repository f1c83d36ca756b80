"""``nasi-harness search {nasi,sample}``: run a search per seed, report the chosen cells' ground truth."""

from __future__ import annotations

import argparse
import json
import sys

from harness.cli import add_plugin_option, options
from harness.datasets import DATASETS

# harness.search's VARIANTS and NONE_OP_MODES, repeated so that --help needs no torch (tests/test_cli_startup.py)
VARIANTS = ("fix", "ada")
NONE_OP_MODES = ("candidate", "not-derived", "excluded")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", default="nb201", help="search space (nb201)")
    parser.add_argument("--dataset", default="cifar10", choices=list(DATASETS), help="data the search sees")
    parser.add_argument("--seeds", default="0", help="seeds: A-B, a comma list, or one (default 0)")
    parser.add_argument("--batch-size", type=int, default=64)
    # --data-mode / --label-mode, as in score (whose --data MODE / --labels MODE are the short forms); here --data
    # still means the old data folder (deprecated: --data-dir), so only --labels is shared
    parser.add_argument("--data-mode", default="real", metavar="MODE",
                        help="data mode: real, gaussian, uniform, repeat, other:<dataset>")  # fmt: skip
    parser.add_argument("--label-mode", "--labels", dest="label_mode", default="true", metavar="MODE",
                        help="label mode: true, random, shuffled")  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    options.add_data_dir(parser)
    parser.add_argument("--no-accuracy", action="store_true", help="skip the ground-truth lookup")
    parser.add_argument("--store", help="results database to record each run in (results.sqlite)")
    parser.add_argument("--study", default="search", help="study name for --store (default 'search')")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--summary", action="store_true", help="print mean ± std over seeds")
    out.add_argument("--json", action="store_true", help='print {"runs": [...], "summary": {...}} as JSON')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("search", help="NASI search or sample-and-pick; ground truth of the chosen cell")
    algorithms = parser.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)

    nasi = algorithms.add_parser("nasi", help="NASI: supernet, straight-through Gumbel, one aggregated step")
    _common(nasi)
    nasi.add_argument("--variant", default="fix", choices=VARIANTS, help="fix: nu fixed; ada: nu = running mean")
    nasi.add_argument("--steps", type=int, default=100, help="T, sampled architectures (default 100; 4T = 400)")
    nasi.add_argument("--mu", type=float, default=2.0, help="penalty coefficient (default 2)")
    nasi.add_argument("--nu", type=float, help="constraint; fix: default the mean score of --nu-cells random cells; "
                      "ada: initial value (default none)")  # fmt: skip
    nasi.add_argument("--nu-cells", type=int, default=50, help="random cells for the fix nu estimate (default 50)")
    nasi.add_argument("--tau", type=float, default=1.0, help="Gumbel-softmax temperature (default 1)")
    nasi.add_argument("--cells-per-stage", type=int, default=5, help="supernet N (benchmark: 5; 1 = fast CPU mode)")
    nasi.add_argument("--channels", type=int, default=16, help="supernet C (benchmark: 16)")
    nasi.add_argument(
        "--no-cell-bn-affine",
        dest="cell_bn_affine",
        action="store_false",
        help="the cells' BatchNorms without gamma/beta, as in DARTS's and NAS-Bench-201's search supernets "
        "(default: with, as in the benchmark's networks)",
    )
    nasi.add_argument(
        "--none-op",
        default="candidate",
        choices=NONE_OP_MODES,
        help="the 'none' operation: candidate (sampled and choosable, NB201's search code; default), not-derived "
        "(sampled, never chosen: DARTS's derivation), excluded (never sampled nor chosen)",
    )
    nasi.set_defaults(func=_search)

    sample = algorithms.add_parser("sample", help="score N random cells, keep the best (NASWOT)")
    _common(sample)
    sample.add_argument("--n", type=int, default=100, help="cells to sample (default 100)")
    sample.add_argument(
        "--proxies",
        required=True,
        help="proxy or pool aggregate (az_nas, te_nas, vkdnw_single, vkdnw_agg, or a rank ensemble NAME=P1+P2 / "
        "ensemble:P1+P2 as for --aggregate: ranked over the N cells), or a comma list for a rank-sum ensemble",
    )
    add_plugin_option(sample)
    sample.set_defaults(func=_search)


def _config(args: argparse.Namespace) -> dict:
    common = {"batch_size": args.batch_size, "data_mode": args.data_mode, "label_mode": args.label_mode}
    if args.algorithm == "nasi":
        return {
            **common, "variant": args.variant, "steps": args.steps, "mu": args.mu, "nu": args.nu,
            "nu_cells": args.nu_cells, "tau": args.tau, "cells_per_stage": args.cells_per_stage,
            "channels": args.channels, "cell_bn_affine": args.cell_bn_affine,
            "none_op": args.none_op,
        }  # fmt: skip
    return {**common, "n": args.n, "proxies": args.proxies}


def _search(args: argparse.Namespace) -> int:
    from harness.data import validate_modes
    from harness.search import parse_seeds, record, run_search, summarise
    from harness.search.result import result_line as _line
    from harness.search.result import summary_lines as _summary_lines

    seeds = parse_seeds(args.seeds)
    config = _config(args)
    validate_modes(args.data_mode, args.label_mode)
    store = None
    if args.store:
        from harness.store import ResultStore

        store = ResultStore(args.store)
    results = []
    try:
        for seed in seeds:
            result = run_search(
                args.algorithm, args.space, args.dataset, seed, device=args.device, data_dir=args.data_dir,
                accuracy=not args.no_accuracy, progress=_progress(args, seed), **config,
            )  # fmt: skip
            results.append(result)
            if store is not None:
                record(store, args.study, result)
            if not args.json:
                print(_line(result), file=sys.stderr if args.summary else sys.stdout, flush=True)
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps({"runs": [r.run_dict() for r in results], "summary": summarise(results)}, indent=2))
    elif args.summary:
        print("\n".join(_summary_lines(results)))
    return 0


def _progress(args: argparse.Namespace, seed: int):  # noqa: ANN202 - a callback or None
    """A stderr line every 10% of NASI's steps (a search on a CPU is long)."""
    if args.algorithm != "nasi":
        return None
    every = max(1, args.steps // 10)

    def report(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            print(f"nasi seed {seed}: step {done}/{total}", file=sys.stderr, flush=True)

    return report
