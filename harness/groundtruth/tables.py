"""Compact CSV ground-truth tables in the layout of the reference data's ``nb201/`` folder.

Each table is described by a ``CsvTable``: which (dataset, split, epochs) each column holds, whether the
values are seed-averaged, and where they came from. Rows are cell indices (an ``index`` column when present,
else the row number); the arch-string column is checked against the harness's NAS-Bench-201 order on every
read, so a shuffled or foreign table fails loudly instead of silently mislabelling cells. A table is complete
or refused (``validate``): a truncated or edited table is an error naming it, never a partial read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.groundtruth.errors import GroundTruthBroken
from harness.spaces import get_space

Key = tuple[str, str, int]  # (dataset, split, epochs)


@dataclass(frozen=True)
class CsvTable:
    file: str
    seed_avg: bool
    columns: dict[Key, str]
    arch_column: str
    index_column: str | None
    origin: str

    def holds(self, dataset: str, split: str, epochs: int) -> bool:
        return (dataset, split, epochs) in self.columns

    def summary(self) -> str:
        """What the table holds, for ``data check``."""
        order = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120", "train", "valid", "test", "valtest")
        keys = sorted(self.columns, key=lambda k: (k[2], order.index(k[0]), order.index(k[1])))
        by_epochs: dict[int, list[str]] = {}
        for dataset, split, epochs in keys:
            by_epochs.setdefault(epochs, []).append(f"{dataset}/{split}")
        held = "; ".join(f"{', '.join(v)} at {e} epochs" for e, v in by_epochs.items())
        return f"{held} ({'seed-averaged' if self.seed_avg else 'one seed per cell'})"


_NATS_LANDSCAPE = "v-tao/nats-bench-landscape nats_bench.csv, written with nats_bench tss get_more_info"
TABLES: tuple[CsvTable, ...] = (
    CsvTable(
        file="tss_test_acc_200ep_seedavg.csv",
        seed_avg=True,
        columns={
            ("cifar10", "test", 200): "CIFAR10TestAccuracy200Epochs",
            ("cifar100", "test", 200): "CIFAR100TestAccuracy200Epochs",
            ("ImageNet16-120", "test", 200): "ImageNetTestAccuracy200Epochs",
        },
        arch_column="ArchitectureString",
        index_column=None,
        origin=f"{_NATS_LANDSCAPE}(i, ds, hp='200', is_random=False)['test-accuracy']",
    ),
    CsvTable(
        file="tss_cifar10valid_200ep_seedavg.csv",
        seed_avg=True,
        columns={("cifar10-valid", split, 200): f"{split}-accuracy" for split in ("train", "valid", "test")},
        arch_column="arch_str",
        index_column="index",
        origin="gabro8a/NAS-Landscapes data/accuracy/cifar10_avg.csv (NAS-Bench-201 get_more_info, seed-averaged)",
    ),
    CsvTable(
        file="tss_test_acc_12ep_200ep_oneseed.csv",
        seed_avg=False,
        columns={
            ("cifar10", "test", 12): "Cifar10TestAccuracy12Epochs",
            ("cifar100", "test", 12): "Cifar100TestAccuracy12Epochs",
            ("ImageNet16-120", "test", 12): "ImageNet16TestAccuracy12Epochs",
            ("cifar10", "test", 200): "Cifar10TestAccuracy200Epochs",
            ("cifar100", "test", 200): "Cifar100TestAccuracy200Epochs",
            ("ImageNet16-120", "test", 200): "ImageNet16TestAccuracy200Epochs",
        },
        arch_column="ArchitectureString",
        index_column=None,
        origin=f"{_NATS_LANDSCAPE}(i, ds, hp=..., is_random=True): one random trial per cell",
    ),
)


ACCURACY_RANGE = (0.0, 100.0)  # percent


def read_column(table: CsvTable, path: Path, key: Key) -> pd.Series:
    """One accuracy column indexed by cell, from a table that passed ``validate``."""
    frame = validate(table, path)
    return frame[table.columns[key]].rename(None).copy()


def validate(table: CsvTable, path: Path) -> pd.DataFrame:
    """The table's accuracy columns indexed by cell, after checking everything a wrong file could get wrong.

    A table present under an official name is complete or an error (``GroundTruthBroken`` naming the file and
    the problem): every column of the layout, one row per nb201 cell in the official order, every accuracy a
    number in 0..100. Never a partial read, so a truncated table cannot hand its caller fewer cells to fall
    back from. Cached per (path, size, modification time).
    """
    st = path.stat()
    key = (table.file, str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VALIDATED:
        if len(_VALIDATED) >= 8:
            _VALIDATED.pop(next(iter(_VALIDATED)))
        _VALIDATED[key] = _validated(table, key[1])
    return _VALIDATED[key]


_VALIDATED: dict[tuple[str, str, int, int], pd.DataFrame] = {}


def _validated(table: CsvTable, path: str) -> pd.DataFrame:
    value_columns = list(dict.fromkeys(table.columns.values()))
    wanted = [table.arch_column, *value_columns] + ([table.index_column] if table.index_column else [])
    try:
        frame = pd.read_csv(path, usecols=lambda c: c in wanted, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GroundTruthBroken(f"{path}: unreadable as a CSV table ({_first_line(exc)})") from None
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise GroundTruthBroken(f"{path} is not a {table.file} table: no column {', '.join(map(repr, missing))}")
    space = get_space("nb201")
    if len(frame) != len(space):
        raise GroundTruthBroken(
            f"{path} has {len(frame)} rows, but a {table.file} table has one per nb201 cell ({len(space)}): "
            "truncated or not the reference table"
        )
    if table.index_column:
        index = pd.to_numeric(frame[table.index_column], errors="coerce").to_numpy()
        if not np.array_equal(np.sort(index), np.arange(len(space))):
            raise GroundTruthBroken(
                f"{path}: column {table.index_column!r} is not the indices 0..{len(space) - 1}, each once"
            )
        index = index.astype(np.int64)
    else:
        index = np.arange(len(frame))
    expected = np.array([space.arch(int(i)) for i in index], dtype=object)
    mismatch = np.flatnonzero(frame[table.arch_column].to_numpy(dtype=object) != expected)
    if len(mismatch):
        row = int(mismatch[0])
        raise GroundTruthBroken(
            f"{path}: row {row} has arch {frame[table.arch_column].iloc[row]!r} but nb201 index {int(index[row])} is "
            f"{expected[row]!r}; the table is not in the official NAS-Bench-201 order ({len(mismatch)} rows differ)"
        )
    values = pd.DataFrame(index=pd.Index(index, name="index"))
    low, high = ACCURACY_RANGE
    for column in value_columns:
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(numbers) | (numbers < low) | (numbers > high))
        if len(bad):
            row = int(bad[0])
            raise GroundTruthBroken(
                f"{path}: column {column!r} row {row} is {frame[column].iloc[row]!r}, not an accuracy in "
                f"{low:g}..{high:g} ({len(bad)} such rows)"
            )
        values[column] = numbers
    return values.sort_index()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
