"""Studies: a TOML file describing a whole experiment, expanded into work units, run locally or on Ray,
stored in the results database, then analysed. ``load(path)`` returns a study of either kind (scoring or search),
each with ``plan()`` and ``run()``."""

from harness.studies.load import ScoringStudy, load
from harness.studies.runner import BACKENDS, RunSummary, run_study
from harness.studies.spec import AnalysisSpec, Study, StudyDocument, StudyError, load_study, parse_study
from harness.studies.units import Plan, Shard, make_plan

__all__ = [
    "BACKENDS",
    "AnalysisSpec",
    "Plan",
    "RunSummary",
    "ScoringStudy",
    "Shard",
    "Study",
    "StudyDocument",
    "StudyError",
    "load",
    "load_study",
    "make_plan",
    "parse_study",
    "run_study",
]
