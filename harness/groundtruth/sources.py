"""Every ground-truth source the harness knows, how to find it under a data root, and how to read it.

Sources are tried in this order, complete ones before partial ones: NATS-Bench ``-simple`` archive,
NATS-Bench single ``.pickle.pbz2`` file, NAS-Bench-201 ``v1_1`` then ``v1_0`` ``.pth``, then the CSV tables.
Each is looked for at ``ROOT/<name>`` and one folder down (``ROOT/*/<name>``) in every data root.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.groundtruth import cache, integrity, official
from harness.groundtruth.errors import GroundTruthBroken
from harness.groundtruth.spec import FULL_EPOCHS, SPACE_OF_FAMILY, Request
from harness.groundtruth.tables import TABLES, CsvTable, read_column
from harness.spaces import get_space

NATS_URL = "https://github.com/D-X-Y/NATS-Bench"
NB201_URL = "https://github.com/D-X-Y/NAS-Bench-201"
_NATS_VERSION = {"tss": "NATS-tss-v1_0-3ffb9", "sss": "NATS-sss-v1_0-50262"}
_NB201_VERSIONS = ("NAS-Bench-201-v1_1-096897", "NAS-Bench-201-v1_0-e61699")
SOURCE_KINDS = ("nats-bench", "nas-bench-201", "csv")


@dataclass(frozen=True)
class Candidate:
    """A file or folder that may hold ground truth, under its official name."""

    family: str  # "tss" | "sss"
    relative: str
    kind: str  # one of SOURCE_KINDS
    label: str
    version: str
    how_to_obtain: str
    table: CsvTable | None = None

    def locate(self, roots: list[Path]) -> Path | None:
        for root in roots:
            if root.name == self.relative:  # the data root is the archive folder itself
                return root
            direct = root / self.relative
            if direct.exists():
                return direct
            nested = sorted(root.glob(f"*/{self.relative}"))
            if nested:
                return nested[0]
        return None


def _nats_candidates(family: str) -> list[Candidate]:
    version = _NATS_VERSION[family]
    what = {"tss": "topology", "sss": "size"}[family]
    return [
        Candidate(
            family,
            f"{version}-simple",
            "nats-bench",
            f"NATS-Bench {what} archive (fast mode)",
            version,
            f"download {version}-simple.tar (Google Drive link in {NATS_URL}) and run "
            f"`tar xf {version}-simple.tar -C DATA_ROOT`",
        ),
        Candidate(
            family,
            f"{version}.pickle.pbz2",
            "nats-bench",
            f"NATS-Bench {what} benchmark file",
            version,
            f"download {version}.pickle.pbz2 (Google Drive link in {NATS_URL}) into DATA_ROOT "
            "(the -simple archive extracts faster)",
        ),
    ]


def _nb201_candidates() -> list[Candidate]:
    return [
        Candidate(
            "tss",
            f"{version}.pth",
            "nas-bench-201",
            f"NAS-Bench-201 benchmark file {version.split('-')[3].replace('_', '.')}",
            version,
            f"download {version}.pth (Google Drive link in {NB201_URL}) into DATA_ROOT; the first read needs "
            "tens of GB of RAM, later reads use the cache",
        )
        for version in _NB201_VERSIONS
    ]


def _csv_candidates() -> list[Candidate]:
    return [
        Candidate(
            "tss",
            f"nb201/{table.file}",
            "csv",
            f"CSV table {table.file}",
            table.file.removesuffix(".csv"),
            "place the reference data's nb201/ folder (or a table in its layout) in DATA_ROOT, e.g. "
            "--data-dir ../shared/data",
            table,
        )
        for table in TABLES
    ]


CANDIDATES: tuple[Candidate, ...] = tuple(
    _nats_candidates("tss") + _nb201_candidates() + _csv_candidates() + _nats_candidates("sss")
)


def how_to_obtain(family: str) -> str:
    """The one-sentence download advice for a missing ground truth."""
    nats = f"get {_NATS_VERSION[family]}-simple.tar from NATS-Bench ({NATS_URL}) and untar it into the data root"
    if family == "tss":
        return f"{nats}, or NAS-Bench-201-v1_1-096897.pth from NAS-Bench-201 ({NB201_URL})"
    return nats


class Source:
    """A candidate found on disk."""

    def __init__(self, candidate: Candidate, path: Path) -> None:
        self.candidate = candidate
        self.path = path

    @property
    def space(self) -> str:
        return SPACE_OF_FAMILY[self.candidate.family]

    @property
    def complete(self) -> bool:
        """False only when the source is known to lack cells (a partial ``-simple`` archive)."""
        return True

    def summary(self) -> str:
        return self.candidate.label

    def accuracy(self, request: Request, cells: Sequence[int] | None = None) -> pd.Series | str:
        """The requested accuracies with provenance in ``.attrs``, or the reason this source has none;
        ``GroundTruthBroken`` when the source is present but wrong (for ``cells``, or any cell when None)."""
        raise NotImplementedError

    def costs(self, dataset: str) -> pd.DataFrame | str:
        return "no params/FLOPs/latency in this source"

    def _provenance(self, request: Request, cells: int, seeds: str, **extra: Any) -> dict[str, Any]:
        return {
            "source": self.candidate.label,
            "file": str(self.path),
            "version": self.candidate.version,
            "space": request.space,
            "dataset": request.dataset,
            "split": request.split,
            "split_meaning": request.meaning,
            "epochs": request.epochs,
            "seeds": seeds,
            "cells": f"{cells} of {len(get_space(request.space))}",
            **extra,
        }


class OfficialSource(Source):
    """A NATS-Bench archive/file or NAS-Bench-201 ``.pth``, read through its API once and then from the cache."""

    @cached_property
    def archive_cells(self) -> list[int] | None:
        return official.archive_indices(self.path) if self.path.is_dir() else None

    @property
    def complete(self) -> bool:
        cells = self.archive_cells
        return cells is None or len(cells) == len(get_space(self.space))

    def summary(self) -> str:
        text = self.candidate.label
        if self.archive_cells is not None:
            text += f": {len(self.archive_cells)} of {len(get_space(self.space))} cells"
        cached = self.cache_path
        return text + (f"; extracted to {cached}" if cached.exists() else "; not extracted yet (first use)")

    @property
    def cache_path(self) -> Path:
        return cache.cache_file(self.path, self.path.name)

    def extract(self) -> cache.CachedExtract:
        """The cached extract, building it through the official API when absent."""
        target = self.cache_path
        cached = cache.open_cached(target)
        if cached is not None and _broken_changed(self.path, cached.meta):
            cached = None  # a broken cell file was replaced: read the archive again
        if cached is None:
            extract = self._build()
            try:
                cache.save(extract, target)
            except OSError as exc:
                raise HarnessError(
                    f"cannot write the ground-truth cache {target} ({exc.strerror or exc}); "
                    "set NASI_HARNESS_CACHE to a writable folder"
                ) from exc
            cached = cache.open_cached(target)
            if cached is None:
                raise HarnessError(f"could not read back the ground-truth cache {target}")
        return cached

    def _build(self) -> cache.Extract:
        family = self.candidate.family
        origin = str(self.path)
        integrity.verify(self.path)  # before anything unpickles it
        try:
            if self.candidate.kind == "nas-bench-201":
                api = official.open_nb201(self.path)
            else:
                api = official.open_nats(self.path, family)
        except (MemoryError, HarnessError):  # HarnessError: a file refused by the restricted unpickler, named
            raise
        except Exception as exc:  # the official loaders fail with anything from AssertionError to UnpicklingError
            raise GroundTruthBroken(
                f"cannot read {origin} through the official API ({type(exc).__name__}: {exc}); the file may be "
                f"incomplete or not the official one: {self.candidate.how_to_obtain}"
            ) from exc
        official.check_order(api.meta_archs, family, origin)
        if self.archive_cells is not None:
            index = self.archive_cells
            del api
            columns = official.extract_archive(self.path, family, index, workers=_workers())
        else:
            index = official.evaluated(api)
            columns = official.extract_rows(api, index, family, progress=f"extracting {self.path.name}")
        broken = columns.pop("broken", None)
        broken_files = [] if broken is None else _broken_files(self.path, np.asarray(index)[broken > 0])
        failures = columns.pop("failures", None)
        unreadable = 0 if failures is None else int(failures.sum())
        if unreadable:
            warnings.warn(
                f"{origin}: the official API could not read {unreadable} (cell, schedule, dataset) records "
                f"of {int((failures > 0).sum())} cells; they are left out of the ground truth",
                stacklevel=3,
            )
        meta = {
            "format": cache.CACHE_FORMAT,
            "file": origin,
            "version": self.candidate.version,
            "api": _api_version(self.candidate.kind),
            "unreadable_records": unreadable,
            "broken_files": broken_files,
        }
        return cache.Extract(np.asarray(index, dtype=np.int64), columns, meta)

    def check_cells(self, extract: cache.CachedExtract, cells: Sequence[int] | None) -> None:
        """``GroundTruthBroken`` naming the first unreadable cell file among ``cells`` (any, when None)."""
        wanted = None if cells is None else {int(c) for c in cells}
        broken = [b for b in extract.meta.get("broken_files", []) if wanted is None or b["cell"] in wanted]
        if broken:
            more = f" (and {len(broken) - 1} more cell files)" if len(broken) > 1 else ""
            raise GroundTruthBroken(
                f"{self.path / broken[0]['name']}: cannot be read ({broken[0]['error']}){more}; cell "
                f"{broken[0]['cell']} has no ground truth until the file is replaced: {self.candidate.how_to_obtain}"
            )

    def accuracy(self, request: Request, cells: Sequence[int] | None = None) -> pd.Series | str:
        extract = self.extract()
        self.check_cells(extract, cells)
        values = extract.column(request.column)
        if values is None or np.isnan(values).all():
            return f"has no {request.label} ({'seed-averaged' if request.seed_avg else 'one seed'})"
        keep = ~np.isnan(values)
        series = pd.Series(values[keep], index=pd.Index(extract.index[keep], name="index"), name=request.label)
        tag = f"{request.dataset}/{request.epochs}ep"
        if request.seed_avg:
            counts = extract.column(f"nseeds/{tag}")
            seeds = _averaged(counts[keep]) if counts is not None else "averaged over all trial seeds"
        else:
            used = extract.column(f"seed/{tag}")
            seeds = _single(used[keep]) if used is not None else "one seed"
        series.attrs["provenance"] = self._provenance(
            request,
            int(keep.sum()),
            seeds,
            api=extract.meta.get("api"),
            cache=str(extract.path),
        )
        return series

    def costs(self, dataset: str) -> pd.DataFrame | str:
        extract = self.extract()
        self.check_cells(extract, None)
        names = {
            "params_m": f"params_m/{dataset}",
            "flops_m": f"flops_m/{dataset}",
            "latency_ms": f"latency_ms/{dataset}",
        }
        columns = {out: extract.column(name) for out, name in names.items()}
        if columns["params_m"] is None or np.isnan(columns["params_m"]).all():
            return f"has no costs for {dataset}"
        n = len(extract.index)
        data = {k: (v if v is not None else np.full(n, np.nan)) for k, v in columns.items()}
        frame = pd.DataFrame(data, index=pd.Index(extract.index, name="index"))
        frame = frame[frame["params_m"].notna()]
        frame.attrs["provenance"] = {
            "source": self.candidate.label,
            "file": str(self.path),
            "version": self.candidate.version,
            "space": self.space,
            "dataset": dataset,
            "epochs": FULL_EPOCHS[self.candidate.family],
            "note": "get_compute_costs: params/FLOPs in millions, latency = mean over trials (seconds x 1000)",
            "cells": f"{len(frame)} of {len(get_space(self.space))}",
            "cache": str(extract.path),
        }
        return frame


class CsvSource(Source):
    """A CSV table read directly (it is small enough that no cache is needed)."""

    @property
    def table(self) -> CsvTable:
        assert self.candidate.table is not None
        return self.candidate.table

    def summary(self) -> str:
        return self.table.summary()

    def accuracy(self, request: Request, cells: Sequence[int] | None = None) -> pd.Series | str:
        table = self.table
        if not table.holds(request.dataset, request.split, request.epochs):
            return f"has no {request.label}"
        if table.seed_avg != request.seed_avg:
            if table.seed_avg:
                return f"holds seed-averaged {request.label} only; pass seed_avg=True"
            return f"holds one random seed per cell for {request.label}; pass seed_avg=False to use it"
        series = read_column(table, self.path, (request.dataset, request.split, request.epochs))
        series = series[series.notna()].rename(request.label)
        seeds = "averaged over all trial seeds of each cell" if table.seed_avg else "one seed (random trial per cell)"
        series.attrs["provenance"] = self._provenance(request, len(series), seeds, origin=table.origin, cache=None)
        return series


_NOT_A_RECORD = "decompresses, but is not a cell record the official API reads"


def _broken_files(directory: Path, cells: np.ndarray) -> list[dict[str, Any]]:
    """What ``data check`` and a lookup report for each unreadable cell file, with its stamp (to notice a fix)."""
    out = []
    for cell in (int(c) for c in cells):
        path = official.cell_file(directory, cell)
        error = integrity.archive_file_problem(path) or _NOT_A_RECORD
        out.append({"cell": cell, "name": path.name, "error": error, **_stamp(path)})
    return out


def _stamp(path: Path) -> dict[str, int]:
    try:
        st = path.stat()
    except OSError:
        return {"size": -1, "mtime_ns": -1}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _broken_changed(directory: Path, meta: dict) -> bool:
    return any(
        _stamp(directory / b["name"]) != {"size": b["size"], "mtime_ns": b["mtime_ns"]}
        for b in meta.get("broken_files", [])
    )


def _averaged(counts: np.ndarray) -> str:
    low, high = int(np.nanmin(counts)), int(np.nanmax(counts))
    if low == high:
        return f"averaged over {low} seed{'s' if low != 1 else ''}"
    return f"averaged over {low}-{high} seeds per cell"


def _single(seeds: np.ndarray) -> str:
    distinct = sorted({int(s) for s in seeds})
    if len(distinct) == 1:
        return f"one seed ({distinct[0]})"
    return "one seed (the lowest-numbered trial of each cell)"


def _api_version(kind: str) -> str:
    if kind == "nas-bench-201":
        import nas_201_api

        return f"nas_201_api {nas_201_api.NAS_BENCH_201_API_VERSION}"
    import nats_bench

    return f"nats_bench {nats_bench.version()}"


def _workers() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


def source_for(candidate: Candidate, path: Path) -> Source:
    return CsvSource(candidate, path) if candidate.kind == "csv" else OfficialSource(candidate, path)


def found_sources(family: str, roots: list[Path], kind: str | None = None) -> list[Source]:
    """The sources present for ``family``, best first: complete before partial, official before CSV."""
    sources: list[Source] = []
    for candidate in CANDIDATES:
        if candidate.family != family or (kind is not None and candidate.kind != kind):
            continue
        path = candidate.locate(roots)
        if path is not None:
            sources.append(source_for(candidate, path))
    return sorted(sources, key=lambda s: not s.complete)  # stable: keeps the preference order otherwise
