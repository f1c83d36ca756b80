"""Where the harness looks for user-supplied data (benchmark files, ground truth, datasets).

One rule for every module: an explicit ``--data-dir DIR`` wins, then ``NASI_HARNESS_DATA``, then
``$TORCH_HOME`` and ``~/.torch`` (where the official NAS-Bench APIs put their files by default).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "NASI_HARNESS_DATA"


def data_roots(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Candidate data roots, most specific first; only existing directories are returned."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        if os.environ.get("TORCH_HOME"):
            candidates.append(Path(os.environ["TORCH_HOME"]))
        candidates.append(Path.home() / ".torch")
    return [p.expanduser() for p in candidates if p.expanduser().is_dir()]


def data_dir_arg(
    data_dir: str | os.PathLike | None, data: str | os.PathLike | None, where: str
) -> str | os.PathLike | None:
    """The data folder a public function was given: ``data_dir=``, or ``data=``, its deprecated spelling (with a
    ``DeprecationWarning``; a record's ``data`` is a data mode, so a folder is never called that)."""
    if data is None:
        return data_dir
    if data_dir is not None:
        raise TypeError(f"{where}() got data_dir= and data=; data= is the deprecated spelling of data_dir=")
    warnings.warn(f"{where}(data=...) is deprecated; the data folder is data_dir=", DeprecationWarning, stacklevel=3)
    return data


def describe_roots(explicit: str | os.PathLike | None = None) -> str:
    """Human-readable description of where data is looked for (for error messages)."""
    if explicit:
        return f"--data-dir {explicit}"
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}={os.environ[ENV_VAR]}"
    torch_home = os.environ.get("TORCH_HOME")
    where = f"$TORCH_HOME={torch_home} and ~/.torch" if torch_home else "~/.torch"
    return f"{where} (set --data-dir DIR or ${ENV_VAR} to point elsewhere)"


def find(relative: str, explicit: str | os.PathLike | None = None) -> Path | None:
    """First existing ``root/relative`` over the data roots, or None."""
    for root in data_roots(explicit):
        path = root / relative
        if path.exists():
            return path
    return None


def cache_dir() -> Path:
    """Directory for derived, re-creatable files (ground-truth extracts). ``NASI_HARNESS_CACHE`` overrides."""
    base = os.environ.get("NASI_HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "nasi-harness"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class SourceStatus:
    """One line of ``nasi-harness data check``: a file or dataset the harness can use, and whether it was found."""

    kind: str  # "benchmark", "ground-truth", "dataset"
    name: str
    found: bool
    path: str | None
    detail: str  # what was found (version, split) or what was looked for where
    how_to_obtain: str
    problem: str | None = None  # a found source whose contents are wrong: what is wrong (data check exits 1)
