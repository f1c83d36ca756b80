"""Compact CSV ground-truth tables in the layout of the reference data's ``nb201/`` folder.

Each table is described by a ``CsvTable``: which (dataset, split, epochs) each column holds, whether the
values are seed-averaged, and where they came from. Rows are cell indices (an ``index`` column when present,
else the row number); the arch-string column is checked against the harness's NAS-Bench-201 order on every
read, so a shuffled or foreign table fails loudly instead of silently mislabelling cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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


def read_column(table: CsvTable, path: Path, key: Key) -> pd.Series:
    """One accuracy column indexed by cell, after checking the table's cell order."""
    wanted = [table.arch_column, table.columns[key]] + ([table.index_column] if table.index_column else [])
    try:
        frame = pd.read_csv(path, usecols=wanted)
    except ValueError as exc:  # pandas names the missing columns
        raise ValueError(f"{path} is not a {table.file} table: {exc}") from None
    space = get_space("nb201")
    if table.index_column:
        index = frame[table.index_column].to_numpy()
        if index.min() < 0 or index.max() >= len(space) or len(np.unique(index)) != len(index):
            raise ValueError(
                f"{path}: column {table.index_column!r} is not a set of distinct indices 0..{len(space) - 1}"
            )
    else:
        if len(frame) > len(space):
            raise ValueError(f"{path} has {len(frame)} rows, more than the {len(space)} cells of nb201")
        index = np.arange(len(frame))
    expected = [space.arch(int(i)) for i in index]
    mismatch = np.flatnonzero(frame[table.arch_column].astype(str).to_numpy() != np.array(expected, dtype=object))
    if len(mismatch):
        row = int(mismatch[0])
        raise ValueError(
            f"{path}: row {row} has arch {frame[table.arch_column].iloc[row]!r} but nb201 index {int(index[row])} is "
            f"{expected[row]!r}; the table is not in the official NAS-Bench-201 order ({len(mismatch)} rows differ)"
        )
    values = pd.Series(frame[table.columns[key]].to_numpy(dtype=float), index=pd.Index(index, name="index"))
    return values.sort_index()
