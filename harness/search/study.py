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

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.search.nasi import NasiConfig
from harness.search.result import SearchResult
from harness.search.runner import ALGORITHMS, make_config, parse_seeds, record, run_search
from harness.search.sample import SampleConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SECTIONS = ("study", "search", "output")
STUDY_KEYS = ("name", "description", "space", "datasets", "seeds", "device")


class SearchStudyError(HarnessError, ValueError):
    """A malformed search study file (one line naming the file, the key and what is allowed)."""


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

    def runs(self) -> list[tuple[str, int]]:
        """(dataset, seed) of every run, in execution order."""
        return [(d, s) for d in self.datasets for s in self.seeds]

    def run_key(self, dataset: str, seed: int) -> tuple[str, str, str, int, str]:
        from harness.store import search_config_text

        return self.algorithm, self.space, dataset, seed, search_config_text(self.settings.as_dict())


def is_search_study(path: str | os.PathLike) -> bool:
    """True when the TOML file at ``path`` has a ``[search]`` section (False when it cannot be read as TOML)."""
    try:
        return "search" in _read(Path(path))
    except SearchStudyError:
        return False


def load_search_study(path: str | os.PathLike) -> SearchStudy:
    return parse_search_study(_read(Path(path)), str(path))


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SearchStudyError(f"study file {path} not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SearchStudyError(f"{path}: not a readable TOML file ({exc})") from None


def parse_search_study(document: dict[str, Any], where: str = "<study>") -> SearchStudy:
    unknown = [k for k in document if k not in SECTIONS]
    if unknown:
        raise SearchStudyError(f"{where}: unknown section [{unknown[0]}]; a search study allows {', '.join(SECTIONS)}")
    for section in ("study", "search"):
        if not isinstance(document.get(section), dict):
            raise SearchStudyError(f"{where}: missing section [{section}]")
    study, search, output = document["study"], dict(document["search"]), document.get("output", {})
    bad = [k for k in study if k not in STUDY_KEYS]
    if bad:
        raise SearchStudyError(f"{where}: [study] key {bad[0]!r} is not allowed; allowed: {', '.join(STUDY_KEYS)}")
    name = study.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SearchStudyError(f"{where}: [study] name must be a non-empty string")
    datasets = study.get("datasets", ["cifar10"])
    if isinstance(datasets, str):
        datasets = [datasets]
    if not datasets or not all(isinstance(d, str) for d in datasets):
        raise SearchStudyError(f"{where}: [study] datasets must be a list of dataset names")
    seeds_value = study.get("seeds")
    try:
        if isinstance(seeds_value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds_value):
            seeds = parse_seeds(",".join(str(s) for s in seeds_value))
        elif isinstance(seeds_value, str | int) and not isinstance(seeds_value, bool):
            seeds = parse_seeds(str(seeds_value))
        else:
            raise ValueError("expected a list of non-negative integers or a range such as '0-3'")
    except ValueError as exc:
        raise SearchStudyError(f"{where}: [study] seeds: {exc}") from None
    algorithm = search.pop("algorithm", None)
    if algorithm not in ALGORITHMS:
        raise SearchStudyError(f"{where}: [search] algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    try:
        settings = make_config(algorithm, **search)
    except ValueError as exc:
        raise SearchStudyError(f"{where}: [search] {exc}") from None
    if not isinstance(output, dict) or any(k != "dir" for k in output):
        raise SearchStudyError(f"{where}: [output] allows only dir")
    out_dir = Path(output.get("dir", f"results/{name}"))
    return SearchStudy(
        name=name,
        description=str(study.get("description", "")),
        space=str(study.get("space", "nb201")),
        datasets=tuple(datasets),
        seeds=tuple(seeds),
        device=str(study.get("device", "auto")),
        algorithm=algorithm,
        settings=settings,
        store_path=out_dir / "results.sqlite",
    )


@dataclass
class SearchStudySummary:
    results: list[SearchResult]  # every run of the study, in ``runs()`` order: stored earlier or just run
    new: int
    skipped: int
    store_path: Path

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
    new = skipped = 0
    with ResultStore(store_path) as db:
        stored = db.search_run_keys(study.name)
        for dataset, seed in study.runs():
            if study.run_key(dataset, seed) in stored:
                skipped += 1
                continue
            result = run_search(
                study.algorithm, study.space, dataset, seed, device=device or study.device, data=data,
                **study.settings.as_dict(),
            )  # fmt: skip
            record(db, study.name, result)
            new += 1
            if on_result is not None:
                on_result(result)
    rows = load_search_runs(store_path, study.name)
    by_key = {
        (r.algorithm, r.space, r.dataset, int(r.seed), search_config_text(r.config)): r for r in rows.itertuples()
    }
    results = []
    for dataset, seed in study.runs():
        r = by_key.get(study.run_key(dataset, seed))
        if r is not None:
            results.append(SearchResult(r.algorithm, r.space, r.dataset, int(r.seed), r.config, int(r.index), r.arch,
                                        r.accuracy, float(r.seconds), r.device))  # fmt: skip
    return SearchStudySummary(results, new, skipped, store_path)
