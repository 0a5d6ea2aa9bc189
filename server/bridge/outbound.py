"""What a bridge session holds for its client: the frames it writes and the budget on them.

Writes never wait for the peer (a broadcast writes to every member in one go): an
uncompressed frame is gathered in ``out`` and written into the TCP transport's buffer
once per loop turn (when the engine's write scope ends, as an Engine.IO session's), a
compressed one waits in ``backlog`` for aiohttp's writer, drained by one task per busy
spell. What is held for the client is bounded by --send-budget, and the engine's
StallWatch (server/engine/stall.py) closes a client whose unsent bytes make no progress
for --send-grace. The session itself (connect, relay, close) is sessions.py's.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from aiohttp import web

from ..engine.packets import websocket_header
from ..engine.session import held_by
from ..engine.stall import StallWatch
from ..logsafe import about

log = logging.getLogger("openline.bridge")
_OUT_LIMIT = 1 << 16  # gathered bytes written at once (as engine/session.py's)


class BridgeOutbound:
    """The outgoing side of one plain WebSocket: ``take`` a frame, never waiting."""

    def __init__(self, ws: web.WebSocketResponse, eio_sid: str, tcp: Any = None,
                 send_budget: int = 0, stalls: StallWatch | None = None,
                 scope: Any = None) -> None:
        self.ws = ws
        self.eio_sid = eio_sid
        self.tcp = tcp
        self.send_budget = send_budget
        self.stalls = stalls
        self.backlog: collections.deque[tuple[str | bytes, int]] = collections.deque()  # frame, bytes
        self.backlogged = 0
        self.flusher: asyncio.Task[None] | None = None
        self.written = 0  # bytes handed to the transport or to aiohttp's writer
        self.dropped = False  # closed for not reading
        self.out: bytearray | None = None  # frames gathered this turn, as engine sessions'
        self.scope = scope  # the Engine: ``out`` is written when its write scope ends

    @property
    def closed(self) -> bool:
        return self.dropped or self.ws.closed

    def take(self, frame: str | bytes) -> None:
        """Write ``frame`` now or queue it; never waits (see the module docstring)."""
        binary = not isinstance(frame, str)
        wire = frame if binary else frame.encode()  # type: ignore[union-attr]
        tcp = self.tcp
        out = self.out
        unsent = self.backlogged + (len(out) if out else 0)  # self.unsent(), inlined: per frame
        if tcp is not None and not tcp.is_closing():
            unsent += held_by(tcp)
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

