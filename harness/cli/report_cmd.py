"""``nasi-harness report``: every figure and table, regenerated from the results store (no scoring, no GPU)."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option, options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write report.md with figures (PNG + PDF) and tables (CSV + Markdown) from a results store",
        description="Regenerate the analysis of a results store: score against accuracy per proxy, proxy x "
        "dataset heatmaps, comparison with paired intervals, precision at top-k, agnosticism. Without "
        "ground truth, the score-only parts are still written and the report says what is missing. With "
        "--study, the study's [analysis] settings stored by `run` (target, epochs, aggregates, "
        "builtin_aggregates) are used where --target, --epochs, --aggregate, --no-aggregates are not given; "
        "report.md says where each setting came from.",
    )
    options.add_store_positional(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created, with any missing parents)")
    parser.add_argument("--force", action="store_true", help="replace a report.md in DIR that is not text")
    parser.add_argument("--study", help="report one study of the store (default: every row)")
    options.add_cells_argument(parser)
    options.add_target_arguments(parser, study_defaults=True)
    parser.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="P1,P2[,...]",
        help="add the rank ensemble ensemble(P1+P2) of these proxies to the comparison: the values of --aggregate "
        "ensemble:P1+P2 (harness.ranking), without replacing a study's stored aggregates (repeatable)",
    )
    options.add_aggregate_arguments(parser, study_defaults=True)
    options.add_bootstrap_arguments(parser, scoring_seed=True)
    add_plugin_option(parser)
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    import time

    from harness.report import build_report

    ensembles = [options.split_list(e) for e in args.ensemble]
    for group in ensembles:
        if len(group) < 2:
            raise ValueError(f"--ensemble needs at least two proxies, got {','.join(group) or 'none'}")
    start = time.perf_counter()
    folder = options.output_folder(args.out)
    options.refuse_overwrite(folder / "report.md", "text", force=args.force, inputs=args.store)
    path = build_report(
        args.store,
        folder,
        study=args.study,
        data_dir=args.data_dir,
        split=args.split,  # None where not given: build_report takes the study's stored value, else the default
        epochs=args.epochs,
        ensembles=ensembles,
        aggregates=args.aggregate,
        builtin_aggregates=args.builtin_aggregates,
        n_boot=args.bootstrap,
        seed=args.bootstrap_seed,
        level=args.level,
        seeds=args.seeds,
        cells=args.cells,
    )
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    return 0
