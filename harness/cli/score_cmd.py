"""``nasi-harness score``: score cells with proxies and write CSV rows (no database; see ``run`` for studies).

Like ``run``, it fixes the intra-op thread count (``--threads``, default 1: CPU scores depend on it) and writes the
provenance a study row has (proxy version, harness, git and torch versions, threads, CPU, device name, host,
time), so ``merge --study`` can file the rows with a study's. A cell or proxy listed twice is scored once.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

from harness.cli import add_plugin_option, options
from harness.datasets import DATASETS
from harness.spaces import space_names

# harness.spaces.cells.SPEC_FORM, repeated so that --help needs no torch (tests/test_cli_startup.py checks it)
SPEC_FORM = (
    "'all', 'unique', 'reachable', 'sample:N[:SEED]', 'A-B' (inclusive), or a comma list of indices / arch strings"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score cells with proxies, CSV out")
    parser.add_argument("space", choices=space_names())
    parser.add_argument("--proxies", required=True, help="comma list of proxy names, or 'all'")
    parser.add_argument("--cells", default="sample:20:0", help=f"cell SPEC: {SPEC_FORM} (default sample:20:0)")
    parser.add_argument("--dataset", default="cifar10", choices=list(DATASETS))
    parser.add_argument("--data", "--data-mode", dest="data_mode", default="real", metavar="MODE",
                        help="data mode: real, gaussian, uniform, repeat, other:<dataset>")  # fmt: skip
    parser.add_argument("--labels", "--label-mode", dest="labels", default="true", metavar="MODE",
                        help="label mode: true, random, shuffled")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the batch and of each network's initial weights (default 0)")  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    options.add_data_dir(parser, "data root", legacy=("--data-root",))
    parser.add_argument(
        "--share-isomorphic",
        action="store_true",
        help="score one cell per isomorphism class and give its members that cell's score "
        "(the first member's weight draw, not a draw of their own)",
    )
    parser.add_argument(
        "--stack",
        type=int,
        default=1,
        metavar="K",
        help="score K cells per computation with the proxies that have a stacked form (nasi on nb201)",
    )
    parser.add_argument(
        "--protocol",
        default="harness",
        choices=["harness", "paper"],
        help="harness: every proxy on this batch with default init; paper: each proxy with the data, batch size, "
        "init and repeats its official code uses (docs/proxies.md), replacing --data/--labels/--batch-size where "
        "it fixes them (each row says what was used)",
    )
    parser.add_argument(
        "--threads",
        type=options.positive_int,
        default=1,
        help="intra-op threads of this process (default 1, as `run`; CPU scores depend on it, each row records it)",
    )
    options.add_out(parser, "CSV file (default: stdout)", metavar="FILE")
    add_plugin_option(parser)
    parser.set_defaults(func=_score)


def _score(args: argparse.Namespace) -> int:
    import torch

    from harness.data import validate_modes
    from harness.proxies import parse_proxy_list
    from harness.scoring import RECORD_FIELDS, score_cells
    from harness.scoring.progress import Progress
    from harness.spaces.cells import parse_cells
    from harness.store.db import registered_version
    from harness.store.provenance import current, now_utc
    from harness.store.schema import PROVENANCE_FIELDS

    if args.out:  # refused before any scoring
        options.refuse_overwrite(Path(args.out), "results", force=args.force)
    proxies = list(dict.fromkeys(parse_proxy_list(args.proxies)))  # each once, in the order given
    validate_modes(args.data_mode, args.labels)
    cells = list(dict.fromkeys(parse_cells(args.cells, args.space)))
    torch.set_num_threads(args.threads)  # before any scoring: CPU scores depend on it (as `run --threads`)
    here = current()
    versions = {p: registered_version(p) for p in proxies}
    fields = (*RECORD_FIELDS, "proxy_version", *PROVENANCE_FIELDS)
    records = score_cells(
        args.space, cells, proxies, dataset=args.dataset, data_mode=args.data_mode, label_mode=args.labels,
        batch_size=args.batch_size, seed=args.seed, device=args.device, data_dir=args.data_dir,
        share_isomorphic=args.share_isomorphic, stack=args.stack, protocol=args.protocol,
    )  # fmt: skip
    # The engine checks its arguments and data when first asked for a record: ask before writing anything, so a
    # bad option or missing data is one error line and no half-written file.
    first = next(records, None)
    path = options.output_path(args.out, "results", force=args.force) if args.out else None
    out = open(path, "w", newline="") if path else sys.stdout  # noqa: SIM115
    rows = 0
    try:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        with Progress(total=len(cells) * len(proxies), desc="scoring") as progress:
            for record in itertools.chain([] if first is None else [first], records):
                writer.writerow({**record.as_dict(), "proxy_version": versions[record.proxy],
                                 **here.columns(record.device), "created_at": now_utc()})  # fmt: skip
                out.flush()
                rows += 1
                progress.update(1)
    finally:
        if args.out:
            out.close()
    if args.out:
        options.wrote(rows, args.out)
    return 0
