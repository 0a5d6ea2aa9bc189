"""Attack: a client that stops reading. Its room, the server and shutdown keep going;
the client is closed within --send-grace, and what is held for it stays within
--send-budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import socketio

from tests.abuse.paused import PausedClient
from tests.conftest import UNIT

TEXT = "x" * 3000  # the 3 KB chat messages
GRACE = 1.0


async def chat_client(url: str, nickname: str, transport: str = "websocket") -> tuple[Any, list[Any]]:
    client = socketio.AsyncClient(reconnection=False)
    got: list[Any] = []
    client.on("message", lambda m: got.append(m), namespace="/chat")
    await client.connect(url, namespaces=["/chat"], transports=[transport],
                         auth={"nickname": nickname, "room": "lobby"}, wait_timeout=5 * UNIT)
    return client, got


async def members(client: Any, room: str = "lobby") -> list[str]:
    reply = await client.call("who", room, namespace="/chat", timeout=2 * UNIT)
    return sorted(reply["members"])


PAUSED = {
    "bridge": ("/chat?nickname=s&room=lobby", (), None),
    "engine": ("/socket.io/?EIO=4&transport=websocket",
               ('40/chat,{"nickname":"s","room":"lobby"}',), b'"maxPayload":'),
}


async def flood(sender: Any, seconds: float, who: list[float]) -> int:
    """Five 3 KB messages every 5 ms (the issue's rate five times over, so the paused
    client's kernel buffers, up to 4 MB on loopback, fill in about a second) for
    ``seconds``; ``who`` gets the round-trip time of a ``who`` call made every half second
    meanwhile. Returns how many were sent."""
    sent = 0
    end = time.monotonic() + seconds
    next_who = time.monotonic() + 0.5
    while time.monotonic() < end:
        for _ in range(5):
            await sender.emit("message", {"room": "lobby", "text": f"{sent} {TEXT}"}, namespace="/chat")
            sent += 1
        if time.monotonic() >= next_who:
            started = time.monotonic()
            await members(sender)
            who.append(time.monotonic() - started)
            next_who = time.monotonic() + 0.5
        await asyncio.sleep(0.005)
    return sent


@pytest.mark.parametrize("kind", sorted(PAUSED))
async def test_paused_client_does_not_stall_its_room(start_server, kind):
    """A paused bridge or Engine.IO WebSocket client in a busy room: the others get every
    message and every ack, and the paused one is closed within the grace period."""
    url = await start_server(send_grace=GRACE)
    path, texts, wait_for = PAUSED[kind]
    paused = await PausedClient.open(url, path, texts, wait_for)
    sender, _ = await chat_client(url, "a")
    receiver, got = await chat_client(url, "b")
    try:
        assert await members(sender) == ["a", "b", "s"]
        who: list[float] = []
        sent = await flood(sender, 5 * UNIT, who)
        await asyncio.sleep(0)  # let the last broadcast reach the receiver's socket
        deadline = time.monotonic() + 5 * UNIT
        while len(got) < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [int(m["text"].split(" ")[0]) for m in got] == list(range(sent))
        assert max(who) < 1.0 * UNIT, who  # every `who` ack came, promptly
        assert await members(sender) == ["a", "b"]  # the paused client is gone
        assert await paused.closed_by_server(2 * UNIT)
    finally:
        paused.close()
        await sender.disconnect()
        await receiver.disconnect()


async def test_paused_client_over_the_budget_is_closed_at_once(start_server):
    """A paused client whose unsent bytes pass --send-budget is closed before the grace
    period ends, so one client never holds more than the budget."""
    url = await start_server(send_budget=64 * 1024, send_grace=60.0)
    paused = await PausedClient.open(url, "/chat?nickname=s&room=lobby")
    sender, _ = await chat_client(url, "a")
    try:
        started = time.monotonic()
        for i in range(3000):  # 9 MB: past the kernel's buffers (4 MB) and the 64 KB budget
            await sender.emit("message", {"room": "lobby", "text": f"{i} {TEXT}"}, namespace="/chat")
            if i % 100 == 99 and await members(sender) == ["a"]:
                break
        assert await members(sender) == ["a"]
        assert time.monotonic() - started < 10 * UNIT
    finally:
        paused.close()
        await sender.disconnect()


async def test_paused_client_does_not_stall_the_cluster(redis, node_processes):
    """With --redis-url, a paused bridge client on node A holds up neither its room's
    cross-node messages nor another room's: A's clients get every message node B sends."""
    node_a = await node_processes("--redis-url", redis.url, "--send-grace", "30")
    node_b = await node_processes("--redis-url", redis.url, "--send-grace", "30")
    paused = await PausedClient.open(node_a.url, "/chat?nickname=s&room=lobby")
    lobby_sender, _ = await chat_client(node_b.url, "a")
    lobby_receiver, lobby_got = await chat_client(node_a.url, "b")
    other_got: list[Any] = []
    other_receiver = socketio.AsyncClient(reconnection=False)
    other_receiver.on("message", lambda m: other_got.append(m), namespace="/chat")
    await other_receiver.connect(node_a.url, namespaces=["/chat"], transports=["websocket"],
                                 auth={"nickname": "c", "room": "other"}, wait_timeout=5 * UNIT)
    other_sender = socketio.AsyncClient(reconnection=False)
    await other_sender.connect(node_b.url, namespaces=["/chat"], transports=["websocket"],
                               auth={"nickname": "d", "room": "other"}, wait_timeout=5 * UNIT)
    try:
        assert await members(lobby_receiver) == ["a", "b", "s"]  # `who` lists every node's members
        lobby_sent = other_sent = 0
        end = time.monotonic() + 5 * UNIT
        while time.monotonic() < end:
            for _ in range(5):
                await lobby_sender.emit("message", {"room": "lobby", "text": f"{lobby_sent} {TEXT}"},
                                        namespace="/chat")
                lobby_sent += 1
            await other_sender.emit("message", {"room": "other", "text": str(other_sent)},
                                    namespace="/chat")
            other_sent += 1
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + 10 * UNIT
        while (len(lobby_got) < lobby_sent or len(other_got) < other_sent) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [int(m["text"].split(" ")[0]) for m in lobby_got] == list(range(lobby_sent))
        assert [int(m["text"]) for m in other_got] == list(range(other_sent))
    finally:
        paused.close()
        for client in (lobby_sender, lobby_receiver, other_receiver, other_sender):
            await client.disconnect()


async def test_paused_client_does_not_stall_the_api_or_shutdown(node_processes):
    """While a paused bridge client sits in a busy room, every POST /api/v1/emit to that
    room answers 202 at once, and SIGTERM stops the server within the grace period."""
    node = await node_processes("--api-token", "t0ken", "--send-grace", "2")
    paused = await PausedClient.open(node.url, "/chat?nickname=s&room=lobby")
    body = {"namespace": "/chat", "event": "message", "room": "lobby",
            "data": [{"room": "lobby", "nickname": "api", "text": TEXT}]}
    slowest = 0.0
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer t0ken"}) as http:
            for _ in range(2000):  # 6 MB for the paused client: past its kernel buffers
                started = time.monotonic()
                async with http.post(node.url + "/api/v1/emit", json=body) as response:
                    assert response.status == 202
                slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0 * UNIT
        assert node.proc is not None
        started = time.monotonic()
        await node.stop()
        assert node.proc.returncode == 0
        assert time.monotonic() - started < (2 + 3) * UNIT
    finally:
        paused.close()
