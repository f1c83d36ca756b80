"""What a ground-truth request means: spaces, datasets, splits and epochs exactly as the benchmarks define them.

Split semantics (from ``get_more_info`` / ``ArchResults.get_metrics`` in ``nas_201_api`` and ``nats_bench``):

* ``cifar10-valid``: trained on the CIFAR-10 *train half* (25k images). ``train`` = that set; ``valid`` =
  the other 25k images of the CIFAR-10 training set (official set name ``x-valid``); ``test`` = the CIFAR-10
  test set (``ori-test``).
* ``cifar10``: trained on the *whole* CIFAR-10 training set (train+valid, 50k). ``train`` = that set;
  ``test`` = the CIFAR-10 test set (``ori-test``). There is no validation split.
* ``cifar100`` / ``ImageNet16-120``: trained on the training set. The original test (validation) set is cut
  in two halves: ``valid`` = one half (``x-valid``), ``test`` = the other half (``x-test``); ``valtest`` = the
  whole original set (``ori-test``, called ``valtest`` by ``get_more_info``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

# Search-space name (harness.spaces registry) -> NATS-Bench family.
FAMILIES: dict[str, str] = {"nb201": "tss", "nats-sss": "sss"}
SPACE_OF_FAMILY: dict[str, str] = {family: space for space, family in FAMILIES.items()}
# Training schedules the benchmarks provide (hp keys "12"/"200" for tss, "01"/"12"/"90" for sss).
EPOCHS: dict[str, tuple[int, ...]] = {"tss": (12, 200), "sss": (1, 12, 90)}
FULL_EPOCHS: dict[str, int] = {"tss": 200, "sss": 90}
DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")

_HALVES = {
    "train": "training set",
    "valid": "first half of the original test set (official 'x-valid')",
    "test": "second half of the original test set (official 'x-test')",
    "valtest": "whole original test set (official 'ori-test')",
}
# dataset -> split -> meaning; the split name is also the prefix of the get_more_info key ("<split>-accuracy").
SPLITS: dict[str, dict[str, str]] = {
    "cifar10-valid": {
        "train": "CIFAR-10 train half (25k), the training data",
        "valid": "CIFAR-10 valid half (25k of the training set, official 'x-valid'), held out",
        "test": "CIFAR-10 test set (official 'ori-test'), model trained on the train half",
    },
    "cifar10": {
        "train": "CIFAR-10 train+valid (50k), the training data",
        "test": "CIFAR-10 test set (official 'ori-test'), model trained on train+valid",
    },
    "cifar100": dict(_HALVES),
    "ImageNet16-120": dict(_HALVES),
}


@dataclass(frozen=True)
class Request:
    """One validated ground-truth question."""

    space: str
    dataset: str
    split: str
    epochs: int
    seed_avg: bool

    @property
    def family(self) -> str:
        return FAMILIES[self.space]

    @property
    def label(self) -> str:
        """Series name, e.g. ``cifar10/test/200ep``."""
        return f"{self.dataset}/{self.split}/{self.epochs}ep"

    @property
    def column(self) -> str:
        """Column in an extracted table: the label plus ``/avg`` or ``/one`` (seed handling)."""
        return f"{self.label}/{'avg' if self.seed_avg else 'one'}"

    @property
    def meaning(self) -> str:
        return SPLITS[self.dataset][self.split]

    def describe(self) -> str:
        return f"{self.space} {self.label} ({'seed-averaged' if self.seed_avg else 'one seed'})"


def make_request(space: str, dataset: str, split: str, epochs: int, seed_avg: bool) -> Request:
    """Validate the arguments of ``load_accuracy``; ValueError names the allowed values."""
    if space not in FAMILIES:
        raise ValueError(f"unknown search space {space!r} for ground truth; expected one of {', '.join(FAMILIES)}")
    family = FAMILIES[space]
    if dataset not in SPLITS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    splits = SPLITS[dataset]
    if split not in splits:
        hint = "; use dataset='cifar10-valid' for CIFAR-10 validation accuracy" if dataset == "cifar10" else ""
        raise ValueError(f"split {split!r} is not defined for {dataset}: expected one of {', '.join(splits)}{hint}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or int(epochs) not in EPOCHS[family]:
        allowed = ", ".join(map(str, EPOCHS[family]))
        raise ValueError(f"epochs {epochs!r} not available for {space}: expected one of {allowed}")
    if not isinstance(seed_avg, bool):
        raise ValueError(f"seed_avg must be True or False, got {seed_avg!r}")
    return Request(space, dataset, split, int(epochs), seed_avg)
