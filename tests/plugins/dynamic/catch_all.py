"""``*``: every namespace no other plugin serves. As in stock python-socketio, its handlers get
the concrete namespace first, and emits and rooms name it."""

from __future__ import annotations

from typing import Any

import socketio

LEFT: list[tuple[str, str, Any]] = []  # (namespace, sid, reason) of each on_disconnect


class Anywhere(socketio.AsyncNamespace):
    async def on_connect(self, namespace: str, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await self.enter_room(sid, "everyone", namespace=namespace)
        await self.emit("welcome", {"namespace": namespace, "auth": auth}, to=sid, namespace=namespace)

    async def on_where(self, namespace: str, sid: str, *args: Any) -> dict[str, Any]:
        return {"namespace": namespace, "args": list(args),
                "rooms": sorted(r for r in self.rooms(sid, namespace=namespace) if r != sid)}

    async def on_shout(self, namespace: str, sid: str, text: str) -> str:
        await self.emit("shout", {"namespace": namespace, "text": text}, room="everyone",
                        namespace=namespace)
        return "sent"

    async def on_left(self, namespace: str, sid: str) -> list[list[Any]]:
        return [list(each) for each in LEFT]

    async def on_disconnect(self, namespace: str, sid: str, reason: Any) -> None:
        LEFT.append((namespace, sid, reason))


namespace = Anywhere("*")
