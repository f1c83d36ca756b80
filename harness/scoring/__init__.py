"""Scoring: cells x proxies -> records, on CPU or GPU."""

from harness.scoring.allocator import request_huge_pages

request_huge_pages()  # before any tensor of this process exists, where possible (allocator.py says why)

from harness.scoring.device import resolve_device  # noqa: E402
from harness.scoring.engine import score_cells  # noqa: E402
from harness.scoring.records import RECORD_FIELDS, ScoreRecord  # noqa: E402

__all__ = ["RECORD_FIELDS", "ScoreRecord", "resolve_device", "score_cells"]
