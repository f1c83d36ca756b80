"""The one record schema every scoring path produces (engine, CLI CSV, results database)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from harness.proxies.status import DEGENERATE, NAN, OK, error_status

RECORD_FIELDS = (
    "index",
    "arch",
    "proxy",
    "dataset",
    "data",
    "labels",
    "batch_size",
    "seed",
    "score",
    "status",
    "seconds",
    "peak_mem_mb",
    "device",
    "protocol",
)

# Statuses: "ok"; "degenerate" (the cell ignores its input; the score is kept when finite so analyses can
# include or exclude such cells); "nan" (the proxy gave NaN/inf: no score); "error: <message>" (no score);
# "timeout" (a study run's unit_timeout stopped it: no score; harness.store.schema has the vocabulary).
# The first four are defined with the proxies (harness.proxies.status), whose calls they classify; re-exported here.
TIMEOUT = "timeout"
__all__ = ["DEGENERATE", "NAN", "OK", "RECORD_FIELDS", "TIMEOUT", "ScoreRecord", "error_status"]


@dataclass
class ScoreRecord:
    index: int
    arch: str
    proxy: str
    dataset: str
    data: str
    labels: str
    batch_size: int
    seed: int
    score: float | None
    status: str
    seconds: float
    peak_mem_mb: float | None
    device: str
    protocol: str = "harness"  # harness.proxies.protocol: "paper" rows hold the settings the proxy's code uses

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def finished(self) -> bool:
        """Errors and timeouts may be retried by a rerun; every other status is final."""
        return not (self.status.startswith("error") or self.status == TIMEOUT)
