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

The matrix group (bench/matrix.py, issue #15): the other ways a plugin answers.

- ``emit_sid`` (payload): ``emit("echo", payload, to=sid)``;
- ``send_sid`` (payload): ``send(payload, to=sid)`` (a ``message`` event);
- ``room_skip`` (room, payload): ``emit("echo", payload, room=room, skip_sid=sid)``;
- ``call`` (payload): ``call("ping", payload, to=sid)``, then acks what the client answered;
- ``bg_all`` / ``bg_sids`` (count, payload): acks ``"ok"`` and starts a background task
  (``start_background_task``) that ``count`` times emits ``tick`` with the payload to
  everyone in /bench, or to each connected sid in turn, yielding to the loop in between.
"""

from __future__ import annotations

import asyncio
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

    async def on_emit_sid(self, sid: str, payload: Any) -> None:
        await self.emit("echo", payload, to=sid)

    async def on_send_sid(self, sid: str, payload: Any) -> None:
        await self.send(payload, to=sid)

    async def on_room_skip(self, sid: str, room: str, payload: Any) -> None:
        await self.emit("echo", payload, room=room, skip_sid=sid)

    async def on_call(self, sid: str, payload: Any) -> Any:
        return await self.call("ping", payload, to=sid, timeout=30)

    async def on_bg_all(self, sid: str, count: int, payload: Any) -> str:
        self.server.start_background_task(self._to_all, count, payload)
        return "ok"

    async def on_bg_sids(self, sid: str, count: int, payload: Any) -> str:
        self.server.start_background_task(self._to_sids, count, payload)
        return "ok"

    async def _to_all(self, count: int, payload: Any) -> None:
        for _ in range(count):
            await self.emit("tick", payload)
            await asyncio.sleep(0)

    async def _to_sids(self, count: int, payload: Any) -> None:
        for _ in range(count):
            for to, _eio_sid in list(self.server.manager.get_participants(self.namespace, None)):
                await self.emit("tick", payload, to=to)
            await asyncio.sleep(0)

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
