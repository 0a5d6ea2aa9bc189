"""``/``: the echo namespace. ``message`` is sent back; ``echo`` acks all its arguments.

Connects and disconnects are logged by the server itself (server/realtime/connlog.py).
"""

from __future__ import annotations

from typing import Any

import socketio


class EchoNamespace(socketio.AsyncNamespace):
    async def on_message(self, sid: str, *args: Any) -> None:
        await self.send(args[0] if len(args) == 1 else tuple(args), to=sid)

    async def on_echo(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return tuple(args)


namespace = EchoNamespace("/")
