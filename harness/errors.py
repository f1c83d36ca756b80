"""Exceptions the CLI turns into one clear error line (exit code 2) instead of a traceback."""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing error: bad input, missing files, refused database."""


class DataMissing(HarnessError, FileNotFoundError):
    """Required data (dataset, benchmark file, ground truth) was not found; the message says how to get it."""


MAX_SHOWN = 80  # characters of a user's input an error line repeats
MAX_LINE = 1000  # characters of an error line the CLI prints


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for an error line, cut to ``limit`` characters (saying how long it was): an error line
    stays one short line however long the input (a cell list of 10,000 items)."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def one_line(message: str, limit: int = MAX_LINE) -> str:
    """The first line of ``message``, at most ``limit`` characters."""
    first = message.splitlines()[0] if message else ""
    return first if len(first) <= limit else f"{first[:limit]}... (cut at {limit} characters)"
