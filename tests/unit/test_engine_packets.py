"""server/engine/packets.py, fed bytes and strings: Engine.IO v4 "Packet encoding"."""

from __future__ import annotations

import json

import pytest
from openline.engine import packets
from openline.errors import ProtocolError


def test_text_packets_decode_to_type_and_data() -> None:
    """Packet encoding: `<type digit><data>`; every type 0-6 decodes, data may be empty."""
    assert packets.decode_text("4hello") == (packets.MESSAGE, "hello")
    assert packets.decode_text("2probe") == (packets.PING, "probe")
    assert packets.decode_text("3") == (packets.PONG, "")
    assert [packets.decode_text(str(t))[0] for t in range(7)] == list(range(7))


@pytest.mark.parametrize("bad", ["", "abc", "7", "9x", " 4x", "-1"])
def test_invalid_text_packets_are_protocol_errors(bad: str) -> None:
    """Packet encoding: anything but a type digit 0-6 first is a ProtocolError."""
    with pytest.raises(ProtocolError):
        packets.decode_text(bad)


def test_payload_splits_on_record_separator_and_decodes_base64() -> None:
    """Packet encoding (polling): records split on \\x1e; `b` + base64 is a binary message."""
    assert packets.decode_payload("4hello\x1ebAQIDBA==\x1e2\x1e4") == [
        (packets.MESSAGE, "hello"), (packets.MESSAGE, b"\x01\x02\x03\x04"),
        (packets.PING, ""), (packets.MESSAGE, "")]


@pytest.mark.parametrize("bad", ["4a\x1e\x1e4b", "b***", "bAQI", "4ok\x1eabc"])
def test_bad_record_fails_the_whole_payload(bad: str) -> None:
    """Packet encoding (polling): an empty record, bad base64 or a bad type fails the payload."""
    with pytest.raises(ProtocolError):
        packets.decode_payload(bad)


def test_encode_payload_joins_records() -> None:
    """Packet encoding (polling): text as is, binary as `b` + base64, joined by \\x1e."""
    frames = [packets.message("hello"), packets.message(b"\x01\x02\x03\x04"), packets.PING_FRAME]
    assert packets.encode_payload(frames) == "4hello\x1ebAQIDBA==\x1e2"
    assert packets.encode_payload([packets.message("é€")]) == "4é€"


def test_frame_wire_forms() -> None:
    """Packet encoding (WebSocket): text frames carry UTF-8 of `<type><data>`, binary is raw."""
    text = packets.message("é")
    assert (text.text, text.wire, text.binary) == ("4é", "4é".encode(), False)
    binary = packets.message(b"\x00\xff")
    assert (binary.text, binary.wire, binary.binary) == (None, b"\x00\xff", True)
    assert packets.frame(packets.MESSAGE, {"a": 1}).text == '4{"a":1}'
    assert packets.PROBE_PONG.text == "3probe" and packets.NOOP_FRAME.text == "6"


def test_binary_only_for_messages() -> None:
    """Engine.IO: only message packets carry binary data."""
    with pytest.raises(ValueError):
        packets.frame(packets.PING, b"x")


@pytest.mark.parametrize("seconds,ms", [(0.3, 300), (0.2, 200), (25, 25000), (0.001, 1), (1.0005, 1000)])
def test_intervals_are_exact_milliseconds(seconds: float, ms: int) -> None:
    """Handshake: pingInterval/pingTimeout in ms as configured (0.3 s → 300, not 299 or 0)."""
    assert packets.milliseconds(seconds) == ms


def test_open_frame_fields() -> None:
    """Handshake: the open packet is `0` + JSON with exactly the five spec fields."""
    text = packets.open_frame("abc", ["websocket"], 0.3, 0.2, 1000).text
    assert text is not None and text[0] == "0"
    assert json.loads(text[1:]) == {"sid": "abc", "upgrades": ["websocket"], "pingInterval": 300,
                                    "pingTimeout": 200, "maxPayload": 1000}


def test_error_bodies_match_the_reference_server() -> None:
    """Errors: {"code": n, "message": ...} with engine.io's codes 0-5."""
    assert json.loads(packets.error_body(packets.UNKNOWN_TRANSPORT)) == {
        "code": 0, "message": "Transport unknown"}
    assert json.loads(packets.error_body(packets.UNSUPPORTED_PROTOCOL_VERSION)) == {
        "code": 5, "message": "Unsupported protocol version"}
