"""Plain-WebSocket clients (the browser's bare ``WebSocket``) as Socket.IO sessions.

``GET`` with ``Upgrade: websocket`` on any path but /socket.io/ opens a bridge session:
the path is the namespace, the query string the ``auth`` dict. Each session registers
with the Socket.IO server as a foreign session (``OpenlineServer.add_foreign_session``)
and then connects, sends events and receives emits exactly as an Engine.IO session
does, so rooms and broadcasts reach both kinds. Framing lives in ``envelope.py``.

Close codes: 4403 refused by the namespace (reason: the refusal message), 4404 unknown
namespace, 1009 frame over --max-payload (aiohttp's reader), 1000 server disconnect,
1001 server shutting down. Heartbeat: WebSocket ping after --ping-interval of silence,
closed when no pong comes within --ping-timeout.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from .config import Config
from .engine.request import policy_for
from .envelope import CLOSE_GOING_AWAY, BridgePacket, Close, decode_frame
from .errors import EnvelopeError
from .realtime import OpenlineServer
from .remote import client_address

log = logging.getLogger("openline.bridge")

SOCKETIO_PREFIX = "/socket.io/"
TRANSPORT_NAME = "websocket-bridge"
# Unsent bytes a session may hold, in --max-payload units, before its client is dropped.
SEND_LIMIT_PAYLOADS = 4


class BridgeSocket(web.WebSocketResponse):
    """aiohttp's WebSocket with Engine.IO's heartbeat rule.

    aiohttp waits ``heartbeat / 2`` for a pong; Engine.IO waits ``pingTimeout``, and both
    kinds of client should be dropped after the same silence.
    """

    def __init__(self, *, pong_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pong_heartbeat = pong_timeout


class BridgeSession:
    """One plain WebSocket; answers the engine calls python-socketio makes for its sid."""

    def __init__(self, ws: web.WebSocketResponse, eio_sid: str, namespace: str,
                 tcp: Any = None, send_limit: int = 0) -> None:
        self.ws = ws
        self.eio_sid = eio_sid
        self.namespace = namespace
        self.tcp = tcp
        self.send_limit = send_limit
        self.data: dict[str, Any] = {}  # what python-socketio keeps per engine session
        self.parser: Any = None  # set by OpenlineServer.add_foreign_session
        self.closing: asyncio.Task[Any] | None = None

    # --- the engine interface (see OpenlineServer's foreign sessions) ---------

    async def send_packet(self, eio_sid: str, pkt: eio_packet.Packet) -> None:
        frame = pkt.data
        if frame is None:
            return
        if isinstance(frame, Close):
            self.close(frame)
            return
        if self.ws.closed:
            return
        if self._backlogged():
            return
        try:
            if isinstance(frame, str):
                await self.ws.send_str(frame)
            else:
                await self.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError) as exc:
            # the peer went away mid-broadcast: its reader ends the session; others go on
            log.debug("send to %s failed: %s", self.eio_sid, exc)

    def _backlogged(self) -> bool:
        """Drop a client that stopped reading rather than let its backlog grow or stall
        the broadcast that is writing to it (a write only waits past aiohttp's limit)."""
        tcp = self.tcp
        if tcp is None or not self.send_limit:
            return False
        unsent = tcp.get_write_buffer_size()  # asyncio's and uvloop's transports both have it
        if unsent <= self.send_limit:
            return False
        log.warning("bridge %s: %d bytes unsent, dropping a client that does not read",
                    self.eio_sid, unsent)
        tcp.abort()  # a close frame would only queue behind the backlog
        return True

    async def disconnect(self, eio_sid: str) -> None:
        self.close(Close(1000, "closed by server"))

    async def get_session(self, eio_sid: str) -> dict[str, Any]:
        return self.data

    def transport(self, eio_sid: str) -> str:
        return TRANSPORT_NAME

    # --- lifecycle ------------------------------------------------------------

    def close(self, close: Close) -> None:
        """Start the close handshake without waiting for it: the caller may be an emit
        inside a handler, which must not stall for a client's round trip."""
        if self.closing is None and not self.ws.closed:
            self.closing = asyncio.ensure_future(
                self.ws.close(code=close.code, message=close.reason_bytes()))

    async def run(self, sio: OpenlineServer, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        """Connect to the namespace, relay frames until either side closes, clean up."""
        sio.add_foreign_session(self.eio_sid, self, BridgePacket)
        reason = sio.reason.TRANSPORT_CLOSE
        try:
            await sio._handle_eio_connect(self.eio_sid, environ)
            connecting = await sio._handle_connect(self.eio_sid, self.namespace, auth)
            if connecting is not None:  # a bridge relays only once its connect is settled
                await connecting
            if self.closing is None:
                log.info("bridge %s connected to %s from %s", self.eio_sid, self.namespace,
                         environ.get("REMOTE_ADDR"))
                reason = await self._relay(sio)
        finally:
            if self.closing is not None:
                # Server-side close: let the round trip finish before the session goes,
                # as an Engine.IO session outlives its DISCONNECT packet.
                await asyncio.wait([self.closing])
                reason = sio.reason.SERVER_DISCONNECT
            elif not self.ws.closed:
                await self.ws.close(code=CLOSE_GOING_AWAY)
            await sio._handle_eio_disconnect(self.eio_sid, reason)
            log.info("bridge %s closed (%s, code %s)", self.eio_sid, reason, self.ws.close_code)

    async def _relay(self, sio: OpenlineServer) -> Any:
        ws, namespace, eio_sid = self.ws, self.namespace, self.eio_sid
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                try:
                    inbound = decode_frame(msg.data)
                except EnvelopeError as exc:
                    await sio._send_packet(eio_sid, sio.packet_class(
                        sio_packet.EVENT, data=["error", {"message": f"malformed envelope: {exc}"}],
                        namespace=namespace))
                    continue
                if inbound.ack:
                    await sio._handle_ack(eio_sid, namespace, inbound.id, inbound.args)
                else:
                    await sio._handle_event(eio_sid, namespace, inbound.id,
                                            [inbound.name, *inbound.args])
            elif kind is WSMsgType.CLOSE:
                return sio.reason.CLIENT_DISCONNECT
            elif kind is WSMsgType.ERROR:
                if isinstance(msg.data, asyncio.TimeoutError):
                    return sio.reason.PING_TIMEOUT
                log.info("bridge %s: %s", eio_sid, msg.data)
                return sio.reason.TRANSPORT_ERROR
            else:  # CLOSED, CLOSING
                return sio.reason.TRANSPORT_CLOSE


# --- HTTP side -------------------------------------------------------------------


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


def is_bridge_request(request: web.BaseRequest) -> bool:
    return (request.method == "GET"
            and request.headers.get("Upgrade", "").lower() == "websocket"
            and not request.path.startswith(SOCKETIO_PREFIX))


class Bridge:
    """The bridge for one app: its routes, its open sessions, its shutdown."""

    def __init__(self, sio: OpenlineServer, config: Config) -> None:
        self.sio = sio
        self.config = config
        self.sessions: set[BridgeSession] = set()

    def install(self, app: web.Application) -> None:
        """Install after every other route: a catch-all route takes the upgrades to paths
        no route claims; routes that serve a page on a path take theirs through
        ``or_page``. Every path outside /socket.io/ is a namespace, unknown ones must get
        4404 rather than 404, and an app-wide middleware (the first design) kept two
        coroutine frames alive for every Socket.IO connection (~0.5 KB each, 4% of an
        idle one: tracemalloc at 5,000) and ran on every request."""
        app.router.add_route("*", "/{path:.*}", self._catch_all)
        app.on_shutdown.append(self.shutdown)

    async def _catch_all(self, request: web.Request) -> web.StreamResponse:
        if is_bridge_request(request):
            return await self.serve(request)
        raise web.HTTPNotFound()

    def or_page(self, handler: Any) -> Any:
        """``handler`` for requests to its path, the bridge for WebSocket upgrades to it."""

        async def page_or_bridge(request: web.Request) -> web.StreamResponse:
            if is_bridge_request(request):
                return await self.serve(request)
            return await handler(request)

        return functools.update_wrapper(page_or_bridge, handler)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        config = self.config
        if not origin_allowed(request, config):
            raise web.HTTPForbidden(text=policy_for(config).refusal(request, log) + "\n")
        # aiohttp refuses an uncompressed frame of exactly max_msg_size; --max-payload
        # is the largest frame accepted, as Engine.IO's maxHttpBufferSize is. Writes wait
        # for the socket only every writer_limit bytes; the session bounds the backlog.
        send_limit = SEND_LIMIT_PAYLOADS * config.max_payload
        ws = BridgeSocket(
            pong_timeout=config.ping_timeout, heartbeat=config.ping_interval,
            compress=config.websocket_compression, max_msg_size=config.max_payload + 1,
            writer_limit=send_limit)
        await ws.prepare(request)  # answers a bad handshake with 400 itself
        session = BridgeSession(ws, "b" + secrets.token_urlsafe(15), request.path,
                                request.transport, send_limit)
        auth = {key: request.query[key] for key in request.query.keys()}
        self.sessions.add(session)
        try:
            await session.run(self.sio, make_environ(request, config), auth)
        finally:
            self.sessions.discard(session)
        return ws

    async def shutdown(self, app: web.Application) -> None:
        for session in list(self.sessions):
            session.close(Close(CLOSE_GOING_AWAY, "server shutting down"))
        closing = [s.closing for s in self.sessions if s.closing is not None]
        if closing:
            await asyncio.wait(closing, timeout=5)
