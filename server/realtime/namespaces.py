"""Namespaces beyond one fixed path: the catch-all, path patterns, and connect hooks.

A namespace object's ``namespace`` may be

- an exact path, ``"/chat"``: python-socketio's own kind;
- ``"*"``, the catch-all: every namespace nothing else serves, as python-socketio's
  ``AsyncNamespace("*")`` with ``namespaces="*"``;
- a pattern: a path with ``<name>`` (one segment: one or more characters other than
  ``/``) or ``<path:name>`` (the rest: one or more characters, ``/`` included) in it,
  e.g. ``"/rooms/<id>"`` or ``"/files/<path:rest>"`` (Flask's syntax, those two
  converters); or a compiled ``re.Pattern`` that the whole namespace must match
  (``re.fullmatch``), as Node's ``io.of(/regex/)``. Named groups are the parameters.

A namespace is served by its exact owner, else by the first pattern that matches (in
the order the plugins were loaded), else by the catch-all. The handlers of a catch-all
or pattern namespace get the concrete namespace first, before ``sid``, as python-socketio
calls a ``"*"`` namespace's: ``on_connect(namespace, sid, environ, auth)``,
``on_<event>(namespace, sid, *args)``, ``on_disconnect(namespace, sid, reason)``, and
openline's ``on_error(namespace, sid, event, exc)``; emits and rooms name it:
``self.emit(..., namespace=namespace)``, ``self.enter_room(sid, room, namespace=namespace)``.

Connect hooks: a namespace object's ``middlewares`` (a list; ``Namespace.use`` appends)
run in order before its ``on_connect``, each called as ``hook(sid, environ, auth,
namespace)``, sync or async. A hook refuses by raising ``ConnectionRefusedError(message,
data)`` (python-socketio's or the builtin; the client's ``connect_error`` gets
``err.message`` and ``err.data``) or by returning False; anything else lets the next run.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import socketio

from . import namespace_emit

Hook = Callable[[str, dict[str, Any], Any, str], "Awaitable[Any] | Any"]

CATCH_ALL = "*"
_PARAM = re.compile(r"<(?:(?P<converter>[^<>:]*):)?(?P<name>[^<>]*)>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CONVERTERS = {None: "[^/]+", "path": ".+"}
_CACHED = 4096  # concrete namespaces remembered per server (client-chosen: bounded)


def compile_path(path: Any) -> re.Pattern[str] | None:
    """The pattern a namespace path declares; None for an exact path or the catch-all.
    ValueError, saying what is wrong, for anything else."""
    if isinstance(path, re.Pattern):
        if not isinstance(path.pattern, str):
            raise ValueError(f"namespace pattern {path.pattern!r} must be a str pattern, not bytes")
        return path
    if not isinstance(path, str) or (path != CATCH_ALL and not path.startswith("/")):
        raise ValueError(f"namespace path {path!r} must start with '/' (or be '*')")
    if path == CATCH_ALL or ("<" not in path and ">" not in path):
        return None
    parts, names, at = [], set(), 0
    for param in [*_PARAM.finditer(path), None]:
        literal = path[at:param.start() if param is not None else len(path)]
        if "<" in literal or ">" in literal:
            raise ValueError(f"namespace pattern {path!r}: unmatched '<' or '>'")
        parts.append(re.escape(literal))
        if param is None:
            break
        converter, name = param["converter"], param["name"]
        if converter not in _CONVERTERS or not _NAME.match(name) or name in names:
            raise ValueError(
                f"namespace pattern {path!r}: {param[0]} is not <name> or <path:name> with a "
                "new Python identifier (for anything else give a compiled re.Pattern)")
        names.add(name)
        parts.append(f"(?P<{name}>{_CONVERTERS[converter]})")
        at = param.end()
    return re.compile("".join(parts))


def label(path: Any) -> str:
    """How a namespace path is named in logs and refusals: a regex by its pattern text."""
    return str(path.pattern) if isinstance(path, re.Pattern) else str(path)


def check_hooks(ns: Any) -> None:
    """ValueError unless a namespace's ``middlewares`` (when it has them) is a list of callables."""
    hooks = getattr(ns, "middlewares", None)
    if hooks is None:
        return
    if not isinstance(hooks, (list, tuple)) or not all(callable(h) for h in hooks):
        raise ValueError(f"'middlewares' of {ns!r} must be a list of callables, "
                         "each called as hook(sid, environ, auth, namespace)")


class Namespace(socketio.AsyncNamespace):
    """python-socketio's ``AsyncNamespace`` plus connect hooks and a pattern's parameters.

    ``Namespace("/rooms/<id>")``; ``middlewares`` (a class attribute, the ``middlewares=``
    argument, or ``use``) are run before ``on_connect`` (see the module docstring). A plain
    ``AsyncNamespace`` may serve ``"*"`` or a pattern too, and may set ``middlewares``.
    """

    middlewares: list[Hook]  # a subclass may give a class-level list: each instance copies it

    def __init__(self, namespace: Any = None, middlewares: Sequence[Hook] = ()) -> None:
        super().__init__(namespace)
        self._pattern = compile_path(self.namespace)
        self.middlewares = [*getattr(type(self), "middlewares", ()), *middlewares]
        check_hooks(self)

    def use(self, hook: Hook) -> Hook:
        """Add a connect hook, run after those added before; returns it (a decorator)."""
        if not callable(hook):
            raise TypeError(f"a connect hook must be callable, not {hook!r}")
        self.middlewares.append(hook)
        return hook

    def params(self, namespace: str) -> dict[str, str]:
        """The pattern's parameters in a concrete namespace: ``{"id": "42"}`` for
        ``/rooms/42`` served by ``/rooms/<id>``; {} for an exact or catch-all namespace."""
        found = self._pattern.fullmatch(namespace) if self._pattern is not None else None
        return found.groupdict() if found is not None else {}


class NamespacePaths(socketio.AsyncServer):
    """The Socket.IO server's side: which namespace object serves a concrete namespace,
    and its connect hooks. Exact and catch-all objects stay in python-socketio's
    ``namespace_handlers`` (stock's shape, stock's ``"*"`` key); patterns are kept here, so
    a client naming a template literally (``/rooms/<id>``) is matched like any other."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._patterns: list[tuple[re.Pattern[str], socketio.AsyncNamespace]] = []
        self._served: dict[str, socketio.AsyncNamespace | None] = {}
        self.multi_namespaces = False  # any pattern or catch-all registered
        super().__init__(*args, **kwargs)

    def register_namespace(self, namespace_handler: Any) -> None:
        path = namespace_handler.namespace if isinstance(namespace_handler, socketio.AsyncNamespace) else None
        pattern = compile_path(path) if path is not None else None
        check_hooks(namespace_handler)
        super().register_namespace(namespace_handler)
        if isinstance(namespace_handler, socketio.AsyncNamespace):
            namespace_emit.bind(self, namespace_handler)
        if pattern is not None:  # stock filed it under the pattern itself
            del self.namespace_handlers[path]
            self._patterns.append((pattern, namespace_handler))
        self.multi_namespaces = bool(self._patterns) or CATCH_ALL in self.namespace_handlers
        self._served.clear()

    def serving(self, namespace: str) -> socketio.AsyncNamespace | None:
        """The pattern or catch-all object serving ``namespace``; None when none does (an
        exact namespace's object is ``namespace_handlers[namespace]``, not this)."""
        if not self.multi_namespaces:
            return None
        served = self._served
        if namespace in served:
            return served[namespace]
        found = next((ns for pattern, ns in self._patterns if pattern.fullmatch(namespace)),
                     self.namespace_handlers.get(CATCH_ALL))
        if len(served) >= _CACHED:
            served.clear()
        served[namespace] = found
        return found

    def serves(self, namespace: str) -> bool:
        """Whether a client may connect to ``namespace`` (and the API emit to it)."""
        return namespace in self.namespace_handlers or namespace in self.handlers \
            or self.serving(namespace) is not None

    def leading(self, namespace: str) -> tuple[str, ...]:
        """What a namespace's handlers take before ``sid``: ``(namespace,)`` when a pattern
        or the catch-all serves it, as python-socketio calls a ``"*"`` namespace's."""
        if namespace in self.namespace_handlers or namespace in self.handlers \
                or self.serving(namespace) is None:
            return ()
        return (namespace,)

    def _get_namespace_handler(self, namespace: str, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        """Stock's look-up (exact, then ``"*"`` with the namespace put first) with the
        patterns between the two."""
        handler = self.namespace_handlers.get(namespace)
        if handler is not None:
            return handler, args
        served = self.serving(namespace)
        return (served, (namespace, *args)) if served is not None else (None, args)

    async def connect_hooks(self, namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> bool:
        """Run the serving object's connect hooks in order; False when one returned False.
        A hook's exception propagates (a ConnectionRefusedError is the refusal)."""
        ns = self.namespace_handlers.get(namespace) or self.serving(namespace)
        hooks = getattr(ns, "middlewares", None)
        if not hooks:
            return True
        for hook in tuple(hooks):
            result = hook(sid, environ, auth, namespace)
            if inspect.isawaitable(result):
                result = await result
            if result is False:
                return False
        return True


def refusal_of(exc: ConnectionRefusedError) -> dict[str, Any]:
    """The CONNECT_ERROR payload for the builtin ``ConnectionRefusedError``, shaped as
    python-socketio's own: ``(message)`` or ``(message, data)`` (an OSError keeps no third
    argument in ``args``)."""
    args = exc.args
    refusal: dict[str, Any] = {"message": str(args[0]) if args else "Connection rejected by server"}
    if len(args) >= 2:
        refusal["data"] = args[1]
    return refusal
