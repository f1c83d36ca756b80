"""``nasi-harness run STUDY.toml``: run a study's unfinished units into its results database, then report."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option, options

BACKENDS = ("local", "ray")  # harness.studies.BACKENDS, repeated so --help needs no pandas (tests/test_cli_startup.py)


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
    options.add_data_dir(parser)
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
        type=options.positive_int,
        help="override the study's stack: score K cells per computation with the proxies that have a stacked form "
        "(nasi on nb201; for a GPU that one small network leaves launch-bound)",
    )
    parser.add_argument(
        "--threads",
        type=options.positive_int,
        help="override the study's threads: intra-op threads of each scoring process (default 1; CPU scores depend "
        "on it, so a resume under another count is refused)",
    )
    parser.add_argument(
        "--allow-thread-change",
        action="store_true",
        help="resume a study whose stored CPU rows used another thread count (warns; each row records its count)",
    )
    parser.add_argument(
        "--unit-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="override the study's unit_timeout: a unit running longer is stored as status timeout (a rerun retries "
        "it) and the run goes on; local backend: units run in worker processes, a stuck one is stopped and replaced",
    )
    parser.add_argument("--no-report", action="store_true", help="score only; skip the analysis and report step")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; run nothing")
    add_plugin_option(parser)
    parser.set_defaults(func=_run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
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
    from harness.studies import load

    study = load(args.study)  # a scoring or a search study: each refuses the options it does not have
    options = {"backend": args.backend, "workers": args.workers, "address": args.address, "part": args.part,
               "rescore": args.rescore, "stack": args.stack, "threads": args.threads,
               "allow_thread_change": args.allow_thread_change, "unit_timeout": args.unit_timeout}  # fmt: skip
    if args.dry_run:
        print("\n".join(study.plan(args.store, device=args.device, **options).lines()))
        return 0
    from harness.report.study import build_study_report  # the report is built after the study, from here

    report = False if args.no_report else build_study_report
    summary = study.run(args.store, args.data_dir, args.device, report=report,
                        echo=lambda line: print(line, flush=True), **options)  # fmt: skip
    for line in summary.lines():
        print(line)
    if summary.interrupted:
        return 130
    return 1 if summary.by_status.get("error") or summary.by_status.get("timeout") else 0
