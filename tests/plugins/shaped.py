"""``/shaped``: a namespace whose ``on_error`` shapes the ``error`` event it sends."""

from __future__ import annotations

from typing import Any

import socketio
from openline.errors import EventError


class ShapedNamespace(socketio.AsyncNamespace):
    def on_error(self, sid: str, event: str, exc: Exception) -> dict[str, Any]:
        if event == "odd":
            return {"unsendable": {1, 2}}
        if event == "explode":
            raise ValueError("on_error itself failed")
        if event == "plain":
            return None  # keep the default reply
        return {"code": "E_" + event.upper(), "kind": type(exc).__name__,
                "public": str(exc) if isinstance(exc, EventError) else None}

    async def on_crash(self, sid: str) -> None:
        raise KeyError("hidden")

    async def on_fail(self, sid: str, text: str) -> None:
        raise EventError(text)

    async def on_odd(self, sid: str) -> None:
        raise EventError("shaped into something unsendable")

    async def on_explode(self, sid: str) -> None:
        raise EventError("the default text")

    async def on_plain(self, sid: str) -> None:
        raise RuntimeError("hidden")

    async def on_check(self, sid: str) -> str:
        return "ok"


namespace = ShapedNamespace("/shaped")
