"""Engine.IO v4 "Heartbeat" (pingInterval 0.3 s, pingTimeout 0.2 s, as the reference suite)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.conftest import UNIT

from .conftest import Target, get_text, open_polling, post_ok

INTERVAL, TIMEOUT = 0.3, 0.2
T = 5 * UNIT
# close must come at the pong deadline: a sweep running every pingTimeout or so would
# be late by up to that much again
LATE = 0.25 * UNIT


async def test_polling_ping_pong(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat (polling): the server pings every pingInterval; answering pongs keeps the session."""
    sid = await open_polling(http, target, "heartbeat")
    for _ in range(3):
        assert await get_text(http, target.url("heartbeat", sid=sid)) == (200, "2")
        await post_ok(http, target.url("heartbeat", sid=sid), "3")


async def test_polling_ping_timeout(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat (polling): no pong within pingTimeout closes the session at that deadline."""
    sid = await open_polling(http, target, "heartbeat")
    assert await get_text(http, target.url("heartbeat", sid=sid)) == (200, "2")
    pinged = time.monotonic()
    status, body = await asyncio.wait_for(get_text(http, target.url("heartbeat", sid=sid)), T)
    waited = time.monotonic() - pinged
    # the pending GET ends then: with the close packet (ours) or refused (400)
    assert (status, body) == (200, "1") or status == 400, (status, body)
    assert waited < TIMEOUT + LATE, f"closed {waited:.3f}s after the ping"
    assert (await get_text(http, target.url("heartbeat", sid=sid)))[0] == 400


async def test_websocket_ping_pong(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat (WebSocket): pings every pingInterval; pongs keep the session open."""
    async with http.ws_connect(target.ws_url("heartbeat")) as ws:
        await ws.receive_str(timeout=T)
        for _ in range(3):
            assert await ws.receive_str(timeout=T) == "2"
            await ws.send_str("3")
        await ws.send_str(target.hello)
        reply = await ws.receive_str(timeout=T)
        if reply == "2":  # a ping may come first on a slow machine
            await ws.send_str("3")
            reply = await ws.receive_str(timeout=T)
        assert target.is_reply(reply)


async def closed_at_pong_deadline(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Take the server's ping, answer nothing: the socket closes within pingTimeout of it."""
    assert await ws.receive_str(timeout=T) == "2"
    pinged = time.monotonic()
    msg = await ws.receive(timeout=T)
    waited = time.monotonic() - pinged
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert waited < TIMEOUT + LATE, f"closed {waited:.3f}s after the ping"


async def test_websocket_ping_timeout(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat (WebSocket): no pong within pingTimeout of the ping closes the socket at that deadline."""
    async with http.ws_connect(target.ws_url("heartbeat")) as ws:
        await ws.receive_str(timeout=T)
        await closed_at_pong_deadline(ws)


async def test_websocket_ping_timeout_after_upgrade(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat: the deadline holds on an upgraded session too (both transports)."""
    sid = await open_polling(http, target, "heartbeat")
    async with http.ws_connect(target.ws_url("heartbeat", sid=sid)) as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=T) == "3probe"
        await ws.send_str("5")
        await closed_at_pong_deadline(ws)


# The official Engine.IO v4 suite's cases (docs/engine.io-protocol/v4-test-suite), with
# its timing and no tolerance added: the poll comes exactly pingInterval + pingTimeout
# after the handshake, so a deadline that fires even a little late fails it.

async def test_official_polling_closes_the_session_upon_ping_timeout(
        http: aiohttp.ClientSession, target: Target) -> None:
    """Official case (polling): a poll exactly pingInterval + pingTimeout after the handshake gets 400."""
    sid = await open_polling(http, target, "heartbeat")
    await asyncio.sleep(INTERVAL + TIMEOUT)
    assert (await get_text(http, target.url("heartbeat", sid=sid)))[0] == 400


async def test_polling_is_not_closed_before_its_deadline(http: aiohttp.ClientSession, target: Target) -> None:
    """Heartbeat (polling): 50 ms before pingInterval + pingTimeout the session still answers its poll."""
    sid = await open_polling(http, target, "heartbeat")
    await asyncio.sleep(INTERVAL + TIMEOUT - 0.05)
    assert await get_text(http, target.url("heartbeat", sid=sid)) == (200, "2")


async def test_official_websocket_closes_the_session_upon_ping_timeout(
        http: aiohttp.ClientSession, target: Target) -> None:
    """Official case (WebSocket): a client that never pongs is closed after pingInterval + pingTimeout."""
    async with http.ws_connect(target.ws_url("heartbeat")) as ws:
        opened = time.monotonic()
        assert (await ws.receive_str(timeout=T))[0] == "0"
        assert await ws.receive_str(timeout=T) == "2"
        msg = await ws.receive(timeout=T)
        closed = time.monotonic() - opened
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert INTERVAL + TIMEOUT - 0.01 <= closed < INTERVAL + TIMEOUT + LATE, f"closed after {closed:.3f}s"
