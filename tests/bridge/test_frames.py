"""Frames in and out of a bridge session, against the built-in "/" and the test "/test"."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.bridge.conftest import WsFactory, receive, receive_json
from tests.conftest import ServerFactory
from tests.plugins.probe import SECRET


async def test_plain_text_echo(server_url: str, ws_connect: WsFactory) -> None:
    """The seed's `send('hello')` on "/" comes back as a plain text frame "hello"."""
    ws = await ws_connect(server_url)
    await ws.send_str("hello")
    msg = await receive(ws)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "hello")


async def test_binary_echo(server_url: str, ws_connect: WsFactory) -> None:
    """A binary frame is a `message` with bytes; the echo comes back as a binary frame."""
    ws = await ws_connect(server_url)
    await ws.send_bytes(b"\x00\x01\xff")
    msg = await receive(ws)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, b"\x00\x01\xff")


async def test_event_with_ack(server_url: str, ws_connect: WsFactory) -> None:
    """{"event","data","id"} calls the handler; its return comes back as {"ack","data"}."""
    ws = await ws_connect(server_url)
    await ws.send_str('{"event": "echo", "data": [1, "a", {"k": null}], "id": 7}')
    assert (await receive(ws)).data == '{"ack":7,"data":[1,"a",{"k":null}]}'
    await ws.send_str('{"event": "echo", "data": "one value", "id": 8}')
    assert (await receive(ws)).data == '{"ack":8,"data":["one value"]}'


async def test_binary_inside_envelopes(server_url: str, ws_connect: WsFactory) -> None:
    """{"$binary": base64} reaches handlers as bytes and bytes come back the same way."""
    ws = await ws_connect(server_url, "/test")
    assert (await receive_json(ws))["event"] == "welcome"
    await ws.send_str('{"event": "types", "data": [{"$binary": "AAE="}, "s"], "id": 1}')
    assert await receive_json(ws) == {"ack": 1, "data": [["bytes", "str"]]}
    await ws.send_str('{"event": "binary", "data": [{"$binary": "AAE="}, {"n": {"$binary": ""}}], "id": 2}')
    assert await receive_json(ws) == {"ack": 2, "data": [{"$binary": "AAE="}, {"n": {"$binary": ""}}]}


async def test_connect_auth_and_address(server_url: str, ws_connect: WsFactory) -> None:
    """Query parameters are the auth dict, REMOTE_ADDR is the peer, and an emit made in
    on_connect arrives as an {"event","data"} envelope."""
    ws = await ws_connect(server_url, "/test?token=abc&n=1")
    assert await receive_json(ws) == {
        "event": "welcome", "data": [{"auth": {"token": "abc", "n": "1"}, "addr": "127.0.0.1"}]}
    await ws.send_str('{"event": "whoami", "id": 3}')
    assert await receive_json(ws) == {"ack": 3, "data": ["127.0.0.1"]}


@pytest.mark.parametrize("frame,message", [
    ('{"event": 42}', "event must be a non-empty string"),
    ('{"event": "disconnect"}', "event name 'disconnect' is reserved"),
    ('{"event": "echo", "id": -1}', "id must be a non-negative integer"),
    ('{"event": "echo", "args": []}', "unknown member 'args' (allowed: event, data, id)"),
    ('{"ack": "x"}', "ack must be a non-negative integer"),
])
async def test_malformed_envelope(server_url: str, ws_connect: WsFactory, frame: str,
                                  message: str) -> None:
    """A malformed envelope gets an `error` event naming the fault; the connection stays."""
    ws = await ws_connect(server_url)
    await ws.send_str(frame)
    assert await receive_json(ws) == {
        "event": "error", "data": [{"message": f"malformed envelope: {message}"}]}
    await ws.send_str("still here")
    assert (await receive(ws)).data == "still here"


async def test_handler_errors(server_url: str, ws_connect: WsFactory) -> None:
    """Handler errors arrive as the `error` event socket.io clients get, secrets withheld."""
    ws = await ws_connect(server_url, "/test")
    await receive_json(ws)  # welcome
    await ws.send_str('{"event": "fail", "data": "no such room"}')
    assert await receive_json(ws) == {"event": "error", "data": [{"message": "no such room"}]}
    await ws.send_str('{"event": "crash"}')
    reply = await receive(ws)
    assert json.loads(reply.data) == {"event": "error", "data": [{"message": "internal server error"}]}
    assert SECRET not in reply.data


async def test_server_call_answered_by_ack(server_url: str, ws_connect: WsFactory) -> None:
    """An emit that wants an ack carries "id"; the client's {"ack": id} resolves it."""
    ws = await ws_connect(server_url, "/test")
    await receive_json(ws)  # welcome
    await ws.send_str('{"event": "call_client", "data": ["question", {"q": 1}, 5], "id": 1}')
    asked = await receive_json(ws)
    assert asked["event"] == "question" and asked["data"] == [{"q": 1}]
    await ws.send_str(json.dumps({"ack": asked["id"], "data": ["answer"]}))
    assert await receive_json(ws) == {"ack": 1, "data": [{"result": "answer"}]}


async def test_oversize_frame_closes_1009(start_server: ServerFactory, ws_connect: WsFactory) -> None:
    """A frame over --max-payload closes the connection with 1009 (message too big)."""
    url = await start_server(max_payload=1000)
    ws = await ws_connect(url)
    await ws.send_str("x" * 1000)
    assert (await receive(ws)).data == "x" * 1000
    await ws.send_str("x" * 1001)
    msg = await receive(ws)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1009)
