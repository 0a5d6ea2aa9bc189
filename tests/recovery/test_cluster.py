"""Connection state recovery across a cluster: two in-process nodes on one real Redis
(``--redis-url`` with ``--recovery-window``: the Redis store), the real socket.io-client
4.8 (tests/js/live_client.mjs) reaching them through a TCP proxy the test re-points, as a
load balancer would send a reconnecting client elsewhere.

The emitting node logs each event once (its offset) and publishes it with that offset:
every node delivers it with the same one. Offsets are Redis stream IDs; the tests check
their form and order and compare the rest of each event exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer
from openline.cluster.messages import emit_message
from openline.recovery import redis_codec as codec

from tests.conftest import UNIT
from tests.recovery.conftest import PLUGINS, LiveClient

pytestmark = pytest.mark.node

NS = "/rec"
OFFSET = re.compile(r"\d+-\d+")
CLIENTS = [("json", ["websocket"]), ("msgpack", ["websocket"]), ("json", ["polling"]),
           ("msgpack", ["polling"])]
CLIENT_IDS = [f"{p}-{t[0]}" for p, t in CLIENTS]


class SwitchProxy:
    """A TCP proxy to one node at a time. ``switch(port)`` sends new connections there and
    closes the current ones (keep-alive polling connections must not stay on the old
    node); ``switch(None)`` refuses new connections."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.target is None:
                raise ConnectionRefusedError
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        pair = {writer, up_writer}
        self._open |= pair

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
        self._open -= pair

    def switch(self, target: int | None) -> None:
        self.target = target
        for writer in list(self._open):
            writer.close()

    async def stop(self) -> None:
        self.switch(None)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def proxy() -> AsyncIterator[SwitchProxy]:
    """A started SwitchProxy pointing nowhere yet."""
    switch = SwitchProxy(None)
    await switch.start()
    yield switch
    await switch.stop()


def port_of(node: Any) -> int:
    return int(node.url.rsplit(":", 1)[1])


async def recovery_nodes(redis: Any, start_node: Any, **fields: Any) -> tuple[Any, Any]:
    """Two nodes sharing ``redis`` for pub/sub and the recovery store, serving /rec."""
    fields = {"redis_url": redis.url, "recovery_window": 30.0, "plugins_dirs": (PLUGINS,), **fields}
    return await start_node(**fields), await start_node(**fields)


async def open_socket(live: LiveClient, url: str, parser: str = "json",
                      transports: list[str] | None = None, **client: Any) -> dict[str, Any]:
    await live.send("open", url=url, namespace=NS, parser=parser,
                    transports=transports or ["websocket"], client=client)
    return await live.expect("connect")


async def drop(live: LiveClient, node: Any, sid: str) -> None:
    """Close the client's transport and wait until ``node`` has saved the socket (its
    disconnect runs after the store's SET has been answered)."""
    await live.send("drop")
    assert (await live.expect("disconnect"))["reason"] == "forced close"

    async def wait() -> None:
        while node.sio.manager.is_connected(sid, NS):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 10 * UNIT)


async def reconnect(live: LiveClient) -> dict[str, Any]:
    await live.send("connect")
    return await live.expect("connect")


def split(events: list[list[Any]]) -> tuple[list[list[Any]], list[str]]:
    """Events without their offsets, and the offsets: each a stream ID, strictly increasing."""
    offsets = [event[-1] for event in events]
    assert all(isinstance(o, str) and OFFSET.fullmatch(o) for o in offsets), events
    assert offsets == sorted(offsets, key=codec.order) and len(set(offsets)) == len(offsets), offsets
    return [event[:-1] for event in events], offsets


async def marker(live: LiveClient, node: Any, room: str) -> list[list[Any]]:
    """Emit a live ``marker`` to ``room`` and return every event the socket got up to it:
    a replay comes before any live event, so nothing of it is still on its way."""
    await node.sio.emit("marker", "live", room=room, namespace=NS)
    await live.expect("event", where=lambda line: line["event"] == "marker")
    return live.events()


@pytest.mark.parametrize("parser,transports", CLIENTS, ids=CLIENT_IDS)
async def test_a_client_recovers_on_the_other_node_with_everything_it_missed(
        redis, start_node, proxy, live, parser, transports):
    """Dropped on node 1, back via node 2: same sid, 3 rooms, session data, missed events once, in order."""
    n1, n2 = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n1))
    first = await open_socket(live, proxy.url, parser, transports)
    sid = first["sid"]
    assert first["recovered"] is False
    for room, rooms in (("r1", ["r1"]), ("r2", ["r1", "r2"]), ("r3", ["r1", "r2", "r3"])):
        assert await live.call("join", room) == rooms
    assert await live.call("remember", {"n": 7, "name": "ann"}) == "ok"
    await n2.sio.emit("news", "before", room="r1", namespace=NS)
    await live.got(1)
    await drop(live, n1, sid)
    await n1.sio.emit("news", "from node 1", room="r1", namespace=NS)
    await n2.sio.emit("news", "from node 2", room="r2", namespace=NS)
    await n2.sio.emit("news", "other room", room="r9", namespace=NS)
    await n1.sio.emit("news", "not to you", room="r1", skip_sid=sid, namespace=NS)
    await n2.sio.emit("direct", {"to": "you"}, to=sid, namespace=NS)
    await n1.sio.emit("all", [1, 2], namespace=NS)
    await n2.sio.emit("blob", b"\x00\x01\xff", room="r3", namespace=NS)
    proxy.switch(port_of(n2))
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    replayed, offsets = split(await live.got(6))
    assert replayed == [["news", "before"], ["news", "from node 1"], ["news", "from node 2"],
                        ["direct", {"to": "you"}], ["all", [1, 2]], ["blob", {"bin": [0, 1, 255]}]]
    assert await live.call("rooms") == ["r1", "r2", "r3"]
    assert await live.call("recall") == {"n": 7, "name": "ann"}
    await n1.sio.emit("news", "live from node 1", room="r2", namespace=NS)
    events, offsets = split(await marker(live, n1, "r3"))
    assert events == [*replayed, ["news", "live from node 1"], ["marker", "live"]]
    assert n1.sio.recovery.store.head(NS) == n2.sio.recovery.store.head(NS) == offsets[-1]


async def test_the_clients_own_reconnection_lands_on_the_other_node_and_recovers(
        redis, start_node, proxy, live):
    """The client's own reconnection, refused until sent to node 2, recovers there with the missed event."""
    n1, n2 = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n1))
    first = await open_socket(live, proxy.url, reconnection=True, reconnectionDelay=50,
                              reconnectionDelayMax=50, randomizationFactor=0)
    sid = first["sid"]
    await live.call("join", "r1")
    proxy.switch(None)
    await drop(live, n1, sid)  # its own retries are refused until the switch
    await n1.sio.emit("news", "meanwhile", room="r1", namespace=NS)
    proxy.switch(port_of(n2))
    back = await live.expect("connect")
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert split(await live.got(1))[0] == [["news", "meanwhile"]]
    assert await live.call("rooms") == ["r1"]


async def test_recovery_long_after_connecting_and_after_a_second_drop_with_no_traffic(
        redis, start_node, proxy, live):
    """Recovers 10 s after connecting (streams-adapter #48), then again, replaying nothing (sio #5419)."""
    n1, n2 = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n1))
    sid = (await open_socket(live, proxy.url))["sid"]
    await live.call("join", "r1")
    await asyncio.sleep(10.5)  # the behaviour under test is the time since connecting
    await drop(live, n1, sid)
    await n2.sio.emit("news", "one", room="r1", namespace=NS)
    await n1.sio.emit("news", "two", room="r1", namespace=NS)
    proxy.switch(port_of(n2))
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert split(await live.got(2))[0] == [["news", "one"], ["news", "two"]]
    await drop(live, n2, sid)
    proxy.switch(port_of(n1))
    again = await reconnect(live)
    assert (again["sid"], again["recovered"]) == (sid, True)
    events, _ = split(await marker(live, n2, "r1"))
    assert events == [["news", "one"], ["news", "two"], ["marker", "live"]]


async def test_a_cap_that_pushed_out_missed_events_gives_a_new_socket(redis, start_node, proxy, live):
    """A cap that pushed out an event the client missed: recovered false, a new sid, no rooms, no replay."""
    n1, n2 = await recovery_nodes(redis, start_node, recovery_max_packets=3)
    proxy.switch(port_of(n1))
    sid = (await open_socket(live, proxy.url))["sid"]
    await live.call("join", "r1")
    await n1.sio.emit("news", "seen", room="r1", namespace=NS)
    await live.got(1)
    await drop(live, n1, sid)
    for i, node in enumerate((n1, n2, n1, n2)):
        await node.sio.emit("news", f"missed {i}", room="r1", namespace=NS)
    proxy.switch(port_of(n2))
    back = await reconnect(live)
    assert back["recovered"] is False and back["sid"] != sid
    assert await live.call("rooms") == []
    await live.call("join", "r1")
    assert split(await marker(live, n2, "r1"))[0] == [["news", "seen"], ["marker", "live"]]


async def test_a_cap_that_pushed_out_only_older_events_still_recovers(redis, start_node, proxy, live):
    """A cap that pushed out only events from before the drop still recovers the client with the rest."""
    n1, n2 = await recovery_nodes(redis, start_node, recovery_max_packets=3)
    proxy.switch(port_of(n1))
    sid = (await open_socket(live, proxy.url))["sid"]
    await live.call("join", "r1")
    for i in range(5):
        await n2.sio.emit("news", f"seen {i}", room="r1", namespace=NS)
    await live.got(5)
    await drop(live, n1, sid)
    await n1.sio.emit("news", "missed 1", room="r1", namespace=NS)
    await n2.sio.emit("news", "missed 2", room="r1", namespace=NS)
    proxy.switch(port_of(n2))
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert split(await live.got(7))[0][5:] == [["news", "missed 1"], ["news", "missed 2"]]


async def test_an_emit_to_a_local_sid_is_logged_though_not_published(redis, start_node, proxy, live):
    """An emit to a sid on the emitting node is logged (its offset is in the stream) but not published."""
    n1, n2 = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n1))
    sid = (await open_socket(live, proxy.url))["sid"]
    await n1.sio.emit("direct", "just you", to=sid, namespace=NS)
    [[event, text, offset]] = await live.got(1)
    assert (event, text) == ("direct", "just you") and OFFSET.fullmatch(offset)
    [(entry_id, fields)] = await n1.sio.recovery.store.redis.xrange(codec.log_key(NS), offset, offset)
    assert codec.unpack_entry(fields[b"e"]) == (frozenset({sid}), frozenset(), ["direct", "just you"])
    assert n1.sio.recovery.store.head(NS) == offset and n2.sio.recovery.store.head(NS) == ""


async def test_concurrent_emits_on_one_node_arrive_in_offset_order(redis, start_node, proxy, live):
    """Fifty concurrent emits on one node reach a client on the other node in order, offsets increasing."""
    n1, n2 = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n2))
    await open_socket(live, proxy.url)
    await live.call("join", "r1")
    await asyncio.gather(*(n1.sio.emit("n", i, room="r1", namespace=NS) for i in range(50)))
    events, _ = split(await live.got(50))
    assert events == [["n", i] for i in range(50)]


async def test_stock_python_socketio_emitters_and_servers_keep_working(redis, start_node, proxy, live):
    """A stock emitter's event arrives unlogged without an offset; a stock server ignores the offset field."""
    n1, _ = await recovery_nodes(redis, start_node)
    proxy.switch(port_of(n1))
    await open_socket(live, proxy.url)
    stock = socketio.AsyncRedisManager(redis.url, write_only=True)
    await stock.emit("news", "from stock", namespace=NS)
    assert await live.got(1) == [["news", "from stock"]]
    assert await n1.sio.recovery.store.redis.exists(codec.log_key(NS)) == 0

    server = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(redis.url))
    app = web.Application()
    server.attach(app)
    site = TestServer(app, host="127.0.0.1", port=0)
    await site.start_server()
    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda *args: got.put_nowait(list(args)))
    try:
        await client.connect(f"http://127.0.0.1:{site.port}", wait_timeout=5 * UNIT)
        await subscribers(n1.manager.redis, 2)  # the stock server's listener is on the channel
        message = emit_message("news", ["from openline", 2], "/", offset="1-0")
        await n1.manager.redis.publish("socketio", json.dumps(message))
        assert await asyncio.wait_for(got.get(), 5 * UNIT) == ["from openline", 2]
    finally:
        await client.disconnect()
        await server.shutdown()
        await site.close()
        if server.manager.thread is not None:
            server.manager.thread.cancel()
        for manager in (server.manager, stock):
            if manager.redis is not None:
                await manager.redis.aclose()


async def subscribers(redis: Any, count: int) -> None:
    async def wait() -> None:
        while (await redis.pubsub_numsub("socketio"))[0][1] < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 5 * UNIT)


async def test_with_redis_gone_emits_go_out_without_an_offset(redis, start_node, proxy, live, caplog):
    """With Redis stopped, emits still reach the node's clients without an offset, with one WARNING line."""
    n1, _ = await recovery_nodes(redis, start_node, redis_publish_timeout=0.5 * UNIT)
    proxy.switch(port_of(n1))
    await open_socket(live, proxy.url)
    await live.call("join", "r1")
    await n1.sio.emit("news", "logged", room="r1", namespace=NS)
    await redis.stop()
    for i in range(3):
        await asyncio.wait_for(n1.sio.emit("news", f"unlogged {i}", room="r1", namespace=NS), 3 * UNIT)
    events = await live.got(4)
    assert split(events[:1])[0] == [["news", "logged"]]
    assert events[1:] == [["news", f"unlogged {i}"] for i in range(3)]
    lines = [r for r in caplog.records if r.name == "openline.recovery"]
    assert [r.levelname for r in lines] == ["WARNING"] and "unreachable" in lines[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records)
    assert n1.sio.recovery.store.unlogged == 3
