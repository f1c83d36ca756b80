"""``run_search``: one search run of any algorithm -> a ``SearchResult`` with the chosen cell's ground truth."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import torch

from harness.datasets import dataset_info
from harness.paths import data_dir_arg
from harness.scoring.device import device_label, resolve_device
from harness.search.nasi import NasiConfig, run_nasi
from harness.search.result import ACCURACY_DATASETS, SearchResult, check_ground_truth, lookup_accuracy
from harness.search.sample import SampleConfig, run_sample
from harness.spaces import get_space

ALGORITHMS = ("nasi", "sample")
SPACES = ("nb201",)  # the supernet and the three-dataset ground truth exist for the topology space only


def config_class(algorithm: str) -> type[NasiConfig] | type[SampleConfig]:
    """The settings class of ``algorithm`` (a one-line error for an unknown one)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown search algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    return NasiConfig if algorithm == "nasi" else SampleConfig


def make_config(algorithm: str, **config: object) -> NasiConfig | SampleConfig:
    """The validated settings of ``algorithm``; an unknown key is a one-line error naming the known ones."""
    cls = config_class(algorithm)
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"unknown {algorithm} setting(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
        )
    try:
        return cls(**config)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"bad {algorithm} settings: {exc}") from None


def run_search(
    algorithm: str,
    space: str = "nb201",
    dataset: str = "cifar10",
    seed: int = 0,
    *,
    device: str = "auto",
    data_dir: str | os.PathLike | None = None,
    accuracy: bool = True,
    progress: Callable[[int, int], None] | None = None,
    data: str | os.PathLike | None = None,
    **config: object,
) -> SearchResult:
    """Run ``algorithm`` ("nasi" or "sample") once and look up the chosen cell's ground-truth accuracy.

    ``dataset`` is the data the search sees (its batches and classifier width); accuracy is reported on
    CIFAR-10, CIFAR-100 and ImageNet16-120 as NAS-Bench-201 does. ``accuracy=False`` skips the lookup
    (values ``None``); otherwise missing ground truth fails before the search starts. ``config`` holds the
    algorithm's settings (``NasiConfig`` / ``SampleConfig`` fields). ``data_dir``: the data folder (``data=``: its
    deprecated spelling).
    """
    data = data_dir_arg(data_dir, data, "run_search")
    settings = make_config(algorithm, **config)
    if space not in SPACES:
        get_space(space)  # an unknown name gets the registry's error
        raise ValueError(f"search supports space {', '.join(SPACES)} only, got {space!r}")
    dataset_info(dataset)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    dev = resolve_device(device)
    if accuracy:
        check_ground_truth(space, data)

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    if isinstance(settings, NasiConfig):
        outcome = run_nasi(settings, dataset, seed, dev, data, progress)
        index = get_space(space).resolve(outcome.arch)
        details = {"alpha": outcome.alpha, "nu": outcome.nu, "mean_score": outcome.mean_score,
                   "nu_seconds": outcome.nu_seconds}  # fmt: skip
    else:
        sampled = run_sample(settings, space, dataset, seed, str(dev), data)
        index = sampled.index
        details = {"scores": sampled.scores, "n_scored": sampled.n_scored}
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start

    acc = lookup_accuracy(space, index, data) if accuracy else {}
    return SearchResult(
        algorithm=algorithm,
        space=space,
        dataset=dataset,
        seed=seed,
        config=settings.as_dict(),
        index=index,
        arch=get_space(space).arch(index),
        accuracy={name: acc.get(name) for name in ACCURACY_DATASETS},
        seconds=seconds,
        device=device_label(dev),
        details=details,
    )


def parse_seeds(text: str) -> list[int]:
    """``"0-3"``, ``"0,2,5"`` or ``"7"`` -> seeds (a one-line ValueError otherwise)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        if dash and lo.isdigit() and hi.isdigit() and int(lo) <= int(hi):
            seeds.extend(range(int(lo), int(hi) + 1))
        elif not dash and part.isdigit():
            seeds.append(int(part))
        else:
            raise ValueError(f"bad seeds {text!r}: expected A-B, a comma list of non-negative integers, or one")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"bad seeds {text!r}: a seed is listed twice")
    return seeds


def run_searches(algorithm: str, seeds: Iterable[int], **kwargs: object) -> list[SearchResult]:
    """``run_search`` once per seed (what the CLI and study files call)."""
    return [run_search(algorithm, seed=seed, **kwargs) for seed in seeds]


def record(store: object, study: str, result: SearchResult) -> None:
    """Write one run to a ``harness.store.ResultStore``."""
    store.write_search_run(  # type: ignore[attr-defined]
        study, result.algorithm, result.space, result.dataset, result.seed, result.config, result.index,
        result.arch, result.accuracy, result.seconds, result.device,
    )  # fmt: skip
