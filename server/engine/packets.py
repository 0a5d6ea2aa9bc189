"""Engine.IO v4 packets: pure encode/decode functions that touch no socket.

Wire forms (Engine.IO v4, "Packet encoding"):

- WebSocket: one packet per frame; text frames are ``<type digit><data>``, a binary frame
  is a message packet holding the bytes as is.
- HTTP long-polling: packets joined by the record separator ``\\x1e``; a binary message
  is ``b`` + base64 of its bytes.

A ``Frame`` is one outgoing packet encoded once: the text form (or the raw bytes of a
binary message) and its UTF-8 wire bytes, so a broadcast encodes once and every
recipient's transport writes the same object.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import orjson

from ..errors import ProtocolError

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
SEPARATOR = "\x1e"
_TYPES = "0123456"

# Error codes and messages of the Engine.IO reference server (engine.io Server.errors),
# which clients and proxies already know how to read.
UNKNOWN_TRANSPORT, UNKNOWN_SID, BAD_HANDSHAKE_METHOD, BAD_REQUEST, FORBIDDEN, \
    UNSUPPORTED_PROTOCOL_VERSION = range(6)
ERROR_MESSAGES = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class Frame:
    """One outgoing packet, encoded once for every transport that carries it."""

    __slots__ = ("text", "wire", "binary")

    def __init__(self, text: str | None, wire: bytes, binary: bool) -> None:
        self.text = text  # "<type><data>" for text packets, None for binary messages
        self.wire = wire  # WebSocket payload: UTF-8 of text, or the raw bytes
        self.binary = binary

    def record(self) -> str:
        """This packet as one record of a long-polling payload."""
        if self.text is not None:
            return self.text
        return "b" + base64.b64encode(self.wire).decode("ascii")

    def __len__(self) -> int:
        return len(self.wire)

    def __repr__(self) -> str:
        return f"Frame({self.text if self.text is not None else self.wire!r})"


def frame(ptype: int, data: Any = None) -> Frame:
    """Encode one packet. ``data``: str, bytes (messages only), or JSON-able list/dict."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if ptype != MESSAGE:
            raise ValueError("only message packets carry binary data")
        return Frame(None, bytes(data), True)
    if data is None:
        text = _TYPES[ptype]
    elif isinstance(data, str):
        text = _TYPES[ptype] + data
    else:  # python-engineio's send() accepts list/dict and sends JSON
        text = _TYPES[ptype] + orjson.dumps(data).decode()
    return Frame(text, text.encode(), False)


def message(data: str | bytes) -> Frame:
    """A message packet: the hot path, so no type dispatch."""
    if isinstance(data, str):
        text = "4" + data
        return Frame(text, text.encode(), False)
    return Frame(None, bytes(data), True)


PING_FRAME = frame(PING)
NOOP_FRAME = frame(NOOP)
CLOSE_FRAME = frame(CLOSE)
PROBE_PONG = frame(PONG, "probe")


def open_frame(sid: str, upgrades: list[str], ping_interval: float, ping_timeout: float,
               max_payload: int) -> Frame:
    """The handshake packet; intervals go out in whole milliseconds as configured."""
    return frame(OPEN, {
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": milliseconds(ping_interval),
        "pingTimeout": milliseconds(ping_timeout),
        "maxPayload": max_payload,
    })


def milliseconds(seconds: float) -> int:
    # round, not int(): 0.3 s is 299.99999999999997 ms in binary floating point
    return int(round(seconds * 1000))


def decode_text(text: str) -> tuple[int, str]:
    """A text packet (a WebSocket text frame or one polling record without ``b``)."""
    if not text or text[0] not in _TYPES:
        raise ProtocolError(f"invalid Engine.IO packet {text[:20]!r}")
    return ord(text[0]) - 48, text[1:]


def decode_record(record: str) -> tuple[int, str | bytes]:
    """One record of a polling payload: a text packet or ``b`` + base64."""
    if record[:1] == "b":
        try:
            return MESSAGE, base64.b64decode(record[1:], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("invalid base64 in a binary Engine.IO packet") from None
    return decode_text(record)


def decode_payload(body: str) -> list[tuple[int, str | bytes]]:
    """A polling POST body: every record, or ProtocolError for the first bad one."""
    return [decode_record(record) for record in body.split(SEPARATOR)]


def encode_payload(frames: list[Frame]) -> str:
    """A polling GET body."""
    if len(frames) == 1:
        return frames[0].record()
    return SEPARATOR.join([f.record() for f in frames])


def error_body(code: int) -> bytes:
    """The JSON body of a refused request, as the reference server writes it."""
    return orjson.dumps({"code": code, "message": ERROR_MESSAGES[code]})


# Hand-written WebSocket frame headers (RFC 6455 5.2: FIN + opcode, unmasked server
# frames). aiohttp's writer does one transport.write, i.e. one syscall and one TCP segment,
# per frame; a broadcast to 1000 clients spent ~55% of its time there (bench/profile.py).
# Gathering the frames of one loop turn per socket into one write is what the measurement
# asks for, and aiohttp has no API for it. Compressed sockets keep aiohttp's writer.
_TEXT, _BINARY = 0x81, 0x82
_LEN2 = struct.Struct("!BBH").pack
_LEN8 = struct.Struct("!BBQ").pack


def websocket_header(binary: bool, size: int) -> bytes:
    """The header of one unmasked, unfragmented server frame of ``size`` payload bytes."""
    first = _BINARY if binary else _TEXT
    if size < 126:
        return bytes((first, size))
    if size < 65536:
        return _LEN2(first, 126, size)
    return _LEN8(first, 127, size)
