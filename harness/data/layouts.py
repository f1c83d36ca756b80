"""Where each dataset's official files live under a data root, which split is used, and ``data check`` lines.

A dataset folder is looked for directly under each root of ``harness.paths.data_roots`` and, because the
NAS-Bench-201 code keeps its data in ``$TORCH_HOME/cifar.python/``, also under ``<root>/cifar.python/``.
The training split is preferred (NASI and NASLib draw their scoring batch from the train loader); the
test split is the fallback, and the chosen split is always reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataMissing
from harness.paths import SourceStatus, data_dir_arg, data_roots, describe_roots

SUBFOLDERS = ("", "cifar.python")  # relative to each data root, searched in this order

_KRIZ = "https://www.cs.toronto.edu/~kriz/cifar.html"
_NB201_DRIVE = "https://drive.google.com/drive/folders/1T3UIyZXUhMmIuJLOBMIYKAsJknAtrrO4"


@dataclass(frozen=True)
class Layout:
    """The official on-disk layout of one image dataset (python pickles of uint8 [N, 3*R*R], channel-first)."""

    name: str  # name shown in ``data check`` and errors
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    resolution: int
    label_base: int  # value of the first class in the files (ImageNet16 is 1-based)
    num_classes: int  # labels kept: label_base .. label_base + num_classes - 1
    how_to_obtain: str
    subset: bool = False  # the files hold more classes than kept: drop the others (ImageNet16 -> 120 classes)

    def files_pattern(self) -> str:
        return f"{self.folder}/{{{_short(self.train)} or {_short(self.test)}}}"


def _short(names: tuple[str, ...]) -> str:
    """``data_batch_1..5`` for a numbered run of files, else a comma list."""
    if len(names) > 1:
        stem = names[0].rsplit("_", 1)[0]
        if all(n == f"{stem}_{i}" for i, n in enumerate(names, start=1)):
            return f"{stem}_1..{len(names)}"
    return ",".join(names)


CIFAR10 = Layout(
    name="cifar10",
    folder="cifar-10-batches-py",
    train=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test=("test_batch",),
    label_key="labels",
    resolution=32,
    label_base=0,
    num_classes=10,
    how_to_obtain=f"download cifar-10-python.tar.gz from {_KRIZ} and extract it into the data root",
)
CIFAR100 = Layout(
    name="cifar100",
    folder="cifar-100-python",
    train=("train",),
    test=("test",),
    label_key="fine_labels",
    resolution=32,
    label_base=0,
    num_classes=100,
    how_to_obtain=f"download cifar-100-python.tar.gz from {_KRIZ} and extract it into the data root",
)
IMAGENET16_120 = Layout(
    name="ImageNet16-120",
    folder="ImageNet16",
    train=tuple(f"train_data_batch_{i}" for i in range(1, 11)),
    test=("val_data",),
    label_key="labels",
    resolution=16,
    label_base=1,
    num_classes=120,
    how_to_obtain=(
        "download the ImageNet16 folder (train_data_batch_1..10, val_data) from the Google Drive link in the "
        f"NAS-Bench-201 README ({_NB201_DRIVE}) into the data root"
    ),
    subset=True,
)

# cifar10-valid is CIFAR-10's training set as NAS-Bench-201 split it: the same files.
LAYOUTS: dict[str, Layout] = {
    "cifar10": CIFAR10,
    "cifar10-valid": CIFAR10,
    "cifar100": CIFAR100,
    "ImageNet16-120": IMAGENET16_120,
}


def layout_for(dataset: str) -> Layout:
    try:
        return LAYOUTS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(LAYOUTS)}") from None


@dataclass(frozen=True)
class Located:
    """The files of one split found for a dataset, and a short description of them for ``Batch.source``."""

    layout: Layout
    folder: Path
    split: str  # "train" or "test"
    files: tuple[Path, ...]
    description: str  # e.g. "cifar-10-batches-py/test_batch (test split; train batches absent)"


def _present(folder: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if (folder / n).is_file())


def _describe(layout: Layout, split: str, names: tuple[str, ...]) -> str:
    if split == "test":
        return f"{layout.folder}/{_short(names)} (test split; train batches absent)"
    note = "train split"
    if len(names) < len(layout.train):
        note += f"; only {len(names)} of {len(layout.train)} train batches present"
    return f"{layout.folder}/{_short(names)} ({note})"


def locate(layout: Layout, data: str | os.PathLike | None = None) -> Located | None:
    """The first folder over the data roots holding any file of the layout: its train files, else its test files."""
    for root in data_roots(data):
        for sub in SUBFOLDERS:
            folder = root / sub / layout.folder if sub else root / layout.folder
            if not folder.is_dir():
                continue
            for split, names in (("train", layout.train), ("test", layout.test)):
                present = _present(folder, names)
                if present:
                    files = tuple(folder / n for n in present)
                    return Located(layout, folder, split, files, _describe(layout, split, present))
    return None


def missing_message(layout: Layout, data: str | os.PathLike | None) -> str:
    """One line: what was looked for, where, and how to obtain it."""
    subs = " or ".join(f"<root>/{s}/" for s in SUBFOLDERS if s)
    return (
        f"{layout.name} data not found: looked for {layout.files_pattern()} under {describe_roots(data)} "
        f"(directly, or in {subs}); to obtain it, {layout.how_to_obtain}"
    )


def require(dataset: str, data: str | os.PathLike | None = None) -> Located:
    """Locate ``dataset``'s files or raise ``DataMissing`` with one line saying what, where and how."""
    layout = layout_for(dataset)
    found = locate(layout, data)
    if found is None:
        raise DataMissing(missing_message(layout, data))
    return found


def describe_datasets(
    data_dir: str | os.PathLike | None = None, *, data: str | os.PathLike | None = None
) -> list[SourceStatus]:
    """One status per dataset folder (cifar10 serves cifar10 and cifar10-valid); checks files, loads nothing.
    ``data=``: the deprecated spelling of ``data_dir``."""
    data = data_dir_arg(data_dir, data, "describe_datasets")
    statuses = []
    for layout in dict.fromkeys(LAYOUTS.values()):
        users = [name for name, lay in LAYOUTS.items() if lay is layout]
        name = ", ".join(users)
        found = locate(layout, data)
        if found is None:
            statuses.append(
                SourceStatus("dataset", name, False, None, f"looked for {layout.files_pattern()}", layout.how_to_obtain)
            )
        else:
            statuses.append(
                SourceStatus("dataset", name, True, str(found.folder), found.description, layout.how_to_obtain)
            )
    return statuses
