"""The built-in /chat namespace with real python-socketio clients (JSON and msgpack)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import socketio

from tests.conftest import UNIT
from tests.integration.conftest import Inbox

EVENTS = ("message", "presence", "typing", "error", "disconnect")


async def chatter(py_client: Any, url: str, auth: Any, serializer: str = "default"
                  ) -> tuple[socketio.AsyncClient, Inbox]:
    client = py_client(serializer=serializer)
    inbox = Inbox(client, "/chat", *EVENTS)
    await client.connect(url, namespaces=["/chat"], auth=auth, wait_timeout=5 * UNIT)
    return client, inbox


async def call(client: socketio.AsyncClient, event: str, *args: Any) -> Any:
    return await client.call(event, args if len(args) != 1 else args[0], namespace="/chat",
                             timeout=5 * UNIT)


@pytest.mark.parametrize("auth,reason", [
    (None, "nickname required"), ({}, "nickname required"), ({"nickname": "  "}, "nickname required"),
    ({"nickname": 7}, "nickname required"), ({"nickname": "x" * 33}, "nickname longer than 32 characters"),
    ({"nickname": "ann", "room": ""}, "room must be a string of 1-64 characters"),
])
async def test_chat_refuses_without_a_valid_nickname(server_url, py_client, auth, reason):
    """/chat refuses a connection without a usable nickname (or room), saying why."""
    client = py_client()
    inbox = Inbox(client, "/chat", "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server_url, namespaces=["/chat"], auth=auth, wait_timeout=5 * UNIT)
    assert await inbox.get("connect_error") == {"message": reason}


async def test_chat_join_presence_who_and_leave(server_url, py_client):
    """join acks the member list and tells the others; who lists; leave tells the others."""
    ann, ann_in = await chatter(py_client, server_url, {"nickname": "ann", "room": "lobby"})
    bob, _ = await chatter(py_client, server_url, {"nickname": "bob"}, serializer="msgpack")
    assert await call(bob, "join", "lobby") == {"room": "lobby", "members": ["ann", "bob"]}
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "join"}
    assert await call(ann, "who", "lobby") == {"room": "lobby", "members": ["ann", "bob"]}
    assert await call(bob, "leave", "lobby") == {"room": "lobby", "members": ["ann"]}
    assert await ann_in.get("presence") == {"room": "lobby", "nickname": "bob", "action": "leave"}


async def test_chat_message_has_sender_and_server_time(server_url, py_client):
    """A message reaches the room's others with nickname, room and a server ms timestamp."""
    ann, ann_in = await chatter(py_client, server_url, {"nickname": "ann", "room": "r"})
    bob, bob_in = await chatter(py_client, server_url, {"nickname": "bob", "room": "r"},
                                serializer="msgpack")
    before = int(time.time() * 1000)
    sent = await call(ann, "message", "hello ☎")
    after = int(time.time() * 1000)
    got = await bob_in.get("message")
    assert sent == [got]
    assert {k: v for k, v in got.items() if k != "ts"} == {"room": "r", "nickname": "ann",
                                                           "text": "hello ☎"}
    assert before <= got["ts"] <= after
    # the sender is skipped: its own message would precede the ack of this call
    await call(ann, "who", "r")
    assert ann_in.empty("message")
    addressed = await call(bob, "message", {"room": "r", "text": "hi ann"})
    assert (await ann_in.get("message"))["text"] == "hi ann" == addressed[0]["text"]


async def test_chat_typing_and_disconnect_presence(server_url, py_client):
    """typing notices go to the room's others; a disconnect is a leave for the others."""
    ann, ann_in = await chatter(py_client, server_url, {"nickname": "ann", "room": "r"})
    bob, _ = await chatter(py_client, server_url, {"nickname": "bob", "room": "r"})
    assert await ann_in.get("presence") == {"room": "r", "nickname": "bob", "action": "join"}
    await bob.emit("typing", "r", namespace="/chat")
    assert await ann_in.get("typing") == {"room": "r", "nickname": "bob", "typing": True}
    await bob.emit("typing", {"room": "r", "typing": False}, namespace="/chat")
    assert await ann_in.get("typing") == {"room": "r", "nickname": "bob", "typing": False}
    await bob.disconnect()
    assert await ann_in.get("presence") == {"room": "r", "nickname": "bob", "action": "leave"}


@pytest.mark.parametrize("event,args,message", [
    ("message", ("no room yet",), "join a room first"),
    ("message", ({"text": 5},), "message must be text or {room, text}"),
    ("message", ({"room": "elsewhere", "text": "x"},), "not in room elsewhere"),
    ("message", ("x" * 4001,), "message longer than 4000 characters"),
    ("join", (["not", "a", "room"],), "room must be a string of 1-64 characters"),
    ("typing", ("elsewhere",), "not in room elsewhere"),
])
async def test_chat_bad_requests_get_error_event(server_url, py_client, event, args, message):
    """Bad chat requests are answered with an error event naming the problem."""
    ann, ann_in = await chatter(py_client, server_url, {"nickname": "ann"})
    await ann.emit(event, args[0], namespace="/chat")
    assert await ann_in.get("error") == {"message": message}
    assert await call(ann, "who", "r") == {"room": "r", "members": []}
