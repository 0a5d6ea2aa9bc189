"""Socket.IO packet classes: JSON (orjson) and msgpack (socket.io-msgpack-parser format).

Both subclass python-socketio's ``Packet`` so its server code can build them; the
msgpack one corrects what stock python-socketio gets wrong with socket.io-msgpack-parser.
"""

from __future__ import annotations

import json as _stdlib_json
from typing import Any

import msgpack
import orjson
from socketio import packet as sio_packet
from socketio.msgpack_packet import MsgPackPacket as _StockMsgPackPacket

from ..engine.packets import Frame

# notepack.io (inside socket.io-msgpack-parser) encodes JS ``undefined`` as fixext 1 of
# type 0 holding one zero byte, and ArrayBuffer/typed arrays as ext of type 0 holding the
# bytes. msgpack-python cannot tell fixext 1 from ext 8 of length 1, so a one-byte
# ArrayBuffer holding 0 also reads as None: the only ambiguity, noted in the README.
_UNDEFINED_EXT = b"\x00"

# What the JSON parser sends as attachments, and the values its walk for them skips.
_BINARY = (bytes, bytearray, memoryview)
_LEAVES = frozenset({str, int, float, bool, type(None)})


def ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        return None if data == _UNDEFINED_EXT else bytes(data)
    return msgpack.ExtType(code, data)


class _OrjsonModule:
    """The ``json`` module interface python-socketio's Packet calls, backed by orjson.

    orjson refuses what the stdlib accepts (integers past 64 bits, non-string keys), so
    those fall back to the stdlib rather than failing an emit that stock would send.
    """

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:
            return _stdlib_json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return orjson.loads(text)


class JsonPacket(sio_packet.Packet):
    """The default Socket.IO parser (text packets, binary as attachments), via orjson.

    Departs from stock python-socketio: bytes inside tuples become attachments too (stock
    looks into lists and dicts only, so a handler returning ``{"r": (b"..", 1)}`` or the
    tuple ``call()`` returns failed in the JSON encoder), so does a ``memoryview`` (its
    bytes: stock's JSON encoder refused it, the msgpack parser sends it as bin), and the
    check walks the data with a stack instead of recursing (stock hit RecursionError on a
    client's array nested ~500 deep, which orjson accepts) and stops at the first binary
    item. ``binary_frames`` below writes the same packets without a Packet object.
    """

    json = _OrjsonModule

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, _BINARY):
                return True
            if isinstance(item, (list, tuple)):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
        return False

    @classmethod
    def _deconstruct_binary_internal(cls, data: Any, attachments: list[Any]) -> Any:
        if isinstance(data, tuple):
            data = list(data)
        elif isinstance(data, memoryview):
            data = bytes(data)
        return super()._deconstruct_binary_internal(data, attachments)


class MsgPackPacket(_StockMsgPackPacket):
    """socket.io-msgpack-parser packets.

    Departs from stock python-socketio: ``data`` is omitted when there is none (the JS
    parser rejects ``data: nil`` on DISCONNECT and CONNECT), and ext type 0 decodes to
    ``bytes`` or ``None`` instead of ``msgpack.ExtType``.
    """

    ext_hook = staticmethod(ext_hook)  # type: ignore[assignment]

    def _to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.packet_type, "nsp": self.namespace or "/"}
        if self.data is not None:
            d["data"] = self.data
        if self.id is not None:
            d["id"] = self.id
        return d

    def encode(self) -> bytes:
        return msgpack.packb(self._to_dict())

    def decode(self, encoded_packet: bytes) -> int:
        decoded = msgpack.unpackb(encoded_packet, ext_hook=ext_hook)
        if not isinstance(decoded, dict):
            raise ValueError("msgpack packet is not a map")
        self.packet_type = decoded["type"]
        self.data = decoded.get("data")
        self.id = decoded.get("id")
        self.namespace = decoded["nsp"]
        return 0


PARSERS: dict[str, type[sio_packet.Packet]] = {"json": JsonPacket, "msgpack": MsgPackPacket}


def parser_for_first_packet(data: str | bytes) -> type[sio_packet.Packet]:
    """Auto-detection: text frames are the JSON parser, binary frames msgpack."""
    return MsgPackPacket if isinstance(data, (bytes, bytearray)) else JsonPacket


def repack(pkt: sio_packet.Packet, parser: type[sio_packet.Packet]) -> sio_packet.Packet:
    """The same packet for another parser (binary event types fold back for msgpack)."""
    if type(pkt) is parser:
        return pkt
    ptype = pkt.packet_type
    if ptype == sio_packet.BINARY_EVENT:
        ptype = sio_packet.EVENT
    elif ptype == sio_packet.BINARY_ACK:
        ptype = sio_packet.ACK
    return parser(ptype, data=pkt.data, namespace=pkt.namespace, id=pkt.id)


def fast_frame(parser: type[sio_packet.Packet], ptype: int, namespace: str, data: Any,
               ack_id: int | None = None) -> Frame | None:
    """The Engine.IO frame of one Socket.IO packet as ``parser`` encodes it, written without a
    Packet object for the JSON and msgpack parsers (building and encoding one cost ~8% of
    the echo bench); None when it takes several frames or only the parser class can encode
    it (binary data for JSON: ``fast_frames``; values orjson refuses, other parsers). Every
    ack and every emit's packet, once per parser in use, is encoded here first."""
    try:
        if parser is JsonPacket:
            # orjson refuses bytes (attachments), big ints and non-str keys: TypeError
            text = "4" + str(ptype) + ("" if namespace == "/" else namespace + ",") \
                + ("" if ack_id is None else str(ack_id)) + orjson.dumps(data).decode()
            return Frame(text, text.encode(), False)
        if parser is MsgPackPacket:
            packet = {"type": ptype, "nsp": namespace, "data": data}
            if ack_id is not None:
                packet["id"] = ack_id
            return Frame(None, msgpack.packb(packet), True)
    except TypeError:
        pass
    return None


def fast_frames(parser: type[sio_packet.Packet], ptype: int, namespace: str, data: Any,
                ack_id: int | None = None) -> list[Frame] | None:
    """What ``fast_frame`` declined, when it is a JSON EVENT or ACK with binary data: its
    frames (``binary_frames``); None leaves it to the parser class."""
    if parser is JsonPacket and (ptype == sio_packet.EVENT or ptype == sio_packet.ACK):
        return binary_frames(ptype, namespace, data, ack_id)
    return None


# --- the JSON parser's binary packets, without a Packet object ------------------------
# (BINARY_EVENT / BINARY_ACK: "5N-" / "6N-" + namespace + id + JSON with placeholders, then
# one binary frame per attachment; the header and the attachments in JsonPacket's order)

def binary_frames(ptype: int, namespace: str, data: Any, ack_id: int | None = None) -> list[Frame] | None:
    """The frames ``JsonPacket(ptype, data=data, namespace=namespace, id=ack_id).encode()``
    gives for an EVENT or ACK, byte for byte; None when ``data`` holds no binary (the
    caller's encoder refused something else) or a value orjson refuses (then the parser
    class falls back to the stdlib encoder, or raises)."""
    attachments: list[Any] = []
    try:
        data = _deconstruct(data, attachments)
        if not attachments:
            return None
        body = orjson.dumps(data)
    except (TypeError, RecursionError):
        return None
    text = ("45" if ptype == sio_packet.EVENT else "46") + str(len(attachments)) + "-" \
        + ("" if namespace == "/" else namespace + ",") \
        + ("" if ack_id is None else str(ack_id)) + body.decode()
    frames = [Frame(text, text.encode(), False)]
    for each in attachments:
        frames.append(Frame(None, each if type(each) is bytes else bytes(each), True))
    return frames


def _deconstruct(data: Any, attachments: list[Any]) -> Any:
    """``JsonPacket._deconstruct_binary_internal``: the same walk (lists, tuples and dicts,
    isinstance as stock asks) and the same placeholders, in the same order; a list's
    leaves and bytes are taken without a call."""
    if type(data) is list or type(data) is tuple or isinstance(data, (list, tuple)):
        out = []
        for item in data:
            kind = type(item)
            if kind in _LEAVES:
                out.append(item)
            elif kind is bytes or kind is bytearray:
                attachments.append(item)
                out.append({"_placeholder": True, "num": len(attachments) - 1})
            else:
                out.append(_deconstruct(item, attachments))
        return out
    if isinstance(data, dict):
        return {key: value if type(value) in _LEAVES else _deconstruct(value, attachments)
                for key, value in data.items()}
    if isinstance(data, _BINARY):
        attachments.append(bytes(data) if type(data) is memoryview else data)
        return {"_placeholder": True, "num": len(attachments) - 1}
    return data


_DIGITS = frozenset("0123456789")
_ID_DIGITS_MAX = 100  # python-socketio's Packet.decode refuses longer ids


def decode_json_event(text: str, kind: str = "2") -> tuple[str | None, int | None, Any] | None:
    """``(namespace, id, data)`` of a JSON-parser EVENT packet (``kind`` "3": ACK) without
    attachments, as python-socketio's ``Packet.decode`` reads it; None for any other packet,
    which the parser class then decodes (a Packet object and its generic decode cost ~15%
    of the echo bench). Raises ValueError (orjson's) for bad JSON, as the parser class does."""
    if text[:1] != kind:
        return None
    pos = 1
    namespace = None
    if text[1:2] == "/":
        comma = text.find(",", 2)
        if comma == -1:
            return None
        namespace = text[1:comma]
        if "?" in namespace:
            return None
        pos = comma + 1
    end = pos
    size = len(text)
    while end < size and text[end] in _DIGITS:
        end += 1
    if end - pos >= _ID_DIGITS_MAX or text[end:end + 1] != "[":
        return None
    return namespace, int(text[pos:end]) if end > pos else None, orjson.loads(text[end:])
