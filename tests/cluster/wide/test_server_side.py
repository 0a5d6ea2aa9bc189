"""Server-side events: server.cluster.server_side_emit reaches ``server_on_<event>`` of the
same namespace on every other node (never the sender's, never from a client), with acks
gathered from each node."""

from __future__ import annotations

from openline import Emitter

from tests.cluster.wide.conftest import OPS, ops_client, until


async def test_server_side_emit_with_acks_from_every_other_node(cluster):
    """With ack=True each other node's handler return value comes back, keyed by node; the
    arguments arrive exactly, bytes included; the sender's own handler is not called."""
    n1, n2, n3 = await cluster(3)
    answer = await n1.result("server_side_emit", "ping", 1, None, {"bytes": [0, 255]},
                             namespace=OPS, ack=True)
    args = [1, None, {"bytes": [0, 255]}]
    assert answer == {"replies": {n2.node: {"by": n2.node, "args": args},
                                  n3.node: {"by": n3.node, "args": args}}, "missing": []}
    assert await n1.ask("seen") == []
    assert await n2.ask("seen") == [[n1.node, *args]]
    assert await n3.ask("seen") == [[n1.node, *args]]


async def test_server_side_emit_without_ack_and_no_client_can_trigger_it(cluster, py_client):
    """Without ack the call returns at once and the other nodes handle it; clients
    emitting "ping" or "server_on_ping" reach no server-side handler."""
    n1, n2 = await cluster(2)
    client, _ = await ops_client(py_client, n2.url)
    for event in ("ping", "server_on_ping"):
        await client.call(event, "from a client", namespace=OPS, timeout=5)
    assert await n1.result("server_side_emit", "ping", "hi", namespace=OPS) == {
        "replies": {}, "missing": []}
    await until(lambda: n2.ask("seen"), "n2 handles the event")
    assert await n2.ask("seen") == [[n1.node, "hi"]]


async def test_an_event_without_a_handler_answers_none(cluster):
    """A node whose namespace has no handler for the event still answers (None), so the
    caller does not wait for it."""
    n1, n2 = await cluster(2)
    answer = await n2.do("server_side_emit", "unknown", namespace=OPS, ack=True)
    assert answer["result"] == {"replies": {n1.node: None}, "missing": []}
    assert answer["seconds"] < 0.5


async def test_emitter_server_side_emit_reaches_every_node(cluster, redis):
    """Emitter.server_side_emit calls server_on_<event> on every node, the emitter's id as
    the sender."""
    n1, n2 = await cluster(2)
    async with Emitter(redis.url) as out:
        assert await out.server_side_emit("ping", "from outside", namespace=OPS) == 2
        for member in (n1, n2):
            await until(lambda m=member: m.ask("seen"), "the node handles it")
            assert await member.ask("seen") == [[out.host_id, "from outside"]]
