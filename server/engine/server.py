"""``Engine``: openline's Engine.IO v4 server on aiohttp, a drop-in for the
``engineio.AsyncServer`` that python-socketio drives (``on``, ``attach``, ``send``,
``send_packet``, ``disconnect``, sessions, ``transport``, ``shutdown``, helpers).

Departs from python-engineio (each a spec rule it misses or a measured cost): intervals
go out in exact milliseconds; refused requests carry the reference error bodies; a bad
packet, a second GET or POST, or a body over maxPayload closes the session; upgrades
never leak polling-side packets; heartbeat deadlines are exact, with one timer for all
sessions (heartbeat.py); and no task or queue sits between a send and the socket.

With ``--allow-eio3`` (Node's ``allowEIO3``) an ``EIO=3`` handshake opens a v3 session
(eio3_session.py): socket.io-client 2.x, served with the same plugins.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from ..config import Config
from ..errors import ProtocolError
from ..logsafe import about
from . import eio3_session, inline, packets, polling, websocket
from .drain import Before, drain_sessions, refusal_while_draining
from .heartbeat import Heartbeat
from .packets import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    FORBIDDEN,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from .request import environ_for, policy_for, refuse
from .session import Reason, Session, TracedSession
from .stall import StallWatch

log = logging.getLogger("openline.engine")

Handler = Callable[..., Any]

# seconds a session closed by the client's POST waits for a GET sent at the same moment
CLIENT_CLOSE_GRACE = 1.0


class Engine:
    """Engine.IO v4 sessions over long-polling and WebSocket for one aiohttp app."""

    reason = Reason

    async_mode = "aiohttp"
    event_names = ("connect", "disconnect", "message")

    def __init__(self, config: Config | None = None, *, ping_interval: float | None = None,
                 ping_timeout: float | None = None, max_http_buffer_size: int | None = None,
                 transports: list[str] | None = None, send_buffer_limit: int | None = None,
                 logger: Any = False, **_ignored: Any) -> None:
        """``config`` gives every setting; the keywords are python-engineio's names, which
        python-socketio passes through (they win over ``config``)."""
        config = config or Config()
        self.config = config
        self.ping_interval = float(ping_interval if ping_interval is not None else config.ping_interval)
        self.ping_timeout = float(ping_timeout if ping_timeout is not None else config.ping_timeout)
        self.max_payload = int(max_http_buffer_size or config.max_payload)
        self.transports = tuple(transports or config.transports)
        self.allow_eio3 = config.allow_eio3  # also Engine.IO v3 clients (eio3_session.py)
        self.upgrades_from_polling = ["websocket"] if "websocket" in self.transports \
            and config.allow_upgrades else []  # --no-upgrades: none offered, none accepted
        self.compression = config.websocket_compression
        # unsent bytes a peer may have before it is closed (session.py), and how long they
        # may make no progress (stall.py)
        self.send_budget = send_buffer_limit or config.send_budget
        self.send_grace = config.send_grace
        self.stalls = StallWatch(self.send_grace)
        # the one policy of this config: the bridge applies the same object
        self.origins = policy_for(config)
        self.logger = logger if isinstance(logger, logging.Logger) else log
        # DEBUG on when the engine is made: every frame in and out is logged (sessions are
        # TracedSessions); off, nothing is looked at or formatted per frame
        self.trace = log.isEnabledFor(logging.DEBUG)
        self.sessions: dict[str, Session] = {}
        self.handlers: dict[str, Handler] = {}
        self.heartbeat = Heartbeat(self.ping_interval, self.ping_timeout, self._timed_out)
        self._tasks: set[asyncio.Task[Any]] = set()
        # While code that sends runs without suspending (server/realtime/write_scope.py), sessions
        # with frames gathered list themselves here and are written when it suspends or
        # ends, instead of each scheduling its own write for the end of the loop turn.
        self.pending_writes: list[Session] | None = None
        self.direct_message: Handler | None = None
        # The layer above's synchronous hand-off for a message as it is parsed
        # (direct.py): True when it has taken the message, False to get it through the
        # message handler in the read loop as usual.
        self.take_message: Callable[[Session, str | bytes], bool] | None = None
        self.draining = False  # set by drain(): new sessions get 503
        # told the sid of a session that has just moved from polling to its WebSocket
        # (the Admin UI, server/ops/admin.py); None: nothing is told
        self.on_upgrade: Callable[[str], None] | None = None
        self.written_by_gone = 0  # Session.written of the sessions forgotten (for /metrics)
        # The application's say on a request that would open a session (the shell sets it
        # from the plugins' allow_request: server/app_hooks.py); False: 403 Forbidden.
        self.allow_request: Callable[[web.Request], Awaitable[bool]] | None = None

    # --- python-engineio's API, as python-socketio calls it ----------------

    def on(self, event: str, handler: Handler | None = None) -> Any:
        if event not in self.event_names:
            raise ValueError("Invalid event")

        def register(fn: Handler) -> Handler:
            self.handlers[event] = fn
            if event == "message":
                self.direct_message = fn if inspect.iscoroutinefunction(fn) else None
            return fn

        return register if handler is None else register(handler)

    def attach(self, app: web.Application, engineio_path: str = "engine.io") -> None:
        """Serve every method at ``/<path>/``: unsupported ones get the spec's 400."""
        app.router.add_route("*", f"/{engineio_path.strip('/')}/", self.handle_request)

    async def send(self, sid: str, data: Any) -> None:
        session = self.sessions.get(sid)
        if session is None:
            log.debug("cannot send to %s: no such session", sid)
            return
        await session.send(packets.message(data) if isinstance(data, (str, bytes))
                           else packets.frame(packets.MESSAGE, data))

    async def send_packet(self, sid: str, pkt: Any) -> None:
        """Send an ``engineio.packet.Packet``; its encoding is kept on the packet, so a
        broadcast of one packet object encodes once for all recipients."""
        session = self.sessions.get(sid)
        if session is None:
            log.debug("cannot send to %s: no such session", sid)
            return
        frame = getattr(pkt, "_openline_frame", None)
        if frame is None:
            frame = packets.frame(pkt.packet_type, pkt.data)
            try:
                pkt._openline_frame = frame
            except AttributeError:  # a packet class with __slots__: encode each time
                pass
        await session.send(frame)

    async def get_session(self, sid: str) -> dict[str, Any]:
        session = self.sessions[sid]
        user_session = session.user_session
        if user_session is None:  # made on first use: most sessions never need one
            user_session = session.user_session = {}
        return user_session

    async def save_session(self, sid: str, session: dict[str, Any]) -> None:
        self.sessions[sid].user_session = session

    def session(self, sid: str) -> Any:
        engine = self

        class _SessionContext:
            async def __aenter__(self) -> dict[str, Any]:
                self.data = await engine.get_session(sid)
                return self.data

            async def __aexit__(self, *exc: Any) -> None:
                await engine.save_session(sid, self.data)

        return _SessionContext()

    def transport(self, sid: str) -> str:
        return self.sessions[sid].transport

    async def disconnect(self, sid: str | None = None) -> None:
        if sid is None:
            for each in list(self.sessions.values()):
                await self.close(each, self.reason.SERVER_DISCONNECT)
            return
        session = self.sessions.get(sid)
        if session is not None:
            await self.close(session, self.reason.SERVER_DISCONNECT)

    async def drain(self, deadline: float, before: Before | None = None) -> int:
        """SIGTERM's graceful close of every session (drain.py), awaiting ``before(sid)``
        for each before its client is told; by loop time ``deadline``. Returns how many
        sessions were cut at the deadline."""
        return await drain_sessions(self, deadline, before)

    async def shutdown(self) -> None:
        """Close every session: pending polls end with the close packet, sockets close."""
        await self.disconnect()
        self.sessions.clear()
        self.stalls.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def start_background_task(self, target: Handler, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(target(*args, **kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float = 0) -> None:
        await asyncio.sleep(seconds)

    def create_event(self, *args: Any, **kwargs: Any) -> asyncio.Event:
        return asyncio.Event(*args, **kwargs)

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        return asyncio.Queue(*args, **kwargs)

    def get_queue_empty_exception(self) -> type[Exception]:
        return asyncio.QueueEmpty

    @staticmethod
    def generate_id() -> str:
        return secrets.token_urlsafe(15)  # 120 random bits, 20 URL-safe characters

    def is_asyncio_based(self) -> bool:
        return True

    # --- requests ----------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        """Check a request against Engine.IO v4 and route it to its transport."""
        origins = self.origins
        if request.method == hdrs.METH_OPTIONS:
            return origins.preflight(request)
        # CORS headers only for an allowed origin, on every response: a refusal issued
        # before the origin check must not echo a refused origin with credentials
        allowed = origins.check(request)
        headers = allowed or {}
        query = request.query
        transport = query.get("transport")
        if transport not in self.transports:
            return refuse(UNKNOWN_TRANSPORT, headers)
        if query.get("EIO") != "4" and not (self.allow_eio3 and query.get("EIO") == "3"):
            return refuse(UNSUPPORTED_PROTOCOL_VERSION, headers)
        if allowed is None:
            # browsers enforce CORS on polling, but nothing stops a page opening a
            # WebSocket to any origin: the allow-list is applied here to both
            origins.refusal(request)
            return refuse(FORBIDDEN)
        is_ws = transport == "websocket"
        if is_ws and request.headers.get("Upgrade", "").lower() != "websocket":
            return refuse(BAD_REQUEST, headers)
        sid = query.get("sid")
        if sid is None:
            if request.method != hdrs.METH_GET:
                return refuse(BAD_HANDSHAKE_METHOD, headers)
            if self.draining:
                return refusal_while_draining(headers)
            if self.allow_request is not None and not await self.allow_request(request):
                return refuse(FORBIDDEN, headers)
            if is_ws:
                # A WebSocket session's whole life runs in this frame, so it keeps nothing
                # it no longer needs (the query, the CORS headers) and runs the session
                # here rather than one coroutine level down: ~0.5 KB of an idle
                # connection's 13.8 KB (tracemalloc at 5,000 clients).
                del query, headers, transport, allowed
                sid = self.generate_id()  # now: the 101 carries the --cookie
                ws, head = await websocket.accept(self, request, hold_head=True, sid=sid)
                session = await self.open_session(request, "websocket", ws, head, sid)
                websocket.forget_request_properties(request)  # read for the environ
                if session is None:
                    await ws.close()
                else:
                    await websocket.read(self, session, ws)
                return ws
            return await polling.handshake(self, request, headers)
        session = self.sessions.get(sid)
        if session is None or (session.closed and not session.lingering):
            return refuse(UNKNOWN_SID, headers)
        if self.allow_eio3 and query["EIO"] != ("3" if session.protocol == 3 else "4"):
            return refuse(BAD_REQUEST, headers)  # one session, one Engine.IO revision
        if is_ws:
            return await websocket.upgrade(self, session, request)
        if session.transport != "polling":
            return refuse(BAD_REQUEST, headers)  # the session has moved to its WebSocket
        if request.method == hdrs.METH_GET:
            return await polling.get(self, session, request, headers)
        if request.method == hdrs.METH_POST:
            return await polling.post(self, session, request, headers)
        return refuse(BAD_REQUEST, headers)

    # served past aiohttp's router under `openline run` (net/fast_dispatch.py)
    handle_request.direct_dispatch = True  # type: ignore[attr-defined]

    def inline_for(self, path: str, app: web.Application) -> inline.Inline | None:
        """Long-polling requests of ``path`` served in the read callback (inline.py)."""
        return inline.for_app(self, path, app)

    def refused_connection(self, headers: dict[str, str]) -> web.Response:
        return refuse(FORBIDDEN, headers)

    # --- session lifecycle -------------------------------------------------

    async def open_session(self, request: web.Request, transport: str,
                           ws: web.WebSocketResponse | None = None,
                           head: bytes | None = None, sid: str | None = None) -> Session | None:
        """Create a session, queue its open packet, run the connect handler; None when
        the handler refuses. ``head``: the WebSocket's unsent 101 response, written
        together with the open packet."""
        sid = sid or self.generate_id()
        kind = TracedSession if self.trace else Session
        if self.allow_eio3 and request.query.get("EIO") == "3":  # socket.io-client 2.x
            kind = eio3_session.session_class(self.trace)
        session = kind(self, sid, environ_for(request, self.config.trusted_proxies), transport)
        upgrades = self.upgrades_from_polling if transport == "polling" else []
        opening = packets.open_frame(sid, upgrades, self.ping_interval, self.ping_timeout,
                                     self.max_payload)
        if ws is not None:
            session.ws = ws
            session.socket = request.transport
            if head:
                session.out = bytearray(head)
        self.sessions[sid] = session
        await session.send(opening)
        if head:
            session.write_out()  # nothing may go out before the 101 response
        try:
            accepted = await self._call("connect", sid, session.environ)
        except Exception:
            log.exception("session %s: connect handler failed", sid, extra=about(sid))
            accepted = False
        if accepted is not None and accepted is not True:
            self.sessions.pop(sid, None)
            session.write_out()  # the open packet precedes the close frame
            session.closed = True
            log.info("session %s refused by the application (%s)", sid,
                     "403 Forbidden" if ws is None else "close code 1000 sent", extra=about(sid))
            return None
        if not session.closed:
            self.heartbeat.start(session)
        log.info("session %s open over %s from %s", sid, transport,
                 session.environ.get("REMOTE_ADDR"), extra=about(sid))
        return session

    async def on_message(self, sid: str, data: str | bytes) -> None:
        """One message to the application, in order, on the caller's task."""
        handler = self.direct_message
        try:
            if handler is not None:
                await handler(sid, data)
            elif "message" in self.handlers:
                await self._call("message", sid, data)
        except Exception:
            log.exception("session %s: message handler failed", sid, extra=about(sid))

    async def receive(self, session: Session, ptype: int, data: Any) -> None:
        """A non-message packet from the client, on any transport."""
        if ptype == packets.PONG:
            if session.protocol == 3:  # v3 clients ping, never pong (Node: "invalid heartbeat direction")
                raise ProtocolError("a pong from an Engine.IO v3 client")
            self.heartbeat.pong(session)
        elif ptype == packets.CLOSE:
            await self.close(session, self.reason.CLIENT_DISCONNECT, by_client=True)
        elif ptype == packets.MESSAGE:
            await self.on_message(session.sid, data)
        elif ptype == packets.PING and session.protocol == 3:
            self.heartbeat.client_ping(session)  # answered with a pong (eio3_session.py)
        elif ptype != packets.NOOP and ptype != packets.PING:
            raise ProtocolError(f"unexpected packet type {ptype} from a client")

    async def close(self, session: Session, reason: str, by_client: bool = False) -> None:
        """End a session once: a pending GET is answered at once, the disconnect handler
        runs, and sockets finish closing in the background (a peer may take a while to
        acknowledge a WebSocket close)."""
        if session.closed:
            return
        session.closed = True
        self.heartbeat.stop(session)
        # an orderly close by us leaves the rest and the close packet for the next GET;
        # a dead or misbehaving peer's session is gone at once
        session.end_polling(by_client, linger=reason == self.reason.SERVER_DISCONNECT)
        ws = session.ws
        if session.probe is None and session.flusher is None and (ws is None or ws.closed):
            session.out = None  # nothing left to close or to flush: no task (a mass
            # disconnect paid a task and an asyncio.wait per peer that had gone already)
        else:
            session.closing = self.start_background_task(session.close_sockets)
        log.info("session %s closed: %s%s", session.sid, reason, session.close_note(),
                 extra=about(session.sid))
        # shielded: a request handler runs this (a WebSocket's read loop, a polling POST),
        # and aiohttp with handler_cancellation (TestServer's default) cancels it when the
        # peer goes; a disconnect handler that waits (the Redis recovery store's save) must
        # still finish, and the session then be forgotten (measured: it stayed listed)
        await asyncio.shield(self._disconnected(session, reason, by_client))

    async def _disconnected(self, session: Session, reason: str, by_client: bool,
                            grace: float | None = None) -> None:
        """Run the disconnect handler, then forget the session, or keep a lingering one
        for ``grace`` seconds (default: by who closed it) for the GET on its way."""
        try:
            # the session stays listed meanwhile: disconnect handlers read its user session
            await self._call("disconnect", session.sid, reason)
        except Exception:
            log.exception("session %s: disconnect handler failed", session.sid,
                          extra=about(session.sid))
        if session.lingering:
            # ours: as long as a client may take to poll again; the client's own close:
            # only for a GET already on its way
            if grace is None:
                grace = CLIENT_CLOSE_GRACE if by_client else self.ping_interval + self.ping_timeout
            asyncio.get_running_loop().call_later(grace, self.forget, session)
        else:
            self.forget(session)

    def forget(self, session: Session) -> None:
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]
            self.written_by_gone += session.written

    def close_soon(self, session: Session, reason: str) -> None:
        """``close`` from a plain callback (a timer, a failed write)."""
        if not session.closed:
            self.start_background_task(self.close, session, reason)

    def _timed_out(self, session: Session) -> None:
        self.close_soon(session, self.reason.PING_TIMEOUT)

    async def _call(self, event: str, *args: Any) -> Any:
        handler = self.handlers.get(event)
        if handler is None:
            return None
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
