"""A JSON client's binary packets without Packet objects: ``parsers.binary_frames`` writes what
python-socketio's Packet.encode writes, and ``realtime/binary_fast.py`` reads headers and
rebuilds attachments as Packet.decode, add_attachment and reconstruct_binary do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openline.engine.packets import Frame
from openline.realtime import binary_fast
from openline.realtime.binary_fast import Assembly, decode_header, reconstruct
from openline.realtime.parsers import (
    JsonPacket,
    MsgPackPacket,
    binary_frames,
    fast_frame,
    fast_frames,
)
from socketio import packet as sio_packet

EVENT, ACK = sio_packet.EVENT, sio_packet.ACK

# (packet type, namespace, ack id, data): ASCII text and plain numbers, where stock's stdlib
# encoder and openline's orjson write the same JSON
STOCK_TABLE = [
    (EVENT, "/", None, ["echo", b"\x00" * 32]),
    (EVENT, "/bench", 7, ["echo", b"\x01\x02"]),
    (ACK, "/bench", 0, [b"\xff" * 32]),
    (ACK, "/", 12345, [b""]),
    (EVENT, "/chat", None, ["m", b"a", b"b", b"c"]),
    (EVENT, "/", 3, ["nested", {"a": [b"1", {"b": b"2", "c": "x"}], "d": None}, [[b"3"]], 1.5]),
    (ACK, "/x", 9, [bytearray(b"ba"), {"k": bytearray(b"")}, True, -4]),
    (EVENT, "/a-b", 11, ["same", b"s", b"s", {"_placeholder": True, "num": 0}]),
    (ACK, "/", 1, [{"deep": [[[[{"at": b"\x07"}]]]]}, "after"]),
    (EVENT, "/", None, [b"first-arg-is-bytes"]),
]


def _expected(ptype: int, namespace: str, ack_id: int | None, data: Any,
              packet: type[sio_packet.Packet] = sio_packet.Packet) -> list[Any]:
    encoded = packet(ptype, data=data, namespace=namespace, id=ack_id).encode()
    assert isinstance(encoded, list)
    return ["4" + encoded[0], *[bytes(each) for each in encoded[1:]]]


def _wire(frames: list[Frame] | None) -> list[Any]:
    assert frames is not None
    assert [f.binary for f in frames] == [False] + [True] * (len(frames) - 1)
    assert all(f.wire == f.text.encode() for f in frames if f.text is not None)
    return [frames[0].text, *[f.wire for f in frames[1:]]]


@pytest.mark.parametrize(("ptype", "namespace", "ack_id", "data"), STOCK_TABLE)
def test_binary_frames_are_python_socketios_byte_for_byte(ptype, namespace, ack_id, data):
    """Header text (type, "N-", namespace, id, placeholders in order) and attachments are stock
    Packet.encode's, and the JSON parser's own (JsonPacket) alike."""
    frames = binary_frames(ptype, namespace, data, ack_id)
    assert _wire(frames) == _expected(ptype, namespace, ack_id, data)
    assert _wire(frames) == _expected(ptype, namespace, ack_id, data, JsonPacket)


@pytest.mark.parametrize(("ptype", "namespace", "ack_id", "data"), STOCK_TABLE)
def test_fast_frames_give_what_fast_frame_declines(ptype, namespace, ack_id, data):
    """fast_frame (one frame) declines JSON data with bytes; fast_frames gives its frames."""
    assert fast_frame(JsonPacket, ptype, namespace, data, ack_id) is None
    assert _wire(fast_frames(JsonPacket, ptype, namespace, data, ack_id)) == \
        _expected(ptype, namespace, ack_id, data)


# openline's departures from stock, which the JSON parser class makes too: bytes inside
# tuples and memoryviews are attachments; orjson writes non-ASCII text as UTF-8
OPENLINE_TABLE = [
    (ACK, "/", 4, [(b"\x09", 1, (b"\x07",))]),
    (EVENT, "/", None, ["mv", memoryview(b"view"), {"t": (memoryview(b""),)}]),
    (EVENT, "/é", 2, ["é", b"\x00", {"ключ": "значение"}]),
    (ACK, "/", 5, [{"big-but-fine": 2**63 - 1, "f": 0.1}, b"x"]),
]


@pytest.mark.parametrize(("ptype", "namespace", "ack_id", "data"), OPENLINE_TABLE)
def test_binary_frames_match_the_json_parser_class(ptype, namespace, ack_id, data):
    """Tuples, memoryviews and UTF-8 text are encoded as openline's JsonPacket encodes them."""
    assert _wire(binary_frames(ptype, namespace, data, ack_id)) == \
        _expected(ptype, namespace, ack_id, data, JsonPacket)


@pytest.mark.parametrize("data", [
    ["no bytes", 1, {"a": [None]}],  # nothing binary: not this encoder's
    ["big", b"x", 2**70],  # orjson refuses the int: the parser class falls back to the stdlib
    ["key", {1: b"x"}],  # orjson refuses non-str keys
    ["set", b"x", {1, 2}],  # no JSON encoder takes a set
], ids=["no-binary", "big-int", "int-key", "set"])
def test_binary_frames_leave_the_rest_to_the_parser_class(data):
    """Data without bytes, or with values orjson refuses, is None: the parser class encodes it."""
    assert binary_frames(EVENT, "/", data) is None


def test_fast_frames_leave_binary_connect_and_other_parsers_alone():
    """Only EVENT and ACK become binary packets (stock raises for the others); msgpack carries
    bytes in its own one frame."""
    assert fast_frames(JsonPacket, sio_packet.CONNECT, "/", {"b": b"x"}) is None
    assert fast_frames(MsgPackPacket, EVENT, "/", ["b", b"x"]) is None
    frame = fast_frame(MsgPackPacket, EVENT, "/", ["b", b"x"])
    assert isinstance(frame, Frame) and frame.binary


def test_json_packet_takes_memoryview_as_an_attachment():
    """The parser class agrees with the fast encoder on memoryviews: an attachment of its bytes."""
    pkt = JsonPacket(EVENT, data=["mv", memoryview(b"ab")], namespace="/n", id=1)
    assert pkt.packet_type == sio_packet.BINARY_EVENT
    assert pkt.encode() == ['51-/n,1["mv",{"_placeholder":true,"num":0}]', b"ab"]


# --- decoding -------------------------------------------------------------------------

HEADERS = [
    ('51-["echo",{"_placeholder":true,"num":0}]', [b"\x01" * 32]),
    ('51-/bench,42["echo",{"_placeholder":true,"num":0}]', [b""]),
    ('61-/bench,7[{"_placeholder":true,"num":0}]', [b"\xff"]),
    ('62-3[{"r":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]}]', [b"a", b"b"]),
    ('53-/x,["m",[[{"_placeholder":true,"num":2}]],{"k":{"_placeholder":true,"num":0}},'
     '{"_placeholder":true,"num":1}]', [b"0", b"1", b"2"]),
    ('52-["same",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]', [b"s", b"unused"]),
    ('51-["neg",{"_placeholder":true,"num":-1}]', [b"last"]),
    ('51-["bool",{"_placeholder":1,"num":false}]', [b"zero"]),
    ('51-["kept",{"_placeholder":false,"num":0},{"_placeholder":true},{"num":0}]', [b"x"]),
    ('51-/a-b,5["dash in namespace",{"_placeholder":true,"num":0}]', [b"x"]),
    ('51-[42,{"_placeholder":true,"num":0}]', [b"numeric event name"]),
    ('510-["ten",' + ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(10)) + "]",
     [bytes([n]) for n in range(10)]),
]


@pytest.mark.parametrize(("header", "attachments"), HEADERS)
def test_header_and_attachments_decode_as_python_socketio_does(header, attachments):
    """Type, count, namespace, id and the rebuilt data (placeholders nested, "num" indexed as
    stock indexes) are python-socketio's, through Assembly as through Packet."""
    pkt = JsonPacket(encoded_packet=header)
    decoded = decode_header(header)
    assert decoded is not None
    ptype, count, namespace, ack_id, data = decoded
    assert (ptype, count, namespace, ack_id, data) == \
        (pkt.packet_type, pkt.attachment_count, pkt.namespace, pkt.id, pkt.data)
    assembly = Assembly(ptype, namespace, ack_id, data, count, len(header))
    for each in attachments:
        assert assembly.add_attachment(each) is pkt.add_attachment(each)
    assert reconstruct(data, attachments) == assembly.data == pkt.data
    assert all(type(a) is type(b) for a, b in zip(_leaves(assembly.data), _leaves(pkt.data), strict=True))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


@pytest.mark.parametrize("header", [
    '2["plain event"]',
    '3["plain ack"]',
    '5["no count"]',
    '50-["zero attachments"]',
    '5-["empty count"]',
    '5١-["non-ascii digit"]',
    '51["no dash"]',
    '51-/q?x=1,["query"]',
    '51-/nocomma',
    '51-{"not":"a list"}',
    '51-"text"',
    '51-',
    '512345678901-["count of 12 digits"]',
    '51-' + "9" * 100 + '["id too long"]',
    '51-1١["non-ascii id digit"]',
], ids=lambda h: h[:24])
def test_other_forms_are_handed_back(header):
    """Anything decode_header does not read exactly as stock does is None: the general path's."""
    assert decode_header(header) is None


def test_bad_header_json_raises_value_error():
    """Broken JSON raises ValueError, as the parser class does (the connection closes)."""
    with pytest.raises(ValueError):
        decode_header('51-["echo",{"_placeholder":true')


@pytest.mark.parametrize(("data", "attachments"), [
    (["e", {"_placeholder": True, "num": 3}], [b"x"]),
    (["e", {"_placeholder": True, "num": "0"}], [b"x"]),
    (["e", {"_placeholder": True, "num": 0.0}], [b"x"]),
    (["e", {"_placeholder": True, "num": None}], [b"x"]),
], ids=["out-of-range", "str", "float", "null"])
def test_a_wrong_placeholder_raises_what_stock_raises(data, attachments):
    """A placeholder naming no attachment raises stock's exception, with stock's text."""
    with pytest.raises((IndexError, TypeError)) as stock:
        sio_packet.Packet.reconstruct_binary(data, attachments)
    with pytest.raises(stock.type) as ours:
        reconstruct(data, attachments)
    assert str(ours.value) == str(stock.value)


def test_an_extra_attachment_is_refused_as_packet_refuses_it():
    """Assembly.add_attachment past the count raises Packet's ValueError."""
    assembly = Assembly(sio_packet.BINARY_EVENT, None, None, ["e", {"_placeholder": True, "num": 0}], 1, 0)
    assert assembly.add_attachment(b"x") is True
    with pytest.raises(ValueError, match="Unexpected binary attachment"):
        assembly.add_attachment(b"y")


# --- the hand-off, against a stand-in server --------------------------------------------

class _Steps:
    def __init__(self, full: bool) -> None:
        self.is_full, self.added = full, []

    def full(self, eio_sid: str) -> bool:
        return self.is_full

    def add(self, eio_sid: str, step: Any, args: tuple[Any, ...], **kwargs: Any) -> bool:
        self.added.append((args[1:], kwargs))
        return True


class _Server:
    class config:
        max_attachments = 10

    _json_nests, _max_depth, _rate = 130, 64, None

    def __init__(self, full: bool = False) -> None:
        self._binary_packet: dict[str, Any] = {}
        self._steps = _Steps(full)
        self.manager = self
        self.callbacks: dict[str, dict[int, Any]] = {}

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        return "sid1" if namespace == "/n" else None

    def _handle_event_internal(self, *args: Any) -> None:
        raise AssertionError("queued, not run")


def test_an_event_is_queued_once_its_last_attachment_is_in():
    """Header kept, first attachment held, the last one queues the rebuilt event with the
    bytes of all its frames."""
    server = _Server()
    header = '52-/n,3["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert binary_fast.take_header(server, "e1", header) is True
    pending = server._binary_packet["e1"]
    assert binary_fast.take_attachment(server, "e1", pending, b"ab") is True
    assert server._steps.added == []
    assert binary_fast.take_attachment(server, "e1", pending, b"c") is True
    assert server._binary_packet == {}
    assert server._steps.added == [(("sid1", "e1", ["e", b"ab", b"c"], "/n", 3),
                                    {"linger": True, "size": len(header) + 3})]


@pytest.mark.parametrize("header", [
    '511-/n,["eleven declared",{"_placeholder":true,"num":0}]',
    '51-["not connected to /",{"_placeholder":true,"num":0}]',
    '51-/n,["connect",{"_placeholder":true,"num":0}]',
    '61-/n,[{"_placeholder":true,"num":0}]',
    '51-/n,["deep",' + "[" * 64 + '{"_placeholder":true,"num":0}' + "]" * 64 + "]",
], ids=["attachments", "namespace", "reserved", "ack-without-id", "depth"])
def test_a_header_the_general_path_refuses_is_not_kept(header):
    """A header breaking a rule is declined (or raises) and nothing is kept: the general
    path decodes it again and closes the connection."""
    server = _Server()
    try:
        assert binary_fast.take_header(server, "e1", header) is False
    except Exception:
        pass
    assert server._binary_packet == {}


@pytest.mark.parametrize("case", ["text", "full", "bad-placeholder", "not-a-call"])
def test_a_declined_attachment_leaves_the_packet_as_it_was(case):
    """A text frame, a full queue, a wrong placeholder or an ACK no call() waits for leave the
    pending packet unchanged, for the general path to finish (or refuse) as it did."""
    server = _Server(full=case == "full")
    num = 7 if case == "bad-placeholder" else 0
    header = '61-/n,5[{"_placeholder":true,"num":0}]' if case == "not-a-call" \
        else '51-/n,["e",{"_placeholder":true,"num":' + str(num) + "}]"
    assert binary_fast.take_header(server, "e1", header) is True
    pending = server._binary_packet["e1"]
    frame: Any = "text" if case == "text" else b"x"
    try:
        assert binary_fast.take_attachment(server, "e1", pending, frame) is False
    except IndexError:
        assert case == "bad-placeholder"
    assert server._binary_packet == {"e1": pending} and pending.attachments == []
    assert server._steps.added == []


def test_a_binary_ack_settles_its_call():
    """The last attachment of a BINARY_ACK settles the call() waiting for it, bytes in place."""
    async def run() -> tuple[Any, ...]:
        from openline.realtime.acks import Answer

        server = _Server()
        answer = Answer(asyncio.get_running_loop().create_future())
        server.callbacks["sid1"] = {5: answer}
        assert binary_fast.take_header(server, "e1", '62-/n,5[{"_placeholder":true,"num":1},"x",'
                                                      '{"_placeholder":true,"num":0}]') is True
        pending = server._binary_packet["e1"]
        assert binary_fast.take_attachment(server, "e1", pending, b"zero") is True
        assert binary_fast.take_attachment(server, "e1", pending, b"one") is True
        assert server._binary_packet == {} and server.callbacks["sid1"] == {}
        return await answer.future

    assert asyncio.run(run()) == (b"one", "x", b"zero")


def test_an_emits_binary_packet_is_encoded_without_the_parser_class():
    """The manager's encoding of an emit with bytes is the fast frames (no Packet encoding),
    and the Engine.IO packets for held or replayed recipients carry the same frames."""
    from openline.realtime.manager import _Encoded

    data = ["e", {"k": b"\x01"}, bytearray(b"\x02")]
    encoded = _Encoded(JsonPacket, "/n", data, None)
    assert encoded.raw is None
    assert _wire(encoded.engine_frames()) == _expected(EVENT, "/n", None, data)
    packets = encoded.eio_packets()
    assert [p.data for p in packets] == [encoded.engine_frames()[0].text[1:], b"\x01", b"\x02"]
    assert [p._openline_frame for p in packets] == encoded.engine_frames()
