"""Plugin discovery.

A plugin is a module with a module-level ``namespace`` (a ``socketio.AsyncNamespace``)
or ``namespaces`` (a list of them), and/or the app hooks ``setup(app)`` and
``allow_request(request)`` (app_hooks.py runs them). A namespace's path may be exact,
``"*"`` or a pattern (realtime/namespaces.py). Sources, in order: the modules of the ``namespaces``
package (unless ``--no-builtins``), the ``openline.namespaces`` entry points of installed
distributions, and every ``*.py`` in each ``--plugins-dir``.

Every call executes the modules afresh (they are not cached in ``sys.modules``), so each
app gets its own namespace instances and nothing happens at import time of openline.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import socketio

from .config import Config
from .errors import PluginError
from .realtime.namespaces import check_hooks, compile_path, label

log = logging.getLogger("openline.plugins")

ENTRY_POINT_GROUP = "openline.namespaces"


@dataclass(frozen=True)
class Plugin:
    """One namespace and where it came from (a file path or an entry point). ``path``: the
    namespace's path, or a regex's pattern text."""

    path: str
    namespace: socketio.AsyncNamespace
    origin: str


@dataclass(frozen=True)
class AppHooks:
    """A plugin module's ``setup(app)`` and ``allow_request(request)``, either may be None."""

    origin: str
    setup: Callable[[Any], Any] | None
    allow_request: Callable[[Any], Any] | None


@dataclass(frozen=True)
class Loaded:
    """What the plugins give one app: their namespaces and their app hooks, in load order."""

    namespaces: list[Plugin]
    hooks: list[AppHooks]


def _execute(spec: importlib.machinery.ModuleSpec | None, origin: str) -> ModuleType:
    if spec is None or spec.loader is None:
        raise PluginError(origin, "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any failure of plugin code refuses start-up
        raise PluginError(origin, f"failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def namespaces_of(module: ModuleType, origin: str) -> list[socketio.AsyncNamespace]:
    """The namespaces a plugin module exports, or PluginError saying why not."""
    if hasattr(module, "namespaces"):
        found = module.namespaces
        if not isinstance(found, (list, tuple)) or not found:
            raise PluginError(origin, "'namespaces' must be a non-empty list of socketio.AsyncNamespace")
    elif hasattr(module, "namespace"):
        found = [module.namespace]
    elif hooks_of(module, origin) is not None:
        return []  # app hooks only
    else:
        raise PluginError(origin, "defines none of 'namespace', 'namespaces', 'setup', 'allow_request'")
    for ns in found:
        if not isinstance(ns, socketio.AsyncNamespace):
            raise PluginError(origin, f"{ns!r} is not an instance of socketio.AsyncNamespace")
        try:
            compile_path(ns.namespace)
            check_hooks(ns)
        except ValueError as exc:
            raise PluginError(origin, str(exc)) from None
    return list(found)


def hooks_of(module: ModuleType, origin: str) -> AppHooks | None:
    """A module's app hooks, None when it has neither; PluginError when one is not callable."""
    hooks = {name: getattr(module, name, None) for name in ("setup", "allow_request")}
    for name, hook in hooks.items():
        if hook is not None and not callable(hook):
            raise PluginError(origin, f"'{name}' must be a function, not {hook!r}")
    if hooks["setup"] is None and hooks["allow_request"] is None:
        return None
    return AppHooks(origin, hooks["setup"], hooks["allow_request"])


BUILTINS = "openline.namespaces"


def _builtin_modules() -> list[tuple[ModuleType, str]]:
    # found by name, not imported: the plugins sit above every layer (they import
    # openline), and each app executes them afresh
    package = importlib.util.find_spec(BUILTINS)
    locations = package.submodule_search_locations if package else None
    if not locations:
        raise PluginError(BUILTINS, "the built-in namespaces are not installed")
    loaded = []
    for info in sorted(pkgutil.iter_modules(locations), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        spec = importlib.util.find_spec(f"{BUILTINS}.{info.name}")
        origin = spec.origin if spec and spec.origin else f"{BUILTINS}.{info.name}"
        loaded.append((_execute(spec, origin), origin))
    return loaded


def _entry_point_modules() -> list[tuple[ModuleType, str]]:
    loaded = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} = {ep.value}"
        module_name = ep.value.split(":")[0]
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError) as exc:
            raise PluginError(origin, f"failed to import: {exc}") from exc
        loaded.append((_execute(spec, origin), origin))
    return loaded


def _directory_modules(directory: Path) -> list[tuple[ModuleType, str]]:
    loaded = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"openline_plugin_{abs(hash(str(path.resolve())))}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        loaded.append((_execute(spec, str(path)), str(path)))
    return loaded


def discover(config: Config) -> list[Plugin]:
    """The namespaces of every plugin the config names (see ``load``)."""
    return load(config).namespaces


def load(config: Config) -> Loaded:
    """Load every plugin the config names; PluginError on any unusable one or a clash."""
    modules: list[tuple[ModuleType, str]] = []
    if config.builtins:
        modules += _builtin_modules()
    modules += _entry_point_modules()
    for directory in config.plugins_dirs:
        modules += _directory_modules(directory)

    plugins: dict[str, Plugin] = {}
    hooks: list[AppHooks] = []
    for module, origin in modules:
        for ns in namespaces_of(module, origin):
            path = label(ns.namespace)
            if path in plugins:
                other = plugins[path].origin
                raise PluginError(f"{other} and {origin}", f"both claim namespace {path!r}")
            plugins[path] = Plugin(path, ns, origin)
            log.debug("namespace %s from %s", path, origin)
        found = hooks_of(module, origin)
        if found is not None:
            hooks.append(found)
    return Loaded(list(plugins.values()), hooks)
