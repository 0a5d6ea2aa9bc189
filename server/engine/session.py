"""One Engine.IO session: its transport, its bounded send buffer, its heartbeat state.

Writes go straight to the transport. On a WebSocket, ``send`` appends the framed packet
to ``out`` and the frames gathered in one loop turn reach the socket as one write at the
end of it (``write_out``); whatever the kernel does not take at once waits in the
transport's own buffer. Only a compressed socket's frames wait in ``backlog`` for
aiohttp's writer, flushed in order by one task that lives for that busy spell. On
long-polling, frames wait in ``queue`` until a GET takes them all at once. Nothing
waits for the peer, and what is held for one is bounded by --send-budget: a peer that
does not read is closed instead of growing the server's memory or stalling whoever
emits to it (stall.py closes one that makes no progress for --send-grace).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSMsgType, web

from ..logsafe import about, preview
from .direct import close_note
from .packets import CLOSE_FRAME, NOOP_FRAME, Frame, encode_payload, websocket_header

if TYPE_CHECKING:
    from ..config import Config
    from .request import OriginPolicy
    from .stall import StallWatch

log = logging.getLogger("openline.engine")

_SEND_ERRORS = (ConnectionError, RuntimeError)  # aiohttp: reset / closing transport



class Reason:
    """Why a session ended; the same strings as ``engineio.Server.reason``, which
    python-socketio passes on to disconnect handlers."""

    SERVER_DISCONNECT = "server disconnect"
    CLIENT_DISCONNECT = "client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    # openline's: SIGTERM's drain (drain.py), recoverable as in Node's socket.io
    SERVER_SHUTTING_DOWN = "server shutting down"


class Host(Protocol):
    """What a session and its transports (polling.py, websocket.py) use of the engine that
    owns them. ``Engine`` (server.py) is the one implementation; the transports are
    written against this, so none of them imports server.py and the engine's modules
    form no import circle."""

    reason: type[Reason]
    config: Config
    trace: bool  # DEBUG on: every frame in and out is logged
    max_payload: int
    send_budget: int
    send_grace: float
    compression: bool
    upgrades_from_polling: list[str]
    stalls: StallWatch
    pending_writes: list[Session] | None
    # the application's message handler when it is a coroutine function (called without
    # the engine's wrapper), and the layer above's synchronous hand-off (direct.py)
    direct_message: Callable[[str, str | bytes], Any] | None
    take_message: Callable[[Session, str | bytes], bool] | None
    on_upgrade: Callable[[str], None] | None  # told the sid once a session has upgraded
    sessions: dict[str, Session]  # by sid (inline.py finds a request's session)
    origins: OriginPolicy

    async def open_session(self, request: web.Request, transport: str,
                           ws: web.WebSocketResponse | None = None,
                           head: bytes | None = None, sid: str | None = None) -> Session | None: ...

    def refused_connection(self, headers: dict[str, str]) -> web.Response: ...

    async def on_message(self, sid: str, data: str | bytes) -> None: ...

    async def receive(self, session: Session, ptype: int, data: Any) -> None: ...

    async def close(self, session: Session, reason: str, by_client: bool = False) -> None: ...

    def close_soon(self, session: Session, reason: str) -> None: ...

    def forget(self, session: Session) -> None: ...


def held_by(socket: asyncio.Transport) -> int:
    """The memory a transport's unsent bytes take: asyncio's selector transport keeps them
    in one bytearray, which CPython over-allocates by up to 1/8 as it grows (1,000 paused
    clients held 1.11 MiB each at a 1 MiB budget counted by size: bench/paused_clients.py),
    so the budget counts 9/8 of the size; uvloop's exact buffers are counted alike."""
    return socket.get_write_buffer_size() * 9 >> 3


# Past this many gathered bytes the write happens at once, so a burst within one loop
# turn is counted against the send budget as it goes, as it was unbatched.
_OUT_LIMIT = 1 << 16


class Session:
    """State of one client; see the module docstring for the buffers."""

    __slots__ = (
        "sid", "engine", "environ", "transport", "ws", "socket", "probe", "upgrade_timer",
        "queue", "queued", "poll", "posting", "backlog", "backlogged", "flusher",
        "awaiting_pong", "closed", "lingering", "closing", "stalled", "user_session",
        "out", "parser", "written",
    )

    def __init__(self, engine: Host, sid: str, environ: dict[str, Any], transport: str) -> None:
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
        self.awaiting_pong = False
        self.closed = False
        self.lingering = False  # closed by us; the close packet awaits the next GET
        self.closing: asyncio.Task[None] | None = None  # close_sockets() in progress
        self.stalled = False  # closed because the peer stopped reading
        self.user_session: dict[str, Any] | None = None  # Engine.get_session makes it
        self.out: bytearray | None = None  # framed bytes gathered this loop turn
        # bytes handed to the socket (StallWatch sees progress in it), and long-polling
        # response bodies: what /metrics reports as sent (server/ops/census.py)
        self.written = 0
        # The packet class of the layer above (Socket.IO: JSON or msgpack), chosen by that
        # layer from the first message; the engine itself never reads it.
        self.parser: Any = None

    # the Engine.IO revision the client speaks; eio3_session.py's V3Session is 3
    protocol = 4

    def __repr__(self) -> str:
        return f"<Session {self.sid} {self.transport}{' closed' if self.closed else ''}>"

    # --- writing ----------------------------------------------------------
    # Nothing here waits for the peer: a frame is written to the socket's buffer (or the
    # polling queue) at once, and the bytes held for one client are bounded by the send
    # budget, counted honestly: what the transport has not handed to the kernel yet, what
    # is gathered for this loop turn and what waits for aiohttp's writer (compressed
    # sockets). A client that would go over it is closed; one whose unsent bytes make no
    # progress for --send-grace is closed by the engine's StallWatch (stall.py).

    async def send(self, frame: Frame) -> None:
        """``send_nowait`` for callers that await; it never waits for the peer."""
        self.send_nowait(frame)

    def send_nowait(self, frame: Frame) -> bool:
        """Take one frame for the peer without waiting; True (the frame is taken or, for a
        closed session, dropped)."""
        if self.closed:
            return True
        ws = self.ws
        if ws is None:
            self.push(frame)
            return True
        socket = self.socket
        if socket is None or ws.compress or self.flusher is not None:
            # aiohttp's writer frames (and compresses) it, from one task per busy spell
            self._defer(frame)
            return True
        wire = frame.wire
        out = self.out
        if socket.get_write_buffer_size():
            # the kernel is behind: what this client holds counts against its budget, and
            # the StallWatch follows it (a socket that keeps up pays one call per frame)
            held = held_by(socket) + len(wire)
            if out is not None:
                held += len(out)
            if held > self.engine.send_budget:
                self._overflow(held)
                return True
            self.engine.stalls.note(self)
        if out is None:
            out = self.out = bytearray()
            pending = self.engine.pending_writes
            if pending is not None:
                pending.append(self)
            else:
                asyncio.get_running_loop().call_soon(self.write_out)
        out += websocket_header(frame.binary, len(wire))
        out += wire
        if len(out) > _OUT_LIMIT:
            self.write_out()
        return True

    def write_out(self) -> None:
        """Write the frames gathered by ``send`` in one go (before anything that must
        follow them on the socket: a close frame)."""
        out = self.out
        if not out:
            return
        self.out = None  # a call scheduled for these frames finds nothing left to do
        socket = self.socket
        if socket is None or socket.is_closing():
            self._transport_lost()
            return
        socket.write(bytes(out))
        self.written += len(out)

    def push(self, frame: Frame) -> None:
        """Buffer one frame for the current transport (callable from plain callbacks)."""
        if self.closed:
            return
        if self.ws is not None:
            self.send_nowait(frame)
            return
        self.queue.append(frame)
        self.queued += len(frame.wire)
        if self.queued > self.engine.send_budget:
            self._overflow(self.queued)
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
        held = self.backlogged + (held_by(self.socket) if self.socket else 0)
        if held > self.engine.send_budget:
            self._overflow(held)
            return
        if self.flusher is None:
            self.flusher = asyncio.ensure_future(self._flush())
        self.engine.stalls.note(self)

    async def _flush(self) -> None:
        self.write_out()  # frames accepted before go first
        try:
            while self.backlog and self.ws is not None:
                frames, self.backlog = self.backlog, None
                for frame in frames:  # counted as held until aiohttp's writer has them
                    await self.ws.send_frame(
                        frame.wire, WSMsgType.BINARY if frame.binary else WSMsgType.TEXT)
                    self.backlogged -= len(frame.wire)
                    self.written += len(frame.wire)
        except _SEND_ERRORS:
            self._transport_lost()
        finally:
            self.flusher = None

    # what the engine's StallWatch reads (stall.py)
    def unsent(self) -> int:
        socket = self.socket
        held = self.backlogged + (len(self.out) if self.out else 0)
        if socket is not None and not socket.is_closing():
            held += held_by(socket)
        return held

    def drained(self) -> int:
        socket = self.socket
        return self.written - (socket.get_write_buffer_size() if socket is not None else 0)

    def stall(self, unsent: int, seconds: float) -> None:
        log.warning("session %s closing: %d bytes unsent for %.1fs (the peer stopped reading; "
                    "--send-grace %gs)", self.sid, unsent, seconds, self.engine.send_grace,
                    extra=about(self.sid))
        if not self.stalled:
            self.engine.stalls.stalled += 1
        self._drop_and_close()

    def _overflow(self, held: int) -> None:
        log.warning("session %s closing: %d bytes unsent, over the send budget of %d bytes "
                    "(the peer is not reading; --send-budget)", self.sid, held,
                    self.engine.send_budget, extra=about(self.sid))
        if not self.stalled:  # once: more frames may arrive before the close runs
            self.engine.stalls.over_budget += 1
        self._drop_and_close()

    def _drop_and_close(self) -> None:
        self.queue, self.queued, self.backlog, self.backlogged = [], 0, None, 0
        self.out = None
        self.stalled = True
        self.engine.close_soon(self, self.engine.reason.TRANSPORT_ERROR)

    def _transport_lost(self) -> None:
        self.engine.close_soon(self, self.engine.reason.TRANSPORT_CLOSE)

    # --- long-polling -----------------------------------------------------

    def take_payload(self, extra: Frame | None = None) -> str | bytes:
        """Everything queued for a GET, as one payload, plus ``extra`` if given."""
        frames, self.queue, self.queued = self.queue, [], 0
        if extra is not None:
            frames.append(extra)
        payload = encode_payload(frames)
        self.written += len(payload) if payload.isascii() else len(payload.encode())
        return payload

    def end_poll(self, final: Frame) -> None:
        """Answer a pending GET with what is queued and then ``final`` (noop or close)."""
        self.queue.append(final)
        poll = self.poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    # --- closing ----------------------------------------------------------

    def close_note(self, code: int = 1000) -> str:
        """What the log's "closed" line says of the transport: on a WebSocket the close code
        sent (``code``: the one close_sockets is about to send), or that there was none."""
        if self.ws is None:
            return ""
        if self.stalled:
            return " (aborted: no close frame)"
        return f" ({close_note(self.ws, code)})"

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
        elif by_client:
            # the client's close came in a POST while its GET was still on the way (two
            # connections, no order between them): that GET gets the noop it would have
            # got had it arrived first, and the session is gone for the next one. The
            # official suite's "forcefully closes the session" sends exactly that pair.
            self.queue.append(NOOP_FRAME)
            self.lingering = True

    async def close_sockets(self, code: int = 1000, message: bytes = b"") -> None:
        """Close the WebSocket (after its backlog) and any upgrade in progress, with the
        close frame's ``code`` (1000; the drain's 1001) and ``message``."""
        if self.upgrade_timer is not None:
            self.upgrade_timer.cancel()
        probe, self.probe = self.probe, None
        if probe is not None and not probe.closed:
            await probe.close(code=code, message=message)
        ws = self.ws
        if ws is None:
            return
        self.write_out()
        grace = self.engine.send_grace
        flusher = self.flusher
        if flusher is not None and not self.stalled:
            # frames already accepted go out first, unless the peer has stopped reading
            await asyncio.wait([flusher], timeout=grace)
        flusher = self.flusher
        if self.stalled or flusher is not None:
            if flusher is not None:
                flusher.cancel()
            if self.socket is not None:
                self.socket.abort()  # a close handshake would wait behind unread data
        if not ws.closed:
            try:  # aiohttp's close drains the socket first, with no bound of its own
                await asyncio.wait_for(ws.close(code=code, message=message), grace)
            except TimeoutError:
                if self.socket is not None:
                    self.socket.abort()


class TracedSession(Session):
    """A Session logging every frame it sends at DEBUG; the engine makes these instead
    when DEBUG is on (``Engine.trace``), so an ordinary session pays nothing for it."""

    __slots__ = ()

    def send_nowait(self, frame: Frame) -> bool:
        if self.ws is not None and not self.closed:  # polling frames: logged by push
            _sent(self, frame)
        return super().send_nowait(frame)

    def push(self, frame: Frame) -> None:
        if self.ws is None and not self.closed:
            _sent(self, frame)
        super().push(frame)


def _sent(session: Session, frame: Frame) -> None:
    log.debug("session %s sent %s", session.sid,
              preview(frame.text if frame.text is not None else frame.wire), extra=about(session.sid))
