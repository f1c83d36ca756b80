"""Exceptions the CLI turns into one clear error line (exit code 2) instead of a traceback."""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing error: bad input, missing files, refused database."""


class DataMissing(HarnessError, FileNotFoundError):
    """Required data (dataset, benchmark file, ground truth) was not found; the message says how to get it."""
