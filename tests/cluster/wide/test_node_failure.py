"""A node killed with SIGKILL: requests report it as missing until its heartbeats are
overdue, then stop waiting on it; its sids stop appearing."""

from __future__ import annotations

import signal

from tests.cluster.wide.conftest import OPS, ops_client, until


async def test_a_killed_node_is_reported_then_dropped(cluster, py_client):
    """A fetch right after SIGKILL names the dead node in missing and waits only until its
    heartbeats are overdue (1 s), not --cluster-timeout (5 s); then answers are immediate,
    no node is missing, and the dead node's sids are absent."""
    n1, n2, n3 = await cluster(3, "--cluster-timeout", "5")
    _, a = await ops_client(py_client, n1.url, "r")
    _, b = await ops_client(py_client, n2.url, "r")
    _, c = await ops_client(py_client, n3.url, "r")
    before = await n1.result("fetch_sockets", "r", namespace=OPS)
    assert sorted(r["sid"] for r in before["sockets"]) == sorted([a, b, c])

    assert n3.proc.proc is not None
    n3.proc.proc.send_signal(signal.SIGKILL)
    await n3.proc.proc.wait()
    answer = await n1.do("fetch_sockets", "r", namespace=OPS)
    assert answer["result"]["missing"] == [n3.node]
    assert 0.5 < answer["seconds"] < 1.5
    assert sorted(r["sid"] for r in answer["result"]["sockets"]) == sorted([a, b])

    await until(lambda: _alone(n1, n2), "n3 dropped by n1 and n2")
    for member in (n1, n2):
        answer = await member.do("fetch_sockets", "r", namespace=OPS)
        assert answer["result"]["missing"] == []
        assert sorted(r["sid"] for r in answer["result"]["sockets"]) == sorted([a, b])
        assert answer["seconds"] < 0.5
    assert f"cluster: node {n3.node} left (no heartbeat for 1s" in n1.proc.log


async def _alone(n1, n2) -> bool:
    return sorted(await n1.ask("nodes")) == sorted(await n2.ask("nodes")) == sorted(
        [n1.node, n2.node])


async def test_a_stopped_node_says_bye(cluster):
    """A node stopped with SIGTERM says bye: the others drop it at once, without waiting
    for its heartbeats to be overdue."""
    n1, n2 = await cluster(2)
    await n2.ctl.disconnect()
    await n2.proc.stop()
    assert await n1.ask("nodes") == [n1.node]
    assert f"cluster: node {n2.node} left (it stopped" in n1.proc.log
