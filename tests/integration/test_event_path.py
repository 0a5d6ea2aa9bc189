"""The event path (server/realtime/events.py) on the wire: handler resolution and acks give the
frames python-socketio's general path gives, for JSON and msgpack clients alike."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import msgpack
import pytest
from aiohttp.test_utils import TestServer
from openline.app import SIO_KEY, create_app
from openline.config import Config

from tests.conftest import UNIT
from tests.integration.test_wire import assert_closed, open_ws

PLUGIN = '''
import asyncio
import socketio

GATE = asyncio.Event()

class Plain(socketio.AsyncNamespace):
    def on_sync(self, sid, x):
        return x + 1

    async def on_pair(self, sid, a, b):
        return a, b

    async def on_nothing(self, sid):
        return None

    async def on_cancelled(self, sid):
        raise asyncio.CancelledError()

    async def on_blob(self, sid):
        return b"\\x01\\x02"

    async def on_big(self, sid):
        return 2 ** 70

    async def on_slow(self, sid):
        await self.emit("progress", "half", to=sid)
        GATE.clear()
        await GATE.wait()
        return "done"

    async def on_release(self, sid):
        GATE.set()

class CatchAll(socketio.AsyncNamespace):
    async def trigger_event(self, event, *args):
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        return ["caught", event, list(args[1:])]

namespaces = [Plain("/plain"), CatchAll("/catchall")]
'''

JSON_EXCHANGES = [
    ('42/plain,1["sync",1]', ['43/plain,1[2]']),
    ('42/plain,2["pair","a",[1]]', ['43/plain,2["a",[1]]']),
    ('42/plain,3["nothing"]', ['43/plain,3[]']),
    ('42/plain,4["missing"]', ['43/plain,4[]']),
    ('42/plain,5["cancelled"]', ['43/plain,5[]']),
    ('42/plain,6["blob"]', ['461-/plain,6[{"_placeholder":true,"num":0}]', b"\x01\x02"]),
    ('42/plain,7["big"]', ['43/plain,7[1180591620717411303424]']),
    ('42/catchall,8["anything",1]', ['43/catchall,8[["caught","anything",[1]]]']),
]


@pytest.fixture
async def plugin_url(start_server, tmp_path: Path) -> str:
    (tmp_path / "paths.py").write_text(textwrap.dedent(PLUGIN))
    return await start_server(plugins_dirs=(tmp_path,), builtins=False)


async def connected_ws(session: aiohttp.ClientSession, url: str,
                       namespace: str) -> aiohttp.ClientWebSocketResponse:
    """A raw WebSocket connected to ``namespace`` with the JSON parser."""
    ws = await open_ws(session, url)
    await ws.send_str(f"40{namespace},")
    assert (await ws.receive_str(timeout=5 * UNIT)).startswith(f'40{namespace},{{"sid":"')
    return ws


@pytest.mark.parametrize(("sent", "expected"), JSON_EXCHANGES,
                         ids=["sync", "tuple", "none", "no-handler", "cancelled", "binary",
                              "bigint", "own-trigger-event"])
async def test_json_event_acks(plugin_url, sent, expected):
    """Each handler shape's ack frames are exactly those of python-socketio's encoder."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, plugin_url, sent[2:sent.index(",")])
        await ws.send_str(sent)
        got = []
        for item in expected:
            msg = await ws.receive(timeout=5 * UNIT)
            got.append(msg.data)
            assert msg.type == (aiohttp.WSMsgType.BINARY if isinstance(item, bytes)
                                else aiohttp.WSMsgType.TEXT)
        assert got == expected
        await ws.close()


MSGPACK_EXCHANGES = [
    ({"type": 2, "nsp": "/plain", "data": ["sync", 1], "id": 1}, [2]),
    ({"type": 2, "nsp": "/plain", "data": ["pair", "a", b"\x00\x01"], "id": 2}, ["a", b"\x00\x01"]),
    ({"type": 2, "nsp": "/plain", "data": ["missing"], "id": 3}, []),
    ({"type": 2, "nsp": "/catchall", "data": ["x", {"k": 1}], "id": 4}, [["caught", "x", [{"k": 1}]]]),
]


@pytest.mark.parametrize(("sent", "ack_data"), MSGPACK_EXCHANGES,
                         ids=["sync", "binary-args", "no-handler", "own-trigger-event"])
async def test_msgpack_event_acks(plugin_url, sent, ack_data):
    """A msgpack client's acks carry the handler's values in socket.io-msgpack-parser's map."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, plugin_url)
        await ws.send_bytes(msgpack.packb({"type": 0, "nsp": sent["nsp"]}))
        connected = msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))
        assert connected["type"] == 0 and connected["nsp"] == sent["nsp"]
        await ws.send_bytes(msgpack.packb(sent))
        ack = msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))
        assert ack == {"type": 3, "nsp": sent["nsp"], "data": ack_data, "id": sent["id"]}
        await ws.close()


@pytest.mark.parametrize("garbage", [
    {"type": 2, "nsp": "chat", "data": ["x"]},
    {"type": 2, "nsp": "/plain", "data": ["x"], "id": -1},
    {"type": 2, "nsp": "/plain", "data": []},
    {"type": 2, "nsp": "/plain", "data": ["disconnect"]},
    {"type": 2, "data": ["x"]},
], ids=["namespace-without-slash", "negative-id", "empty-event", "reserved-event", "no-nsp"])
async def test_malformed_msgpack_event_closes_the_connection(plugin_url, garbage):
    """A msgpack EVENT breaking the Socket.IO v5 rules closes the connection."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, plugin_url)
        await ws.send_bytes(msgpack.packb({"type": 0, "nsp": "/plain"}))
        assert msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))["type"] == 0
        await ws.send_bytes(msgpack.packb(garbage))
        await assert_closed(ws)


async def test_emit_before_a_suspension_leaves_at_once(plugin_url):
    """What a handler sends before it awaits reaches the client while it still waits."""
    async with aiohttp.ClientSession() as session:
        slow = await connected_ws(session, plugin_url, "/plain")
        other = await connected_ws(session, plugin_url, "/plain")
        await slow.send_str('42/plain,1["slow"]')
        assert await slow.receive_str(timeout=5 * UNIT) == '42/plain,["progress","half"]'
        await other.send_str('42/plain,["release"]')
        assert await slow.receive_str(timeout=5 * UNIT) == '43/plain,1["done"]'
        await slow.close()
        await other.close()


async def test_decorator_handlers_take_python_socketios_path():
    """With @sio.on handlers registered, decorator, catch-all and class handlers all answer."""
    app = create_app(Config(port=0))
    sio = app[SIO_KEY]

    @sio.on("shout", namespace="/")
    async def shout(sid, text):
        return text.upper()

    @sio.on("*", namespace="/")
    async def anything(event, sid, *args):
        return ["any", event, *args]

    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            ws = await open_ws(session, f"http://127.0.0.1:{server.port}")
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
            await ws.send_str('421["shout","hi"]')
            assert await ws.receive_str(timeout=5 * UNIT) == '431["HI"]'
            await ws.send_str('422["whatever",1]')
            assert await ws.receive_str(timeout=5 * UNIT) == '432[["any","whatever",1]]'
            await ws.close()
    finally:
        await server.close()
