"""server/engine/direct.py: aiohttp's parser hands messages to DirectQueue.take while the
read loop is idle and nothing is queued, and queues the rest in order."""

from __future__ import annotations

import asyncio
import os

import aiohttp
from aiohttp import WSMsgType
from aiohttp._websocket.reader import WebSocketReader
from openline.engine.direct import DirectQueue, DirectWebSocketResponse, offer

from tests.conftest import UNIT


class _Protocol:
    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True


def _frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455 5.2)."""
    payload, mask = text.encode(), os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


class _Session:
    closed = False


def _parser_with(taken: list[str | bytes], accept: bool = True) -> tuple[DirectQueue, WebSocketReader]:
    queue = DirectQueue(_Protocol(), 1 << 16, loop=asyncio.get_running_loop())

    def take_message(session: _Session, data: str | bytes) -> bool:
        taken.append(data)
        return accept

    offer(queue, take_message, _Session())
    return queue, WebSocketReader(queue, 1 << 20, False, True)


async def test_aiohttp_parser_calls_the_override():
    """A parsed Engine.IO message goes to take_message, minus its type digit; none queued."""
    taken: list[str | bytes] = []
    queue, parser = _parser_with(taken)
    parser.feed_data(_frame('42["echo",1]'))
    assert taken == ['2["echo",1]'] and not queue._buffer


async def test_declined_and_engine_packets_are_queued():
    """take_message's refusals and non-message packets (a pong) reach the read loop."""
    taken: list[str | bytes] = []
    queue, parser = _parser_with(taken, accept=False)
    parser.feed_data(_frame("3"))
    assert taken == [] and [msg.data for msg, _size in queue._buffer] == ["3"]
    queue._buffer.clear()
    parser.feed_data(_frame('40{"token":"x"}'))
    assert taken == ['0{"token":"x"}']
    assert [msg.data for msg, _size in queue._buffer] == ['40{"token":"x"}']


async def test_nothing_is_taken_past_a_queued_message_or_a_busy_loop():
    """Once a message waits in the queue, or the read loop is busy, later ones queue too."""
    taken: list[str | bytes] = []
    queue, parser = _parser_with(taken)
    parser.feed_data(_frame("3") + _frame('42["a"]'))
    assert taken == [] and [m.data for m, _ in queue._buffer] == ["3", '42["a"]']
    queue._buffer.clear()
    queue.busy = True
    parser.feed_data(_frame('42["b"]'))
    assert taken == [] and [m.data for m, _ in queue._buffer] == ['42["b"]']


async def test_server_sockets_use_the_direct_queue(start_server):
    """The engine's WebSocket responses are built with DirectQueue (guards an aiohttp upgrade)."""
    seen: list[type] = []
    original = DirectWebSocketResponse._post_start

    def spy(self, request, protocol, writer):
        original(self, request, protocol, writer)
        seen.append(type(self._reader))

    DirectWebSocketResponse._post_start = spy  # type: ignore[method-assign]
    try:
        url = await start_server()
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
            msg = await ws.receive(timeout=5 * UNIT)
            assert msg.type == WSMsgType.TEXT and msg.data.startswith("0{")
            await ws.close()
    finally:
        DirectWebSocketResponse._post_start = original  # type: ignore[method-assign]
    assert seen == [DirectQueue]
