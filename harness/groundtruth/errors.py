"""The ground-truth errors the CLI prints as one line."""

from __future__ import annotations

from harness.errors import DataMissing, HarnessError


class GroundTruthMissing(DataMissing):
    """No source under the data roots holds the requested accuracies; the message says where it looked and how
    to obtain one."""


class GroundTruthBroken(HarnessError):
    """A ground-truth source is present but wrong (columns, rows, values, unreadable, checksum): the message names
    the file and the problem. Deliberately neither ``DataMissing`` nor ``ValueError``, so no caller mistakes it
    for an absent source and silently falls back to another one."""
