"""The Socket.IO v5 rules a decoded packet must meet; a breach raises ``ProtocolError``
naming it, and the connection closes (the spec's answer to a malformed packet)."""

from __future__ import annotations

import math
from typing import Any

import msgpack
from socketio import packet as sio_packet

from ..errors import ProtocolError

# Event names socket.io-parser refuses from a peer (its RESERVED_EVENTS).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"})


def validate(pkt: sio_packet.Packet) -> None:
    """Check a decoded packet; a numeric event name is turned into its string form in place."""
    ptype, data = pkt.packet_type, pkt.data
    if not isinstance(ptype, int) or not 0 <= ptype <= 6:
        raise ProtocolError(f"unknown packet type {ptype!r}")
    check_namespace(pkt.namespace)
    check_id(pkt.id)
    if ptype == sio_packet.CONNECT:
        if data is not None and not isinstance(data, dict):
            raise ProtocolError("CONNECT payload must be an object")
    elif ptype == sio_packet.CONNECT_ERROR:
        raise ProtocolError("CONNECT_ERROR is sent by servers only")
    elif ptype in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
        check_event(data)
    elif ptype in (sio_packet.ACK, sio_packet.BINARY_ACK):
        if not isinstance(data, list) or pkt.id is None:
            raise ProtocolError("ACK needs an id and a list payload")


def check_namespace(namespace: Any) -> None:
    if namespace is not None and (not isinstance(namespace, str) or not namespace.startswith("/")):
        raise ProtocolError(f"bad namespace {namespace!r}")


def check_id(ack_id: Any) -> None:
    if ack_id is not None and (not isinstance(ack_id, int) or isinstance(ack_id, bool)
                               or ack_id < 0):
        raise ProtocolError(f"bad ack id {ack_id!r}")


def check_event(data: Any) -> None:
    """An EVENT payload: a list starting with a string event name that is not reserved."""
    if not isinstance(data, list) or not data:
        raise ProtocolError("EVENT payload must be a list starting with the event name")
    name = data[0]
    if isinstance(name, str):
        if name in RESERVED_EVENTS:
            raise ProtocolError(f"reserved event name {name!r}")
        return
    if isinstance(name, (int, float)) and not isinstance(name, bool) and math.isfinite(name):
        # socket.io-parser accepts numeric event names (socket.emit(42)) and Node's
        # EventEmitter keys them as strings: so do we, handler on_42
        data[0] = js_number_text(name)
        return
    raise ProtocolError("EVENT payload must be a list starting with the event name")


def js_number_text(number: float) -> str:
    """``String(number)`` as JavaScript writes it for the numbers JSON can carry."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number).replace("e+0", "e+").replace("e-0", "e-")


# --- nesting depth ---------------------------------------------------------------
# A peer's nested arrays/objects reach recursive code (python-socketio's attachment
# reconstruction, encoders, handlers), so every packet is held to --max-json-depth. The
# checks run in order of cost, each a necessary condition of the next, on data the
# decoder has accepted: a length compare (a typical event stops there), a C scan for
# openers, then the walk.

# msgpack's container headers: fixmap, fixarray, array 16/32, map 16/32.
_MSGPACK_CONTAINER_BYTES = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])
# What the JSON and msgpack decoders build for arrays and maps.
_CONTAINERS = frozenset({list, dict})
# The fewest bytes of a msgpack packet besides its data: a map header, "type" and an
# int, "nsp" and nil, the "data" key (both decoders require "type" and "nsp").
_MSGPACK_PACKET_MIN = 1 + 5 + 1 + 4 + 1 + 5


def json_min_length(limit: int) -> int:
    """The shortest valid JSON text nesting deeper than limit: limit + 1 levels, each
    opened and closed."""
    return 2 * (limit + 1)


def msgpack_min_length(limit: int) -> int:
    """The shortest msgpack packet whose data nests deeper than limit: its fixed members
    and one header byte per level."""
    return _MSGPACK_PACKET_MIN + limit + 1


def json_may_nest(text: str, limit: int) -> bool:
    """Cheap necessary condition (two C scans) for JSON text nested deeper than limit."""
    return text.count("[") + text.count("{") > limit


def msgpack_may_nest(data: bytes, limit: int) -> bool:
    """Cheap necessary condition (one C pass) for msgpack nested deeper than limit:
    more than limit bytes that could be container headers (bytes inside strings and
    binaries count too, so a false alarm only costs the walk below)."""
    return len(data) - len(data.translate(None, _MSGPACK_CONTAINER_BYTES)) > limit


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest deeper than ``limit`` (``value`` itself is
    level 1). Walks one level at a time, never recursing, and only into containers: its
    cost is the number of items (about that of decoding them), not of bytes."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [child for item in level
                 for child in (item.values() if type(item) is dict else item)
                 if type(child) in _CONTAINERS]
    return False


def check_depth(value: Any, limit: int) -> None:
    """ProtocolError for a decoded packet payload nested deeper than ``limit``."""
    if nested_deeper(value, limit):
        raise ProtocolError(f"nested deeper than {limit}")


def malformed_reason(exc: Exception, limit: int) -> str:
    """The log line's reason for a refused packet: the decoders' own nesting limits
    (orjson's at 1024, msgpack's StackError, which has no text) read as ours; orjson says
    "failed to allocate memory" for an unclosed run of brackets, which is no memory
    shortage of ours."""
    text = str(exc)
    if isinstance(exc, msgpack.StackError) or text.startswith(
            ("depth limit exceeded", "failed to allocate memory")):
        return f"nested deeper than {limit}"
    return str(exc) or type(exc).__name__
