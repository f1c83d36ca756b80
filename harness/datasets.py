"""The datasets the benchmarks trained on: classes, input resolution, normalisation (as NAS-Bench-201 used)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _unit(values: tuple[float, float, float]) -> tuple[float, float, float]:
    return tuple(v / 255 for v in values)  # type: ignore[return-value]


_CIFAR10 = (_unit((125.3, 123.0, 113.9)), _unit((63.0, 62.1, 66.7)))
DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("cifar10", 10, 32, *_CIFAR10),
    "cifar10-valid": DatasetInfo("cifar10-valid", 10, 32, *_CIFAR10),
    "cifar100": DatasetInfo("cifar100", 100, 32, _unit((129.3, 124.1, 112.4)), _unit((68.2, 65.4, 70.4))),
    "ImageNet16-120": DatasetInfo(
        "ImageNet16-120", 120, 16, _unit((122.68, 116.66, 104.01)), _unit((63.22, 61.26, 65.09))
    ),
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}") from None
