"""A mixed cluster: openline nodes and stock python-socketio nodes (AsyncServer with
AsyncRedisManager, tests/cluster/stock_node.py) on one real redis-server deliver both ways,
with the arguments a stock-only cluster would deliver; openline batches again once the
stock node is gone (server/cluster/compat.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
from redis import asyncio as aioredis

from tests.cluster.conftest import PYTHON, NodeProcess, RedisServer, read_until
from tests.conftest import UNIT

HERE = Path(__file__).parent
PLUGINS = HERE / "mixed_plugins"
CTL = "/ctl"
CHANNEL, MARKER = "socketio", "socketio#openline"


class StockNode(NodeProcess):
    """``python tests/cluster/stock_node.py URL``: stock python-socketio, no openline."""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, str(HERE / "stock_node.py"), *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert self.proc.stdout is not None
        match = await read_until(self.proc.stdout, r"stock listening on (http://\S+)",
                                 "stock_node.py", timeout=20, keep=self.output)
        self.url = match.group(1)
        self._drain = asyncio.ensure_future(self._keep(self.proc.stdout))


@pytest.fixture
async def nodes(redis: RedisServer) -> Any:
    """``await nodes("openline" | "stock")``: node processes on the test's Redis."""
    started: list[NodeProcess] = []

    async def start(kind: str, *args: str) -> NodeProcess:
        node = (StockNode(redis.url) if kind == "stock" else
                NodeProcess("--redis-url", redis.url, "--plugins-dir", str(PLUGINS), *args))
        started.append(node)
        await node.start()
        return node

    yield start
    for node in started:
        await node.stop()


class Peer:
    """A python-socketio AsyncClient on /ctl recording every event's exact arguments."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.got: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self.gone: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("*", self._any, namespace=CTL)
        client.on("disconnect", lambda *why: self.gone.put_nowait(why), namespace=CTL)
        client.on("ask", lambda *args: ["answer", *args], namespace=CTL)

    async def _any(self, event: str, *args: Any) -> None:
        self.got.put_nowait((event, args))

    @property
    def sid(self) -> str:
        return str(self.client.get_sid(CTL))

    async def next(self) -> tuple[str, tuple[Any, ...]]:
        return await asyncio.wait_for(self.got.get(), 5 * UNIT)

    async def op(self, **op: Any) -> Any:
        return await self.client.call("op", op, namespace=CTL, timeout=10 * UNIT)


async def peer(py_client: Any, node: NodeProcess, room: str | None = "r") -> Peer:
    client = py_client()
    joined = Peer(client)
    await client.connect(node.url, namespaces=[CTL], auth={"room": room} if room else None,
                         wait_timeout=5 * UNIT)
    return joined


async def numsub(redis: RedisServer) -> tuple[int, int]:
    """(subscribers of the channel, of openline's marker channel)."""
    async with aioredis.Redis.from_url(redis.url) as r:
        counts = dict(await r.pubsub_numsub(CHANNEL, MARKER))
    return counts[CHANNEL.encode()], counts[MARKER.encode()]


async def until_numsub(redis: RedisServer, expected: tuple[int, int]) -> None:
    deadline = time.monotonic() + 10 * UNIT
    while (seen := await numsub(redis)) != expected:
        assert time.monotonic() < deadline, f"PUBSUB NUMSUB {seen}, expected {expected}"
        await asyncio.sleep(0.02)


# (what an emit gives python-socketio's emit as data): one value, or exact arguments (a tuple)
PAYLOADS: list[dict[str, Any]] = [
    {"data": None}, {"data": "text"}, {"data": 0}, {"data": [1, 2]}, {"data": [None]},
    {"data": {"a": None, "b": [True]}}, {"data": b"\x00\xffbin"}, {"data": [b"\x01", {"c": b"\x02"}]},
    {"args": []}, {"args": [None]}, {"args": [None, None]}, {"args": [[1, 2]]},
    {"args": [1, "two", None, {"three": 3}]}, {"args": [b"\x03", [b"\x04"], "x"]},
    {"data": "héllo ✓ 𝄞"}, {"args": ["ü", {"ß": "€"}, b"\xc3"]},  # byte lengths != characters
]


async def test_payloads_arrive_as_a_stock_cluster_delivers_them(redis, nodes, py_client):
    """Each payload form arrives, openline -> stock and stock -> openline, as stock -> stock."""
    ours, stock, stock2 = await nodes("openline"), await nodes("stock"), await nodes("stock")
    on_ours, on_stock, on_stock2 = [await peer(py_client, n) for n in (ours, stock, stock2)]
    await until_numsub(redis, (3, 1))  # stock servers subscribe at their first client
    for n, payload in enumerate(PAYLOADS):
        # the reference: stock2 -> stock over Redis; stock2 -> openline alike
        assert await on_stock2.op(do="emit", event=f"p{n}", room="r", **payload) == "done"
        from_stock = await on_stock.next()
        assert await on_ours.next() == from_stock, payload
        assert await on_stock2.next() == from_stock  # its own, locally
        assert await on_ours.op(do="emit", event=f"p{n}", room="r", **payload) == "done"
        assert await on_stock.next() == from_stock, payload  # openline -> stock
        assert await on_stock2.next() == from_stock, payload
        await on_ours.next()  # its own (openline's exact arguments: tests/cluster/test_rooms.py)
    assert on_stock.got.empty() and on_ours.got.empty()


@pytest.mark.parametrize("source,target", [("openline", "stock"), ("stock", "openline")])
async def test_per_sid_operations_across_kinds(redis, nodes, py_client, source, target):
    """To a sid on the other kind of node: an emit, enter and leave room, an emit with ack, a kick."""
    # recovery on: openline's messages carry the key "offset", which stock must ignore
    here, there = [await nodes(kind, "--recovery-window", "30") if kind == "openline" else
                   await nodes(kind) for kind in (source, target)]
    actor, other = await peer(py_client, here, room=None), await peer(py_client, there, room=None)
    await until_numsub(redis, (2, 1))
    sid = other.sid
    assert await actor.op(do="emit", event="direct", to=sid, args=["just", None, b"\x05"]) == "done"
    assert await other.next() == ("direct", ("just", None, b"\x05"))
    assert await actor.op(do="enter_room", sid=sid, room="x") == "done"
    assert await actor.op(do="emit", event="in-x", room="x", data={"n": 1}) == "done"
    assert await other.next() == ("in-x", ({"n": 1},))
    assert await actor.op(do="leave_room", sid=sid, room="x") == "done"
    assert await actor.op(do="emit", event="in-x", room="x", data={"n": 2}) == "done"
    assert await actor.op(do="emit", event="marker", to=sid, data=3) == "done"
    assert await other.next() == ("marker", (3,))  # and not {"n": 2}: it left x
    assert await actor.op(do="call", event="ask", sid=sid, args=[7, "q"]) == ["answer", 7, "q"]
    assert await actor.op(do="disconnect", sid=sid) == "done"
    assert await asyncio.wait_for(other.gone.get(), 5 * UNIT) == ("server disconnect",)


class Spy:
    """A subscriber like an openline node (the channel and the marker): how each emit of
    event ``e`` travelled, ``batch`` or ``emit`` (single); other messages are left out."""

    def __init__(self, redis: RedisServer) -> None:
        self.client = aioredis.Redis.from_url(redis.url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.methods: asyncio.Queue[str] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe(CHANNEL, MARKER)
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.pubsub.listen():
            data = json.loads(message["data"])
            emits = data.get("messages", []) if data["method"] == "batch" else [data]
            if any(m.get("method") == "emit" and m.get("event") == "e" for m in emits):
                self.methods.put_nowait(data["method"])

    async def next(self) -> str:
        return await asyncio.wait_for(self.methods.get(), 5 * UNIT)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.pubsub.aclose()
        await self.client.aclose()


@pytest.fixture
async def spy(redis: RedisServer) -> Any:
    watcher = Spy(redis)
    await watcher.start()
    yield watcher
    await watcher.stop()


async def test_falls_back_while_a_stock_node_listens(redis, nodes, start_node, py_client, spy,
                                                     caplog):
    """auto: batches, single messages while a stock node listens, then batches; one log line each."""
    caplog.set_level(logging.INFO, logger="openline.cluster")
    emitter = await start_node(redis_url=redis.url, plugins_dirs=(PLUGINS,))
    ours = await peer(py_client, await nodes("openline"))
    await until_numsub(redis, (3, 3))  # the emitter, the openline process, the spy
    await emitter.sio.emit("e", 1, namespace=CTL, room="r")
    assert (await spy.next(), await ours.next()) == ("batch", ("e", (1,)))
    assert not emitter.manager.format.single

    stock = await nodes("stock")
    theirs = await peer(py_client, stock)
    await until_numsub(redis, (4, 3))
    await emitter.sio.emit("e", 2, namespace=CTL, room="r")
    assert (await spy.next(), await ours.next(), await theirs.next()) == (
        "emit", ("e", (2,)), ("e", (2,)))
    assert emitter.manager.format.single
    # a burst: queued together, cut into single messages by the script, in order
    burst = [{"n": n, "text": "é✓" * n} for n in range(40)]
    scripts = emitter.manager.format.single_publishes
    for item in burst:
        await emitter.sio.emit("e", item, namespace=CTL, room="r")
    assert [await theirs.next() for _ in burst] == [("e", (item,)) for item in burst]
    assert [await ours.next() for _ in burst] == [("e", (item,)) for item in burst]
    assert [await spy.next() for _ in burst] == ["emit"] * len(burst)
    assert emitter.manager.format.single_publishes - scripts < len(burst)

    await stock.stop()
    await until_numsub(redis, (3, 3))
    await emitter.sio.emit("e", 3, namespace=CTL, room="r")
    assert (await spy.next(), await ours.next()) == ("batch", ("e", (3,)))
    changes = [r.getMessage() for r in caplog.records if "Redis channel" in r.getMessage()]
    assert changes == [
        "a subscriber of Redis channel 'socketio' is not an openline node (a python-socketio "
        "server): sending one message per PUBLISH, its format, while it listens",
        "Redis channel 'socketio': only openline nodes listen again; batching messages"]


async def test_forced_formats(redis, start_node, spy):
    """--cluster-format stock always sends single messages; batch batches whoever listens."""
    stock_format = await start_node(redis_url=redis.url, cluster_format="stock")
    await stock_format.sio.emit("e", 1, namespace="/")
    assert await spy.next() == "emit"
    async with aioredis.Redis.from_url(redis.url) as other:
        foreign = other.pubsub()
        await foreign.subscribe(CHANNEL)  # the channel only: not an openline node
        batching = await start_node(redis_url=redis.url, cluster_format="batch")
        auto = await start_node(redis_url=redis.url)
        await batching.sio.emit("e", 2, namespace="/")
        assert await spy.next() == "batch"
        await auto.sio.emit("e", 3, namespace="/")
        assert await spy.next() == "emit"
        await foreign.aclose()
