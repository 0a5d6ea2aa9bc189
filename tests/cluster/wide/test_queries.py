"""Cluster-wide queries (server.cluster.fetch_sockets, rooms_of, room_counts) across three
real nodes, the chat's ``who`` across nodes, and a malformed request on the channel."""

from __future__ import annotations

import asyncio

from redis import asyncio as aioredis

from tests.cluster.wide.conftest import OPS, ops_client, until


def by_sid(records: list[dict]) -> dict[str, dict]:
    return {r["sid"]: r for r in records}


async def test_fetch_sockets_spans_every_node(cluster, py_client):
    """fetch_sockets answers with every node's sockets of a room or selector: exact sids,
    nodes, rooms and handshake, no node missing."""
    n1, n2, n3 = await cluster(3)
    _, a = await ops_client(py_client, n1.url, "r1", query="?tag=a")
    _, b = await ops_client(py_client, n2.url, "r1", "r2")
    _, c = await ops_client(py_client, n3.url, "r2")
    _, d = await ops_client(py_client, n3.url)

    found = await n1.result("fetch_sockets", "r1", namespace=OPS)
    assert found["missing"] == []
    records = by_sid(found["sockets"])
    assert set(records) == {a, b}
    assert (records[a]["node"], records[a]["rooms"]) == (n1.node, ["r1"])
    assert (records[b]["node"], records[b]["rooms"]) == (n2.node, ["r1", "r2"])
    shake = records[a]["handshake"]
    assert shake["address"] == "127.0.0.1"
    assert shake["query"]["tag"] == "a"
    assert shake["auth"] == {"rooms": ["r1"]}
    assert isinstance(shake["time"], float)

    everyone = await n2.result("fetch_sockets", namespace=OPS)
    assert {r["sid"] for r in everyone["sockets"]} == {a, b, c, d}
    selected = await n3.result("fetch_sockets", namespace=OPS, rooms=["r1", "r2"],
                               except_rooms=["r1"])
    assert [r["sid"] for r in selected["sockets"]] == [c]
    assert (await n1.result("fetch_sockets", "nobody", namespace=OPS)) == {
        "sockets": [], "missing": []}


async def test_rooms_of_and_room_counts(cluster, py_client):
    """rooms_of finds a sid's rooms on another node; room_counts sums members per room over
    the nodes; an unknown sid has rooms None."""
    n1, n2 = await cluster(2)
    _, a = await ops_client(py_client, n1.url, "r1")
    _, b = await ops_client(py_client, n2.url, "r1", "r2")

    assert await n1.result("rooms_of", b, namespace=OPS) == {
        "sid": b, "rooms": ["r1", "r2"], "node": n2.node, "missing": []}
    assert await n1.result("rooms_of", a, namespace=OPS) == {
        "sid": a, "rooms": ["r1"], "node": n1.node, "missing": []}
    assert await n2.result("rooms_of", "no-such-sid", namespace=OPS) == {
        "sid": "no-such-sid", "rooms": None, "node": None, "missing": []}
    assert await n2.result("room_counts", OPS) == {"counts": {"r1": 2, "r2": 1}, "missing": []}


async def test_bad_arguments_are_event_errors(cluster):
    """An unknown namespace, a room that is not a string, a timeout <= 0: EventError with
    a message naming the argument, never a traceback."""
    (n1,) = await cluster(1)
    assert await n1.do("fetch_sockets", namespace="/nowhere") == {
        "error": "namespace: /nowhere is not served here"}
    assert await n1.do("fetch_sockets", namespace=OPS, rooms="r1") == {
        "error": "rooms: expected a list of room names, got str"}
    assert await n1.do("fetch_sockets", 5, namespace=OPS) == {
        "error": "rooms: room names are non-empty strings, got 5"}
    assert await n1.do("room_counts", OPS, timeout=0) == {
        "error": "timeout: expected seconds > 0, got 0"}
    assert await n1.do("server_side_emit", "connect", namespace=OPS) == {
        "error": "event: connect is reserved by Socket.IO"}
    assert "Traceback" not in n1.proc.log


async def test_chat_who_lists_members_on_every_node(cluster, py_client):
    """The chat's ``who`` (and the member list join acks) names members on other nodes."""
    n1, n2 = await cluster(2)
    ann = py_client()
    await ann.connect(n1.url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"})
    bob = py_client()
    await bob.connect(n2.url, namespaces=["/chat"], auth={"nickname": "bob"})
    joined = await bob.call("join", "lobby", namespace="/chat", timeout=5)
    assert joined == {"room": "lobby", "members": ["ann", "bob"]}
    assert await ann.call("who", "lobby", namespace="/chat", timeout=5) == {
        "room": "lobby", "members": ["ann", "bob"]}


async def test_malformed_requests_are_ignored_with_one_warning(cluster, redis, py_client):
    """Garbage on the request and response channels is ignored with one rate-limited
    WARNING per node; queries keep working."""
    n1, n2 = await cluster(2)
    _, b = await ops_client(py_client, n2.url, "r1")
    garbage = [b"not json", b"[1,2]", b'{"v":1}', b'{"v":9,"type":"x","node":"n"}',
               b'{"v":1,"type":"fetch_sockets","node":"zz","id":"1","namespace":"/ops",'
               b'"data":{"rooms":5}}']
    redis_client = aioredis.Redis.from_url(redis.url)
    try:
        for raw in garbage:
            await redis_client.publish("socketio#request", raw)
            await redis_client.publish(f"socketio#response#{n1.node}", raw)
    finally:
        await redis_client.aclose()
    found = await n1.result("fetch_sockets", "r1", namespace=OPS)
    assert [r["sid"] for r in found["sockets"]] == [b]
    await until(lambda: asyncio.sleep(0, "cluster: ignoring a malformed" in n2.proc.log),
                "n2 warns")
    for member in (n1, n2):
        assert member.proc.log.count("cluster: ignoring a malformed") == 1, member.proc.log
        assert "Traceback" not in member.proc.log
