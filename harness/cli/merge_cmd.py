"""``nasi-harness merge TARGET SOURCE...``: results from several databases or exports in one database."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge results databases or CSV/Parquet exports into one database (parts of a study, another machine)",
        description="Merge results into TARGET (created if missing). A finished row is never replaced; an error row "
        "is replaced by a finished one; a unit finished in both keeps TARGET's row. `run` then resumes from TARGET.",
    )
    parser.add_argument("target", help="results database to merge into (results.sqlite)")
    parser.add_argument("sources", nargs="+", help="results databases or exports (.csv, .csv.gz, .parquet)")
    parser.add_argument(
        "--study",
        help="only this study's rows; the rows of a table without a study column (score --out) are filed under it",
    )
    parser.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    from harness.store import merge_results

    summary = merge_results(args.target, args.sources, study=args.study)
    for line in summary.lines():
        print(line, file=sys.stderr)
    return 0
