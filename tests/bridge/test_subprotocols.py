"""The bridge's handshake choices: --transports without websocket (4400), the openline.v1
subprotocol echoed, unknown subprotocols opened without one and without a log line."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tests.bridge.conftest import WsFactory, receive_close, receive_json
from tests.bridge.test_handshake import SEED_ACCEPT, SEED_KEY
from tests.conftest import UNIT, ServerFactory


async def raw_upgrade(url: str, path: str, protocols: str | None) -> tuple[str, dict[str, str]]:
    """The status line and headers of the 101 (or refusal) for one raw upgrade request."""
    async with aiohttp.ClientSession() as http:
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": SEED_KEY,
                   "Sec-WebSocket-Version": "13"}
        if protocols is not None:
            headers["Sec-WebSocket-Protocol"] = protocols
        async with http.get(url + path, headers=headers) as resp:
            return f"{resp.status} {resp.reason}", {k.lower(): v for k, v in resp.headers.items()}


async def test_bridge_refused_with_4400_when_websocket_is_not_a_transport(
        start_server: ServerFactory, ws_connect: WsFactory) -> None:
    """--transports polling: the upgrade opens, then closes with 4400 "websocket transport disabled"."""
    url = await start_server(transports=("polling",))
    ws = await ws_connect(url, "/")
    assert await receive_close(ws) == (4400, "websocket transport disabled")


async def test_bridge_opens_when_websocket_is_a_transport(start_server: ServerFactory,
                                                          ws_connect: WsFactory) -> None:
    """--transports websocket alone (no polling) still serves the bridge."""
    url = await start_server(transports=("websocket",))
    ws = await ws_connect(url, "/")
    await ws.send_json({"event": "echo", "data": ["up"], "id": 1})
    assert await receive_json(ws) == {"ack": 1, "data": ["up"]}


@pytest.mark.parametrize("offered,chosen", [
    ("openline.v1", "openline.v1"),
    ("graphql-ws, openline.v1", "openline.v1"),   # the one we speak, wherever it is in the list
    ("openline.v1, json", "openline.v1"),
    (None, None),                                  # asked for none: none
    ("mqtt, wamp.2.json", None),                   # only unknown ones: opens without one
])
async def test_subprotocol_echo(start_server: ServerFactory, offered: str | None, chosen: str | None) -> None:
    """The 101 names openline.v1 when the client offers it, and no subprotocol otherwise."""
    url = await start_server()
    status, headers = await raw_upgrade(url, "/", offered)
    assert status == "101 Switching Protocols" and headers["sec-websocket-accept"] == SEED_ACCEPT
    assert headers.get("sec-websocket-protocol") == chosen


async def test_unknown_subprotocol_session_works_and_logs_nothing(
        start_server: ServerFactory, ws_connect: WsFactory, caplog: pytest.LogCaptureFixture) -> None:
    """A client offering only unknown subprotocols gets a working session and no aiohttp WARNING."""
    url = await start_server()
    with caplog.at_level(logging.DEBUG, logger="aiohttp.websocket"):
        ws = await ws_connect(url, "/", protocols=("mqtt",))
        await ws.send_json({"event": "echo", "data": ["still"], "id": 2})
        assert await receive_json(ws) == {"ack": 2, "data": ["still"]}
    assert ws.protocol is None
    assert [r.getMessage() for r in caplog.records if r.name == "aiohttp.websocket"] == []


async def test_client_asking_for_openline_v1_gets_it(start_server: ServerFactory,
                                                     ws_connect: WsFactory) -> None:
    """aiohttp's client offering ("x", "openline.v1") sees ws.protocol == "openline.v1" and can talk."""
    url = await start_server()
    ws = await ws_connect(url, "/", protocols=("x", "openline.v1"), timeout=aiohttp.ClientWSTimeout(5 * UNIT))
    await ws.send_str("hi")
    assert ws.protocol == "openline.v1"
    msg = await ws.receive(5 * UNIT)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "hi")
