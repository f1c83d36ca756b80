"""The library entry points a notebook calls, re-exported lazily by ``harness`` (``from harness import score``).

Each is a thin convenience over the layer that does the work: results may be a DataFrame or the path(s) of a
results database or export, and the accuracy target defaults to the benchmark's ground truth found under
``data_dir`` (else ``$NASI_HARNESS_DATA``, ``$TORCH_HOME``, ``~/.torch``). Heavy imports (torch) happen inside the
functions that need them, so importing this module stays cheap. The data folder is ``data_dir=`` everywhere
(``data=`` is its deprecated spelling: a results record's ``data`` is the data mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from harness.analysis.result import AnalysisResult
    from harness.analysis.target import Target
    from harness.studies.load import StudySummary

PathLike = str | os.PathLike
Results = pd.DataFrame | PathLike | Sequence[PathLike]


class _GroundTruth:
    """The default target: the benchmark's test accuracy after 200 epochs, from the data root."""

    def __repr__(self) -> str:
        return "GROUND_TRUTH"


GROUND_TRUTH: Any = _GroundTruth()


def load_results(path: PathLike | Sequence[PathLike], study: str | None = None) -> pd.DataFrame:
    """The scores in a results database or a CSV/Parquet export (several paths: read as one table), each
    proxy's latest version only (what was left out is in ``.attrs["notes"]``), with the pool aggregates
    (``harness.aggregates``: az_nas, te_nas, vkdnw_single, vkdnw_agg) added as rows where their components are."""
    from harness.analysis.inputs import load_scores

    return load_scores(path, study)


def score(
    cells: Iterable[int | str] | str,
    proxies: Sequence[str] | str,
    *,
    space: str = "nb201",
    dataset: str = "cifar10",
    data_mode: str = "real",
    label_mode: str = "true",
    batch_size: int = 64,
    seed: int = 0,
    device: str = "auto",
    data_dir: PathLike | None = None,
    data: PathLike | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Score ``cells`` (indices, arch strings, or a cell SPEC such as ``"sample:20:0"``) with ``proxies`` (names
    or a comma list); one row per cell x proxy, in the columns of a results table. ``data_mode="gaussian"`` with
    ``label_mode="random"`` needs no dataset; ``data_dir``: the data folder (``data=``: deprecated). Further options:
    :func:`harness.scoring.score_cells`."""
    from harness.paths import data_dir_arg
    from harness.proxies import parse_proxy_list
    from harness.scoring import RECORD_FIELDS, score_cells
    from harness.spaces.cells import parse_cells

    data_dir = data_dir_arg(data_dir, data, "score")
    indices = parse_cells(cells, space) if isinstance(cells, str) else list(cells)
    names = parse_proxy_list(proxies) if isinstance(proxies, str) else list(proxies)
    records = score_cells(space, indices, names, dataset=dataset, data_mode=data_mode, label_mode=label_mode,
                          batch_size=batch_size, seed=seed, device=device, data_dir=data_dir, **options)  # fmt: skip
    frame = pd.DataFrame([r.as_dict() for r in records], columns=list(RECORD_FIELDS))
    frame.insert(0, "space", space)
    return frame


def run_study(study: Any, **options: Any) -> StudySummary:
    """Run a study file (or a loaded study of either kind) into its results database; resumable.
    Options: those of the study kind's ``run`` (e.g. ``device``, ``workers``, ``report=False``, ``data_dir``)."""
    from harness.paths import data_dir_arg
    from harness.studies.load import run

    if "data" in options:
        options["data_dir"] = data_dir_arg(options.pop("data_dir", None), options.pop("data"), "run_study")
    if options.get("report", True) is True:  # a scoring study's report, built after its run
        from harness.report.study import build_study_report

        options["report"] = build_study_report
    return run(study, **options)


def correlate(
    results: Results,
    target: Target = GROUND_TRUTH,
    *,
    data_dir: PathLike | None = None,
    data: PathLike | None = None,
    cells: str | None = None,
    **options: Any,
) -> AnalysisResult:
    """Each proxy's signed correlations with accuracy, with bootstrap intervals and top-k metrics, per setting
    (:func:`harness.analysis.correlate`). A scoring seed is part of a setting; ``.to_frame("seeds")`` summarises
    each setting over its seeds (mean, sd, min, max, intervals over cells and over cells and seeds), and
    ``seeds=N`` (or a list) keeps only those seeds; ``cells="reachable"`` (any cell SPEC) only those cells."""
    from harness.analysis import correlate as run
    from harness.paths import data_dir_arg

    return run(_frame(results, cells), _target(target, data_dir_arg(data_dir, data, "correlate")), **options)


def compare(
    results: Results,
    target: Target = GROUND_TRUTH,
    *,
    data_dir: PathLike | None = None,
    data: PathLike | None = None,
    cells: str | None = None,
    **options: Any,
) -> AnalysisResult:
    """Proxies ranked by oriented Spearman rho on the cells all scored, with paired intervals of the
    differences (:func:`harness.analysis.compare`; ``ensembles=[("a", "b")]`` adds rank ensembles). Proxies are
    paired within each scoring seed; ``.to_frame("seeds")`` ranks them by the mean over seeds and says whether the
    order holds in every seed, ``.to_frame("seeds_pairwise")`` gives the share of seeds in which a beats b.
    ``cells``: a cell SPEC, as for :func:`correlate`."""
    from harness.analysis import compare as run
    from harness.paths import data_dir_arg

    return run(_frame(results, cells), _target(target, data_dir_arg(data_dir, data, "compare")), **options)


def agnostic(
    results: Results,
    target: Target | None = GROUND_TRUTH,
    *,
    data_dir: PathLike | None = None,
    data: PathLike | None = None,
    cells: str | None = None,
    **options: Any,
) -> AnalysisResult:
    """Each proxy's scores under a swapped data/label mode against real data and true labels, with a verdict
    against the proxy's seed floor and sample-and-pick decisions (:func:`harness.analysis.agnosticism`);
    ``target=None`` leaves out the correlations with accuracy and the picks; ``cells``: a cell SPEC, as for
    :func:`correlate`."""
    from harness.analysis import agnosticism
    from harness.paths import data_dir_arg

    return agnosticism(_frame(results, cells), _target(target, data_dir_arg(data_dir, data, "agnostic")), **options)


def _frame(results: Results, cells: str | None = None) -> pd.DataFrame:
    """The results as a frame; ``cells`` (a cell SPEC: ``"reachable"``, ``"unique"``, ``"sample:N[:SEED]"``, ...)
    keeps only those cells, pool aggregates formed over them (``harness.analysis.inputs.select_cells``)."""
    from harness.analysis.inputs import load_scores, select_cells

    if isinstance(results, pd.DataFrame):
        return select_cells(results, cells)
    return load_scores(results, cells=cells)


def _target(target: Any, data_dir: PathLike | None) -> Any:
    if target is GROUND_TRUTH:
        from harness.analysis.target import target_loader

        return target_loader(data_dir=data_dir)
    return target


__all__ = ["GROUND_TRUTH", "agnostic", "compare", "correlate", "load_results", "run_study", "score"]
