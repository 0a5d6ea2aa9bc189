"""Pattern namespaces with connect hooks: ``/rooms/<id>`` (a hook chain that refuses with
data), ``/files/<path:rest>``, a regex, and the exact ``/rooms/lobby`` (a plain
AsyncNamespace with a hook), which wins over the pattern."""

from __future__ import annotations

import re
from typing import Any

import socketio
from openline import Namespace


class Room(Namespace):
    async def on_connect(self, namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        await self.enter_room(sid, "members", namespace=namespace)

    async def on_who(self, namespace: str, sid: str) -> dict[str, Any]:
        session = await self.get_session(sid, namespace=namespace)
        return {"namespace": namespace, "params": self.params(namespace), "user": session.get("user")}

    async def on_say(self, namespace: str, sid: str, text: str) -> str:
        await self.emit("said", {"room": self.params(namespace)["id"], "text": text},
                        room="members", namespace=namespace)
        return "ok"


rooms = Room("/rooms/<id>")


@rooms.use
async def signed_in(sid: str, environ: dict[str, Any], auth: Any, namespace: str) -> None:
    if not auth or "user" not in auth:
        raise socketio.exceptions.ConnectionRefusedError(
            "sign in first", {"code": 401, "namespace": namespace})
    await rooms.save_session(sid, {"user": auth["user"]}, namespace=namespace)


@rooms.use
def not_locked(sid: str, environ: dict[str, Any], auth: Any, namespace: str) -> bool | None:
    if rooms.params(namespace)["id"] == "locked":
        raise ConnectionRefusedError("room is locked", {"room": "locked", "by": auth["user"]})
    return False if rooms.params(namespace)["id"] == "closed" else None


class Files(Namespace):
    async def on_path(self, namespace: str, sid: str) -> dict[str, Any]:
        return {"namespace": namespace, "params": self.params(namespace)}


def not_banned(sid: str, environ: dict[str, Any], auth: Any, namespace: str) -> None:
    if auth and auth.get("banned"):
        raise ConnectionRefusedError(f"banned from {namespace}")


class Lobby(socketio.AsyncNamespace):
    middlewares = [not_banned]  # a plain AsyncNamespace may have connect hooks too

    async def on_who(self, sid: str) -> dict[str, Any]:
        return {"namespace": "exact /rooms/lobby"}


namespaces = [rooms, Files("/files/<path:rest>"), Files(re.compile(r"/v(?P<version>\d+)/feed")),
              Lobby("/rooms/lobby")]
