"""Room-wide operations across nodes: sockets_join, sockets_leave, disconnect_sockets from
a node's server.cluster, from ``Emitter`` (fire-and-forget) and from ``openline emit``."""

from __future__ import annotations

import asyncio
import os

from openline import Emitter

from tests.cluster.conftest import PYTHON
from tests.cluster.wide.conftest import OPS, ops_client, until
from tests.conftest import ROOT, UNIT


async def members(node, room: str) -> set[str]:
    found = await node.result("fetch_sockets", room, namespace=OPS)
    assert found["missing"] == []
    return {r["sid"] for r in found["sockets"]}


async def test_join_leave_disconnect_from_a_node(cluster, py_client):
    """One call on node 1 makes the selected sockets of every node join a room, leave it,
    and disconnect; each answer counts the sockets changed."""
    n1, n2, n3 = await cluster(3)
    _, a = await ops_client(py_client, n1.url, "r1")
    _, b = await ops_client(py_client, n2.url, "r1", "r2")
    cc, c = await ops_client(py_client, n3.url, "r2")

    assert await n1.result("sockets_join", "vip", "r1", namespace=OPS) == {"count": 2, "missing": []}
    assert await members(n3, "vip") == {a, b}
    joined = await n2.result("sockets_join", ["x", "y"], namespace=OPS, rooms=["r2"],
                             except_rooms=["r1"])
    assert joined == {"count": 1, "missing": []}
    assert (await n1.result("rooms_of", c, namespace=OPS))["rooms"] == ["r2", "x", "y"]

    assert await n3.result("sockets_leave", "vip", namespace=OPS, rooms=[b]) == {
        "count": 1, "missing": []}
    assert await members(n1, "vip") == {a}

    gone = asyncio.Event()
    cc.on("disconnect", gone.set, namespace=OPS)
    assert await n1.result("disconnect_sockets", "r2", namespace=OPS) == {"count": 2, "missing": []}
    await asyncio.wait_for(gone.wait(), 5 * UNIT)
    assert await members(n2, "r1") == {a}


async def test_emitter_room_operations(cluster, redis, py_client):
    """Emitter.sockets_join / sockets_leave / disconnect_sockets reach every node."""
    n1, n2 = await cluster(2)
    _, a = await ops_client(py_client, n1.url, "r1")
    _, b = await ops_client(py_client, n2.url, "r1")
    _, c = await ops_client(py_client, n2.url, "r2")
    async with Emitter(redis.url) as out:
        assert await out.sockets_join("vip", namespace=OPS, room="r1") == 2
        await until(lambda: _is(members(n1, "vip"), {a, b}), "r1 joined vip")
        await out.sockets_leave(["vip"], namespace=OPS, except_rooms=[a])
        await until(lambda: _is(members(n1, "vip"), {a}), "b left vip")
        await out.disconnect_sockets(namespace=OPS, rooms=["r2"])
        await until(lambda: _is(members(n1, "r2"), set()), "c disconnected")
    assert await members(n2, "r1") == {a, b}


async def _is(found, expected) -> bool:
    return await found == expected


async def openline_emit(redis_url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "openline", "emit", "--redis-url", redis_url, *args, cwd=str(ROOT),
        env={**os.environ}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 20 * UNIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip()


async def test_openline_emit_join_leave_disconnect(cluster, redis, py_client):
    """``openline emit --join/--leave/--disconnect`` with --room/--to selectors; bad
    combinations are one line and exit status 2."""
    n1, n2 = await cluster(2)
    _, a = await ops_client(py_client, n1.url, "r1")
    _, b = await ops_client(py_client, n2.url, "r1")
    assert await openline_emit(redis.url, "--namespace", OPS, "--room", "r1", "--join", "vip") == (
        0, "room r1 in /ops joined vip: 2 node(s) listening")
    await until(lambda: _is(members(n2, "vip"), {a, b}), "r1 joined vip")
    assert await openline_emit(redis.url, "--namespace", OPS, "--to", b, "--leave", "vip") == (
        0, f"sid {b} in /ops left vip: 2 node(s) listening")
    await until(lambda: _is(members(n2, "vip"), {a}), "b left vip")
    assert await openline_emit(redis.url, "--namespace", OPS, "--room", "vip", "--disconnect") == (
        0, "room vip in /ops disconnected: 2 node(s) listening")
    await until(lambda: _is(members(n2, "r1"), {b}), "a disconnected")
    code, line = await openline_emit(redis.url, "--join", "vip", "news")
    assert (code, line.splitlines()[-1]) == (
        2, "openline: error: EVENT: expected no event beside --join, --leave or --disconnect, got 'news'")
