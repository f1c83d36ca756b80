"""``nasi-harness data check``: what benchmark files, ground truth and datasets were found, and how to get the rest."""

from __future__ import annotations

import argparse

from harness.paths import SourceStatus, describe_roots


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check which benchmark files and datasets are available")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="list what was found and how to obtain what is missing")
    check.add_argument("--data", help="data root (default $NASI_HARNESS_DATA, else $TORCH_HOME, ~/.torch)")
    check.set_defaults(func=_check)


def _statuses(data: str | None) -> list[SourceStatus]:
    from harness.data import describe_datasets
    from harness.groundtruth import describe_sources

    return list(describe_sources(data)) + list(describe_datasets(data))


def _check(args: argparse.Namespace) -> int:
    print(f"data root: {describe_roots(args.data)}")
    statuses = _statuses(args.data)
    width = max(len(s.name) for s in statuses)
    for kind in dict.fromkeys(s.kind for s in statuses):
        print(f"\n{kind}:")
        for s in (s for s in statuses if s.kind == kind):
            mark = "found  " if s.found else "missing"
            where = s.path if s.found and s.path else s.detail
            print(f"  [{mark}] {s.name:<{width}}  {where}")
            if s.found and s.detail and s.detail != where:
                print(f"            {'':<{width}}  {s.detail}")
            if not s.found:
                print(f"            {'':<{width}}  how to obtain: {s.how_to_obtain}")
    found = sum(s.found for s in statuses)
    print(f"\n{found} of {len(statuses)} sources found.")
    return 0
