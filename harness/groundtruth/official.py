"""Reading the official benchmark files through their own APIs (``nas_201_api``, ``nats_bench``), once.

The whole benchmark is walked cell by cell and every accuracy the API reports is copied into flat columns
(see ``extract_rows``); ``harness.groundtruth.cache`` keeps the result, so none of this runs twice.

Both APIs unpickle their files themselves, and unpickling runs whatever functions a file names. So every read
they make goes through an allow-list of what the official files hold (``harness.data.safe_pickle``: dicts,
lists, sets, ``OrderedDict``, str, numbers, NumPy scalars), and a file naming anything else is refused with one
line naming it, before anything in it is called (docs/security.md):

* ``nas_201_api`` calls a bare ``torch.load(path)``; while it builds its API object its module-level ``torch`` is
  swapped for a stand-in whose ``load`` hands torch that allow-list's unpickler as its ``pickle_module`` (and
  ``mmap=True`` for zip-format files). The files hold plain Python objects and NumPy scalars, which torch's
  default ``weights_only=True`` refuses. The file is loaded exactly once, by the API itself: handing the API a
  pre-loaded dict instead would make it ``deepcopy`` everything (double the memory).
* ``nats_bench`` reads every file (single benchmark file, ``meta.pickle.pbz2``, each cell's file on demand)
  through its ``pickle_load``; while the harness opens or walks a NATS API, that function is swapped, in every
  ``nats_bench`` module that holds it, for one that unpickles with ``safe_pickle.load_benchmark``.

The swaps are not thread-safe (build and walk one API at a time per process).
"""

from __future__ import annotations

import bz2
import multiprocessing
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from harness.groundtruth.errors import GroundTruthBroken
from harness.groundtruth.spec import FULL_EPOCHS, SPACE_OF_FAMILY, SPLITS
from harness.spaces import get_space

_INDEX_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")
# Below this many cells a worker pool costs more than it saves.
_PARALLEL_MIN_CELLS = 256
_CHUNK = 128


class _TorchForNB201:
    """Stands in for ``torch`` inside ``nas_201_api``: everything is torch's, except that ``load`` admits only
    what the official files hold (``safe_pickle.torch_load_benchmark``)."""

    def __getattr__(self, name: str) -> Any:
        import torch  # here, not at the top: CSV ground truth needs no torch

        return getattr(torch, name)

    @staticmethod
    def load(f: Any, map_location: Any = None, **kwargs: Any) -> Any:
        from harness.data import safe_pickle  # here: harness.data imports torch

        kwargs.pop("weights_only", None)
        if isinstance(f, str | os.PathLike) and zipfile.is_zipfile(f):
            kwargs.setdefault("mmap", True)  # the legacy (pre-1.6) format cannot be memory-mapped
        return safe_pickle.torch_load_benchmark(f, str(f), map_location=map_location, **kwargs)


@contextmanager
def _nb201_restricted_load() -> Iterator[None]:
    from nas_201_api import api_201, api_utils

    modules = (api_201, api_utils)
    originals = [module.torch for module in modules]
    for module in modules:
        module.torch = _TorchForNB201()
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.torch = original


def open_nb201(path: Path) -> Any:
    """``NASBench201API`` over a ``NAS-Bench-201-v1_*.pth`` file (needs tens of GB of RAM for the real files)."""
    from nas_201_api import NASBench201API

    with _nb201_restricted_load():
        return NASBench201API(str(path), verbose=False)


def _nats_pickle_load(file_path: Any, ext: str = ".pbz2") -> Any:
    """``nats_bench.api_utils.pickle_load`` (same file resolution), unpickling with the benchmark allow-list."""
    from harness.data import safe_pickle

    path = str(file_path) if os.path.isfile(str(file_path)) else str(file_path) + ext
    with bz2.BZ2File(path, "rb") as stream:
        return safe_pickle.load_benchmark(stream, path)


@contextmanager
def nats_restricted_load() -> Iterator[None]:
    """While open: every file ``nats_bench`` reads is unpickled by ``safe_pickle.load_benchmark``."""
    import nats_bench
    from nats_bench import api_size, api_topology, api_utils

    modules = [m for m in (api_utils, api_topology, api_size, nats_bench) if hasattr(m, "pickle_load")]
    originals = [m.pickle_load for m in modules]
    for module in modules:
        module.pickle_load = _nats_pickle_load
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.pickle_load = original


def open_nats(path: Path, family: str) -> Any:
    """``nats_bench`` API: fast mode over a ``-simple`` directory, full load for a single ``.pickle.pbz2`` file."""
    import nats_bench

    with nats_restricted_load():
        return nats_bench.create(str(path), family, fast_mode=path.is_dir(), verbose=False)


def archive_indices(directory: Path) -> list[int]:
    """Cells that have a per-cell file in a NATS ``-simple`` directory (the API loads them on demand)."""
    found = []
    for name in os.listdir(directory):
        match = _INDEX_FILE.match(name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def cell_file(directory: Path, index: int) -> Path:
    """The per-cell file of ``index`` in a NATS ``-simple`` directory, under either name the API accepts."""
    padded = directory / f"{index:06d}.pickle.pbz2"
    return padded if padded.exists() else directory / f"{index}.pickle.pbz2"


def check_order(meta_archs: Sequence[str], family: str, origin: str) -> None:
    """The benchmark's index order must be the harness's, or every lookup would be for another cell."""
    space = get_space(SPACE_OF_FAMILY[family])
    if len(meta_archs) != len(space):
        raise GroundTruthBroken(f"{origin} lists {len(meta_archs)} architectures, but {space.name} has {len(space)}")
    for i, arch in enumerate(meta_archs):
        if arch != space.arch(i):
            raise GroundTruthBroken(
                f"{origin}: architecture {i} is {arch!r} but {space.name} index {i} is {space.arch(i)!r}; "
                "the file is not in the official order"
            )


def evaluated(api: Any) -> list[int]:
    """Cells with results in an API object that loaded its whole file."""
    return sorted(int(i) for i in api.arch2infos_dict)


def extract_rows(api: Any, indices: Sequence[int], family: str, progress: str | None = None) -> dict[str, np.ndarray]:
    """Every accuracy/cost the API reports for ``indices``, as columns aligned with ``indices``.

    Columns: ``<dataset>/<split>/<epochs>ep/avg`` (``get_more_info(..., is_random=False)``: mean over all
    trial seeds), ``.../one`` (``is_random=<lowest seed>``: that single trial), ``nseeds/<dataset>/<epochs>ep``,
    ``seed/<dataset>/<epochs>ep`` (the seed behind ``one``), and ``params_m|flops_m|latency_ms/<dataset>`` from
    ``ArchResults.get_compute_costs`` under the full schedule. Missing values stay NaN. A record the official
    API itself cannot read is left out and counted in a ``failures`` column (present only when non-zero); a
    cell whose own archive file cannot be loaded is marked in a ``broken`` column (likewise).
    """
    n = len(indices)
    columns: dict[str, np.ndarray] = {}
    failures = np.zeros(n)
    broken = np.zeros(n)
    fast = bool(getattr(api, "fast_mode", False))
    rows = enumerate(indices)
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, total=n, desc=progress, unit="cell", disable=None)
    for row, index in rows:
        if fast and index not in api.arch2infos_dict:
            try:
                with nats_restricted_load():
                    api.reload(api.archive_dir, index)
            except Exception:  # noqa: BLE001 - a truncated/corrupt cell file fails anywhere in bz2, pickle or the API
                broken[row] = 1  # reported by the caller, per file; the other cells are still read
                continue
        for hp, results in api.arch2infos_dict[index].items():
            for dataset in results.get_dataset_names():
                if dataset not in SPLITS:
                    continue
                try:
                    record = _record(api, index, hp, results, dataset, int(hp) == FULL_EPOCHS[family])
                except (KeyError, ValueError, TypeError, ZeroDivisionError):
                    failures[row] += 1
                    continue
                for name, value in record.items():
                    if name not in columns:
                        columns[name] = np.full(n, np.nan)
                    columns[name][row] = value
        # Drop the cell's results once copied, so memory stays flat however large the benchmark is.
        del api.arch2infos_dict[index]
        if isinstance(api.evaluated_indexes, set):
            api.evaluated_indexes.discard(index)
    if failures.any():
        columns["failures"] = failures
    if broken.any():
        columns["broken"] = broken
    return columns


def _record(api: Any, index: int, hp: str, results: Any, dataset: str, costs: bool) -> dict[str, float]:
    """One (cell, schedule, dataset) record: accuracies of every split, seed facts, and costs if asked."""
    epochs = int(hp)
    seeds = sorted(int(s) for s in results.get_dataset_seeds(dataset))
    averaged = api.get_more_info(index, dataset, hp=hp, is_random=False)
    single = api.get_more_info(index, dataset, hp=hp, is_random=seeds[0])
    record: dict[str, Any] = {}
    for split in SPLITS[dataset]:
        key = f"{split}-accuracy"
        record[f"{dataset}/{split}/{epochs}ep/avg"] = averaged.get(key)
        record[f"{dataset}/{split}/{epochs}ep/one"] = single.get(key)
    record[f"nseeds/{dataset}/{epochs}ep"] = len(seeds)
    record[f"seed/{dataset}/{epochs}ep"] = seeds[0]
    if costs:
        info = results.get_compute_costs(dataset)
        latency = info.get("latency")
        record[f"params_m/{dataset}"] = info.get("params")
        record[f"flops_m/{dataset}"] = info.get("flops")
        record[f"latency_ms/{dataset}"] = None if latency is None else 1000.0 * latency
    return {name: float(value) for name, value in record.items() if value is not None}


def _archive_chunk(directory: str, family: str, indices: list[int]) -> dict[str, np.ndarray]:
    return extract_rows(open_nats(Path(directory), family), indices, family)


def extract_archive(directory: Path, family: str, indices: list[int], workers: int) -> dict[str, np.ndarray]:
    """Walk a NATS ``-simple`` directory, in parallel over chunks of cells (each file is a slow bz2 pickle)."""
    label = f"extracting {directory.name}"
    if workers <= 1 or len(indices) < _PARALLEL_MIN_CELLS:
        return extract_rows(open_nats(directory, family), indices, family, progress=label)
    chunks = [indices[i : i + _CHUNK] for i in range(0, len(indices), _CHUNK)]
    columns: dict[str, np.ndarray] = {}
    position = {index: row for row, index in enumerate(indices)}
    from tqdm import tqdm

    # Fork where available (as torch's DataLoader does): workers start at once, without re-importing torch.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = pool.map(_archive_chunk, [str(directory)] * len(chunks), [family] * len(chunks), chunks)
        for chunk, part in tqdm(zip(chunks, parts), total=len(chunks), desc=label, unit="chunk", disable=None):
            rows = np.array([position[i] for i in chunk])
            for name, values in part.items():
                if name not in columns:
                    columns[name] = np.full(len(indices), np.nan)
                columns[name][rows] = values
    return columns
