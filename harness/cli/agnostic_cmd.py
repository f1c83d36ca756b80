"""``nasi-harness agnostic``: does a proxy's ranking survive random data or labels? A verdict per claim."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option, options

# harness.analysis.decisions.PICK_SIZES and agnostic.TRANSFER_DATASETS, repeated so that --help needs no pandas
DEFAULT_PICKS = (10, 100, 1000)
TRANSFER = ("cifar100", "ImageNet16-120")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "agnostic",
        help="agreement of each proxy's scores under swapped data/labels with its reference scores, and a verdict",
        description="Compare each proxy's scores under every swapped data/label mode with its scores under the "
        "reference mode (real data, true labels) on the same cells: Kendall, Spearman and Pearson (NASI's "
        "measure) with intervals, top-k overlap, and each mode's correlation with accuracy when ground truth "
        "is found (it is optional here). The verdict compares tau(reference, swapped) with the proxy's seed "
        "floor: tau between its reference scores under two seeds (within or beyond seed noise). With ground "
        "truth, sample-and-pick decisions (pick@N) with the reference and the swapped scores on the same samples.",
    )
    options.add_store_arguments(parser)
    options.add_target_arguments(parser)
    parser.add_argument(
        "--reference", default="real/true", metavar="DATA/LABELS", help="reference mode (default real/true)"
    )
    parser.add_argument(
        "--line",
        metavar="HOLDS,FAILS",
        help="also give the secondary line_verdict on tau's interval against fixed lines (e.g. 0.8,0.5; from no "
        "paper, off by default)",
    )
    parser.add_argument(
        "--picks",
        default=",".join(map(str, DEFAULT_PICKS)),
        metavar="N,N,...",
        help=f"sample sizes of sample-and-pick (default {','.join(map(str, DEFAULT_PICKS))}; each below the pool)",
    )
    parser.add_argument(
        "--transfer",
        nargs="?",
        const=",".join(TRANSFER),
        metavar="DATASET,...",
        help=f"judge the picks also by these datasets' accuracy (default when given bare: {','.join(TRANSFER)})",
    )
    parser.add_argument("--no-accuracy", action="store_true", help="skip the correlation with ground truth")
    parser.add_argument("--exclude-degenerate", action="store_true", help="leave degenerate cells out")
    options.add_bootstrap_arguments(parser)
    options.add_output_arguments(parser)
    add_plugin_option(parser)
    parser.set_defaults(func=_agnostic)


def _agnostic(args: argparse.Namespace) -> int:
    from harness.analysis import Thresholds, agnosticism
    from harness.analysis import tables as views
    from harness.errors import HarnessError

    data_mode, _, labels = args.reference.partition("/")
    if not data_mode or not labels:
        raise ValueError(f"--reference must be DATA/LABELS (e.g. real/true), got {args.reference!r}")
    thresholds = None
    if args.line:
        holds, _, fails = args.line.partition(",")
        thresholds = Thresholds(holds=float(holds), fails=float(fails or holds))
    picks = tuple(int(n) for n in args.picks.split(",") if n.strip())
    transfer = tuple(d.strip() for d in (args.transfer or "").split(",") if d.strip())
    results = options.load_filtered(args)
    result = agnosticism(
        results,
        None if args.no_accuracy else options.make_target(args),
        reference=(data_mode, labels),
        exclude_degenerate=args.exclude_degenerate,
        thresholds=thresholds,
        pick_sizes=picks,
        transfer=transfer,
        n_boot=args.bootstrap,
        seed=args.bootstrap_seed,
        level=args.level,
    )
    table = result.table
    if table.empty:
        modes = sorted({f"{d}/{lab}" for d, lab in zip(results["data"], results["labels"])})
        raise HarnessError(
            f"nothing to compare: modes stored are {', '.join(modes)}; agnosticism needs the reference "
            f"{args.reference} and at least one swapped mode (score with e.g. --labels random or --data gaussian)"
        )
    notes = [*result.notes, *result.method]  # the verdict rule, the bootstrap, the decisions
    options.emit_table(args, table, views.agnostic_columns, notes)
    return 0
