"""The bridge framing (server/bridge/envelope.py), fed frames and packets, no sockets."""

from __future__ import annotations

import pytest
from openline.bridge.envelope import BridgePacket, Close, Inbound, decode_frame
from openline.errors import EnvelopeError, ProtocolError
from socketio import packet as sio_packet


@pytest.mark.parametrize("frame,expected", [
    ("hello", Inbound("message", ["hello"])),
    ("", Inbound("message", [""])),
    ('{"event": "echo", "data": [1, "a"], "id": 7}', Inbound("echo", [1, "a"], 7)),
    ('{"event": "echo", "data": "one"}', Inbound("echo", ["one"])),
    ('{"event": "echo", "data": [[1, 2]]}', Inbound("echo", [[1, 2]])),
    ('{"event": "ping"}', Inbound("ping", [])),
    ('{"event": "echo", "data": null}', Inbound("echo", [None])),
    ('{"ack": 3, "data": ["ok"]}', Inbound(None, ["ok"], 3, ack=True)),
    ('{"event": "b", "data": [{"$binary": "AAE="}]}', Inbound("b", [b"\x00\x01"])),
    ('{"text": "not an envelope"}', Inbound("message", ['{"text": "not an envelope"}'])),
    ("[1, 2]", Inbound("message", ["[1, 2]"])),
    ("{not json", Inbound("message", ["{not json"])),
    (b"\x00\xff", Inbound("message", [b"\x00\xff"])),
])
def test_decode_frame(frame: str | bytes, expected: Inbound) -> None:
    """Text, envelopes, acks and binary frames decode to the event the issue's table names."""
    assert decode_frame(frame) == expected


@pytest.mark.parametrize("frame,message", [
    ('{"event": 5}', "event must be a non-empty string"),
    ('{"event": ""}', "event must be a non-empty string"),
    ('{"event": "connect"}', "event name 'connect' is reserved"),
    ('{"event": "e", "id": -1}', "id must be a non-negative integer"),
    ('{"event": "e", "id": "7"}', "id must be a non-negative integer"),
    ('{"event": "e", "id": true}', "id must be a non-negative integer"),
    ('{"event": "e", "args": [1]}', "unknown member 'args' (allowed: event, data, id)"),
    ('{"ack": "x"}', "ack must be a non-negative integer"),
    ('{"ack": 1, "id": 2}', "unknown member 'id' (allowed: ack, data)"),
    ('{"event": "e", "data": {"$binary": "@@"}}', "$binary is not valid base64"),
    ('{"event": "e", "data": {"$binary": 1}}', "$binary must be a base64 string"),
])
def test_malformed_envelope(frame: str, message: str) -> None:
    """A malformed envelope raises EnvelopeError (a ProtocolError) naming what is wrong."""
    with pytest.raises(EnvelopeError) as info:
        decode_frame(frame)
    assert str(info.value) == message
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize("ptype,data,id,expected", [
    (sio_packet.EVENT, ["message", "hi"], None, "hi"),
    (sio_packet.EVENT, ["message", b"\x01"], None, b"\x01"),
    (sio_packet.EVENT, ["message", "hi", "there"], None, '{"event":"message","data":["hi","there"]}'),
    (sio_packet.EVENT, ["message", {"a": 1}], None, '{"event":"message","data":[{"a":1}]}'),
    (sio_packet.EVENT, ["message", "hi"], 4, '{"event":"message","data":["hi"],"id":4}'),
    (sio_packet.EVENT, ["news", b"\x00\x01", 2**70], None,
     '{"event":"news","data":[{"$binary":"AAE="},1180591620717411303424]}'),
    (sio_packet.ACK, [1, "a"], 7, '{"ack":7,"data":[1,"a"]}'),
    (sio_packet.ACK, [], 0, '{"ack":0,"data":[]}'),
    (sio_packet.CONNECT, {"sid": "x"}, None, None),
    (sio_packet.CONNECT_ERROR, {"message": "nickname required"}, None, Close(4403, "nickname required")),
    (sio_packet.CONNECT_ERROR, {"message": "Invalid namespace"}, None, Close(4404, "Invalid namespace")),
    (sio_packet.DISCONNECT, None, None, Close(1000, "disconnected by server")),
])
def test_encode(ptype: int, data: object, id: int | None, expected: object) -> None:
    """Server packets become the frames (or close instructions) of the issue's table."""
    assert BridgePacket(ptype, data=data, namespace="/chat", id=id).encode() == expected


def test_close_reason_fits_a_close_frame() -> None:
    """A long refusal is cut to 123 bytes on a UTF-8 boundary (RFC 6455 §5.5)."""
    reason = Close(4403, "é" * 100).reason_bytes()
    assert len(reason) == 122 and reason.decode() == "é" * 61
