"""Crafted plain-WebSocket (bridge) envelopes: each is answered with an ``error`` event
naming what is wrong, the connection stays, and no traceback is logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.bridge.conftest import receive_json


@pytest.fixture
async def bridge(server_url: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A bridge client of the echo namespace (``/``) on a default server."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server_url.replace("http://", "ws://") + "/", autoclose=False)
        yield ws
        await ws.close()


def nested(depth: int) -> str:
    """A JSON array ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def malformed(reason: str) -> dict[str, object]:
    return {"event": "error", "data": [{"message": f"malformed envelope: {reason}"}]}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


CRAFTED = {
    "binary-1000-deep": ('{"event":"echo","data":' + "[" * 1000 + '{"$binary":"AA=="}'
                         + "]" * 1000 + ',"id":1}', "nested deeper than 64"),
    "binary-not-ascii": ('{"event":"echo","data":{"$binary":"\u00e9"},"id":1}',
                         "$binary is not valid base64"),
    "binary-not-base64": ('{"event":"echo","data":{"$binary":"!!"},"id":1}',
                          "$binary is not valid base64"),
    "ack-300-deep": ('{"ack":1,"data":' + nested(300) + "}", "nested deeper than 64"),
    "ack-1023-deep": ('{"ack":1,"data":' + nested(1023) + "}", "nested deeper than 64"),
    "event-2000-deep": ('{"event":"echo","data":' + nested(2000) + ',"id":1}',
                        "nested deeper than 64"),
    "event-65-deep": ('{"event":"echo","data":' + nested(65) + ',"id":1}',
                      "nested deeper than 64"),
    "one-value-65-deep": ('{"event":"echo","data":{"a":' + nested(63) + "}}", "nested deeper than 64"),
}


@pytest.mark.parametrize("frame,reason", CRAFTED.values(), ids=CRAFTED.keys())
async def test_crafted_envelope_is_answered_and_the_connection_stays(bridge, caplog, frame, reason):
    """A crafted envelope gets the exact "malformed envelope: ..." error event, the same
    connection then echoes, and nothing is logged with a traceback."""
    ws = bridge
    await ws.send_str(frame)
    assert await receive_json(ws) == malformed(reason)
    await ws.send_str('{"event":"echo","data":["still here"],"id":2}')
    assert await receive_json(ws) == {"ack": 2, "data": ["still here"]}
    assert tracebacks(caplog) == []


async def test_envelope_arguments_nested_64_deep_are_accepted(bridge):
    """Arguments nesting 64 deep (the argument list is level 1) are echoed, as over
    Socket.IO; so is a one-value ``data`` (an object) 63 deep, the same depth."""
    ws = bridge
    await ws.send_str('{"event":"echo","data":' + nested(64) + ',"id":1}')
    assert await receive_json(ws) == {"ack": 1, "data": json.loads(nested(64))}
    await ws.send_str('{"event":"echo","data":{"a":' + nested(62) + '},"id":2}')
    assert await receive_json(ws) == {"ack": 2, "data": [{"a": json.loads(nested(62))}]}


async def test_binary_members_inside_the_limit_still_decode(bridge):
    """{"$binary": …} 60 deep is decoded and echoed back as bytes."""
    ws = bridge
    await ws.send_str('{"event":"echo","data":[' + "[" * 60 + '{"$binary":"AAE="}'
                      + "]" * 60 + '],"id":1}')
    expected: object = {"$binary": "AAE="}
    for _ in range(60):
        expected = [expected]
    assert await receive_json(ws) == {"ack": 1, "data": [expected]}
