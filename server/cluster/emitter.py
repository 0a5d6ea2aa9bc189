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
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ..errors import ClusterError
from ..net.redis_url import client
from ..realtime.parsers import JsonPacket
from .redis_manager import CHANNEL, emit_message, redact, redis_options


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

    async def _publish(self, message: dict[str, Any]) -> int:
        try:
            return int(await self._redis.publish(self.channel, JsonPacket.json.dumps(message)))
        except Exception as exc:  # redis-py errors and OSError subclasses
            raise ClusterError(redact(self.redis_url), exc) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def __aenter__(self) -> Emitter:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def emit(redis_url: str, event: str, *args: Any, namespace: str = "/", room: str | None = None,
         to: str | None = None) -> int:
    """``Emitter.emit`` for code without an event loop; returns the number of nodes."""

    async def once() -> int:
        async with Emitter(redis_url) as out:
            return await out.emit(event, *args, namespace=namespace, room=room, to=to)

    return asyncio.run(once())


# --- ``openline emit`` --------------------------------------------------------
