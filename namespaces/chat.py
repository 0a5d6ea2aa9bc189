"""``/chat``: nicknames, rooms, messages with sender and server time, presence, typing.

Connect with ``auth = {"nickname": "ann", "room": "lobby"}`` (``room`` optional).

| client emits                      | server does                                          | ack            |
|-----------------------------------|------------------------------------------------------|----------------|
| ``join`` room                     | joins; others in the room get ``presence``           | room, members  |
| ``leave`` room                    | leaves; others in the room get ``presence``          | room, members  |
| ``message`` text or {room, text}  | others in the room(s) get ``message``                | the message(s) |
|                                   | {room, nickname, text, ts}                           |                |
| ``who`` room                      |                                                      | room, members  |
| ``typing`` room or {room, typing} | others in the room get ``typing``                    | —              |
|                                   | {room, nickname, typing}                             |                |
"""

from __future__ import annotations

import logging
import time
from typing import Any

import socketio
from openline import EventError

log = logging.getLogger("openline.namespaces.chat")

MAX_NICKNAME = 32
MAX_ROOM = 64
MAX_TEXT = 4000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _room_name(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ROOM:
        raise EventError(f"room must be a string of 1-{MAX_ROOM} characters")
    return value


class ChatNamespace(socketio.AsyncNamespace):
    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        nickname = auth.get("nickname") if isinstance(auth, dict) else None
        if not isinstance(nickname, str) or not nickname.strip():
            raise ConnectionRefusedError("nickname required")
        nickname = nickname.strip()
        if len(nickname) > MAX_NICKNAME:
            raise ConnectionRefusedError(f"nickname longer than {MAX_NICKNAME} characters")
        if self._recovered(sid):
            # back by connection state recovery: its rooms and nickname are back, and the
            # rooms saw it leave when it dropped, so they see it join again
            log.info("%s is back in /chat as %s", sid, await self._nickname(sid))
            for room in self._rooms_of(sid):
                await self.emit("presence", {"room": room, "nickname": await self._nickname(sid),
                                             "action": "join"}, room=room, skip_sid=sid)
            return
        await self.save_session(sid, {"nickname": nickname})
        log.info("%s joined /chat as %s", sid, nickname)
        room = auth.get("room")
        if room is not None:
            try:
                await self._enter(sid, _room_name(room))  # no member list: nobody asked
            except EventError as exc:
                raise ConnectionRefusedError(str(exc)) from None

    def _recovered(self, sid: str) -> bool:
        recovered = getattr(self.server, "recovered", None)  # openline's; stock has none
        return bool(recovered and recovered(sid, self.namespace))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        nickname = await self._nickname(sid)
        for room in self._rooms_of(sid):
            await self.emit("presence", {"room": room, "nickname": nickname, "action": "leave"},
                            room=room, skip_sid=sid)

    async def on_join(self, sid: str, room: Any) -> dict[str, Any]:
        room = _room_name(room)
        await self._enter(sid, room)
        return await self.on_who(sid, room)

    async def _enter(self, sid: str, room: str) -> None:
        await self.enter_room(sid, room)
        await self.emit("presence", {"room": room, "nickname": await self._nickname(sid),
                                     "action": "join"}, room=room, skip_sid=sid)

    async def on_leave(self, sid: str, room: Any) -> dict[str, Any]:
        room = _room_name(room)
        if room in self._rooms_of(sid):
            await self.leave_room(sid, room)
            await self.emit("presence", {"room": room, "nickname": await self._nickname(sid),
                                         "action": "leave"}, room=room, skip_sid=sid)
        return await self.on_who(sid, room)

    async def on_who(self, sid: str, room: Any) -> dict[str, Any]:
        """The room's members on every node (server.cluster; stock servers: this node)."""
        room = _room_name(room)
        cluster = getattr(self.server, "cluster", None)
        if cluster is None:
            members = [await self._nickname(member)
                       for member, _ in self.server.manager.get_participants(self.namespace, room)]
            return {"room": room, "members": sorted(members)}
        found = await cluster.fetch_sockets(room, namespace=self.namespace, with_data=True)
        if found.missing:
            log.warning("who %s: %d node(s) did not answer in time", room, len(found.missing))
        members = [str((s.data or {}).get("nickname", "?")) if isinstance(s.data, dict) else "?"
                   for s in found.sockets]
        return {"room": room, "members": sorted(members)}

    async def on_message(self, sid: str, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, str):
            text, rooms = data, self._rooms_of(sid)
        elif isinstance(data, dict) and isinstance(data.get("text"), str):
            text, rooms = data["text"], [_room_name(data.get("room"))]
        else:
            raise EventError("message must be text or {room, text}")
        if len(text) > MAX_TEXT:
            raise EventError(f"message longer than {MAX_TEXT} characters")
        if not rooms:
            raise EventError("join a room first")
        nickname = await self._nickname(sid)
        sent = []
        for room in rooms:
            if room not in self._rooms_of(sid):
                raise EventError(f"not in room {room}")
            msg = {"room": room, "nickname": nickname, "text": text, "ts": _now_ms()}
            await self.emit("message", msg, room=room, skip_sid=sid)
            sent.append(msg)
        return sent

    async def on_typing(self, sid: str, data: Any) -> None:
        if isinstance(data, dict):
            room, typing = data.get("room"), bool(data.get("typing", True))
        else:
            room, typing = data, True
        room = _room_name(room)
        if room not in self._rooms_of(sid):
            raise EventError(f"not in room {room}")
        await self.emit("typing", {"room": room, "nickname": await self._nickname(sid),
                                   "typing": typing}, room=room, skip_sid=sid)

    async def _nickname(self, sid: str) -> str:
        session = await self.get_session(sid)
        return str(session.get("nickname", "?"))

    def _rooms_of(self, sid: str) -> list[str]:
        return [r for r in self.rooms(sid) if r != sid]


namespace = ChatNamespace("/chat")
