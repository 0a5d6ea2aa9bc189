"""Engine.IO v3 packets (socket.io-client 2.x, served with ``--allow-eio3``): pure encode and
decode functions that touch no socket, beside v4's in packets.py.

The facts are engine.io-parser 2.2 (the codec Node's engine.io keeps as lib/parser-v3 for
``allowEIO3``); packet types and text packets (``<type digit><data>``) are v4's. What differs:

- Long-polling text payload: each packet as ``<length>:<packet>``, one after the other, the
  length in UTF-16 code units (a JavaScript string's length: an emoji counts 2); an empty
  payload is ``0:``. A binary message is ``b4<base64>`` (the type digit after the ``b``).
- Long-polling binary payload: a client whose XHR reads ArrayBuffers (a browser's XHR2; its
  handshake carries no ``b64=1``) is sent one whenever a packet to it is binary, as
  ``application/octet-stream``, and POSTs them too: per packet ``<0: text | 1: binary>``, the
  length's decimal digits one byte each, ``255``, then the packet: a text packet in UTF-8, a
  binary one as its type byte (``4``) and the bytes. socket.io-client 2.x on Node has no
  XHR2 (xmlhttprequest-ssl), so it sends ``b64=1`` and gets text payloads.
- WebSocket: a binary frame is the type byte (``4``) and the bytes; ``b64=1`` asks for the
  ``b4<base64>`` text form instead.
- Heartbeat: the client pings (``2``) and the server answers ``3`` (heartbeat.py).
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from collections.abc import Sequence

from ..errors import ProtocolError
from .packets import MESSAGE, PONG, Frame, decode_text, frame

_TYPES = "0123456"
_MESSAGE_BYTE = b"\x04"
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"  # array("H") is native order
_COLON = 58  # ":"
_MAX_DIGITS = 10  # a length of more digits is no payload openline accepts (--max-payload)

PONG_FRAME = frame(PONG)  # the answer to a client's ping


# --- one packet ------------------------------------------------------------------------

def record(f: Frame) -> str:
    """One packet as a text payload or a WebSocket text frame carries it."""
    if f.text is not None:
        return f.text
    return "b4" + base64.b64encode(f.wire).decode("ascii")


def websocket_binary(f: Frame, b64: bool) -> Frame:
    """A binary message as a v3 WebSocket carries it: the type byte first, or with ``b64``
    the text form ``b4<base64>``."""
    if b64:
        text = record(f)
        return Frame(text, text.encode(), False)
    return Frame(None, _MESSAGE_BYTE + f.wire, True)


def decode_record(text: str) -> tuple[int, str | bytes]:
    """A text packet: ``<type><data>``, or ``b<type><base64>`` for binary data."""
    if text[:1] == "b":
        kind = text[1:2]
        if not kind or kind not in _TYPES:
            raise ProtocolError(f"invalid Engine.IO v3 packet {text[:20]!r}")
        try:
            return ord(kind) - 48, base64.b64decode(text[2:], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("invalid base64 in a binary Engine.IO v3 packet") from None
    return decode_text(text)


def websocket_message(data: bytes) -> bytes:
    """The bytes of a binary WebSocket frame: its first byte must be the message type."""
    if data[:1] != _MESSAGE_BYTE:
        raise ProtocolError(f"binary Engine.IO v3 frame of type {data[:1]!r}, not a message")
    return data[1:]


def js_length(text: str) -> int:
    """``text.length`` in JavaScript: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode(_UTF16, "surrogatepass")) >> 1


# --- payloads ------------------------------------------------------------------------------

def encode_payload(frames: Sequence[Frame], binary: bool) -> str | bytes:
    """A long-polling GET body; ``binary``: the client takes binary payloads (no ``b64=1``),
    used when one of ``frames`` is binary."""
    if binary and any(f.binary for f in frames):
        return _binary_payload(frames)
    if not frames:
        return "0:"
    parts = []
    for f in frames:
        text = record(f)
        parts.append(f"{js_length(text)}:{text}")
    return "".join(parts)


def _digits(n: int) -> bytes:
    return bytes(ord(c) - 48 for c in str(n))


def _binary_payload(frames: Sequence[Frame]) -> bytes:
    out = bytearray()
    for f in frames:
        if f.binary:
            out += b"\x01" + _digits(len(f.wire) + 1) + b"\xff" + _MESSAGE_BYTE
        else:
            out += b"\x00" + _digits(len(f.wire)) + b"\xff"  # wire: the text in UTF-8
        out += f.wire
    return bytes(out)


def decode_payload(body: str | bytes) -> list[tuple[int, str | bytes]]:
    """A long-polling POST body (text, or an ``application/octet-stream`` binary payload):
    every packet, or ProtocolError for the first fault (the whole payload is refused, as
    engine.io-parser refuses it)."""
    if isinstance(body, (bytes, bytearray)):
        return _decode_binary_payload(bytes(body))
    if not body:
        raise ProtocolError("empty Engine.IO v3 payload")
    units: Sequence[int]
    if body.isascii():
        units = body.encode("ascii")

        def text(start: int, end: int) -> str:
            return body[start:end]
    else:  # lengths count UTF-16 code units: index the body by them
        units = array("H", body.encode(_UTF16, "surrogatepass"))

        def text(start: int, end: int) -> str:
            return units[start:end].tobytes().decode(_UTF16, "surrogatepass")  # type: ignore[attr-defined]

    found: list[tuple[int, str | bytes]] = []
    pos, size = 0, len(units)
    while pos < size:
        colon = pos
        while colon < size and units[colon] != _COLON and colon - pos <= _MAX_DIGITS:
            colon += 1
        digits = text(pos, colon)
        if colon >= size or units[colon] != _COLON or not digits.isdigit() or not digits.isascii():
            raise ProtocolError(f"invalid length in an Engine.IO v3 payload at {pos}")
        start = colon + 1
        end = start + int(digits)
        if end > size:
            raise ProtocolError("an Engine.IO v3 payload shorter than its packet's length")
        if end > start:
            found.append(decode_record(text(start, end)))
        pos = end
    return found


def _decode_binary_payload(body: bytes) -> list[tuple[int, str | bytes]]:
    found: list[tuple[int, str | bytes]] = []
    pos, size = 0, len(body)
    while pos < size:
        kind = body[pos]
        end_digits = body.find(b"\xff", pos + 1, pos + 2 + _MAX_DIGITS)
        digits = body[pos + 1:end_digits]
        if kind > 1 or end_digits == -1 or not digits or max(digits) > 9:
            raise ProtocolError(f"invalid header in an Engine.IO v3 binary payload at {pos}")
        start = end_digits + 1
        end = start + int("".join(map(str, digits)))
        if end > size:
            raise ProtocolError("an Engine.IO v3 binary payload shorter than its packet's length")
        chunk = body[start:end]
        if kind == 0:  # a text packet, in UTF-8
            try:
                found.append(decode_record(chunk.decode("utf-8", "surrogatepass")))
            except UnicodeDecodeError:
                raise ProtocolError("a text packet of an Engine.IO v3 binary payload is not UTF-8") from None
        elif chunk[:1] != _MESSAGE_BYTE:
            raise ProtocolError("a binary packet of an Engine.IO v3 payload that is not a message")
        else:
            found.append((MESSAGE, chunk[1:]))
        pos = end
    return found
