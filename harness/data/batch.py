"""``make_batch``: one seeded mini-batch for scoring, in any data mode and label mode (see the package docs)."""

from __future__ import annotations

import hashlib
import operator
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from harness.data.layouts import layout_for, require
from harness.data.loaders import Images, load
from harness.data.modes import OWN_DATA_MODES, needs_target_dataset, other_dataset, validate_modes
from harness.datasets import DatasetInfo, dataset_info
from harness.errors import DataMissing
from harness.paths import data_dir_arg


@dataclass(frozen=True)
class Batch:
    """Inputs (normalised float32 [B, 3, R, R]) and int64 targets, with the settings and a note of their source."""

    inputs: torch.Tensor
    targets: torch.Tensor
    num_classes: int
    dataset: str
    data_mode: str
    label_mode: str
    seed: int
    source: str


def _generator(seed: int, stream: str) -> torch.Generator:
    """An independent CPU generator per (seed, stream): drawing labels never shifts the sample indices."""
    digest = hashlib.sha256(f"nasi-harness/{stream}/{seed}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def _draw(images: Images, batch_size: int, seed: int, dataset: str) -> torch.Tensor:
    """The seed's sample indices into ``images``: the same whatever the modes (without replacement)."""
    if batch_size > len(images):
        raise ValueError(
            f"batch size {batch_size} exceeds the {len(images)} images available for {dataset} ({images.source})"
        )
    return torch.randperm(len(images), generator=_generator(seed, "indices"))[:batch_size]


def _channel(values: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)


def _unit(images: Images, indices: torch.Tensor) -> torch.Tensor:
    """The chosen images as float32 in [0, 1], as ``ToTensor`` gives them."""
    return torch.from_numpy(np.ascontiguousarray(images.images[indices.numpy()])).to(torch.float32).div_(255)


def _normalise(unit: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    return (unit - _channel(info.mean)) / _channel(info.std)


def _load(dataset: str, data: str | os.PathLike | None, why: str) -> Images:
    """The dataset's images; a missing dataset's one-line error also says what needed it."""
    try:
        located = require(dataset, data)
    except DataMissing as exc:
        raise DataMissing(f"{why}: {exc}") from None
    return load(located)


def _integer(value: object, what: str) -> int:
    """``value`` as an int (numpy integers accepted); bools and floats are refused rather than truncated."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


def make_batch(
    dataset: str = "cifar10",
    batch_size: int = 64,
    data_mode: str = "real",
    label_mode: str = "true",
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
) -> Batch:
    """One mini-batch; same arguments -> bit-identical tensors. Raises ``DataMissing`` if needed files are absent.
    ``data_dir``: the data folder (``data=``: its deprecated spelling)."""
    data = data_dir_arg(data_dir, data, "make_batch")
    validate_modes(data_mode, label_mode)
    info = dataset_info(dataset)
    batch_size, seed = _integer(batch_size, "batch size"), _integer(seed, "seed")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    other = other_dataset(data_mode)
    if other is not None and layout_for(other) is layout_for(dataset):
        same = "the same dataset" if other == dataset else f"the same images as {dataset}"
        raise ValueError(f"data mode {data_mode!r} is {same}; use 'real' or another dataset")

    shape = (batch_size, 3, info.resolution, info.resolution)
    own = indices = None
    if needs_target_dataset(data_mode, label_mode):
        needed = "images" if data_mode in OWN_DATA_MODES else f"{label_mode} labels"
        own = _load(dataset, data, f"data mode {data_mode!r} with label mode {label_mode!r} needs {dataset} {needed}")
        indices = _draw(own, batch_size, seed, dataset)

    # Inputs.
    if data_mode == "real":
        inputs = _normalise(_unit(own, indices), info)
        source = own.source
    elif data_mode == "repeat":
        inputs = _normalise(_unit(own, indices[:1]), info).expand(shape).contiguous()
        source = f"{own.source}, first drawn image repeated"
    elif data_mode == "gaussian":
        inputs = torch.randn(shape, generator=_generator(seed, "gaussian"))
        source = "gaussian N(0,1)"
    elif data_mode == "uniform":
        low, high = (0 - _channel(info.mean)) / _channel(info.std), (1 - _channel(info.mean)) / _channel(info.std)
        inputs = low + torch.rand(shape, generator=_generator(seed, "uniform")) * (high - low)
        source = "uniform U[(0-mean)/std, (1-mean)/std] per channel"
    else:
        foreign = _load(other, data, f"data mode {data_mode!r} needs {other} images")
        unit = _unit(foreign, _draw(foreign, batch_size, seed, other))
        source = f"other:{other} {foreign.source}"
        if unit.shape[-1] != info.resolution:
            source += f", resized {unit.shape[-1]}->{info.resolution} bilinear"
            unit = F.interpolate(unit, size=shape[-2:], mode="bilinear", align_corners=False)
        inputs = _normalise(unit, info)
        source += f", normalised as {dataset}"

    # Targets.
    if label_mode == "random":
        targets = torch.randint(0, info.num_classes, (batch_size,), generator=_generator(seed, "labels"))
        source += f"; labels random over {info.num_classes} classes"
    else:
        targets = torch.from_numpy(own.labels[indices.numpy()].copy())
        of = "" if data_mode in OWN_DATA_MODES else f" of {own.source}"
        if label_mode == "shuffled":
            targets = targets[torch.randperm(batch_size, generator=_generator(seed, "shuffle"))]
            source += f"; labels true{of}, shuffled"
        elif of:
            source += f"; labels true{of}"

    return Batch(inputs.to(torch.float32), targets.to(torch.int64), info.num_classes, dataset, data_mode,
                 label_mode, seed, source)  # fmt: skip
