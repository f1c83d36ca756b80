"""Shared fixtures. Tests that need the reference data skip with a clear reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)  # the CI machine has 2 cores; one thread per process is faster and steadier


def _shared_data() -> Path | None:
    env = os.environ.get("NASI_HARNESS_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "nb201").is_dir():
            return path.resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data directory (../shared/data or $NASI_HARNESS_DATA); skips when absent."""
    path = _shared_data()
    if path is None:
        pytest.skip("reference data not found: set NASI_HARNESS_DATA or place it at ../shared/data")
    return path


@pytest.fixture(autouse=True)
def _small_torch() -> None:
    """Keep tests deterministic and light on the 2-core CI machine."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch) -> None:
    """Ground-truth extracts go to a per-session temporary cache, never the user's ~/.cache."""
    monkeypatch.setenv("NASI_HARNESS_CACHE", str(tmp_path_factory.getbasetemp() / "nasi-cache"))
