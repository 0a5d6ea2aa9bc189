"""A plugin's ``call()`` (realtime/acks.py): stock's results and TimeoutError, for JSON and
msgpack clients over WebSocket and long-polling, its ACK settled wherever it is parsed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from tests.conftest import UNIT

NS = "/test"  # tests/plugins/probe.py: call_client(event, data, timeout) -> {"result"} | {"timeout"}


async def _client(py_client: Any, url: str, serializer: str, transport: str) -> socketio.AsyncClient:
    client = py_client(serializer=serializer)

    @client.on("two", namespace=NS)
    def two(data: Any) -> tuple[Any, ...]:
        return data, "second"

    @client.on("one", namespace=NS)
    async def one(data: Any) -> Any:
        return {"got": data}

    @client.on("late", namespace=NS)
    async def late(data: Any) -> str:
        await asyncio.sleep(10 * UNIT)
        return "too late"

    @client.on("none", namespace=NS)
    def none(data: Any) -> None:
        return None

    await client.connect(url, namespaces=[NS], transports=[transport], wait_timeout=5 * UNIT)
    return client


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_call_returns_what_the_client_acked(server_url: str, py_client: Any, serializer: str,
                                                  transport: str) -> None:
    """Several ack arguments come back as a tuple (a list on the wire), one as itself, none as None."""
    client = await _client(py_client, server_url, serializer, transport)
    for event, expected in (("two", [[1, 2], "second"]), ("one", {"got": [1, 2]}), ("none", None)):
        reply = await client.call("call_client", (event, [1, 2], 5 * UNIT), namespace=NS,
                                  timeout=5 * UNIT)
        assert reply == {"result": expected}


async def test_call_times_out_when_the_ack_is_late(server_url: str, py_client: Any) -> None:
    """The client's handler outlasts the timeout: call() raises socketio's TimeoutError."""
    client = await _client(py_client, server_url, "default", "websocket")
    reply = await client.call("call_client", ("late", {}, 0.2), namespace=NS, timeout=5 * UNIT)
    assert reply == {"timeout": True}


async def test_calls_in_flight_get_their_own_answers(server_url: str, py_client: Any) -> None:
    """Calls to two clients at once: each call settles with its own client's answer."""
    first = await _client(py_client, server_url, "default", "websocket")
    second = await _client(py_client, server_url, "msgpack", "websocket")
    replies = await asyncio.gather(*[
        c.call("call_client", ("one", n, 5 * UNIT), namespace=NS, timeout=5 * UNIT)
        for n, c in enumerate((first, second, first, second))])
    assert replies == [{"result": {"got": n}} for n in range(4)]
