"""Reading the official dataset pickles into uint8 arrays, cached in-process.

A CIFAR pickle takes about a second to load; scoring asks for one batch per run (and tests for many), so
each loaded split is kept in a small LRU cache keyed by the files' paths, sizes and modification times
(an edited file is re-read). The files are pickles, read by ``harness.data.safe_pickle``: only the types the
official layouts use are admitted, so a crafted file is refused before it can run anything.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data import safe_pickle
from harness.data.layouts import Layout, Located, describe_datasets, layout_for, locate
from harness.errors import HarnessError
from harness.paths import SourceStatus, data_dir_arg


@dataclass(frozen=True)
class Images:
    """One split of a dataset: images uint8 [N, 3, R, R], labels int64 [N] in [0, num_classes)."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _read_pickle(path: Path, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Images and 0-based labels of one file, restricted to the layout's classes."""
    try:
        entry = safe_pickle.load(path)
    except safe_pickle.UnsafePickle:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one user-facing error
        raise HarnessError(f"cannot read {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not isinstance(entry, dict) or "data" not in entry or layout.label_key not in entry:
        keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise HarnessError(f"{path} is not an official {layout.name} file: expected keys 'data' and "
                           f"{layout.label_key!r}, found {keys}")  # fmt: skip
    res = layout.resolution
    data = np.asarray(entry["data"])
    labels = np.asarray(entry[layout.label_key], dtype=np.int64).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * res * res or len(data) != len(labels):
        raise HarnessError(
            f"{path}: expected 'data' uint8 [N, {3 * res * res}] with one label per row, got "
            f"{data.dtype} {list(data.shape)} and {len(labels)} labels"
        )
    labels = labels - layout.label_base
    if layout.subset:  # e.g. ImageNet16-120: the first 120 of 1000 classes, as NAS-Bench-201 built it
        keep = (labels >= 0) & (labels < layout.num_classes)
        data, labels = data[keep], labels[keep]
    elif labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise HarnessError(f"{path}: labels outside 0..{layout.num_classes - 1} (found {labels.min()}..{labels.max()})")
    return data.reshape(-1, 3, res, res), labels


@functools.lru_cache(maxsize=4)
def _load_cached(layout: Layout, files: tuple[tuple[str, int, int], ...], source: str) -> Images:
    parts = [_read_pickle(Path(path), layout) for path, _, _ in files]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    labels = np.concatenate([p[1] for p in parts])
    images.setflags(write=False)
    labels.setflags(write=False)
    return Images(images, labels, source)


def load(located: Located) -> Images:
    """The images of the located split (cached per process)."""
    stamps = []
    for path in located.files:
        st = path.stat()
        stamps.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
    return _load_cached(located.layout, tuple(stamps), located.description)


def clear_cache() -> None:
    """Forget loaded datasets (frees memory; files are re-read on next use)."""
    _load_cached.cache_clear()


def check_datasets(
    data_dir: str | os.PathLike | None = None, *, data: str | os.PathLike | None = None
) -> list[SourceStatus]:
    """``describe_datasets`` with each found split's files read and checked as a batch would read them (one
    file at a time, not kept): ``SourceStatus.problem`` names a file that is unreadable, refused or wrong.
    ``data=``: the deprecated spelling of ``data_dir``."""
    data = data_dir_arg(data_dir, data, "check_datasets")
    statuses = []
    for status in describe_datasets(data):
        name = status.name.split(",")[0]
        found = locate(layout_for(name), data) if status.found else None
        if found is not None:
            try:
                images = sum(len(_read_pickle(path, found.layout)[1]) for path in found.files)
            except HarnessError as exc:
                status = dataclasses.replace(status, problem=str(exc))
            else:
                status = dataclasses.replace(status, detail=f"{status.detail}; {images} images read and checked")
        statuses.append(status)
    return statuses
