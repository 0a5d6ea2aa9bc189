"""Engine.IO v3's codec (server/engine/eio3.py) and Socket.IO protocol v4's packets
(server/realtime/protocol_v4.py): exact forms, and refusals of malformed input."""

from __future__ import annotations

import pytest
from openline.engine import eio3
from openline.engine.packets import CLOSE, MESSAGE, NOOP_FRAME, OPEN, PING, frame, message
from openline.errors import ProtocolError
from openline.realtime.protocol_v4 import LegacyPacket, connect_query, refusal, sid_for
from socketio import packet as sio_packet


def test_text_payload_lengths_count_utf16_units():
    """Each packet is <length>:<packet>, the length in UTF-16 code units (an emoji is 2)."""
    frames = [frame(OPEN, '{"sid":"x"}'), message('2["é😀"]'), frame(PING, "probe")]
    assert eio3.encode_payload(frames, binary=False) == '12:0{"sid":"x"}9:42["é😀"]6:2probe'


def test_empty_payload_is_zero_colon():
    """A payload of no packets is "0:", as engine.io-parser 2 writes it."""
    assert eio3.encode_payload([], binary=False) == "0:"


def test_binary_message_in_text_payload_is_b4_base64():
    """Without binary payloads (b64=1) a binary message is b4<base64>, its length counted."""
    assert eio3.encode_payload([message(b"\x01\x02\x03"), NOOP_FRAME], binary=False) == "6:b4AQID1:6"


def test_binary_payload_frames_each_packet():
    """With binary payloads: <0|1><length digits as bytes><255><packet>, text in UTF-8, binary
    with its type byte (so its length counts it)."""
    payload = eio3.encode_payload([message("é"), message(b"\x09\x08")], binary=True)
    assert payload == bytes([0, 3, 255]) + "4é".encode() + bytes([1, 3, 255, 4, 9, 8])


def test_text_only_frames_stay_a_text_payload_when_binary_is_allowed():
    """A binary payload is used only when a packet is binary."""
    assert eio3.encode_payload([message("a" * 10)], binary=True) == "11:4aaaaaaaaaa"


def test_text_payload_decodes_by_utf16_length():
    """A POST body's packets are cut by their UTF-16 lengths, base64 ones decoded to bytes."""
    body = '9:42["é😀"]1:26:b4AQID0:1:1'
    assert eio3.decode_payload(body) == [(MESSAGE, '2["é😀"]'), (PING, ""), (MESSAGE, b"\x01\x02\x03"),
                                         (CLOSE, "")]


def test_binary_payload_decodes_text_and_binary_parts():
    """A binary POST body: a UTF-8 text packet and a binary message (its type byte dropped)."""
    body = bytes([0, 3, 255]) + "4é".encode() + bytes([1, 1, 0, 255, 4]) + bytes(range(9))
    assert eio3.decode_payload(body) == [(MESSAGE, "é"), (MESSAGE, bytes(range(9)))]


@pytest.mark.parametrize("body", [
    "", "4", ":4", "x:4", "2:4", "3:4ab1", "1:9", "1:b", "3:b9A", "5:b4A?==", "12345678901:4",
    "²:4", b"\x02\x01\xff4", b"\x00\x05\xff4", b"\x01\x02\xff\x02x", b"\x00\x0a\xff4", b"\x00",
    b"\x00\x02\xff\xff\xfe",
])
def test_malformed_payloads_are_refused(body):
    """Bad lengths, short payloads, unknown types, bad base64 or UTF-8: ProtocolError."""
    with pytest.raises(ProtocolError):
        eio3.decode_payload(body)


def test_websocket_binary_frames_carry_the_type_byte():
    """On a v3 WebSocket a binary message is \\x04 + bytes, or b4<base64> text with b64."""
    assert eio3.websocket_binary(message(b"\x00\xff"), b64=False).wire == b"\x04\x00\xff"
    as_text = eio3.websocket_binary(message(b"\x00\xff"), b64=True)
    assert (as_text.text, as_text.binary) == ("b4AP8=", False)
    assert eio3.websocket_message(b"\x04\x00\xff") == b"\x00\xff"
    with pytest.raises(ProtocolError):
        eio3.websocket_message(b"\x02\x00")
    assert eio3.decode_record("b4AP8=") == (MESSAGE, b"\x00\xff")


def test_legacy_connect_reads_the_query_as_auth():
    """CONNECT's auth is the namespace's query (strings, last of a repeated key); none: {}."""
    pkt = LegacyPacket(encoded_packet="0/chat?nickname=ann&room=a%20b&x=1&x=2,")
    assert (pkt.packet_type, pkt.namespace, pkt.data) == \
        (0, "/chat", {"nickname": "ann", "room": "a b", "x": "2"})
    assert LegacyPacket(encoded_packet="0/chat,").data == {}
    assert LegacyPacket(encoded_packet='0/chat,{"token":1}').data == {}
    assert connect_query("0") == {} and connect_query("0/a?b") == {"b": ""}


def test_legacy_connect_ack_and_refusals():
    """The ack has no payload; a refusal is data or message as a string; Invalid namespace
    keeps its object."""
    assert LegacyPacket(sio_packet.CONNECT, data={"sid": "s"}, namespace="/chat").encode() == "0/chat,"
    assert LegacyPacket(sio_packet.CONNECT, data={"sid": "s"}, namespace="/").encode() == "0"
    error = LegacyPacket(sio_packet.CONNECT_ERROR, data={"message": "nope"}, namespace="/chat")
    assert error.encode() == '4/chat,"nope"'
    assert refusal({"message": "m", "data": {"retry": 5}}) == {"retry": 5}
    assert [refusal({"message": "m", "data": d}) for d in (0, "", None, False, [], {})] == \
        ["m", "m", "m", "m", [], {}]
    assert LegacyPacket(sio_packet.CONNECT_ERROR, data={"message": "Invalid namespace"},
                        namespace="/x").encode() == '4/x,{"message":"Invalid namespace"}'


def test_legacy_events_encode_as_v5():
    """EVENT and binary events are written as socket.io-parser 3 reads them (v5's form)."""
    assert LegacyPacket(sio_packet.EVENT, data=["a", 1], namespace="/chat", id=3).encode() == \
        '2/chat,3["a",1]'
    assert LegacyPacket(sio_packet.EVENT, data=["b", b"\x01"]).encode() == \
        ['51-["b",{"_placeholder":true,"num":0}]', b"\x01"]


def test_sids_are_the_clients_ids():
    """A v4-protocol sid is the Engine.IO sid in / and <namespace>#<sid> elsewhere."""
    assert (sid_for("/", "abc"), sid_for("/chat", "abc")) == ("abc", "/chat#abc")
