"""The house plan as a contract: the package's layers and the one direction its imports may go.

Every ``import`` in ``harness/**.py`` is read with ``ast``: module-level, inside functions (lazy imports) and under
``TYPE_CHECKING`` alike. A unit is a subpackage (``harness/spaces/``) or a top-level module (``harness/errors.py``);
``harness`` itself is the package's ``__init__`` (it re-exports the API). A unit may import units of lower layers
only; units that share a layer are independent siblings (neither imports the other). docs/architecture.md describes
the same order; change both together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness"

# Bottom to top. The one place the order is defined (docs/architecture.md draws it).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors", "names", "paths", "datasets"),  # foundations: import nothing of harness
    ("spaces",),  # cells, networks, params/FLOPs, isomorphism, the cell-spec parser
    ("data",),  # batches, data and label modes
    ("proxies",),  # one file per proxy, the registry, the proxy contract check
    ("ranking",),  # ranks over a set of cells, their combinations and the one missing-value rule (torch-free)
    ("scoring", "aggregates", "plugins"),  # engine | pool aggregates (torch-free) | plugin-file loader
    ("store", "groundtruth"),  # SQLite results | benchmark accuracies
    ("search",),  # NASI and sample-and-pick search (algorithms; no study files)
    ("studies",),  # study files of both kinds (a search study calls search), local/process/Ray backends
    ("analysis",),  # correlation, comparison, agnosticism (no torch)
    ("report",),  # figures, tables, report.md, a study's report step
    ("api",),  # harness.score, run_study, ... (the library at a glance)
    ("cli", "docgen"),  # the command line (no logic) | generators of docs/cli.md and docs/proxies.md
    ("__main__", "harness"),  # python -m harness | the package __init__ (re-exports api, __version__)
)

# Third-party modules some units must not import (directly), whatever their layer.
FORBIDDEN = {
    "pandas": ("proxies",),  # per-cell proxies; pool ranking over a DataFrame is in aggregates
    "argparse": tuple(u for layer in LAYERS for u in layer if u not in ("cli", "docgen", "__main__")),
    "torch": ("_version", "errors", "names", "paths", "ranking", "aggregates", "store", "analysis", "report"),
}

RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _unit_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if len(rel.parts) == 1:
        return "harness" if rel.name == "__init__.py" else rel.stem
    return rel.parts[0]


def _unit_of_module(module: str, name: str | None = None) -> str | None:
    """The unit ``module`` (or ``from module import name``) belongs to; None outside harness."""
    parts = module.split(".")
    if parts[0] != "harness":
        return None
    if len(parts) > 1:
        return parts[1]
    if name is not None and ((PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir()):
        return name  # from harness import errors
    return "harness"  # import harness / from harness import __version__


def _module_name(path: Path) -> list[str]:
    parts = ["harness", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, imported name or None) for every import statement of ``path``, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = _module_name(path)
                base = base if path.name == "__init__.py" else base[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                yield node.lineno, module, alias.name


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def layer_violations() -> list[str]:
    out = []
    for path in _files():
        source = _unit_of_file(path)
        for line, module, name in imports(path):
            target = _unit_of_module(module, name)
            if target is None or target == source:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if source not in RANK or target not in RANK:
                out.append(f"{where}: {source} -> {target}: a unit missing from LAYERS (add it to the house plan)")
            elif RANK[target] > RANK[source]:
                out.append(f"{where}: {source} imports {module} ({target}, a higher layer)")
            elif RANK[target] == RANK[source]:
                out.append(f"{where}: {source} imports {module} ({target}, a sibling of its layer)")
    return list(dict.fromkeys(out))


def forbidden_imports() -> list[str]:
    out = []
    for path in _files():
        source = _unit_of_file(path)
        for line, module, _ in imports(path):
            top = module.split(".")[0]
            if source in FORBIDDEN.get(top, ()):
                out.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} imports {module}")
    return list(dict.fromkeys(out))


def test_every_unit_has_a_layer() -> None:
    units = {_unit_of_file(p) for p in _files()}
    assert sorted(units - set(RANK)) == [], "add these to LAYERS (tests/test_layers.py, docs/architecture.md)"
    assert sorted(set(RANK) - units) == [], "LAYERS names units that no longer exist"
    assert len(RANK) == sum(len(layer) for layer in LAYERS), "a unit is in two layers"


def test_imports_go_down_the_layers_only() -> None:
    bad = layer_violations()
    assert bad == [], "imports against the house plan (docs/architecture.md):\n" + "\n".join(bad)


def test_no_forbidden_third_party_imports() -> None:
    bad = forbidden_imports()
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize(
    "text, unit, expected",
    [
        ("from harness.report import build_report\n", "studies", "a higher layer"),
        ("def f():\n    from harness.report.build import x\n", "studies", "a higher layer"),
        ("from harness import __version__\n", "store", "a higher layer"),
        ("import harness.search.runner\n", "store", "a higher layer"),
        ("if TYPE_CHECKING:\n    from harness.report import x\n", "studies", "a higher layer"),
        ("from ..report import build\n", "studies", "a higher layer"),  # relative
        ("from harness import aggregates\n", "scoring", "a sibling"),
        ("from . import sibling_module\n", "studies", None),
        ("from harness.spaces import get_space\n", "studies", None),
    ],
)
def test_the_checker_sees_module_and_function_level_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, unit: str, expected: str | None
) -> None:
    fake = tmp_path / "harness"
    fake.mkdir()
    for name in ("_version", "errors", "names", "paths", "datasets", "aggregates", "plugins", "api"):
        (fake / f"{name}.py").write_text("")
    for name in ("spaces", "report", "search", "scoring", "store", "studies"):
        (fake / name).mkdir(exist_ok=True)
    (fake / unit / "mod.py").write_text(text)
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    monkeypatch.setitem(globals(), "_files", lambda: [fake / unit / "mod.py"])
    found = layer_violations()
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_the_forbidden_imports_check_sees_pandas_in_a_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "harness"
    (fake / "proxies").mkdir(parents=True)
    (fake / "proxies" / "p.py").write_text("def rank(frame):\n    import pandas as pd\n    return pd.Series(frame)\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    monkeypatch.setitem(globals(), "_files", lambda: [fake / "proxies" / "p.py"])
    assert forbidden_imports() == ["harness/proxies/p.py:2: proxies imports pandas"]
