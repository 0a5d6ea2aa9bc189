"""A JSON client's binary packets on the fast path: BINARY_EVENT and BINARY_ACK.

With the JSON parser a packet carrying bytes is a header text frame (``51-/ns,7["echo",
{"_placeholder":true,"num":0}]``: type, attachment count, namespace, ack id, JSON with a
placeholder per attachment) followed by one binary frame per attachment. python-socketio
decodes the header into a Packet, which the read loop keeps in ``_binary_packet`` until
its attachments have come, then rebuilds the data and dispatches it. Here the header is
read without a Packet (``decode_header``), the frames are collected as the engine hands
them off (``take_attachment``) and the event is queued, or the ``call()`` answered, as a
plain one is (realtime/events.py).

The general path keeps the last word: anything this module does not read exactly as
python-socketio would, or would refuse (a malformed header, more attachments than
--max-attachments, nesting past --max-json-depth, a reserved event name, a namespace
not connected, a placeholder naming no attachment, a text frame where an attachment is
due, a client with its bound of events waiting), is declined with nothing changed, and
the read loop decodes it again with python-socketio's Packet and closes the connection
or waits for room as it always did. A pending ``Assembly`` answers ``add_attachment``
as a Packet does, so the general path (a polling POST's next record) can finish it too.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from socketio import packet as sio_packet

from .acks import settle
from .packet_rules import check_depth, check_event, json_may_nest

# type, attachment count (ASCII digits: 10 or more python-socketio refuses or buffers
# past any limit), "-", a namespace up to its first "," (one with a query is not read here),
# an ack id (up to 99 digits, as stock reads), then the JSON list
_HEADER = re.compile(r"([56])([0-9]{1,9})-(?:(/[^,?]*),)?([0-9]{0,99})\[")
_CONTAINERS = frozenset({list, dict})


def decode_header(text: str) -> tuple[int, int, str | None, int | None, Any] | None:
    """``(packet type, attachment count, namespace, id, data)`` of a JSON-parser
    BINARY_EVENT or BINARY_ACK header as python-socketio's ``Packet.decode`` reads it; None
    for any other text, and for forms it reads in ways not repeated here (no count or a
    count of 0, non-ASCII digits, a query after the namespace, data that is no list).
    Raises ValueError (orjson's) for bad JSON, as the parser class does."""
    found = _HEADER.match(text)
    if found is None:
        return None
    kind, digits, namespace, ack_id = found.groups()
    count = int(digits)
    if count == 0:
        return None
    return (sio_packet.BINARY_EVENT if kind == "5" else sio_packet.BINARY_ACK, count,
            namespace, int(ack_id) if ack_id else None, orjson.loads(text[found.end() - 1:]))


def reconstruct(data: Any, attachments: list[Any]) -> Any:
    """python-socketio's ``Packet.reconstruct_binary`` for decoded JSON (lists and dicts
    only): a dict whose ``_placeholder`` is truthy and which has a ``num`` becomes
    ``attachments[num]``, indexed as Python indexes (so IndexError and TypeError are
    stock's too), anywhere in lists and dicts; everything else is copied as it is."""
    if type(data) is list:
        out = []
        for item in data:
            kind = type(item)
            if kind is dict:
                out.append(attachments[item["num"]] if item.get("_placeholder") and "num" in item
                           else reconstruct(item, attachments))
            elif kind is list:
                out.append(reconstruct(item, attachments))
            else:
                out.append(item)
        return out
    if type(data) is dict:
        if data.get("_placeholder") and "num" in data:
            return attachments[data["num"]]
        return {key: value if type(value) not in _CONTAINERS else reconstruct(value, attachments)
                for key, value in data.items()}
    return data


class Assembly:
    """A binary packet whose attachments are still coming: what ``_binary_packet`` holds
    for the session instead of python-socketio's Packet (the same attributes, and an
    ``add_attachment`` that behaves as Packet's)."""

    __slots__ = ("packet_type", "namespace", "id", "data", "attachment_count", "attachments",
                 "size")

    def __init__(self, packet_type: int, namespace: str | None, ack_id: int | None, data: Any,
                 count: int, size: int) -> None:
        self.packet_type = packet_type
        self.namespace = namespace
        self.id = ack_id
        self.data = data  # the header's, placeholders in place until the last attachment
        self.attachment_count = count
        self.attachments: list[Any] = []
        self.size = size  # frame bytes so far: the event's size for --max-queued-bytes

    def add_attachment(self, attachment: Any) -> bool:
        """Packet.add_attachment: True once the last attachment is in and ``data`` rebuilt."""
        if self.attachment_count <= len(self.attachments):
            raise ValueError("Unexpected binary attachment")
        self.attachments.append(attachment)
        if self.attachment_count == len(self.attachments):
            self.data = reconstruct(self.data, self.attachments)
            return True
        return False


def take_header(server: Any, eio_sid: str, text: str) -> bool:
    """Keep a BINARY_EVENT/BINARY_ACK header for its attachments (True), after the checks
    the general path makes on it (``OpenlineServer._dispatch``); False, with nothing kept,
    leaves the frame to the general path; a check failing raises, which declines it too."""
    header = decode_header(text)
    if header is None:
        return False
    ptype, count, namespace, ack_id, data = header
    if count > server.config.max_attachments:
        return False  # refused there, on the header, before any attachment is buffered
    if len(text) >= server._json_nests and json_may_nest(text, server._max_depth):
        check_depth(data, server._max_depth)
    if ptype == sio_packet.BINARY_EVENT:
        check_event(data)  # (a numeric event name becomes its string form in place)
    elif ack_id is None:
        return False
    if server.manager.sid_from_eio_sid(eio_sid, namespace or "/") is None:
        return False
    server._binary_packet[eio_sid] = Assembly(ptype, namespace, ack_id, data, count, len(text))
    return True


def take_attachment(server: Any, eio_sid: str, pending: Assembly, data: Any) -> bool:
    """Take the next attachment of ``pending``; with the last one, queue the event for
    its handler (or settle the ``call()`` it answers) as ``EventPath._take_event`` queues
    a plain one. False, with ``pending`` unchanged, leaves the frame to the general path:
    a text frame, a placeholder naming no attachment (it raises), a client with its bound
    of events waiting (the read loop waits for room), an ACK that is no ``call()``'s."""
    if type(data) is not bytes:
        return False
    attachments = pending.attachments
    if len(attachments) + 1 < pending.attachment_count:
        attachments.append(data)
        pending.size += len(data)
        return True
    args = reconstruct(pending.data, [*attachments, data])
    namespace = pending.namespace or "/"
    sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
    if sid is None:
        return False
    if pending.packet_type == sio_packet.BINARY_ACK:
        if not settle(server.manager, sid, pending.id, args):
            return False
        del server._binary_packet[eio_sid]
        return True
    steps = server._steps
    if steps.full(eio_sid):
        return False
    del server._binary_packet[eio_sid]
    if server._rate is not None and not server._admit(eio_sid, sid, namespace):
        return True  # over the rate: dropped, as the general path drops it
    steps.add(eio_sid, server._handle_event_internal,
              (server, sid, eio_sid, args, namespace, pending.id), linger=True,
              size=pending.size + len(data))
    return True
