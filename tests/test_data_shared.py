"""The loaders on real images: the reference CIFAR-10 test batch, and sample photos packed in official layouts."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.data import describe_datasets, make_batch
from harness.datasets import dataset_info


def test_reference_cifar10_normalised(shared_data: Path) -> None:
    batch = make_batch("cifar10", 10_000, "real", "true", seed=0, data_dir=shared_data)
    assert batch.source == "cifar-10-batches-py/test_batch (test split; train batches absent)"
    assert batch.inputs.shape == (10_000, 3, 32, 32)
    means = batch.inputs.mean(dim=(0, 2, 3))
    stds = batch.inputs.std(dim=(0, 2, 3))
    assert torch.all(means.abs() < 0.05), means
    assert torch.all((stds - 1).abs() < 0.1), stds
    assert batch.targets.bincount().tolist() == [1000] * 10
    with pytest.raises(ValueError, match="exceeds the 10000 images"):
        make_batch("cifar10", 10_001, data_dir=shared_data)


def test_reference_cifar10_small_batch_matches_large(shared_data: Path) -> None:
    """A batch is the first B of the seed's permutation: growing B extends it."""
    small = make_batch("cifar10", 8, seed=11, data_dir=shared_data)
    large = make_batch("cifar10", 32, seed=11, data_dir=shared_data)
    assert torch.equal(small.inputs, large.inputs[:8]) and torch.equal(small.targets, large.targets[:8])


def test_reference_describe(shared_data: Path) -> None:
    statuses = {s.name: s for s in describe_datasets(shared_data)}
    assert statuses["cifar10, cifar10-valid"].found and "test split" in statuses["cifar10, cifar10-valid"].detail
    assert not statuses["cifar100"].found and not statuses["ImageNet16-120"].found


def _samples(shared: Path, prefix: str) -> list[tuple[Path, int]]:
    found = []
    for path in sorted((shared / "samples").glob(f"{prefix}_*")):
        match = re.fullmatch(rf"{prefix}_\d+_(\d+)\.\w+", path.name)
        if match:
            found.append((path, int(match.group(1))))
    if not found:
        pytest.skip(f"no {prefix} samples in {shared / 'samples'}")
    return found


def _pixels(path: Path, size: int) -> np.ndarray:
    image = pytest.importorskip("PIL.Image")
    with image.open(path) as im:
        rgb = im.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), image.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)  # H, W, C


def _unnormalise(batch_inputs: torch.Tensor, dataset: str) -> np.ndarray:
    info = dataset_info(dataset)
    unit = batch_inputs * torch.tensor(info.std).view(1, 3, 1, 1) + torch.tensor(info.mean).view(1, 3, 1, 1)
    return (unit * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # N, H, W, C


def test_cifar100_samples_layout(shared_data: Path, tmp_path: Path) -> None:
    """Real photos packed channel-first as the official files are come back as the same H x W x C pictures."""
    samples = _samples(shared_data, "cifar100")
    images = np.stack([_pixels(p, 32) for p, _ in samples])
    labels = [label for _, label in samples]
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    with open(folder / "test", "wb") as f:
        pickle.dump({"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1), "fine_labels": labels}, f)
    batch = make_batch("cifar100", len(samples), data_dir=tmp_path)
    assert batch.source == "cifar-100-python/test (test split; train batches absent)"
    got = _unnormalise(batch.inputs, "cifar100")
    for picture, label in zip(got, batch.targets.tolist()):
        (match,) = [i for i in range(len(images)) if np.array_equal(images[i], picture)]
        assert labels[match] == label


def test_imagenet16_samples_subset(shared_data: Path, tmp_path: Path) -> None:
    """ImageNet16 files hold 1-based labels over 1000 classes; only classes 1..120 are kept (as 0..119)."""
    samples = _samples(shared_data, "imagenet")
    images = np.stack([_pixels(p, 16) for p, _ in samples])
    official = np.array([label + 1 for _, label in samples])  # sample names carry 0-based class indices
    folder = tmp_path / "ImageNet16"
    folder.mkdir()
    with open(folder / "val_data", "wb") as f:
        pickle.dump({"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1), "labels": official.tolist()}, f)
    kept = official <= 120
    if not kept.any():
        pytest.skip("no sample in the 120-class subset")
    batch = make_batch("ImageNet16-120", int(kept.sum()), data_dir=tmp_path)
    assert sorted(batch.targets.tolist()) == sorted((official[kept] - 1).tolist())
    got = _unnormalise(batch.inputs, "ImageNet16-120")
    assert sorted(map(bytes, got)) == sorted(map(bytes, images[kept]))
    with pytest.raises(ValueError, match="exceeds"):
        make_batch("ImageNet16-120", int(kept.sum()) + 1, data_dir=tmp_path)
