"""``/``: the echo namespace. ``message`` is sent back; ``echo`` acks all its arguments."""

from __future__ import annotations

import logging
from typing import Any

import socketio

log = logging.getLogger("openline.namespaces.echo")


class EchoNamespace(socketio.AsyncNamespace):
    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        log.info("%s connected from %s", sid, environ.get("REMOTE_ADDR"))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        log.info("%s disconnected (%s)", sid, reason)

    async def on_message(self, sid: str, *args: Any) -> None:
        await self.send(args[0] if len(args) == 1 else tuple(args), to=sid)

    async def on_echo(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return tuple(args)


namespace = EchoNamespace("/")
