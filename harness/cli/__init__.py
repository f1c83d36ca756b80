"""Command-line entry point. Holds no logic: each sub-command module parses arguments and calls the library."""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

from harness._version import __version__
from harness.errors import HarnessError, one_line

# One module per sub-command, each exposing ``register(subparsers)`` which sets ``func`` on its parser.
COMMAND_MODULES = (
    "data_cmd",
    "space_cmd",
    "score_cmd",
    "run_cmd",
    "export_cmd",
    "merge_cmd",
    "correlate_cmd",
    "compare_cmd",
    "agnostic_cmd",
    "report_cmd",
    "search_cmd",
    "proxy_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasi-harness",
        description="Score, correlate and compare training-free NAS proxies on NAS-Bench-201 / NATS-Bench.",
    )
    parser.add_argument("--version", action="version", version=f"nasi-harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"harness.cli.{name}").register(subparsers)
    return parser


def _load_plugins(argv: Sequence[str] | None) -> None:
    """``--plugin PATH.py`` (any sub-command) and installed entry points, loaded before the parser is built so
    that plugin spaces and proxies are valid choices."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--plugin", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    if not known.plugin and not _plugin_entry_points():
        return  # nothing to load: the plugin machinery imports the proxy registry, and with it torch
    from harness.plugins import load_plugins

    load_plugins(known.plugin)


def _plugin_entry_points() -> bool:
    """Whether an installed package declares plugins (``harness.plugins.ENTRY_POINT_GROUP``; a test checks it)."""
    from importlib import metadata

    return bool(metadata.entry_points(group="nasi_harness.proxies"))


def add_plugin_option(parser: argparse.ArgumentParser) -> None:
    """``--plugin`` on a sub-command (for its help; ``main`` has loaded the files already)."""
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH.py",
        help="load proxies/spaces from this file first (repeatable); see docs/extending.md",
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        _load_plugins(argv)
    except HarnessError as exc:
        print(f"nasi-harness: error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (HarnessError, ValueError, FileNotFoundError) as exc:
        message = one_line(str(exc)) or type(exc).__name__
        print(f"nasi-harness: error: {message}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # damage the open check did not reach (a store past its time budget)
        message = one_line(f"results database: {exc} (a damaged store? docs/store.md says how to recover it)")
        print(f"nasi-harness: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nasi-harness: interrupted", file=sys.stderr)
        return 130
