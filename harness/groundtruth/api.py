"""The three public entry points: accuracies, costs, and what sources exist."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.groundtruth import cache, integrity
from harness.groundtruth.errors import GroundTruthBroken, GroundTruthMissing
from harness.groundtruth.sources import (
    CANDIDATES,
    SOURCE_KINDS,
    CsvSource,
    OfficialSource,
    Source,
    found_sources,
    how_to_obtain,
    source_for,
)
from harness.groundtruth.spec import DATASETS, FAMILIES, FULL_EPOCHS, make_request
from harness.groundtruth.tables import validate as validate_table
from harness.paths import SourceStatus, data_dir_arg, data_roots, describe_roots

PathArg = str | os.PathLike | None


class PartialGroundTruth(UserWarning):
    """The best source found covers only some cells (e.g. the NATS-Bench sample archives)."""


def load_accuracy(
    space: str = "nb201",
    dataset: str = "cifar10",
    split: str = "test",
    epochs: int = 200,
    *,
    data_dir: PathArg = None,
    seed_avg: bool = True,
    source: str | None = None,
    cells: Sequence[int] | None = None,
    data: PathArg = None,
) -> pd.Series:
    """Accuracy (percent) per cell index for one dataset/split/schedule, from the best source found.

    ``seed_avg=True`` averages all training trials of a cell (the official ``is_random=False``);
    ``seed_avg=False`` gives a single trial (the lowest-numbered seed for official files). ``source`` restricts
    the search to one kind: ``"nats-bench"``, ``"nas-bench-201"`` or ``"csv"``. The series may cover only
    some cells (e.g. a partial archive); ``.attrs["provenance"]`` says which file, version, split meaning,
    seed handling and how many cells.

    A source that is present but wrong raises ``GroundTruthBroken`` naming the file and the problem; the next
    source is never tried instead. ``cells``: the cells the caller needs, when not all: an unreadable per-cell
    file of a NATS archive is then an error only for its own cell. ``data_dir``: the data folder (``data=``:
    deprecated).
    """
    data = data_dir_arg(data_dir, data, "load_accuracy")
    request = make_request(space, dataset, split, epochs, seed_avg)
    kind = _check_kind(source)
    roots = data_roots(data)
    sources = found_sources(request.family, roots, kind)
    reasons = []
    for found in sources:
        result = found.accuracy(request, cells)
        if isinstance(result, pd.Series):
            if not found.complete:
                warnings.warn(
                    f"ground truth for {request.describe()} covers only {result.attrs['provenance']['cells']} cells "
                    f"({found.path}); {how_to_obtain(request.family)} for all of them",
                    PartialGroundTruth,
                    stacklevel=2,
                )
            return result
        reasons.append(f"{found.path} {result}")
    raise GroundTruthMissing(_missing(f"ground truth for {request.describe()}", request.family, data, kind, reasons))


def load_costs(
    space: str = "nb201", dataset: str = "cifar10", *, data_dir: PathArg = None, data: PathArg = None
) -> pd.DataFrame:
    """Params (M), FLOPs (M) and latency (ms) per cell as the official benchmark files report them.

    Only official files hold these (the CSV tables do not); ``SearchSpace.cost`` computes params/FLOPs
    without any file. ``data_dir``: the data folder (``data=``: deprecated).
    """
    data = data_dir_arg(data_dir, data, "load_costs")
    if space not in FAMILIES:
        raise ValueError(f"unknown search space {space!r} for ground truth; expected one of {', '.join(FAMILIES)}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    family = FAMILIES[space]
    reasons = []
    for found in found_sources(family, data_roots(data)):
        if not isinstance(found, OfficialSource):
            continue
        result = found.costs(dataset)
        if isinstance(result, pd.DataFrame):
            return result
        reasons.append(f"{found.path} {result}")
    what = f"params/FLOPs/latency for {space} {dataset} ({FULL_EPOCHS[family]}-epoch records)"
    raise GroundTruthMissing(_missing(what, family, data, None, reasons, note="the CSV tables hold no costs"))


def describe_sources(data_dir: PathArg = None, *, validate: bool = False, data: PathArg = None) -> list[SourceStatus]:
    """Every ground-truth source looked for under ``data_dir``, found or not, for ``nasi-harness data check``;
    ``validate`` also checks each found source's contents (``SourceStatus.problem`` says what is wrong).
    ``data=``: the deprecated spelling of ``data_dir``."""
    data = data_dir_arg(data_dir, data, "describe_sources")
    roots = data_roots(data)
    statuses = []
    for candidate in CANDIDATES:
        path = candidate.locate(roots)
        problem = None
        if path is None:
            detail = f"looked for {candidate.relative} (also one folder down) under {_where(data)}"
        else:
            source = source_for(candidate, path)
            detail = source.summary()
            if validate:
                checked, problem = check_source(source)
                detail += f"; {checked}" if checked else ""
        statuses.append(
            SourceStatus(
                kind="ground-truth",
                name=candidate.relative,
                found=path is not None,
                path=str(path) if path is not None else None,
                detail=detail,
                how_to_obtain=candidate.how_to_obtain,
                problem=problem,
            )
        )
    return statuses


def check_source(source: Source) -> tuple[str, str | None]:
    """(what was checked, the problem or None) for one found source, without the official API's full read.

    CSV tables: every column, row, arch and value (as a lookup does). Single official files: the MD5 digits their
    name carries (not unpickled here: a crafted one is refused at its first read). NATS ``-simple`` directories:
    every file a complete bz2 stream that the benchmark allow-list unpickles, and cells a previous extraction
    could not read.
    """
    try:
        if isinstance(source, CsvSource):
            validate_table(source.table, source.path)
            return "contents checked (columns, 15625 rows in official order, accuracies in 0..100)", None
        if source.path.is_dir():
            problems = integrity.check_archive_dir(source.path)
            if problems:
                name, why = problems[0]
                more = f" (and {len(problems) - 1} more files)" if len(problems) > 1 else ""
                return "", f"{source.path / name}: {why}{more}"
            checked = "every file a complete bz2 stream of only what official files hold (read, nothing run)"
        else:
            checked = integrity.verify(source.path)
        cached = cache.open_cached(source.cache_path) if isinstance(source, OfficialSource) else None
        if cached is not None:
            source.check_cells(cached, None)
        return checked, None
    except GroundTruthBroken as exc:
        return "", str(exc)


def _check_kind(source: str | None) -> str | None:
    if source is not None and source not in SOURCE_KINDS:
        raise ValueError(f"unknown ground-truth source {source!r}; expected one of {', '.join(SOURCE_KINDS)}")
    return source


def _where(data: PathArg) -> str:
    where = describe_roots(data)
    if data is not None and not Path(data).is_dir():
        where += " (not a directory)"
    return where


def _missing(what: str, family: str, data: PathArg, kind: str | None, reasons: list[str], note: str = "") -> str:
    looked = ", ".join(c.relative for c in CANDIDATES if c.family == family and kind in (None, c.kind))
    found = f"; found only: {'; '.join(reasons)}" if reasons else ""
    extra = f" ({note})" if note else ""
    return f"no {what}{extra}: looked for {looked} under {_where(data)}{found}; to obtain it, {how_to_obtain(family)}"
