"""The Socket.IO layer: python-socketio's AsyncServer with openline's policies.

- serializer: each connection's parser is fixed by config or detected from its first
  packet (text: JSON, binary: msgpack), so JSON and msgpack clients share rooms;
- connect: unknown namespaces get ``{"message": "Invalid namespace"}``, refusals carry
  their reason, and emits made inside a connect handler are held until the CONNECT ack;
- events: one client's events run in the order sent; an escaping exception is logged
  and answered with an ``error`` event, never with its text (``EventError`` excepted);
- malformed packets close the connection, and so do packets past a limit a conforming
  client never reaches: more attachments than --max-attachments (refused on the header,
  before any is buffered, as Node's socket.io-parser does), nesting past
  --max-json-depth, twice --max-queued-events waiting (below that, back-pressure: see
  server/realtime/client_steps.py); each is one WARNING line.
  A CONNECT past --max-namespaces is refused with CONNECT_ERROR (the session stays).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..config import Config
from ..engine import Engine
from ..engine.deadlines import Deadlines
from ..engine.packets import message as message_frame
from ..errors import ProtocolError
from ..logsafe import about
from ..recovery import Missed, Saved, Store
from . import acks, connlog, protocol_v4
from .binary_fast import Assembly, take_attachment
from .client_steps import ClientSteps
from .connect import ConnectPath
from .manager import FastEmitManager
from .packet_rules import (
    check_depth,
    json_may_nest,
    json_min_length,
    malformed_reason,
    msgpack_may_nest,
    msgpack_min_length,
    validate,
)
from .parsers import PARSERS, JsonPacket, parser_for_first_packet, repack
from .resume import Recovery
from .write_scope import in_write_scope

log = logging.getLogger("openline.realtime")


class OpenlineServer(ConnectPath):
    """python-socketio's server with openline's parser, connect and error policies."""

    def __init__(self, config: Config, client_manager: socketio.AsyncManager | None = None,
                 recovery: Store | None = None) -> None:
        self.config = config
        # connection state recovery (resume.py): None when --recovery-window is off
        self.recovery = Recovery(recovery) if recovery is not None else None
        self._resuming: dict[tuple[str, str], tuple[Saved, Missed]] = {}
        self._fixed_parser = None if config.serializer == "auto" else PARSERS[config.serializer]
        self._held: dict[str, list[eio_packet.Packet]] = {}
        # recovered sessions: namespace -> the newest offset its replay covered; a live
        # emit at or before it (delivered late: pub/sub lagging the log) is not sent again
        self._replayed: dict[str, dict[str, str]] = {}
        self._connect_deadlines: Deadlines[str] = Deadlines(config.connect_timeout, self._connect_timed_out)
        self._foreign: dict[str, Any] = {}  # bridge: eio_sid -> its session (see below)
        self._coroutine_handlers: dict[Any, bool] = {}  # handler function -> async or not
        self._max_depth = config.max_json_depth
        self._json_nests = json_min_length(config.max_json_depth)
        self._msgpack_nests = msgpack_min_length(config.max_json_depth)
        self._rate = config.rate_limit
        self._burst = config.rate_burst
        self._buckets = {}
        self.counts = None  # set by ops/meter.install when metrics are on
        cors: Any = None if config.cors_origins is None else (
            "*" if config.cors_origins == ("*",) else list(config.cors_origins))
        super().__init__(
            client_manager=client_manager or FastEmitManager(),
            logger=False,
            serializer=self._fixed_parser or JsonPacket,
            async_mode="aiohttp",
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            max_http_buffer_size=config.max_payload,
            cors_allowed_origins=cors,
            transports=list(config.transports),
            namespaces=[],
            config=config,  # for our Engine (python-engineio would ignore it)
        )
        self._steps = ClientSteps(self.eio if type(self.eio) is Engine else None,
                                  config.max_queued_events, self._flooded,
                                  config.max_queued_bytes, config.handler_overlap)
        if type(self.eio) is Engine:
            self.eio.take_message = self._take_message

    def _engineio_server_class(self) -> Any:
        """python-socketio builds its engine from this: ours, not python-engineio's."""
        return Engine

    # --- parsers and writes ------------------------------------------------
    def _session_of(self, eio_sid: str) -> Any:
        """The session (ours, a bridge's, python-engineio's .sockets) owning its parser."""
        sessions = self.eio.sessions if type(self.eio) is Engine else self.eio.sockets
        return sessions.get(eio_sid) or self._foreign.get(eio_sid)

    def parser_of(self, eio_sid: str) -> type[sio_packet.Packet]:
        return getattr(self._session_of(eio_sid), "parser", None) or self._fixed_parser or JsonPacket

    @staticmethod
    def eio_frames(pkt: sio_packet.Packet) -> list[eio_packet.Packet]:
        encoded = pkt.encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        return [eio_packet.Packet(eio_packet.MESSAGE, data=e) for e in encoded]

    async def _send_packet(self, eio_sid: str, pkt: sio_packet.Packet) -> None:
        pkt = repack(pkt, self.parser_of(eio_sid))
        session = self.eio.sessions.get(eio_sid) if type(self.eio) is Engine \
            and eio_sid not in self._held and eio_sid not in self._foreign else None
        if session is not None:  # straight to our engine's session: no engineio packet
            encoded = pkt.encode()  # (an ack is sent per event: ~10% of echo time)
            for data in encoded if isinstance(encoded, list) else (encoded,):
                await session.send(message_frame(data))
            return
        for frame in self.eio_frames(pkt):
            await self._send_eio_packet(eio_sid, frame)

    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None,
             skip_sid: Any = None, namespace: str | None = None, callback: Any = None,
             ignore_queue: bool = False) -> Awaitable[None]:
        """Stock's coroutine, minus its INFO log call per emit (logger=False: never shown),
        and minus a coroutine of its own: the manager's emit is the awaitable returned."""
        if ignore_queue:
            return self.manager.emit(event, data, namespace or "/", to or room,  # type: ignore[no-any-return]
                                     skip_sid, callback, ignore_queue=True)
        # positional: a keyword call, and its dict for **kwargs, cost more than the rest
        return self.manager.emit(event, data, namespace or "/", to or room,  # type: ignore[no-any-return]
                                 skip_sid, callback)

    def call(self, event: str, data: Any = None, to: Any = None, sid: Any = None,
             namespace: str | None = None, timeout: float | None = 60,
             ignore_queue: bool = False) -> Awaitable[Any]:
        """Stock's coroutine, without a task per call, its answer settled as it is parsed
        (acks.py), and without a coroutine of its own: acks.call's is the awaitable returned."""
        return acks.call(self, event, data, to or sid, namespace, timeout, ignore_queue)

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """Stock's, in a write scope (write_scope.py) as the client workers run: what the
        task sends leaves when it suspends, one write per socket, as a handler's does."""
        if type(self.eio) is not Engine or not inspect.iscoroutinefunction(target):
            return super().start_background_task(target, *args, **kwargs)
        return self.eio.start_background_task(in_write_scope, target(*args, **kwargs), self.eio)

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: eio_packet.Packet) -> None:
        held = self._held.get(eio_sid)
        if held is not None:
            held.append(eio_pkt)
            return
        if self._replayed and eio_sid in self._replayed and self._replayed_already(eio_sid, eio_pkt):
            return
        await self._engine_for(eio_sid).send_packet(eio_sid, eio_pkt)  # bridge: was self.eio

    # --- Engine.IO session lifecycle ----------------------------------------

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        self._connect_deadlines.add(eio_sid)
        if getattr(self._session_of(eio_sid), "protocol", 4) == 3:  # socket.io-client 2.x
            await protocol_v4.opened(self, eio_sid)  # joins "/" now (protocol_v4.py)

    def _connect_timed_out(self, eio_sid: str) -> None:
        log.info("session %s closing: no CONNECT within %gs", eio_sid, self.config.connect_timeout,
                 extra=about(eio_sid))
        self.start_background_task(self._close_session, eio_sid)

    async def _close_session(self, eio_sid: str) -> None:
        engine = self._engine_for(eio_sid)
        socket = engine.sockets.get(eio_sid) if isinstance(engine, engineio.AsyncServer) else None
        if socket is None:
            await engine.disconnect(eio_sid)
            return
        # stock python-engineio's disconnect() waits until a GET fetches the CLOSE packet,
        # so a polling client that sent a bad packet in a POST with no GET pending would
        # hang that POST, and keep the session, forever
        await socket.close(wait=False, reason=engine.reason.SERVER_DISCONNECT)

    def _flooded(self, eio_sid: str) -> None:
        """ClientSteps' word that a client has too many events waiting. Called from the
        engine's hand-off inside aiohttp's parser too, hence a task for the close."""
        log.warning("session %s closing: more than %d events queued, past the back-pressure "
                    "bound (--max-queued-events)", eio_sid, self._steps.hard, extra=about(eio_sid))
        self.start_background_task(self._close_session, eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._connect_deadlines.discard(eio_sid)
        if self.recovery is not None:
            await self._keep_sockets(eio_sid, reason)
        await super()._handle_eio_disconnect(eio_sid, reason)
        self._held.pop(eio_sid, None)
        self._replayed.pop(eio_sid, None)
        self._steps.end(eio_sid)
        self._buckets.pop(eio_sid, None)
        self._foreign.pop(eio_sid, None)  # bridge

    async def _keep_sockets(self, eio_sid: str, reason: Any) -> None:
        """Save the session's sockets for recovery (resume.py) before their on_disconnect.
        A client's Engine.IO CLOSE is a transport close here, as Node's engine.io names
        it: a client leaving for good sends a Socket.IO DISCONNECT first, which has
        removed its socket already."""
        assert self.recovery is not None
        why = self.reason.TRANSPORT_CLOSE if reason == self.reason.CLIENT_DISCONNECT else reason
        for namespace in list(self.manager.get_namespaces()):
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and self.manager.is_connected(sid, namespace):
                await self.recovery.keep(self, eio_sid, namespace, sid, why)

    async def drain(self, deadline: float) -> int:
        """SIGTERM's graceful drain, by loop time ``deadline`` (server/engine/drain.py): new
        sessions refused, each live socket saved for recovery (reason "server shutting
        down") before its client is told, then its transport closed so the client
        reconnects. Returns how many sessions were cut at the deadline."""
        keep = self._keep_for_drain if self.recovery is not None else None
        return int(await self.eio.drain(deadline, keep))

    async def _keep_for_drain(self, eio_sid: str) -> None:
        await self._keep_sockets(eio_sid, Engine.reason.SERVER_SHUTTING_DOWN)

    # --- foreign sessions (server/bridge/sessions.py) ----------------------------------
    # Plain-WebSocket bridge sessions are not Engine.IO's: each registers here with the
    # engine calls it answers (send_packet, disconnect, get_session, transport; send_now:
    # an event or ack it encodes itself, EventPath._send_direct) and its
    # packet class, then goes through _handle_eio_connect/_handle_connect/_handle_event
    # like any session, so namespaces, rooms and broadcasts treat both kinds alike.

    def add_foreign_session(self, eio_sid: str, session: Any,
                            parser: type[sio_packet.Packet]) -> None:
        self._foreign[eio_sid] = session
        session.parser = parser

    def _engine_for(self, eio_sid: str) -> Any:
        return self._foreign.get(eio_sid) or self.eio

    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        namespace = namespace or "/"
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        engine_session = await self._engine_for(eio_sid).get_session(eio_sid)
        return engine_session.setdefault(namespace, {})

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        namespace = namespace or "/"
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        engine_session = await self._engine_for(eio_sid).get_session(eio_sid)
        engine_session[namespace] = session

    def transport(self, sid: str, namespace: str | None = None) -> str:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        return str(self._engine_for(eio_sid).transport(eio_sid))

    # --- end of foreign sessions ----------------------------------------------

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        if eio_sid not in self.environ:
            return  # the rest of a polling payload whose session was closed
        try:
            pending = self._binary_packet.get(eio_sid)
            if pending is None:
                taken = self._take_event(eio_sid, self._session_of(eio_sid), data)
            else:  # an attachment: binary_fast.py's packet, or stock's (in _dispatch)
                taken = type(pending) is Assembly and take_attachment(self, eio_sid, pending, data)
            if not taken:
                await self._dispatch(eio_sid, data)
        except (ProtocolError, ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
            # The peer broke the protocol (or nested data past Python's recursion limit):
            # Socket.IO v5 says the connection closes.
            log.warning("session %s closing: malformed Socket.IO packet: %s", eio_sid,
                        malformed_reason(exc, self._max_depth), extra=about(eio_sid))
            await self._close_session(eio_sid)

    async def _dispatch(self, eio_sid: str, data: str | bytes) -> None:
        if eio_sid in self._binary_packet:
            if not isinstance(data, (bytes, bytearray)):
                raise ProtocolError("expected a binary attachment")
            pkt = self._binary_packet[eio_sid]
            if pkt.add_attachment(data):
                del self._binary_packet[eio_sid]
                if pkt.packet_type == sio_packet.BINARY_EVENT:
                    await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data,
                                             size=len(data))
                else:
                    await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
            return
        session = self._session_of(eio_sid)
        parser: type[sio_packet.Packet] | None = getattr(session, "parser", None)
        if parser is None:  # the session's first Socket.IO packet decides, for good
            parser = session.parser = self._fixed_parser or parser_for_first_packet(data)
        pkt = parser(encoded_packet=data)
        validate(pkt)
        depth = self._max_depth
        if type(data) is str:
            deep = len(data) >= self._json_nests and json_may_nest(data, depth)
        else:
            deep = len(data) >= self._msgpack_nests and msgpack_may_nest(data, depth)  # type: ignore[arg-type]
        if deep:
            check_depth(pkt.data, depth)
        ptype = pkt.packet_type
        if ptype == sio_packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif ptype == sio_packet.DISCONNECT:
            sid = self.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/")
            if sid is not None and self.manager.is_pre_connected(sid, pkt.namespace or "/"):
                # its on_connect is still running: leave once that has settled
                self._chain(eio_sid, self._handle_disconnect, eio_sid, pkt.namespace,
                            self.reason.CLIENT_DISCONNECT)
            else:
                await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif self.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/") is None:
            raise ProtocolError(f"packet for namespace {pkt.namespace or '/'} before its CONNECT")
        elif ptype == sio_packet.EVENT:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data, size=len(data))
        elif ptype == sio_packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        else:  # BINARY_EVENT / BINARY_ACK: wait for the attachments
            # python-socketio takes any count (up to 10 digits) and buffers them all;
            # each is one frame of at most --max-payload, so this bounds the bytes too
            if pkt.attachment_count > self.config.max_attachments:
                raise ProtocolError(f"{pkt.attachment_count} attachments declared "
                                    f"(limit {self.config.max_attachments})")
            self._binary_packet[eio_sid] = pkt

    # --- events: server/realtime/events.py; each disconnect is logged, its handler's errors too

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        if event != "disconnect":
            return await super()._trigger_event(event, namespace, *args)
        eio_sid = self.manager.eio_sid_from_sid(args[0], namespace) or "?"
        with connlog.disconnecting(args[0], eio_sid, namespace, args[1] if len(args) > 1 else None):
            try:
                return await super()._trigger_event(event, namespace, *args)
            except Exception:
                log.exception("sid %s (session %s): disconnect handler of %s failed", args[0],
                              eio_sid, namespace, extra=about(eio_sid))
                return None

    def instrument(self, *args: Any, **kwargs: Any) -> Any:
        """python-socketio's Admin UI hook patches python-engineio's server, which openline
        does not run (and broke every disconnect when forced): one clear error instead."""
        from ..errors import OpenlineError

        raise OpenlineError("sio.instrument() is not available in openline: the Socket.IO "
                            "Admin UI is served by `openline run --admin` (with "
                            "--admin-user/--admin-password), at /admin/ and on the /admin "
                            "namespace; remove the instrument() call")
