"""A scoring study's report step: the report of its store with the study file's ``[analysis]`` settings.

The studies sit below the report in the house plan (docs/architecture.md), so a study run does not build its
report itself: the layers above it pass this step as the run's ``report`` (``harness.run_study`` and
``nasi-harness run`` do), e.g. ``harness.studies.run_study(study, report=build_study_report)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError
from harness.report.build import build_report

if TYPE_CHECKING:
    from harness.studies.spec import Study


def build_study_report(study: Study, store_path: Path, data_dir: str | os.PathLike | None) -> tuple[Path | None, str]:
    """Build the study's report with its [analysis] targets and pool aggregates; a failure is one line in the
    summary, not a crash. report.md names the study file as their source (they are given explicitly, which it
    would otherwise attribute to the command line)."""
    source = f"study file `{study.source}`'s [analysis]" if study.source is not None else "the study's [analysis]"
    try:
        a = study.analysis
        path = build_report(store_path, study.report_dir, study.name, data_dir, split=a.target, epochs=a.epochs,
                            aggregates=a.aggregates, builtin_aggregates=a.builtin_aggregates,
                            given_from=source)  # fmt: skip
    except (HarnessError, ValueError, FileNotFoundError) as exc:
        return None, f"not built: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return Path(path), ""
