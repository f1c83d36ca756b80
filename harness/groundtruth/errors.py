"""The ground-truth error the CLI prints as one line."""

from __future__ import annotations

from harness.errors import DataMissing


class GroundTruthMissing(DataMissing):
    """No source under the data roots holds the requested accuracies; the message says where it looked and how
    to obtain one."""
