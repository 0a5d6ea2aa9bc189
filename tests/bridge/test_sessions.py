"""Bridge sessions as first-class sessions: rooms with socket.io clients, refusals,
server-side disconnects, heartbeat, shutdown."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from openline.app import create_app
from openline.config import Config

from tests.bridge.conftest import WsFactory, receive, receive_close, receive_json
from tests.conftest import TEST_PLUGINS, UNIT, ServerFactory
from tests.integration.conftest import Inbox


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
async def test_chat_room_both_ways(server_url: str, ws_connect: WsFactory,
                                   py_client: Callable[..., socketio.AsyncClient],
                                   serializer: str) -> None:
    """A bridge client and a python-socketio client share a /chat room, both directions."""
    client = py_client(serializer=serializer)
    inbox = Inbox(client, "/chat", "message", "presence")
    await client.connect(server_url, namespaces=["/chat"], transports=["websocket"],
                         auth={"nickname": "py", "room": "lobby"})
    ws = await ws_connect(server_url, "/chat?nickname=ann&room=lobby")
    assert await inbox.get("presence") == {"room": "lobby", "nickname": "ann", "action": "join"}

    await ws.send_str("hi from a plain WebSocket")
    got = await inbox.get("message")
    assert {k: got[k] for k in ("room", "nickname", "text")} == {
        "room": "lobby", "nickname": "ann", "text": "hi from a plain WebSocket"}

    await client.emit("message", "hi from python", namespace="/chat")
    env = await receive_json(ws)
    assert env["event"] == "message" and len(env["data"]) == 1
    assert {k: env["data"][0][k] for k in ("room", "nickname", "text")} == {
        "room": "lobby", "nickname": "py", "text": "hi from python"}

    await ws.send_str('{"event": "who", "data": "lobby", "id": 1}')
    assert await receive_json(ws) == {"ack": 1, "data": [{"room": "lobby", "members": ["ann", "py"]}]}
    await ws.close()
    assert await inbox.get("presence") == {"room": "lobby", "nickname": "ann", "action": "leave"}


async def test_broadcast_reaches_both_kinds(server_url: str, ws_connect: WsFactory,
                                            py_client: Callable[..., socketio.AsyncClient]) -> None:
    """One room broadcast from a socket.io client reaches bridge clients and socket.io clients."""
    sender, listener = py_client(), py_client()
    inbox = Inbox(listener, "/test", "broadcast")
    for c in (sender, listener):
        await c.connect(server_url, namespaces=["/test"], transports=["websocket"])
    await listener.call("join", "r", namespace="/test")
    plain = [await ws_connect(server_url, "/test") for _ in range(3)]
    for n, ws in enumerate(plain):
        await receive_json(ws)  # welcome
        await ws.send_str(f'{{"event": "join", "data": "r", "id": {n}}}')
        assert await receive_json(ws) == {"ack": n, "data": ["r"]}
    assert await sender.call("broadcast", ("r", {"b": b"\x01", "n": 1}), namespace="/test") == "sent"
    assert await inbox.get("broadcast") == {"b": b"\x01", "n": 1}
    for ws in plain:
        assert await receive_json(ws) == {"event": "broadcast", "data": [{"b": {"$binary": "AQ=="}, "n": 1}]}


@pytest.mark.parametrize("path,code,reason", [
    ("/chat", 4403, "nickname required"),
    ("/test?refuse=go%20away", 4403, "go away"),
    ("/nowhere", 4404, "Invalid namespace"),
])
async def test_refused_connects(server_url: str, ws_connect: WsFactory, path: str, code: int,
                                reason: str) -> None:
    """Refusals close with 4403 and the handler's message; unknown namespaces with 4404."""
    ws = await ws_connect(server_url, path)
    assert await receive_close(ws) == (code, reason)


async def test_server_disconnect_closes_the_socket(server_url: str, ws_connect: WsFactory) -> None:
    """sio.disconnect(sid) of a bridge session closes its WebSocket with 1000."""
    ws = await ws_connect(server_url, "/test")
    await receive_json(ws)  # welcome
    await ws.send_str('{"event": "kick"}')
    assert await receive_close(ws) == (1000, "disconnected by server")


async def test_heartbeat_drops_a_silent_client(start_server: ServerFactory, ws_connect: WsFactory) -> None:
    """The bridge pings after --ping-interval and closes when no pong comes in --ping-timeout."""
    url = await start_server(ping_interval=0.2, ping_timeout=0.2)
    ws = await ws_connect(url, autoping=False)
    msg = await receive(ws)
    assert msg.type is aiohttp.WSMsgType.PING
    msg = await receive(ws)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_heartbeat_keeps_an_answering_client(start_server: ServerFactory,
                                                   ws_connect: WsFactory) -> None:
    """A client that answers pings (as browsers do) stays connected past several intervals."""
    url = await start_server(ping_interval=0.1, ping_timeout=0.5)
    ws = await ws_connect(url)
    reader = asyncio.ensure_future(ws.receive())  # aiohttp's client pongs while receiving
    await asyncio.sleep(0.6 * UNIT)  # several ping intervals: the passing time is the test
    assert not reader.done()
    await ws.send_str("alive")
    msg = await asyncio.wait_for(reader, 5 * UNIT)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "alive")


async def test_shutdown_closes_with_1001() -> None:
    """Stopping the server closes bridge sessions with 1001 (going away)."""
    server = TestServer(create_app(Config(port=0, plugins_dirs=(TEST_PLUGINS,))), host="127.0.0.1", port=0)
    await server.start_server()
    closed: list[Any] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send_str("up")
            assert (await receive(ws)).data == "up"
            await asyncio.wait_for(server.close(), 10 * UNIT)
            closed.append(await receive(ws))
    assert (closed[0].type, closed[0].data, closed[0].extra) == (
        aiohttp.WSMsgType.CLOSE, 1001, "server shutting down")


def _masked_text_frame(payload: bytes) -> bytes:
    """A client text frame (RFC 6455 §5.2); the all-zero mask leaves the payload as is."""
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return b"\x81" + length + b"\x00\x00\x00\x00" + payload


async def test_client_that_stops_reading_is_dropped(start_server: ServerFactory,
                                                    ws_connect: WsFactory) -> None:
    """A client that never reads is dropped once 4 × --max-payload is unsent; others go on."""
    url = await start_server(max_payload=16_000)
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up fast
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    frame = _masked_text_frame(b"x" * 15_000)  # each one is echoed back, and never read
    dropped = False
    try:
        for _ in range(4000):  # 60 MB: far past any loopback socket buffer
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), 10 * UNIT)
    except (ConnectionResetError, BrokenPipeError):
        dropped = True
    finally:
        writer.close()
    assert dropped, "the server kept a client that never reads"
    ws = await ws_connect(url)
    await ws.send_str("still serving")
    assert (await receive(ws)).data == "still serving"
