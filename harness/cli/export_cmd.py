"""``nasi-harness export STORE``: a results database as CSV or Parquet."""

from __future__ import annotations

import argparse

from harness.cli import options

# harness.store.export's FORMATS and TABLES, repeated so that --help needs no pandas (tests/test_cli_startup.py)
FORMATS = ("csv", "parquet")
TABLES = ("results", "search_runs")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a results database to CSV or Parquet")
    parser.add_argument("store", help="results database (results.sqlite)")
    parser.add_argument("--format", default="csv", choices=FORMATS, help="csv (default) or parquet (needs pyarrow)")
    options.add_out(parser, "output file (default: CSV to stdout; Parquet beside the store)", metavar="FILE")
    parser.add_argument("--study", help="only this study's rows")
    parser.add_argument("--table", default="results", choices=TABLES, help="scores (default) or search runs")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from harness.store.export import default_out, export_rows

    out = args.out or (default_out(args.store, args.table) if args.format == "parquet" else None)
    writes = "parquet" if args.format == "parquet" else "results"
    out_path = options.output_path(out, writes, force=args.force, inputs=[args.store]) if out else None
    out, rows = export_rows(args.store, args.format, out_path, study=args.study, table=args.table)
    if out is not None:
        options.wrote(rows, out)
    return 0
