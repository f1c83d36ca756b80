"""``nasi-harness merge TARGET SOURCE...``: results from several databases or exports in one database."""

from __future__ import annotations

import argparse
import sys

from harness.cli import add_plugin_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge results databases or CSV/Parquet exports into one database (parts of a study, another machine)",
        description="Merge results into TARGET (created if missing). Every row is checked (status, cell index and arch "
        "in its space, dataset, modes, batch size) first. A finished row is never replaced by a failed one (error, "
        "timeout); a failed row is replaced by a finished one; a unit finished twice with different results is an "
        "error naming it, unless --prefer settles it. `run` then resumes from TARGET.",
    )
    parser.add_argument("target", help="results database to merge into (results.sqlite)")
    parser.add_argument("sources", nargs="+", help="results databases or exports (.csv, .csv.gz, .parquet)")
    parser.add_argument(
        "--study",
        help="only this study's rows; the rows of a table without a study column (score --out) are filed under it",
    )
    parser.add_argument(
        "--prefer",
        choices=["newest", "oldest"],
        help="for a unit finished twice with different results (scores from two devices), keep the row created "
        "last (newest) or first (oldest) instead of refusing the merge",
    )
    parser.add_argument(
        "--allow-thread-change",
        action="store_true",
        help="merge CPU rows scored with another thread count than the study's rows in TARGET, or with none "
        "recorded (an old score --out table); refused otherwise, as run refuses such a resume (rows keep their count)",
    )
    add_plugin_option(parser)
    parser.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.store import merge_results

    try:
        summary = merge_results(args.target, args.sources, study=args.study, prefer=args.prefer,
                                allow_thread_change=args.allow_thread_change)  # fmt: skip
    except HarnessError as exc:  # one line per bad row or conflict (main would show the first only)
        lines = str(exc).splitlines() or [type(exc).__name__]
        print(f"nasi-harness: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return 2
    for line in summary.lines():
        print(line, file=sys.stderr)
    return 0
