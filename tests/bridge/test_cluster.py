"""Bridge sessions across nodes sharing one Redis: rooms reach them like any session."""

from __future__ import annotations

from typing import Any

from tests.bridge.conftest import WsFactory, receive_json
from tests.cluster.conftest import redis, start_node, two_nodes  # noqa: F401 - fixtures
from tests.integration.conftest import Inbox


async def test_room_across_nodes_both_ways(two_nodes: Any, py_client: Any,  # noqa: F811
                                           ws_connect: WsFactory) -> None:
    """A plain WebSocket on node 1 and a socket.io client on node 2 chat in one room."""
    n1, n2 = two_nodes
    client = py_client()
    inbox = Inbox(client, "/chat", "message", "presence")
    await client.connect(n2.url, namespaces=["/chat"], transports=["websocket"],
                         auth={"nickname": "py", "room": "lobby"})
    ws = await ws_connect(n1.url, "/chat?nickname=ann&room=lobby")
    assert await inbox.get("presence") == {"room": "lobby", "nickname": "ann", "action": "join"}

    await ws.send_str("from node 1")
    got = await inbox.get("message")
    assert (got["nickname"], got["text"]) == ("ann", "from node 1")
    await client.emit("message", "from node 2", namespace="/chat")
    env = await receive_json(ws)
    while env["event"] == "presence":  # py's own join may reach node 1 after ann joined
        env = await receive_json(ws)
    assert env["event"] == "message"
    assert (env["data"][0]["nickname"], env["data"][0]["text"]) == ("py", "from node 2")
