"""``nasi-harness data check``: what benchmark files, ground truth and datasets were found, whether their contents
are sound, and how to get the rest."""

from __future__ import annotations

import argparse
import itertools

from harness.cli import options
from harness.paths import SourceStatus, describe_roots

RULE = (
    "Every found source is read and checked (CSV tables: columns, rows, order, values; official files: the MD5 "
    "digits their name carries; NATS archives: every file a complete bz2 stream holding only what official files "
    "hold; datasets: every file of the split used). The digits in an official name are a check against truncation "
    "and mix-ups, not proof of origin; every benchmark file is unpickled with an allow-list of what the official "
    "files hold, so a crafted one is refused, never run. Exit status: 1 when a found source is broken, when no "
    "ground truth or no dataset at all is found, or, with --study, when a source a study needs is missing or "
    "broken; 0 otherwise (other absent sources no study asked for are listed, not errors)."
)
# What a root with none of a kind cannot do (data check exits 1 then).
_NONE_OF_KIND = {
    "ground-truth": "no ground truth at all: correlate, compare, report and a study's analysis need one",
    "dataset": "no dataset at all: only synthetic inputs (gaussian, uniform) with random labels can be scored",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check which benchmark files and datasets are available and sound")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="list what was found, check its contents, say how to obtain what is missing", description=RULE
    )
    options.add_data_dir(check)  # --data-dir DIR; the old --data DIR still works, with a notice
    check.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="TOML",
        help="also check that what this study needs (dataset files for its data/label modes, ground truth for its "
        "analysis, read as its report reads it: the first read of an official benchmark file extracts it into the "
        "cache) is present and sound; may be repeated",
    )
    check.set_defaults(func=_check)


def _statuses(data: str | None) -> list[SourceStatus]:
    from harness.data import check_datasets
    from harness.groundtruth import describe_sources

    return list(describe_sources(data, validate=True)) + list(check_datasets(data))


def _check(args: argparse.Namespace) -> int:
    from harness.studies import load_study

    studies = [load_study(path) for path in args.study]  # a bad study file is one error line before any check
    print(f"data root: {describe_roots(args.data_dir)}")
    statuses = _statuses(args.data_dir)
    width = max(len(s.name) for s in statuses)
    for kind in dict.fromkeys(s.kind for s in statuses):
        print(f"\n{kind}:")
        for s in (s for s in statuses if s.kind == kind):
            mark = "missing" if not s.found else "BROKEN " if s.problem else "found  "
            where = s.path if s.found and s.path else s.detail
            print(f"  [{mark}] {s.name:<{width}}  {where}")
            if s.found and s.detail and s.detail != where:
                print(f"            {'':<{width}}  {s.detail}")
            if s.problem:
                print(f"            {'':<{width}}  problem: {s.problem}")
            if not s.found:
                print(f"            {'':<{width}}  how to obtain: {s.how_to_obtain}")
    found = sum(s.found for s in statuses)
    broken = [s for s in statuses if s.problem]
    print(f"\n{found} of {len(statuses)} sources found; {len(broken)} broken.")
    absent = [
        kind for kind in dict.fromkeys(s.kind for s in statuses) if not any(s.found for s in statuses if s.kind == kind)
    ]
    for kind in absent:
        print(f"{_NONE_OF_KIND.get(kind, f'no {kind} source at all')} (looked under {describe_roots(args.data_dir)}).")
    unmet = 0
    for study in studies:
        lines = _unmet(study, statuses, args.data_dir)
        verdict = f"lacks {len(lines)} source(s) it needs" if lines else "has every source it needs"
        print(f"study {study.name} ({study.source}): {verdict}", *lines, sep="\n")
        unmet += len(lines)
    return 1 if broken or unmet or absent else 0


def _unmet(study, statuses: list[SourceStatus], data: str | None) -> list[str]:
    """One line per source ``study`` needs that is missing or broken."""
    from harness.analysis.target import TargetSpec, target_loader
    from harness.data.modes import needs_target_dataset, other_dataset
    from harness.errors import HarnessError

    images: dict[str, list[str]] = {}  # dataset -> the data/label modes that read its files
    for dataset, data_mode, label_mode in itertools.product(study.datasets, study.data_modes, study.label_modes):
        needed = [dataset] if needs_target_dataset(data_mode, label_mode) else []
        needed += [other_dataset(data_mode)] if other_dataset(data_mode) else []
        for name in needed:
            images.setdefault(name, []).append(f"{data_mode}/{label_mode}")
    lines = []
    for dataset, modes in images.items():
        status = next(s for s in statuses if s.kind == "dataset" and dataset in s.name.split(", "))
        if not status.found or status.problem:
            why = status.problem or f"missing; {status.how_to_obtain}"
            lines.append(f"  needs {dataset} images (data/labels {', '.join(dict.fromkeys(modes))}): {why}")
    target = target_loader(TargetSpec(split=study.analysis.target, epochs=study.analysis.epochs), data_dir=data)
    for dataset in study.analysis.datasets:  # the report a run ends with ranks against this ground truth
        try:
            target(study.space, dataset)
        except (HarnessError, ValueError) as exc:
            lines.append(f"  needs ground truth for its analysis of {dataset}: {exc}")
    return lines
