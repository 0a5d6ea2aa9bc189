"""One Engine.IO session: its transport, its bounded send buffer, its heartbeat state.

Writes go straight to the transport. On a WebSocket, ``send`` appends the framed packet
to ``out`` and the frames gathered in one loop turn reach the socket as one write at the
end of it (``write_out``); only when the socket cannot take more (its write buffer is not
empty) do frames wait in ``backlog``, flushed in order by one task that lives for that
busy spell. On long-polling, frames wait in ``queue`` until
a GET takes them all at once. Both buffers are bounded: a peer that does not read is
closed instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .packets import CLOSE_FRAME, NOOP_FRAME, Frame, encode_payload

if TYPE_CHECKING:
    from .server import Engine

log = logging.getLogger("openline.engine")

_SEND_ERRORS = (ConnectionError, RuntimeError)  # aiohttp: reset / closing transport

# Hand-written WebSocket frame headers (RFC 6455 5.2: FIN + opcode, unmasked server
# frames). aiohttp's writer does one transport.write, i.e. one syscall and one TCP segment,
# per frame; a broadcast to 1000 clients spent ~55% of its time there (bench/profile.py).
# Gathering the frames of one loop turn per socket into one write is what the measurement
# asks for, and aiohttp has no API for it. Compressed sockets keep aiohttp's writer.
_TEXT, _BINARY = 0x81, 0x82
_LEN2 = struct.Struct("!BBH").pack
_LEN8 = struct.Struct("!BBQ").pack
# Past this many gathered bytes the write happens at once, so a burst within one loop
# turn meets the socket's back-pressure (and the bounded backlog) as it did unbatched.
_OUT_LIMIT = 1 << 16


def _header(first: int, size: int) -> bytes:
    if size < 126:
        return bytes((first, size))
    if size < 65536:
        return _LEN2(first, 126, size)
    return _LEN8(first, 127, size)


class Session:
    """State of one client; see the module docstring for the buffers."""

    __slots__ = (
        "sid", "engine", "environ", "transport", "ws", "socket", "probe", "upgrade_timer",
        "queue", "queued", "poll", "posting", "backlog", "backlogged", "flusher",
        "timer", "awaiting_pong", "closed", "lingering", "closing", "stalled", "user_session",
        "out", "parser",
    )

    def __init__(self, engine: Engine, sid: str, environ: dict[str, Any], transport: str) -> None:
        self.sid = sid
        self.engine = engine
        self.environ = environ
        self.transport = transport  # "polling" or "websocket": where frames go now
        self.ws: web.WebSocketResponse | None = None
        self.socket: asyncio.Transport | None = None  # the WebSocket's TCP transport
        self.probe: web.WebSocketResponse | None = None  # WebSocket upgrading this session
        self.upgrade_timer: asyncio.TimerHandle | None = None
        self.queue: list[Frame] = []  # polling: frames waiting for a GET
        self.queued = 0
        self.poll: asyncio.Future[None] | None = None  # the pending GET, woken by push()
        self.posting = False
        # WebSocket: frames waiting while the socket is full; a list only while there are
        # some (an empty list per idle session is 0.07 KB of its memory)
        self.backlog: list[Frame] | None = None
        self.backlogged = 0
        self.flusher: asyncio.Task[None] | None = None
        self.timer: int | None = None  # heartbeat slot of its next deadline (heartbeat.py)
        self.awaiting_pong = False
        self.closed = False
        self.lingering = False  # closed by us; the close packet awaits the next GET
        self.closing: asyncio.Task[None] | None = None  # close_sockets() in progress
        self.stalled = False  # closed because the peer stopped reading
        self.user_session: dict[str, Any] | None = None  # Engine.get_session makes it
        self.out: bytearray | None = None  # framed bytes gathered this loop turn
        # The packet class of the layer above (Socket.IO: JSON or msgpack), chosen by that
        # layer from the first message; the engine itself never reads it.
        self.parser: Any = None

    def __repr__(self) -> str:
        return f"<Session {self.sid} {self.transport}{' closed' if self.closed else ''}>"

    # --- writing ----------------------------------------------------------

    async def send(self, frame: Frame) -> None:
        """Write one frame now if the transport can take it, else buffer it."""
        if self.send_nowait(frame):
            return
        try:  # a compressed socket: aiohttp's writer compresses and frames it
            await self.ws.send_frame(  # type: ignore[union-attr]
                frame.wire, WSMsgType.BINARY if frame.binary else WSMsgType.TEXT)
        except _SEND_ERRORS:
            self._transport_lost()

    def send_nowait(self, frame: Frame) -> bool:
        """``send`` without a coroutine (an ack per event made one: ~3% of the latency
        bench); False only when the frame needs aiohttp's writer, for which the caller
        awaits ``send``."""
        if self.closed:
            return True
        ws = self.ws
        if ws is None:
            self.push(frame)
            return True
        socket = self.socket
        # aiohttp writes the frame to the socket before it waits for a drain, so a frame
        # that goes out directly is never overtaken; once the socket is full, frames queue
        # behind the flusher until it has caught up.
        if self.flusher is not None or (socket is not None and socket.get_write_buffer_size()):
            self._defer(frame)
            return True
        if socket is None or ws.compress:
            return False
        wire = frame.wire
        out = self.out
        if out is None:
            out = self.out = bytearray()
            pending = self.engine.pending_writes
            if pending is not None:
                pending.append(self)
            else:
                asyncio.get_running_loop().call_soon(self.write_out)
        out += _header(_BINARY if frame.binary else _TEXT, len(wire))
        out += wire
        if len(out) > _OUT_LIMIT:
            self.write_out()
        return True

    def write_out(self) -> None:
        """Write the frames gathered by ``send`` in one go (before anything that must
        follow them on the socket: a backlog flush, a close frame)."""
        out = self.out
        if not out:
            return
        self.out = None  # a call scheduled for these frames finds nothing left to do
        socket = self.socket
        if socket is None or socket.is_closing():
            self._transport_lost()
            return
        socket.write(bytes(out))

    def push(self, frame: Frame) -> None:
        """Buffer one frame for the current transport (callable from plain callbacks)."""
        if self.closed:
            return
        if self.ws is not None:
            self._defer(frame)
            return
        self.queue.append(frame)
        self.queued += len(frame.wire)
        if self.queued > self.engine.send_buffer_limit:
            self._overflow()
            return
        poll = self.poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    def _defer(self, frame: Frame) -> None:
        backlog = self.backlog
        if backlog is None:
            backlog = self.backlog = []
        backlog.append(frame)
        self.backlogged += len(frame.wire)
        if self.backlogged > self.engine.send_buffer_limit:
            self._overflow()
        elif self.flusher is None:
            self.flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        self.write_out()  # frames accepted before the socket filled up go first
        try:
            while self.backlog and self.ws is not None:
                frames, self.backlog, self.backlogged = self.backlog, None, 0
                for frame in frames:
                    await self.ws.send_frame(
                        frame.wire, WSMsgType.BINARY if frame.binary else WSMsgType.TEXT)
        except _SEND_ERRORS:
            self._transport_lost()
        finally:
            self.flusher = None

    def _overflow(self) -> None:
        log.warning("closing %s: send buffer over %d bytes (the peer is not reading)",
                    self.sid, self.engine.send_buffer_limit)
        self.queue, self.queued, self.backlog, self.backlogged = [], 0, None, 0
        self.out = None
        self.stalled = True
        self.engine.close_soon(self, self.engine.reason.TRANSPORT_ERROR)

    def _transport_lost(self) -> None:
        self.engine.close_soon(self, self.engine.reason.TRANSPORT_CLOSE)

    # --- long-polling -----------------------------------------------------

    def take_payload(self, extra: Frame | None = None) -> str:
        """Everything queued for a GET, as one payload, plus ``extra`` if given."""
        frames, self.queue, self.queued = self.queue, [], 0
        if extra is not None:
            frames.append(extra)
        return encode_payload(frames)

    def end_poll(self, final: Frame) -> None:
        """Answer a pending GET with what is queued and then ``final`` (noop or close)."""
        self.queue.append(final)
        poll = self.poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    # --- closing ----------------------------------------------------------

    def end_polling(self, by_client: bool, linger: bool) -> None:
        """The polling side of closing (synchronous, so the pending GET is answered now);
        ``linger``: keep the close packet for the next GET when none is pending."""
        if self.ws is not None:
            return
        poll = self.poll
        if poll is not None and not poll.done():
            # Engine.IO v4: the client's close gets the pending GET answered with a noop;
            # ours sends the queued packets and then the close packet.
            self.queue.append(NOOP_FRAME if by_client else CLOSE_FRAME)
            poll.set_result(None)
        elif linger and self.queue:
            # packets already accepted (a DISCONNECT, say) are not lost: the next GET
            # collects them and the close packet; with nothing queued the session just
            # ends, and that GET gets 400 (unknown session)
            self.queue.append(CLOSE_FRAME)
            self.lingering = True

    async def close_sockets(self) -> None:
        """Close the WebSocket (after its backlog) and any upgrade in progress."""
        if self.upgrade_timer is not None:
            self.upgrade_timer.cancel()
        probe, self.probe = self.probe, None
        if probe is not None and not probe.closed:
            await probe.close()
        ws = self.ws
        if ws is None:
            return
        self.write_out()
        flusher = self.flusher
        if flusher is not None and not self.stalled:
            # frames already accepted go out first, unless the peer has stopped reading
            await asyncio.wait([flusher], timeout=self.engine.ping_timeout)
        flusher = self.flusher
        if self.stalled or flusher is not None:
            if flusher is not None:
                flusher.cancel()
            if self.socket is not None:
                self.socket.abort()  # a close handshake would wait behind unread data
        if not ws.closed:
            await ws.close()
