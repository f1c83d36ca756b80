"""The ground truth a correlation is computed against, and the one line that says what it is.

Analyses take a *target*: a ``pd.Series`` (cell index -> accuracy %, the same for every setting; handy in
tests) or a callable ``(space, dataset) -> Series`` that may raise :class:`harness.errors.DataMissing`.
The CLI and the report build the callable from ``harness.groundtruth.load_accuracy``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pandas as pd

from harness.errors import DataMissing
from harness.paths import data_dir_arg

TargetFn = Callable[[str, str], pd.Series]
Target = pd.Series | TargetFn


class _Placed(Protocol):
    space: str
    dataset: str


S = TypeVar("S", bound=_Placed)  # a setting (harness.analysis.frames.Setting)


@dataclass(frozen=True)
class TargetSpec:
    """Which accuracy to rank against: split ("test" or "valid") and training epochs (None = the space's full
    schedule: 200 for NAS-Bench-201, 90 for the NATS size space; 12 is the short schedule of both)."""

    split: str = "test"
    epochs: int | None = None

    def __post_init__(self) -> None:
        if self.split not in ("test", "valid"):
            raise ValueError(f"unknown target split {self.split!r}; expected test or valid")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs <= 0):
            raise ValueError(f"target epochs must be a positive integer, got {self.epochs!r}")

    def epochs_for(self, space: str) -> int:
        if self.epochs is not None:
            return self.epochs
        from harness.groundtruth.spec import FAMILIES, FULL_EPOCHS

        return FULL_EPOCHS.get(FAMILIES.get(space, ""), 200)


def describe(accuracy: pd.Series) -> str:
    """'source, dataset, split, epochs, seed averaging' from the series' provenance (what every table prints)."""
    prov = dict(accuracy.attrs.get("provenance") or {})
    if not prov:
        return f"accuracy '{accuracy.name or 'target'}' (no provenance given)"
    dataset = prov.get("dataset", "?")
    split = prov.get("split", "?")
    epochs = prov.get("epochs", "?")
    seeds = prov.get("seeds")
    if isinstance(seeds, (list, tuple)):
        seeds = f"mean of {len(seeds)} seeds ({', '.join(map(str, seeds))})" if len(seeds) != 1 else f"seed {seeds[0]}"
    elif seeds is None:
        seeds = "seeds not stated"
    source = prov.get("source", "?")
    where = prov.get("file")
    named = [str(prov.get("version") or ""), os.path.basename(str(where)) if where else ""]
    extra = ", ".join(dict.fromkeys(v for v in named if v and v not in str(source)))
    cells = f"; {prov['cells']} cells" if prov.get("cells") else ""
    note = " [partial coverage]" if accuracy.attrs.get("note") else ""
    text = f"{dataset} {split} accuracy, {epochs} epochs, {seeds}; source {source}" + (f" ({extra})" if extra else "")
    return text + cells + note


def _ground_truth_dataset(dataset: str, split: str) -> str:
    # CIFAR-10 validation accuracy exists only for the models trained on the train half (cifar10-valid).
    return "cifar10-valid" if dataset == "cifar10" and split == "valid" else dataset


def _load_one(space: str, dataset: str, spec: TargetSpec, data: str | os.PathLike | None, seed_avg: bool):
    from harness.groundtruth import load_accuracy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = load_accuracy(space, dataset, spec.split, spec.epochs_for(space), data_dir=data, seed_avg=seed_avg)
    notes = [str(w.message) for w in caught if "ground truth" in str(w.message)]
    if notes:
        series.attrs["note"] = notes[0]
    return series


def target_loader(
    spec: TargetSpec = TargetSpec(), data_dir: str | os.PathLike | None = None, *, data: str | os.PathLike | None = None
) -> TargetFn:
    """A cached ``(space, dataset) -> accuracy`` from the benchmark's ground truth under ``data_dir`` (``data=``:
    its deprecated spelling).

    Seed-averaged accuracy is preferred; a single-seed table is used instead only when no seed-averaged one
    exists or it covers fewer cells (the 12-epoch schedule often has one seed only). The provenance line
    printed with every table says which was used.
    """
    data = data_dir_arg(data_dir, data, "target_loader")
    cache: dict[tuple[str, str], pd.Series | Exception] = {}

    def load(space: str, dataset: str) -> pd.Series:
        key = (space, dataset)
        if key not in cache:
            cache[key] = _best_of(space, _ground_truth_dataset(dataset, spec.split), spec, data)
        value = cache[key]
        if isinstance(value, Exception):
            raise value
        return value

    return load


def _best_of(space: str, dataset: str, spec: TargetSpec, data: str | os.PathLike | None) -> pd.Series | Exception:
    found: list[pd.Series] = []
    first_error: Exception | None = None
    for seed_avg in (True, False):
        try:
            found.append(_load_one(space, dataset, spec, data, seed_avg))
        except (DataMissing, ValueError) as exc:
            first_error = first_error or exc
    if not found:
        return first_error if first_error is not None else DataMissing(f"no ground truth for {space} {dataset}")
    return max(found, key=lambda s: int(s.notna().sum()))  # max keeps the first (seed-averaged) on a tie


def resolve(target: Target | None, space: str, dataset: str) -> pd.Series:
    """The accuracy series for one setting; raises DataMissing when there is none."""
    if target is None:
        raise DataMissing("no ground truth given")
    series = target(space, dataset) if callable(target) else target
    if not isinstance(series, pd.Series):
        raise ValueError(f"ground truth for {space}/{dataset} is a {type(series).__name__}, expected a Series")
    return series


def with_ground_truth(
    settings: Iterable[tuple[S, Any]], target: Target | None, notes: list[str], missing: list[DataMissing]
) -> Iterator[tuple[S, Any, pd.Series]]:
    """Each (setting, rows) whose ground truth resolves, with that accuracy. A setting without any is skipped and
    said in ``notes`` (its error kept in ``missing``: an analysis raises the first when no setting had any); a
    table that covers only part of the space says so in ``notes``. Each line once, however many modes share it."""
    for setting, rows in settings:
        where = f"{setting.space} {setting.dataset}"
        try:
            accuracy = resolve(target, setting.space, setting.dataset)
        except DataMissing as exc:
            missing.append(exc)
            _note(notes, f"{where}: skipped, {exc}")
            continue
        if accuracy.attrs.get("note"):
            _note(notes, f"{where}: {accuracy.attrs['note']}")
        yield setting, rows, accuracy


def _note(notes: list[str], line: str) -> None:
    if line not in notes:
        notes.append(line)
