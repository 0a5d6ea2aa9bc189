"""openline's Engine.IO v3 payload codec (server/engine/eio3.py) against engine.io-parser 2.2,
socket.io-client 2.x's own, run in Node (tests/js/eio3_codec.mjs)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from openline.engine import eio3
from openline.engine.packets import Frame, frame
from openline.errors import ProtocolError

from tests.conftest import run_node

pytestmark = pytest.mark.node

TYPES = ("open", "close", "ping", "pong", "message", "upgrade", "noop")
PACKETS: list[dict[str, Any]] = [
    {"type": "open", "data": '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000}'},
    {"type": "message", "data": '0/chat,'},
    {"type": "message", "data": '2/chat,7["msg","héllo ☎ 😀 𝄞",{"k":"\\u2028"}]'},
    {"type": "message", "data": {"bin": [0, 1, 2, 253, 254, 255]}},
    {"type": "message", "data": {"bin": []}},
    {"type": "pong"}, {"type": "noop"}, {"type": "close"},
    {"type": "message", "data": "x" * 1234},
]
CASES = [PACKETS[:3], PACKETS, PACKETS[3:5], PACKETS[5:], []]


def _frame(packet: dict[str, Any]) -> Frame:
    data = packet.get("data")
    ptype = TYPES.index(packet["type"])
    return frame(ptype, bytes(data["bin"]) if isinstance(data, dict) else data)


def _wire(payload: str | bytes) -> Any:
    return {"bin": list(payload)} if isinstance(payload, bytes) else payload


def _ours(payload: Any) -> Any:
    body = bytes(payload["bin"]) if isinstance(payload, dict) else payload
    try:
        found = eio3.decode_payload(body)
    except ProtocolError:
        return "error"
    return [{"type": TYPES[t]} if d == "" else  # engine.io-parser: no data, no field
            {"type": TYPES[t], "data": {"bin": list(d)} if isinstance(d, bytes) else d} for t, d in found]


async def test_payloads_encode_as_engine_io_parser_2_encodes_them():
    """Text payloads (b64) and binary payloads (XHR2) are byte for byte engine.io-parser 2.2's."""
    cases = [{"packets": packets, "supportsBinary": binary}
             for packets in CASES for binary in (False, True)]
    result = await run_node("eio3_codec.mjs", {"encode": cases})
    ours = [_wire(eio3.encode_payload([_frame(p) for p in case["packets"]], binary=case["supportsBinary"]))
            for case in cases]
    assert ours == result["encoded"]
    assert isinstance(ours[3], dict) and isinstance(ours[2], str)  # the binary case is binary


async def test_payloads_decode_as_engine_io_parser_2_decodes_them():
    """What engine.io-parser 2.2 writes, and malformed payloads it refuses, decode alike; a
    truncated binary payload or bad base64, which it reads as far as it can, is refused."""
    cases = [{"packets": packets, "supportsBinary": binary}
             for packets in CASES[:4] for binary in (False, True)]
    written = (await run_node("eio3_codec.mjs", {"encode": cases}))["encoded"]
    malformed = ["", "4", "x:4", "3:4ab1", "2:4", "1:9", "9:42[\"é😀\"]1", "0:", "1:61:3",
                 {"bin": [0, 1, 255, 52, 1, 2, 255, 4, 7]}]
    lenient = [{"bin": [0, 5, 255, 52]}, "4:b4A?"]
    payloads = [*written, *malformed, *lenient]
    theirs = (await run_node("eio3_codec.mjs", {"decode": payloads}))["decoded"]
    ours = [_ours(p) for p in payloads]
    assert ours[:-len(lenient)] == theirs[:-len(lenient)]
    assert theirs[len(written):].count("error") == 7
    assert theirs[-len(lenient):] == [[{"type": "message"}], [{"type": "message", "data": {"bin": []}}]]
    assert ours[-len(lenient):] == ["error", "error"]


def test_base64_record_round_trip():
    """A binary message's b4<base64> record decodes back to the same bytes."""
    data = bytes(range(256))
    record = eio3.record(frame(4, data))
    assert record == "b4" + base64.b64encode(data).decode()
    assert eio3.decode_record(record) == (4, data)
