"""Plain-WebSocket clients (the browser's bare ``WebSocket``) as Socket.IO sessions.

``GET`` with ``Upgrade: websocket`` outside --path (/socket.io/) opens a bridge session:
the path is the namespace, the query string the ``auth`` dict. Each session registers
with the Socket.IO server as a foreign session (``OpenlineServer.add_foreign_session``)
and then connects, sends events and receives emits exactly as an Engine.IO session
does, so rooms and broadcasts reach both kinds. Framing lives in ``envelope.py``, the
writes and their budget in ``outbound.py``, the route and the checks before the 101 in
``route.py``.

Close codes: 4403 refused by the namespace (reason: the refusal message), 4404 unknown
namespace, 4400 websocket not among --transports (handshake.py), 1009 frame over
--max-payload (aiohttp's reader), 1000 server disconnect,
1001 server shutting down. Heartbeat: WebSocket ping after --ping-interval of silence,
closed when no pong comes within --ping-timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..engine.direct import DirectQueue, DirectWebSocketResponse, close_note
from ..engine.stall import StallWatch
from ..errors import EnvelopeError
from ..logsafe import about, preview
from ..realtime.server import OpenlineServer
from .envelope import CLOSE_GOING_AWAY, BridgePacket, Close, decode_frame, encode_ack, encode_event
from .outbound import BridgeOutbound

log = logging.getLogger("openline.bridge")

TRANSPORT_NAME = "websocket-bridge"
SHUTTING_DOWN = "server shutting down"  # the engine's Reason.SERVER_SHUTTING_DOWN


class BridgeSocket(DirectWebSocketResponse):
    """aiohttp's WebSocket with Engine.IO's heartbeat rule, its messages offered to the
    session as they are parsed (server/engine/direct.py, BridgeSession.offered).

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


class BridgeSession(BridgeOutbound):
    """One plain WebSocket; answers the engine calls python-socketio makes for its sid.

    Its writes (``take``) and their budget are BridgeOutbound's (outbound.py).
    """

    trace = False  # TracedBridgeSession: every frame logged at DEBUG

    def __init__(self, ws: web.WebSocketResponse, eio_sid: str, namespace: str,
                 tcp: Any = None, send_budget: int = 0, stalls: StallWatch | None = None,
                 scope: Any = None) -> None:
        super().__init__(ws, eio_sid, tcp, send_budget, stalls, scope)
        self.namespace = namespace
        self.data: dict[str, Any] = {}  # what python-socketio keeps per engine session
        self.parser: Any = None  # set by OpenlineServer.add_foreign_session
        self.closing: asyncio.Task[Any] | None = None
        self.shutting_down = False  # closed by the drain: its disconnect reason says so
        self.task: asyncio.Task[Any] | None = None  # the handler serving it (Bridge.serve)
        self.sio: OpenlineServer | None = None  # while relaying: messages offered (offered)

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

    def send_now(self, ptype: int, data: Any, ack_id: int | None) -> bool:
        """An event or an ack straight from the Socket.IO layer (EventPath._send_direct),
        encoded as BridgePacket would encode it but with no packet objects, engine packet
        or coroutine on the way: True once taken; False (other packet types) leaves it to
        the general way. Encoding errors propagate, as from the general way."""
        frame: str | bytes
        if ptype == sio_packet.ACK:
            frame = encode_ack(data, ack_id)
        elif ptype == sio_packet.EVENT:
            frame = encode_event(data, ack_id)
        else:
            return False
        if not self.closed:
            self.take(frame)
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

    def offered(self, msg: Any) -> bool:
        """A message as aiohttp parses it (DirectQueue.feed_data, through ``_offered``): a
        client's event is decoded and queued for its handler here, with no wake of the
        read loop; False leaves the message to ``_read`` (acks, malformed envelopes,
        control frames, a client with its bound of events waiting)."""
        kind = msg.type
        sio = self.sio
        if (kind is not WSMsgType.TEXT and kind is not WSMsgType.BINARY) \
                or self.closing is not None or self.closed or sio is None:
            return False
        data = msg.data
        try:
            inbound = decode_frame(data, sio.config.max_json_depth)
        except EnvelopeError:
            return False  # decoded again by the read loop, which answers it
        if inbound.ack or not sio.take_decoded_event(
                self.eio_sid, self.namespace, inbound.id, [inbound.name, *inbound.args], len(data)):
            return False
        if self.trace:
            log.debug("session %s received %s", self.eio_sid, preview(data), extra=about(self.eio_sid))
        return True

    async def _relay(self, sio: OpenlineServer) -> Any:
        ws, namespace, eio_sid = self.ws, self.namespace, self.eio_sid
        queue: Any = ws._reader
        direct = isinstance(queue, DirectQueue)
        if direct:  # the queue's own slots: no bound method per session
            self.sio = sio
            queue.session = self
            queue.take = _offered
        try:
            return await self._read(sio, ws, namespace, eio_sid, queue if direct else None)
        finally:
            if direct:
                queue.take = queue.session = None
                self.sio = None

    async def _read(self, sio: OpenlineServer, ws: web.WebSocketResponse, namespace: str,
                    eio_sid: str, queue: Any) -> Any:
        while True:
            if queue is not None:
                queue.busy = False
            msg = await ws.receive()
            if queue is not None:
                queue.busy = True  # until the next receive(): later messages queue behind
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


def _offered(take_message: Any, session: BridgeSession, msg: Any) -> bool:
    """DirectQueue's ``take`` for a bridge session (its ``take_message`` is the engine's,
    unused here)."""
    return session.offered(msg)


class TracedBridgeSession(BridgeSession):
    """A bridge session logging every frame in and out at DEBUG; the bridge makes these
    instead when DEBUG is on, so an ordinary session pays nothing for it."""

    trace = True

    def take(self, frame: str | bytes) -> None:
        log.debug("session %s sent %s", self.eio_sid, preview(frame), extra=about(self.eio_sid))
        super().take(frame)

