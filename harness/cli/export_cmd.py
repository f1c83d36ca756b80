"""``nasi-harness export STORE``: a results database as CSV or Parquet."""

from __future__ import annotations

import argparse
import sys

from harness.store.export import FORMATS, TABLES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a results database to CSV or Parquet")
    parser.add_argument("store", help="results database (results.sqlite)")
    parser.add_argument("--format", default="csv", choices=FORMATS, help="csv (default) or parquet (needs pyarrow)")
    parser.add_argument("--out", help="output file (default: CSV to stdout; Parquet beside the store)")
    parser.add_argument("--study", help="only this study's rows")
    parser.add_argument("--table", default="results", choices=TABLES, help="scores (default) or search runs")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from harness.store import export

    out = export(args.store, args.format, args.out, study=args.study, table=args.table)
    if out is not None:
        print(f"wrote {out}", file=sys.stderr)
    return 0
