"""``nasi-harness space show|table``: inspect cells of a search space."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from harness.cli import options
from harness.datasets import DATASETS
from harness.errors import DataMissing
from harness.spaces import get_space, space_names

ACCURACY_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("space", help="inspect a search space (cells, params/FLOPs, isomorphism)")
    sub = parser.add_subparsers(dest="space_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="one cell: index, arch, canonical form, params/FLOPs, accuracy")
    show.add_argument("space", choices=space_names())
    show.add_argument("cell", help="official index or arch string")
    show.add_argument("--dataset", default="cifar10", choices=list(DATASETS), help="for params/FLOPs")
    options.add_data_dir(show, "data root for ground truth")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)
    table = sub.add_parser("table", help="every cell in index order as CSV")
    table.add_argument("space", choices=space_names())
    table.add_argument("--dataset", default="cifar10", choices=list(DATASETS), help="for params/FLOPs")
    options.add_out(table, "CSV file (default: stdout)", metavar="FILE")
    table.set_defaults(func=_table)


def full_epochs(space: str) -> int | None:
    """The space's full training schedule (nb201: 200, nats-sss: 90), from the ground-truth spec; None for a
    space no benchmark covers."""
    from harness.groundtruth.spec import FAMILIES, FULL_EPOCHS

    family = FAMILIES.get(space)
    return None if family is None else FULL_EPOCHS[family]


def _accuracies(space: str, index: int, data: str | None) -> dict[str, float]:
    """Test accuracy (the space's full schedule, seed-averaged) per dataset, where ground truth is found."""
    import warnings

    from harness.groundtruth import load_accuracy
    from harness.groundtruth.api import PartialGroundTruth

    epochs = full_epochs(space)
    if epochs is None:
        return {}
    found = {}
    for dataset in ACCURACY_DATASETS:
        try:
            with warnings.catch_warnings():  # one cell is asked for: that the table covers few others is no news
                warnings.simplefilter("ignore", PartialGroundTruth)
                series = load_accuracy(
                    space, dataset, "test", epochs, data_dir=data, cells=[index]
                )  # only its own file
        except (DataMissing, ValueError):
            continue
        if index in series.index:
            found[dataset] = round(float(series.loc[index]), 4)
    return found


def _show(args: argparse.Namespace) -> int:
    sp = get_space(args.space)
    index = sp.resolve(args.cell)
    cost = sp.cost(index, args.dataset)
    info = {
        "index": index,
        "arch": sp.arch(index),
        "canonical": sp.canonical(index),
        "degenerate": sp.is_degenerate(index),
        "params_m": cost.params_m,
        "flops_m": cost.flops_m,
    }
    accuracy = _accuracies(args.space, index, args.data_dir)
    if accuracy:
        info["accuracy"] = accuracy
    if args.json:
        print(json.dumps(info))
        return 0
    for key, value in info.items():
        if key == "accuracy":
            schedule = f"test, {full_epochs(args.space)} epochs, seed-averaged"
            value = ", ".join(f"{d} {a:.2f}" for d, a in value.items()) + f"  ({schedule})"
        print(f"{key:>10}: {value}")
    if not accuracy:
        print("  accuracy: not found (run `nasi-harness data check` to see what ground truth is available)")
    return 0


def _table(args: argparse.Namespace) -> int:
    sp = get_space(args.space)
    with_iso = args.space == "nb201"
    columns = ["index", "arch", "params_m", "flops_m"] + (["canonical", "degenerate"] if with_iso else [])
    out = open(options.output_path(args.out, force=args.force), "w", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        writer = csv.writer(out)
        writer.writerow(columns)
        for i in sp.indices():
            cost = sp.cost(i, args.dataset)
            row = [i, sp.arch(i), cost.params_m, cost.flops_m]
            if with_iso:
                row += [sp.canonical(i), sp.is_degenerate(i)]
            writer.writerow(row)
    finally:
        if args.out:
            out.close()
    if args.out:
        options.wrote(len(sp), args.out)
    return 0
