"""Files a user brings are refused with one line naming them, before anything in them runs (#23).

Dataset pickles go through ``harness.data.safe_pickle``; benchmark archives are checked against the hash
their official names carry; broken ground-truth sources are errors, never a fallback; ``merge`` refuses the
names ``run`` refuses.
"""

from __future__ import annotations

import datetime
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from harness.data import make_batch, safe_pickle
from harness.data.loaders import clear_cache
from harness.errors import HarnessError


class _RunsCommand:
    """Pickles as a call to ``os.system``: a plain ``pickle.load`` would run the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


class _WritesFile:
    """Pickles as ``builtins.open(path, 'w')``: another way out of a plain ``pickle.load``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def _crafted_batch(folder: Path, payload: object) -> Path:
    path = folder / "cifar-10-batches-py" / "test_batch"
    path.parent.mkdir(parents=True)
    entry = {"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 3], "filenames": payload}
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return path


@pytest.mark.parametrize("kind", ["os.system", "open"])
def test_a_crafted_dataset_file_runs_nothing_and_is_named(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "marker"
    payload = _RunsCommand(f"touch {marker}") if kind == "os.system" else _WritesFile(marker)
    path = _crafted_batch(tmp_path / "data", payload)
    clear_cache()
    with pytest.raises(safe_pickle.UnsafePickle) as info:
        make_batch("cifar10", 2, data=tmp_path / "data")
    message = str(info.value)
    assert isinstance(info.value, HarnessError)
    assert "\n" not in message and str(path) in message and "refused to unpickle" in message
    assert ("system" in message) if kind == "os.system" else ("open" in message)
    assert not marker.exists()


def test_the_restricted_unpickler_reads_what_numpy_and_python_write() -> None:
    """Every protocol, and the Python 2 module name ``numpy.core.multiarray`` of the original CIFAR files."""
    entry = {
        "data": np.arange(24, dtype=np.uint8).reshape(2, 12),
        "fortran": np.asfortranarray(np.ones((3, 2))),
        "labels": [1, 2],
        "scalar": np.float64(1.5),
        "count": np.int64(7),
        "batch_label": b"testing batch 1 of 1",
        "name": "x",
        "pair": (1, 2.5),
        "nothing": None,
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out = safe_pickle.loads(pickle.dumps(entry, protocol=protocol), "mem")
        assert out.keys() == entry.keys()
        np.testing.assert_array_equal(out["data"], entry["data"])
        np.testing.assert_array_equal(out["fortran"], entry["fortran"])
        assert (out["labels"], out["scalar"], out["count"]) == ([1, 2], 1.5, 7)
        assert (out["batch_label"], out["name"], out["pair"], out["nothing"]) == (
            b"testing batch 1 of 1",
            "x",
            (1, 2.5),
            None,
        )
    old = pickle.dumps(entry, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    np.testing.assert_array_equal(safe_pickle.loads(old, "py2")["data"], entry["data"])


@pytest.mark.parametrize(
    "payload",
    [
        datetime.date(2020, 1, 1),  # harmless, but no official layout holds one
        np.ma.masked_array([1, 2]),  # an ndarray subclass
        np.array([_RunsCommand("true")], dtype=object),  # an object array holding a call
    ],
    ids=["date", "ndarray-subclass", "object-array"],
)
def test_types_outside_the_official_layouts_are_refused(payload: object) -> None:
    with pytest.raises(safe_pickle.UnsafePickle, match="^mem: refused to unpickle"):
        safe_pickle.loads(pickle.dumps({"data": payload}), "mem")


def test_the_real_cifar10_batch_still_loads(shared_data: Path) -> None:
    entry = safe_pickle.load(shared_data / "cifar-10-batches-py" / "test_batch")
    assert entry["data"].shape == (10_000, 3072) and entry["data"].dtype == np.uint8
    assert len(entry["labels"]) == 10_000 and len(entry["filenames"]) == 10_000
    meta = safe_pickle.load(shared_data / "cifar-10-batches-py" / "batches.meta")
    assert len(meta["label_names"]) == 10
