"""--admin on two nodes sharing a real redis-server: one Admin UI connection sees and
commands both (its all_sockets, every node's reports and server_stats, its commands on
every node, its session on either node)."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from tests.cluster.conftest import Node, RedisServer
from tests.conftest import UNIT
from tests.ops.admin_kit import ANY_STAMP, LOGIN, PASSWORD, Watcher

ADMIN = {"admin": True, "admin_password": PASSWORD}


async def admin_of(url: str, auth: Any = LOGIN) -> Watcher:
    client = socketio.AsyncClient(reconnection=False)
    watcher = Watcher(client)
    await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"])
    return watcher


async def test_one_ui_sees_and_commands_both_nodes(redis: RedisServer, start_node: Any) -> None:
    """Logged in to node a: b's sockets are in all_sockets, b's connects, events and stats
    arrive, and a kick or a join from the UI is done by b to its own socket."""
    a: Node = await start_node(redis_url=redis.url, **ADMIN)
    b: Node = await start_node(redis_url=redis.url, **ADMIN)
    zoe, yan = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
    admin = None
    try:
        await zoe.connect(b.url, namespaces=["/chat"], auth={"nickname": "zoe", "room": "lobby"},
                          transports=["websocket"])
        admin = await admin_of(a.url)
        listed, = await admin.wait("all_sockets")
        zoe_sid = zoe.get_sid("/chat")
        assert [(s["id"], s["nsp"], s["rooms"]) for s in listed] == [(zoe_sid, "/chat", [zoe_sid, "lobby"])]
        ids = {node.sio.namespace_handlers["/admin"].admin.server_id for node in (a, b)}
        assert len(ids) == 2
        for server_id in ids:  # a's client is the UI, b's is zoe
            stats, = await admin.wait("server_stats", lambda s, i=server_id: s[0]["serverId"] == i)
            assert (stats["clientsCount"], stats["pollingClientsCount"]) == (1, 0)

        kicked = asyncio.Event()
        yan.on("disconnect", lambda *reason: kicked.set(), namespace="/chat")
        await yan.connect(b.url, namespaces=["/chat"], auth={"nickname": "yan", "room": "lobby"},
                          transports=["websocket"])
        yan_sid = yan.get_sid("/chat")
        connected = await admin.wait("socket_connected", lambda s: s[0]["id"] == yan_sid)
        assert (connected[0]["nsp"], connected[0]["rooms"], connected[1]) == (
            "/chat", [yan_sid, "lobby"], ANY_STAMP)
        await yan.call("message", "from b", namespace="/chat")
        assert await admin.wait("event_received", lambda s: s[1] == yan_sid) == [
            "/chat", yan_sid, ["message", "from b"], ANY_STAMP]

        await admin.client.emit("join", ("/chat", "vip", zoe_sid), namespace="/admin")
        assert await admin.wait("room_joined", lambda s: s[1] == "vip") == [
            "/chat", "vip", zoe_sid, ANY_STAMP]
        assert b.sio.manager.get_rooms(zoe_sid, "/chat") == [zoe_sid, "lobby", "vip"]
        await admin.client.emit("_disconnect", ("/chat", False, yan_sid), namespace="/admin")
        assert await admin.wait("socket_disconnected", lambda s: s[1] == yan_sid) == [
            "/chat", yan_sid, "server disconnect", ANY_STAMP]
        await asyncio.wait_for(kicked.wait(), 5 * UNIT)
        assert zoe.connected
    finally:
        for client in (zoe, yan, admin.client if admin else None):
            if client is not None and client.connected:
                await client.disconnect()


async def test_a_login_on_one_node_is_good_on_the_other(redis: RedisServer, start_node: Any) -> None:
    """The session id node a gave is accepted by node b (a UI reloaded behind a balancer)."""
    a: Node = await start_node(redis_url=redis.url, **ADMIN)
    b: Node = await start_node(redis_url=redis.url, **ADMIN)
    first = await admin_of(a.url)
    session, = await first.wait("session")
    again = await admin_of(b.url, auth={"sessionId": session})
    await again.wait("config")
    assert again.named("session") == []
    await first.client.disconnect()
    await again.client.disconnect()
