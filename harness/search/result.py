"""Search results: one record per run, the ground-truth accuracy of the chosen cell, mean/std over seeds."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

# NAS-Bench-201 reports every search on these three (200-epoch test accuracy, seed-averaged).
ACCURACY_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass
class SearchResult:
    algorithm: str
    space: str
    dataset: str
    seed: int
    config: dict
    index: int
    arch: str
    accuracy: dict[str, float | None]
    seconds: float
    device: str
    details: dict = field(default_factory=dict)

    def run_dict(self) -> dict:
        """The per-run entry of ``search --json``."""
        return {
            "seed": self.seed,
            "index": self.index,
            "arch": self.arch,
            "accuracy": dict(self.accuracy),
            "seconds": self.seconds,
            "device": self.device,
        }

    def as_dict(self) -> dict:
        return asdict(self)


def summarise(results: list[SearchResult]) -> dict[str, dict[str, float | None]]:
    """Mean and std (population, ddof=0, as the NAS-Bench-201 baselines report) of each dataset's accuracy.

    Runs without a value for a dataset are left out of that dataset; none at all gives ``None`` for both.
    """
    summary: dict[str, dict[str, float | None]] = {}
    for name in ACCURACY_DATASETS:
        values = [r.accuracy.get(name) for r in results]
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if values:
            summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        else:
            summary[name] = {"mean": None, "std": None}
    return summary


_SHORT = {"cifar10": "C10", "cifar100": "C100", "ImageNet16-120": "IN16"}


def result_line(result: SearchResult) -> str:
    """One run in one line: seed, chosen cell, its accuracy on the three datasets, time and device."""
    accs = " ".join(
        f"{_SHORT[name]} {'n/a' if result.accuracy.get(name) is None else format(result.accuracy[name], '.2f')}"
        for name in ACCURACY_DATASETS
    )
    return f"seed {result.seed}: cell {result.index} {result.arch} | {accs} | {result.seconds:.1f} s on {result.device}"


def summary_lines(results: list[SearchResult]) -> list[str]:
    """A heading, then per dataset the accuracy mean ± std over ``results`` (one setting), then mean wall time."""
    summary = summarise(results)
    lines = [f"{results[0].algorithm} on {results[0].dataset}, {len(results)} seed(s): test accuracy mean ± std"]
    for name in ACCURACY_DATASETS:
        s = summary[name]
        value = "n/a" if s["mean"] is None else f"{s['mean']:.2f} ± {s['std']:.2f}"
        lines.append(f"  {name:<15} {value}")
    seconds = sum(r.seconds for r in results) / len(results)
    lines.append(f"  mean wall time {seconds:.1f} s per search on {results[0].device}")
    return lines


def lookup_accuracy(space: str, index: int, data: str | os.PathLike | None = None) -> dict[str, float | None]:
    """Ground-truth 200-epoch test accuracy (seed-averaged, %) of cell ``index`` on the three datasets.

    A dataset whose table does not cover the cell gives ``None``; no ground truth at all raises
    ``harness.errors.DataMissing`` (check early with ``check_ground_truth`` before a long search).
    """
    return {name: _table(space, name, data).get(index) for name in ACCURACY_DATASETS}


def check_ground_truth(space: str, data: str | os.PathLike | None = None) -> None:
    """Raise ``DataMissing`` now rather than after a search when a dataset's ground truth is absent."""
    for name in ACCURACY_DATASETS:
        _table(space, name, data)


_CACHE: dict[tuple[str, str, str], dict[int, float | None]] = {}


def _table(space: str, dataset: str, data: str | os.PathLike | None) -> dict[int, float | None]:
    from harness.groundtruth import load_accuracy

    key = (space, dataset, str(data))
    if key not in _CACHE:
        series = load_accuracy(space=space, dataset=dataset, split="test", epochs=200, data_dir=data)
        _CACHE[key] = {int(i): (float(v) if math.isfinite(float(v)) else None) for i, v in series.items()}
    return _CACHE[key]
