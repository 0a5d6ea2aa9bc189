"""Plain WebSocket clients (aiohttp's) for the bridge tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import UNIT

WsFactory = Callable[..., Awaitable[aiohttp.ClientWebSocketResponse]]


@pytest.fixture
async def ws_connect() -> AsyncIterator[WsFactory]:
    """``ws = await ws_connect(url, path, **kwargs)``: a WebSocket to ``url``'s host at
    ``path`` (http → ws), closed at teardown."""
    async with aiohttp.ClientSession() as session:
        sockets: list[aiohttp.ClientWebSocketResponse] = []

        async def connect(url: str, path: str = "/", **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
            kwargs.setdefault("autoclose", False)
            ws = await session.ws_connect(url.replace("http://", "ws://") + path, **kwargs)
            sockets.append(ws)
            return ws

        yield connect
        for ws in sockets:
            await ws.close()


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5) -> aiohttp.WSMessage:
    return await asyncio.wait_for(ws.receive(), timeout * UNIT)


async def receive_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5) -> Any:
    msg = await receive(ws, timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def receive_close(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5) -> tuple[int, str]:
    """(code, reason) of the server's close frame."""
    msg = await receive(ws, timeout)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    return msg.data, msg.extra
