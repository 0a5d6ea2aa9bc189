"""The plugins' app hooks: ``setup(app)`` and ``allow_request(request)``.

``setup(app)`` is called once per app by ``create_app``, in plugin load order, after
openline's own routes (``/socket.io/``, the demo page, ``/status``, the publish API) and
before the bridge's catch-all route: a plugin may add routes, middlewares, ``cleanup_ctx``
and signals. A plugin route on one of openline's own paths, or anywhere under
``/socket.io/``, would never be reached (aiohttp takes the first route registered for a
path), so it refuses start-up instead. A route a plugin adds takes its path from the bridge:
a WebSocket upgrade to it reaches the plugin's handler, not a namespace.

``allow_request(request)`` (sync or async) decides each request that would open a
session, before it exists: an Engine.IO handshake over polling or WebSocket, and a bridge
upgrade, after the origin check. True lets it through; anything else refuses it with
Engine.IO's 403 ``{"code":4,"message":"Forbidden"}`` (a bridge upgrade before the 101).
Several plugins' checks all have to pass, in load order. One that raises refuses, with its
traceback logged; one that returns neither True nor False refuses, with a WARNING.
Requests of an open session (polls, the upgrade of a polling session) are not asked again.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import PluginError
from .plugins import AppHooks

log = logging.getLogger("openline.plugins")

Gate = Callable[[web.BaseRequest], Awaitable[bool]]
OWN_PREFIX = "/socket.io/"


def run_setups(app: web.Application, hooks: list[AppHooks], own_prefix: str = OWN_PREFIX) -> None:
    """Call each plugin's ``setup(app)``; PluginError when one fails, is a coroutine
    function, or adds a route openline's routes would hide (``own_prefix``: --path)."""
    own = {resource.canonical for resource in app.router.resources()}
    for hook in hooks:
        if hook.setup is None:
            continue
        before = set(app.router.routes())
        try:
            result = hook.setup(app)
        except Exception as exc:
            raise PluginError(hook.origin, f"setup(app) failed: {type(exc).__name__}: {exc}") from exc
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise PluginError(hook.origin, "setup(app) must be a plain function; start async work in "
                                           "app.cleanup_ctx or app.on_startup")
        for route in app.router.routes():
            path = route.resource.canonical if route.resource is not None else ""
            if route not in before and (path in own or path.startswith(own_prefix)):
                raise PluginError(hook.origin, f"setup(app) adds a route at {path}, which is openline's "
                                               "own: it would never be reached")
        log.debug("setup(app) of %s ran", hook.origin)


def request_gate(hooks: list[AppHooks]) -> Gate | None:
    """One check running every plugin's ``allow_request`` in order; None when no plugin has one."""
    checks = [(hook.origin, hook.allow_request) for hook in hooks if hook.allow_request is not None]
    if not checks:
        return None

    async def allowed(request: web.BaseRequest) -> bool:
        for origin, check in checks:
            try:
                verdict = check(request)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except Exception:
                log.exception("allow_request of %s failed: the request is refused", origin)
                return False
            if verdict is not True:
                if verdict is not False:
                    log.warning("allow_request of %s returned %r, not True or False: the request "
                                "is refused", origin, verdict)
                return False
        return True

    return allowed
