"""The messages nodes exchange on the Redis channel: python-socketio's pub/sub format
(so stock emitters and write-only managers interoperate) plus openline's ``batch``, which
carries many of them in one PUBLISH (see ``RedisManager._send``)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from socketio.packet import Packet

from ..net.redis_url import shown as redact  # noqa: F401 (the URL without its password)
from ..realtime.parsers import JsonPacket

log = logging.getLogger("openline.cluster")

CHANNEL = "socketio"  # python-socketio's default, so its write-only managers reach us
ARGS_KEY = "args"  # marks messages whose "data" is the exact argument list
OFFSET_KEY = "offset"  # the event's recovery offset (server/recovery), logged by the sender
BATCH_PREFIX = '{"method":"batch","host_id":"'  # + id + '","messages":[...]}'


def as_args(data: Any) -> list[Any]:
    """python-socketio's ``data`` convention: a tuple is the arguments, None is none."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


def emit_message(event: str, args: Sequence[Any], namespace: str, room: Any = None,
                 skip_sid: Any = None, callback: Any = None, host_id: str = "",
                 offset: str | None = None) -> dict[str, Any]:
    """The pub/sub ``emit`` message; bytes anywhere go as base64 attachments, as stock.
    ``offset``: the recovery log's offset for the event (key ``offset``, which stock
    python-socketio ignores), so each node delivers it with that offset, unlogged."""
    data: list[Any] = list(args)
    binary = Packet.data_is_binary(data)
    if binary:
        skeleton, attachments = Packet.deconstruct_binary(data)
        data = [skeleton, *[base64.b64encode(a).decode() for a in attachments]]
    message = {"method": "emit", "event": event, "data": data, ARGS_KEY: True, "binary": binary,
               "namespace": namespace, "room": room, "skip_sid": skip_sid, "callback": callback,
               "host_id": host_id}
    if offset:
        message[OFFSET_KEY] = offset
    return message


def message_args(message: dict[str, Any]) -> tuple[Any, ...]:
    """The argument tuple of an ``emit`` message from openline or stock python-socketio."""
    data = message["data"]
    if message.get("binary"):
        data = Packet.reconstruct_binary(data[0], [base64.b64decode(a) for a in data[1:]])
    if message.get(ARGS_KEY) or not isinstance(data, list):
        return tuple(data) if isinstance(data, list) else (data,)
    # stock format: one element means that value; stock never sends [] for anything else
    if len(data) == 1:
        return tuple(as_args(data[0]))
    return tuple(data)


def batch_items(data: bytes) -> list[Any]:
    try:
        items = JsonPacket.json.loads(data)["messages"]
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed batch message on the Redis channel")
        return []
    return items if isinstance(items, list) else []
