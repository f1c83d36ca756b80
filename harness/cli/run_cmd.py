"""``nasi-harness run STUDY.toml``: run a study's unfinished units into its results database, then report."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import add_plugin_option
from harness.studies import BACKENDS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run a study file (resumable), store results, build the report")
    parser.add_argument("study", help="study file (TOML), e.g. benchmarks/quickstart.toml")
    parser.add_argument("--store", help="results database (default: the study's [output] store)")
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="where units run (default local)")
    parser.add_argument(
        "--workers",
        type=int,
        help="local: worker processes (default 1; N split the cores, or share the GPU); "
        "ray: concurrent tasks (default: one per GPU, else per CPU)",
    )
    parser.add_argument("--address", help="ray: address of a running cluster (default: start a local instance)")
    parser.add_argument("--data", help="data root (default $NASI_HARNESS_DATA, then $TORCH_HOME, ~/.torch)")
    parser.add_argument("--device", help="override the study's device: auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--part",
        type=_part,
        metavar="K/N",
        help="run only part K of N disjoint parts of the cells (0 <= K < N), e.g. one per process",
    )
    parser.add_argument(
        "--rescore",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=[],
        metavar="P[,P...]",
        help="score these proxies' units again even if stored, replacing the stored rows (e.g. after a fix)",
    )
    parser.add_argument(
        "--stack",
        type=_positive,
        help="override the study's stack: score K cells per computation with the proxies that have a stacked form "
        "(nasi on nb201; for a GPU that one small network leaves launch-bound)",
    )
    parser.add_argument("--no-report", action="store_true", help="score only; skip the analysis and report step")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; run nothing")
    add_plugin_option(parser)
    parser.set_defaults(func=_run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _part(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"expected K/N with 0 <= K < N, got {text!r}")
    return k, n


def _run(args: argparse.Namespace) -> int:
    from harness.search.study import is_search_study

    if is_search_study(args.study):
        return _run_search_study(args)
    from harness.store import ResultStore
    from harness.studies import load_study, make_plan, run_study
    from harness.studies.runner import without_rescored

    study = load_study(args.study)
    if args.dry_run:
        store_path = Path(args.store) if args.store else study.store_path
        done: set = set()
        if store_path.is_file():
            with ResultStore(store_path, readonly=True) as db:
                done = db.done_keys(study.name, study.space)
        plan = make_plan(study, without_rescored(study, done, args.rescore), args.device, args.stack)
        print(plan.describe())
        for reason, n in plan.not_applicable.items():
            print(f"would skip {n} units {reason}")
        print(f"store: {store_path}")
        return 0
    summary = run_study(study, store=args.store, backend=args.backend, workers=args.workers, address=args.address,
                        data=args.data, device=args.device, report=not args.no_report, part=args.part,
                        rescore=args.rescore, stack=args.stack)  # fmt: skip
    for line in summary.lines():
        print(line)
    if summary.interrupted:
        return 130
    return 1 if summary.by_status.get("error") else 0


def _run_search_study(args: argparse.Namespace) -> int:
    """A study file with a ``[search]`` section: its runs (datasets x seeds) into the store, resumably."""
    import sys

    from harness.cli.search_cmd import _line, _summary_lines
    from harness.search.study import load_search_study, pending_runs, run_search_study
    from harness.store import ResultStore

    scoring_only = {"--backend": args.backend != "local", "--workers": args.workers, "--address": args.address,
                    "--part": args.part, "--rescore": args.rescore, "--stack": args.stack}  # fmt: skip
    given = [flag for flag, value in scoring_only.items() if value]
    if given:
        raise ValueError(f"{', '.join(given)} apply to scoring studies, not to a search study ({args.study})")
    study = load_search_study(args.study)
    store_path = Path(args.store) if args.store else study.store_path
    if args.dry_run:
        stored: set = set()
        if store_path.is_file():
            with ResultStore(store_path, readonly=True) as db:
                stored = db.search_run_keys(study.name)
        print(f"search study {study.name}: {study.algorithm} on {study.space}, {len(study.runs())} runs "
              f"({len(study.datasets)} datasets x {len(study.seeds)} seeds), "
              f"{len(pending_runs(study, stored))} to run")  # fmt: skip
        print(f"settings: {study.settings.as_dict()}")
        print(f"store: {store_path}")
        return 0
    summary = run_search_study(
        study, store=store_path, data=args.data, device=args.device,
        on_result=lambda r: print(f"{r.dataset} {_line(r)}", flush=True),
    )  # fmt: skip
    if summary.skipped:
        print(f"{summary.skipped} runs already stored, skipped", file=sys.stderr)
    for dataset, results in summary.by_dataset().items():
        print(f"{study.name}: searched on {dataset}, {len(results)} seeds")
        print("\n".join(_summary_lines(results)[1:]))
    print(f"store: {summary.store_path}")
    return 0
