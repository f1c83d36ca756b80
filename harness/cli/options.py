"""Command-line options with one meaning across every command, and the steps the analysis commands share.

One spelling per meaning: ``--data-dir DIR`` is a data folder everywhere, ``--data MODE`` the data mode
(score), ``--bootstrap-seed`` the analysis commands' resampling seed (``--seed`` is a scoring seed). Old
spellings keep working through ``Deprecated``, which says once on stderr what to type instead. Every ``--out``
goes through ``output_path``: a missing parent folder is created, and a results database, an input of the command
or an existing file of another kind than the command writes is refused (``refuse_overwrite``; ``--force`` replaces
a file of another kind, never a database or an input).

Nothing heavy is imported at module level: building the parser (``--help``) must stay fast and torch-free,
so pandas and the analysis package are imported inside the functions that read a store.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.target import TargetFn

# The library's defaults, repeated here so that --help needs no numpy/pandas; tests/test_cli_startup.py checks them.
DEFAULT_RESAMPLES = 1000  # harness.analysis.bootstrap.DEFAULT_RESAMPLES
DEFAULT_LEVEL = 0.95  # harness.analysis.bootstrap.DEFAULT_LEVEL
DATA_DIR_DEFAULT = "default $NASI_HARNESS_DATA, then $TORCH_HOME, ~/.torch"
OUT_FOLDER_NOTE = "a missing parent folder is created; a results database is never overwritten"
FORCE_HELP = "replace an existing --out file of another kind than this command writes (never a results database)"
RESULTS_HEADER = {"index", "proxy", "score"}  # columns that make a CSV a results table (score --out, export)
STUDY_NOTE = "; given with --study, {what}"


class Deprecated(argparse.Action):
    """An old spelling of an option: stores into the new option's ``dest`` and prints one notice on stderr."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, use: str, **kwargs: Any) -> None:
        self.use = use
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"nasi-harness: {option_string} is deprecated; use {self.use}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated(parser: argparse.ArgumentParser, old: str, new: str, dest: str, **kwargs: Any) -> None:
    """Accept ``old`` as a hidden alias of ``new`` (same ``dest``), with a one-line notice when used."""
    parser.add_argument(old, dest=dest, action=Deprecated, use=new, help=argparse.SUPPRESS, **kwargs)


def add_data_dir(parser: argparse.ArgumentParser, what: str = "data root", legacy: Sequence[str] = ("--data",)) -> None:
    """``--data-dir DIR`` (dest ``data_dir``), and the old spellings that meant a folder in this command."""
    parser.add_argument("--data-dir", dest="data_dir", metavar="DIR", help=f"{what} ({DATA_DIR_DEFAULT})")
    for old in legacy:
        add_deprecated(parser, old, "--data-dir", "data_dir", metavar="DIR")


def add_out(parser: argparse.ArgumentParser, what: str, **kwargs: Any) -> None:
    """``--out`` with the behaviour every command shares stated in its help, and ``--force``."""
    parser.add_argument("--out", help=f"{what}; {OUT_FOLDER_NOTE}", **kwargs)
    add_force(parser)


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def file_kind(path: Path) -> str | None:
    """What an existing file holds, from its first bytes (a gzip file's, once decompressed): "database" (SQLite),
    "parquet", "binary", "results" (a CSV whose header has index, proxy and score: a ``score --out`` or ``export``
    table, compressed or not), "text"; None when there is no file or it is empty."""
    head = b""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        if head.startswith(b"\x1f\x8b"):  # gzip (a .csv.gz export): judged by what it holds
            with gzip.open(path, "rb") as f:
                head = f.read(4096)
    except (OSError, EOFError):
        return "binary" if head else None
    if not head:
        return None
    if head.startswith(b"SQLite format 3\x00"):
        return "database"
    if head.startswith(b"PAR1"):
        return "parquet"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # binary, unless only a character cut at the end of the bytes read
        text = head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 else "\x00"
    if "\x00" in text:
        return "binary"
    first = text.splitlines()[0] if text.splitlines() else ""
    return "results" if {c.strip().strip('"') for c in first.split(",")} >= RESULTS_HEADER else "text"


def refuse_overwrite(path: Path, writes: str, *, force: bool = False, inputs: Sequence[str | Path] = ()) -> None:
    """The one rule for every file a command writes: never over one of the command's own inputs, and over a
    results database or an existing file of another kind than ``writes`` ("text": a table as text, CSV, JSON or
    Markdown; "results": a results CSV; "parquet") only with ``force``. One error line otherwise."""
    for source in inputs:
        try:
            same = Path(source).exists() and path.exists() and path.samefile(source)
        except OSError:
            same = False
        if same:
            raise HarnessError(f"--out {path} is an input of this command; write to another file")
    kind = file_kind(path)
    if kind is None or kind == writes:
        return
    if kind == "database" and not force:
        raise HarnessError(
            f"--out {path} is an SQLite database (a results store?): write to another file, or give --force to "
            "replace it and lose its rows"
        )
    if not force:
        raise HarnessError(
            f"--out {path} exists and holds {_KIND_WORDS[kind]}, not {_KIND_WORDS[writes]}: give --force to "
            "replace it, or write to another file"
        )


_KIND_WORDS = {
    "parquet": "a Parquet table",
    "binary": "binary data",
    "results": "a results table (CSV)",
    "text": "text",
}


def output_path(
    out: str | Path, writes: str = "text", *, force: bool = False, inputs: Sequence[str | Path] = ()
) -> Path:
    """The path ``--out`` names, after ``refuse_overwrite``, its parent folder created; an unusable path is one
    error line."""
    path = Path(out)
    if path.is_dir():
        raise HarnessError(f"--out {path} is a folder; give a file name")
    refuse_overwrite(path, writes, force=force, inputs=inputs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create the folder of --out {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise HarnessError(f"--out {path} is a folder; give a file name")
    return path


def output_folder(out: str | Path) -> Path:
    """The folder ``--out DIR`` names (``report``), created with any missing parents; one error line if it can't."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        kind = file_kind(path)
        what = "an SQLite database (a results store?)" if kind == "database" else "a file"
        raise HarnessError(f"--out {path} is {what}, not a folder; it is left as it is: give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create the --out folder {path}: {exc.strerror or exc}") from None
    return path


def wrote(rows: int, path: str | Path) -> None:
    """The last line of a command that wrote a table to a file (stderr, so stdout stays data)."""
    print(f"wrote {rows} rows to {path}", file=sys.stderr)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_positional(parser)
    parser.add_argument("--study", help="analyse one study of the store (default: every row)")
    parser.add_argument("--dataset", help="only scores computed on this dataset (default: every dataset)")
    parser.add_argument(
        "--proxies",
        help="comma list of proxies to include (default: every proxy stored); an aggregate given with --aggregate "
        "is kept beside them",
    )
    parser.add_argument(
        "--space", help="search space of a CSV/Parquet table without a space column (default: from its arch strings)"
    )
    add_cells_argument(parser)
    add_aggregate_arguments(parser)


def add_cells_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cells",
        metavar="SPEC",
        help="analyse only these cells of each space, before pool aggregates are formed: 'all', 'unique' (one per "
        "isomorphism class), 'reachable' (NB201 cells without unreachable operations: 9,445), 'sample:N[:SEED]', "
        "'A-B', or a comma list of indices / arch strings (default: every cell stored)",
    )


def add_aggregate_arguments(parser: argparse.ArgumentParser, study_defaults: bool = False) -> None:
    """Pool aggregates: the built-ins are added wherever their component scores are stored (docs/proxies.md).

    ``study_defaults`` (``report``): both options default to None, so that the command can tell "not given"
    (use the study's stored [analysis]) from given; elsewhere they default to none and the built-ins included.
    """
    parser.add_argument(
        "--aggregate",
        action="append",
        default=None if study_defaults else [],
        metavar="NAME=P1+P2[+...]",
        help="add a rank ensemble NAME over these stored proxies, computed over each pool of cells like the "
        "built-in aggregates az_nas, te_nas, vkdnw_single, vkdnw_agg: sum of log(rank/N), each proxy in its own "
        "direction (repeatable; 'ensemble:P1+P2' names it ensemble(P1+P2))"
        + (STUDY_NOTE.format(what="replaces the study's stored [analysis] aggregates") if study_defaults else ""),
    )
    parser.add_argument(
        "--no-aggregates",
        dest="builtin_aggregates",
        action="store_false",
        default=None if study_defaults else True,
        help="do not add the built-in pool aggregates (az_nas, te_nas, vkdnw_single, vkdnw_agg)"
        + (
            STUDY_NOTE.format(what="overrides the study's stored [analysis] builtin_aggregates")
            if study_defaults
            else ""
        ),
    )


def add_store_positional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "store",
        metavar="STORE",
        nargs="+",
        help="results database or a CSV/Parquet export of one; several are read as one table (e.g. the real-data "
        "scores of one study and the swapped-mode scores of another)",
    )


def add_target_arguments(parser: argparse.ArgumentParser, study_defaults: bool = False) -> None:
    """``--data-dir``, ``--target``, ``--epochs``; with ``study_defaults`` (``report``) ``--target`` defaults to
    None (the study's stored [analysis] target, else test), so that the command can tell it from given."""
    add_data_dir(parser, "ground-truth root")
    study = ": with --study, the study's stored [analysis] {key}, else"
    parser.add_argument(
        "--target",
        dest="split",
        choices=("test", "valid"),
        default=None if study_defaults else "test",
        help="accuracy split to rank against (valid on cifar10 uses cifar10-valid; default"
        + (study.format(key="target") if study_defaults else "")
        + " test)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training schedule of the target: nb201 200 or 12, nats-sss 90, 12 or 1 (default"
        + (study.format(key="epochs") if study_defaults else ":")
        + " the space's full schedule)",
    )


def add_bootstrap_arguments(parser: argparse.ArgumentParser, scoring_seed: bool = False) -> None:
    """``--bootstrap``, ``--bootstrap-seed``, ``--level``; with ``scoring_seed`` ``--seed N`` selects scoring
    seeds (dest ``seeds``), else it is the old spelling of ``--bootstrap-seed``."""
    parser.add_argument(
        "--bootstrap",
        type=positive_int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument(
        "--bootstrap-seed",
        dest="bootstrap_seed",
        type=_non_negative,
        default=0,
        metavar="N",
        help="seed of the bootstrap resampling (default 0; not a scoring seed)",
    )
    if scoring_seed:
        parser.add_argument(
            "--seed",
            dest="seeds",
            action="append",
            type=int,
            default=None,
            metavar="N",
            help="analyse only the scores of scoring seed N (repeatable; default every seed: each seed is ranked on "
            "its own and every setting summarised over its seeds; with one seed the tables are per seed)",
        )
    else:
        add_deprecated(parser, "--seed", "--bootstrap-seed", "bootstrap_seed", type=_non_negative, metavar="N")
    parser.add_argument(
        "--level",
        type=float,
        default=DEFAULT_LEVEL,
        help=f"confidence level of the intervals (default {DEFAULT_LEVEL})",
    )


def add_per_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--per-seed",
        action="store_true",
        help="with several scoring seeds, show one table per seed instead of the summary over seeds",
    )


def summarised(table: pd.DataFrame, args: argparse.Namespace) -> bool:
    """Whether a per-seed analysis table is shown as its summary over seeds (several seeds, no --per-seed)."""
    from harness.analysis.frames import SETTING
    from harness.analysis.seeds import multi_seed

    return not getattr(args, "per_seed", False) and multi_seed(table, SETTING)


def seed_note(table: pd.DataFrame) -> list[str]:
    """Under a per-seed table whose settings have one seed each: a line that says so (else nothing)."""
    from harness.analysis.seeds import one_seed_note

    note = one_seed_note(table)
    return [note] if note else []


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print JSON records instead of tables")
    group.add_argument(
        "--out",
        metavar="FILE",
        help=f"write to FILE: .json, .csv, .md, anything else aligned text; {OUT_FOLDER_NOTE}",
    )
    add_force(parser)
    parser.add_argument(
        "--wide", action="store_true", help="terminal tables with every column (default: fit 100 characters)"
    )


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def load_filtered(args: argparse.Namespace) -> pd.DataFrame:
    """The store's rows after --study, --dataset and --proxies, or a one-line error saying what is present."""
    from harness.analysis.inputs import load_scores, name_sources

    if getattr(args, "out", None):  # a refused --out is said before the analysis, not after it
        refuse_overwrite(Path(args.out), "text", force=args.force, inputs=args.store)

    frame = load_scores(
        args.store,
        study=args.study,
        space=getattr(args, "space", None),
        aggregates=getattr(args, "aggregate", []),
        builtin_aggregates=getattr(args, "builtin_aggregates", True),
        cells=getattr(args, "cells", None),
    )
    where = name_sources(args.store)
    if frame.empty:
        on = f" on the cells {args.cells!r}" if getattr(args, "cells", None) else ""
        raise HarnessError(f"no results in {where}" + (f" for study {args.study!r}" if args.study else "") + on)
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
        frame = frame[frame["proxy"].astype(str).isin([*wanted, *asked_aggregates(args)])]
    return frame


def asked_aggregates(args: argparse.Namespace) -> list[str]:
    """The names of the aggregates given with --aggregate: asked for, so kept by --proxies (their rows were
    computed from every stored component before the filter)."""
    from harness.aggregates import parse_aggregate

    return [parse_aggregate(spec).name for spec in getattr(args, "aggregate", None) or []]


def make_target(args: argparse.Namespace) -> TargetFn:
    from harness.analysis.target import TargetSpec, target_loader

    return target_loader(TargetSpec(split=args.split, epochs=args.epochs), data_dir=args.data_dir)


def emit_table(
    args: argparse.Namespace,
    frame: pd.DataFrame,
    columns: Callable,
    notes: Sequence[str],
    as_json: Callable[[], str] | None = None,
) -> None:
    """``emit`` for an analysis shown as one table: ``columns`` picks and names its columns (a
    ``harness.analysis.tables`` view); JSON is the table's records unless ``as_json`` says otherwise."""
    from harness.analysis import tables as views
    from harness.cli import tables

    emit(
        args,
        frame,
        text=lambda wide: tables.render_text(frame, columns, list(notes), wide),
        markdown=lambda: views.render_markdown(frame, columns, notes=list(notes)),
        as_json=as_json or (lambda: views.to_json(frame)),
        as_csv=lambda: views.to_csv(frame),
    )


def emit(
    args: argparse.Namespace,
    frame: pd.DataFrame,
    text: Callable[[bool], str],
    markdown: Callable[[], str],
    as_json: Callable[[], str],
    as_csv: Callable[[], str],
) -> None:
    """Print or write one analysis in the format the options ask for.

    ``text(wide)`` renders the terminal tables; a text file gets every column (it has no screen to fit).
    """
    if args.json:
        sys.stdout.write(as_json() + "\n")
        return
    if not args.out:
        sys.stdout.write(text(args.wide))
        return
    out = output_path(args.out, force=args.force, inputs=getattr(args, "store", ()))
    writers = {".json": lambda: as_json() + "\n", ".csv": as_csv, ".md": markdown}
    content = writers.get(out.suffix.lower(), lambda: text(True))()
    out.write_text(content)
    wrote(len(frame), out)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1, else argparse's one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
