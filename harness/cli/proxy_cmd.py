"""``nasi-harness proxy {check,list}``: run the proxy contract (harness.proxies.contract), list the registry."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option
from harness.cli.score_cmd import SPEC_FORM
from harness.spaces import space_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("proxy", help="check a proxy against the contract; list registered proxies")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="run the contract on a few cells of a space (Gaussian batch); exit 0 / 1")
    check.add_argument("proxy", metavar="[PATH.py:]NAME", help="a registered proxy, or NAME from the plugin PATH.py")
    check.add_argument("--space", default="nb201", metavar="SPACE",
                       help=f"search space of the cells: {', '.join(space_names())}, or one a --plugin file registers "
                       "(default nb201)")  # fmt: skip
    check.add_argument("--cells", metavar="SPEC",
                       help=f"the cells to check on (at most 16), a cell SPEC: {SPEC_FORM}; default: two fixed NB201 "
                       "cells, or 3 cells of the space drawn with --seed")  # fmt: skip
    check.add_argument("--batch-size", type=int, default=8, help="samples in the Gaussian batch (default 8)")
    check.add_argument("--seed", type=int, default=0)
    add_plugin_option(check)
    check.set_defaults(func=_check)
    listing = actions.add_parser("list", help="name, version, paper and declared flags of every registered proxy")
    listing.add_argument("--protocols", action="store_true",
                         help="also print each proxy's paper protocol and the code it was read from")  # fmt: skip
    add_plugin_option(listing)
    listing.set_defaults(func=_list)


def _check(args: argparse.Namespace) -> int:
    from harness.plugins import plugin_proxy
    from harness.proxies.contract import check_proxy, format_report, load_space
    from harness.spaces.cells import parse_cells

    name = plugin_proxy(args.proxy)
    if args.batch_size < 2:
        raise ValueError(f"--batch-size must be >= 2, got {args.batch_size}")
    load_space(args.space)  # an unknown space: one line before the cell SPEC is read
    cells = None if args.cells is None else parse_cells(args.cells, args.space)
    report = check_proxy(name, space=args.space, cells=cells, batch_size=args.batch_size, seed=args.seed)
    print("\n".join(format_report(report)))
    return 0 if report.ok else 1


def _list(args: argparse.Namespace) -> int:
    from harness.proxies import get_proxy, proxy_names

    print(f"{'name':<22} {'ver':>3}  {'flags':<50} paper")
    for name in proxy_names():
        s = get_proxy(name)
        flags = [f"bn={s.bn_mode}", f"higher={'yes' if s.higher_is_better else 'no'}"]
        flags += [f for f, on in (("labels", s.needs_labels), ("real-data", s.needs_real_data),
                                  ("mutates", s.mutates_net), ("prunable", s.prunable),
                                  ("splittable", s.splittable)) if on]  # fmt: skip
        origin = "" if s.builtin else " [plugin]"
        print(f"{name:<22} {s.version:>3}  {' '.join(flags):<50} {s.paper or '-'}{origin}")
        if args.protocols:
            protocol = "none declared (as harness)" if s.protocol is None else s.protocol.summary()
            print(f"{'':<28}paper protocol: {protocol}" + (f"; source {s.protocol.source}" if s.protocol else ""))
    return 0
