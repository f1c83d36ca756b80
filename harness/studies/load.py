"""``load(path)``: read a study file once and return the study of its kind, each with ``plan()`` and ``run()``.

A file with a ``[search]`` section is a search study (NASI / sample-and-pick runs over datasets x seeds,
:class:`harness.studies.search_study.SearchStudy`); any other is a scoring study (cells x proxies x settings,
:class:`ScoringStudy` around :class:`harness.studies.spec.Study`). Callers (the CLI, a notebook) need not know
which: ``plan(...)`` answers ``lines()`` without running anything, and ``run(...)`` returns a summary with
``lines()``, ``interrupted`` and ``by_status``. Options only one kind has are refused by the other in one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.paths import data_dir_arg
from harness.studies.runner import RunSummary, run_study, without_rescored
from harness.studies.spec import Study, StudyDocument, parse_study
from harness.studies.units import Plan, make_plan

if TYPE_CHECKING:
    from harness.studies.search_study import SearchStudy


class StudySummary(Protocol):
    interrupted: bool

    @property
    def by_status(self) -> dict[str, int]: ...

    def lines(self) -> list[str]: ...


@dataclass(frozen=True)
class ScoringPlan:
    """A scoring study's plan against its store: what a run would score and skip."""

    plan: Plan
    store_path: Path

    def lines(self) -> list[str]:
        skips = [f"would skip {n} units {reason}" for reason, n in self.plan.not_applicable.items()]
        return [self.plan.describe(), *skips, f"store: {self.store_path}"]


@dataclass(frozen=True)
class ScoringStudy:
    """A scoring study file: ``spec`` is its validated :class:`Study`; ``run`` is :func:`run_study` on it."""

    spec: Study
    kind = "scoring"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def store_path(self) -> Path:
        return self.spec.store_path

    def plan(
        self,
        store: str | os.PathLike | None = None,
        *,
        device: str | None = None,
        stack: int | None = None,
        rescore: Sequence[str] = (),
        **ignored: Any,
    ) -> ScoringPlan:
        """Units done and to do in the store (``store`` overrides the study's); opens it read-only, runs nothing.

        Options that only shape how a run executes (backend, workers, data, ...) do not change the plan."""
        from harness.store import ResultStore

        store_path = Path(store) if store else self.spec.store_path
        done: set = set()
        if store_path.is_file():
            with ResultStore(store_path, readonly=True) as db:
                done = db.done_keys(self.spec.name, self.spec.space)
        return ScoringPlan(make_plan(self.spec, without_rescored(self.spec, done, rescore), device, stack), store_path)

    def run(
        self,
        store: str | os.PathLike | None = None,
        data_dir: str | os.PathLike | None = None,
        device: str | None = None,
        *,
        echo: Callable[[str], None] | None = None,
        **options: Any,
    ) -> RunSummary:
        """Score the units the store lacks (:func:`harness.studies.run_study`; ``echo`` is unused: scoring shows
        a progress bar instead of a line per unit). ``data=``: the deprecated spelling of ``data_dir``."""
        data = data_dir_arg(data_dir, options.pop("data", None), "run")
        return run_study(self.spec, store=store, data_dir=data, device=device, **options)


def load(path: str | os.PathLike) -> ScoringStudy | SearchStudy:
    """The study in the file at ``path``, of its kind; every problem is one ``StudyError`` line."""
    document = StudyDocument.read(path)
    if document.kind == "search":
        from harness.studies.search_study import parse_search_study  # lazy: search pulls torch

        return parse_search_study(document)
    return ScoringStudy(parse_study(document.tables, where=document.where, source=document.source))


def run(study: str | os.PathLike | Study | ScoringStudy | SearchStudy, **options: Any) -> StudySummary:
    """Load ``study`` when it is a path, then run it with ``options`` (those of its kind's ``run``)."""
    if isinstance(study, str | os.PathLike):
        study = load(study)
    elif isinstance(study, Study):
        study = ScoringStudy(study)
    return study.run(**options)
