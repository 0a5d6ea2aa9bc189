"""Engine.IO requests straight to their handler, past aiohttp's router (``install``).

aiohttp hands every request of an app to ``Application._handle``, which resolves its
route (``UrlDispatcher.resolve``: the resource index walk, a match-info object built and
frozen per request), checks for ``Expect:`` and wraps the handler in the middlewares.
For a long-polling client every poll and every POST pays that to reach the one route it
ever uses: 5% of the server's time in resolve alone on the poll_echo profile (py-spy);
counted by callgrind, ~15,800 instructions of a refused request's 180,000, and 104,500 ->
101,100 instructions per reply on bench/icount_poll.py (bench/RESULTS.md). aiohttp has no
setting for a route served without the router, so ``install`` replaces the low-level
server's request handler with one that sends a request for exactly that route's path
straight to its handler, with the route's match-info (built once, frozen, as the router
would build it: ``request.match_info``, ``request.app`` and the app's response-prepare
signals work as before), and everything else to ``Application._handle`` as before.

It is installed only where that is the same as the router's answer: the app (and its
sub-apps) have no middlewares (a plugin's ``setup(app)`` may add one: then every request
keeps going through them), no domain sub-apps (matched before any path), and the route
is the first resource registered at its path, a plain one taking every method. A request
with ``Expect:`` goes the usual way (aiohttp's 100-continue handling). The match-info is
one object for all of them, as it holds nothing per request (no path parameters;
frozen). The route is the one whose handler carries ``direct_dispatch = True``
(``Engine.handle_request``): this layer does not know the engine. When that handler's
owner has ``inline_for`` and the server is net/http_guard.py's, its answer (a callable
or None) becomes the server's ``inline``: long-polling requests served in the read
callback (engine/inline.py), under the same conditions as this bypass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import PlainResource, UrlMappingMatchInfo

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def direct_route(app: web.Application) -> tuple[str, Handler, UrlMappingMatchInfo] | None:
    """(path, handler, match-info) of the route to serve past the router, or None when
    the router could answer differently (module docstring)."""
    if getattr(app, "_run_middlewares", True) or app.middlewares:
        return None
    router = app.router
    if getattr(router, "_matched_sub_app_resources", True):
        return None
    found = [(resource, route) for resource in router.resources() for route in resource
             if getattr(route.handler, "direct_dispatch", False)]
    if len(found) != 1:
        return None
    resource, route = found[0]
    if not isinstance(resource, PlainResource) or route.method != hdrs.METH_ANY:
        return None
    path = resource.canonical
    # the router's walk (UrlDispatcher.resolve): the first index key along the path that
    # holds resources, tried in registration order; ours must be the first of them
    index: dict[str, list[Any]] = getattr(router, "_resource_index", {})
    part, candidates = path, list[Any]()
    while part and not candidates:
        candidates = index.get(part, [])
        if part == "/":
            break
        part = part.rpartition("/")[0] or "/"
    if not candidates or candidates[0] is not resource:
        return None
    match_info = UrlMappingMatchInfo({}, route)
    match_info.add_app(app)
    match_info.freeze()
    return path, route.handler, match_info  # type: ignore[return-value]


def install(server: web.Server, app: web.Application) -> bool:
    """Serve ``app``'s direct route past its router on ``server`` (the runner's, after
    ``setup()``: the app is frozen, its middlewares final; before any connection, as each
    connection copies the server's handler). False when it is not safe (left as it is)."""
    found = direct_route(app)
    if found is None:
        return False
    path, handle, match_info = found
    app_handle = server.request_handler

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if request.rel_url.path_safe == path and hdrs.EXPECT not in request.headers:
            request._match_info = match_info  # type: ignore[attr-defined]
            return await handle(request)  # type: ignore[arg-type]
        return await app_handle(request)

    server.request_handler = dispatch
    # and, where the protocol can (http_guard.py's GuardedServer), the requests its owner
    # serves in the read callback: ``inline_for(path, app)`` (Engine: engine/inline.py)
    make = getattr(getattr(handle, "__self__", None), "inline_for", None)
    if make is not None and hasattr(server, "inline"):
        server.inline = make(path, app)
    return True
