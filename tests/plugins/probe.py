"""``/test``: a namespace the integration tests drive to probe the server's policies.

Connect ``auth``: ``{"refuse": "reason"}`` refuses with that reason (after an emit when
``emit_first``), ``{"reject": true}`` returns False, ``{"crash": true}`` raises,
``{"event_error": "text"}`` raises EventError, ``{"delay": s}`` sleeps first; anything
else is accepted and echoed back in a ``welcome`` event emitted from inside ``on_connect`` (so
a test sees that it arrives after the CONNECT ack, and what auth and address arrived).
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from openline.errors import EventError

SECRET = "secret-db-password-do-not-leak"


class ProbeNamespace(socketio.AsyncNamespace):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.order: dict[str, list[str]] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.gone: list[str] = []
        self.reasons: dict[str, Any] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool | None:
        auth_ = auth if isinstance(auth, dict) else {}
        if auth_.get("emit_first"):  # held until the ack, so dropped by a refusal
            await self.emit("welcome", {"refused": True}, to=sid)
        if "refuse" in auth_:
            raise ConnectionRefusedError(auth_["refuse"])
        if auth_.get("reject"):
            return False
        if auth_.get("crash"):
            raise RuntimeError(SECRET)
        if "event_error" in auth_:
            raise EventError(auth_["event_error"])
        if "delay" in auth_:  # a slow connect handler (a database look-up, say)
            await asyncio.sleep(float(auth_["delay"]))
        if "gate" in auth_:  # join a room, then wait (the client may leave meanwhile)
            await self.enter_room(sid, auth_["gate"])
            await self.gates.setdefault(auth_["gate"], asyncio.Event()).wait()
            return None
        addr = environ.get("REMOTE_ADDR")
        await self.save_session(sid, {"addr": addr})
        await self.emit("welcome", {"auth": auth, "addr": addr}, to=sid)
        return None

    async def on_whoami(self, sid: str) -> str:
        return (await self.get_session(sid))["addr"]

    async def on_echo(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_deadline(self, sid: str) -> str:
        """asyncio.timeout cancels the task running the handler: it must be the handler's."""
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "not timed out"

    async def on_slow(self, sid: str, tag: str, delay: float) -> str:
        await asyncio.sleep(delay)  # a later event of the same client must still wait
        self.order.setdefault(sid, []).append(tag)
        return tag

    async def on_block(self, sid: str, key: str) -> str:
        await self.gates.setdefault(key, asyncio.Event()).wait()
        return "released"

    async def on_release(self, sid: str, key: str) -> bool:
        self.gates.setdefault(key, asyncio.Event()).set()
        return True

    async def on_members(self, sid: str, room: str) -> list[str]:
        return sorted(s for s, _ in self.server.manager.get_participants(self.namespace, room))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.gone.append(sid)
        self.reasons[sid] = reason

    async def on_gone(self, sid: str) -> list[str]:
        return self.gone

    async def on_reason(self, sid: str, of: str) -> Any:
        return self.reasons.get(of)

    async def on_order(self, sid: str) -> list[str]:
        return self.order.pop(sid, [])

    async def on_7(self, sid: str, *args: Any) -> list[Any]:  # a JS client's emit(7, ...)
        return ["seven", *args]

    async def on_crash(self, sid: str, *args: Any) -> None:
        raise RuntimeError(SECRET)

    async def on_unencodable(self, sid: str) -> dict[str, Any]:
        return {"a set": {1, 2}}  # neither JSON nor msgpack can encode this ack

    async def on_fail(self, sid: str, text: str) -> None:
        raise EventError(text)

    async def on_join(self, sid: str, room: str) -> str:
        await self.enter_room(sid, room)
        return room

    async def on_broadcast(self, sid: str, room: str, payload: Any) -> str:
        await self.emit("broadcast", payload, room=room, skip_sid=sid)
        return "sent"

    async def on_fanout(self, sid: str, to: Any, skip: Any, payload: Any) -> str:
        await self.emit("fanout", payload, to=to, skip_sid=skip)
        return "sent"

    async def on_gather(self, sid: str, room: str, expected: int, timeout: float) -> list[Any]:
        """Asks every member of ``room`` with an ack each; returns the answers, sorted."""
        answers: list[Any] = []
        done = asyncio.Event()

        def collect(*args: Any) -> None:
            answers.append(args[0] if len(args) == 1 else list(args))
            if len(answers) >= expected:
                done.set()

        await self.emit("ask", {"from": sid}, to=room, callback=collect)
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            pass
        return sorted(answers)

    async def on_binary(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_types(self, sid: str, *args: Any) -> list[str]:
        return [type(a).__name__ for a in args]

    async def on_kick(self, sid: str) -> None:
        await self.disconnect(sid)

    async def on_call_client(self, sid: str, event: str, data: Any, timeout: float) -> dict[str, Any]:
        try:
            return {"result": await self.call(event, data, to=sid, timeout=timeout)}
        except socketio.exceptions.TimeoutError:
            return {"timeout": True}


namespace = ProbeNamespace("/test")
