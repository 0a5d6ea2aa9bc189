"""Engine.IO v4 "Handshake" and "Transports" (query parameters, refused requests)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import UNIT

from .conftest import Target, error, get_text

KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


async def test_polling_handshake_fields(http: aiohttp.ClientSession, target: Target) -> None:
    """Handshake: open packet = sid, upgrades, pingInterval/pingTimeout in ms (0.3 s → 300), maxPayload."""
    status, body = await get_text(http, target.url("heartbeat"))
    assert status == 200 and body[0] == "0"
    opened = json.loads(body[1:])
    assert set(opened) == KEYS
    assert isinstance(opened["sid"], str) and opened["sid"]
    assert opened["upgrades"] == ["websocket"]
    assert (opened["pingInterval"], opened["pingTimeout"]) == (300, 200)
    assert opened["maxPayload"] == 1000000


async def test_websocket_handshake_fields(http: aiohttp.ClientSession, target: Target) -> None:
    """Handshake (WebSocket-only session): the first frame is the open packet, upgrades []."""
    async with http.ws_connect(target.ws_url("heartbeat")) as ws:
        frame = await ws.receive_str(timeout=5 * UNIT)
    assert frame[0] == "0"
    opened = json.loads(frame[1:])
    assert set(opened) == KEYS
    assert opened["upgrades"] == []
    assert (opened["pingInterval"], opened["pingTimeout"], opened["maxPayload"]) == (300, 200, 1000000)


async def test_max_payload_is_the_configured_limit(http: aiohttp.ClientSession, target: Target) -> None:
    """Handshake: maxPayload is --max-payload as configured (10000 here)."""
    status, body = await get_text(http, target.url())
    assert json.loads(body[1:])["maxPayload"] == 10000


@pytest.mark.parametrize("transport", [None, "abc", "flashsocket"])
async def test_unknown_transport(http: aiohttp.ClientSession, target: Target,
                                 transport: str | None) -> None:
    """Query parameters: missing or unknown transport → 400 {"code":0,"message":"Transport unknown"}."""
    async with http.get(target.url(transport=transport)) as resp:
        assert resp.status == 400
        assert resp.content_type == "application/json"
        assert json.loads(await resp.text()) == error(0)


@pytest.mark.parametrize("eio", [None, "3", "abc"])
async def test_unsupported_protocol_version(http: aiohttp.ClientSession, target: Target,
                                            eio: str | None) -> None:
    """Query parameters: missing or other EIO → 400 {"code":5,"message":"Unsupported protocol version"}."""
    status, body = await get_text(http, target.url(EIO=eio))
    assert status == 400
    assert json.loads(body) == error(5)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_sid(http: aiohttp.ClientSession, target: Target, method: str) -> None:
    """Sending/receiving data: an unknown sid → 400 {"code":1,"message":"Session ID unknown"}."""
    async with http.request(method, target.url(sid="no-such-sid"), data="4x") as resp:
        assert resp.status == 400
        assert json.loads(await resp.text()) == error(1)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_bad_handshake_method(http: aiohttp.ClientSession, target: Target, method: str) -> None:
    """Handshake: only GET opens a session; else 400 {"code":2,"message":"Bad handshake method"}."""
    async with http.request(method, target.url(), data="") as resp:
        assert resp.status == 400
        assert json.loads(await resp.text()) == error(2)


async def test_websocket_transport_without_upgrade(http: aiohttp.ClientSession, target: Target) -> None:
    """Transports: transport=websocket on a plain GET → 400 {"code":3,"message":"Bad request"}."""
    status, body = await get_text(http, target.url(transport="websocket"))
    assert status == 400
    assert json.loads(body) == error(3)


@pytest.mark.parametrize("query", [{"EIO": None}, {"EIO": "abc"}, {"transport": None},
                                   {"transport": "abc"}])
async def test_websocket_bad_query_is_refused(http: aiohttp.ClientSession, target: Target,
                                              query: dict[str, str | None]) -> None:
    """WebSocket: a missing/invalid EIO or transport → the connection is refused with 400."""
    base: dict[str, Any] = {"transport": "websocket", **query}
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(target.url("default", "ws", **base))
    assert info.value.status == 400


async def test_transports_option_limits_upgrades(http: aiohttp.ClientSession, start_server: Any) -> None:
    """Handshake `upgrades` and transports follow --transports: polling only offers no upgrade."""
    url = await start_server(transports=("polling",))
    status, body = await get_text(http, f"{url}/socket.io/?EIO=4&transport=polling")
    assert status == 200 and json.loads(body[1:])["upgrades"] == []
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(f"{url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket")
    assert info.value.status == 400


async def test_websocket_only_refuses_polling(http: aiohttp.ClientSession, start_server: Any) -> None:
    """Transports: with --transports websocket, polling → 400 {"code":0,"message":"Transport unknown"}."""
    url = await start_server(transports=("websocket",))
    status, body = await get_text(http, f"{url}/socket.io/?EIO=4&transport=polling")
    assert status == 400 and json.loads(body) == error(0)
    async with http.ws_connect(f"{url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket") as ws:
        assert json.loads((await ws.receive_str(timeout=5 * UNIT))[1:])["upgrades"] == []
