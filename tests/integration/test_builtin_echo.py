"""The built-in "/" echo namespace: message is sent back, echo acks all its arguments."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import UNIT, run_node
from tests.integration.conftest import Inbox


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
async def test_message_with_several_arguments_comes_back_whole(server_url, py_client, serializer):
    """A message with one argument comes back as it was; with several, as all of them."""
    client = py_client(serializer=serializer)
    inbox = Inbox(client, "/", "message")
    await client.connect(server_url, wait_timeout=5 * UNIT)
    await client.send("just one")
    assert await inbox.get("message") == "just one"
    await client.emit("message", ("a", 2, None, b"\x03"))
    assert await inbox.get("message") == ("a", 2, None, b"\x03")


async def test_echo_acks_nothing_for_nothing(server_url, py_client):
    """echo with no argument acks with no argument."""
    client = py_client()
    await client.connect(server_url, wait_timeout=5 * UNIT)
    received = []
    done = asyncio.Event()
    await client.emit("echo", callback=lambda *args: (received.append(args), done.set()))
    await asyncio.wait_for(done.wait(), 5 * UNIT)
    assert received == [()]


@pytest.mark.node
async def test_echo_from_node_over_default_transports(server_url):
    """The npm client's send/emitWithAck against "/" round-trips unicode, numbers and null."""
    result = await run_node("scenario.mjs", {
        "url": server_url, "scenario": "echo", "namespace": "/", "payload": ["☎", 1e21, -0.5],
        "args": [{"deep": {"er": [None]}}]})
    assert result == {"first": "polling", "upgraded": True, "transport": "websocket",
                      "message": ["☎", 1e21, -0.5], "acked": [{"deep": {"er": [None]}}]}
