"""Search study files: a ``[search]`` section declares NASI or sample-and-pick runs over datasets and seeds.

``nasi-harness run FILE`` executes them into the study's results database (the ``search_runs`` table of the same
store scoring studies use), one transaction per finished run, and skips every run already stored with the same
algorithm, dataset, seed and settings, so a killed study resumes where it stopped (a run cut short is redone).

    [study]
    name = "nb201_nasi"
    space = "nb201"            # optional (the only space with a supernet and three-dataset ground truth)
    datasets = ["cifar10"]     # the data each search sees; accuracy is always read for all three datasets
    seeds = [0, 1, 2, 3]       # or "0-3"
    device = "auto"            # optional

    [search]
    algorithm = "nasi"         # or "sample"
    steps = 100                # any NasiConfig / SampleConfig field (variant, mu, nu, n, proxies, ...)

    [output]
    dir = "results/nb201_nasi" # optional; the store is DIR/results.sqlite
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from harness.datasets import DATASETS
from harness.paths import data_dir_arg
from harness.search.nasi import NasiConfig
from harness.search.result import SearchResult, result_line, summary_lines
from harness.search.runner import ALGORITHMS, config_class, make_config, parse_seeds, record, run_search
from harness.search.sample import SampleConfig
from harness.studies.spec import StudyDocument, StudyError

SECTIONS = ("study", "search", "output")
STUDY_KEYS = ("name", "description", "space", "datasets", "seeds", "device")
# Options only a scoring study has whose default is not falsy. Every option a search study does not take (backend,
# workers, address, part, rescore, stack, threads, ...: the CLI passes them all) is refused when it is given a value
# other than its default, named as the CLI flag of the same name; new scoring options need no entry here.
SCORING_DEFAULTS = {"backend": "local"}


@dataclass(frozen=True)
class SearchStudy:
    name: str
    description: str
    space: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    device: str
    algorithm: str
    settings: NasiConfig | SampleConfig
    store_path: Path
    source: str = ""  # the file it was read from, for messages
    kind = "search"  # a class attribute, as ScoringStudy's (harness.studies.load)

    def runs(self) -> list[tuple[str, int]]:
        """(dataset, seed) of every run, in execution order."""
        return [(d, s) for d in self.datasets for s in self.seeds]

    def run_key(self, dataset: str, seed: int) -> tuple[str, str, str, int, str]:
        from harness.store import search_config_text

        return self.algorithm, self.space, dataset, seed, search_config_text(self.settings.as_dict())

    def plan(self, store: str | os.PathLike | None = None, *, device: str | None = None, **options: Any) -> SearchPlan:
        """What ``run`` would do: the runs its store (``store`` overrides the study's) lacks. Runs nothing
        (``device`` does not change the plan; scoring-only options are refused as by ``run``)."""
        self._refuse_scoring_options(options)
        from harness.store import ResultStore

        store_path = Path(store) if store else self.store_path
        stored: set = set()
        if store_path.is_file():
            with ResultStore(store_path, readonly=True) as db:
                stored = db.search_run_keys(self.name)
        return SearchPlan(self, len(pending_runs(self, stored)), store_path)

    def run(
        self,
        store: str | os.PathLike | None = None,
        data_dir: str | os.PathLike | None = None,
        device: str | None = None,
        *,
        echo: Callable[[str], None] | None = print,
        log: Callable[[str], None] | None = None,
        **options: Any,
    ) -> SearchStudySummary:
        """Run the runs the store lacks; ``echo`` gets one line per finished run, ``log`` (default stderr) notes.

        ``report`` and ``progress`` are accepted for a uniform call and have no effect; the options only a scoring
        study has (backend, workers, address, part, rescore, stack) are refused with one ``ValueError`` line.
        ``data=``: the deprecated spelling of ``data_dir``."""
        data = data_dir_arg(data_dir, options.pop("data", None), "run")
        options.pop("report", None), options.pop("progress", None)
        self._refuse_scoring_options(options)
        on_result = None if echo is None else (lambda r: echo(f"{r.dataset} {result_line(r)}"))
        summary = run_search_study(self, store=store, data=data, device=device, on_result=on_result)
        if summary.skipped:
            (log or _stderr)(f"{summary.skipped} runs already stored, skipped")
        return summary

    def _refuse_scoring_options(self, options: dict[str, Any]) -> None:
        given = [f"--{k.replace('_', '-')}" for k, v in options.items() if v and v != SCORING_DEFAULTS.get(k)]
        if given:
            where = self.source or self.name
            raise ValueError(f"{', '.join(given)} apply to scoring studies, not to a search study ({where})")


@dataclass(frozen=True)
class SearchPlan:
    study: SearchStudy
    pending: int
    store_path: Path

    def lines(self) -> list[str]:
        s = self.study
        return [
            f"search study {s.name}: {s.algorithm} on {s.space}, {len(s.runs())} runs "
            f"({len(s.datasets)} datasets x {len(s.seeds)} seeds), {self.pending} to run",
            f"settings: {s.settings.as_dict()}",
            f"store: {self.store_path}",
        ]


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


def is_search_study(path: str | os.PathLike) -> bool:
    """True when the TOML file at ``path`` has a ``[search]`` section (False when it cannot be read as TOML)."""
    try:
        return StudyDocument.read(path).kind == "search"
    except StudyError:
        return False


def load_search_study(path: str | os.PathLike) -> SearchStudy:
    """Read and validate a search study file; a malformed one is a one-line ``StudyError``."""
    return parse_search_study(StudyDocument.read(path))


def parse_search_study(document: StudyDocument | dict[str, Any], where: str = "<study>") -> SearchStudy:
    """Validate a search study read by :class:`StudyDocument` (or a parsed TOML dict, named ``where``)."""
    doc = document if isinstance(document, StudyDocument) else StudyDocument(document, where)
    where = doc.where
    unknown = [k for k in doc.tables if k not in SECTIONS]
    if unknown:
        raise doc.error(f"unknown section [{unknown[0]}]; a search study allows {', '.join(SECTIONS)}")
    for section in ("study", "search"):
        if not isinstance(doc.tables.get(section), dict):
            raise doc.error(f"missing section [{section}]")
    s = doc.section("study", STUDY_KEYS)
    name = s.table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StudyError(f"{where}: [study] name must be a non-empty string")
    datasets = s.strings("datasets", ("cifar10",), "dataset names", tuple(DATASETS))
    seeds_value = s.table.get("seeds")
    try:
        if isinstance(seeds_value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in seeds_value):
            seeds = parse_seeds(",".join(str(v) for v in seeds_value))
        elif isinstance(seeds_value, str | int) and not isinstance(seeds_value, bool):
            seeds = parse_seeds(str(seeds_value))
        else:
            raise ValueError("expected a list of non-negative integers or a range such as '0-3'")
    except ValueError as exc:
        raise s.error("seeds", str(exc)) from None
    settings_table = dict(doc.tables["search"])  # its keys are the algorithm's settings, checked by make_config
    algorithm = settings_table.pop("algorithm", None)
    if algorithm not in ALGORITHMS:
        raise StudyError(f"{where}: [search] algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    try:
        settings = make_config(algorithm, **settings_table)
    except ValueError as exc:
        raise StudyError(f"{where}: [search] {exc}") from None
    o = doc.section("output", ("dir",))
    return SearchStudy(
        name=name,
        description=str(s.table.get("description", "")),
        space=s.string("space", "nb201", "a search space"),
        datasets=datasets,
        seeds=tuple(seeds),
        device=s.string("device", "auto", "auto, cpu, cuda or cuda:N"),
        algorithm=algorithm,
        settings=settings,
        store_path=Path(o.string("dir", f"results/{name}", "a directory")) / "results.sqlite",
        source="" if doc.source is None else str(doc.source),
    )


RunKey = tuple[str, str, str, int, str]


def current_key(key: RunKey) -> RunKey:
    """A stored run's key with the settings added since it ran filled in at their defaults.

    Every new NasiConfig / SampleConfig field defaults to the behaviour that preceded it, so a run stored before
    the field existed is the same run as one stored with the default: an upgrade does not redo finished searches.
    """
    algorithm, space, dataset, seed, text = key
    if algorithm not in ALGORITHMS:
        return key
    from harness.store import search_config_text

    try:
        config = json.loads(text)
    except ValueError:
        return key
    if not isinstance(config, dict):
        return key
    defaults = {f.name: f.default for f in fields(config_class(algorithm)) if f.default is not MISSING}
    return algorithm, space, dataset, seed, search_config_text({**defaults, **config})


def pending_runs(study: SearchStudy, stored: set[RunKey]) -> list[tuple[str, int]]:
    """The study's (dataset, seed) runs whose key is not in ``stored`` (``ResultStore.search_run_keys``)."""
    done = {current_key(k) for k in stored}
    return [(d, seed) for d, seed in study.runs() if study.run_key(d, seed) not in done]


@dataclass
class SearchStudySummary:
    results: list[SearchResult]  # every run of the study, in ``runs()`` order: stored earlier or just run
    skipped: int
    store_path: Path
    name: str = ""
    interrupted: bool = False  # a search is not interruptible mid-run: a killed one is redone

    @property
    def by_status(self) -> dict[str, int]:
        return {"ok": len(self.results)}

    def lines(self) -> list[str]:
        """Per dataset: accuracy mean ± std over the seeds and mean wall time; then the store."""
        out = []
        for dataset, results in self.by_dataset().items():
            out.append(f"{self.name}: searched on {dataset}, {len(results)} seeds")
            out.extend(summary_lines(results)[1:])
        return [*out, f"store: {self.store_path}"]

    def by_dataset(self) -> dict[str, list[SearchResult]]:
        out: dict[str, list[SearchResult]] = {}
        for r in self.results:
            out.setdefault(r.dataset, []).append(r)
        return out


def run_search_study(
    study: SearchStudy,
    store: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    device: str | None = None,
    on_result: Callable[[SearchResult], None] | None = None,
) -> SearchStudySummary:
    """Run the study's runs that its store lacks, recording each as soon as it finishes."""
    from harness.store import ResultStore, load_search_runs, search_config_text

    store_path = Path(store) if store else study.store_path
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with ResultStore(store_path) as db:
        todo = pending_runs(study, db.search_run_keys(study.name))
        for dataset, seed in todo:
            result = run_search(
                study.algorithm, study.space, dataset, seed, device=device or study.device, data_dir=data,
                **study.settings.as_dict(),
            )  # fmt: skip
            record(db, study.name, result)
            if on_result is not None:
                on_result(result)
    rows = load_search_runs(store_path, study.name)
    by_key = {
        current_key((r.algorithm, r.space, r.dataset, int(r.seed), search_config_text(r.config))): r
        for r in rows.itertuples()
    }
    results = []
    for dataset, seed in study.runs():
        r = by_key.get(study.run_key(dataset, seed))
        if r is not None:
            results.append(SearchResult(r.algorithm, r.space, r.dataset, int(r.seed), r.config, int(r.index), r.arch,
                                        r.accuracy, float(r.seconds), r.device))  # fmt: skip
    return SearchStudySummary(results, len(study.runs()) - len(todo), store_path, study.name)
