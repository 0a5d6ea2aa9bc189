"""server/engine/websocket.py against a real in-process server: what an accepted WebSocket
keeps of aiohttp's HTTP state, and the read loop's own handling of control frames and of
a peer that is gone (it awaits aiohttp's queue instead of ws.receive())."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from openline.config import Config
from openline.engine import websocket
from openline.engine.server import Engine

from tests.conftest import UNIT


class _Running:
    def __init__(self, engine: Engine, host: str, port: int, reasons: list[str]) -> None:
        self.engine, self.host, self.port, self.reasons = engine, host, port, reasons
        self.url = f"http://{host}:{port}/engine.io/?EIO=4&transport=websocket"

    async def gone(self) -> None:
        """Wait until the engine has no session left."""
        async with asyncio.timeout(5 * UNIT):
            while self.engine.sessions:
                await asyncio.sleep(0.01)


def _engine_app() -> tuple[Engine, web.Application, list[str]]:
    engine = Engine(Config(port=0))
    reasons: list[str] = []

    async def disconnect(sid: str, reason: str) -> None:
        reasons.append(reason)

    engine.on("disconnect", disconnect)
    app = web.Application()
    engine.attach(app, "engine.io")
    return engine, app, reasons


@pytest.fixture
async def running() -> AsyncIterator[_Running]:
    """The engine served as serve_app serves it (aiohttp does not cancel handlers)."""
    engine, app, reasons = _engine_app()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield _Running(engine, "127.0.0.1", runner.addresses[0][1], reasons)
    finally:
        await engine.shutdown()
        await runner.cleanup()


@pytest.fixture
async def cancelling() -> AsyncIterator[_Running]:
    """The engine on aiohttp's test server, which cancels a handler whose peer is gone."""
    engine, app, reasons = _engine_app()
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield _Running(engine, "127.0.0.1", server.port or 0, reasons)
    finally:
        await engine.shutdown()
        await server.close()


async def _open(http: aiohttp.ClientSession, running: _Running) -> tuple[Any, Any]:
    ws = await http.ws_connect(running.url, autoping=False)
    opening = await ws.receive(timeout=5 * UNIT)
    assert opening.type is WSMsgType.TEXT and opening.data.startswith('0{"sid":')
    (session,) = running.engine.sessions.values()
    return ws, session


async def test_accepted_websocket_drops_http_state(running: _Running):
    """Once accepted, the connection keeps no HTTP parser, request queue or sent headers."""
    websocket._SOCKNAMES.clear()  # a bounded cache: earlier tests' servers may have filled it
    async with aiohttp.ClientSession() as http:
        ws, session = await _open(http, running)
        protocol = session.ws._req.protocol
        assert protocol._parser is None
        assert type(protocol._messages).__name__ == "_NoMessages" and not protocol._messages
        assert not session.ws._headers and not session.ws._req._cache
        # shared, not per connection: the empty headers, request queue and local address
        assert session.ws._headers is websocket._NO_HEADERS
        assert protocol._messages is websocket._NO_MESSAGES
        sockname = session.ws._req._transport_sockname
        assert sockname == ("127.0.0.1", running.port) and websocket._SOCKNAMES[sockname] is sockname
        await ws.send_str("4hello")  # and the socket still works both ways
        await ws.close()
    await running.gone()


async def test_ping_gets_pong_and_close_gets_close(running: _Running):
    """A WebSocket ping is answered with its payload; a close frame with 1000, ending the session."""
    async with aiohttp.ClientSession() as http:
        ws, _session = await _open(http, running)
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=5 * UNIT)
        assert (pong.type, pong.data) == (WSMsgType.PONG, b"are you there")
        await ws.close(code=1000)
        assert ws.close_code == 1000
    await running.gone()
    assert running.reasons == ["transport close"]


async def _drop_peer(running: _Running) -> Any:
    """Open a WebSocket session from a bare TCP client, then abort the connection."""
    reader, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                 b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    async with asyncio.timeout(5 * UNIT):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        while not running.engine.sessions:
            await asyncio.sleep(0.01)
    (session,) = running.engine.sessions.values()
    writer.transport.abort()
    await running.gone()
    return session.ws


async def test_peer_gone_ends_session_without_an_error(running: _Running):
    """A peer that drops the TCP connection ends its session with no write error kept."""
    server_ws = await _drop_peer(running)
    assert running.reasons == ["transport close"]
    assert server_ws.closed and server_ws.exception() is None


async def test_cancelled_handler_still_ends_the_session(cancelling: _Running):
    """When aiohttp cancels the handler of a dropped peer, the session still ends."""
    await _drop_peer(cancelling)
    assert cancelling.reasons == ["transport close"]
