"""Socket.IO v5 rules the full server keeps, checked with raw Engine.IO frames."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.conftest import UNIT

from .conftest import Servers, Target, assert_ws_closed, get_text, open_polling, post_ok

T = 5 * UNIT
CONNECT_TIMEOUT = 0.5


@pytest.fixture
def full(servers: Servers) -> Target:
    return Target(servers, "full")


async def _connected_ws(http: aiohttp.ClientSession, full: Target,
                        profile: str = "default") -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(full.ws_url(profile))
    assert (await ws.receive_str(timeout=T))[0] == "0"
    await ws.send_str("40/test,")
    assert (await ws.receive_str(timeout=T)).startswith('40/test,{"sid":"')
    assert (await ws.receive_str(timeout=T)).startswith('42/test,["welcome"')
    return ws


MALFORMED = {
    "unknown type": "49/test,",
    "bad JSON": '42/test,["echo"',
    "payload not a list": '42/test,{"a":1}',
    "bad ack id": '42/test,x["echo"]',
    "namespace not connected": '42/chat,["message","hi"]',
    "reserved event": '42/test,["disconnect"]',
}


@pytest.mark.parametrize("packet", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_packet_closes_websocket_at_once(http: aiohttp.ClientSession, full: Target,
                                                         packet: str) -> None:
    """Socket.IO v5 "Packet format": a malformed packet closes the connection at once."""
    ws = await _connected_ws(http, full)
    try:
        await ws.send_str(packet)
        await assert_ws_closed(ws)
    finally:
        await ws.close()


async def test_first_packet_must_be_connect(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5 "Connection to a namespace": anything but CONNECT first closes the session."""
    sid = await open_polling(http, full)
    await post_ok(http, full.url(sid=sid), '42["echo"]')
    status, body = await get_text(http, full.url(sid=sid))
    assert status == 400 or body.split("\x1e")[-1] == "1"
    assert (await get_text(http, full.url(sid=sid)))[0] == 400


async def test_malformed_packet_closes_polling_session(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5: a malformed packet over polling closes the session (close packet, then 400)."""
    sid = await open_polling(http, full)
    await post_ok(http, full.url(sid=sid), "40")
    assert (await get_text(http, full.url(sid=sid)))[1].startswith('40{"sid"')
    await post_ok(http, full.url(sid=sid), "49")
    status, body = await get_text(http, full.url(sid=sid))
    assert status == 400 or body.split("\x1e")[-1] == "1"
    assert (await get_text(http, full.url(sid=sid)))[0] == 400


async def test_no_connect_within_connect_timeout(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5 "Connection to a namespace": no CONNECT within --connect-timeout closes the session."""
    async with http.ws_connect(full.ws_url("sio")) as ws:
        await ws.receive_str(timeout=T)
        opened = time.monotonic()
        await assert_ws_closed(ws)
        waited = time.monotonic() - opened
    assert CONNECT_TIMEOUT - 0.05 <= waited < CONNECT_TIMEOUT + 1.0 * UNIT


async def test_emits_in_connect_handler_follow_the_ack(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5: an emit made inside the connect handler reaches the client after the CONNECT ack."""
    sid = await open_polling(http, full)
    await post_ok(http, full.url(sid=sid), '40/test,{"who":"me"}')
    packets: list[str] = []
    while len(packets) < 2:
        packets += (await get_text(http, full.url(sid=sid)))[1].split("\x1e")
    assert packets[0].startswith('40/test,{"sid":"')
    assert packets[1] == '42/test,["welcome",{"auth":{"who":"me"},"addr":"127.0.0.1"}]'


async def test_one_clients_events_run_in_order(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5 events: one client's events are handled, and acknowledged, in the order sent."""
    ws = await _connected_ws(http, full)
    try:
        for i in range(20):
            await ws.send_str(f'42/test,{i}["echo",{i}]')
        acks = [await ws.receive_str(timeout=T) for _ in range(20)]
        assert acks == [f"43/test,{i}[{i}]" for i in range(20)]
    finally:
        await ws.close()


async def test_unknown_namespace_gets_connect_error(http: aiohttp.ClientSession, full: Target) -> None:
    """Socket.IO v5 "Connection to a namespace": an unknown namespace gets CONNECT_ERROR, not a close."""
    async with http.ws_connect(full.ws_url()) as ws:
        await ws.receive_str(timeout=T)
        await ws.send_str("40/nowhere,")
        assert await ws.receive_str(timeout=T) == '44/nowhere,{"message":"Invalid namespace"}'
