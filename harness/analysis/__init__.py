"""Analyses of stored scores: correlation with accuracy, proxy comparison and agreement, data/label agnosticism.

Every function takes a results DataFrame (``harness.load_results``) and, where accuracy is needed, a
target (an accuracy Series or a ``(space, dataset) -> Series`` loader), so that it runs without a store or
benchmark files in tests, and returns an ``AnalysisResult`` (table, notes, target provenance, method;
``.to_frame()``). Intervals are seeded percentile bootstraps over cells (``harness.analysis.bootstrap``); a scoring
seed is part of a setting, and ``harness.analysis.seeds`` summarises a setting over its seeds (``.to_frame("seeds")``).
"""

from harness.analysis.agnostic import Thresholds, agnosticism, claim
from harness.analysis.agreement import agreement_matrix, score_agreement
from harness.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_correlations, percentile_interval
from harness.analysis.compare import compare, ensemble_name, rank_ensemble
from harness.analysis.correlation import correlate, precision_curve
from harness.analysis.inputs import load_scores
from harness.analysis.result import AnalysisResult
from harness.analysis.target import TargetSpec, describe, target_loader

__all__ = [
    "AnalysisResult",
    "DEFAULT_LEVEL",
    "DEFAULT_RESAMPLES",
    "TargetSpec",
    "Thresholds",
    "agnosticism",
    "agreement_matrix",
    "bootstrap_correlations",
    "claim",
    "compare",
    "correlate",
    "describe",
    "ensemble_name",
    "load_scores",
    "percentile_interval",
    "precision_curve",
    "rank_ensemble",
    "score_agreement",
    "target_loader",
]
