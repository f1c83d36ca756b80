"""Files a user brings are refused with one line naming them, before anything in them runs.

Dataset pickles go through ``harness.data.safe_pickle``; benchmark archives are checked against the hash
their official names carry; broken ground-truth sources are errors, never a fallback; ``merge`` refuses the
names ``run`` refuses.
"""

from __future__ import annotations

import bz2
import datetime
import hashlib
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.data import make_batch, safe_pickle
from harness.data.loaders import clear_cache
from harness.errors import HarnessError
from harness.groundtruth import GroundTruthBroken, PartialGroundTruth, integrity, load_accuracy


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASI_HARNESS_CACHE", str(tmp_path / "cache"))


def _extracts(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "cache").rglob("*.npz"))


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
        make_batch("cifar10", 2, data_dir=tmp_path / "data")
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


# --- benchmark archives: the MD5 their official names carry, checked before anything unpickles them ----------


def _files(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.parametrize("name", sorted(integrity.PUBLISHED_MD5_PREFIX))
def test_an_archive_whose_md5_does_not_match_its_name_is_never_unpickled(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "marker"
    root = tmp_path / "data"
    root.mkdir()
    payload = pickle.dumps(_RunsCommand(f"touch {marker}"))
    (root / name).write_bytes(bz2.compress(payload) if name.endswith(".pbz2") else payload)
    before = _files(root)
    space = "nats-sss" if "sss" in name else "nb201"
    with pytest.raises(GroundTruthBroken) as info:
        load_accuracy(space, "cifar10", "test", 90 if space == "nats-sss" else 200, data_dir=root)
    message = str(info.value)
    prefix = integrity.PUBLISHED_MD5_PREFIX[name]
    assert "\n" not in message and message.startswith(f"{root / name}: md5 ")
    assert f"does not begin with {prefix}" in message and "not the released file" in message
    assert not marker.exists()
    assert _files(root) == before and _extracts(tmp_path) == []
    assert not integrity.is_verified(root / name)
    assert main(["data", "check", "--data", str(root)]) == 1
    assert not marker.exists()


def test_a_matching_archive_is_hashed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    path.write_bytes(b"stand-in bytes")
    monkeypatch.setitem(integrity.PUBLISHED_MD5_PREFIX, path.name, hashlib.md5(path.read_bytes()).hexdigest()[:6])
    assert integrity.verify(path).endswith("verified")
    monkeypatch.setattr(integrity, "md5", lambda p: pytest.fail("hashed again although unchanged"))
    assert "verified before" in integrity.verify(path)
    path.write_bytes(b"other bytes, same name")
    monkeypatch.undo()
    monkeypatch.setitem(integrity.PUBLISHED_MD5_PREFIX, path.name, "096897")
    with pytest.raises(GroundTruthBroken, match="does not begin with 096897"):
        integrity.verify(path)


# --- a NATS -simple archive with one truncated per-cell file --------------------------------------------------


@pytest.fixture
def truncated_cell(shared_data: Path, tmp_path: Path) -> Path:
    """The real NATS-tss sample (cells 0, 11, 284) copied to a temporary root, cell 11's file cut in half."""
    source = shared_data / "nats-bench-sample" / "NATS-tss-v1_0-3ffb9-simple"
    folder = tmp_path / "root" / source.name
    shutil.copytree(source, folder)
    cell = folder / "000011.pickle.pbz2"
    cell.chmod(0o644)
    cell.write_bytes(cell.read_bytes()[: cell.stat().st_size // 2])
    return folder


@pytest.mark.filterwarnings("ignore::harness.groundtruth.PartialGroundTruth")  # space show: 3 sample cells
def test_a_truncated_cell_file_is_one_line_and_other_cells_still_work(truncated_cell: Path, capsys) -> None:
    root = truncated_cell.parent
    cell_file = truncated_cell / "000011.pickle.pbz2"
    before = _files(root)
    with pytest.raises(GroundTruthBroken) as info:
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=root)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{cell_file}: cannot be read (truncated")
    assert "cell 11 has no ground truth until the file is replaced" in message
    with pytest.warns(PartialGroundTruth):
        intact = load_accuracy("nb201", "cifar10", "test", 200, data_dir=root, cells=[0, 284])
    assert intact.index.tolist() == [0, 284]
    with pytest.raises(GroundTruthBroken, match="000011.pickle.pbz2"):
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=root, cells=[11])
    # The CLI: the intact cell shows its accuracy, the broken one is one error line (exit 2), no traceback.
    capsys.readouterr()
    assert main(["space", "show", "nb201", "0", "--data", str(root)]) == 0
    assert "accuracy: cifar10" in capsys.readouterr().out
    assert main(["space", "show", "nb201", "11", "--data", str(root)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]  # (a deprecation notice may precede it)
    assert len(errors) == 1 and "000011.pickle.pbz2: cannot be read" in errors[0] and "Traceback" not in err
    assert main(["data", "check", "--data", str(root)]) == 1
    out = capsys.readouterr().out
    assert "[BROKEN ] NATS-tss-v1_0-3ffb9-simple" in out and "000011.pickle.pbz2: truncated" in out
    assert _files(root) == before  # the archive is only read (its extract of the intact cells goes to the cache)


def test_a_replaced_cell_file_is_read_again(truncated_cell: Path, shared_data: Path) -> None:
    root = truncated_cell.parent
    with pytest.raises(GroundTruthBroken):
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=root)
    good = shared_data / "nats-bench-sample" / "NATS-tss-v1_0-3ffb9-simple" / "000011.pickle.pbz2"
    (truncated_cell / "000011.pickle.pbz2").write_bytes(good.read_bytes())
    with pytest.warns(PartialGroundTruth):
        acc = load_accuracy("nb201", "cifar10", "test", 200, data_dir=root)
    assert acc.index.tolist() == [0, 11, 284]


def test_a_truncated_archive_meta_file_is_one_line(shared_data: Path, tmp_path: Path, capsys) -> None:
    source = shared_data / "nats-bench-sample" / "NATS-tss-v1_0-3ffb9-simple"
    folder = tmp_path / "root" / source.name
    shutil.copytree(source, folder)
    meta = folder / "meta.pickle.pbz2"
    meta.chmod(0o644)
    meta.write_bytes(meta.read_bytes()[:1000])
    with pytest.raises(GroundTruthBroken) as info:
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=folder.parent, cells=[0])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"cannot read {folder} through the official API (EOFError")
    assert _extracts(tmp_path) == []  # nothing cached from a file that could not be read
    assert main(["data", "check", "--data", str(folder.parent)]) == 1
    assert "meta.pickle.pbz2: truncated" in capsys.readouterr().out


# --- benchmark files never execute code: the restricted unpickler reads every official file -------------------


def _forge(make: Callable[[int], bytes], prefix: str) -> bytes:
    """Bytes from ``make(i)`` for the first ``i`` whose MD5 begins with ``prefix`` (the forgery the issue timed:
    a chosen 5-digit prefix took 39 s; 2 digits take ~256 tries)."""
    for i in range(1 << 16):
        data = make(i)
        if hashlib.md5(data).hexdigest().startswith(prefix):
            return data
    raise AssertionError(f"no forgery with md5 prefix {prefix} found")


def _nats_forgery(payload: object) -> Callable[[int], bytes]:
    """A bz2 pickle carrying ``payload``, then a second bz2 stream of padding (read as one file by bz2)."""
    crafted = bz2.compress(pickle.dumps({"meta_archs": [], "payload": payload}, protocol=4))
    return lambda i: crafted + bz2.compress(str(i).encode())


def _pth_forgery(payload: object, zip_format: bool) -> Callable[[int], bytes]:
    import io

    import torch

    def make(i: int) -> bytes:
        buffer = io.BytesIO()
        torch.save({"meta_archs": [], "pad": i, "payload": payload}, buffer, _use_new_zipfile_serialization=zip_format)
        return buffer.getvalue()

    return make


FORGED = {
    "NATS-tss-v1_0-3ffb9.pickle.pbz2": ("nb201", lambda payload: _nats_forgery(payload)),
    "NATS-sss-v1_0-50262.pickle.pbz2": ("nats-sss", lambda payload: _nats_forgery(payload)),
    "NAS-Bench-201-v1_1-096897.pth": ("nb201", lambda payload: _pth_forgery(payload, zip_format=True)),
    "NAS-Bench-201-v1_0-e61699.pth": ("nb201", lambda payload: _pth_forgery(payload, zip_format=False)),
}


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]  # (a deprecation notice may precede them)


@pytest.mark.parametrize("kind", ["os.system", "open"])
@pytest.mark.parametrize("name", sorted(FORGED))
def test_a_forged_prefix_archive_runs_nothing_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, name: str, kind: str
) -> None:
    """A file under an official name whose MD5 begins with the digits that name carries (shortened to two here, so
    the forgery takes a moment) passes the checksum check; the restricted unpickler still refuses it."""
    marker = tmp_path / "marker"
    payload = _RunsCommand(f"touch {marker}") if kind == "os.system" else _WritesFile(marker)
    prefix = integrity.PUBLISHED_MD5_PREFIX[name][:2]
    monkeypatch.setitem(integrity.PUBLISHED_MD5_PREFIX, name, prefix)
    space, forgery = FORGED[name]
    root = tmp_path / "data"
    root.mkdir()
    path = root / name
    path.write_bytes(_forge(forgery(payload), prefix))
    assert integrity.verify(path).endswith("verified")  # the name's digits match: no proof of origin
    assert not marker.exists()
    before = _files(root)
    with pytest.raises(safe_pickle.UnsafePickle) as info:
        load_accuracy(space, "cifar10", "test", 90 if space == "nats-sss" else 200, data_dir=root)
    message = str(info.value)
    called = "system" if kind == "os.system" else "open"
    assert "\n" not in message and message.startswith(f"{path}: refused to unpickle: it calls ")
    assert called in message and "nothing in it was run" in message
    assert not marker.exists() and _files(root) == before and _extracts(tmp_path) == []
    # The command line: one error line naming the file (exit 2), nothing run.
    capsys.readouterr()
    assert main(["space", "show", space, "1", "--data", str(root)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and f"{path}: refused to unpickle" in errors[0]
    assert not marker.exists()


def _sample_copy(shared_data: Path, tmp_path: Path, family: str) -> Path:
    name = {"tss": "NATS-tss-v1_0-3ffb9-simple", "sss": "NATS-sss-v1_0-50262-simple"}[family]
    folder = tmp_path / "root" / name
    shutil.copytree(shared_data / "nats-bench-sample" / name, folder)
    for file in folder.iterdir():
        file.chmod(0o644)
    return folder


def _crafted_cell(official: Path, payload: object) -> bytes:
    """The official cell record with ``payload`` slipped into it (as a crafted archive would carry it)."""
    with bz2.open(official, "rb") as f:
        record = safe_pickle.load_benchmark(f, str(official))
    record["payload"] = payload
    return bz2.compress(pickle.dumps(record, protocol=4))


@pytest.mark.filterwarnings("ignore::harness.groundtruth.PartialGroundTruth")  # the sample holds 3 cells
@pytest.mark.parametrize("family,space", [("tss", "nb201"), ("sss", "nats-sss")])
def test_a_crafted_cell_file_runs_nothing_and_is_named(
    shared_data: Path, tmp_path: Path, capsys, family: str, space: str
) -> None:
    marker = tmp_path / "marker"
    folder = _sample_copy(shared_data, tmp_path, family)
    cell = folder / "000011.pickle.pbz2"
    cell.write_bytes(_crafted_cell(cell, _RunsCommand(f"touch {marker}")))
    epochs = 90 if space == "nats-sss" else 200
    with pytest.raises(GroundTruthBroken) as info:
        load_accuracy(space, "cifar10", "test", epochs, data_dir=folder.parent, cells=[11])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{cell}: cannot be read (refused to unpickle: it calls posix")
    assert "nothing in it was run" in message and not marker.exists()
    intact = load_accuracy(space, "cifar10", "test", epochs, data_dir=folder.parent, cells=[0, 284])
    assert intact.index.tolist() == [0, 284]
    capsys.readouterr()
    assert main(["space", "show", space, "11", "--data", str(folder.parent)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and f"{cell}: cannot be read (refused to unpickle" in errors[0]
    assert main(["data", "check", "--data", str(folder.parent)]) == 1
    out = capsys.readouterr().out
    assert f"[BROKEN ] {folder.name}" in out and "000011.pickle.pbz2: refused to unpickle" in out
    assert not marker.exists()


def test_a_crafted_archive_meta_file_runs_nothing_and_is_named(shared_data: Path, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    folder = _sample_copy(shared_data, tmp_path, "tss")
    meta = folder / "meta.pickle.pbz2"
    meta.write_bytes(_crafted_cell(meta, _WritesFile(marker)))
    with pytest.raises(safe_pickle.UnsafePickle) as info:
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=folder.parent, cells=[0])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{meta}: refused to unpickle: it calls ")
    assert "open" in message and "nothing in it was run" in message
    assert not marker.exists() and _extracts(tmp_path) == []
    assert main(["data", "check", "--data", str(folder.parent)]) == 1
    assert "meta.pickle.pbz2: refused to unpickle" in capsys.readouterr().out
    assert not marker.exists()


def test_the_real_nats_files_read_alike_through_the_restricted_unpickler(shared_data: Path) -> None:
    """Every real NATS-Bench sample file gives exactly what nats_bench's own pickle.load gives."""
    import nats_bench

    files = sorted((shared_data / "nats-bench-sample").glob("*/*.pickle.pbz2"))
    assert len(files) == 8
    for path in files:
        with bz2.open(path, "rb") as f:
            restricted = safe_pickle.load_benchmark(f, str(path))
        assert pickle.dumps(restricted) == pickle.dumps(nats_bench.pickle_load(str(path))), path
        assert integrity.archive_file_problem(path) is None


def test_the_official_apis_get_their_own_loaders_back(tmp_path: Path) -> None:
    from nas_201_api import api_201
    from nats_bench import api_topology, api_utils

    from harness.groundtruth import official

    originals = (api_utils.pickle_load, api_topology.pickle_load, api_201.torch)
    with official.nats_restricted_load():
        assert api_utils.pickle_load is official._nats_pickle_load is api_topology.pickle_load
    with official._nb201_restricted_load():
        assert isinstance(api_201.torch, official._TorchForNB201)
    assert (api_utils.pickle_load, api_topology.pickle_load, api_201.torch) == originals
