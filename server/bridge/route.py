"""The bridge's HTTP side: which requests are bridge upgrades, what they are checked
against before the 101 (drain, origin, the application's allow_request, --transports),
the environ a namespace's ``on_connect`` sees, and the open sessions (drain, shutdown).
The session itself is sessions.py's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Any

from aiohttp import web

from ..config import Config
from ..engine.drain import refusal_while_draining
from ..engine.packets import FORBIDDEN
from ..engine.request import policy_for, refuse
from ..net.remote import client_address
from ..realtime.server import OpenlineServer
from .envelope import CLOSE_GOING_AWAY, Close
from .handshake import SUBPROTOCOLS, quiet_unknown_subprotocols, refuse_disabled
from .sessions import TRANSPORT_NAME, BridgeSession, BridgeSocket, TracedBridgeSession

log = logging.getLogger("openline.bridge")



def origin_allowed(request: web.BaseRequest, config: Config) -> bool:
    """Engine.IO's rule, through the very policy object the engine uses (policy_for), so
    both transports agree: see OriginPolicy."""
    return policy_for(config).allows(request)


def make_environ(request: web.BaseRequest, config: Config) -> dict[str, Any]:
    """The WSGI-style environ python-socketio hands to ``on_connect``."""
    host, port = client_address(request, config.trusted_proxies)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.path_qs,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": host,
        "REMOTE_PORT": str(port),
        "SCRIPT_NAME": "",
        "wsgi.url_scheme": request.scheme,
        "aiohttp.request": request,
        "openline.transport": TRANSPORT_NAME,
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def is_bridge_request(request: web.BaseRequest, engine_path: str) -> bool:
    """A WebSocket upgrade outside ``engine_path`` (--path, "/a/b/" form)."""
    return (request.method == "GET"
            and request.headers.get("Upgrade", "").lower() == "websocket"
            and not request.path.startswith(engine_path))


class Bridge:
    """The bridge for one app: its routes, its open sessions, its shutdown."""

    def __init__(self, sio: OpenlineServer, config: Config) -> None:
        self.sio = sio
        self.config = config
        self.sessions: set[BridgeSession] = set()
        self.draining = False  # set by drain(): new connections get 503
        # DEBUG on when the app is made: sessions log every frame (TracedBridgeSession)
        self.session_class = TracedBridgeSession if log.isEnabledFor(logging.DEBUG) else BridgeSession
        self.written_by_gone = 0  # BridgeSession.written of the sessions ended (for /metrics)
        # the application's say before the 101 (the plugins' allow_request: app_hooks.py)
        self.allow_request: Any = None
        quiet_unknown_subprotocols()

    def install(self, app: web.Application) -> None:
        """Install after every other route: a catch-all route takes the upgrades to paths
        no route claims; routes that serve a page on a path take theirs through
        ``or_page``. Every path outside --path is a namespace, unknown ones must get
        4404 rather than 404, and an app-wide middleware (the first design) kept two
        coroutine frames alive for every Socket.IO connection (~0.5 KB each, 4% of an
        idle one: tracemalloc at 5,000) and ran on every request."""
        app.router.add_route("*", "/{path:.*}", self._catch_all)
        app.on_shutdown.append(self.shutdown)

    async def _catch_all(self, request: web.Request) -> web.StreamResponse:
        if is_bridge_request(request, self.config.path):
            return await self.serve(request)
        raise web.HTTPNotFound()

    def or_page(self, handler: Any) -> Any:
        """``handler`` for requests to its path, the bridge for WebSocket upgrades to it."""

        async def page_or_bridge(request: web.Request) -> web.StreamResponse:
            if is_bridge_request(request, self.config.path):
                return await self.serve(request)
            return await handler(request)

        return functools.update_wrapper(page_or_bridge, handler)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        config = self.config
        if self.draining:
            return refusal_while_draining()
        if not origin_allowed(request, config):
            raise web.HTTPForbidden(text=policy_for(config).refusal(request) + "\n")
        if self.allow_request is not None and not await self.allow_request(request):
            return refuse(FORBIDDEN)  # Engine.IO's 403 body, before the 101
        # aiohttp refuses an uncompressed frame of exactly max_msg_size; --max-payload
        # is the largest frame accepted, as Engine.IO's maxHttpBufferSize is.
        ws = BridgeSocket(
            pong_timeout=config.ping_timeout, heartbeat=config.ping_interval,
            compress=config.websocket_compression, max_msg_size=config.max_payload + 1,
            protocols=SUBPROTOCOLS)
        await ws.prepare(request)  # answers a bad handshake with 400 itself
        if "websocket" not in config.transports:
            await refuse_disabled(ws)  # 4400, after the 101: a browser can read it
            return ws
        engine = self.sio.eio
        session = self.session_class(ws, "b" + secrets.token_urlsafe(15), request.path,
                                request.transport, config.send_budget,
                                getattr(engine, "stalls", None), engine)
        auth = {key: request.query[key] for key in request.query.keys()}
        session.task = asyncio.current_task()
        self.sessions.add(session)
        try:
            await session.run(self.sio, make_environ(request, config), auth)
        finally:
            self.sessions.discard(session)
            self.written_by_gone += session.written
        return ws

    async def drain(self, deadline: float) -> int:
        """SIGTERM's drain, by loop time ``deadline``: new connections get 503, each open
        one is closed with 1001 "server shutting down" (the reason its namespace's
        on_disconnect gets); those not done by then are dropped. Returns how many."""
        self.draining = True
        sessions = list(self.sessions)
        for session in sessions:
            session.shutting_down = True
            session.close(Close(CLOSE_GOING_AWAY, "server shutting down"))
        serving = [s.task for s in sessions if s.task is not None and not s.task.done()]
        if serving:
            await asyncio.wait(serving, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        cut = [s for s in sessions if s.task is not None and not s.task.done()]
        for session in cut:
            session.drop("not closed within --drain-timeout")
        return len(cut)

    async def shutdown(self, app: web.Application) -> None:
        for session in list(self.sessions):
            session.close(Close(CLOSE_GOING_AWAY, "server shutting down"))
        closing = [s.closing for s in self.sessions if s.closing is not None]
        if closing:
            await asyncio.wait(closing, timeout=5)
