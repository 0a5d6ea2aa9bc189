"""Socket.IO packet classes fed bytes: JSON (orjson) and the socket.io-msgpack-parser format."""

from __future__ import annotations

import msgpack
import pytest
from openline.realtime.parsers import JsonPacket, MsgPackPacket, parser_for_first_packet, repack
from socketio import packet as sio_packet

UNDEFINED = msgpack.ExtType(0, b"\x00")  # how notepack.io writes JS undefined


def test_json_event_encoding_is_compact_text():
    """A JSON event encodes as the Socket.IO text form, namespace and ack id included."""
    pkt = JsonPacket(sio_packet.EVENT, data=["m", {"a": [1, None]}, "é"], namespace="/chat", id=7)
    assert pkt.encode() == '2/chat,7["m",{"a":[1,null]},"é"]'


def test_json_bytes_inside_tuples_become_attachments():
    """bytes nested in tuples (a handler's multi-value return) become binary attachments."""
    pkt = JsonPacket(sio_packet.ACK, data=[{"result": (b"\x09", b"\x07")}], id=3)
    assert pkt.packet_type == sio_packet.BINARY_ACK
    assert pkt.encode() == [
        '62-3[{"result":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]',
        b"\x09", b"\x07"]


def test_json_falls_back_to_stdlib_for_big_integers():
    """Integers orjson refuses (past 64 bits) still encode, as the stdlib would."""
    assert JsonPacket(sio_packet.EVENT, data=["n", 2**70]).encode() == f'2["n",{2**70}]'


def test_json_unencodable_value_raises_type_error():
    """A value no JSON encoder takes raises TypeError (the server turns it into an error event)."""
    with pytest.raises(TypeError):
        JsonPacket(sio_packet.EVENT, data=["s", {1, 2}]).encode()


def test_json_decode_binary_event_with_attachment():
    """A BINARY_EVENT and its attachment decode to the event with bytes in place."""
    pkt = JsonPacket(encoded_packet='51-/test,["bin",{"_placeholder":true,"num":0}]')
    assert (pkt.packet_type, pkt.namespace, pkt.attachment_count) == (sio_packet.BINARY_EVENT, "/test", 1)
    assert pkt.add_attachment(b"\x01\x02") is True
    assert pkt.data == ["bin", b"\x01\x02"]


def test_msgpack_omits_absent_data():
    """msgpack CONNECT/DISCONNECT without data carry no data key (the JS parser rejects nil)."""
    assert msgpack.unpackb(MsgPackPacket(sio_packet.DISCONNECT, namespace="/test").encode()) == {
        "type": 1, "nsp": "/test"}
    assert msgpack.unpackb(MsgPackPacket(sio_packet.EVENT, data=["e"], id=4).encode()) == {
        "type": 2, "nsp": "/", "data": ["e"], "id": 4}


def test_msgpack_ext_type_0_is_bytes_or_none():
    """notepack's ext 0 decodes as bytes (ArrayBuffer, typed arrays) or None (undefined)."""
    raw = msgpack.packb({"type": 2, "nsp": "/", "data": [
        "e", msgpack.ExtType(0, b"\x01\x02\x03"), UNDEFINED, msgpack.ExtType(5, b"x"), b"\xff"]})
    pkt = MsgPackPacket(encoded_packet=raw)
    assert pkt.data == ["e", b"\x01\x02\x03", None, msgpack.ExtType(5, b"x"), b"\xff"]
    assert pkt.packet_type == sio_packet.EVENT and pkt.namespace == "/"


@pytest.mark.parametrize("raw", [msgpack.packb([2, "/"]), msgpack.packb({"nsp": "/"}), b"\xc1"])
def test_msgpack_malformed_packet_raises(raw):
    """A msgpack packet that is not a map with type and nsp raises (the connection closes)."""
    with pytest.raises((ValueError, KeyError, msgpack.ExtraData, msgpack.FormatError,
                        msgpack.StackError)):
        MsgPackPacket(encoded_packet=raw)


def test_first_packet_picks_the_parser():
    """Auto-detection: a text first packet means JSON, a binary one msgpack."""
    assert parser_for_first_packet("40") is JsonPacket
    assert parser_for_first_packet(b"\x82") is MsgPackPacket
    assert parser_for_first_packet(bytearray(b"\x82")) is MsgPackPacket


def test_repack_between_parsers():
    """repack rebuilds a packet for the other parser; binary types fold back for msgpack."""
    binary = JsonPacket(sio_packet.EVENT, data=["b", b"\x00"], namespace="/x", id=2)
    assert binary.packet_type == sio_packet.BINARY_EVENT
    as_msgpack = repack(binary, MsgPackPacket)
    assert msgpack.unpackb(as_msgpack.encode()) == {"type": 2, "nsp": "/x", "data": ["b", b"\x00"],
                                                   "id": 2}
    back = repack(MsgPackPacket(sio_packet.ACK, data=[b"\x01"], id=1), JsonPacket)
    assert back.packet_type == sio_packet.BINARY_ACK
    assert repack(binary, JsonPacket) is binary


def test_binary_check_of_deep_data_does_not_recurse():
    """Detecting bytes in data nested 5000 deep neither recurses nor misses them."""
    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    assert JsonPacket.data_is_binary(deep) is False
    inner.append((b"\x00",))
    assert JsonPacket.data_is_binary({"k": deep}) is True
