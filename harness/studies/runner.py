"""Running a study: plan the unfinished units, score them on a backend, store each result, then report.

Resuming is the default: units already in the store with a final status (ok, degenerate, nan) are skipped;
``error: ...`` and ``timeout`` units are retried. Units whose data is absent are skipped with the data layer's
message (what was looked for, where, how to get it), not failed. Ctrl-C stops after the unit in progress; everything
finished is already committed.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataMissing, HarnessError
from harness.paths import data_dir_arg
from harness.store import ResultStore
from harness.store.leases import Lease
from harness.store.schema import TIMEOUT, failed_sql
from harness.studies.execute import Outcome, iter_shard
from harness.studies.interrupt import interrupts_held, sigterm_as_interrupt
from harness.studies.spec import DEVICE_FORM, Study
from harness.studies.units import (
    Shard,
    cells_per_shard,
    make_plan,
    proxy_versions,
    restrict,
    stale_versions,
    unit_keys,
)

BACKENDS = ("local", "ray")
Log = Callable[[str], None]
# The report step after a run (harness.report.study.build_study_report): (study, store, data) -> (report.md, note).
# The layers above the studies pass it (harness.run_study, nasi-harness run); studies never import the report.
ReportStep = Callable[[Study, Path, "str | os.PathLike | None"], "tuple[Path | None, str]"]
NO_REPORT_STEP = "not built: no report step given (harness.run_study and nasi-harness run pass one)"


@dataclass
class RunSummary:
    study: str
    store: Path
    backend: str
    total: int
    done_before: int
    ran: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # ok / degenerate / nan / error / timeout
    errors: list[str] = field(default_factory=list)  # distinct error statuses, first few
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> units
    interrupted: bool = False
    seconds: float = 0.0
    report: Path | None = None
    report_note: str = ""
    unit_timeout: float | None = None

    @property
    def skipped_units(self) -> int:
        return sum(self.skipped.values())

    @property
    def failed(self) -> dict[str, int]:
        """Units that ran without a usable score, by status."""
        return {k: v for k, v in self.by_status.items() if k != "ok"}

    @property
    def remaining(self) -> int:
        """Units neither stored nor skipped (non-zero after an interruption)."""
        return self.total - self.done_before - self.ran - self.skipped_units

    def count(self, records: Sequence) -> None:
        for r in records:
            key = "error" if r.status.startswith("error") else r.status
            self.by_status[key] = self.by_status.get(key, 0) + 1
            if key == "error" and r.status not in self.errors and len(self.errors) < 5:
                self.errors.append(r.status)
        self.ran += len(records)

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items())) or "nothing"
        out = [f"study {self.study}: {self.total} units; {self.done_before} done before; ran {self.ran} in "
               f"{_duration(self.seconds)} ({statuses}) with the {self.backend} backend"]  # fmt: skip
        for reason, n in self.skipped.items():
            out.append(f"skipped {n} units {reason}")
        for message in self.errors:
            out.append(f"failed units (a rerun retries them), e.g. {message}")
        if self.by_status.get(TIMEOUT):
            out.append(f"{self.by_status[TIMEOUT]} units ran past the unit timeout ({self.unit_timeout:g} s) and were "
                       "stopped (status timeout; a rerun retries them)")  # fmt: skip
        if self.interrupted:
            out.append(f"interrupted: {self.remaining} units left; run the same command again to resume")
        out.append(f"store: {self.store}")
        if self.report is not None:
            out.append(f"report: {self.report}")
        elif self.report_note:
            out.append(f"report: {self.report_note}")
        return out


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_unit_timeout(value: object) -> float | None:
    """A positive number of seconds, or None (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or value == float("inf"):
        raise ValueError(f"unit_timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_options(
    backend: str, workers: int | None, address: str | None, device: str | None, threads: int | None = None,
    unit_timeout: float | None = None,
) -> None:  # fmt: skip
    check_unit_timeout(unit_timeout)
    if backend == "ray" and unit_timeout is not None:
        raise ValueError("a unit timeout (--unit-timeout, or unit_timeout in the study file) is not supported by "
                         "the ray backend (a Ray task scores a whole shard); use --backend local")  # fmt: skip
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if backend == "local" and address:
        raise ValueError("--address connects to a Ray cluster: use it with --backend ray")
    if device is not None and not re.match(r"^(auto|cpu|cuda(:\d+)?)$", device):
        raise ValueError(f"unknown device {device!r}; expected {DEVICE_FORM}")
    if backend == "ray":
        from harness.studies.ray_backend import import_ray

        import_ray()  # fail before any work when Ray is not installed


def _check_cuda(backend: str, device: str) -> None:
    """CUDA asked for on a machine without it: refused before the store is created (Ray workers may have GPUs
    the driver lacks, so only the local backend is checked here)."""
    if backend != "local" or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use --device cpu or auto")


def check_threads(db: ResultStore, study: Study, threads: int, allow: bool, log: Log) -> None:
    """Refuse to resume a study whose stored CPU rows were scored with another thread count (their scores differ
    in the last digits), unless ``allow``: then warn and go on (each row records its own count)."""
    stored = [row[0] for row in db.connection.execute(
        "SELECT DISTINCT threads FROM results WHERE study = ? AND device = 'cpu' AND threads IS NOT NULL "
        f"AND NOT {failed_sql()} ORDER BY threads", (study.name,))]  # fmt: skip
    other = [int(t) for t in stored if int(t) != threads]
    if not other:
        return
    counts = " and ".join(map(str, other))
    message = (f"study {study.name} has CPU rows scored with {counts} intra-op thread{'s' * (other != [1])} per "
               f"process; this run uses {threads}, and CPU scores depend on the thread count")  # fmt: skip
    if not allow:
        raise HarnessError(f"{message}: resume with --threads {other[0]}, or give --allow-thread-change")
    log(f"warning: {message}; going on (--allow-thread-change): each row records its thread count")


class _Skips:
    """Units skipped for missing data, grouped by the missing thing so one absent dataset is one message."""

    def __init__(self) -> None:
        self.groups: dict[str, tuple[list[str], int]] = {}

    @staticmethod
    def core(message: str) -> str:
        """The data layer prefixes the modes that needed the files ("data mode ... needs ...: "); drop it."""
        if message.startswith("data mode") and ": " in message:
            return message.split(": ", 1)[1]
        return message

    def add(self, message: str, shard: Shard) -> bool:
        """Count ``shard``'s units; True when this is the first time the missing thing is seen."""
        core = self.core(message)
        combos, units = self.groups.get(core, ([], 0))
        combo = f"{shard.dataset} {shard.data_mode}/{shard.label_mode}"
        if combo not in combos:
            combos.append(combo)
        self.groups[core] = (combos, units + shard.units)
        return units == 0

    def reasons(self) -> dict[str, int]:
        return {f"needing absent data ({', '.join(combos)}): {core}": n for core, (combos, n) in self.groups.items()}


def _drop_missing(shards: list[Shard], data: str | os.PathLike | None, skips: _Skips) -> list[Shard]:
    """Skip the shards whose data is absent here, with the data layer's one-line message, before any scoring."""
    from harness.data import make_batch, requires_dataset

    missing: dict[tuple[str, str, str], str | None] = {}
    kept = []
    for shard in shards:
        key = (shard.dataset, shard.data_mode, shard.label_mode)
        if key not in missing:
            missing[key] = None
            if requires_dataset(shard.data_mode, shard.label_mode):
                try:
                    make_batch(shard.dataset, shard.batch_size, shard.data_mode, shard.label_mode, shard.seed, data)
                except DataMissing as exc:
                    missing[key] = str(exc).splitlines()[0]
        if missing[key] is None:
            kept.append(shard)
        else:
            skips.add(missing[key], shard)
    return kept


class _Claims:
    """Claims units in the store before they are scored (``harness.store.leases``), counting those another run
    holds or finished meanwhile."""

    CELLS_PER_CLAIM = 8  # in-process runs claim as they go, a few cells at a time, so concurrent runs share work

    def __init__(self, lease: Lease, versions: dict[str, int], rescore: Sequence[str]) -> None:
        self.lease, self.versions, self.rescore = lease, versions, tuple(rescore)
        self.elsewhere = 0

    def held(self, shards: list[Shard]) -> list[Shard]:
        """Claim every unit of ``shards`` at once; the shards reduced to the units this run holds."""
        keys = [unit_keys(s, self.versions) for s in shards]
        held = self.lease.claim([k for ks in keys for k in ks], self.rescore)
        out = []
        for shard, shard_keys in zip(shards, keys):
            mine = held.intersection(shard_keys)
            self.elsewhere += len(shard_keys) - len(mine)
            if mine:
                out.append(restrict(shard, mine, self.versions))
        return out

    def as_they_go(self, shards: list[Shard]) -> Iterator[Shard]:
        for shard in shards:
            for piece in shard.split(self.CELLS_PER_CLAIM):
                yield from self.held([piece])


def _outcomes(
    shards: list[Shard], backend: str, workers: int | None, address: str | None, data: str | os.PathLike | None,
    log: Log, claims: _Claims, unit_timeout: float | None = None,
) -> Iterator[Outcome]:  # fmt: skip
    if not shards:
        return
    if backend == "local" and ((workers or 1) > 1 or unit_timeout is not None):
        # a unit timeout needs a worker process even for one worker: only a process can be stopped mid-unit
        from harness.studies.process_backend import run_processes

        yield from run_processes(claims.held(shards), data=data, workers=workers or 1, log=log,
                                 unit_timeout=unit_timeout)  # fmt: skip
        return
    if backend == "local":
        for shard in claims.as_they_go(shards):
            yield from iter_shard(shard, data)
        return
    from harness.studies.ray_backend import run_ray

    n_cells = max((len(s.cells) for s in shards), default=1)
    size = cells_per_shard(n_cells, workers or os.cpu_count() or 1)
    pieces = [piece for shard in claims.held(shards) for piece in shard.split(size)]
    yield from run_ray(pieces, data=data, workers=workers, address=address, log=log)


def paper_protocols(study: Study) -> dict:
    """``{"paper_protocols": {proxy: declaration}}`` for a study run under ``paper`` (stored with its configuration,
    so the store says which declarations, by source and fingerprint, made its paper rows); {} otherwise."""
    if "paper" not in study.protocols:
        return {}
    from harness.proxies import get_proxy

    declared = {}
    for name in study.proxies:
        spec = get_proxy(name)
        p = spec.protocol
        declared[name] = None if p is None else {"version": spec.version, "settings": p.summary(),
                                                 "source": p.source, "fingerprint": p.fingerprint()}  # fmt: skip
    return {"paper_protocols": declared}


def without_rescored(study: Study, done: set, rescore: Sequence[str]) -> set:
    """The finished unit keys minus those of the proxies to score again; ``ValueError`` naming any of ``rescore``
    that is not a proxy of the study."""
    unknown = sorted(set(rescore) - set(study.proxies))
    if unknown:
        raise ValueError(f"--rescore {', '.join(unknown)}: not a proxy of study {study.name!r} "
                         f"(its proxies: {', '.join(study.proxies)})")  # fmt: skip
    again = set(rescore)
    return {key for key in done if key.proxy not in again}


def run_study(
    study: Study,
    store: str | os.PathLike | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    data_dir: str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
    device: str | None = None,
    report: bool | ReportStep = True,
    progress: bool = True,
    log: Log | None = None,
    part: tuple[int, int] | None = None,
    rescore: Sequence[str] = (),
    stack: int | None = None,
    threads: int | None = None,
    allow_thread_change: bool = False,
    unit_timeout: float | None = None,
) -> RunSummary:
    """Run every unfinished unit of ``study`` and store the results (``store`` overrides the study's path).

    ``device`` and ``stack`` override the study's. ``log`` receives plan and skip messages (default: stderr).
    ``part=(k, n)`` runs only the k-th of n disjoint parts of the cells (several processes, one store or many).
    ``rescore`` names proxies whose stored units are scored again and overwritten (e.g. after a fix to them);
    an interrupted rescoring starts over for those proxies when rerun with the same option.
    ``threads`` overrides the study's intra-op thread count per scoring process; a store whose CPU rows used
    another count is refused unless ``allow_thread_change``. Units are claimed in the store before they are
    scored, so runs sharing a store skip each other's units (``harness.store.leases``).
    ``unit_timeout`` (seconds) overrides the study's: a unit running longer is stored with status ``timeout`` (no
    score; a rerun retries it, and it never replaces a finished row) and the run goes on. The local backend then
    scores in worker processes (one, when ``workers`` is 1): the stuck worker is terminated and a new one takes its
    other units. The ray backend refuses it.
    ``data_dir`` is the data root (``data=`` its deprecated spelling).
    ``report`` is the step that builds the report after a complete run (``harness.report.study.build_study_report``,
    which ``harness.run_study`` and ``nasi-harness run`` pass); ``False`` skips it.
    Returns the counts; ``summary.interrupted`` is set when Ctrl-C stopped the run. Every refused argument is
    refused before the store is created or changed.
    """
    data = data_dir_arg(data_dir, data, "run_study")
    unit_timeout = _validate(study, backend, workers, address, device, threads, unit_timeout, part, rescore)
    log = log or _stderr
    store_path = Path(store) if store is not None else study.store_path
    threads = threads or study.threads
    start = time.monotonic()
    with ResultStore(store_path) as db:
        check_threads(db, study, threads, allow_thread_change, log)  # a store with rows exists already: none made
        planned = _plan(db, study, store_path, backend=backend, address=address, data=data, device=device,
                        stack=stack, threads=threads, part=part, rescore=rescore, unit_timeout=unit_timeout,
                        log=log)  # fmt: skip
        _drive(db, study, planned, backend=backend, workers=workers, address=address, data=data, rescore=rescore,
               unit_timeout=unit_timeout, progress=progress, log=log)  # fmt: skip
    summary = planned.summary
    summary.seconds = time.monotonic() - start
    _summarise(summary, report, study, store_path, data)
    return summary


def _validate(
    study: Study, backend: str, workers: int | None, address: str | None, device: str | None, threads: int | None,
    unit_timeout: float | None, part: tuple[int, int] | None, rescore: Sequence[str],
) -> float | None:  # fmt: skip
    """``run_study``'s arguments checked before the store is created or changed; the unit timeout in force (the
    argument's, else the study's)."""
    unit_timeout = check_unit_timeout(unit_timeout if unit_timeout is not None else study.unit_timeout)
    _check_options(backend, workers, address, device, threads, unit_timeout)
    without_rescored(study, set(), rescore)  # a bad name fails before the store is opened
    if part is not None:
        k, n = part
        if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
            raise ValueError(f"part must be K/N with 0 <= K < N, got {k}/{n}")
    _check_cuda(backend, device or study.device)
    return unit_timeout


@dataclass
class _Planned:
    """What is left to run after planning: the shards, the summary counting what was skipped so far, the units
    skipped for absent data, and the proxies' versions the rows are stored under."""

    summary: RunSummary
    shards: list[Shard]
    skips: _Skips
    versions: dict[str, int]


def _plan(
    db: ResultStore, study: Study, store_path: Path, *, backend: str, address: str | None,
    data: str | os.PathLike | None, device: str | None, stack: int | None, threads: int, part: tuple[int, int] | None,
    rescore: Sequence[str], unit_timeout: float | None, log: Log,
) -> _Planned:  # fmt: skip
    """Record the study in the store and plan its unfinished units: those of this part only, less those whose data
    is absent here; each decision is logged."""
    config = {**study.as_config(), **paper_protocols(study)}
    db.record_study(study.name, study.space, config, None if study.source is None else str(study.source))
    done = db.done_keys(study.name, study.space)
    plan = make_plan(study, without_rescored(study, done, rescore), device, stack, threads)
    versions = proxy_versions(study.proxies)
    for (proxy, old), n in sorted(stale_versions(done, versions).items()):
        log(f"re-scoring {n} rows of proxy {proxy} stored under version {old} (now {versions[proxy]})")
    if rescore:
        log(f"rescoring {', '.join(rescore)}: their stored units are scored again and replaced")
    summary = RunSummary(study.name, store_path, backend, plan.total, plan.done_before, unit_timeout=unit_timeout)
    log(plan.describe())
    for reason, n in plan.not_applicable.items():
        summary.skipped[reason] = n
        log(f"skipping {n} units {reason}")
    shards, skips = plan.shards, _Skips()
    if part is not None:
        shards = [p for p in (s.part(*part) for s in shards) if p.units]
        log(f"part {part[0]}/{part[1]}: {sum(s.units for s in shards)} of the {plan.todo} units to run")
    if backend == "local" or not address:  # the data is on this machine: check it before any work
        shards = _drop_missing(shards, data, skips)
        for reason, n in skips.reasons().items():
            log(f"skipping {n} units {reason}")
    return _Planned(summary, shards, skips, versions)


def _drive(
    db: ResultStore, study: Study, planned: _Planned, *, backend: str, workers: int | None, address: str | None,
    data: str | os.PathLike | None, rescore: Sequence[str], unit_timeout: float | None, progress: bool, log: Log,
) -> None:  # fmt: skip
    """Score the planned shards on the backend, claiming units before they are scored and storing and counting each
    outcome as it comes; Ctrl-C (or SIGTERM) sets ``summary.interrupted``. The skips are counted at the end."""
    from harness.scoring.progress import Progress

    summary, skips, versions = planned.summary, planned.skips, planned.versions
    todo = sum(s.units for s in planned.shards)
    bar = Progress(total=todo, desc=study.name) if progress and todo else None
    lease = Lease(db, study.name, study.space)
    claims = _Claims(lease, versions, rescore)
    try:
        with sigterm_as_interrupt():  # a scheduler's SIGTERM stops the run as Ctrl-C does
            for outcome in _outcomes(planned.shards, backend, workers, address, data, log, claims, unit_timeout):
                if outcome.missing is not None:  # only from workers on other machines
                    if skips.add(outcome.missing, outcome.shard):
                        log(f"skipping units whose data is missing on a worker: {outcome.missing}")
                    continue
                with interrupts_held():  # stored and counted together, or neither
                    db.write(study.name, study.space, outcome.records, provenance=outcome.provenance,
                             commit_every=max(1, len(outcome.records)), versions=versions,
                             after_write=lease.release_rows)  # fmt: skip
                    summary.count(outcome.records)
                if bar is not None:
                    bar.update(len(outcome.records))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        lease.close()
        if bar is not None:
            bar.close()
        summary.skipped.update(skips.reasons())
        if claims.elsewhere:
            summary.skipped["held or finished by another run on this store"] = claims.elsewhere


def _summarise(
    summary: RunSummary, report: bool | ReportStep, study: Study, store_path: Path, data: str | os.PathLike | None
) -> None:
    """The report step after a complete run, or the note saying why there is no report."""
    if summary.interrupted:
        summary.report_note = "skipped: the run was interrupted"
    elif callable(report):
        summary.report, summary.report_note = report(study, store_path, data)
    elif report:
        summary.report_note = NO_REPORT_STEP
    else:
        summary.report_note = "skipped (--no-report)"
