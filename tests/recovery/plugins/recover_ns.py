"""``/rec``: a namespace for the recovery tests (tests/recovery/)."""

import socketio


class Recover(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ, auth):
        recovered = self.server.recovered(sid, self.namespace)
        if recovered and (auth or {}).get("refuse_recovery"):
            return False
        if (auth or {}).get("hello"):
            await self.emit("hello", {"recovered": recovered}, to=sid)

    async def on_join(self, sid, room):
        await self.enter_room(sid, room)
        return sorted(r for r in self.rooms(sid) if r != sid)

    async def on_rooms(self, sid):
        return sorted(r for r in self.rooms(sid) if r != sid)

    async def on_remember(self, sid, value):
        await self.save_session(sid, {"value": value})
        return "ok"

    async def on_recall(self, sid):
        return (await self.get_session(sid)).get("value")


namespace = Recover("/rec")
