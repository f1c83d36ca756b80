"""Each built-in proxy's declared direction, read from its ``@register_proxy(...)`` call without importing it.

Importing the proxy registry imports torch (every proxy module computes with it), and the analysis commands
need nothing of a proxy but its direction: they read the declarations' source instead, so that reading a
store never waits for torch. ``tests/test_cli_startup.py`` checks this table against the registry.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PROXIES_DIR = Path(__file__).resolve().parents[1] / "proxies"
DEFAULT_HIGHER_IS_BETTER = True  # register_proxy's default


@cache
def declared_directions() -> dict[str, bool | None]:
    """Proxy name -> higher_is_better as written in its declaration; None where the value is computed."""
    found: dict[str, bool | None] = {}
    for path in sorted(PROXIES_DIR.glob("*.py")):
        if path.name.startswith("_") or path.name == "base.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = _string_constants(tree)
        for node in ast.walk(tree):
            name = _declared_name(node, constants)
            if name is not None:
                found[name] = _direction(node)  # type: ignore[arg-type]
    return found


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (a proxy may be declared under such a name)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _declared_name(node: ast.AST, constants: dict[str, str]) -> str | None:
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    first = node.args[0]
    if called != "register_proxy":
        return None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return constants.get(first.id) if isinstance(first, ast.Name) else None


def _direction(call: ast.Call) -> bool | None:
    for keyword in call.keywords:
        if keyword.arg == "higher_is_better":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else None
    if any(keyword.arg is None for keyword in call.keywords):
        return None  # a **mapping might set it: only the registry knows
    return DEFAULT_HIGHER_IS_BETTER
