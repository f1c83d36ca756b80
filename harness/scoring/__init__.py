"""Scoring: cells x proxies -> records, on CPU or GPU."""

from harness.scoring.cells import SPEC_FORM, parse_cells
from harness.scoring.device import resolve_device
from harness.scoring.engine import score_cells
from harness.scoring.records import RECORD_FIELDS, ScoreRecord

__all__ = ["RECORD_FIELDS", "SPEC_FORM", "ScoreRecord", "parse_cells", "resolve_device", "score_cells"]
