"""NASI traces on disk: one JSON file per setting and seed (``benchmarks/scripts/nasi_traces.py`` writes them to
``results/search/raw``), named from the settings that change what the trace samples, read back as a
:class:`~harness.search.nasi.NasiTrace` beside the file's other fields (dataset, seed, config, device, ...)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.search.nasi import NasiConfig, NasiTrace


def trace_name(config: NasiConfig, dataset: str, seed: int | str) -> str:
    """The file name of ``config``'s trace on ``dataset`` for ``seed`` (``seed="*"``: a glob over the seeds).

    Variant, steps, nu and mu are read off a trace afterwards (``select``), so they are not in the name;
    ``none_op="not-derived"`` samples as "candidate" does and shares its trace."""
    tag = f"c{config.channels}n{config.cells_per_stage}b{config.batch_size}_{config.data_mode}_{config.label_mode}"
    if not config.cell_bn_affine:
        tag += "_noaffine"
    if config.none_op == "excluded":
        tag += "_nonone"
    return f"nasi_trace_{dataset}_{tag}_seed{seed}.json"


def trace_path(folder: Path, config: NasiConfig, dataset: str, seed: int) -> Path:
    return Path(folder) / trace_name(config, dataset, seed)


def trace_paths(folder: Path, pattern: str) -> list[Path]:
    """The trace files in ``folder`` matching ``pattern`` (e.g. ``trace_name(config, dataset, "*")``), in seed order
    (seed10 sorts after seed9, not before seed2)."""
    return sorted(Path(folder).glob(pattern), key=lambda p: int(p.stem.rsplit("seed", 1)[1]))


def read_trace(path: Path) -> tuple[dict, NasiTrace]:
    """The file's fields (``dataset``, ``seed``, ``config``, ``device``, ...) and its trace."""
    doc = json.loads(Path(path).read_text())
    return doc, NasiTrace(**doc["trace"])
