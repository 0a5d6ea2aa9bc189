"""A JSON client's binary packets on the wire (server/realtime/binary_fast.py, parsers.binary_frames):
events, acks, emits and call() answers with attachments take the fast path both ways, with
python-socketio's frames, and whatever the general path refuses is still refused as it was."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from openline.app import SIO_KEY, create_app
from openline.config import Config

from tests.abuse.test_limits import connected_ws, openline_warnings
from tests.conftest import TEST_PLUGINS, UNIT
from tests.integration.test_wire import assert_closed


class Served:
    """A server (the test plugins' /test) and every frame its general path dispatched."""

    def __init__(self, url: str, sio: Any, dispatched: list[Any]) -> None:
        self.url, self.sio, self.dispatched = url, sio, dispatched


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app = create_app(Config(port=0, plugins_dirs=(TEST_PLUGINS,)))
    sio = app[SIO_KEY]
    dispatched: list[Any] = []
    general = sio._dispatch

    async def recorded(eio_sid: str, data: Any) -> None:
        dispatched.append(data)
        await general(eio_sid, data)

    sio._dispatch = recorded
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield Served(f"http://127.0.0.1:{server.port}", sio, dispatched)
    await server.close()


async def receive_all(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    return [(await ws.receive(timeout=5 * UNIT)).data for _ in range(count)]


async def test_binary_event_and_its_ack_take_the_fast_path(served):
    """A BINARY_EVENT with two attachments (nested, one empty) is acked with stock's frames,
    and none of its frames reaches the general path."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, served.url, "/test")
        await ws.send_str('452-/test,4["binary",{"_placeholder":true,"num":0},'
                          '{"k":[{"_placeholder":true,"num":1}],"n":1}]')
        await ws.send_bytes(b"\x01\x02")
        await ws.send_bytes(b"")
        assert await receive_all(ws, 3) == [
            '462-/test,4[{"_placeholder":true,"num":0},{"k":[{"_placeholder":true,"num":1}],"n":1}]',
            b"\x01\x02", b""]
        await ws.close()
    assert served.dispatched == ["0/test,"]  # the CONNECT only


async def test_emit_with_bytes_leaves_as_stocks_frames(served):
    """A handler's emit of bytes to a room reaches the other member as BINARY_EVENT frames."""
    async with aiohttp.ClientSession() as session:
        sender = await connected_ws(session, served.url, "/test")
        reader = await connected_ws(session, served.url, "/test")
        for n, ws in enumerate((sender, reader)):
            await ws.send_str(f'42/test,{n}["join","r"]')
            assert await ws.receive_str(timeout=5 * UNIT) == f'43/test,{n}["r"]'
        await sender.send_str('451-/test,9["broadcast","r",[{"_placeholder":true,"num":0},"t"]]')
        await sender.send_bytes(b"\xff" * 32)
        assert await sender.receive_str(timeout=5 * UNIT) == '43/test,9["sent"]'
        assert await receive_all(reader, 2) == [
            '451-/test,["broadcast",[{"_placeholder":true,"num":0},"t"]]', b"\xff" * 32]
        await sender.close()
        await reader.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_call_answered_with_bytes(served, py_client, transport):
    """call() to a JSON client answering with bytes (a BINARY_ACK) returns them, settled as
    its frames are parsed: neither the header nor the attachments reach the general path."""
    client = py_client()

    @client.on("give", namespace="/test")
    def give(data: Any) -> tuple[Any, ...]:
        return {"b": data}, b""

    @client.on("welcome", namespace="/test")
    def welcome(data: Any) -> None:
        return None

    await client.connect(served.url, namespaces=["/test"], transports=[transport],
                         wait_timeout=5 * UNIT)
    reply = await client.call("call_client", ("give", b"\x00\x01", 5 * UNIT), namespace="/test",
                              timeout=5 * UNIT)
    assert reply == {"result": [{"b": b"\x00\x01"}, b""]}
    assert [d for d in served.dispatched if not isinstance(d, str) or d[:1] in "56"] == []
    await client.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_python_socketio_client_binary_round_trip(served, py_client, transport):
    """A python-socketio client's binary event comes back in its ack, bytes and bytearray
    alike, over both transports."""
    client = py_client()
    await client.connect(served.url, namespaces=["/test"], transports=[transport],
                         wait_timeout=5 * UNIT)
    reply = await client.call("binary", [b"a", {"x": bytearray(b"b")}], namespace="/test",
                              timeout=5 * UNIT)
    assert reply == [b"a", {"x": b"b"}]
    await client.disconnect()


@pytest.mark.parametrize(("frames", "reason"), [
    (['451-/test,["echo",{"_placeholder":true,"num":3}]', b"\x01"], "list index out of range"),
    (['451-/test,["echo",{"_placeholder":true,"num":"0"}]', b"\x01"],
     "list indices must be integers or slices, not str"),
    (['452-/test,["echo",{"_placeholder":true,"num":0}]', b"\x01", '42/test,["a text frame"]'],
     "expected a binary attachment"),
    (['4511-/test,["x",{"_placeholder":true,"num":0}]'], "11 attachments declared (limit 10)"),
    (['451-/test,["disconnect",{"_placeholder":true,"num":0}]'], "reserved event name 'disconnect'"),
    (['451-/nowhere,["x",{"_placeholder":true,"num":0}]'],
     "packet for namespace /nowhere before its CONNECT"),
    (['451-/test,["x",' + "[" * 64 + '{"_placeholder":true,"num":0}' + "]" * 64 + "]"],
     "nested deeper than 64"),
], ids=["placeholder-out-of-range", "placeholder-str", "text-for-attachment", "attachments",
        "reserved", "namespace", "depth"])
async def test_refused_binary_packets_close_as_before(served, caplog, frames, reason):
    """Each binary packet the general path refuses still closes the connection, with its one
    WARNING line."""
    caplog.set_level(logging.WARNING, logger="openline")
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, served.url, "/test")
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        await assert_closed(ws)
    warnings = openline_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].endswith(f": malformed Socket.IO packet: {reason}"), warnings


async def test_a_full_queue_holds_the_binary_event_back(start_server):
    """With the client's bound of events waiting, the last attachment goes to the read loop,
    which waits for room: no event is lost and the acks come in order."""
    url = await start_server(max_queued_events=1)
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url, "/test")
        other = await connected_ws(session, url, "/test")
        await ws.send_str('42/test,1["block","bp"]')  # runs, and waits for the gate
        for n in (2, 3):  # the blocked event fills the queue: the read loop waits for room
            await ws.send_str(f'451-/test,{n}["binary",{{"_placeholder":true,"num":0}}]')
            await ws.send_bytes(bytes([n]))
        await other.send_str('42/test,1["release","bp"]')
        assert await other.receive_str(timeout=5 * UNIT) == "43/test,1[true]"
        assert await receive_all(ws, 5) == [
            '43/test,1["released"]',
            '461-/test,2[{"_placeholder":true,"num":0}]', b"\x02",
            '461-/test,3[{"_placeholder":true,"num":0}]', b"\x03"]
        await ws.close()
        await other.close()


def test_socketio_client_decodes_what_the_fast_encoder_writes():
    """python-socketio's own client parser reads the fast frames back to the data sent."""
    from openline.realtime.parsers import binary_frames

    data = ["e", {"a": [b"1", bytearray(b"2")]}, b""]
    frames = binary_frames(socketio.packet.EVENT, "/n", data, 5)
    assert frames is not None and frames[0].text is not None
    pkt = socketio.packet.Packet(encoded_packet=frames[0].text[1:])
    done = [pkt.add_attachment(f.wire) for f in frames[1:]]
    assert done[-1] is True and (pkt.namespace, pkt.id) == ("/n", 5)
    assert pkt.data == ["e", {"a": [b"1", b"2"]}, b""]
