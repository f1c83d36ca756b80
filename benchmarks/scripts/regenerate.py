"""Rebuild every committed table, report and figure from the committed exports, in place, then say which
committed files changed, appeared or went (``git status`` of ``results/``): "regenerates identically" as a command.

    NASI_HARNESS_DATA=../shared/data python -m benchmarks.scripts.regenerate [--only NAME ...] [--list]

Nothing is re-scored: each item reads ``results/*/scores.csv.gz`` (and the search traces in
``results/search/raw``). A report's first line (``Generated <time> by ... from <inputs>``) is rewritten on
every build, so it is not counted as a change. Exit status 1 when any other committed file changed (``git diff``
shows what), 0 otherwise; run it on a clean tree.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass

from benchmarks.scripts.tables_common import ROOT

ZOO_LABEL_FREE = "zoo_label_free=meco+az_nas_trainability+synflow+jacov+az_nas_complexity"


@dataclass(frozen=True)
class Item:
    name: str
    command: tuple[str, ...]


def _report(study: str, *inputs: str, extra: tuple[str, ...] = ()) -> Item:
    exports = inputs or (f"results/{study}/scores.csv.gz",)
    out = f"results/{study}/report"
    return Item(f"report:{study}", ("-m", "harness", "report", *exports, "--out", out, *extra))


ITEMS = (
    _report("quickstart", "results/quickstart/scores.csv"),
    _report("nb201_proxies_cpu", extra=("--aggregate", ZOO_LABEL_FREE)),
    _report("nb201_ntk_cpu"),
    _report("nb201_ntk_trace_b16"),
    _report("nb201_datafree"),
    _report("nb201_nasi_full"),
    _report("nb201_nasi_gaussian"),
    _report(
        "agnosticism_nasi", "results/agnosticism_nasi/scores.csv.gz", "results/agnosticism_nasi_seeds/scores.csv.gz"
    ),
    Item("headline", ("-m", "benchmarks.scripts.headline")),
    Item("literature", ("-m", "benchmarks.scripts.literature_table")),
    Item("ensemble", ("-m", "benchmarks.scripts.ensemble_search")),
    Item("search", ("-m", "benchmarks.scripts.search_table", "--store", "")),
)


def changed_files() -> list[str]:
    """Files under results/ that differ from HEAD (changed, new or gone), a report's Generated line aside."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "results"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    out = []
    for line in status:
        code, name = line[:2], line[3:]
        if code.strip() == "M" and name.endswith("report.md"):
            diff = subprocess.run(["git", "diff", "-U0", "--", name], cwd=ROOT, check=True, capture_output=True,
                                  text=True).stdout.splitlines()  # fmt: skip
            lines = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
            if all(line[1:].startswith("Generated ") for line in lines):
                continue
        out.append(f"{code} {name}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="rebuild only these items (see --list)")
    parser.add_argument("--list", action="store_true", help="list the items and their commands")
    args = parser.parse_args(argv)
    items = [i for i in ITEMS if not args.only or i.name in args.only]
    if args.list:
        for item in ITEMS:
            print(f"{item.name}: python {' '.join(item.command)}")
        return 0
    unknown = set(args.only or ()) - {i.name for i in ITEMS}
    if unknown:
        parser.error(f"unknown item(s) {', '.join(sorted(unknown))}; --list names them")
    for item in items:
        print(f"== {item.name}", flush=True)
        done = subprocess.run([sys.executable, *item.command], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
            return 2
    changed = changed_files()
    print("\n".join(["changed:", *changed]) if changed else "every rebuilt file is as committed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
