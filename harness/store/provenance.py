"""Where and with what a result was computed: stored beside every row so a number can be traced back.

Computed in the process that scored (a Ray worker on another machine reports its own), without importing torch
when it is not loaded yet and without running git (the commit is read from ``.git`` directly).
"""

from __future__ import annotations

import functools
import platform
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from harness._version import __version__


@dataclass(frozen=True)
class Provenance:
    """The computing process: versions, host, its CPU and intra-op thread count (CPU scores depend on it: a
    reduction split over more threads adds in another order); a GPU's name comes with each record's device label."""

    harness_version: str
    git_commit: str
    torch_version: str
    host: str
    cpu: str
    threads: int | None = None  # None where torch is not loaded in the process

    def as_dict(self) -> dict[str, str | int | None]:
        return asdict(self)

    def columns(self, device_label: str) -> dict[str, str | int | None]:
        """The provenance columns of a row computed on ``device_label``."""
        return {
            "harness_version": self.harness_version,
            "git_commit": self.git_commit,
            "torch_version": self.torch_version,
            "threads": self.threads,
            "cpu": self.cpu,
            "device_name": device_name(device_label, self.cpu),
            "host": self.host,
        }


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the checkout the ``harness`` package was imported from; ``unknown`` for an installed copy."""
    start = Path(__file__).resolve().parent
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text().strip()
            if text.startswith("gitdir:"):
                dot_git = (folder / text.partition(":")[2].strip()).resolve()
        if dot_git.is_dir():
            return _read_head(dot_git)
    return "unknown"


def _read_head(git_dir: Path) -> str:
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return "unknown"
    if not head.startswith("ref:"):
        return head
    ref = head.partition(":")[2].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for base in (git_dir, common):
        ref_file = base / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    return "unknown"  # a branch with no commit yet


def torch_threads() -> int | None:
    """The intra-op thread count of this process's torch, or None when torch is not loaded."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def torch_version() -> str:
    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "absent"


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_name(device_label: str, cpu: str) -> str:
    """A readable name for the device a record was computed on (the engine labels GPUs ``cuda:<name>``)."""
    if device_label.startswith("cuda:"):
        return device_label.partition(":")[2]
    if device_label in ("", "cpu"):
        return cpu
    return device_label


def current() -> Provenance:
    """This process's provenance (call it where the scoring happens, e.g. inside a Ray worker)."""
    return Provenance(
        harness_version=__version__,
        git_commit=git_commit(),
        torch_version=torch_version(),
        host=socket.gethostname(),
        cpu=cpu_name(),
        threads=torch_threads(),
    )
