"""Study files: a TOML description of a whole experiment, validated field by field before any work starts.

```toml
[study]
name = "quickstart"            # letters, digits, '.', '_', '-' (used in paths and as the database key)
description = "..."            # optional
space = "nb201"                # harness.spaces.space_names()
cells = "sample:200:0"         # a cell SPEC (harness.spaces.cells.SPEC_FORM)
proxies = ["nasi", "snip"]     # registered proxy names, or "all"
datasets = ["cifar10"]
data_modes = ["real", "gaussian"]      # every data mode x every label mode is run
label_modes = ["true", "random"]
seeds = [0]
batch_size = 64
device = "auto"                # auto, cpu, cuda, cuda:N
share_isomorphic = false       # optional: one cell per isomorphism class; its score (one draw) copied to the rest
stack = 1                      # optional: score K cells per computation with proxies that have a stacked form
threads = 1                    # optional: intra-op threads of each scoring process (CPU scores depend on it)
protocol = "harness"           # optional: harness (uniform), paper (each proxy's official setting), or both
plugins = ["my_proxy.py"]      # optional: proxy/space files to load first, relative to this file (docs/extending.md)
unit_timeout = 600             # optional: seconds one unit may take; past it the unit is stored with status
                               # "timeout" (retried by a rerun) and the run goes on (run --unit-timeout overrides;
                               # local backend only: units then run in worker processes, a stuck one is replaced)

[analysis]                     # optional: what the report compares against
datasets = ["cifar10"]         # default: the study's datasets
target = "test"                # test | valid
epochs = 200                   # optional: a schedule of the space (nb201: 200 | 12; nats-sss: 90 | 12 | 1);
                               # default: the space's full schedule (200 for nb201, 90 for nats-sss)
reports = ["correlation", "agnosticism", "figures"]
exclude_degenerate = false
aggregates = ["mine=nasi+snip"] # optional: pool aggregates for the report, as the CLI's --aggregate (analysis only)
builtin_aggregates = true      # false: leave out az_nas, te_nas, vkdnw_single, vkdnw_agg (the CLI's --no-aggregates)

[output]                       # optional; relative paths are relative to the working directory
dir = "results/quickstart"     # default results/<name>
store = "results/quickstart/results.sqlite"   # default <dir>/results.sqlite
report_dir = "results/quickstart/report"      # default <dir>/report
```

Every problem is one ``StudyError`` line naming the file, the field and the allowed values.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, shown
from harness.names import name_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SECTIONS = ("study", "analysis", "output")
STUDY_KEYS = ("name", "description", "space", "cells", "proxies", "datasets", "data_modes", "label_modes", "seeds",
              "batch_size", "device", "share_isomorphic", "stack", "plugins", "threads", "protocol",
              "unit_timeout")  # fmt: skip
REQUIRED_STUDY_KEYS = ("name", "space", "cells", "proxies", "datasets", "data_modes", "label_modes", "seeds")
ANALYSIS_KEYS = ("datasets", "target", "epochs", "reports", "exclude_degenerate", "aggregates", "builtin_aggregates")
AGGREGATE_FORM = "NAME=P1+P2[+...], ensemble:P1+P2 or a registered aggregate's name"
OUTPUT_KEYS = ("dir", "store", "report_dir")
TARGETS = ("test", "valid")
REPORTS = ("correlation", "comparison", "agnosticism", "figures")
DEVICE_FORM = "auto, cpu, cuda or cuda:N"
DEFAULT_THREADS = 1  # one thread per scoring process: NB201-sized networks gain little from more (docs/reliability.md)
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class StudyError(HarnessError):
    """An invalid study file; the message is one line naming the field and the allowed values."""


@dataclass(frozen=True)
class AnalysisSpec:
    """The ``[analysis]`` section: the ground truth the report compares against, and which parts to build."""

    datasets: tuple[str, ...]
    target: str = "test"
    epochs: int | None = None  # None: the space's full schedule (TargetSpec.epochs_for resolves it)
    reports: tuple[str, ...] = ("correlation", "agnosticism", "figures")
    exclude_degenerate: bool = False
    aggregates: tuple[str, ...] = ()  # pool aggregate specs (harness.aggregates.parse_aggregate), as --aggregate
    builtin_aggregates: bool = True  # False: the built-in pool aggregates are left out, as --no-aggregates


@dataclass(frozen=True)
class Study:
    name: str
    space: str
    cells: str
    cell_indices: tuple[int, ...]
    proxies: tuple[str, ...]
    datasets: tuple[str, ...]
    data_modes: tuple[str, ...]
    label_modes: tuple[str, ...]
    seeds: tuple[int, ...]
    batch_size: int = 64
    device: str = "auto"
    share_isomorphic: bool = False
    stack: int = 1
    threads: int = DEFAULT_THREADS
    protocols: tuple[str, ...] = ("harness",)  # harness.proxies.protocol.PROTOCOLS
    description: str = ""
    analysis: AnalysisSpec = field(default_factory=lambda: AnalysisSpec(datasets=()))
    output_dir: Path = Path("results")
    store_path: Path = Path("results/results.sqlite")
    report_dir: Path = Path("results/report")
    source: Path | None = None
    plugins: tuple[str, ...] = ()  # absolute paths of the plugin files loaded before validation
    unit_timeout: float | None = None  # seconds per unit at most (None: no limit)

    @property
    def total_units(self) -> int:
        """Units asked for (under ``paper`` several may resolve to one: ``harness.studies.units.make_plan``)."""
        return (len(self.cell_indices) * len(self.proxies) * len(self.datasets) * len(self.data_modes)
                * len(self.label_modes) * len(self.seeds) * len(self.protocols))  # fmt: skip

    def as_config(self) -> dict[str, Any]:
        """The validated study as plain data (stored in the database beside its results)."""
        config = asdict(self)
        config.pop("cell_indices")
        for key in ("output_dir", "store_path", "report_dir", "source"):
            config[key] = None if config[key] is None else str(config[key])
        config["n_cells"] = len(self.cell_indices)
        return config


class Section:
    """Typed access to one TOML table, raising one-line ``StudyError``s that name the field (scoring and search
    study files alike)."""

    def __init__(self, where: str, name: str, table: Any, allowed: tuple[str, ...]) -> None:
        self.where, self.name = where, name
        if not isinstance(table, dict):
            raise StudyError(f"{where}: [{name}] must be a table, got {type(table).__name__}")
        unknown = [k for k in table if k not in allowed]
        if unknown:
            raise StudyError(f"{where}: [{name}] unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
        self.table = table

    def error(self, key: str, problem: str) -> StudyError:
        return StudyError(f"{self.where}: [{self.name}] {key}: {problem}")

    def has(self, key: str) -> bool:
        return key in self.table

    def require(self, key: str, allowed: str) -> Any:
        if key not in self.table:
            raise self.error(key, f"missing required field; expected {allowed}")
        return self.table[key]

    def string(self, key: str, default: str | None, allowed: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.require(key, allowed) if default is None else self.table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string ({allowed}), got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"unknown value {value!r}; allowed: {', '.join(choices)}")
        return value.strip()

    def strings(self, key: str, default: tuple[str, ...] | None, allowed: str,
                choices: tuple[str, ...] | None = None) -> tuple[str, ...]:  # fmt: skip
        value = self.require(key, allowed) if default is None else self.table.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(key, f"expected a non-empty list of strings ({allowed}), got {value!r}")
        value = [v.strip() for v in value]
        if choices is not None:
            for v in value:
                if v not in choices:
                    raise self.error(key, f"unknown value {v!r}; allowed: {', '.join(choices) or '(none registered)'}")
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise self.error(key, f"listed twice: {', '.join(duplicates)}")
        return tuple(value)

    def integer(self, key: str, default: int | None, allowed: str, minimum: int | None = None,
                choices: tuple[int, ...] | None = None) -> int:  # fmt: skip
        value = self.require(key, allowed) if default is None else self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer ({allowed}), got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if choices is not None and value not in choices:
            raise self.error(key, f"unknown value {value!r}; allowed: {', '.join(map(str, choices))}")
        return value

    def integers(self, key: str, allowed: str) -> tuple[int, ...]:
        value = self.require(key, allowed)
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok or any(v < 0 for v in value):
            raise self.error(key, f"expected a non-empty list of non-negative integers ({allowed}), got {value!r}")
        if len(set(value)) != len(value):
            raise self.error(
                key, f"listed twice: {', '.join(str(v) for v in sorted(set(value)) if value.count(v) > 1)}"
            )
        return tuple(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StudyError(f"study file not found: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: invalid TOML: {exc}") from None


@dataclass(frozen=True)
class StudyDocument:
    """A study file read as TOML, not yet validated: the public reader every study kind parses from.

    ``kind`` says which parser applies (a ``[search]`` section makes a search study); ``section`` reads one table
    field by field with one-line errors (:class:`Section`), so other study kinds need none of this module's
    internals."""

    tables: dict[str, Any]
    where: str
    source: Path | None = None

    @classmethod
    def read(cls, path: str | os.PathLike) -> StudyDocument:
        """The file at ``path``; a missing file or invalid TOML is one ``StudyError`` line."""
        path = Path(path)
        return cls(read_toml(path), str(path), path)

    @property
    def kind(self) -> str:
        return "search" if "search" in self.tables else "scoring"

    def section(self, name: str, allowed: tuple[str, ...]) -> Section:
        """Table ``name`` (empty when absent), restricted to the keys ``allowed``."""
        return Section(self.where, name, self.tables.get(name, {}), allowed)

    def error(self, problem: str) -> StudyError:
        return StudyError(f"{self.where}: {problem}")


def load_study(path: str | os.PathLike) -> Study:
    """Read and validate a study file (every field; proxies against those registered now)."""
    path = Path(path)
    return parse_study(read_toml(path), where=str(path), source=path)


def parse_study(document: dict[str, Any], where: str = "<study>", source: Path | None = None) -> Study:
    """Validate an already-parsed TOML document (``where`` names it in error messages): the sections, then
    ``[study]`` field by field, ``[analysis]`` and ``[output]``; the first problem is the error."""
    from harness.datasets import DATASETS
    from harness.proxies import proxy_names
    from harness.spaces import space_names

    _check_sections(document, where)
    s = Section(where, "study", document["study"], STUDY_KEYS)
    for key in REQUIRED_STUDY_KEYS:
        if not s.has(key):
            raise s.error(key, f"missing required field; required: {', '.join(REQUIRED_STUDY_KEYS)}")

    plugins = _load_study_plugins(s, source)
    name = s.string("name", None, "letters, digits, '.', '_', '-'")
    if name_problem(name):  # the rule merge applies to stored names too (harness.names)
        raise s.error("name", name_problem(name))
    space = s.string("space", None, "a search space", tuple(space_names()))
    cells, cell_indices = _study_cells(s, space)
    registered = tuple(proxy_names())
    proxies = _study_proxies(s, registered)
    datasets = s.strings("datasets", None, "dataset names", tuple(DATASETS))
    data_modes, label_modes = _study_modes(s)
    seeds = s.integers("seeds", "e.g. [0, 1, 2]")
    batch_size = s.integer("batch_size", 64, "the mini-batch size", minimum=1)
    device = s.string("device", "auto", DEVICE_FORM)
    if not _DEVICE.match(device):
        raise s.error("device", f"unknown device {device!r}; allowed: {DEVICE_FORM}")
    share = s.boolean("share_isomorphic", False)
    stack = s.integer("stack", 1, "cells per stacked computation (nasi; 1 = one network at a time)", minimum=1)
    threads = s.integer("threads", DEFAULT_THREADS, "intra-op threads per scoring process", minimum=1)
    protocols = s.strings("protocol", ("harness",), "harness, paper or both", ("harness", "paper"))
    unit_timeout = _study_unit_timeout(s)
    description = s.table.get("description", "")
    if not isinstance(description, str):
        raise s.error("description", f"expected a string, got {description!r}")

    a = Section(where, "analysis", document.get("analysis", {}), ANALYSIS_KEYS)
    analysis = _analysis_spec(a, space, datasets, proxies, registered)
    o = Section(where, "output", document.get("output", {}), OUTPUT_KEYS)
    out_dir, store_path, report_dir = _output_paths(o, name)
    return Study(
        name=name, space=space, cells=cells, cell_indices=cell_indices, proxies=proxies, datasets=datasets,
        data_modes=data_modes, label_modes=label_modes, seeds=seeds, batch_size=batch_size, device=device,
        share_isomorphic=share, stack=stack, threads=threads, protocols=protocols, description=description,
        analysis=analysis, output_dir=out_dir, store_path=store_path, report_dir=report_dir, source=source,
        plugins=plugins, unit_timeout=unit_timeout,
    )  # fmt: skip


def _check_sections(document: dict[str, Any], where: str) -> None:
    """Only the known sections, ``[study]`` among them."""
    unknown = [k for k in document if k not in SECTIONS]
    if unknown:
        raise StudyError(f"{where}: unknown section [{unknown[0]}]; allowed sections: {', '.join(SECTIONS)}")
    if "study" not in document:
        raise StudyError(f"{where}: missing section [study]; allowed sections: {', '.join(SECTIONS)}")


def _study_cells(s: Section, space: str) -> tuple[str, tuple[int, ...]]:
    """The ``[study] cells`` SPEC (an integer is one index) and the cells it names, each once."""
    from harness.spaces.cells import SPEC_FORM, parse_cells

    cells = s.table["cells"]
    if isinstance(cells, int) and not isinstance(cells, bool):
        cells = str(cells)
    if not isinstance(cells, str):
        raise s.error("cells", f"expected a cell SPEC string: {SPEC_FORM}; got {shown(cells)}")
    try:
        cell_indices = tuple(dict.fromkeys(parse_cells(cells, space)))  # a cell listed twice is one unit
    except ValueError as exc:
        raise s.error("cells", f"{exc}") from None
    return cells, cell_indices


def _study_proxies(s: Section, registered: tuple[str, ...]) -> tuple[str, ...]:
    """The ``[study] proxies``: registered names, or "all" of them."""
    if s.table["proxies"] == "all":
        if not registered:
            raise s.error("proxies", "'all' but no proxy is registered in this build")
        return registered
    return s.strings("proxies", None, "proxy names or 'all'", registered)


def _study_modes(s: Section) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``[study] data_modes`` and ``label_modes``, each checked by the data layer."""
    from harness.data import validate_modes

    data_modes = s.strings("data_modes", None, "data modes")
    for mode in data_modes:
        try:
            validate_modes(mode, "true")
        except ValueError as exc:
            raise s.error("data_modes", str(exc)) from None
    label_modes = s.strings("label_modes", None, "label modes")
    for mode in label_modes:
        try:
            validate_modes("real", mode)
        except ValueError as exc:
            raise s.error("label_modes", str(exc)) from None
    return data_modes, label_modes


def _study_unit_timeout(s: Section) -> float | None:
    """The ``[study] unit_timeout`` in seconds (None: no limit)."""
    unit_timeout = s.table.get("unit_timeout")
    if unit_timeout is None:
        return None
    if isinstance(unit_timeout, bool) or not isinstance(unit_timeout, int | float) or not 0 < unit_timeout < 1e9:
        raise s.error("unit_timeout", f"expected a positive number of seconds per unit, got {unit_timeout!r}")
    return float(unit_timeout)


def _analysis_spec(
    a: Section, space: str, datasets: tuple[str, ...], proxies: tuple[str, ...], registered: tuple[str, ...]
) -> AnalysisSpec:
    """The ``[analysis]`` section (its datasets default to the study's)."""
    from harness.datasets import DATASETS

    return AnalysisSpec(
        datasets=a.strings("datasets", datasets, "dataset names", tuple(DATASETS)),
        target=a.string("target", "test", "the ground-truth split", TARGETS),
        epochs=_study_epochs(a, space),
        reports=a.strings("reports", AnalysisSpec.reports, "report parts", REPORTS),
        exclude_degenerate=a.boolean("exclude_degenerate", False),
        aggregates=_study_aggregates(a, proxies, registered),
        builtin_aggregates=a.boolean("builtin_aggregates", True),
    )


def _output_paths(o: Section, name: str) -> tuple[Path, Path, Path]:
    """The ``[output]`` section: the study's directory, store and report directory (by default under
    results/<name>)."""
    out_dir = Path(o.string("dir", f"results/{name}", "a directory"))
    store_path = Path(o.string("store", str(out_dir / "results.sqlite"), "a file path"))
    report_dir = Path(o.string("report_dir", str(out_dir / "report"), "a directory"))
    return out_dir, store_path, report_dir


def _study_epochs(a: Section, space: str) -> int | None:
    """The ``[analysis] epochs``: None when left out (the space's full schedule, which differs between spaces, so
    no single number can be the default); a given value must be a schedule the space's benchmark trained for, so
    a study never asks for ground truth that does not exist. A space without benchmark ground truth (a plugin's)
    has no schedules to check against: any positive number."""
    from harness.groundtruth.spec import EPOCHS, FAMILIES, FULL_EPOCHS

    if not a.has("epochs"):
        return None
    family = FAMILIES.get(space)
    if family is None:
        return a.integer("epochs", None, "training epochs of the ground truth", minimum=1)
    schedules = tuple(sorted(EPOCHS[family], reverse=True))  # the full schedule first
    allowed = ", ".join(map(str, schedules))
    value = a.integer("epochs", None, f"training epochs of the ground truth: {allowed}")
    if value not in schedules:
        full = f"left out: the full schedule, {FULL_EPOCHS[family]}"
        raise a.error("epochs", f"unknown value {value!r} for space {space}; allowed: {allowed} ({full})")
    return value


def _study_aggregates(a: Section, proxies: tuple[str, ...], registered: tuple[str, ...]) -> tuple[str, ...]:
    """The ``[analysis] aggregates`` specs, each parsed as the CLI's ``--aggregate`` and checked against the study:
    its components must be proxies of this study (its report reads only this study's rows), its name neither a
    proxy's nor (for a new ensemble) a registered aggregate's. Analysis only: the scoring units do not change."""
    from harness.aggregates import is_aggregate, parse_aggregate

    if not a.has("aggregates"):
        return ()
    specs = a.strings("aggregates", None, AGGREGATE_FORM)
    names: set[str] = set()
    for spec in specs:
        try:
            aggregate = parse_aggregate(spec)
        except ValueError as exc:
            raise a.error("aggregates", f"{spec!r}: {exc}; expected {AGGREGATE_FORM}") from None
        name = aggregate.name
        if name in names:
            raise a.error("aggregates", f"{spec!r}: the aggregate {name!r} is named twice")
        names.add(name)
        if name in registered:
            raise a.error("aggregates", f"{spec!r}: {name!r} is the name of a proxy; choose another name")
        if "=" in spec and is_aggregate(name):
            raise a.error("aggregates", f"{spec!r}: {name!r} is a registered aggregate's name; choose another name")
        unknown = [c for c in aggregate.components if c not in registered]
        if unknown:
            raise a.error("aggregates", f"{spec!r}: not a registered proxy: {', '.join(unknown)}")
        absent = [c for c in aggregate.components if c not in proxies]
        if absent:
            raise a.error(
                "aggregates",
                f"{spec!r}: {', '.join(absent)} not among this study's proxies ([study] proxies); "
                "its report reads only this study's scores",
            )
    return specs


def _load_study_plugins(s: Section, source: Path | None) -> tuple[str, ...]:
    """Load the ``plugins`` files (relative to the study file) so their proxies and spaces validate below."""
    from harness.plugins import PluginError, load_plugins

    if not s.has("plugins"):
        return ()
    files = s.strings("plugins", None, "plugin files (.py), relative to the study file")
    base = source.parent if source is not None else Path.cwd()
    paths = tuple(str((base / f).resolve()) for f in files)
    try:
        load_plugins(paths)
    except PluginError as exc:
        raise s.error("plugins", str(exc)) from None
    return paths
