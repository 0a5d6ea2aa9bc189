"""Two nodes on one Redis: rooms, direct emits, kicks, room changes and acks across nodes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import socketio

from tests.conftest import UNIT, run_node
from tests.integration.conftest import Inbox

CHAT = "/chat"


async def chat_client(py_client: Any, url: str, nickname: str, *events: str,
                      room: str | None = "lobby") -> tuple[socketio.AsyncClient, Inbox]:
    client = py_client()
    inbox = Inbox(client, CHAT, *events)
    auth: dict[str, Any] = {"nickname": nickname}
    if room is not None:
        auth["room"] = room
    await client.connect(url, namespaces=[CHAT], auth=auth, wait_timeout=5 * UNIT)
    return client, inbox


def without_ts(messages: Any) -> Any:
    if isinstance(messages, list):
        return [without_ts(m) for m in messages]
    assert isinstance(messages["ts"], int)
    return {k: v for k, v in messages.items() if k != "ts"}


async def test_room_is_shared_both_ways(two_nodes, py_client):
    """Chat clients on different nodes see each other's presence and messages, both ways."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "message", "presence")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "message", "presence")
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "join"}

    acked = await ann.call("message", "hi bob", namespace=CHAT, timeout=5 * UNIT)
    assert without_ts(acked) == [{"room": "lobby", "nickname": "ann", "text": "hi bob"}]
    assert without_ts(await bob_in.get("message")) == {
        "room": "lobby", "nickname": "ann", "text": "hi bob"}

    await bob.call("message", {"room": "lobby", "text": "hi ann"}, namespace=CHAT, timeout=5 * UNIT)
    assert without_ts(await ann_in.get("message")) == {
        "room": "lobby", "nickname": "bob", "text": "hi ann"}

    await bob.disconnect()
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "leave"}
    assert ann_in.empty("message")


@pytest.mark.node
@pytest.mark.parametrize("transports,parser", [(None, "json"), (["websocket"], "msgpack")])
async def test_node_client_chats_with_python_client_on_other_node(two_nodes, py_client,
                                                                 transports, parser):
    """The npm client on one node and a python client on the other share a room."""
    n1, n2 = two_nodes
    ann = py_client()
    presence: asyncio.Queue[Any] = asyncio.Queue()
    heard: asyncio.Queue[Any] = asyncio.Queue()
    ann.on("presence", presence.put_nowait, namespace=CHAT)

    async def on_message(msg: dict[str, Any]) -> None:
        heard.put_nowait(msg)
        await ann.emit("message", {"room": "lobby", "text": "hello js"}, namespace=CHAT)

    ann.on("message", on_message, namespace=CHAT)
    await ann.connect(n1.url, namespaces=[CHAT], auth={"nickname": "ann", "room": "lobby"})
    options: dict[str, Any] = {"url": n2.url, "nickname": "js", "room": "lobby",
                               "text": "hello py", "parser": parser}
    if transports:
        options["transports"] = transports
    result = await run_node("cluster_chat.mjs", options)
    assert result == {
        "acked": [{"room": "lobby", "nickname": "js", "text": "hello py"}],
        "received": {"room": "lobby", "nickname": "ann", "text": "hello js", "ts": "number"},
        "transport": "websocket", "upgraded": transports is None}
    assert await asyncio.wait_for(presence.get(), 5 * UNIT) == {
        "room": "lobby", "nickname": "js", "action": "join"}
    assert without_ts(await asyncio.wait_for(heard.get(), 5 * UNIT)) == {
        "room": "lobby", "nickname": "js", "text": "hello py"}


async def test_emit_to_sid_on_other_node(two_nodes, py_client):
    """server.emit(to=sid) reaches a client connected to another node, exactly once."""
    n1, n2 = two_nodes
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "direct", room=None)
    await n1.sio.emit("direct", {"n": 1}, to=bob.get_sid(CHAT), namespace=CHAT)
    await n2.sio.emit("direct", {"n": 2}, to=bob.get_sid(CHAT), namespace=CHAT)
    # n2's own emit skips Redis, so it may overtake n1's: compare without order
    got = [await bob_in.get("direct"), await bob_in.get("direct")]
    assert sorted(m["n"] for m in got) == [1, 2]
    # no duplicate is on its way: the next thing n1 sends is the next thing bob gets
    await n1.sio.emit("direct", {"n": 3}, to=bob.get_sid(CHAT), namespace=CHAT)
    assert await bob_in.get("direct") == {"n": 3}


async def test_arguments_travel_exactly(two_nodes, py_client):
    """No argument, one null, several, a list and bytes arrive across nodes as emitted."""
    n1, n2 = two_nodes
    bob = py_client()
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    bob.on("x", lambda *args: got.put_nowait(args), namespace=CHAT)
    await bob.connect(n2.url, namespaces=[CHAT], auth={"nickname": "bob"})
    sid = bob.get_sid(CHAT)
    sent: list[tuple[Any, ...]] = [(), (None,), (1, "two", None), ([1, 2],),
                                   (b"\x00\xff", {"nested": b"hi"})]
    for args in sent:
        await n1.sio.emit("x", args, to=sid, namespace=CHAT)
    for args in sent:
        assert await asyncio.wait_for(got.get(), 5 * UNIT) == args


async def test_kick_on_other_node(two_nodes, py_client):
    """server.disconnect(sid) on one node disconnects a client of the other node."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "presence")
    bob = py_client()
    reasons: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("disconnect", lambda *reason: reasons.put_nowait(reason), namespace=CHAT)
    await bob.connect(n2.url, namespaces=[CHAT], auth={"nickname": "bob", "room": "lobby"})
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "join"}
    sid = bob.get_sid(CHAT)
    await n1.sio.disconnect(sid, namespace=CHAT)
    # python-socketio's client names "io server disconnect" this way
    assert await asyncio.wait_for(reasons.get(), 5 * UNIT) == ("server disconnect",)
    # the kicked client's disconnect handler ran on its own node: its room heard it leave
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "leave"}
    assert not n2.manager.is_connected(sid, CHAT)


async def test_enter_and_leave_room_on_other_node(two_nodes, py_client):
    """enter_room/leave_room of a sid on another node change what that client receives."""
    n1, n2 = two_nodes
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "vip", "direct", room=None)
    sid = bob.get_sid(CHAT)
    await n1.sio.enter_room(sid, "vips", namespace=CHAT)
    await n1.sio.emit("vip", "welcome", room="vips", namespace=CHAT)
    assert await bob_in.get("vip") == "welcome"
    assert sorted(n2.manager.get_rooms(sid, CHAT)) == sorted([sid, "vips"])

    await n1.sio.leave_room(sid, "vips", namespace=CHAT)
    await n1.sio.emit("vip", "not for you", room="vips", namespace=CHAT)
    # one channel, one order: once this direct emit arrives, the room emit was handled
    await n1.sio.emit("direct", "barrier", to=sid, namespace=CHAT)
    assert await bob_in.get("direct") == "barrier"
    assert bob_in.empty("vip")
    assert n2.manager.get_rooms(sid, CHAT) == [sid]


async def test_call_gets_ack_from_client_on_other_node(two_nodes, py_client):
    """server.call(to=sid) on one node returns what a client of the other node acks."""
    n1, n2 = two_nodes
    bob = py_client()
    bob.on("ask", lambda data: {"got": data, "from": "bob"}, namespace=CHAT)
    await bob.connect(n2.url, namespaces=[CHAT], auth={"nickname": "bob"})
    answer = await n1.sio.call("ask", {"q": 1}, to=bob.get_sid(CHAT), namespace=CHAT,
                               timeout=5 * UNIT)
    assert answer == {"got": {"q": 1}, "from": "bob"}


async def test_stock_python_socketio_emitter_reaches_both_nodes(redis, two_nodes, py_client):
    """A stock python-socketio write-only AsyncRedisManager reaches clients on every node."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "news")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "news")
    external = socketio.AsyncRedisManager(redis.url, write_only=True)
    try:
        await external.emit("news", {"title": "hi"}, namespace=CHAT, room="lobby")
        await external.emit("news", ("a", 2), namespace=CHAT, room="lobby")
    finally:
        await external.redis.aclose()
    for inbox in (ann_in, bob_in):
        assert await inbox.get("news") == {"title": "hi"}
        assert await inbox.get("news") == ("a", 2)


async def test_direct_emit_to_local_sid_is_not_published(redis, two_nodes, py_client):
    """An emit to a sid connected on this node stays off Redis (nothing to share)."""
    n1, _ = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "direct", room=None)
    published: list[Any] = []
    original = n1.manager._publish

    async def spy(data: dict[str, Any]) -> None:
        published.append(json.loads(json.dumps(data)))
        await original(data)

    n1.manager._publish = spy  # type: ignore[method-assign]
    await n1.sio.emit("direct", "local", to=ann.get_sid(CHAT), namespace=CHAT)
    assert await ann_in.get("direct") == "local"
    await n1.sio.emit("direct", "everyone", namespace=CHAT)
    assert await ann_in.get("direct") == "everyone"
    assert [p["data"] for p in published] == [["everyone"]]


async def test_unanswered_remote_ack_is_forgotten(two_nodes):
    """The callback of an emit to a sid no node holds is dropped after remote_ack_ttl."""
    n1, _ = two_nodes
    n1.manager.remote_ack_ttl = 0.05
    await n1.sio.emit("x", 1, to="gone-sid", namespace=CHAT, callback=lambda *a: None)
    assert list(n1.manager.callbacks["gone-sid"]) == [0, 1]  # counter and the pending ack
    for _ in range(100):  # the TTL timer fires on the loop; nothing else to wait on
        if "gone-sid" not in n1.manager.callbacks:
            break
        await asyncio.sleep(0.02)
    assert "gone-sid" not in n1.manager.callbacks
