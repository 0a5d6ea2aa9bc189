"""Socket.IO clients pushing past the limits: attachments, queued events, rooms,
namespaces, rate, nesting. Each test is one attack and its exact outcome: the refusal
the peer reads, the bound on the close, and the log lines it costs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
import socketio

from tests.conftest import TEST_PLUGINS, UNIT, ServerFactory
from tests.integration.test_wire import assert_closed, open_ws

WORK_SECONDS = 0.05
# ``/slow``: ``work`` takes 50 ms (a database call, say), so a client sending faster fills
# its queue; ``ran`` says how many ran. Written per test: tests/plugins is enumerated.
SLOW_PLUGIN = f"""
import asyncio
import socketio


class SlowNamespace(socketio.AsyncNamespace):
    runs = 0
    peak = 0
    order = []

    async def on_work(self, sid, *args):
        await asyncio.sleep({WORK_SECONDS})
        SlowNamespace.runs += 1
        return "done"

    async def on_ran(self, sid):
        return SlowNamespace.runs

    async def on_echo(self, sid, *args):
        return args

    async def on_quick(self, sid, n, *padding):
        # white box: the most events seen waiting behind this one (--max-queued-events)
        client = self.server._steps.clients.get(self.server.manager.eio_sid_from_sid(sid, "/slow"))
        SlowNamespace.peak = max(SlowNamespace.peak, len(client.steps) if client else 0)
        SlowNamespace.order.append(n)
        await asyncio.sleep(0.002)

    async def on_report(self, sid):
        return {{"peak": SlowNamespace.peak, "order": SlowNamespace.order}}

    async def on_buggy(self, sid, value):
        return len(value)  # a bug of ours: TypeError for an int


namespace = SlowNamespace("/slow")
"""


@pytest.fixture
def start_slow(start_server: ServerFactory, tmp_path: Path) -> ServerFactory:
    """``url = await start_slow(**config_fields)``: a server with /slow besides the rest."""
    (tmp_path / "slow.py").write_text(SLOW_PLUGIN)

    async def start(**fields: Any) -> str:
        return await start_server(plugins_dirs=(TEST_PLUGINS, tmp_path), **fields)

    return start


def openline_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("openline") and r.levelno >= logging.WARNING]


async def connected_ws(session: aiohttp.ClientSession, url: str,
                       namespace: str = "/") -> aiohttp.ClientWebSocketResponse:
    """A raw WebSocket client CONNECTed to ``namespace`` with the JSON parser (and past
    the ``welcome`` event /test sends)."""
    ws = await open_ws(session, url)
    prefix = "" if namespace == "/" else namespace + ","
    await ws.send_str("40" + prefix)
    assert (await ws.receive_str(timeout=5 * UNIT)).startswith("40" + prefix + '{"sid":"')
    if namespace == "/test":
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('42/test,["welcome",')
    return ws


def nested(depth: int) -> str:
    """A JSON array ``depth`` levels deep."""
    return "[" * depth + "]" * depth


# --- attachments -------------------------------------------------------------------


async def test_eleven_attachments_declared_close_before_any_is_sent(server_url, caplog):
    """A binary event declaring 11 attachments (limit 10) closes the connection on its
    header, with one WARNING, before any attachment frame is sent."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url)
        await ws.send_str('4511-["x",{"_placeholder":true,"num":0}]')
        await assert_closed(ws)
    warnings = openline_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].endswith(
        ": malformed Socket.IO packet: 11 attachments declared (limit 10)"), warnings


async def test_a_huge_declared_attachment_count_closes_at_once(server_url):
    """The count of the issue's bomb (459999999999-) closes the connection on the header."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url)
        await ws.send_str('459999999999-["x",{"_placeholder":true,"num":0}]')
        await assert_closed(ws)


async def test_ten_attachments_are_accepted(server_url):
    """A binary event with 10 attachments (the limit) reaches its handler and is acked."""
    placeholders = ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(10))
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url, "/test")
        await ws.send_str(f'4510-/test,1["types",{placeholders}]')
        for n in range(10):
            await ws.send_bytes(bytes([n]) * 1000)
        assert await ws.receive_str(timeout=5 * UNIT) == \
            "43/test,1[" + json.dumps(["bytes"] * 10, separators=(",", ":")) + "]"


# --- queued events -----------------------------------------------------------------


async def echo_latencies(client: socketio.AsyncClient, stop: asyncio.Event) -> list[float]:
    """Round trips of ``echo`` on /slow, one after another until ``stop``."""
    latencies = []
    while not stop.is_set():
        started = time.monotonic()
        assert await client.call("echo", "ping", namespace="/slow", timeout=5 * UNIT) == "ping"
        latencies.append(time.monotonic() - started)
    return latencies


FLOOD = 1000


async def test_event_flood_is_slowed_down_not_queued(start_slow, py_client, caplog):
    """1,000 events sent at once to a handler slower than the sender, with
    --max-queued-events 20: never more than 20 wait, every one runs in order (nothing
    accepted is lost), the flooder stays connected, another client's echo keeps answering
    within 1 s, and nothing is logged."""
    url = await start_slow(max_queued_events=20)
    other = py_client()
    await other.connect(url, namespaces=["/slow"], transports=["websocket"])
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(echo_latencies(other, stop))
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url, "/slow")
        for n in range(FLOOD):
            await ws.send_str(f'42/slow,["quick",{n}]')
        await ws.send_str('42/slow,1["report"]')
        report = json.loads((await ws.receive_str(timeout=30 * UNIT))[len("43/slow,1"):])[0]
        assert not ws.closed
    stop.set()
    latencies = await watcher
    assert report["order"] == list(range(FLOOD))
    assert 1 <= report["peak"] <= 20, report["peak"]
    assert latencies and max(latencies) < 1 * UNIT
    assert openline_warnings(caplog) == []


async def test_big_events_are_slowed_down_by_their_bytes(start_slow, caplog):
    """200 events of ~1 KB sent at once with --max-queued-bytes 10000 (and a high event
    bound): never more than 10 wait, every one runs in order, nothing is logged."""
    url = await start_slow(max_queued_events=1000, max_queued_bytes=10_000)
    pad = "x" * 1000
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url, "/slow")
        for n in range(200):
            await ws.send_str(f'42/slow,["quick",{n},"{pad}"]')
        await ws.send_str('42/slow,1["report"]')
        report = json.loads((await ws.receive_str(timeout=30 * UNIT))[len("43/slow,1"):])[0]
    assert report["order"] == list(range(200))
    assert 1 <= report["peak"] <= 10, report["peak"]
    assert openline_warnings(caplog) == []


async def test_disconnect_with_a_full_queue_drops_its_events_quietly(start_slow, py_client, caplog):
    """A client leaving with 200 events waiting for a 50 ms handler: they never run (one
    at most, already running) and nothing is logged at WARNING."""
    server_url = await start_slow()
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url, "/slow")
        for _ in range(200):
            await ws.send_str('42/slow,["work"]')
        await ws.close()
    observer = py_client()
    await observer.connect(server_url, namespaces=["/slow"], transports=["websocket"])
    await asyncio.sleep(10 * WORK_SECONDS * UNIT)  # time for ten of them, had they run
    assert await observer.call("ran", namespace="/slow", timeout=5 * UNIT) <= 1
    assert openline_warnings(caplog) == []


# --- rooms and namespaces ----------------------------------------------------------


async def test_joining_more_rooms_than_the_limit_is_answered_with_an_error(start_server, py_client):
    """With --max-rooms 3 a fourth chat join gets error "too many rooms (limit 3)"; the
    connection stays, and after a leave the join succeeds."""
    url = await start_server(max_rooms=3)
    client = py_client()
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.on("error", errors.put_nowait, namespace="/chat")
    await client.connect(url, namespaces=["/chat"], auth={"nickname": "ann"},
                         transports=["websocket"])
    for room in ("r1", "r2", "r3"):
        joined = await client.call("join", room, namespace="/chat", timeout=5 * UNIT)
        assert joined == {"room": room, "members": ["ann"]}
    await client.emit("join", "r4", namespace="/chat")
    assert await asyncio.wait_for(errors.get(), 5 * UNIT) == {"message": "too many rooms (limit 3)"}
    await client.call("leave", "r1", namespace="/chat", timeout=5 * UNIT)
    assert await client.call("join", "r4", namespace="/chat", timeout=5 * UNIT) == \
        {"room": "r4", "members": ["ann"]}


async def test_connecting_more_namespaces_than_the_limit_is_refused(start_server):
    """With --max-namespaces 1, a CONNECT to a second namespace gets CONNECT_ERROR
    "too many namespaces (limit 1)"; the first namespace keeps working."""
    url = await start_server(max_namespaces=1)
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url)
        await ws.send_str('40/chat,{"nickname":"ann"}')
        assert await ws.receive_str(timeout=5 * UNIT) == \
            '44/chat,{"message":"too many namespaces (limit 1)"}'
        await ws.send_str('421["echo","still here"]')
        assert await ws.receive_str(timeout=5 * UNIT) == '431["still here"]'


# --- rate ----------------------------------------------------------------------------


async def test_events_over_the_rate_are_dropped_with_one_error(start_server):
    """With --rate-limit 10 --rate-burst 5, of 50 events sent at once the first 5 are
    handled, then one error event "rate limit exceeded (10 events/s)" comes, nothing
    more; once tokens refill the client is served again."""
    url = await start_server(rate_limit=10, rate_burst=5)
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url, "/test")
        for n in range(50):
            await ws.send_str(f'42/test,{n}["echo",{n}]')
        frames = []
        while not frames or not frames[-1].startswith('42/test,["error"'):
            frames.append(await ws.receive_str(timeout=5 * UNIT))
        assert frames == [f"43/test,{n}[{n}]" for n in range(5)] + \
            ['42/test,["error",{"message":"rate limit exceeded (10 events/s)"}]']
        with pytest.raises(TimeoutError):
            await ws.receive_str(timeout=0.3 * UNIT)
        await asyncio.sleep(0.25)  # 2.5 tokens at 10/s
        await ws.send_str('42/test,99["echo",99]')
        assert await ws.receive_str(timeout=5 * UNIT) == "43/test,99[99]"


# --- nesting -------------------------------------------------------------------------


async def test_json_event_nested_64_deep_is_accepted_65_closes(server_url, caplog):
    """A JSON event whose payload nests 64 deep (the list itself is 1) is acked; 65 deep
    closes the connection with one WARNING "nested deeper than 64"."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url)
        await ws.send_str(f'421["echo",{nested(63)}]')
        assert await ws.receive_str(timeout=5 * UNIT) == f"431[{nested(63)}]"
        assert openline_warnings(caplog) == []
        await ws.send_str(f'422["echo",{nested(64)}]')
        await assert_closed(ws)
    warnings = openline_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].endswith("nested deeper than 64"), warnings


async def test_deep_connect_payload_and_binary_header_close(server_url):
    """Nesting is checked on every packet: a CONNECT auth and a binary event header
    nested past 64 close the connection too."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str('40{"a":' + nested(64) + "}")
        await assert_closed(ws)
        ws = await connected_ws(session, server_url)
        await ws.send_str('451-["x",' + "[" * 64 + '{"_placeholder":true,"num":0}' + "]" * 64 + "]")
        await assert_closed(ws)


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def test_msgpack_event_nested_64_deep_is_accepted_65_closes(server_url, caplog):
    """Over the msgpack parser too: 64 deep is acked, 65 deep closes with one WARNING."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_bytes(msgpack.packb({"type": 0, "nsp": "/"}))
        assert msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))["type"] == 0
        await ws.send_bytes(msgpack.packb(
            {"type": 2, "nsp": "/", "data": ["echo", deep_list(63)], "id": 1}))
        assert msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT)) == \
            {"type": 3, "nsp": "/", "data": [deep_list(63)], "id": 1}
        await ws.send_bytes(msgpack.packb(
            {"type": 2, "nsp": "/", "data": ["echo", deep_list(64)], "id": 2}))
        await assert_closed(ws)
    warnings = openline_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].endswith("nested deeper than 64"), warnings


async def test_text_with_many_brackets_in_strings_is_not_deep(server_url):
    """Brackets inside strings are not nesting: 500 of them in a message are echoed."""
    text = "[{" * 250
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url)
        await ws.send_str("421" + json.dumps(["echo", text]))
        assert await ws.receive_str(timeout=5 * UNIT) == "431" + json.dumps([text])


async def test_error_events_sent_by_a_client_log_no_warning(server_url, caplog):
    """A client sending 'error' events in a loop costs no WARNING line."""
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, server_url)
        for _ in range(200):
            await ws.send_str('42["error"]')
        await ws.send_str('421["echo","after"]')
        assert await ws.receive_str(timeout=5 * UNIT) == '431["after"]'
    assert openline_warnings(caplog) == []


# --- the same limits for plain-WebSocket (bridge) clients -------------------------------


async def test_bridge_event_flood_is_slowed_down_not_queued(start_slow, caplog):
    """A bridge client sending 1,000 events at once with --max-queued-events 20: never
    more than 20 wait, all run in order, it stays connected, nothing is logged."""
    url = await start_slow(max_queued_events=20)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url.replace("http://", "ws://") + "/slow", autoclose=False)
        for n in range(FLOOD):
            await ws.send_str(json.dumps({"event": "quick", "data": [n]}))
        await ws.send_str('{"event":"report","id":1}')
        while True:
            frame = json.loads(await ws.receive_str(timeout=30 * UNIT))
            if frame.get("ack") == 1:
                break
        await ws.close()
    report = frame["data"][0]
    assert report["order"] == list(range(FLOOD))
    assert 1 <= report["peak"] <= 20, report["peak"]
    assert openline_warnings(caplog) == []


async def test_bridge_events_over_the_rate_get_one_error(start_server):
    """A bridge client over --rate-limit gets its burst acked, then one error event."""
    url = await start_server(rate_limit=10, rate_burst=3)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url.replace("http://", "ws://") + "/", autoclose=False)
        for n in range(20):
            await ws.send_str(json.dumps({"event": "echo", "data": [n], "id": n}))
        frames = []
        while not frames or frames[-1].get("event") != "error":
            frames.append(json.loads(await ws.receive_str(timeout=5 * UNIT)))
        assert frames == [{"ack": n, "data": [n]} for n in range(3)] + [
            {"event": "error", "data": [{"message": "rate limit exceeded (10 events/s)"}]}]
        await ws.close()


async def test_wrong_argument_count_is_answered_without_a_traceback(start_server, py_client, caplog):
    """A chat event with too many or too few arguments gets error "wrong number of
    arguments for 'join'" and logs nothing at WARNING or above; the client stays."""
    url = await start_server()
    client = py_client()
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.on("error", errors.put_nowait, namespace="/chat")
    await client.connect(url, namespaces=["/chat"], auth={"nickname": "ann"},
                         transports=["websocket"])
    await client.emit("join", ("a", "b"), namespace="/chat")
    assert await asyncio.wait_for(errors.get(), 5 * UNIT) == \
        {"message": "wrong number of arguments for 'join'"}
    await client.emit("join", namespace="/chat")
    assert await asyncio.wait_for(errors.get(), 5 * UNIT) == \
        {"message": "wrong number of arguments for 'join'"}
    assert await client.call("join", "r", namespace="/chat", timeout=5 * UNIT) == \
        {"room": "r", "members": ["ann"]}
    assert openline_warnings(caplog) == []


async def test_a_handlers_own_type_error_is_still_our_bug(start_slow, caplog):
    """A TypeError raised inside a handler whose arguments fit is logged with its
    traceback and answered "internal server error", as any other handler failure."""
    url = await start_slow()
    async with aiohttp.ClientSession() as session:
        ws = await connected_ws(session, url, "/slow")
        await ws.send_str('42/slow,["buggy",1]')
        assert await ws.receive_str(timeout=5 * UNIT) == \
            '42/slow,["error",{"message":"internal server error"}]'
    failed = [r for r in caplog.records if r.name == "openline.realtime" and r.exc_info]
    assert len(failed) == 1 and failed[0].exc_info[0] is TypeError


@pytest.mark.parametrize("frame", [
    '421["echo",' + nested(2000) + "]",
    # {"type": 2, "nsp": "/", "data": ["echo", [[[...]]]]} with the array 2,000 deep
    b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa4echo" + b"\x91" * 2000 + b"\x90",
], ids=["json-past-orjson", "msgpack-past-its-stack"])
async def test_nesting_past_the_decoders_own_limits_reads_as_ours(server_url, caplog, frame):
    """Nesting past the decoders' own limits (orjson 1024, msgpack's stack) closes with
    the same WARNING "nested deeper than 64"."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        if isinstance(frame, bytes):
            await ws.send_bytes(msgpack.packb({"type": 0, "nsp": "/"}))
            assert msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))["type"] == 0
            await ws.send_bytes(frame)
        else:
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
            await ws.send_str(frame)
        await assert_closed(ws)
    warnings = openline_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].endswith(": nested deeper than 64"), warnings
