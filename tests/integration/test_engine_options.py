"""Engine options with real clients (issue #16): --path with the npm socket.io-client and
python-socketio on every transport, the bridge and the demo page beside a moved engine,
--no-upgrades and --cookie as the npm client and python-socketio meet them.
The raw protocol side of each option is in tests/protocol/test_options.py."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
import socketio

from tests.conftest import UNIT, ServerFactory, run_node
from tests.integration.conftest import EXPECTED_TRANSPORT, TRANSPORTS, node_options

PAYLOAD = {"text": "héllo ☎", "n": [1, 2.5, None, True]}
ARGS = [1, "two", None, {"three": [3]}, False]


@pytest.mark.node
@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_npm_client_with_path_option(start_server: ServerFactory, transport: str) -> None:
    """--path /rt/: io(url, {path: "/rt/"}) sends and gets acks over polling, websocket, the upgrade."""
    url = await start_server(path="/rt/")
    result = await run_node("scenario.mjs", node_options(
        url, transport, "json", scenario="echo", namespace="/", client={"path": "/rt/"},
        payload=PAYLOAD, args=ARGS))
    assert result == {"message": PAYLOAD, "acked": ARGS, **EXPECTED_TRANSPORT[transport]}


@pytest.mark.node
async def test_npm_client_default_path_finds_nothing(start_server: ServerFactory) -> None:
    """--path /rt/: a client left at /socket.io/ gets connect_error (the engine is not there)."""
    url = await start_server(path="/rt/")
    result = await run_node("scenario.mjs", {"url": url, "scenario": "connect_error",
                                             "transports": ["polling"]})
    assert result == {"message": "xhr poll error", "data": None, "connected": False}


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_python_client_with_socketio_path(start_server: ServerFactory,
                                                py_client: Callable[..., socketio.AsyncClient],
                                                transports: list[str]) -> None:
    """--path /rt/: python-socketio's AsyncClient(socketio_path="rt") connects and calls on each transport."""
    url = await start_server(path="/rt/")
    client = py_client()
    await client.connect(url, socketio_path="rt", transports=transports, wait_timeout=5 * UNIT)
    assert await client.call("echo", "over there", timeout=5 * UNIT) == "over there"
    assert client.transport() == transports[-1]


async def test_bridge_and_demo_beside_a_moved_engine(start_server: ServerFactory) -> None:
    """--path /rt/: plain WebSockets still reach namespaces; the demo page is told the path."""
    url = await start_server(path="/rt/")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url.replace("http", "ws") + "/") as ws:
            await ws.send_str("still bridged")
            msg = await ws.receive(timeout=5 * UNIT)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "still bridged")
        async with http.get(url + "/") as resp:
            assert resp.status == 200
            page = await resp.text()
        async with http.get(url + "/rt/", params={"EIO": "4", "transport": "websocket"},
                            headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                     "Sec-WebSocket-Version": "13",
                                     "Sec-WebSocket-Key": "sN9cRrP/n9NdMgdcy2VJFQ=="}) as resp:
            assert resp.status == 101  # the engine, not the bridge, takes upgrades under --path
    assert '<meta name="openline-path" content="/rt/">\n</head>' in page


@pytest.mark.node
@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_npm_client_without_upgrades(start_server: ServerFactory, transport: str) -> None:
    """--no-upgrades: the npm client works over polling and over a WebSocket-only session."""
    url = await start_server(allow_upgrades=False)
    result = await run_node("scenario.mjs", node_options(
        url, transport, "json", scenario="echo", namespace="/", payload=PAYLOAD, args=ARGS))
    assert result == {"message": PAYLOAD, "acked": ARGS, **EXPECTED_TRANSPORT[transport]}


async def test_python_client_with_cookie(start_server: ServerFactory,
                                         py_client: Callable[..., socketio.AsyncClient]) -> None:
    """--cookie io: python-socketio connects and calls over polling and upgrades as without it."""
    url = await start_server(cookie="io; Path=/; HttpOnly; SameSite=Lax")
    client = py_client()
    await client.connect(url, wait_timeout=5 * UNIT)
    assert await client.call("echo", "sticky", timeout=5 * UNIT) == "sticky"
