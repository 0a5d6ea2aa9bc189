"""Emit to openline clients from outside a server: the ``Emitter`` API (its command,
``openline emit``, is emit_command.py).

Any process that can reach the cluster's Redis can emit; the nodes deliver to their
clients. For asyncio programs::

    from openline import Emitter

    async with Emitter("redis://localhost:6379/0") as out:
        nodes = await out.emit("news", {"title": "hi"}, namespace="/chat", room="lobby")

and for plain scripts (a cron job, a Celery task)::

    from openline.cluster.emitter import emit
    emit("redis://localhost:6379/0", "news", {"title": "hi"}, namespace="/chat")

``emit`` returns how many nodes received the message (0: no node is listening; Redis
pub/sub keeps nothing for later). Each positional argument after the event name is one
Socket.IO argument. Unreachable Redis raises ``ClusterError``.

Room-wide operations go on the request channel (requests.py), fire-and-forget as Node's
``@socket.io/redis-emitter``: every node applies them to its own sockets and answers
nothing; the return value is again the number of nodes that received the request::

    await out.sockets_join("vip", room="lobby", namespace="/chat")
    await out.sockets_leave("vip", room="lobby", namespace="/chat")
    await out.disconnect_sockets(room="banned", namespace="/chat")
    await out.server_side_emit("reload", 42, namespace="/chat")  # server_on_reload

``room`` / ``rooms`` select the sockets in any of them (none: the whole namespace),
``except_rooms`` leaves out those in any of them; a sid is a room of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ..errors import ClusterError, EventError
from ..net.redis_url import client
from ..realtime.parsers import JsonPacket
from .local_ops import pack
from .redis_manager import CHANNEL, emit_message, redact, redis_options
from .requests import request_channel, request_message


class Emitter:
    """A write-only member of the cluster: publishes emits and kicks, receives nothing."""

    def __init__(self, redis_url: str, *, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.host_id = uuid.uuid4().hex  # never a node's id, so every node handles ours
        self._redis = client(redis_url, redis_options())  # any --redis-url form

    async def emit(self, event: str, *args: Any, namespace: str = "/", room: str | None = None,
                   to: str | None = None, skip_sid: str | None = None) -> int:
        """Emit ``event`` with ``args`` to a namespace, a ``room`` or one sid (``to``)."""
        return await self._publish(emit_message(event, args, namespace, to or room, skip_sid,
                                                host_id=self.host_id))

    async def disconnect(self, sid: str, namespace: str = "/") -> int:
        """Disconnect client ``sid`` from ``namespace`` on whichever node holds it."""
        return await self._publish({"method": "disconnect", "sid": sid, "namespace": namespace,
                                    "host_id": self.host_id})

    async def sockets_join(self, targets: str | list[str], *, namespace: str = "/",
                           room: str | None = None, rooms: tuple[str, ...] | list[str] = (),
                           except_rooms: tuple[str, ...] | list[str] = ()) -> int:
        """Every selected socket, on every node, joins ``targets`` (a room or rooms)."""
        return await self._request("sockets_join", namespace, room, rooms, except_rooms,
                                   targets=_names(targets, "targets"))

    async def sockets_leave(self, targets: str | list[str], *, namespace: str = "/",
                            room: str | None = None, rooms: tuple[str, ...] | list[str] = (),
                            except_rooms: tuple[str, ...] | list[str] = ()) -> int:
        """Every selected socket, on every node, leaves ``targets``."""
        return await self._request("sockets_leave", namespace, room, rooms, except_rooms,
                                   targets=_names(targets, "targets"))

    async def disconnect_sockets(self, *, namespace: str = "/", room: str | None = None,
                                 rooms: tuple[str, ...] | list[str] = (),
                                 except_rooms: tuple[str, ...] | list[str] = ()) -> int:
        """Disconnect every selected socket on every node."""
        return await self._request("disconnect_sockets", namespace, room, rooms, except_rooms)

    async def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> int:
        """``server_on_<event>(node, *args)`` on every node's ``namespace`` (``node``: this
        emitter's id); no acks, as Node's emitter."""
        if not isinstance(event, str) or not event:
            raise EventError("event: expected a non-empty string")
        return await self._request("server_side_emit", namespace, None, (), (),
                                   event=event, args=pack(args))

    async def _request(self, kind: str, namespace: str, room: str | None, rooms: Any,
                       except_rooms: Any, **extra: Any) -> int:
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise EventError(f"namespace: expected a string starting with /, got {namespace!r}")
        selected = ([] if room is None else _names(room, "room")) + _names(_listed(rooms), "rooms")
        data = {"rooms": selected, "except": _names(_listed(except_rooms), "except_rooms"), **extra}
        return await self._send(request_channel(self.channel),
                                request_message(kind, self.host_id, namespace, data))

    async def _publish(self, message: dict[str, Any]) -> int:
        return await self._send(self.channel, JsonPacket.json.dumps(message))

    async def _send(self, channel: str, payload: str | bytes) -> int:
        try:
            return int(await self._redis.publish(channel, payload))
        except Exception as exc:  # redis-py errors and OSError subclasses
            raise ClusterError(redact(self.redis_url), exc) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def __aenter__(self) -> Emitter:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def _names(value: Any, what: str) -> list[str]:
    """A room name or a list of them, checked (EventError names the argument)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise EventError(f"{what}: expected a room name or a list of them, got {value!r}")
    return names


def _listed(value: Any) -> Any:
    return value if isinstance(value, str) else list(value)


def room_op(redis_url: str, op: str, targets: list[str], *, namespace: str = "/",
            room: str | None = None) -> int:
    """``sockets_join`` / ``sockets_leave`` (of ``targets``) / ``disconnect_sockets`` for
    code without an event loop (``openline emit --join``); returns the number of nodes."""

    async def once() -> int:
        async with Emitter(redis_url) as out:
            if op == "disconnect_sockets":
                return await out.disconnect_sockets(namespace=namespace, room=room)
            change = out.sockets_join if op == "sockets_join" else out.sockets_leave
            return await change(targets, namespace=namespace, room=room)

    return asyncio.run(once())


def emit(redis_url: str, event: str, *args: Any, namespace: str = "/", room: str | None = None,
         to: str | None = None) -> int:
    """``Emitter.emit`` for code without an event loop; returns the number of nodes."""

    async def once() -> int:
        async with Emitter(redis_url) as out:
            return await out.emit(event, *args, namespace=namespace, room=room, to=to)

    return asyncio.run(once())


# --- ``openline emit`` --------------------------------------------------------
