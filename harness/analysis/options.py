"""Command-line options shared by ``correlate``, ``compare``, ``agnostic`` and ``report`` (one definition, one
meaning), and the steps every one of them takes: load the store, filter it, build the target, write output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.analysis.bootstrap import DEFAULT_RESAMPLES
from harness.analysis.inputs import describe_sources, load_scores
from harness.analysis.target import TargetFn, TargetSpec, target_loader
from harness.errors import HarnessError


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_positional(parser)
    parser.add_argument("--study", help="analyse one study of the store (default: every row)")
    parser.add_argument("--dataset", help="only scores computed on this dataset (default: every dataset)")
    parser.add_argument("--proxies", help="comma list of proxies to include (default: every proxy stored)")
    parser.add_argument(
        "--space", help="search space of a CSV/Parquet table without a space column (default: from its arch strings)"
    )


def add_store_positional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "store",
        metavar="STORE",
        nargs="+",
        help="results database or a CSV/Parquet export of one; several are read as one table (e.g. the real-data "
        "scores of one study and the swapped-mode scores of another)",
    )


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        dest="data_root",
        metavar="DIR",
        help="ground-truth root (default $NASI_HARNESS_DATA, $TORCH_HOME, ~/.torch)",
    )
    parser.add_argument(
        "--target",
        dest="split",
        choices=("test", "valid"),
        default="test",
        help="accuracy split to rank against (valid on cifar10 uses cifar10-valid; default test)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training schedule of the target: 200 or 12 (default: the space's full schedule)",
    )


def add_bootstrap_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        type=_positive,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=_non_negative, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print JSON records instead of tables")
    group.add_argument("--out", metavar="FILE", help="write to FILE: .json, .csv, .md, anything else aligned text")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def load_filtered(args: argparse.Namespace) -> pd.DataFrame:
    """The store's rows after --study, --dataset and --proxies, or a one-line error saying what is present."""
    frame = load_scores(args.store, study=args.study, space=getattr(args, "space", None))
    where = describe_sources(args.store)
    if frame.empty:
        raise HarnessError(f"no results in {where}" + (f" for study {args.study!r}" if args.study else ""))
    if args.dataset:
        present = sorted(set(frame["dataset"].astype(str)))
        frame = frame[frame["dataset"].astype(str) == args.dataset]
        if frame.empty:
            raise HarnessError(f"no scores on dataset {args.dataset!r} in {where}; present: {', '.join(present)}")
    wanted = split_list(getattr(args, "proxies", None))
    if wanted:
        present = set(frame["proxy"].astype(str))
        absent = [p for p in wanted if p not in present]
        if absent:
            raise HarnessError(f"proxy {', '.join(absent)} not in {where}; present: {', '.join(sorted(present))}")
        frame = frame[frame["proxy"].astype(str).isin(wanted)]
    return frame


def make_target(args: argparse.Namespace) -> TargetFn:
    return target_loader(TargetSpec(split=args.split, epochs=args.epochs), data=args.data_root)


def emit(
    args: argparse.Namespace,
    frame: pd.DataFrame,
    text: Callable[[], str],
    markdown: Callable[[], str],
    as_json: Callable[[], str],
    as_csv: Callable[[], str],
) -> None:
    """Print or write one analysis in the format the options ask for."""
    if args.json:
        sys.stdout.write(as_json() + "\n")
        return
    if not args.out:
        sys.stdout.write(text())
        return
    out = Path(args.out)
    suffix = out.suffix.lower()
    content = {".json": lambda: as_json() + "\n", ".csv": as_csv, ".md": markdown}.get(suffix, text)()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content)
    print(f"wrote {out} ({len(frame)} rows)", file=sys.stderr)
