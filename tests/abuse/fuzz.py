"""Seeded fuzzing of the three peer-facing paths: Engine.IO over WebSocket, Engine.IO
long-polling, and the plain-WebSocket bridge.

A *case* is one short connection (or one polling session) sending a handful of frames,
generated from ``random.Random(f"{seed}:{path}:{index}")`` alone, so any case can be
replayed by its name. Frames are valid-looking packets, mutated ones (truncated, spliced,
bytes flipped, invalid UTF-8), random bytes, deep nesting, huge numbers, control
characters and odd WebSocket framing (fragments, reserved opcodes and bits, bad closes,
frames written a byte at a time, permessage-deflate offered). 40% of WebSocket cases are
*clean*: well-formed packets with odd arguments, so they reach the handlers instead of
dying at the parser. Polling cases post records joined by \x1e, poll, use wrong sids and
methods, and upgrade to WebSocket with the probe in and out of order. The client is
written on raw sockets so nothing on our side refuses to send any of it.

Each WebSocket case ends with a *barrier*, an event with an ack id, before its closing
handshake: a client's events run in order, so its answer (or the server closing) shows
every frame before it was handled; a clean case whose barrier gets neither is a hang.

While cases run, a health check (a python-socketio client on ``/`` and a bridge client,
each calling ``echo`` every 100 ms) must answer within its deadline. The driver reports
what it sees from outside (hangs, a missing open packet, health misses); what the server
logs is judged by the caller: tests/abuse/test_fuzz.py reads the log records in-process,
``main()`` reads a real ``openline run``'s output::

    python tests/abuse/fuzz.py --cases 30000 --seeds 3        # `make fuzz`
    python tests/abuse/fuzz.py --url http://127.0.0.1:1740    # a server already running
    python tests/abuse/fuzz.py --seed 2 --replay engine:417   # print and send one case
    python tests/abuse/fuzz.py --seed 20261201 --tame --replay bridge:5   # one of test_fuzz.py's

Exit status 1 when anything was found (a traceback in the server's output, the server
dying, a hang, a health miss).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import struct
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgpack

ROOT = Path(__file__).resolve().parents[2]
UNIT = float(os.environ.get("OPENLINE_TEST_SLOWDOWN", "1"))  # as tests/conftest.py
PATHS = ("engine", "polling", "bridge")
DEADLINE = 5.0  # seconds (x UNIT) any single step may take before it counts as a hang

# --- generator: pure functions of an rng --------------------------------------------

TEXT_POOLS = (
    "abcxyz019 _-", "\x00\x01\x07\x08\t\n\r\x1b\x1e\x1f\x7f", "\x85\u2028\u2029\u202e\ufeff\u200b",
    "éüßñ中文ру", "😀🚀\U0010ffff", '"\\/[]{},:', "%\r\nINFO ",
)
NAMESPACES = ("", "", "", "/chat", "/chat", "/", "/nope", "/chat/", "/CHAT", "/test", "chat",
              "/x\nINFO forged", "/\u2028", "/\x00", "/ünï", "/" + "a" * 300, "/chat,", "//")
EVENTS = ("echo", "echo", "echo", "message", "message", "join", "leave", "who", "typing",
          "connect", "disconnect", "error", "connect_error", "newListener", "removeListener",
          "", "x" * 1000, "é\n", "__proto__", "constructor")


def text(rng: random.Random, most: int = 12) -> str:
    pool = rng.choice(TEXT_POOLS)
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, most)))


def number(rng: random.Random) -> str:
    return rng.choice((
        str(rng.randint(0, 100)), str(rng.randint(-2**63, 2**64)), "9" * rng.randint(19, 400),
        "-0", "1e400", "-1e-400", "0.5", "1E+2", "NaN", "Infinity", "01", "0x10", "1_000"))


def json_text(rng: random.Random, depth: int = 0) -> str:
    """JSON text, now and then not quite JSON (NaN, lone surrogates, trailing commas)."""
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice((
            lambda: number(rng), lambda: json.dumps(text(rng)),
            lambda: json.dumps(text(rng), ensure_ascii=False),
            lambda: rng.choice(("true", "false", "null", '"\\ud800"', '"\\u0000"', '""')),
            lambda: '{"_placeholder":true,"num":' + number(rng) + "}",
            lambda: '{"$binary":' + rng.choice(('"AAEC"', '"!!"', "1", '"AAAAA"', "null")) + "}",
        ))()
    if r < 0.52:
        return deep(rng)
    items = [json_text(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.8:
        return "[" + ",".join(items) + ("," if rng.random() < 0.05 else "") + "]"
    keys = [json.dumps(rng.choice(("a", "data", "__proto__", "_placeholder", "num", text(rng, 4))))
            for _ in items]
    return "{" + ",".join(f"{k}:{v}" for k, v in zip(keys, items, strict=True)) + "}"


def deep(rng: random.Random) -> str:
    """Nesting from just past any sane limit to a few thousand levels, balanced or not."""
    n = rng.choice((65, 70, 200, 1000, 1025, 3000, 5000))
    if rng.random() < 0.5:
        opener, core, closer = "[", "1", "]"
    else:
        opener, core, closer = '{"a":', "1", "}"
    return opener * n + core + (closer * n if rng.random() < 0.8 else "")


def mutate(rng: random.Random, data: str) -> str:
    """One textual mutation: truncate, splice in specials, cut, repeat or renumber."""
    i = rng.randint(0, len(data))
    op = rng.randrange(6)
    if op == 0:
        return data[:i]
    if op == 1:
        return data[:i] + rng.choice(('"', "[", "]", "{", "}", ",", "\\", "\x1e", "\x00", "\n",
                                      "-", "/", text(rng, 3))) + data[i:]
    if op == 2:
        return data[:i] + data[i + rng.randint(1, 8):]
    if op == 3:
        return data[:i] + data[i:i + 20] * rng.randint(2, 50) + data[i + 20:]
    if op == 4:
        return data[:i] + number(rng) + data[i:]
    return data[:i] + "\ud800" + data[i:]  # a lone surrogate: invalid UTF-8 on the wire


def namespace_part(rng: random.Random, home: str = "") -> str:
    """``<namespace>,`` of a packet: mostly the one the case connected to (``home``)."""
    if rng.random() < 0.6:
        return home
    ns = rng.choice(NAMESPACES)
    if ns in ("", "/") and rng.random() < 0.8:
        return ""
    return ns + ("," if rng.random() < 0.95 else "")


def event_array(rng: random.Random, placeholders: int = 0) -> str:
    first = json.dumps(rng.choice(EVENTS)) if rng.random() < 0.9 else json_text(rng)
    args = [json_text(rng) for _ in range(rng.randint(0, 3))]
    for n in range(placeholders):
        args.insert(rng.randint(0, len(args)), f'{{"_placeholder":true,"num":{n}}}')
    return "[" + ",".join([first, *args]) + "]"


def auth_text(rng: random.Random) -> str:
    return rng.choice((
        lambda: '{"nickname":"x"}', lambda: '{"nickname":"x","room":"lobby"}',
        lambda: json.dumps({"nickname": text(rng, 40), "room": text(rng, 40)}),
        lambda: f'{{"nickname":{json_text(rng)},"room":{json_text(rng)}}}',
        lambda: json_text(rng), lambda: "",
    ))()


def socketio_packet(rng: random.Random, home: str = "") -> tuple[str, list[bytes]]:
    """A Socket.IO packet's text and the binary attachments that follow it."""
    kind = rng.choices("0123456x", weights=(18, 4, 45, 6, 2, 8, 3, 4))[0]
    ns = namespace_part(rng, home)
    ack = rng.choice(("", "", "", "1", "17", str(2**53), "9" * rng.randint(19, 60), "-1"))
    if kind == "0":
        return "0" + ns + (auth_text(rng) if rng.random() < 0.5 else ""), []
    if kind in "14":
        return kind + ns + (json_text(rng) if rng.random() < 0.3 else ""), []
    if kind == "2":
        return "2" + ns + ack + event_array(rng), []
    if kind == "3":
        args = ",".join(json_text(rng) for _ in range(rng.randint(0, 2)))
        return "3" + ns + (ack or "1") + "[" + args + "]", []
    if kind in "56":
        count = rng.choice((0, 1, 1, 2, 3, 11, 1000))
        declared = count if rng.random() < 0.8 else rng.choice((0, count + 1, 2**40))
        blobs = [rng.randbytes(rng.randint(0, 32)) for _ in range(min(count, 12))]
        body = event_array(rng, min(count, 12)) if kind == "5" else "[" + json_text(rng) + "]"
        return f"{kind}{declared}-{ns}{ack or ('1' if kind == '6' else '')}{body}", blobs
    return rng.choice(("7", "9", "a", "", "-", "2[", " 2[]")) + ns + json_text(rng), []


def msgpack_packet(rng: random.Random) -> bytes:
    """A socket.io-msgpack-parser packet (a binary frame), now and then shaped wrong."""
    obj: dict[str, Any] = {"type": rng.choice((0, 1, 2, 2, 3, 5, 9, -1, "2", None)),
                           "nsp": rng.choice(("/", "/chat", "/nope", 7, None, "/x\n"))}
    if rng.random() < 0.8:
        obj["data"] = rng.choice((["echo", 1], ["message", b"\x00\x01"], {"nickname": "m"},
                                  "echo", [], [None], [[[[]]]]))
    if rng.random() < 0.3:
        obj["id"] = rng.choice((1, -1, 2**63, "1", None))
    raw = msgpack.packb(obj)
    return raw if rng.random() < 0.7 else flip(rng, raw)


def flip(rng: random.Random, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


@dataclass(frozen=True)
class WsFrame:
    """One client frame: opcode, payload, FIN and the RSV bits, sent as is."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0


TEXT, BINARY, CLOSE_OP, PING_OP, PONG_OP = 1, 2, 8, 9, 10


def text_frame(data: str) -> WsFrame:
    return WsFrame(TEXT, data.encode("utf-8", "surrogatepass"))


def odd_framing(rng: random.Random) -> list[WsFrame]:
    """WebSocket-level oddities (RFC 6455 violations and edge cases)."""
    return rng.choice((
        lambda: [WsFrame(PING_OP, rng.randbytes(rng.randint(0, 125)))],
        lambda: [WsFrame(PONG_OP, b"unsolicited")],
        lambda: [WsFrame(PING_OP, b"x" * 126)],  # a control frame over 125 bytes
        lambda: [WsFrame(TEXT, b"42[\"ec", fin=False), WsFrame(0, b"ho\",1]")],  # fragmented
        lambda: [WsFrame(TEXT, b"42", fin=False), WsFrame(PING_OP, b"p"), WsFrame(0, b"[\"echo\"]")],
        lambda: [WsFrame(0, b"stray continuation")],
        lambda: [WsFrame(TEXT, b"4", fin=False), WsFrame(TEXT, b"2")],  # new message mid-fragment
        lambda: [WsFrame(rng.choice((3, 7, 11, 15)), b"reserved opcode")],
        lambda: [WsFrame(TEXT, b"42[\"echo\"]", rsv=rng.choice((1, 2, 4)))],
        lambda: [WsFrame(TEXT, rng.choice((b"\x00\x00\xff\xff", b"\xff" * 20, rng.randbytes(30))), rsv=4)],
        lambda: [WsFrame(TEXT, zlib.compress(b"42[\"echo\",1]")[2:-4], rsv=4)],  # deflated, if negotiated
        lambda: [WsFrame(TEXT, b"\xff\xfe invalid utf-8")],
        lambda: [WsFrame(CLOSE_OP, b"\x03")],  # a one-byte close payload
        lambda: [WsFrame(CLOSE_OP, struct.pack("!H", rng.choice((0, 999, 1004, 1005, 2000, 5000))))],
        lambda: [WsFrame(CLOSE_OP, b"\x03\xe8\xff\xfe")],  # close reason not UTF-8
        lambda: [WsFrame(BINARY, b"", fin=False) for _ in range(20)] + [WsFrame(0, b"end")],
    ))()


def engine_frames(rng: random.Random, home: str = "") -> list[WsFrame]:
    """One Engine.IO frame (plus attachments) as a WebSocket client sends it."""
    r = rng.random()
    if r < 0.05:
        return odd_framing(rng)
    if r < 0.10:
        return [WsFrame(BINARY, rng.randbytes(rng.randint(0, 64)))]
    if r < 0.14:
        return [WsFrame(BINARY, msgpack_packet(rng))]
    if r < 0.24:
        data = rng.choice(("2", "3", "2probe", "3probe", "5", "6", "1", "0", "0{}", "7", "", "4", " 4"))
        return [text_frame(data)]
    if r < 0.245:
        return [text_frame("42" + '["echo","' + "x" * rng.choice((70_000, 999_000, 1_000_100)) + '"]')]
    packet, blobs = socketio_packet(rng, home)
    data = "4" + packet
    if rng.random() < 0.25:
        data = mutate(rng, data)
    frame = text_frame(data)
    if rng.random() < 0.04:
        frame = WsFrame(TEXT, flip(rng, frame.payload))
    return [frame, *(WsFrame(BINARY, blob) for blob in blobs)]


def polling_records(rng: random.Random, home: str = "") -> str:
    """A polling POST body: records joined by the record separator, some mutated."""
    records = []
    for _ in range(rng.randint(1, 5)):
        r = rng.random()
        if r < 0.1:
            records.append("b" + base64.b64encode(msgpack_packet(rng)).decode())
        elif r < 0.14:
            records.append("b" + rng.choice(("!!!", "AAE", "", "A===", text(rng, 6))))
        elif r < 0.24:
            records.append(rng.choice(("2", "3", "2probe", "5", "6", "1", "", "0", "x")))
        else:
            packet, blobs = socketio_packet(rng, home)
            records.append("4" + packet)  # attachments follow as binary records
            records.extend("b" + base64.b64encode(blob).decode() for blob in blobs)
    body = "\x1e".join(records)
    if rng.random() < 0.25:
        body = mutate(rng, body)
    return body


BRIDGE_PATHS = ("/", "/", "/chat?nickname=a&room=lobby", "/chat?nickname=b", "/chat",
                "/chat?nickname=&room=", "/nope", "/chat?nickname=%0aINFO%20forged&room=%00",
                "/chat?nickname=a&nickname=b&room=r", "/x\nINFO", "/%2e%2e/", "/chat?" + "a=1&" * 400,
                "/chat?nickname=" + "ü" * 300, "/?q=%ff%fe", "/chat/", "//chat")


def envelope(rng: random.Random) -> str:
    """A bridge envelope: valid-looking events and acks, or almost."""
    r = rng.random()
    if r < 0.5:
        parts = ['"event":' + (json.dumps(rng.choice(EVENTS)) if rng.random() < 0.85 else json_text(rng))]
        if rng.random() < 0.85:
            parts.append('"data":' + json_text(rng))
        if rng.random() < 0.5:
            parts.append('"id":' + rng.choice((str(rng.randint(0, 99)), number(rng), '"1"', "true")))
        if rng.random() < 0.08:
            parts.append(rng.choice(('"extra":1', '"ack":1', '"event":"echo"')))
    elif r < 0.7:
        parts = ['"ack":' + rng.choice(("0", "1", number(rng), "null", '"x"')), '"data":' + json_text(rng)]
    elif r < 0.8:
        encoded = rng.choice(('"AAEC"', '"!!"', "1", "null", '"A"', '{"$binary":"AA=="}', '""'))
        parts = ['"event":"echo"', '"data":[{"$binary":' + encoded + "}]"]
    else:
        parts = [f"{json.dumps(text(rng, 4))}:{json_text(rng)}" for _ in range(rng.randint(0, 3))]
    rng.shuffle(parts)
    return "{" + ",".join(parts) + "}"


def bridge_frames(rng: random.Random) -> list[WsFrame]:
    r = rng.random()
    if r < 0.05:
        return odd_framing(rng)
    if r < 0.12:
        return [WsFrame(BINARY, rng.randbytes(rng.randint(0, 64)))]
    if r < 0.2:
        return [text_frame(rng.choice((text(rng, 30), "{not json", "[1,2]", "null", "", " {", deep(rng))))]
    if r < 0.205:
        return [text_frame('{"event":"echo","data":"' + "x" * rng.choice((70_000, 1_000_100)) + '"}')]
    data = envelope(rng)
    if rng.random() < 0.2:
        data = mutate(rng, data)
    return [text_frame(data)]


HANDLED = ("echo", "echo", "message", "message", "join", "leave", "who", "typing", "nope")


def value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON-able value: what a well-formed client may still send a handler."""
    r = rng.random()
    if depth > 3 or r < 0.55:
        return rng.choice((
            lambda: rng.randint(-5, 100), lambda: 2**rng.choice((53, 63, 64, 200)),
            lambda: rng.random() * 1e300,
            lambda: text(rng), lambda: text(rng, 2000), lambda: rng.choice((True, False, None)),
            lambda: "lobby", lambda: {"room": rng.choice(("lobby", text(rng), 5, None)), "text": text(rng)},
            lambda: {"_placeholder": True, "num": rng.randint(0, 3)}, lambda: {"$binary": "AAEC"},
        ))()
    if r < 0.6:
        nested: Any = value(rng, 4)
        for _ in range(rng.randint(40, 60)):  # deep, but under the default --max-json-depth
            nested = [nested]
        return nested
    items = [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.8:
        return items
    return {text(rng, 6): item for item in items}


def clean_engine_frames(rng: random.Random, home: str) -> list[WsFrame]:
    """Well-formed Socket.IO packets for the connected namespace: odd arguments, arities,
    acks and binary events, nothing the parser refuses."""
    args = [value(rng) for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3)))]
    ack = rng.choice(("", "", str(rng.randint(0, 1000)), str(2**63)))
    r = rng.random()
    if r < 0.12:
        blobs = [rng.randbytes(rng.randint(0, 16)) for _ in range(rng.randint(1, 3))]
        holders = [{"_placeholder": True, "num": n} for n in range(len(blobs))]
        body = json.dumps([rng.choice(HANDLED), *args, *holders])
        return [text_frame(f"45{len(blobs)}-{home}{ack}{body}"), *(WsFrame(BINARY, b) for b in blobs)]
    if r < 0.2:
        return [text_frame(f"43{home}{rng.randint(0, 50)}{json.dumps(args)}")]  # an ack nobody asked for
    if r < 0.23:
        return [text_frame(rng.choice(("3", "6")))]
    if r < 0.3:  # the other built-in namespace on the same connection: in, out, in again
        other = "/chat," if not home else ""
        auth = '{"nickname":"y","room":"lobby"}' if other else ""
        return [text_frame(rng.choice((f"40{other}{auth}", f"41{other}", f"40{other}{auth}")))]
    body = json.dumps([rng.choice(HANDLED), *args], ensure_ascii=rng.random() < 0.5)
    return [text_frame(f"42{home}{ack}{body}")]


def clean_envelope(rng: random.Random) -> WsFrame:
    """A well-formed bridge envelope (or plain text / bytes, which are `message`)."""
    r = rng.random()
    if r < 0.1:
        return WsFrame(BINARY, rng.randbytes(rng.randint(0, 16)))
    if r < 0.2:
        return text_frame(text(rng, 40))
    if r < 0.3:
        return text_frame(json.dumps({"ack": rng.randint(0, 50), "data": [value(rng)]}))
    obj: dict[str, Any] = {"event": rng.choice(HANDLED)}
    if rng.random() < 0.8:
        obj["data"] = [value(rng) for _ in range(rng.randint(0, 3))] if rng.random() < 0.7 else value(rng)
    if rng.random() < 0.5:
        obj["id"] = rng.choice((rng.randint(0, 1000), 2**63, 2**70))
    return text_frame(json.dumps(obj, ensure_ascii=rng.random() < 0.5))


BARRIER_ID = 987654321  # the ack id of the last event of a case: its answer means all ran


def engine_barrier(home: str) -> tuple[WsFrame, bytes]:
    event = '["who","lobby"]' if home else '["echo"]'
    return text_frame(f"42{home}{BARRIER_ID}{event}"), f"43{home}{BARRIER_ID}[".encode()


def bridge_barrier(target: str) -> tuple[WsFrame, bytes]:
    chat = target.split("?")[0] == "/chat"
    event = {"event": "who", "data": ["lobby"]} if chat else {"event": "echo"}
    return text_frame(json.dumps({**event, "id": BARRIER_ID})), b'{"ack":%d,' % BARRIER_ID


def upgrade_frames(rng: random.Random, home: str) -> list[WsFrame]:
    """What a polling client sends on the WebSocket it upgrades to: the probe and the
    upgrade packet (Engine.IO v4 "Upgrade"), in order or not, then a packet or two."""
    steps = rng.choice((["2probe", "5"], ["2probe", "5"], ["2probe"], ["5"], ["5", "2probe"],
                        ["2probe", "2probe", "5"], ["2xprobe", "5"], ["3probe", "5"], ["2probe", "6", "5"],
                        ["2probe", "4" + socketio_packet(rng, home)[0]], []))
    frames = [text_frame(step) for step in steps]
    for _ in range(rng.randint(0, 3)):
        frames.extend(clean_engine_frames(rng, home) if rng.random() < 0.5 else engine_frames(rng, home))
    return frames


@dataclass
class Case:
    """One generated case: where it connects and what it sends."""

    path: str
    index: int
    target: str  # request path and query
    frames: list[WsFrame] = field(default_factory=list)  # WebSocket paths
    requests: list[dict[str, Any]] = field(default_factory=list)  # polling
    headers: dict[str, str] = field(default_factory=dict)
    ending: str = "close"  # close: closing handshake; drop: the TCP connection just ends
    # sent before a closing handshake; the answer starting with the marker shows that the
    # server handled every frame before it (a client's events run in order)
    barrier: WsFrame | None = None
    marker: bytes = b""
    # well-formed frames only: the barrier must be answered or the connection closed (a
    # frame mutated into DISCONNECT may leave the barrier's namespace, which is then ignored)
    clean: bool = False

    @property
    def name(self) -> str:
        return f"{self.path}:{self.index}"


def origin_header(rng: random.Random) -> dict[str, str]:
    if rng.random() < 0.95:
        return {}
    return {"Origin": rng.choice(("null", "http://evil.example", "http://127.0.0.1", "\x7f", "http://[::1"))}


_HEAD_CONTROL = re.compile("[\x00-\x20\x7f]")
_NOT_URL = re.compile("[^\x21-\x7e]")


def tame(case: Case) -> Case:
    """``case`` with requests HTTP parsers accept: the target's controls and non-ASCII
    percent-encoded (the namespace still gets them), no controls in header values, no
    Content-Length shorter than the body (the rest would be a second, garbage request)."""
    case.target = _NOT_URL.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode(
        "utf-8", "surrogatepass")), case.target)
    case.headers = {k: v for k, v in case.headers.items() if not _HEAD_CONTROL.search(v)}
    for request in case.requests:
        request["short_length"] = False
    return case


def generate(seed: int, path: str, index: int, *, http_garbage: bool = True) -> Case:
    """Case ``index`` of ``path`` for ``seed``: the same every time. ``http_garbage=False``
    keeps every request head parseable (see ``tame``)."""
    if not http_garbage:
        return tame(generate(seed, path, index))
    rng = random.Random(f"{seed}:{path}:{index}")
    ending = "drop" if rng.random() < 0.15 else "close"
    if path == "engine":
        target = "/socket.io/?EIO=4&transport=websocket"
        if rng.random() < 0.05:
            target = "/socket.io/?" + rng.choice((
                "EIO=3&transport=websocket", "transport=websocket", "EIO=4&transport=websocket&sid=nope",
                "EIO=4&transport=polling", "EIO=4&transport=websocket\n"))
        frames: list[WsFrame] = []
        home = ""
        if rng.random() < 0.6:  # most cases connect first, so events reach handlers
            home = rng.choice(("", "", "/chat,"))
            frames.append(text_frame("40" + (home + '{"nickname":"x","room":"lobby"}' if home else "")))
        clean = rng.random() < 0.4
        for _ in range(rng.randint(1, 6)):
            frames.extend(clean_engine_frames(rng, home) if clean else engine_frames(rng, home))
        barrier, marker = engine_barrier(home)
        return Case(path, index, target, frames=frames, headers=origin_header(rng), ending=ending,
                    barrier=barrier, marker=marker, clean=clean)
    if path == "bridge":
        target = rng.choice(BRIDGE_PATHS) if rng.random() < 0.9 else "/" + text(rng, 20)
        clean = rng.random() < 0.4
        frames = []
        for _ in range(rng.randint(1, 6)):
            frames.extend([clean_envelope(rng)] if clean else bridge_frames(rng))
        barrier, marker = bridge_barrier(target)
        return Case(path, index, target, frames=frames, headers=origin_header(rng), ending=ending,
                    barrier=barrier, marker=marker, clean=clean)
    if path != "polling":
        raise ValueError(f"unknown path {path!r}")
    requests: list[dict[str, Any]] = []
    home = ""
    if rng.random() < 0.6:
        home = rng.choice(("", "/chat,"))
        requests.append({"method": "POST", "sid": "valid", "type": "text/plain;charset=UTF-8",
                         "body": "40" + (home and home + '{"nickname":"p"}')})
    for _ in range(rng.randint(1, 5)):
        r = rng.random()
        sid = rng.choices(("valid", "bogus", "missing", "odd"), weights=(85, 6, 5, 4))[0]
        if r < 0.7:
            body = polling_records(rng, home)
            ctype = rng.choices(("text/plain;charset=UTF-8", "application/octet-stream", "",
                                 "text/plain; charset=latin-1", "multipart/form-data; boundary=x"),
                                weights=(85, 6, 4, 3, 2))[0]
            raw = body.encode("utf-8", "surrogatepass")
            if rng.random() < 0.04:
                raw = flip(rng, raw) + b"\xff"
            if rng.random() < 0.003:
                raw = b"4" + b"x" * 1_000_100  # over maxPayload
            requests.append({"method": "POST", "sid": sid, "raw": raw, "type": ctype,
                             "short_length": rng.random() < 0.02})
        elif r < 0.8:
            requests.append({"method": "GET", "sid": sid})
        elif r < 0.9:
            requests.append({"method": "UPGRADE", "sid": sid, "frames": upgrade_frames(rng, home),
                             "ending": "drop" if rng.random() < 0.2 else "close"})
        else:
            requests.append({"method": rng.choice(("PUT", "DELETE", "OPTIONS", "PATCH")), "sid": sid})
        if rng.random() < 0.08:
            requests[-1]["query"] = rng.choice(("EIO=3", "EIO=", "transport=websocket", "transport=flash",
                                                "j=0", "b64=1", "t=%0a%0d", "sid=%00", "EIO=4&EIO=5"))
    return Case(path, index, "/socket.io/?EIO=4&transport=polling", requests=requests,
                headers=origin_header(rng), ending="drop" if rng.random() < 0.05 else "close")


# --- wire: a raw WebSocket and HTTP/1.1 client ------------------------------------------


def encode_frame(frame: WsFrame, mask: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2), exactly as described, valid or not."""
    first = (0x80 if frame.fin else 0) | (frame.rsv & 7) << 4 | (frame.opcode & 0xF)
    size = len(frame.payload)
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    body = (int.from_bytes(frame.payload, "big") ^ key).to_bytes(size, "big") if size else b""
    return head + mask + body


async def read_frame(reader: asyncio.StreamReader, inflater: Any = None) -> tuple[int, bytes]:
    """One server frame (unmasked): its opcode and payload, inflated when RSV1 says it is
    compressed (permessage-deflate, RFC 7692) and ``inflater`` is given."""
    b0, b1 = await reader.readexactly(2)
    size = b1 & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    if b1 & 0x80:
        await reader.readexactly(4)
    payload = await reader.readexactly(size)
    if b0 & 0x40 and inflater is not None:
        payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
    return b0 & 0x0F, payload


def request_head(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass")


class Stats:
    """What the driver saw from outside the server."""

    def __init__(self) -> None:
        self.cases = Counter[str]()
        self.frames = 0
        self.requests = 0
        self.outcomes = Counter[str]()  # e.g. "engine closed 1007", "polling 400"
        self.findings: list[str] = []
        self.in_flight: set[str] = set()

    def finding(self, case: Case, what: str) -> None:
        self.findings.append(f"{case.name}: {what}")


async def run_ws_case(host: str, port: int, case: Case, stats: Stats) -> None:
    rng = random.Random(case.name)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(rng.randbytes(16)).decode(), **case.headers}
        if rng.random() < 0.3:  # taken up under --websocket-compression: RSV1 frames are inflated
            headers["Sec-WebSocket-Extensions"] = rng.choice((
                "permessage-deflate", "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=8", "permessage-deflate; x=1"))
        writer.write(request_head("GET", case.target, f"{host}:{port}", headers))
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE * UNIT)
        except (asyncio.IncompleteReadError, ConnectionError):
            stats.outcomes[f"{case.path} no response"] += 1
            return
        status = (head.split(b" ", 2) + [b"", b""])[1].decode(errors="replace")
        if status != "101":
            stats.outcomes[f"{case.path} {status}"] += 1
            return
        # the server's context persists across messages unless it said no_context_takeover
        inflater = zlib.decompressobj(-zlib.MAX_WBITS) if b"permessage-deflate" in head.lower() else None
        frames: list[tuple[int, bytes]] = []
        lost = False  # the stream ended: nothing more can be written
        first = asyncio.Event()
        passed = asyncio.Event()  # the barrier's answer came
        closing = asyncio.Event()  # the server sent its close frame, or the stream ended
        settled = asyncio.Event()  # either of the two

        async def drain() -> None:
            nonlocal lost
            try:
                while True:
                    frames.append(await read_frame(reader, inflater))
                    first.set()
                    if case.marker and frames[-1][1].startswith(case.marker):
                        passed.set()
                        settled.set()
                    if frames[-1][0] == CLOSE_OP:
                        closing.set()
                        settled.set()
            except (asyncio.IncompleteReadError, ConnectionError, zlib.error):
                pass
            lost = True
            first.set()
            closing.set()
            settled.set()

        async def until(event: asyncio.Event, timeout: float = DEADLINE) -> bool:
            try:
                await asyncio.wait_for(event.wait(), timeout * UNIT)
                return True
            except TimeoutError:
                return False

        async def send(frame: WsFrame) -> None:
            wire = encode_frame(frame, rng.randbytes(4))
            if rng.random() < 0.1 and len(wire) < 4096:  # in pieces: the parser sees partial frames
                for i in range(0, len(wire), step := rng.choice((1, 2, 3, 7, 100))):
                    if lost or writer.transport.is_closing():
                        return
                    writer.write(wire[i:i + step])
                    await writer.drain()
                    await asyncio.sleep(0)
            elif not (lost or writer.transport.is_closing()):
                writer.write(wire)
            await writer.drain()

        reading = asyncio.ensure_future(drain())
        try:
            if case.path == "engine" and not await until(first):
                stats.finding(case, "no open packet")
                return
            for frame in case.frames:
                if closing.is_set():
                    break
                await send(frame)
                stats.frames += 1
            if case.ending == "close":
                if case.barrier is not None and not closing.is_set():
                    await send(case.barrier)
                    if not await until(settled, DEADLINE if case.clean else 0.5):
                        if case.clean:
                            stats.finding(case, f"connection open but no answer to the last event "
                                                f"within {DEADLINE * UNIT:g} s")
                    stats.outcomes[f"{case.path} barrier " + (
                        "passed" if passed.is_set() else "closed" if closing.is_set() else "silent")] += 1
                # our close, or the reply the server's close frame waits for (RFC 6455 5.5.1)
                if not reading.done():
                    await send(WsFrame(CLOSE_OP, struct.pack("!H", 1000)))
                if not await until_done(reading):
                    stats.finding(case, f"the server kept the connection {DEADLINE * UNIT:g} s "
                                        "after the closing handshake")
        except ConnectionError:
            pass
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        close = next((f for f in frames if f[0] == CLOSE_OP), None)
        code = struct.unpack("!H", close[1][:2])[0] if close and len(close[1]) >= 2 else None
        stats.outcomes[f"{case.path} closed {code}" if close else f"{case.path} open"] += 1
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def until_done(task: asyncio.Future[Any]) -> bool:
    """Whether ``task`` finishes within the deadline; it is cancelled if not."""
    try:
        await asyncio.wait_for(asyncio.shield(task), DEADLINE * UNIT)
        return True
    except TimeoutError:
        task.cancel()
        return False


async def http(host: str, port: int, method: str, target: str, headers: dict[str, str],
               body: bytes = b"", timeout: float = DEADLINE) -> tuple[str, bytes] | None:
    """One request on its own connection; (status, body), or None on timeout."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = request_head(method, target, f"{host}:{port}", {"Connection": "close", **headers})
        writer.write(head + body)
        try:
            raw = await asyncio.wait_for(reader.read(-1), timeout * UNIT)
        except TimeoutError:
            return None
        except ConnectionError:
            return "reset", b""
        head, _, payload = raw.partition(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        return (parts[1].decode(errors="replace") if len(parts) > 1 else "none"), payload
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def run_polling_case(host: str, port: int, case: Case, stats: Stats) -> None:
    answer = await http(host, port, "GET", case.target, case.headers)
    stats.requests += 1
    if answer is None:
        stats.finding(case, "handshake got no answer")
        return
    status, body = answer
    match = re.search(rb'"sid":"([^"]+)"', body)
    if status != "200" or match is None:
        stats.outcomes[f"polling handshake {status}"] += 1
        return
    sid = match.group(1).decode()
    polls: list[asyncio.Task[Any]] = []
    for req in case.requests:
        given = {"valid": sid, "bogus": "AAAAAAAAAAAAAAAAAAAA", "odd": sid + "%0a"}.get(req["sid"])
        target = case.target + (f"&sid={given}" if given else "")
        target += "&" + req["query"] if "query" in req else ""
        headers = dict(case.headers)
        if req["method"] == "UPGRADE":
            ws_target = target.replace("transport=polling", "transport=websocket")
            upgrade = Case("polling", case.index, ws_target, frames=req["frames"], headers=case.headers,
                           ending=req["ending"])
            await run_ws_case(host, port, upgrade, stats)
            continue
        if req["method"] == "GET":
            # a long poll waits for a packet: in the background, abandoned after a while
            polls.append(asyncio.ensure_future(http(host, port, "GET", target, headers, timeout=0.5)))
            stats.requests += 1
            continue
        raw = req.get("raw", req.get("body", "").encode())
        if req.get("type"):
            headers["Content-Type"] = req["type"]
        headers["Content-Length"] = str(max(0, len(raw) - 3) if req.get("short_length") else len(raw))
        answer = await http(host, port, req["method"], target, headers, raw)
        stats.requests += 1
        stats.frames += raw.count(b"\x1e") + 1 if raw else 0
        if answer is None:
            stats.finding(case, f"{req['method']} got no answer within {DEADLINE * UNIT:g} s")
            break
        stats.outcomes[f"polling {req['method']} {answer[0]}"] += 1
    if case.ending == "close":
        # close the session (a no-op if the server closed it), which ends any pending poll
        await http(host, port, "POST", f"{case.target}&sid={sid}",
                   {"Content-Type": "text/plain;charset=UTF-8", "Content-Length": "1"}, b"1")
    for result in await asyncio.gather(*polls, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, ConnectionError):
            raise result


async def run_case(host: str, port: int, case: Case, stats: Stats) -> None:
    stats.in_flight.add(case.name)
    try:
        if case.path == "polling":
            await run_polling_case(host, port, case, stats)
        else:
            await run_ws_case(host, port, case, stats)
        stats.cases[case.path] += 1
    except ConnectionError as exc:
        stats.outcomes[f"{case.path} {type(exc).__name__}"] += 1
        stats.cases[case.path] += 1
    finally:
        stats.in_flight.discard(case.name)


# --- health: two clients that must keep answering ------------------------------------------


class Health:
    """A socketio.AsyncClient on ``/`` and a bridge client, each calling ``echo`` every
    ``every`` seconds; every answer must come within ``deadline`` (x UNIT)."""

    def __init__(self, url: str, every: float = 0.1, deadline: float = 1.0) -> None:
        self.url = url
        self.every = every
        self.deadline = deadline * UNIT
        self.latencies: dict[str, list[float]] = {"socketio": [], "bridge": []}
        self.misses: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def start(self) -> None:
        import aiohttp
        import socketio

        self.sio = socketio.AsyncClient(reconnection=False)
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=5 * UNIT)
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(self.url + "/")
        self._tasks = [asyncio.ensure_future(self._loop("socketio", self._sio_echo)),
                       asyncio.ensure_future(self._loop("bridge", self._bridge_echo))]

    async def _sio_echo(self, n: int) -> bool:
        return await self.sio.call("echo", n, timeout=self.deadline) == n

    async def _bridge_echo(self, n: int) -> bool:
        await self.ws.send_str(json.dumps({"event": "echo", "data": [n], "id": n}))
        while True:
            msg = await self.ws.receive(timeout=self.deadline)
            if msg.type.name != "TEXT":
                return False
            reply = json.loads(msg.data)
            if reply.get("ack") == n:
                return reply.get("data") == [n]

    async def check(self, kind: str, n: int) -> None:
        call = self._sio_echo if kind == "socketio" else self._bridge_echo
        started = time.monotonic()
        try:
            ok = await asyncio.wait_for(call(n), self.deadline)
        except Exception as exc:  # noqa: BLE001 - any failure is a miss, named
            ok = False
            why = f"{type(exc).__name__} {exc}"
        else:
            why = "wrong answer"
        took = time.monotonic() - started
        self.latencies[kind].append(took)
        if not ok or took > self.deadline:
            self.misses.append(f"{kind} echo #{n}: {why if not ok else f'{took:.3f} s'}")

    async def _loop(self, kind: str, call: Callable[[int], Any]) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            await self.check(kind, n)
            if self.misses and not (kind == "socketio" and self.sio.connected):
                return  # a dead client misses every call; the first miss says it
            try:
                await asyncio.wait_for(self._stop.wait(), self.every)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Stop the loops, then one last call each (the "at the end" check)."""
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.check("socketio", 10**6)
        await self.check("bridge", 10**6)
        await self.sio.disconnect()
        await self.ws.close()
        await self.http.close()

    def summary(self) -> str:
        parts = []
        for kind, values in self.latencies.items():
            if values:
                parts.append(f"{kind} {len(values)} calls, max {max(values) * 1000:.0f} ms")
        return "; ".join(parts) + (f"; {len(self.misses)} MISSED" if self.misses else "")


# --- driver ------------------------------------------------------------------------------


async def fuzz(url: str, seed: int, cases: int, *, paths: tuple[str, ...] = PATHS,
               concurrency: int = 8, http_garbage: bool = True, stats: Stats | None = None) -> Stats:
    """Run ``cases`` cases per path of ``paths`` for ``seed`` against ``url``, interleaved,
    ``concurrency`` at a time."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stats = stats or Stats()
    queue = [(path, i) for i in range(cases) for path in paths]
    queue.reverse()

    async def worker() -> None:
        while queue:
            path, i = queue.pop()
            await run_case(host, port, generate(seed, path, i, http_garbage=http_garbage), stats)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


class ServerProcess:
    """``python -m openline run --port 0`` as a child, its output kept and scanned."""

    def __init__(self, args: list[str], on_traceback: Callable[[], None]) -> None:
        self.args = args
        self.on_traceback = on_traceback
        self.lines: list[str] = []
        self.bytes = 0
        self.tracebacks: list[list[str]] = []

    async def start(self) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0",
            "--log-level", "info", *self.args, cwd=str(ROOT), env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, limit=1 << 22)
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), 20 * UNIT)
            if not raw:
                raise RuntimeError(f"openline run exited first: {self.lines[-20:]}")
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            match = re.search(r"openline listening on (http://\S+)", line)
            if match:
                self._reading = asyncio.ensure_future(self._read())
                return match.group(1)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        current: list[str] | None = None
        previous = ""
        while raw := await self.proc.stdout.readline():
            self.bytes += len(raw)
            line = raw.decode(errors="replace").rstrip("\n")
            if len(self.lines) < 10_000:
                self.lines.append(line)
            if "Traceback (most recent call last)" in line:
                current = [previous, line]
                self.tracebacks.append(current)
                self.on_traceback()
            elif re.match(r"20\d\d-", line):
                current = None  # the next record: the traceback has ended
            elif current is not None and len(current) < 60:
                current.append(line)
            previous = line

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    async def stop(self) -> int | None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10 * UNIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._reading
        return self.proc.returncode


async def main_async(args: argparse.Namespace) -> int:
    stats = Stats()
    suspects: list[set[str]] = []
    server = None
    url = args.url
    if url is None:
        server = ServerProcess(args.server_arg or [], lambda: suspects.append(set(stats.in_flight)))
        url = await server.start()
    if args.replay:
        path, _, index = args.replay.partition(":")
        case = generate(args.seed, path, int(index), http_garbage=not args.tame)
        print(case)
        host, port = urlsplit(url).hostname or "", urlsplit(url).port or 80
        await run_case(host, port, case, stats)
        print(dict(stats.outcomes))
        if server:
            await asyncio.sleep(0.2)  # what the server logged for it
            print("\n".join(server.lines[-200:]))
    else:
        health = Health(url)
        await health.start()
        rss_before = server.rss_kb() if server else 0
        started = time.monotonic()
        seeds = [args.seed + n for n in range(args.seeds)]
        for seed in seeds:
            per_seed = time.monotonic()
            await fuzz(url, seed, args.cases // len(PATHS), concurrency=args.concurrency,
                       http_garbage=not args.tame, stats=stats)
            rss = f", server RSS {server.rss_kb() / 1024:.1f} MB" if server else ""
            print(f"seed {seed}: {sum(stats.cases.values())} cases so far, "
                  f"{time.monotonic() - per_seed:.1f} s{rss}", flush=True)
            if server and server.proc.returncode is not None:
                break
        elapsed = time.monotonic() - started
        await health.stop()
        total = sum(stats.cases.values())
        print(f"\n{total} cases ({dict(stats.cases)}), {stats.frames} frames/records, "
              f"{stats.requests} HTTP requests in {elapsed:.1f} s: {total / elapsed:.0f} cases/s")
        print("health:", health.summary())
        print("outcomes:", ", ".join(f"{k} x{v}" for k, v in stats.outcomes.most_common(20)))
        stats.findings += [f"health: {m}" for m in health.misses[:20]]
        if server:
            print(f"server RSS before {rss_before / 1024:.1f} MB, after {server.rss_kb() / 1024:.1f} MB; "
                  f"{server.bytes} bytes of log ({server.bytes / max(total, 1):.1f} per case)")
    if server:
        died = server.proc.returncode
        code = await server.stop()
        if died is not None:
            stats.findings.append(f"the server died with status {code}")
        kinds: dict[str, list[int]] = {}  # a traceback's last line -> which ones
        for n, tb in enumerate(server.tracebacks):
            kinds.setdefault(tb[-1], []).append(n)
        for last, which in kinds.items():
            near = sorted(suspects[which[0]]) if which[0] < len(suspects) else []
            stats.findings.append(
                f"{len(which)} traceback(s) ending {last!r} in the server's output; the first "
                f"while these cases ran (--replay one): {', '.join(near[:10]) or '?'}\n    "
                + "\n    ".join(server.tracebacks[which[0]]))
    print(f"\n{len(stats.findings)} finding(s)")
    for finding in stats.findings[:50]:
        print(" -", finding)
    return 1 if stats.findings else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000, help="cases per seed, split over the three paths")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds, from --seed on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--url", help="fuzz this running server instead of starting one")
    parser.add_argument("--replay", metavar="PATH:INDEX", help="send one case (e.g. engine:417) and print it")
    parser.add_argument("--server-arg", action="append", help="an extra `openline run` argument")
    parser.add_argument("--tame", action="store_true",
                        help="cases as tests/abuse/test_fuzz.py makes them (http_garbage=False)")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
