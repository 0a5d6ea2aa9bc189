"""``/patterns``: the everyday ways a plugin answers, for bench/pattern_load.js (issue #15's
profiles, bench/RESULTS.md "Plugin patterns: profiles"). Only python-socketio's plain API.

- ``ack`` (*args): acks its arguments back (reply by ack return);
- ``emit_sid`` (*args): ``emit("echo", args, to=sid)``;
- ``send_sid`` (payload): ``send(payload, to=sid)``;
- ``join_pair`` (room): enters the room (a pair of clients) and acks ``"ok"``;
- ``room_skip`` (room, payload): ``emit("echo", payload, room=room, skip_sid=sid)``;
- ``join_own`` (room): enters its own room and the shared ``"all"``, acks ``"ok"``;
- ``own_room`` (room, payload): ``emit("echo", payload, room=room)``, the client's own room;
- ``via_task`` (*args): handed to a background task (``start_background_task``) that
  emits ``echo`` to the sid;
- ``call`` (payload): ``call("ping", payload, to=sid)`` and acks what the client answered;
- ``bg_all`` (count, payload) / ``bg_sids`` (count, payload): a background task emits
  ``tick`` ``count`` times to everyone, or to each connected sid in turn; acks ``"ok"``
  when started.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio


class PatternsNamespace(socketio.AsyncNamespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.sids: dict[str, None] = {}
        self.queue: asyncio.Queue[tuple[str, Any]] | None = None

    async def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        self.sids[sid] = None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.sids.pop(sid, None)

    async def on_ack(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_emit_sid(self, sid: str, *args: Any) -> None:
        await self.emit("echo", args, to=sid)

    async def on_send_sid(self, sid: str, payload: Any) -> None:
        await self.send(payload, to=sid)

    async def on_join_pair(self, sid: str, room: str) -> str:
        await self.enter_room(sid, room)
        return "ok"

    async def on_room_skip(self, sid: str, room: str, payload: Any) -> None:
        await self.emit("echo", payload, room=room, skip_sid=sid)

    async def on_join_own(self, sid: str, room: str) -> str:
        await self.enter_room(sid, room)
        await self.enter_room(sid, "all")
        return "ok"

    async def on_own_room(self, sid: str, room: str, payload: Any) -> None:
        await self.emit("echo", payload, room=room)

    async def on_via_task(self, sid: str, *args: Any) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.server.start_background_task(self._replier)
        self.queue.put_nowait((sid, args))

    async def _replier(self) -> None:
        assert self.queue is not None
        while True:
            sid, args = await self.queue.get()
            await self.emit("echo", args, to=sid)

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
            for sid in list(self.sids):
                await self.emit("tick", payload, to=sid)
            await asyncio.sleep(0)


namespace = PatternsNamespace("/patterns")
