"""Shared fixtures. Tests that need the reference data skip with a clear reason when it is absent."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module whose timings or float results assume it; the previous count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def isolated_registries() -> Iterator[None]:
    """The test ends with the proxies, spaces and plugin files registered when it started: whatever it registered
    (a plugin, a temporary space) is dropped, and the plugin modules it imported are forgotten."""
    from harness import plugins
    from harness.proxies import base as proxy_base
    from harness.spaces import base as space_base

    proxies, spaces = set(proxy_base._REGISTRY), set(space_base._SPACES)
    loaded, entry_points = dict(plugins._LOADED), plugins._ENTRY_POINTS_LOADED
    yield
    for name in set(proxy_base._REGISTRY) - proxies:
        proxy_base.unregister_proxy(name)
    for name in set(space_base._SPACES) - spaces:
        space_base._SPACES.pop(name)
        space_base._INSTANCES.pop(name, None)
    for name in set(plugins._LOADED) - set(loaded):
        plugins._LOADED.pop(name)
        sys.modules.pop(name, None)
    plugins._ENTRY_POINTS_LOADED = entry_points


@pytest.fixture
def report_targets(monkeypatch: pytest.MonkeyPatch) -> list:
    """The ``TargetSpec`` each report built in the test ranks against, in order (the real loader still runs)."""
    from harness.report import build

    seen: list = []
    real = build.target_loader

    def spy(spec, data_dir=None):  # noqa: ANN001, ANN202
        seen.append(spec)
        return real(spec, data_dir)

    monkeypatch.setattr(build, "target_loader", spy)
    return seen
