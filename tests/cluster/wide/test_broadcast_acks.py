"""Broadcast with acks across nodes (socket.io #4967): every client's ack within the
timeout, and the clients that sent none."""

from __future__ import annotations

import pytest

from tests.cluster.wide.conftest import OPS, TIMEOUT, ops_client
from tests.recovery.node_script import NodeScript


class AckClients(NodeScript):
    """npm socket.io-client sockets (tests/js/ack_clients.mjs)."""

    script = "ack_clients.mjs"

    async def open(self, name: str, url: str, rooms: list[str], silent: bool = False) -> str:
        await self.command(op="open", name=name, url=url, namespace=OPS,
                           auth={"rooms": rooms}, silent=silent)
        line = await self.wait_for("connect", name, 10, lambda line: True)
        return str(line["sid"])


@pytest.mark.node
async def test_acks_from_every_node_and_the_silent_client(cluster, py_client):
    """Python and npm clients on three nodes ack; a silent npm client is reported as timed
    out; clients outside the room get nothing; no node is missing."""
    n1, n2, n3 = await cluster(3)
    py1, p1 = await ops_client(py_client, n1.url, "poll")
    py2, p2 = await ops_client(py_client, n2.url, "poll")
    outside, _ = await ops_client(py_client, n2.url, "other")
    got_outside: list = []
    outside.on("question", lambda *a: got_outside.append(a), namespace=OPS)
    for client, name in ((py1, "p1"), (py2, "p2")):
        client.on("question", lambda *args, name=name: ("ack", name, *args), namespace=OPS)
    js = AckClients()
    await js.start()
    try:
        j3 = await js.open("j3", n3.url, ["poll"])
        silent = await js.open("quiet", n2.url, ["poll"], silent=True)
        answer = await n1.do("broadcast_with_ack", "question", 7, {"k": "v"}, namespace=OPS,
                             room="poll", timeout=TIMEOUT)
    finally:
        await js.stop()
    result = answer["result"]
    expected = [(p1, ["ack", "p1", 7, {"k": "v"}]), (p2, ["ack", "p2", 7, {"k": "v"}]),
                (j3, ["ack", "j3", 7, {"k": "v"}])]
    assert sorted(map(tuple, result["acks"])) == sorted(expected)
    assert result["timed_out"] == [silent]
    assert result["missing"] == []
    assert TIMEOUT <= answer["seconds"] < TIMEOUT + 1
    assert got_outside == []


async def test_all_acked_returns_before_the_timeout(cluster, py_client):
    """When every client acks, the call returns as soon as the last ack is in."""
    n1, n2 = await cluster(2)
    clients = [await ops_client(py_client, n.url, "poll") for n in (n1, n2, n2)]
    for client, _ in clients:
        client.on("question", lambda *args: "yes", namespace=OPS)
    answer = await n2.do("broadcast_with_ack", "question", namespace=OPS, rooms=["poll"],
                         timeout=5)
    assert sorted(sid for sid, _ in answer["result"]["acks"]) == sorted(s for _, s in clients)
    assert {tuple(reply) for _, reply in answer["result"]["acks"]} == {("yes",)}
    assert answer["result"]["timed_out"] == []
    assert answer["seconds"] < 1
