"""Plugins: proxies and search spaces defined outside this repository.

A plugin is one Python file whose ``@register_proxy`` / ``@register_space`` decorators run when it is imported
(``--plugin PATH.py``, ``plugins = [...]`` in a study file), or an installed package exposing an entry point in
the group ``nasi_harness.proxies``. Why the source text and not the path travels to workers: a Ray worker on
another machine has no access to the driver's files, and a spawned process must register exactly what the
driver registered; so each loaded file is remembered as (path, text) and workers execute the same text.

Nothing here imports torch until there is a plugin to load (the CLI calls ``load_plugins`` before every
command, and the analysis commands start without torch). A plugin that fails is one ``PluginError`` line naming
the file and the exception, raised before any scoring; whatever it registered before failing is removed again.
"""

from __future__ import annotations

import hashlib
import os
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError

ENTRY_POINT_GROUP = "nasi_harness.proxies"


class PluginError(HarnessError):
    """A plugin that could not be loaded; the message is one line naming it and the cause."""


@dataclass(frozen=True)
class PluginSource:
    """A loaded plugin file: where it came from (for messages) and the text that was executed."""

    path: str
    text: str

    @property
    def module_name(self) -> str:
        """Unique per file content, so two files called ``my_proxy.py`` never share a module."""
        digest = hashlib.sha256(f"{self.path}\0{self.text}".encode()).hexdigest()[:12]
        stem = "".join(c if c.isalnum() else "_" for c in Path(self.path).stem)
        return f"nasi_harness_plugin_{stem}_{digest}"


_LOADED: dict[str, PluginSource] = {}  # module name -> source, in load order
_ENTRY_POINTS_LOADED = False


def loaded_sources() -> tuple[PluginSource, ...]:
    """The plugin files loaded in this process, for workers to load too."""
    return tuple(_LOADED.values())


def read_plugin(path: str | os.PathLike) -> PluginSource:
    """Read a plugin file, refusing what cannot be Python source (one line each)."""
    p = Path(path)
    if not p.is_file():
        raise PluginError(f"plugin {p}: file not found")
    if p.suffix != ".py":
        raise PluginError(f"plugin {p}: not a Python file (expected a .py file)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PluginError(f"plugin {p}: not a Python file (not UTF-8 text)") from None
    return PluginSource(str(p.resolve()), text)


def load_plugins(paths: Iterable[str | os.PathLike] = (), *, entry_points: bool = True) -> list[str]:
    """Import each plugin file (and, once per process, the installed entry points); return the names of the
    proxies and spaces they registered. Loading the same file twice is a no-op."""
    added: list[str] = []
    if entry_points:
        added += load_entry_points()
    for path in paths:
        added += load_source(read_plugin(path))
    return added


def load_sources(sources: Sequence[PluginSource], *, entry_points: bool = True) -> list[str]:
    """In a worker: execute the plugin texts the driver loaded (see ``loaded_sources``)."""
    added = load_entry_points() if entry_points else []
    for source in sources:
        added += load_source(source)
    return added


def load_source(source: PluginSource) -> list[str]:
    """Execute one plugin's text as a fresh module; roll its registrations back if it raises."""
    name = source.module_name
    if name in _LOADED:
        return []
    try:
        code = compile(source.text, source.path, "exec")
    except (SyntaxError, ValueError) as exc:
        raise PluginError(f"plugin {source.path}: not valid Python: {_one_line(exc)}") from None
    module = types.ModuleType(name)
    module.__file__ = source.path
    sys.modules[name] = module
    try:
        added = _registering(lambda: exec(code, module.__dict__), f"plugin {source.path}")
    except PluginError:
        sys.modules.pop(name, None)
        raise
    _LOADED[name] = source
    return added


def load_entry_points() -> list[str]:
    """Import every installed package's ``nasi_harness.proxies`` entry point (once per process)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return []
    _ENTRY_POINTS_LOADED = True
    added: list[str] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):  # none installed: nothing imported
        added += _registering(ep.load, f"plugin entry point {ep.name} ({ep.value})")
    return added


def _registering(load: Callable[[], object], where: str) -> list[str]:
    """Run ``load``; return the new proxy and space names, or undo them and raise one ``PluginError`` line."""
    from harness.proxies import base as proxy_base
    from harness.spaces import base as space_base

    proxies_before = set(proxy_base._REGISTRY)
    spaces_before = dict(space_base._SPACES)
    try:
        load()
        replaced = [n for n, cls in spaces_before.items() if space_base._SPACES.get(n) is not cls]
        if replaced:
            raise ValueError(f"search space {replaced[0]!r} is already registered; choose another name")
    except BaseException as exc:  # noqa: BLE001 - any failure of foreign code is one line, never a traceback
        for n in set(proxy_base._REGISTRY) - proxies_before:
            proxy_base.unregister_proxy(n)
        space_base._SPACES.clear()
        space_base._SPACES.update(spaces_before)
        for n in list(space_base._INSTANCES):
            if n not in spaces_before:
                space_base._INSTANCES.pop(n)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise PluginError(f"{where} failed to import: {_one_line(exc)}") from None
    new = sorted(set(proxy_base._REGISTRY) - proxies_before) + sorted(set(space_base._SPACES) - set(spaces_before))
    return new


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def plugin_proxy(text: str) -> str:
    """``PATH.py:NAME`` -> load the plugin and return NAME (checked to be registered); ``NAME`` -> NAME."""
    from harness.proxies import get_proxy, proxy_names

    path, sep, name = text.rpartition(":")
    if sep and path.endswith(".py"):
        added = load_plugins([path])
        if name not in proxy_names():
            raise PluginError(
                f"plugin {path} registers no proxy {name!r} (it registered: {', '.join(added) or 'none'})"
            )
    elif text.endswith(".py"):
        raise PluginError(f"{text}: name the proxy too, as {text}:NAME")
    else:
        name = text
    return get_proxy(name).name
