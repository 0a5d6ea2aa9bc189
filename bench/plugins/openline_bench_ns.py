"""``/bench``: the namespace ``make bench`` drives, written only against python-socketio's
plain API so it costs what any plugin costs. bench/node_server.js mirrors it for Node.

- ``echo`` acks all its arguments back;
- ``join`` enters a room and acks ``"ok"``;
- ``broadcast`` (room, payload) emits ``bcast`` with the payload to everyone in the room;
- ``session`` (data) stores the data as the socket's session and acks ``"ok"``;
- ``stats`` acks ``{"clients": N}``, the sockets connected to /bench, and ``"saved": M``,
  the sockets kept for connection state recovery, when ``--recovery-window`` is on (the
  one look past python-socketio's API, off the measured paths);
- ``gc`` runs a full collection and acks ``true``; ``heap`` runs one and acks the bytes
  that objects allocated since the first ``heap`` still hold (tracemalloc, started by that
  first ``heap``: 0): the recovery memory scenario.
"""

from __future__ import annotations

import gc
import tracemalloc
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

    async def on_session(self, sid: str, data: Any) -> str:
        await self.save_session(sid, data)
        return "ok"

    async def on_stats(self, sid: str) -> dict[str, int]:
        store = getattr(getattr(self.server, "recovery", None), "store", None)
        saved = getattr(store, "saved_count", None)
        return {"clients": self.clients} if saved is None else {"clients": self.clients, "saved": saved}

    async def on_gc(self, sid: str) -> bool:
        gc.collect()
        return True

    async def on_heap(self, sid: str) -> int:
        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        return tracemalloc.get_traced_memory()[0]


namespace = BenchNamespace("/bench")
