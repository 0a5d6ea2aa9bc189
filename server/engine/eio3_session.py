"""Engine.IO v3 sessions (socket.io-client 2.x), made by ``Engine.open_session`` for a
handshake with ``EIO=3`` when ``--allow-eio3`` is on (Node's ``allowEIO3``, off by default).

A ``V3Session`` is a ``Session`` whose frames leave in v3's forms (eio3.py): a long-polling
GET gets a ``<length>:<packet>`` payload (a binary one, if the client takes them and a
packet is binary), a binary message on its WebSocket gets its type byte. Everything else is
the v4 session's: the send budget, the stall watch, upgrades, the close. What the engine
does differently for one, each keyed on ``session.protocol``:

- server.py: a request for the session must say ``EIO=3`` (and a v4 one's ``EIO=4``); the
  client's ping (``2``) is answered ``3``, a pong from it is a protocol error (Node's
  "invalid heartbeat direction");
- heartbeat.py: no server pings; a session whose client sends no ping within pingInterval +
  pingTimeout (of the handshake, then of its last ping) is closed, as Node closes it;
- polling.py: a POST may be ``application/octet-stream`` (a binary payload), and is decoded
  as v3;
- websocket.py: text frames may be ``b4<base64>``, binary frames lose their type byte, and
  messages take the read loop (the direct hand-off, direct.py, reads v4 frames only).

Whether the client takes binary is the handshake's ``b64`` query parameter, kept for the
session's life: engine.io-client 3 sets ``b64=1`` on polling without XHR2 or with
``forceBase64``, and on a WebSocket with ``forceBase64`` (or without ``binaryType``, which
only pre-2012 browsers lack), so a session that upgrades keeps its polling handshake's
choice; base64 is always safe, as the client decodes ``b4...`` on either transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import eio3
from .session import Session, TracedSession

if TYPE_CHECKING:
    from .packets import Frame
    from .session import Host


class V3Session(Session):
    """A session whose client speaks Engine.IO v3 (module docstring)."""

    __slots__ = ("b64",)

    protocol = 3

    def __init__(self, engine: Host, sid: str, environ: dict[str, Any], transport: str) -> None:
        super().__init__(engine, sid, environ, transport)
        # engine.io's supportsBinary = !req._query.b64: a non-empty b64 asks for base64
        self.b64 = any(key == "b64" and value
                       for key, value in parse_qsl(environ.get("QUERY_STRING", "")))

    def send_nowait(self, frame: Frame) -> bool:
        if frame.binary and self.ws is not None:
            frame = eio3.websocket_binary(frame, self.b64)
        return super().send_nowait(frame)

    def take_payload(self, extra: Frame | None = None) -> str | bytes:
        frames, self.queue, self.queued = self.queue, [], 0
        if extra is not None:
            frames.append(extra)
        payload = eio3.encode_payload(frames, binary=not self.b64)
        if isinstance(payload, bytes):
            self.written += len(payload)
        else:
            self.written += len(payload) if payload.isascii() else len(payload.encode())
        return payload


class TracedV3Session(V3Session, TracedSession):
    """A V3Session logging every frame it sends at DEBUG (``Engine.trace``)."""

    __slots__ = ()


def session_class(trace: bool) -> type[Session]:
    return TracedV3Session if trace else V3Session
