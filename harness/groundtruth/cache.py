"""The compact on-disk extract of an official benchmark file, so the slow official API runs once per file.

An extract is one compressed ``.npz`` under ``harness.paths.cache_dir() / "groundtruth"`` (default
``~/.cache/nasi-harness/groundtruth/``; ``NASI_HARNESS_CACHE`` or ``XDG_CACHE_HOME`` move it). Its name holds a
hash of the source's identity (resolved path, size, modification time), so replacing or updating the source
file makes a fresh extract; old ones can simply be deleted. Arrays are read lazily, one column per request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.paths import cache_dir

# Bump when the extract layout or the extraction rules change: old extracts are then ignored.
CACHE_FORMAT = 1
_META = "__meta__"
_INDEX = "__index__"


@dataclass
class Extract:
    """Per-cell columns (aligned with ``index``) plus metadata describing where they came from."""

    index: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def identity(path: Path) -> str:
    """A string that changes when the file (or, for a directory, its listing or meta file) changes."""
    path = path.resolve()
    st = path.stat()
    parts = [str(path), str(st.st_size), str(st.st_mtime_ns)]
    if path.is_dir():
        names = os.listdir(path)
        parts.append(str(len(names)))
        meta = path / "meta.pickle.pbz2"
        if meta.exists():
            mst = meta.stat()
            parts += [str(mst.st_size), str(mst.st_mtime_ns)]
    return "|".join(parts)


def cache_file(source: Path, stem: str) -> Path:
    """Where the extract of ``source`` lives."""
    digest = hashlib.sha1(f"{CACHE_FORMAT}|{identity(source)}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    return cache_dir() / "groundtruth" / f"{safe}-{digest}.npz"


def save(extract: Extract, path: Path) -> None:
    """Write atomically so a concurrent reader never sees half a file."""
    arrays = {_INDEX: np.asarray(extract.index, dtype=np.int64), _META: np.array(json.dumps(extract.meta))}
    arrays.update(extract.columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the extract holds nothing secret
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class CachedExtract:
    """A lazily read extract: the index and metadata at once, each column only when asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with np.load(path, allow_pickle=False) as npz:
            self.index = npz[_INDEX]
            self.meta = json.loads(str(npz[_META]))
            self.names = frozenset(n for n in npz.files if n not in (_INDEX, _META))

    def column(self, name: str) -> np.ndarray | None:
        if name not in self.names:
            return None
        with np.load(self.path, allow_pickle=False) as npz:
            return npz[name]


def open_cached(path: Path) -> CachedExtract | None:
    """The extract at ``path``, or None when it is absent, unreadable or of another format."""
    if not path.exists():
        return None
    try:
        cached = CachedExtract(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    return cached if cached.meta.get("format") == CACHE_FORMAT else None
