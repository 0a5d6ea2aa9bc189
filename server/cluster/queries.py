"""``server.cluster``: questions and operations that span every node of the cluster.

A plugin reaches it as ``self.server.cluster`` (``create_app`` attaches it). Every method
is async, works with no Redis at all (one node: answered here) and, with ``--redis-url``,
asks every node alive (nodes.py) over the request channel (requests.py) and gathers
answers for at most ``timeout`` seconds (default --cluster-timeout, 5 s as Node's
``requestsTimeout``). Each result has ``missing``: the nodes that did not answer in time
(their part is absent; nothing waits for them longer)::

    found = await self.server.cluster.fetch_sockets("lobby", namespace="/chat")
    for s in found.sockets:          # SocketRecord: sid, namespace, node, rooms, handshake
        ...
    await self.server.cluster.sockets_join("vip", "lobby", namespace="/chat")
    await self.server.cluster.disconnect_sockets("banned", namespace="/chat")
    replies = await self.server.cluster.server_side_emit("reload", 42, namespace="/chat",
                                                         ack=True)   # replies.replies: node -> value
    acks = await self.server.cluster.broadcast_with_ack("poll", "?", namespace="/chat",
                                                        room="lobby", timeout=3)
    acks.acks, acks.timed_out        # [(sid, [ack args])], [sid, ...]

Selectors, as Node's ``io.in(rooms).except(rooms)``: ``room`` and/or ``rooms`` (sockets in
any of them; none: the whole namespace) and ``except_rooms`` (in none of them); a sid is a
room of its own. ``get_participants`` and ``rooms(sid)`` keep python-socketio's meaning
(this node only). Bad arguments raise ``EventError`` naming the argument.

Server-side events are handled by ``server_on_<event>(self, node, *args)`` methods of the
namespace class on the other nodes (not this one, as Node's ``serverSideEmit``); a client's
event only ever reaches ``on_<event>``, so no client can trigger one. With ``ack=True`` the
return value of each node's handler is its reply.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import EventError
from ..realtime.packet_rules import RESERVED_EVENTS
from .local_ops import LocalOps, pack, unpack
from .requests import Link


@dataclass
class SocketRecord:
    """One socket somewhere in the cluster (Node's RemoteSocket, read-only)."""

    sid: str
    namespace: str
    node: str
    rooms: list[str]
    handshake: dict[str, Any]  # address, headers (cookie/authorization hidden), query, time, auth
    data: Any = None  # its session, with with_data=True (Node's socket.data)


@dataclass
class Sockets:
    sockets: list[SocketRecord]
    missing: list[str] = field(default_factory=list)


@dataclass
class SidRooms:
    sid: str
    rooms: list[str] | None  # None: no node that answered holds the sid
    node: str | None
    missing: list[str] = field(default_factory=list)


@dataclass
class RoomCounts:
    counts: dict[str, int]
    missing: list[str] = field(default_factory=list)


@dataclass
class Done:
    count: int  # sockets the operation changed or disconnected, on the nodes that answered
    missing: list[str] = field(default_factory=list)


@dataclass
class Replies:
    replies: dict[str, Any]  # node -> its handler's return value
    missing: list[str] = field(default_factory=list)


@dataclass
class Acks:
    acks: list[tuple[str, list[Any]]]  # (sid, the arguments of its ack)
    timed_out: list[str]  # sids that sent no ack within the timeout
    missing: list[str] = field(default_factory=list)


def _rooms(room: Any, rooms: Any, what: str = "rooms") -> list[str]:
    found = [] if room is None else [room]
    if isinstance(rooms, (str, bytes)) or not isinstance(rooms, Iterable):
        raise EventError(f"{what}: expected a list of room names, got {type(rooms).__name__}")
    found += list(rooms)
    for name in found:
        if not isinstance(name, str) or not name:
            raise EventError(f"{what}: room names are non-empty strings, got {name!r}")
    return found


def _event(event: Any) -> str:
    if not isinstance(event, str) or not event:
        raise EventError("event: expected a non-empty string")
    if event in RESERVED_EVENTS:
        raise EventError(f"event: {event} is reserved by Socket.IO")
    return event


class Cluster:
    """The cluster-wide API of one server; see the module docstring."""

    def __init__(self, server: Any, config: Config, node: str | None = None) -> None:
        self.server = server
        self.timeout = config.cluster_timeout
        self.node = node or uuid.uuid4().hex
        self.local = LocalOps(server, self.node)
        self.link: Link | None = None  # set by create_app with --redis-url

    def nodes(self) -> list[str]:
        """This node's id first, then the other nodes alive."""
        return [self.node, *sorted(self.link.nodes.live() if self.link else ())]

    # --- checks ------------------------------------------------------------------------

    def _namespace(self, namespace: Any) -> str:
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise EventError(f"namespace: expected a string starting with /, got {namespace!r}")
        if not self.server.serves(namespace):
            raise EventError(f"namespace: {namespace} is not served here")
        return namespace

    def _timeout(self, timeout: Any) -> float:
        if timeout is None:
            return self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not 0 < timeout < math.inf:
            raise EventError(f"timeout: expected seconds > 0, got {timeout!r}")
        return float(timeout)

    async def _everywhere(self, kind: str, namespace: str, data: dict[str, Any],
                          timeout: float) -> tuple[Any, dict[str, Any], list[str]]:
        """This node's answer, the other nodes' answers, the nodes that did not answer."""
        here = self.local.answer(kind, namespace, data, self.node)
        if self.link is None:
            return await here, {}, []
        mine, (theirs, missing) = await asyncio.gather(
            here, self.link.ask(kind, namespace, data, timeout))
        return mine, theirs, missing

    # --- queries ---------------------------------------------------------------------

    async def fetch_sockets(self, room: str | None = None, *, namespace: str = "/",
                            rooms: Iterable[str] = (), except_rooms: Iterable[str] = (),
                            with_data: bool = False, timeout: float | None = None) -> Sockets:
        """The sockets of a room (or selector, or the whole namespace) on every node."""
        data = {"rooms": _rooms(room, rooms), "except": _rooms(None, except_rooms, "except_rooms"),
                "with_data": bool(with_data)}
        mine, theirs, missing = await self._everywhere(
            "fetch_sockets", self._namespace(namespace), data, self._timeout(timeout))
        found = []
        for records in [mine, *theirs.values()]:
            for record in records if isinstance(records, list) else ():
                try:
                    found.append(SocketRecord(**record))
                except TypeError:
                    continue  # a peer's malformed record
        return Sockets(found, missing)

    async def rooms_of(self, sid: str, namespace: str = "/",
                       timeout: float | None = None) -> SidRooms:
        """The rooms ``sid`` is in (its own left out), wherever it is connected."""
        if not isinstance(sid, str) or not sid:
            raise EventError("sid: expected a non-empty string")
        namespace = self._namespace(namespace)
        if self.server.manager.is_connected(sid, namespace):  # here: no need to ask
            rooms = self.server.manager.get_rooms(sid, namespace)
            return SidRooms(sid, [r for r in rooms if r != sid], self.node)
        found = await self.fetch_sockets(sid, namespace=namespace, timeout=timeout)
        for record in found.sockets:
            if record.sid == sid:
                return SidRooms(sid, record.rooms, record.node, found.missing)
        return SidRooms(sid, None, None, found.missing)

    async def room_counts(self, namespace: str = "/", timeout: float | None = None) -> RoomCounts:
        """Members per room across the cluster (sids' own rooms left out)."""
        mine, theirs, missing = await self._everywhere(
            "room_counts", self._namespace(namespace), {}, self._timeout(timeout))
        counts: dict[str, int] = {}
        for part in [mine, *theirs.values()]:
            for room, count in part.items() if isinstance(part, dict) else ():
                if isinstance(count, int):
                    counts[room] = counts.get(room, 0) + count
        return RoomCounts(dict(sorted(counts.items())), missing)

    # --- room-wide operations --------------------------------------------------------

    async def sockets_join(self, targets: str | Iterable[str], room: str | None = None, *,
                           namespace: str = "/", rooms: Iterable[str] = (),
                           except_rooms: Iterable[str] = (), timeout: float | None = None) -> Done:
        """Every selected socket, on every node, joins ``targets`` (a room or rooms)."""
        return await self._change("sockets_join", targets, room, namespace, rooms,
                                  except_rooms, timeout)

    async def sockets_leave(self, targets: str | Iterable[str], room: str | None = None, *,
                            namespace: str = "/", rooms: Iterable[str] = (),
                            except_rooms: Iterable[str] = (), timeout: float | None = None) -> Done:
        """Every selected socket, on every node, leaves ``targets``."""
        return await self._change("sockets_leave", targets, room, namespace, rooms,
                                  except_rooms, timeout)

    async def disconnect_sockets(self, room: str | None = None, *, namespace: str = "/",
                                 rooms: Iterable[str] = (), except_rooms: Iterable[str] = (),
                                 timeout: float | None = None) -> Done:
        """Disconnect every selected socket on every node (all of the namespace: no room)."""
        data = {"rooms": _rooms(room, rooms), "except": _rooms(None, except_rooms, "except_rooms")}
        return await self._count("disconnect_sockets", namespace, data, timeout)

    async def _change(self, kind: str, targets: Any, room: Any, namespace: str, rooms: Any,
                      except_rooms: Any, timeout: Any) -> Done:
        wanted = _rooms(targets, ()) if isinstance(targets, str) else _rooms(None, targets, "targets")
        if not wanted:
            raise EventError("targets: expected a room name or a list of them")
        data = {"rooms": _rooms(room, rooms), "except": _rooms(None, except_rooms, "except_rooms"),
                "targets": wanted}
        return await self._count(kind, namespace, data, timeout)

    async def _count(self, kind: str, namespace: str, data: dict[str, Any], timeout: Any) -> Done:
        mine, theirs, missing = await self._everywhere(kind, self._namespace(namespace), data,
                                                       self._timeout(timeout))
        counts = [mine, *theirs.values()]
        return Done(sum(c for c in counts if isinstance(c, int)), missing)

    # --- events ----------------------------------------------------------------------

    async def server_side_emit(self, event: str, *args: Any, namespace: str = "/",
                               ack: bool = False, timeout: float | None = None) -> Replies:
        """Call ``server_on_<event>(node, *args)`` of ``namespace`` on every other node;
        with ``ack``, gather their return values (within the timeout)."""
        namespace, wait = self._namespace(namespace), self._timeout(timeout)
        data = {"event": _event(event), "args": pack(args)}
        if self.link is None:
            return Replies({})
        if not ack:
            await self.link.tell("server_side_emit", namespace, data)
            return Replies({})
        theirs, missing = await self.link.ask("server_side_emit", namespace, data, wait)
        replies = {}
        for node, answer in theirs.items():
            try:
                replies[node] = unpack(answer.get("value"))[0]
            except (AttributeError, ValueError, IndexError):
                missing.append(node)  # a malformed answer counts as none
        return Replies(replies, sorted(missing))

    async def broadcast_with_ack(self, event: str, *args: Any, namespace: str = "/",
                                 room: str | None = None, rooms: Iterable[str] = (),
                                 except_rooms: Iterable[str] = (),
                                 timeout: float | None = None) -> Acks:
        """Emit to every selected client on every node and gather each client's ack for up
        to ``timeout`` seconds; the clients that sent none are ``timed_out``. The other
        nodes answer when their clients have (or the timeout passed): the call waits up to
        ``timeout`` + --cluster-timeout for them."""
        wait = self._timeout(timeout)
        data = {"rooms": _rooms(room, rooms), "except": _rooms(None, except_rooms, "except_rooms"),
                "event": _event(event), "args": pack(args), "timeout": wait}
        mine, theirs, missing = await self._everywhere(
            "broadcast_ack", self._namespace(namespace), data, wait + self.timeout)
        acks: list[tuple[str, list[Any]]] = []
        timed_out: list[str] = []
        for part in [mine, *theirs.values()]:
            try:
                acks += [(sid, unpack(reply)) for sid, reply in part["acks"]]
                timed_out += [sid for sid in part["timed_out"] if isinstance(sid, str)]
            except (KeyError, TypeError, ValueError):
                continue  # a peer's malformed answer
        return Acks(acks, timed_out, missing)
