"""Plain-WebSocket clients (the browser's bare ``WebSocket``) as Socket.IO sessions.

``GET`` with ``Upgrade: websocket`` outside --path (/socket.io/) opens a bridge session:
the path is the namespace, the query string the ``auth`` dict. Each session registers
with the Socket.IO server as a foreign session (``OpenlineServer.add_foreign_session``)
and then connects, sends events and receives emits exactly as an Engine.IO session
does, so rooms and broadcasts reach both kinds. Framing lives in ``envelope.py``.

Close codes: 4403 refused by the namespace (reason: the refusal message), 4404 unknown
namespace, 4400 websocket not among --transports (handshake.py), 1009 frame over
--max-payload (aiohttp's reader), 1000 server disconnect,
1001 server shutting down. Heartbeat: WebSocket ping after --ping-interval of silence,
closed when no pong comes within --ping-timeout.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..config import Config
from ..engine.direct import ClosingWebSocket, close_note
from ..engine.drain import refusal_while_draining
from ..engine.packets import FORBIDDEN, websocket_header
from ..engine.request import policy_for, refuse
from ..engine.session import held_by
from ..engine.stall import StallWatch
from ..errors import EnvelopeError
from ..logsafe import about, preview
from ..net.remote import client_address
from ..realtime.server import OpenlineServer
from .envelope import CLOSE_GOING_AWAY, BridgePacket, Close, decode_frame
from .handshake import SUBPROTOCOLS, quiet_unknown_subprotocols, refuse_disabled

log = logging.getLogger("openline.bridge")
_OUT_LIMIT = 1 << 16  # gathered bytes written at once (as engine/session.py's)

TRANSPORT_NAME = "websocket-bridge"
SHUTTING_DOWN = "server shutting down"  # the engine's Reason.SERVER_SHUTTING_DOWN


class BridgeSocket(ClosingWebSocket):
    """aiohttp's WebSocket with Engine.IO's heartbeat rule.

    aiohttp waits ``heartbeat / 2`` for a pong; Engine.IO waits ``pingTimeout``, and both
    kinds of client should be dropped after the same silence.
    """

    def __init__(self, *, pong_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pong_heartbeat = pong_timeout

    def _reset_heartbeat(self) -> None:
        # aiohttp re-arms its heartbeat from a data-received callback even once the socket
        # has closed; that timer then kept every refused connection's socket, request and
        # transport (~8 KB) alive for a ping interval (the fuzz's RSS growth)
        if not self.closed:
            super()._reset_heartbeat()


class BridgeSession:
    """One plain WebSocket; answers the engine calls python-socketio makes for its sid.

    Writes never wait for the peer (a broadcast writes to every member in one go): an
    uncompressed frame goes straight into the TCP transport's buffer, a compressed one
    waits in ``backlog`` for aiohttp's writer, drained by one task per busy spell. What
    is held for the client is bounded by --send-budget, and the engine's StallWatch
    closes a client whose unsent bytes make no progress for --send-grace.
    """

    trace = False  # TracedBridgeSession: every frame logged at DEBUG

    def __init__(self, ws: web.WebSocketResponse, eio_sid: str, namespace: str,
                 tcp: Any = None, send_budget: int = 0, stalls: StallWatch | None = None,
                 scope: Any = None) -> None:
        self.ws = ws
        self.eio_sid = eio_sid
        self.namespace = namespace
        self.tcp = tcp
        self.send_budget = send_budget
        self.stalls = stalls
        self.data: dict[str, Any] = {}  # what python-socketio keeps per engine session
        self.parser: Any = None  # set by OpenlineServer.add_foreign_session
        self.closing: asyncio.Task[Any] | None = None
        self.backlog: collections.deque[tuple[str | bytes, int]] = collections.deque()  # frame, bytes
        self.backlogged = 0
        self.flusher: asyncio.Task[None] | None = None
        self.written = 0  # bytes handed to the transport or to aiohttp's writer
        self.dropped = False  # closed for not reading
        self.shutting_down = False  # closed by the drain: its disconnect reason says so
        self.task: asyncio.Task[Any] | None = None  # the handler serving it (Bridge.serve)
        self.out: bytearray | None = None  # frames gathered this turn, as engine sessions'
        self.scope = scope  # the Engine: ``out`` is written when its write scope ends

    trace = False  # TracedBridgeSession: frames logged at DEBUG

    @property
    def closed(self) -> bool:
        return self.dropped or self.ws.closed

    # --- the engine interface (see OpenlineServer's foreign sessions) ---------

    async def send_packet(self, eio_sid: str, pkt: eio_packet.Packet) -> None:
        frame = pkt.data
        if frame is None:
            return
        if isinstance(frame, Close):
            self.close(frame)
            return
        if self.closed:
            return
        self.take(frame)

    def take(self, frame: str | bytes) -> None:
        """Write ``frame`` now or queue it; never waits (see the class docstring)."""
        binary = not isinstance(frame, str)
        wire = frame if binary else frame.encode()  # type: ignore[union-attr]
        tcp = self.tcp
        unsent = self.unsent()
        if unsent:
            # behind already: what this client holds counts against its budget, and the
            # StallWatch follows it (a client that keeps up pays one look per frame)
            held = unsent + len(wire)
            if self.send_budget and held > self.send_budget:
                if self.stalls is not None:  # counted for /metrics (server/ops/metrics.py)
                    self.stalls.over_budget += 1
                self.drop(f"{held} bytes unsent, over the send budget of {self.send_budget} "
                          "bytes (the peer is not reading; --send-budget)")
                return
            if self.stalls is not None and tcp is not None:
                self.stalls.note(self)
        if tcp is None or self.ws.compress or self.backlog:
            self.backlog.append((frame, len(wire)))
            self.backlogged += len(wire)
            if self.flusher is None:
                self.flusher = asyncio.ensure_future(self._flush())
        elif tcp.is_closing():
            return  # the peer went away mid-broadcast: its reader ends the session
        else:
            out = self.out
            if out is None:
                out = self.out = bytearray()
                pending = getattr(self.scope, "pending_writes", None)
                if pending is not None:
                    pending.append(self)
                else:
                    asyncio.get_running_loop().call_soon(self.write_out)
            out += websocket_header(binary, len(wire))
            out += wire  # type: ignore[arg-type]
            self.written += len(wire)
            if len(out) > _OUT_LIMIT:  # a burst is counted against the budget as it goes
                self.write_out()

    def write_out(self) -> None:
        """Write the frames ``take`` gathered (before anything that must follow them)."""
        out, self.out = self.out, None
        tcp = self.tcp
        if out and tcp is not None and not tcp.is_closing():
            tcp.write(bytes(out))

    async def _flush(self) -> None:
        ws = self.ws
        try:
            while self.backlog and not self.closed:
                frame, size = self.backlog.popleft()
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_bytes(frame)
                self.backlogged -= size
                self.written += size
        except (ConnectionError, RuntimeError) as exc:
            # the peer went away: its reader ends the session; others go on
            log.debug("session %s: send failed: %s", self.eio_sid, exc, extra=about(self.eio_sid))
        finally:
            self.flusher = None

    # what the engine's StallWatch reads (server/engine/stall.py)
    def unsent(self) -> int:
        tcp = self.tcp
        held = self.backlogged + (len(self.out) if self.out else 0)
        if tcp is not None and not tcp.is_closing():
            held += held_by(tcp)
        return held

    def drained(self) -> int:
        tcp = self.tcp
        return self.written - (len(self.out) if self.out else 0) \
            - (tcp.get_write_buffer_size() if tcp is not None else 0)

    def stall(self, unsent: int, seconds: float) -> None:
        if self.stalls is not None:
            self.stalls.stalled += 1
        self.drop(f"{unsent} bytes unsent for {seconds:.1f}s (the peer stopped reading; --send-grace)")

    def drop(self, why: str) -> None:
        """Close a client that does not read: at once, without a close handshake, which
        would only queue behind the unread bytes."""
        if self.dropped:
            return
        self.dropped = True
        log.warning("session %s closing: %s", self.eio_sid, why, extra=about(self.eio_sid))
        self.backlog.clear()
        self.backlogged = 0
        self.out = None
        if self.flusher is not None:
            self.flusher.cancel()
        if self.tcp is not None:
            self.tcp.abort()

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
        if self.closing is None and not self.closed:
            self.write_out()  # the frames taken before go first
            self.closing = asyncio.ensure_future(self._close(close))

    async def _close(self, close: Close) -> None:
        # aiohttp's close drains the socket first, with no bound of its own
        grace = self.stalls.grace if self.stalls is not None else 5.0
        try:
            await asyncio.wait_for(self.ws.close(code=close.code, message=close.reason_bytes()), grace)
        except TimeoutError:
            self.drop(f"close handshake not done within {grace:g}s")

    async def run(self, sio: OpenlineServer, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        """Connect to the namespace, relay frames until either side closes, clean up."""
        sio.add_foreign_session(self.eio_sid, self, BridgePacket)
        reason = sio.reason.TRANSPORT_CLOSE
        log.info("session %s open over %s from %s", self.eio_sid, TRANSPORT_NAME,
                 environ.get("REMOTE_ADDR"), extra=about(self.eio_sid))
        try:
            await sio._handle_eio_connect(self.eio_sid, environ)
            connecting = await sio._handle_connect(self.eio_sid, self.namespace, auth)
            if connecting is not None:  # a bridge relays only once its connect is settled
                await connecting
            if self.closing is None:
                reason = await self._relay(sio)
        finally:
            try:
                if self.closing is not None:
                    # Server-side close: let the round trip finish before the session goes,
                    # as an Engine.IO session outlives its DISCONNECT packet.
                    reason = SHUTTING_DOWN if self.shutting_down else sio.reason.SERVER_DISCONNECT
                    await asyncio.wait([self.closing])
                elif not self.ws.closed:
                    await self.ws.close(code=CLOSE_GOING_AWAY)
            finally:
                # also when aiohttp cancels this handler meanwhile (the peer left during
                # the close): the session must not stay registered (sio.environ, rooms)
                log.info("session %s closed: %s (%s)", self.eio_sid, reason,
                         "aborted: no close frame" if self.dropped else close_note(self.ws),
                         extra=about(self.eio_sid))
                await sio._handle_eio_disconnect(self.eio_sid, reason)

    async def _relay(self, sio: OpenlineServer) -> Any:
        ws, namespace, eio_sid = self.ws, self.namespace, self.eio_sid
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                if self.trace:
                    log.debug("session %s received %s", eio_sid, preview(msg.data), extra=about(eio_sid))
                try:
                    inbound = decode_frame(msg.data, sio.config.max_json_depth)
                except EnvelopeError as exc:
                    log.debug("session %s: malformed envelope: %s", eio_sid, exc, extra=about(eio_sid))
                    await sio._send_packet(eio_sid, sio.packet_class(
                        sio_packet.EVENT, data=["error", {"message": f"malformed envelope: {exc}"}],
                        namespace=namespace))
                    continue
                if inbound.ack:
                    await sio._handle_ack(eio_sid, namespace, inbound.id, inbound.args)
                else:
                    await sio._handle_event(eio_sid, namespace, inbound.id,
                                            [inbound.name, *inbound.args], size=len(msg.data))
            elif kind is WSMsgType.CLOSE:
                return sio.reason.CLIENT_DISCONNECT
            elif kind is WSMsgType.ERROR:
                if isinstance(msg.data, asyncio.TimeoutError):
                    return sio.reason.PING_TIMEOUT
                log.info("session %s closing: %s", eio_sid, msg.data, extra=about(eio_sid))
                return sio.reason.TRANSPORT_ERROR
            else:  # CLOSED, CLOSING
                return sio.reason.TRANSPORT_CLOSE


class TracedBridgeSession(BridgeSession):
    """A bridge session logging every frame in and out at DEBUG; the bridge makes these
    instead when DEBUG is on, so an ordinary session pays nothing for it."""

    trace = True

    def take(self, frame: str | bytes) -> None:
        log.debug("session %s sent %s", self.eio_sid, preview(frame), extra=about(self.eio_sid))
        super().take(frame)


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
