"""``/bench``: the namespace ``make bench`` drives, written only against python-socketio's
plain API so it costs what any plugin costs. bench/node_server.js mirrors it for Node.

- ``echo`` acks all its arguments back;
- ``join`` enters a room and acks ``"ok"``;
- ``broadcast`` (room, payload) emits ``bcast`` with the payload to everyone in the room;
- ``stats`` acks ``{"clients": N}``, the sockets connected to /bench.
"""

from __future__ import annotations

from typing import Any

import socketio


class BenchNamespace(socketio.AsyncNamespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.clients = 0

    async def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        self.clients += 1

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.clients -= 1

    async def on_echo(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_join(self, sid: str, room: str) -> str:
        await self.enter_room(sid, room)
        return "ok"

    async def on_broadcast(self, sid: str, room: str, payload: Any) -> None:
        await self.emit("bcast", payload, room=room)

    async def on_stats(self, sid: str) -> dict[str, int]:
        return {"clients": self.clients}


namespace = BenchNamespace("/bench")
