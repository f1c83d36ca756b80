"""Which analysis settings a report uses: those given, else the study's stored ``[analysis]``, else the defaults.

``nasi-harness run`` stores each study's validated configuration, its ``[analysis]`` section included, in the
store's ``studies`` table (``ResultStore.record_study``). ``report STORE --study NAME`` reads it back so that the
report rebuilt later ranks against the same ground truth and adds the same pool aggregates as the study's own,
without the user retyping them; anything given explicitly still wins. A CSV/Parquet export keeps no configuration,
so it gets the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.inputs import Sources, source_paths
from harness.store.tables import is_table

DEFAULT_SPLIT = "test"
# [analysis] key in the stored configuration -> the setting (build_report's argument) it fills.
STORED_KEYS = {
    "target": "split",
    "epochs": "epochs",
    "aggregates": "aggregates",
    "builtin_aggregates": "builtin_aggregates",
}
# Settings whose None in a study's [analysis] is a value, not an absence: epochs left out = the full schedule.
STUDY_NULLABLE = ("epochs",)
GIVEN, STUDY, DEFAULT = "given", "study", "default"


def study_analysis_defaults(sources: Sources, study: str | None) -> dict[str, Any] | None:
    """The stored ``[analysis]`` settings of ``study`` as ``{split, epochs, aggregates, builtin_aggregates}``
    (only those stored: a store written before pool aggregates lacks their keys; a null epochs is the space's
    full schedule), from the first store among ``sources`` that recorded the study. None without a study, for
    CSV/Parquet exports (they keep no configuration) and for a study whose configuration no store recorded (e.g.
    rows filed by ``merge``)."""
    if study is None:
        return None
    from harness.store import ResultStore

    for path in source_paths(sources):
        if is_table(path) or not Path(path).is_file():
            continue  # a missing file is load_scores's error to report
        with ResultStore(path, readonly=True) as store:
            if "config" not in store.table_columns("studies"):
                continue
            config = store.study_config(study)
        analysis = config.get("analysis") if isinstance(config, dict) else None
        if isinstance(analysis, dict):
            return {setting: _stored(key, analysis[key]) for key, setting in STORED_KEYS.items() if key in analysis}
    return None


def _stored(key: str, value: Any) -> Any:
    """A stored value as build_report takes it (JSON gives lists for tuples)."""
    return tuple(str(v) for v in value) if key == "aggregates" else value


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings a report uses and, for each, where it came from (``given``, ``study`` or ``default``);
    ``given_from`` names what gave the given ones (None: the command line or the caller's arguments)."""

    split: str
    epochs: int | None
    aggregates: tuple[str, ...]
    builtin_aggregates: bool
    origins: dict[str, str] = field(default_factory=dict)
    study: str | None = None
    stored: bool = False  # whether the study's configuration was found in the sources
    given_from: str | None = None

    def describe(self, spaces: Sequence[str] = ()) -> str:
        """One Markdown line for report.md: each setting grouped by where it came from. ``spaces``: those of the
        rows reported, so that the full schedule (epochs None) is also given as its number of epochs."""
        text = {
            "split": f"target {self.split} accuracy",
            "epochs": full_schedule(spaces) if self.epochs is None else f"{self.epochs} epochs",
            "aggregates": (
                "aggregates " + ", ".join(f"`{a}`" for a in self.aggregates)
                if self.aggregates
                else "no user aggregates"
            ),
            "builtin_aggregates": "built-in pool aggregates " + ("included" if self.builtin_aggregates else "left out"),
        }
        labels = {
            GIVEN: "given (command line or arguments)" if self.given_from is None else f"from {self.given_from}",
            STUDY: f"from study `{self.study}`'s stored [analysis]",
            DEFAULT: "default",
        }
        groups = []
        for origin in (GIVEN, STUDY, DEFAULT):
            chosen = [text[s] for s in text if self.origins.get(s, DEFAULT) == origin]
            if chosen:
                groups.append(f"{labels[origin]}: {', '.join(chosen)}")
        line = "**Analysis settings:** " + "; ".join(groups) + "."
        if self.study is not None and not self.stored:
            line += f" Study `{self.study}` has no stored configuration in these sources."
        return line


def full_schedule(spaces: Sequence[str] = ()) -> str:
    """'the space's full training schedule', with its number of epochs for the benchmark spaces among ``spaces``
    (the reader should not have to know that it is 200 for nb201 and 90 for nats-sss)."""
    from harness.groundtruth.spec import FAMILIES, FULL_EPOCHS

    known = {space: FULL_EPOCHS[FAMILIES[space]] for space in dict.fromkeys(spaces) if space in FAMILIES}
    if not known:
        return "the space's full training schedule"
    if len(known) == 1:
        return f"the space's full training schedule ({next(iter(known.values()))} epochs)"
    return "each space's full training schedule (" + ", ".join(f"{s}: {n} epochs" for s, n in known.items()) + ")"


def resolve_settings(
    sources: Sources,
    study: str | None = None,
    *,
    split: str | None = None,
    epochs: int | None = None,
    aggregates: Sequence[str] | None = None,
    builtin_aggregates: bool | None = None,
    given_from: str | None = None,
) -> AnalysisSettings:
    """Each setting: given (not None) wins, then the study's stored ``[analysis]`` value, then the default
    (test accuracy, the space's full schedule, no user aggregates, the built-ins included). Given ``aggregates``
    replace the study's list rather than extend it, so a user can also ask for none (``()``).

    ``given_from``: what the given settings are, for report.md (e.g. "study file `x.toml`'s [analysis]", as the
    study runner passes them); they are then a whole study [analysis], so a given epochs of None is its value (the
    full schedule), as a stored null is, rather than "not given"."""
    stored = study_analysis_defaults(sources, study)
    given = {"split": split, "epochs": epochs, "aggregates": aggregates, "builtin_aggregates": builtin_aggregates}
    defaults: dict[str, Any] = {"split": DEFAULT_SPLIT, "epochs": None, "aggregates": (), "builtin_aggregates": True}
    values, origins = {}, {}
    for name, value in given.items():
        if value is not None or (given_from is not None and name in STUDY_NULLABLE):
            values[name], origins[name] = value, GIVEN
        elif stored and name in stored and (stored[name] is not None or name in STUDY_NULLABLE):
            values[name], origins[name] = stored[name], STUDY
        else:
            values[name], origins[name] = defaults[name], DEFAULT
    return AnalysisSettings(
        split=str(values["split"]),
        epochs=values["epochs"],
        aggregates=tuple(values["aggregates"]),
        builtin_aggregates=bool(values["builtin_aggregates"]),
        origins=origins,
        study=study,
        stored=stored is not None,
        given_from=given_from,
    )
