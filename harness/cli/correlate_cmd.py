"""``nasi-harness correlate``: each proxy's scores against ground-truth accuracy, with bootstrap intervals."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option, options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "correlate",
        help="signed Spearman/Kendall/Pearson with 95%% intervals and top-k metrics, per proxy and mode",
        description="Correlate stored proxy scores with benchmark accuracy. Degenerate cells are reported "
        "both included and excluded unless --exclude-degenerate. Correlations are of the raw score; top-k "
        "metrics rank by the oriented score (negated for lower-is-better proxies). With several scoring seeds "
        "each seed is correlated on its own and every setting shows the mean over seeds, their sd and min to "
        "max, the interval over cells and one over cells and seeds (--seed N: one seed; --per-seed: each).",
    )
    options.add_store_arguments(parser)
    options.add_target_arguments(parser)
    parser.add_argument(
        "--exclude-degenerate", action="store_true", help="report only the rows without degenerate cells"
    )
    options.add_bootstrap_arguments(parser, scoring_seed=True)
    options.add_per_seed(parser)
    options.add_output_arguments(parser)
    add_plugin_option(parser)
    parser.set_defaults(func=_correlate)


def _correlate(args: argparse.Namespace) -> int:
    from harness.analysis import correlate
    from harness.analysis import tables as views

    results = options.load_filtered(args)
    result = correlate(
        results,
        options.make_target(args),
        degenerate="excluded" if args.exclude_degenerate else "both",
        n_boot=args.bootstrap,
        seed=args.bootstrap_seed,
        level=args.level,
        seeds=args.seeds,
    )
    table = result.table
    notes = [*result.notes, *result.method, _DIRECTION_NOTE]
    if options.summarised(table, args):
        options.emit_table(args, result.tables["seeds"], views.correlation_seed_columns, notes)
    else:
        options.emit_table(args, table, views.correlation_columns, [*notes, *options.seed_note(table)])
    return 0


_DIRECTION_NOTE = (
    "correlations are of the raw score (signed); prec/kendall_top/ndcg/best rank the cells by the oriented score "
    "(higher = better, i.e. negated where 'better' is lower); best@k = expected best true rank among the "
    "proxy's top k (1 = the best cell scored); ndcg gain = min-max normalised accuracy"
)
