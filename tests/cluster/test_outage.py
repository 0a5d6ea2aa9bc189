"""Redis going away: nodes keep serving their own clients and recover when it returns."""

from __future__ import annotations

import asyncio
import logging
import re
import signal

from tests.cluster.conftest import RedisServer
from tests.cluster.test_rooms import CHAT, chat_client, without_ts
from tests.conftest import UNIT


def cluster_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "openline.cluster"]


async def test_outage_serves_local_clients_and_recovers(redis, two_nodes, py_client, caplog):
    """Redis down: local delivery goes on, one log line per node; back: cluster-wide again."""
    caplog.set_level(logging.INFO, logger="openline.cluster")
    n1, n2 = two_nodes
    ann, _ = await chat_client(py_client, n1.url, "ann")
    carl, carl_in = await chat_client(py_client, n1.url, "carl", "message")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "message")

    await redis.stop()
    for node in (n1, n2):
        await asyncio.wait_for(node.manager.outage.wait(), 10 * UNIT)
    for n in range(3):
        acked = await ann.call("message", f"during {n}", namespace=CHAT, timeout=5 * UNIT)
        assert without_ts(acked) == [{"room": "lobby", "nickname": "ann", "text": f"during {n}"}]
        assert without_ts(await carl_in.get("message")) == {
            "room": "lobby", "nickname": "ann", "text": f"during {n}"}

    await redis.start()
    for node in (n1, n2):
        await asyncio.wait_for(node.manager.up.wait(), 15 * UNIT)
    await ann.call("message", "after", namespace=CHAT, timeout=5 * UNIT)
    # bob's first message is the one sent after recovery: nothing was queued or replayed
    assert without_ts(await bob_in.get("message")) == {
        "room": "lobby", "nickname": "ann", "text": "after"}
    assert without_ts(await carl_in.get("message"))["text"] == "after"
    await bob.call("message", "back", namespace=CHAT, timeout=5 * UNIT)
    assert without_ts(await carl_in.get("message"))["text"] == "back"

    logs = cluster_logs(caplog)
    down = [m for m in logs if "is unreachable" in m]
    back = [m for m in logs if " is back after " in m]
    assert len(down) == 2, logs  # once per node, not once per message or attempt
    assert all(m.startswith(f"Redis at {redis.url} is unreachable (") for m in down)
    assert all(m.endswith("serving this node's clients only and reconnecting with backoff")
               for m in down)
    assert len(back) == 2, logs
    assert sorted(re.sub(r"after [0-9.]+s", "after Ns", m) for m in back) == [
        f"Redis at {redis.url} is back after Ns; cluster-wide delivery resumed "
        f"({n} message(s) were delivered on this node only)" for n in (0, 3)]


async def test_node_starts_without_redis_and_joins_when_it_appears(start_node, py_client, caplog):
    """With --redis-start-anyway, a node whose Redis is down at start serves local clients,
    then joins the cluster."""
    caplog.set_level(logging.INFO, logger="openline.cluster")
    redis = RedisServer()
    node = await start_node(redis_url=redis.url, redis_start_anyway=True, redis_connect_timeout=0.5)
    assert node.manager.outage.is_set()
    ann, _ = await chat_client(py_client, node.url, "ann")
    bob, bob_in = await chat_client(py_client, node.url, "bob", "message")
    await ann.call("message", "local", namespace=CHAT, timeout=5 * UNIT)
    assert without_ts(await bob_in.get("message"))["text"] == "local"
    await redis.start()
    try:
        other = await start_node(redis_url=redis.url)
        await asyncio.wait_for(node.manager.up.wait(), 15 * UNIT)
        carl, carl_in = await chat_client(py_client, other.url, "carl", "message")
        await ann.call("message", "cluster", namespace=CHAT, timeout=5 * UNIT)
        assert without_ts(await carl_in.get("message"))["text"] == "cluster"
    finally:
        await redis.stop()
    assert len([m for m in cluster_logs(caplog) if "is unreachable" in m]) >= 1


async def test_frozen_redis_never_blocks_local_delivery(redis, two_nodes, py_client):
    """With Redis frozen (SIGSTOP) emits still reach local clients at once; thawed, the rest."""
    n1, n2 = two_nodes
    ann, _ = await chat_client(py_client, n1.url, "ann")
    carl, carl_in = await chat_client(py_client, n1.url, "carl", "message")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "message")
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        for n in range(3):
            await ann.call("message", f"frozen {n}", namespace=CHAT, timeout=5 * UNIT)
            assert without_ts(await carl_in.get("message"))["text"] == f"frozen {n}"
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    # a short freeze loses nothing: the queued publishes go out once Redis answers again
    for n in range(3):
        assert without_ts(await bob_in.get("message"))["text"] == f"frozen {n}"
