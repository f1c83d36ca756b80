"""Batches from tiny generated dataset files in the official layouts: every data and label mode, errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.data import (
    DATA_MODES,
    LABEL_MODES,
    Batch,
    describe_datasets,
    make_batch,
    requires_dataset,
    validate_modes,
)
from harness.datasets import dataset_info
from harness.errors import DataMissing, HarnessError

C10_TRAIN_PER_FILE = 6  # 5 files -> 30 train images
C10_TEST = 8
C100_TRAIN = 25
IN16_PER_FILE = 12  # labels 1..240 over 10 files: about half in the 120-class subset


def _write(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(entry, f)


def _pixels(rng: np.random.Generator, n: int, res: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * res * res), dtype=np.uint8)


def _cifar10(root: Path, train: bool = True, test: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(10)
    files = {}
    names = ([f"data_batch_{i}" for i in range(1, 6)] if train else []) + (["test_batch"] if test else [])
    for name in names:
        n = C10_TEST if name == "test_batch" else C10_TRAIN_PER_FILE
        data, labels = _pixels(rng, n, 32), rng.integers(0, 10, n)
        _write(root / "cifar-10-batches-py" / name, {"data": data, "labels": labels.tolist(), "filenames": []})
        files[name] = (data, labels)
    return files


def _cifar100(root: Path) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(100)
    data, labels = _pixels(rng, C100_TRAIN, 32), rng.integers(0, 100, C100_TRAIN)
    _write(root / "cifar-100-python" / "train", {"data": data, "fine_labels": labels.tolist(), "coarse_labels": []})
    return data, labels


def _imagenet16(root: Path, subfolder: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Train batches with 1-based labels over 1..240; returns the kept (label <= 120) images and 0-based labels."""
    rng = np.random.default_rng(16)
    kept_data, kept_labels = [], []
    for i in range(1, 11):
        data, labels = _pixels(rng, IN16_PER_FILE, 16), rng.integers(1, 241, IN16_PER_FILE)
        _write(root / subfolder / "ImageNet16" / f"train_data_batch_{i}", {"data": data, "labels": labels.tolist()})
        keep = labels <= 120
        kept_data.append(data[keep])
        kept_labels.append(labels[keep] - 1)
    return np.concatenate(kept_data), np.concatenate(kept_labels)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data")
    _cifar10(path)
    _cifar100(path)
    _imagenet16(path)
    return path


def _as_uint8(batch: Batch, dataset: str | None = None) -> np.ndarray:
    """Undo the normalisation: rows of the official [N, 3*R*R] layout."""
    info = dataset_info(dataset or batch.dataset)
    mean = torch.tensor(info.mean).view(1, 3, 1, 1)
    std = torch.tensor(info.std).view(1, 3, 1, 1)
    unit = batch.inputs * std + mean
    return (unit * 255).round().to(torch.uint8).reshape(len(unit), -1).numpy()


def _row_index(rows: np.ndarray, all_rows: np.ndarray) -> list[int]:
    """Index of each row in ``all_rows`` (the random test images are distinct)."""
    found = []
    for row in rows:
        (match,) = np.flatnonzero((all_rows == row).all(axis=1))
        found.append(int(match))
    return found


# --- modes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data_mode", ["real", "gaussian", "uniform", "repeat", "other:cifar100", "other:cifar10"])
@pytest.mark.parametrize("label_mode", LABEL_MODES)
def test_validate_modes_accepts(data_mode: str, label_mode: str) -> None:
    validate_modes(data_mode, label_mode)


@pytest.mark.parametrize(
    ("data_mode", "label_mode", "expected"),
    [
        ("noise", "true", "real, gaussian, uniform, repeat, other:<dataset>"),
        ("other:", "true", "cifar10, cifar10-valid, cifar100, ImageNet16-120"),
        ("other:imagenet", "true", "unknown dataset 'imagenet'"),
        ("Real", "true", "unknown data mode 'Real'"),
        ("real", "permuted", "true, random, shuffled"),
        (None, "true", "expected one of"),
    ],
)
def test_validate_modes_rejects(data_mode: str, label_mode: str, expected: str) -> None:
    with pytest.raises(ValueError, match="expected") as info:
        validate_modes(data_mode, label_mode)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_documented_modes() -> None:
    assert DATA_MODES == ("real", "gaussian", "uniform", "repeat", "other:<dataset>")
    assert LABEL_MODES == ("true", "random", "shuffled")


@pytest.mark.parametrize(
    ("data_mode", "label_mode", "needed"),
    [
        ("gaussian", "random", False),
        ("uniform", "random", False),
        ("gaussian", "true", True),
        ("uniform", "shuffled", True),
        ("real", "random", True),
        ("repeat", "random", True),
        ("other:cifar100", "random", True),
        ("real", "true", True),
    ],
)
def test_requires_dataset(data_mode: str, label_mode: str, needed: bool) -> None:
    assert requires_dataset(data_mode, label_mode) is needed


def test_requires_dataset_rejects_bad_mode() -> None:
    with pytest.raises(ValueError):
        requires_dataset("real", "none")


# --- synthetic data: no files needed ---------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_gaussian_random_needs_no_files(tmp_path: Path, dataset: str) -> None:
    info = dataset_info(dataset)
    batch = make_batch(dataset, 256, "gaussian", "random", seed=3, data_dir=tmp_path)
    assert batch.inputs.shape == (256, 3, info.resolution, info.resolution)
    assert batch.inputs.dtype == torch.float32 and batch.targets.dtype == torch.int64
    assert batch.num_classes == info.num_classes
    assert int(batch.targets.min()) >= 0 and int(batch.targets.max()) < info.num_classes
    assert abs(float(batch.inputs.mean())) < 0.02 and abs(float(batch.inputs.std()) - 1) < 0.02
    assert (batch.dataset, batch.data_mode, batch.label_mode, batch.seed) == (dataset, "gaussian", "random", 3)
    assert batch.source.startswith("gaussian N(0,1)") and "random over" in batch.source


def test_random_labels_cover_classes(tmp_path: Path) -> None:
    counts = make_batch("cifar10", 5000, "gaussian", "random", data_dir=tmp_path).targets.bincount(minlength=10)
    assert len(counts) == 10 and int(counts.min()) > 400 and int(counts.max()) < 600


def test_uniform_spans_normalised_pixel_range(tmp_path: Path) -> None:
    info = dataset_info("cifar100")
    batch = make_batch("cifar100", 128, "uniform", "random", data_dir=tmp_path)
    for c in range(3):
        low, high = (0 - info.mean[c]) / info.std[c], (1 - info.mean[c]) / info.std[c]
        values = batch.inputs[:, c]
        assert float(values.min()) >= low - 1e-6 and float(values.max()) <= high + 1e-6
        assert float(values.min()) < low + 0.01 and float(values.max()) > high - 0.01
        assert abs(float(values.mean()) - (low + high) / 2) < 0.02


@pytest.mark.parametrize("data_mode", ["gaussian", "uniform"])
def test_synthetic_deterministic_and_seeded(tmp_path: Path, data_mode: str) -> None:
    a = make_batch("cifar10", 16, data_mode, "random", seed=7, data_dir=tmp_path)
    b = make_batch("cifar10", 16, data_mode, "random", seed=7, data_dir=tmp_path)
    c = make_batch("cifar10", 16, data_mode, "random", seed=8, data_dir=tmp_path)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs) and not torch.equal(a.targets, c.targets)


def test_global_rng_untouched(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_batch("cifar10", 8, "gaussian", "random", data_dir=tmp_path)
    assert torch.equal(torch.rand(3), expected)


# --- real data from files --------------------------------------------------------------------------


def test_real_prefers_train_split(root: Path) -> None:
    files = _cifar10(root / "again")  # identical content to the module fixture's (same rng seed)
    train = np.concatenate([files[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = np.concatenate([files[f"data_batch_{i}"][1] for i in range(1, 6)])
    batch = make_batch("cifar10", 20, "real", "true", seed=1, data_dir=root)
    assert batch.source == "cifar-10-batches-py/data_batch_1..5 (train split)"
    rows = _row_index(_as_uint8(batch), train)
    assert len(set(rows)) == 20  # drawn without replacement
    assert batch.targets.tolist() == labels[rows].tolist()


def test_real_normalisation_exact(root: Path) -> None:
    info = dataset_info("cifar10")
    batch = make_batch("cifar10", 4, data_dir=root)
    unit = batch.inputs * torch.tensor(info.std).view(1, 3, 1, 1) + torch.tensor(info.mean).view(1, 3, 1, 1)
    assert float(unit.min()) >= -1e-5 and float(unit.max()) <= 1 + 1e-5
    assert torch.allclose(unit * 255, (unit * 255).round(), atol=1e-3)


def test_test_split_when_train_absent(tmp_path: Path) -> None:
    files = _cifar10(tmp_path, train=False)
    batch = make_batch("cifar10", C10_TEST, data_dir=tmp_path)
    assert batch.source == "cifar-10-batches-py/test_batch (test split; train batches absent)"
    rows = _row_index(_as_uint8(batch), files["test_batch"][0])
    assert sorted(rows) == list(range(C10_TEST))
    assert batch.targets.tolist() == files["test_batch"][1][rows].tolist()


def test_partial_train_split_reported(tmp_path: Path) -> None:
    _cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    batch = make_batch("cifar10", 4, data_dir=tmp_path)
    assert "only 4 of 5 train batches present" in batch.source


def test_cifar100_fine_labels(root: Path) -> None:
    data, labels = _cifar100(root / "again")
    batch = make_batch("cifar100", C100_TRAIN, data_dir=root)
    assert batch.source == "cifar-100-python/train (train split)" and batch.num_classes == 100
    rows = _row_index(_as_uint8(batch), data)
    assert batch.targets.tolist() == labels[rows].tolist()


def test_imagenet16_120_subset(root: Path) -> None:
    data, labels = _imagenet16(root / "again")
    n = len(labels)
    assert 0 < n < 10 * IN16_PER_FILE
    batch = make_batch("ImageNet16-120", n, data_dir=root)
    assert batch.inputs.shape == (n, 3, 16, 16) and batch.num_classes == 120
    assert batch.source == "ImageNet16/train_data_batch_1..10 (train split)"
    rows = _row_index(_as_uint8(batch), data)
    assert sorted(rows) == list(range(n))
    assert batch.targets.tolist() == labels[rows].tolist()
    assert int(batch.targets.max()) < 120
    with pytest.raises(ValueError, match=f"exceeds the {n} images"):
        make_batch("ImageNet16-120", n + 1, data_dir=root)


def test_cifar_python_subfolder(tmp_path: Path) -> None:
    _imagenet16(tmp_path, subfolder="cifar.python")
    assert make_batch("ImageNet16-120", 2, data_dir=tmp_path).inputs.shape == (2, 3, 16, 16)


def test_env_var_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASI_HARNESS_DATA", str(root))
    assert torch.equal(make_batch("cifar10", 4).inputs, make_batch("cifar10", 4, data_dir=root).inputs)


def test_cifar10_valid_uses_cifar10_files(root: Path) -> None:
    a, b = make_batch("cifar10", 8, data_dir=root), make_batch("cifar10-valid", 8, data_dir=root)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)


@pytest.mark.parametrize("data_mode", ["real", "repeat", "other:cifar100", "other:ImageNet16-120"])
@pytest.mark.parametrize("label_mode", LABEL_MODES)
def test_every_mode_deterministic(root: Path, data_mode: str, label_mode: str) -> None:
    a = make_batch("cifar10", 12, data_mode, label_mode, seed=5, data_dir=root)
    b = make_batch("cifar10", 12, data_mode, label_mode, seed=5, data_dir=root)
    assert a.inputs.shape == (12, 3, 32, 32) and a.inputs.dtype == torch.float32
    assert a.targets.shape == (12,) and a.targets.dtype == torch.int64
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and a.source == b.source
    c = make_batch("cifar10", 12, data_mode, label_mode, seed=6, data_dir=root)
    assert not (torch.equal(a.inputs, c.inputs) and torch.equal(a.targets, c.targets))


# --- alignment across modes ------------------------------------------------------------------------


def test_labels_aligned_when_data_swapped(root: Path) -> None:
    reference = make_batch("cifar10", 16, "real", "true", seed=2, data_dir=root)
    for data_mode in ("gaussian", "uniform", "repeat", "other:cifar100", "other:ImageNet16-120"):
        swapped = make_batch("cifar10", 16, data_mode, "true", seed=2, data_dir=root)
        assert torch.equal(swapped.targets, reference.targets), data_mode
        assert not torch.equal(swapped.inputs, reference.inputs), data_mode
    assert "labels true of cifar-10-batches-py" in make_batch("cifar10", 4, "gaussian", "true", data_dir=root).source


def test_images_aligned_when_labels_swapped(root: Path) -> None:
    reference = make_batch("cifar10", 16, "real", "true", seed=2, data_dir=root)
    rand = make_batch("cifar10", 16, "real", "random", seed=2, data_dir=root)
    shuffled = make_batch("cifar10", 16, "real", "shuffled", seed=2, data_dir=root)
    assert torch.equal(rand.inputs, reference.inputs) and torch.equal(shuffled.inputs, reference.inputs)
    assert not torch.equal(rand.targets, reference.targets)
    assert sorted(shuffled.targets.tolist()) == sorted(reference.targets.tolist())
    assert not torch.equal(shuffled.targets, reference.targets)
    # random labels do not depend on the data mode
    assert torch.equal(rand.targets, make_batch("cifar10", 16, "gaussian", "random", seed=2, data_dir=root).targets)


def test_shuffled_labels_with_synthetic_data(root: Path) -> None:
    reference = make_batch("cifar10", 16, "real", "shuffled", seed=4, data_dir=root)
    swapped = make_batch("cifar10", 16, "uniform", "shuffled", seed=4, data_dir=root)
    assert torch.equal(swapped.targets, reference.targets)


def test_repeat_is_first_real_image(root: Path) -> None:
    reference = make_batch("cifar10", 8, "real", "true", seed=9, data_dir=root)
    batch = make_batch("cifar10", 8, "repeat", "true", seed=9, data_dir=root)
    assert all(torch.equal(row, reference.inputs[0]) for row in batch.inputs)
    assert torch.equal(batch.targets, reference.targets)
    assert "first drawn image repeated" in batch.source


# --- other:<dataset> -------------------------------------------------------------------------------


def test_other_dataset_normalised_as_target(root: Path) -> None:
    data, _ = _cifar100(root / "again")
    batch = make_batch("cifar10", 10, "other:cifar100", "random", seed=1, data_dir=root)
    rows = _row_index(_as_uint8(batch, "cifar10"), data)  # undoing cifar10's mean/std recovers the pixels
    assert rows == _row_index(_as_uint8(make_batch("cifar100", 10, seed=1, data_dir=root)), data)  # same seed draw
    assert batch.num_classes == 10 and int(batch.targets.max()) < 10
    assert batch.source.startswith("other:cifar100 cifar-100-python/train (train split), normalised as cifar10")


def test_other_downsized_bilinear(root: Path) -> None:
    """32 -> 16 bilinear (align_corners=False) samples the centre of each 2x2 block: the block mean."""
    info = dataset_info("ImageNet16-120")
    batch = make_batch("ImageNet16-120", 6, "other:cifar10", "true", seed=3, data_dir=root)
    assert batch.inputs.shape == (6, 3, 16, 16)
    c10 = dataset_info("cifar10")
    source = make_batch("cifar10", 6, seed=3, data_dir=root).inputs
    unit = source * torch.tensor(c10.std).view(1, 3, 1, 1) + torch.tensor(c10.mean).view(1, 3, 1, 1)
    expected = (F.avg_pool2d(unit, 2) - torch.tensor(info.mean).view(1, 3, 1, 1)) / torch.tensor(info.std).view(
        1, 3, 1, 1
    )
    assert torch.allclose(batch.inputs, expected, atol=1e-5)
    assert torch.equal(batch.targets, make_batch("ImageNet16-120", 6, seed=3, data_dir=root).targets)
    assert "resized 32->16 bilinear" in batch.source


def test_other_upsized(root: Path) -> None:
    batch = make_batch("cifar100", 5, "other:ImageNet16-120", "random", data_dir=root)
    assert batch.inputs.shape == (5, 3, 32, 32) and "resized 16->32 bilinear" in batch.source


@pytest.mark.parametrize(("dataset", "mode"), [("cifar10", "other:cifar10"), ("cifar10-valid", "other:cifar10")])
def test_other_same_dataset_rejected(root: Path, dataset: str, mode: str) -> None:
    with pytest.raises(ValueError, match="use 'real' or another dataset"):
        make_batch(dataset, 4, mode, "true", data_dir=root)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "8"])
def test_bad_batch_size(tmp_path: Path, size: object) -> None:
    with pytest.raises(ValueError, match="batch size"):
        make_batch("cifar10", size, "gaussian", "random", data_dir=tmp_path)  # type: ignore[arg-type]


def test_numpy_integers_accepted(tmp_path: Path) -> None:
    batch = make_batch("cifar10", np.int64(4), "gaussian", "random", seed=np.int32(1), data_dir=tmp_path)
    assert batch.inputs.shape[0] == 4 and batch.seed == 1 and type(batch.seed) is int


def test_batch_larger_than_dataset(tmp_path: Path) -> None:
    _cifar10(tmp_path, train=False)
    with pytest.raises(ValueError, match=f"batch size {C10_TEST + 1} exceeds the {C10_TEST} images"):
        make_batch("cifar10", C10_TEST + 1, data_dir=tmp_path)


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        make_batch("mnist", 4, "gaussian", "random", data_dir=tmp_path)


@pytest.mark.parametrize(
    ("dataset", "data_mode", "label_mode", "looked_for", "how"),
    [
        ("cifar10", "real", "true", "cifar-10-batches-py/{data_batch_1..5 or test_batch}", "cifar-10-python.tar.gz"),
        ("cifar10", "gaussian", "true", "cifar-10-batches-py/", "https://www.cs.toronto.edu/~kriz/cifar.html"),
        ("cifar100", "real", "random", "cifar-100-python/{train or test}", "cifar-100-python.tar.gz"),
        ("ImageNet16-120", "repeat", "true", "ImageNet16/{train_data_batch_1..10 or val_data}", "NAS-Bench-201"),
        ("cifar10", "other:ImageNet16-120", "random", "ImageNet16/", "Google Drive"),
    ],
)
def test_missing_dataset_one_line(
    tmp_path: Path, dataset: str, data_mode: str, label_mode: str, looked_for: str, how: str
) -> None:
    with pytest.raises(DataMissing) as info:
        make_batch(dataset, 4, data_mode, label_mode, data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert looked_for in message and how in message and f"--data-dir {tmp_path}" in message
    assert data_mode in message  # says what needed the files


def test_missing_root_directory(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="cifar10 data not found"):
        make_batch("cifar10", 4, data_dir=tmp_path / "nowhere")


def test_missing_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASI_HARNESS_DATA", str(tmp_path))
    with pytest.raises(DataMissing, match=f"NASI_HARNESS_DATA={tmp_path}"):
        make_batch("cifar100", 4)


def test_corrupt_file_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(b"not a pickle")
    with pytest.raises(HarnessError, match="cannot read") as info:
        make_batch("cifar100", 2, data_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_wrong_layout_rejected(tmp_path: Path) -> None:
    _write(tmp_path / "cifar-100-python" / "train", {"data": np.zeros((2, 768), np.uint8), "fine_labels": [0, 1]})
    with pytest.raises(HarnessError, match=r"expected 'data' uint8 \[N, 3072\]"):
        make_batch("cifar100", 2, data_dir=tmp_path)
    _write(tmp_path / "cifar-10-batches-py" / "test_batch", {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]})
    with pytest.raises(HarnessError, match=r"labels outside 0..9"):
        make_batch("cifar10", 2, data_dir=tmp_path)
    _write(tmp_path / "ImageNet16" / "val_data", {"data": np.zeros((2, 768), np.uint8)})
    with pytest.raises(HarnessError, match="expected keys 'data' and 'labels'"):
        make_batch("ImageNet16-120", 2, data_dir=tmp_path)


def test_edited_file_reloaded(tmp_path: Path) -> None:
    _cifar10(tmp_path, train=False)
    before = make_batch("cifar10", 2, data_dir=tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    data = np.full((3, 3072), 7, np.uint8)
    _write(path, {"data": data, "labels": [1, 2, 3]})
    after = make_batch("cifar10", 3, data_dir=tmp_path)
    assert not torch.equal(before.inputs, after.inputs[:2])
    assert sorted(after.targets.tolist()) == [1, 2, 3]


# --- data check ------------------------------------------------------------------------------------


def test_describe_datasets(root: Path, tmp_path: Path) -> None:
    statuses = {s.name: s for s in describe_datasets(root)}
    assert set(statuses) == {"cifar10, cifar10-valid", "cifar100", "ImageNet16-120"}
    assert all(s.found and s.kind == "dataset" for s in statuses.values())
    assert statuses["cifar10, cifar10-valid"].path == str(root / "cifar-10-batches-py")
    assert statuses["cifar100"].detail == "cifar-100-python/train (train split)"

    _cifar10(tmp_path, train=False)
    statuses = {s.name: s for s in describe_datasets(tmp_path)}
    assert statuses["cifar10, cifar10-valid"].found
    assert "test split" in statuses["cifar10, cifar10-valid"].detail
    missing = statuses["ImageNet16-120"]
    assert not missing.found and missing.path is None
    assert "ImageNet16/" in missing.detail and "NAS-Bench-201" in missing.how_to_obtain


def test_data_check_reads_each_dataset_file_and_exits_1_on_a_broken_one(tmp_path: Path, capsys) -> None:
    """``data check`` checks contents, not presence: a file that is present but unreadable is BROKEN (exit 1)."""
    from harness.cli import main

    _cifar10(tmp_path, train=False)
    assert main(["data", "check", "--data", str(tmp_path)]) == 1  # sound, but no ground truth at all: 1
    out = capsys.readouterr().out
    assert f"{C10_TEST} images read and checked" in out and "0 broken." in out and "no ground truth at all" in out
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["data", "check", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[BROKEN ] cifar10, cifar10-valid" in out and f"problem: cannot read {path}" in out and "1 broken." in out
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


STUDY = """
[study]
name = "needs"
space = "nb201"
cells = "0-3"
proxies = ["params"]
datasets = ["cifar10"]
data_modes = ["gaussian", "other:cifar100"]
label_modes = ["random", "true"]
seeds = [0]
"""


def test_data_check_study_exits_1_when_a_needed_source_is_missing(shared_data: Path, tmp_path: Path, capsys) -> None:
    """--study: cifar10 is needed for the true labels, cifar100 for other:cifar100, ground truth for the report's
    analysis of cifar10; absent ones fail the check, ones no study asks for do not."""
    from harness.cli import main

    study = tmp_path / "needs.toml"
    study.write_text(STUDY)

    def root(name: str, cifar100: bool, tables: bool) -> Path:
        folder = tmp_path / name
        _cifar10(folder, train=False)
        if cifar100:
            _cifar100(folder)
        if tables:
            (folder / "nb201").mkdir()
            for table in (shared_data / "nb201").glob("*.csv"):
                (folder / "nb201" / table.name).symlink_to(table)
        return folder

    full = root("full", cifar100=True, tables=True)
    assert main(["data", "check", "--data", str(full), "--study", str(study)]) == 0
    assert f"study needs ({study}): has every source it needs" in capsys.readouterr().out
    only_c10 = root("c10", cifar100=False, tables=False)
    assert main(["data", "check", "--data", str(only_c10)]) == 1  # no ground truth at all (nothing else is an error)
    assert "no ground truth at all" in capsys.readouterr().out
    assert main(["data", "check", "--data", str(only_c10), "--study", str(study)]) == 1
    out = capsys.readouterr().out
    assert f"study needs ({study}): lacks 2 source(s) it needs" in out
    assert "needs cifar100 images (data/labels other:cifar100/random, other:cifar100/true): missing;" in out
    assert "needs ground truth for its analysis of cifar10: no ground truth for nb201 cifar10/test/200ep" in out
    assert "needs cifar10 images" not in out
    assert main(["data", "check", "--study", str(tmp_path / "absent.toml")]) == 2  # a bad study file: one line
