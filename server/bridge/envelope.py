"""The plain-WebSocket bridge's framing: pure functions, no sockets.

Client → server (``decode_frame``):

- a binary frame is a ``message`` event with the bytes;
- a text frame holding a JSON object with an ``event`` member is that event:
  ``{"event": E, "data": [args…] or one value, "id": N}`` (``id`` asks for an ack);
- a text frame holding a JSON object with an ``ack`` member and no ``event`` answers
  an event the server sent with an ``id``: ``{"ack": N, "data": [args…]}``;
- any other text frame is a ``message`` event with the text as its one argument.

Server → client (``BridgePacket.encode``): a ``message`` event with one string argument
is a plain text frame, with one bytes argument a binary frame; other events are
``{"event": E, "data": [args…]}`` (plus ``"id"`` when the server wants an ack); acks are
``{"ack": N, "data": [args…]}``. Bytes inside JSON travel as ``{"$binary": "<base64>"}``
both ways. Refusals and server disconnects become ``Close`` instructions.

Every malformed envelope raises ``EnvelopeError`` saying what is wrong (the bridge
answers it with an ``error`` event and keeps the connection), never another exception:
the arguments an envelope carries may nest ``max_depth`` deep (--max-json-depth),
counted as for a Socket.IO packet (the argument list is level 1, so ``"data": [[1]]``
is 2), and are checked before ``$binary`` members are decoded.
"""

from __future__ import annotations

import base64
import json as _stdlib_json
from dataclasses import dataclass
from typing import Any

import orjson
from socketio import packet as sio_packet

from ..config import Config
from ..errors import EnvelopeError
from ..realtime.connect import INVALID_NAMESPACE as _INVALID_NAMESPACE
from ..realtime.packet_rules import RESERVED_EVENTS, json_may_nest, json_min_length, nested_deeper

EVENT_KEYS = frozenset({"event", "data", "id"})
ACK_KEYS = frozenset({"ack", "data"})
BINARY_KEY = "$binary"
# RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code.
MAX_CLOSE_REASON = 123

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_REFUSED = 4403  # 4000-4999 are for applications (RFC 6455 §7.4.2): HTTP 403's cousin
CLOSE_NO_NAMESPACE = 4404
CLOSE_TRANSPORT_DISABLED = 4400  # websocket not among --transports (handshake.py)
INVALID_NAMESPACE = _INVALID_NAMESPACE["message"]
DEFAULT_MAX_DEPTH: int = Config().max_json_depth


@dataclass(frozen=True, slots=True)
class Close:
    """An instruction to the session: close the WebSocket with this code and reason."""

    code: int
    reason: str = ""

    def reason_bytes(self) -> bytes:
        raw = self.reason.encode()
        if len(raw) <= MAX_CLOSE_REASON:
            return raw
        return raw[:MAX_CLOSE_REASON].decode(errors="ignore").encode()


@dataclass(slots=True)
class Inbound:
    """One decoded client frame: an event (``ack`` False) or an ack of a server event.
    (Not frozen: a frozen dataclass's ``__init__`` goes through ``object.__setattr__``,
    ~3% of the bridge echo bench, for one made per frame.)"""

    name: str | None
    args: list[Any]
    id: int | None = None
    ack: bool = False


# --- client → server -----------------------------------------------------------


def decode_frame(data: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Inbound:
    """The event or ack a client frame stands for; EnvelopeError says what is wrong."""
    if not isinstance(data, str):
        return Inbound("message", [bytes(data)])
    if not data.lstrip().startswith("{"):
        return Inbound("message", [data])
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own, at 1024
            raise EnvelopeError(f"nested deeper than {max_depth}") from None
        return Inbound("message", [data])  # text that merely starts with "{"
    if not isinstance(obj, dict):
        return Inbound("message", [data])
    if "event" in obj:
        inbound = _event(obj)
    elif "ack" in obj:
        inbound = _ack(obj)
    else:
        return Inbound("message", [data])
    # the envelope's own object and a one-value "data" are not levels of the arguments;
    # either way arguments deeper than max_depth need max_depth + 1 levels of text
    if len(data) >= json_min_length(max_depth) and json_may_nest(data, max_depth) \
            and nested_deeper(inbound.args, max_depth):
        raise EnvelopeError(f"nested deeper than {max_depth}")
    if BINARY_KEY in data:
        return Inbound(inbound.name, _from_binary(inbound.args), inbound.id, inbound.ack)
    return inbound


def _event(obj: dict[str, Any]) -> Inbound:
    if not EVENT_KEYS.issuperset(obj):  # no set made per frame
        extra = set(obj) - EVENT_KEYS
        raise EnvelopeError(f"unknown member {sorted(extra)[0]!r} (allowed: event, data, id)")
    name = obj["event"]
    if not isinstance(name, str) or not name:
        raise EnvelopeError("event must be a non-empty string")
    if name in RESERVED_EVENTS:
        raise EnvelopeError(f"event name {name!r} is reserved")
    ack_id = obj.get("id")
    if "id" in obj and not _is_ack_id(ack_id):
        raise EnvelopeError("id must be a non-negative integer")
    return Inbound(name, _args(obj), ack_id)


def _ack(obj: dict[str, Any]) -> Inbound:
    if not ACK_KEYS.issuperset(obj):
        extra = set(obj) - ACK_KEYS
        raise EnvelopeError(f"unknown member {sorted(extra)[0]!r} (allowed: ack, data)")
    if not _is_ack_id(obj["ack"]):
        raise EnvelopeError("ack must be a non-negative integer")
    return Inbound(None, _args(obj), obj["ack"], ack=True)


def _is_ack_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _args(obj: dict[str, Any]) -> list[Any]:
    if "data" not in obj:
        return []
    data = obj["data"]
    return data if isinstance(data, list) else [data]


def _from_binary(value: Any) -> Any:
    """``value`` with each ``{"$binary": …}`` replaced by its bytes. Recursive, but only
    over values already held to max_depth."""
    if isinstance(value, dict):
        if len(value) == 1 and BINARY_KEY in value:
            encoded = value[BINARY_KEY]
            if not isinstance(encoded, str):
                raise EnvelopeError("$binary must be a base64 string")
            try:
                return base64.b64decode(encoded, validate=True)
            except ValueError:  # binascii.Error, or a non-ASCII character
                raise EnvelopeError("$binary is not valid base64") from None
        return {k: _from_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_binary(v) for v in value]
    return value


# --- server → client -----------------------------------------------------------


def _binary_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BINARY_KEY: base64.b64encode(value).decode()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """JSON text; bytes become {"$binary": …}. Falls back to the stdlib for what orjson
    refuses (integers past 64 bits), as the Socket.IO JSON parser does."""
    try:
        return orjson.dumps(obj, default=_binary_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _stdlib_json.dumps(obj, default=_binary_default, separators=(",", ":"))


def encode_event(data: list[Any], ack_id: int | None = None) -> str | bytes:
    """The frame of an event (``data``: its name, then its arguments); ``ack_id``: the
    server wants an ack. What ``BridgePacket.encode`` returns for an EVENT, without the
    packet (a session's direct send: BridgeSession.send_now)."""
    if (len(data) == 2 and data[0] == "message" and ack_id is None
            and isinstance(data[1], (str, bytes, bytearray, memoryview))):
        return data[1] if isinstance(data[1], str) else bytes(data[1])
    envelope: dict[str, Any] = {"event": data[0], "data": data[1:]}
    if ack_id is not None:
        envelope["id"] = ack_id
    return dumps(envelope)


def encode_ack(data: Any, ack_id: int | None) -> str:
    """The frame of an ack of the client's event ``ack_id``, as ``BridgePacket.encode``'s."""
    return dumps({"ack": ack_id, "data": data})


class BridgePacket(sio_packet.Packet):
    """The "parser" of bridge sessions: python-socketio builds these for them, and the
    manager encodes one per broadcast for all bridge recipients, as for JSON or msgpack.

    ``encode`` returns a ``str`` (text frame), ``bytes`` (binary frame), a ``Close``, or
    None (nothing to send: the WebSocket is already open when the CONNECT ack is made).
    Inbound frames are decoded by ``decode_frame``, never by this class.
    """

    uses_binary_events = False
    recovers = False  # no connection state recovery: the manager sends no offsets here

    def encode(self) -> Any:  # type: ignore[override]
        ptype, data = self.packet_type, self.data
        if ptype in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
            return encode_event(data, self.id)
        if ptype in (sio_packet.ACK, sio_packet.BINARY_ACK):
            return encode_ack(data, self.id)
        if ptype == sio_packet.CONNECT_ERROR:
            message = data.get("message") if isinstance(data, dict) else None
            message = str(message) if message is not None else "Connection rejected by server"
            code = CLOSE_NO_NAMESPACE if message == INVALID_NAMESPACE else CLOSE_REFUSED
            return Close(code, message)
        if ptype == sio_packet.DISCONNECT:
            return Close(CLOSE_NORMAL, "disconnected by server")
        return None  # CONNECT

    def decode(self, encoded_packet: Any) -> int:
        raise NotImplementedError("bridge frames are decoded by envelope.decode_frame")
