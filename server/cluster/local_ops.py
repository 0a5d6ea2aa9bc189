"""The cluster-wide operations as one node carries them out on its own sockets.

The same code answers this node's part of a call (queries.py) and another node's request
(requests.py): ``LocalOps.answer(kind, namespace, data)`` takes the request's ``data``
as it came over Redis and checks it (TypeError/ValueError for a malformed one, which the
link logs once and ignores). The request types (Node's ClusterAdapter names in brackets):

| type               | data                                        | answer                  |
|--------------------|---------------------------------------------|-------------------------|
| fetch_sockets      | rooms, except, with_data                    | [socket record, ...]    |
|   (FETCH_SOCKETS)  |                                             |                         |
| room_counts        | {}                                          | {room: count}           |
| sockets_join       | rooms, except, targets                      | sockets changed         |
| sockets_leave      | rooms, except, targets                      | sockets changed         |
| disconnect_sockets | rooms, except                               | sockets disconnected    |
| server_side_emit   | event, args                                 | the handler's return    |
| broadcast_ack      | rooms, except, event, args, timeout         | {acks, timed_out}       |

``rooms`` (any of them; none: the whole namespace) and ``except`` (none of them) select
sockets as Node's ``io.in(rooms).except(rooms)`` does; a sid is a room of its own.
Arguments travel as ``{"args": [...], "bin": [base64, ...]}``: bytes anywhere are
python-socketio's binary placeholders plus attachments, as its pub/sub messages carry them.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from socketio.packet import Packet

from ..realtime.connect import handshake_of
from ..realtime.packet_rules import RESERVED_EVENTS
from ..realtime.parsers import JsonPacket

log = logging.getLogger("openline.cluster.ops")

HIDDEN_HEADERS = frozenset({"cookie", "authorization"})  # never leave the node
HANDLER_PREFIX = "server_on_"  # a client's event reaches on_<event> only, never these


def pack(args: Iterable[Any]) -> dict[str, Any]:
    data = list(args)
    if not Packet.data_is_binary(data):
        return {"args": data}
    skeleton, attachments = Packet.deconstruct_binary(data)
    return {"args": skeleton, "bin": [base64.b64encode(a).decode() for a in attachments]}


def unpack(packed: Any) -> list[Any]:
    if not isinstance(packed, dict) or not isinstance(packed.get("args"), list):
        raise ValueError("args: expected {\"args\": [...]}")
    attachments = packed.get("bin")
    if not attachments:
        return list(packed["args"])
    if not isinstance(attachments, list):
        raise ValueError("bin: expected a list")
    return list(Packet.reconstruct_binary(packed["args"], [base64.b64decode(a) for a in attachments]))


def rooms_list(value: Any, what: str) -> list[str]:
    """A selector's rooms from the wire: a list of non-empty strings."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(r, str) and r for r in value):
        raise ValueError(f"{what}: expected a list of room names")
    return value


def handshake(environ: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Node's ``socket.handshake`` basics for a record (cookie and authorization hidden)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            headers[name] = "(hidden)" if name in HIDDEN_HEADERS else value
    query = {k: v[0] if len(v) == 1 else v
             for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    connected, auth = handshake_of(environ, namespace)
    return {"address": environ.get("REMOTE_ADDR", ""), "headers": headers, "query": query,
            "time": connected, "auth": auth, "secure": environ.get("wsgi.url_scheme") == "https",
            "url": environ.get("RAW_URI", environ.get("PATH_INFO", ""))}


class LocalOps:
    """This node's part of each cluster-wide operation, on ``server`` (an OpenlineServer)."""

    def __init__(self, server: Any, node: str) -> None:
        self.server = server
        self.node = node

    # --- selection -------------------------------------------------------------------

    def select(self, namespace: str, rooms: list[str], except_rooms: list[str]) -> list[str]:
        """The connected sids here in any of ``rooms`` (all: none given), in none of
        ``except_rooms``."""
        manager = self.server.manager
        ns_rooms = manager.rooms.get(namespace)
        if not ns_rooms:
            return []
        found: dict[str, None] = {}
        wanted: list[str | None] = list(rooms) or [None]  # None: the namespace's every sid
        for room in wanted:
            for sid in ns_rooms.get(room, ()):
                found[sid] = None
        for room in except_rooms:
            for sid in ns_rooms.get(room, ()):
                found.pop(sid, None)
        return [sid for sid in found if manager.is_connected(sid, namespace)]

    # --- the operations -----------------------------------------------------------

    async def fetch(self, namespace: str, rooms: list[str], except_rooms: list[str],
                    with_data: bool = False) -> list[dict[str, Any]]:
        server, found = self.server, []
        for sid in self.select(namespace, rooms, except_rooms):
            eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
            record = {"sid": sid, "namespace": namespace, "node": self.node,
                      "rooms": [r for r in server.manager.get_rooms(sid, namespace) if r != sid],
                      "handshake": handshake(server.environ.get(eio_sid, {}), namespace)}
            if with_data:
                record["data"] = await self._session(sid, namespace)
            found.append(record)
        return found

    async def _session(self, sid: str, namespace: str) -> Any:
        """The sid's session if JSON can carry it (Node's ``socket.data``), else None."""
        try:
            session = await self.server.get_session(sid, namespace)
            JsonPacket.json.dumps(session)
        except (KeyError, TypeError, ValueError):
            return None
        return session

    def room_counts(self, namespace: str) -> dict[str, int]:
        manager = self.server.manager
        counts: dict[str, int] = {}
        for room, members in manager.rooms.get(namespace, {}).items():
            if room is None or not members or (len(members) == 1 and room in members):
                continue  # the namespace's own room, and each sid's room
            counts[str(room)] = len(members)
        return counts

    async def join(self, namespace: str, rooms: list[str], except_rooms: list[str],
                   targets: list[str], leave: bool = False) -> int:
        changed = 0
        for sid in self.select(namespace, rooms, except_rooms):
            for target in targets:
                try:
                    if leave:
                        await self.server.leave_room(sid, target, namespace=namespace)
                    else:
                        await self.server.enter_room(sid, target, namespace=namespace)
                except Exception as exc:  # --max-rooms (EventError), a sid gone meanwhile
                    log.info("cluster: %s of room %s for %s refused: %s",
                             "leave" if leave else "join", target, sid, exc)
                    continue
            changed += 1
        return changed

    async def disconnect(self, namespace: str, rooms: list[str], except_rooms: list[str]) -> int:
        sids = self.select(namespace, rooms, except_rooms)
        for sid in sids:
            await self.server.disconnect(sid, namespace=namespace)
        return len(sids)

    def has_handler(self, namespace: str, event: str) -> bool:
        ns = self.server.namespace_handlers.get(namespace)
        return callable(getattr(ns, HANDLER_PREFIX + event, None))

    async def server_side(self, namespace: str, node: str, event: str, args: list[Any]) -> Any:
        """Call ``server_on_<event>(node, *args)`` of the namespace's class; its return
        value is the ack. None when the namespace has no such handler."""
        ns = self.server.namespace_handlers.get(namespace)
        handler = getattr(ns, HANDLER_PREFIX + event, None)
        if not callable(handler):
            log.debug("cluster: no %s%s in %s", HANDLER_PREFIX, event, namespace)
            return None
        result = handler(node, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def broadcast_ack(self, namespace: str, rooms: list[str], except_rooms: list[str],
                            event: str, args: list[Any], timeout: float) -> dict[str, Any]:
        """Emit to each selected sid with an ack; the acks within ``timeout`` and the sids
        that sent none by then."""
        loop = asyncio.get_running_loop()
        waiting: dict[str, asyncio.Future[list[Any]]] = {}
        for sid in self.select(namespace, rooms, except_rooms):
            future: asyncio.Future[list[Any]] = loop.create_future()
            waiting[sid] = future

            def acked(*reply: Any, future: asyncio.Future[list[Any]] = future) -> None:
                if not future.done():
                    future.set_result(list(reply))

            await self.server.emit(event, tuple(args), to=sid, namespace=namespace, callback=acked)
        if waiting:
            await asyncio.wait(waiting.values(), timeout=timeout)
        acks = [[sid, f.result()] for sid, f in waiting.items() if f.done()]
        timed_out = [sid for sid, f in waiting.items() if not f.done()]
        for future in waiting.values():
            future.cancel()
        return {"acks": acks, "timed_out": timed_out}

    # --- another node's request ----------------------------------------------------------

    async def answer(self, kind: str, namespace: str, data: Any, sender: str = "") -> Any:
        """Carry out a request from the wire (see the module docstring)."""
        if not isinstance(data, dict):
            raise ValueError("data: expected an object")
        if not self.server.serves(namespace):
            return _EMPTY.get(kind)
        rooms = rooms_list(data.get("rooms"), "rooms")
        except_rooms = rooms_list(data.get("except"), "except")
        if kind == "fetch_sockets":
            return await self.fetch(namespace, rooms, except_rooms, bool(data.get("with_data")))
        if kind == "room_counts":
            return self.room_counts(namespace)
        if kind in ("sockets_join", "sockets_leave"):
            return await self.join(namespace, rooms, except_rooms,
                                   rooms_list(data.get("targets"), "targets"),
                                   leave=kind == "sockets_leave")
        if kind == "disconnect_sockets":
            return await self.disconnect(namespace, rooms, except_rooms)
        event = data.get("event")
        if not isinstance(event, str) or not event or event in RESERVED_EVENTS:
            raise ValueError("event: expected an event name")
        if kind == "server_side_emit":
            value = await self.server_side(namespace, sender, event, unpack(data.get("args")))
            return {"value": pack([value])}
        if kind == "broadcast_ack":
            timeout = data.get("timeout")
            if not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
                raise ValueError("timeout: expected seconds > 0")
            found = await self.broadcast_ack(namespace, rooms, except_rooms, event,
                                             unpack(data.get("args")), float(timeout))
            found["acks"] = [[sid, pack(reply)] for sid, reply in found["acks"]]
            return found
        raise ValueError(f"unknown request type {kind!r}")


_EMPTY: dict[str, Any] = {"fetch_sockets": [], "room_counts": {}, "sockets_join": 0,
                          "sockets_leave": 0, "disconnect_sockets": 0,
                          "server_side_emit": {"value": {"args": [None]}},
                          "broadcast_ack": {"acks": [], "timed_out": []}}

