"""server.cluster on one node without Redis: every method answers from this node, so a
plugin can always call it."""

from __future__ import annotations

import asyncio

import pytest
from openline import EventError

from tests.cluster.wide.conftest import OPS, PLUGINS, ops_client


async def test_every_method_answers_locally_without_redis(start_node, py_client):
    """fetch_sockets, rooms_of, room_counts, sockets_join/leave, broadcast_with_ack (a
    silent client timed out), server_side_emit and disconnect_sockets work with no Redis."""
    node = await start_node(plugins_dirs=(PLUGINS,))
    cluster = node.sio.cluster
    assert cluster.link is None and cluster.nodes() == [cluster.node]
    talker, a = await ops_client(py_client, node.url, "r1")
    silent, b = await ops_client(py_client, node.url, "r1", "r2")
    talker.on("q", lambda *args: ["ok", *args], namespace=OPS)

    async def late(*args):
        await asyncio.sleep(1)  # past the broadcast's timeout of 0.3 s

    silent.on("q", late, namespace=OPS)

    found = await cluster.fetch_sockets("r1", namespace=OPS)
    assert sorted(s.sid for s in found.sockets) == sorted([a, b]) and found.missing == []
    assert {s.node for s in found.sockets} == {cluster.node}
    assert (await cluster.rooms_of(b, OPS)).rooms == ["r1", "r2"]
    assert (await cluster.room_counts(OPS)).counts == {"r1": 2, "r2": 1}
    assert (await cluster.sockets_join("vip", namespace=OPS, rooms=["r2"])).count == 1
    assert (await cluster.rooms_of(b, OPS)).rooms == ["r1", "r2", "vip"]
    assert (await cluster.sockets_leave(["vip", "r1"], "vip", namespace=OPS)).count == 1
    assert (await cluster.rooms_of(b, OPS)).rooms == ["r2"]

    acks = await cluster.broadcast_with_ack("q", 1, namespace=OPS, timeout=0.3)
    assert (acks.acks, acks.timed_out, acks.missing) == ([(a, [["ok", 1]])], [b], [])
    assert (await cluster.server_side_emit("ping", namespace=OPS, ack=True)).replies == {}
    assert (await cluster.disconnect_sockets(namespace=OPS)).count == 2
    assert (await cluster.fetch_sockets(namespace=OPS)).sockets == []


@pytest.mark.parametrize("call,kwargs,message", [
    ("fetch_sockets", {"namespace": "chat"}, "namespace: expected a string starting with /, got 'chat'"),
    ("fetch_sockets", {"namespace": OPS, "except_rooms": [""]},
     "except_rooms: room names are non-empty strings, got ''"),
    ("fetch_sockets", {"namespace": OPS, "timeout": -1}, "timeout: expected seconds > 0, got -1"),
    ("fetch_sockets", {"namespace": OPS, "timeout": float("nan")},
     "timeout: expected seconds > 0, got nan"),
    ("sockets_join", {"targets": [], "namespace": OPS},
     "targets: expected a room name or a list of them"),
    ("rooms_of", {"sid": 5, "namespace": OPS}, "sid: expected a non-empty string"),
    ("broadcast_with_ack", {"event": "", "namespace": OPS}, "event: expected a non-empty string"),
])
async def test_bad_input_is_an_event_error(start_node, call, kwargs, message):
    """Each bad argument is an EventError naming it."""
    node = await start_node(plugins_dirs=(PLUGINS,))
    with pytest.raises(EventError) as info:
        await getattr(node.sio.cluster, call)(**kwargs)
    assert str(info.value) == message
