"""SIGTERM's graceful drain on real ``openline run`` processes with the npm socket.io-client:
transports close so that clients reconnect ("transport close", never "io server
disconnect"), bridge clients get 1001, the process exits 0 within --drain-timeout, a
peer that stops reading cannot hold it there, and a second signal exits at once."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.abuse.paused import PausedClient
from tests.conftest import ROOT, UNIT

pytestmark = pytest.mark.node

TEXT = "x" * 3000
REASONS = ("--plugins-dir", str(ROOT / "tests" / "recovery" / "drain_plugins"))  # /reasons


async def sigterm(node: Any, timeout: float) -> float:
    """SIGTERM ``node``; the seconds until it has exited (fails past ``timeout`` s)."""
    assert node.proc is not None
    started = time.monotonic()
    node.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(node.proc.wait(), timeout)
    return time.monotonic() - started


async def until(check: Any, what: str, timeout: float = 5) -> None:
    """Wait until ``check()`` is true (a line in a child's log, say); fail naming ``what``."""
    deadline = time.monotonic() + timeout * UNIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout * UNIT}s")
        await asyncio.sleep(0.01)


def refused(port: int) -> bool:
    """Whether a connection to ``port`` is refused: the node has closed its listener."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("recovery", [("--recovery-window", "30"), ()], ids=["recovery", "no-recovery"])
async def test_sigterm_closes_every_transport_so_clients_reconnect(node_processes, fleet, recovery,
                                                                   tmp_path, monkeypatch):
    """SIGTERM: websocket, polling, upgraded clients see "transport close", a bridge client 1001; exit 0."""
    reasons = tmp_path / "reasons"
    monkeypatch.setenv("OPENLINE_TEST_REASONS", str(reasons))
    node = await node_processes("--drain-timeout", "5", *REASONS, *recovery)
    once = {"reconnection": False}
    await fleet.open(node.url, ["ws"], namespace="/reasons", transports=["websocket"], client=once)
    await fleet.open(node.url, ["poll"], namespace="/reasons", transports=["polling"], client=once)
    await fleet.open(node.url, ["up"], namespace="/reasons", client=once)
    await fleet.expect("upgrade", "up")
    async with aiohttp.ClientSession() as http:
        bridge = await http.ws_connect(node.url.replace("http", "ws") + "/reasons")
        await bridge.send_str("hi")  # answered once the bridge relays (its connect is settled)
        assert (await asyncio.wait_for(bridge.receive_str(), 5 * UNIT)) == "hi"

        elapsed = await sigterm(node, 5 * UNIT)
        closing = await asyncio.wait_for(bridge.receive(), 5 * UNIT)
        assert (closing.type, closing.data, closing.extra) == (
            aiohttp.WSMsgType.CLOSE, 1001, "server shutting down")
    assert node.proc is not None and node.proc.returncode == 0
    assert elapsed < 5 * UNIT
    for name in ("ws", "poll", "up"):
        line = await fleet.expect("disconnect", name)
        assert line["reason"] == "transport close"
    assert Path(reasons).read_text().splitlines() == ["server shutting down"] * 4


async def test_new_sessions_during_the_drain_are_refused_with_503(node_processes):
    """While draining, a new Engine.IO handshake or bridge upgrade on a kept-alive connection gets 503."""
    node = await node_processes("--drain-timeout", "3", "--send-grace", "30",
                                "--send-budget", str(64 << 20), "--api-token", "t0ken")
    paused = await _stuck(node, "engine")  # keeps the drain going for the whole timeout
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(node.url + "/status") as page:  # a kept-alive connection
                assert page.status == 200
            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
            await until(lambda: refused(node.port), "the listener closed")
            async with http.get(node.url + "/socket.io/?EIO=4&transport=polling") as handshake:
                assert (handshake.status, await handshake.text(), handshake.headers["Retry-After"]) \
                    == (503, "server shutting down\n", "1")
            async with http.get(node.url + "/", headers={
                    "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as upgrade:
                assert upgrade.status == 503
        await asyncio.wait_for(node.proc.wait(), 5 * UNIT)
        assert node.proc.returncode == 0
    finally:
        paused.close()


async def _stuck(node: Any, kind: str) -> PausedClient:
    """A client of ``kind`` (engine WebSocket or bridge) in /chat's lobby that stopped
    reading with 6 MB sent to it: more than the kernel buffers take (up to 4 MB on
    loopback), so the server's own buffer holds the rest and a close frame waits behind it."""
    if kind == "engine":
        paused = await PausedClient.open(node.url, "/socket.io/?EIO=4&transport=websocket",
                                         ('40/chat,{"nickname":"s","room":"lobby"}',),
                                         b'"maxPayload":')
    else:
        paused = await PausedClient.open(node.url, "/chat?nickname=s&room=lobby")
    body = {"namespace": "/chat", "event": "message", "room": "lobby",
            "data": [{"room": "lobby", "nickname": "api", "text": TEXT}]}
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer t0ken"}) as http:
        for _ in range(2000):
            async with http.post(node.url + "/api/v1/emit", json=body) as response:
                assert response.status == 202
    return paused


@pytest.mark.parametrize("kind", ["engine", "bridge"])
async def test_a_peer_that_stopped_reading_does_not_hold_the_exit(node_processes, kind):
    """A client whose close frame waits behind megabytes it never reads is cut at --drain-timeout; exit 0."""
    node = await node_processes("--drain-timeout", "2", "--send-grace", "30",
                                "--send-budget", str(64 << 20), "--api-token", "t0ken")
    paused = await _stuck(node, kind)
    try:
        elapsed = await sigterm(node, 10 * UNIT)
    finally:
        paused.close()
    assert node.proc is not None and node.proc.returncode == 0
    assert 1.5 <= elapsed < 2 + 0.5 * UNIT  # the drain ran up to its deadline, and no longer


async def test_a_second_signal_exits_at_once(node_processes):
    """A second SIGTERM during a drain held by a stuck peer exits at once with status 128 + 15."""
    node = await node_processes("--drain-timeout", "60", "--send-grace", "60",
                                "--send-budget", str(64 << 20), "--api-token", "t0ken")
    paused = await _stuck(node, "engine")
    try:
        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)
        await until(lambda: refused(node.port), "the listener closed")
        started = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(node.proc.wait(), 5 * UNIT)
        elapsed = time.monotonic() - started
    finally:
        paused.close()
    assert node.proc.returncode == 128 + signal.SIGTERM
    assert elapsed < 1 * UNIT


async def test_what_the_drain_publishes_reaches_the_other_nodes(redis, node_processes, fleet, py_client):
    """The 40 presence leaves emitted by on_disconnect during a drain all reach a client on another node."""
    draining = await node_processes("--redis-url", redis.url)
    other = await node_processes("--redis-url", redis.url)
    listener = py_client()
    leaves: list[str] = []
    listener.on("presence", lambda m: leaves.append(m["nickname"]) if m["action"] == "leave" else None,
                namespace="/chat")
    await listener.connect(other.url, namespaces=["/chat"], transports=["websocket"],
                           auth={"nickname": "listener", "room": "lobby"}, wait_timeout=5 * UNIT)
    names = [f"n{i}" for i in range(40)]
    for name in names:
        await fleet.open(draining.url, [name], namespace="/chat", transports=["websocket"],
                         auth={"nickname": name, "room": "lobby"}, client={"reconnection": False})
    await sigterm(draining, 10 * UNIT)
    assert draining.proc is not None and draining.proc.returncode == 0
    await until(lambda: len(leaves) >= len(names), "40 leaves on the other node")
    assert sorted(leaves) == sorted(names)
