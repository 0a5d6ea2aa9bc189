"""Engine.IO v3 on the wire with --allow-eio3, from raw requests: the refusal without it,
the handshake, revisions kept apart, the heartbeat's direction and deadline, v3 payload
framing (text, base64 and binary), WebSocket binary frames and the upgrade."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import UNIT, ServerFactory

REFUSED = b'{"code":5,"message":"Unsupported protocol version"}'
BAD_REQUEST = b'{"code":3,"message":"Bad request"}'
UNKNOWN_SID = b'{"code":1,"message":"Session ID unknown"}'
FAST = {"ping_interval": 0.3, "ping_timeout": 0.2}  # a silent session closes after 0.5 s
LATE = 0.25 * UNIT  # how late a loaded test box may see it, as tests/protocol/test_heartbeat.py
PLACEHOLDER = '{"_placeholder":true,"num":0}'


def framed(*packets: str) -> str:
    """A v3 text payload: each packet as <UTF-16 length>:<packet>."""
    return "".join(f"{len(p.encode('utf-16-le')) // 2}:{p}" for p in packets)


def digits(n: int) -> bytes:
    return bytes(int(c) for c in str(n))


def binary_part(kind: int, data: bytes) -> bytes:
    return bytes([kind]) + digits(len(data)) + b"\xff" + data


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10 * UNIT)) as session:
        yield session


class Poller:
    """One v3 long-polling session, driven by hand."""

    def __init__(self, http: aiohttp.ClientSession, url: str, **query: str) -> None:
        self.http, self.base = http, url + "/socket.io/"
        self.query = {"EIO": "3", "transport": "polling", **query}
        self.sid = ""

    async def open(self) -> str:
        status, _, body = await self.get()
        assert status == 200
        text = body.decode()
        packet = text.partition(":")[2] if self.query["EIO"] == "3" else text
        self.sid = json.loads(packet[1:])["sid"]
        self.query["sid"] = self.sid
        return text

    async def get(self, **extra: str) -> tuple[int, str, bytes]:
        async with self.http.get(self.base, params={**self.query, **extra}) as response:
            return response.status, response.headers["Content-Type"], await response.read()

    async def post(self, body: str | bytes, binary: bool = False) -> tuple[int, bytes]:
        kind = "application/octet-stream" if binary else "text/plain;charset=UTF-8"
        async with self.http.post(self.base, params=self.query, data=body,
                                  headers={"Content-Type": kind}) as response:
            return response.status, await response.read()


def open_packet(sid: str, upgrades: list[str], interval: int = 25000, timeout: int = 20000) -> str:
    return "0" + json.dumps({"sid": sid, "upgrades": upgrades, "pingInterval": interval,
                             "pingTimeout": timeout, "maxPayload": 1000000}, separators=(",", ":"))


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_v3_is_refused_without_allow_eio3(start_server: ServerFactory, http, transport):
    """Without --allow-eio3 an EIO=3 handshake gets 400 and the reference server's body."""
    url = await start_server()
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} if transport == "websocket" else {}
    async with http.get(url + "/socket.io/", params={"EIO": "3", "transport": transport},
                        headers=headers) as response:
        assert (response.status, response.content_type, await response.read()) == \
            (400, "application/json", REFUSED)


@pytest.mark.parametrize("eio", ["2", "5", None])
async def test_other_revisions_stay_refused(start_server: ServerFactory, http, eio):
    """With --allow-eio3 only EIO=3 and EIO=4 are served (Node takes any other value as 3)."""
    url = await start_server(allow_eio3=True)
    params = {"transport": "polling", **({"EIO": eio} if eio else {})}
    async with http.get(url + "/socket.io/", params=params) as response:
        assert (response.status, await response.read()) == (400, REFUSED)


async def test_handshake_is_framed_and_root_is_joined(start_server: ServerFactory, http):
    """The open packet is v4's, framed <length>:<packet>; the next poll has "/"'s CONNECT."""
    poller = Poller(http, await start_server(allow_eio3=True, **FAST))
    opened = await poller.open()
    packet = open_packet(poller.sid, ["websocket"], 300, 200)
    assert opened == f"{len(packet)}:{packet}"
    assert await poller.get() == (200, "text/plain; charset=utf-8", b"2:40")


async def test_v4_sessions_are_unchanged_beside_v3(start_server: ServerFactory, http):
    """An EIO=4 session on the same server: an unframed open packet, no implicit CONNECT."""
    poller = Poller(http, await start_server(allow_eio3=True), EIO="4")
    opened = await poller.open()
    assert opened == open_packet(json.loads(opened[1:])["sid"], ["websocket"])
    assert await poller.post("40") == (200, b"ok")
    status, _, body = await poller.get()
    assert (status, body[:9]) == (200, b'40{"sid":')


async def test_a_session_keeps_its_revision(start_server: ServerFactory, http):
    """A v3 session's request saying EIO=4, or a v4 one's saying EIO=3, gets 400."""
    url = await start_server(allow_eio3=True)
    v3, v4 = Poller(http, url), Poller(http, url, EIO="4")
    await v3.open()
    await v4.open()
    assert (await v3.get(EIO="4"))[::2] == (400, BAD_REQUEST)
    assert (await v4.get(EIO="3"))[::2] == (400, BAD_REQUEST)


async def test_client_ping_gets_pong_and_a_pong_closes(start_server: ServerFactory, http):
    """v3's heartbeat runs from the client: its ping is answered 3; a pong from it closes."""
    poller = Poller(http, await start_server(allow_eio3=True))
    await poller.open()
    assert await poller.get() == (200, "text/plain; charset=utf-8", b"2:40")
    assert await poller.post("1:2") == (200, b"ok")
    assert (await poller.get())[2] == b"1:3"
    assert await poller.post("1:3") == (400, BAD_REQUEST)
    assert (await poller.get())[::2] == (400, UNKNOWN_SID)


async def test_silent_polling_session_closes_after_interval_plus_timeout(start_server: ServerFactory, http):
    """No ping from the handshake on: the waiting poll gets the close packet 0.5 s later."""
    poller = Poller(http, await start_server(allow_eio3=True, **FAST))
    began = time.monotonic()  # before the handshake: the deadline cannot come sooner than this + 0.5
    await poller.open()
    opened = time.monotonic()  # after it: nor later than this + 0.5
    assert (await poller.get())[2] == b"2:40"
    assert (await poller.get())[2] == b"1:1"
    closed = time.monotonic()
    assert closed - began >= 0.5, f"closed {closed - began:.3f}s after the handshake began"
    assert closed - opened < 0.5 + LATE, f"closed {closed - opened:.3f}s after the handshake answer"


async def test_websocket_pings_keep_it_and_silence_closes_it(start_server: ServerFactory, http):
    """WebSocket only: each ping of 4, 0.2 s apart, gets 3; 0.5 s after the last, a close."""
    url = await start_server(allow_eio3=True, **FAST)
    async with http.ws_connect(url + "/socket.io/?EIO=3&transport=websocket") as ws:
        opened = await ws.receive_str()
        assert opened == open_packet(json.loads(opened[1:])["sid"], [], 300, 200)
        assert await ws.receive_str() == "40"
        for _ in range(4):
            await asyncio.sleep(0.2)  # the client's ping interval, shorter than 0.5 s
            sent = time.monotonic()  # the server's deadline is 0.5 s after it read the ping:
            await ws.send_str("2")
            assert await ws.receive_str() == "3"
        answered = time.monotonic()  # between these two
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE
        closed = time.monotonic()
        assert closed - sent >= 0.5, f"closed {closed - sent:.3f}s after the last ping"
        assert closed - answered < 0.5 + LATE, f"closed {closed - answered:.3f}s after its answer"


async def _connect_test(poller: Poller) -> None:
    await poller.open()
    assert (await poller.get())[2] == b"2:40"
    assert await poller.post(framed("40/test?k=v,")) == (200, b"ok")
    welcome = '42/test,["welcome",{"auth":{"k":"v"},"addr":"127.0.0.1"}]'
    assert (await poller.get())[2].decode() == framed("40/test,", welcome)


async def test_binary_payloads_both_ways(start_server: ServerFactory, http):
    """Without b64 (a browser's XHR2): a binary POST payload, and a binary GET payload back."""
    poller = Poller(http, await start_server(allow_eio3=True))
    await _connect_test(poller)
    event = f'451-/test,1["binary",{PLACEHOLDER}]'.encode()
    body = binary_part(0, event) + binary_part(1, b"\x04\x00\xffabc")
    assert await poller.post(body, binary=True) == (200, b"ok")
    ack = f"461-/test,1[{PLACEHOLDER}]".encode()
    assert await poller.get() == (200, "application/octet-stream",
                                  binary_part(0, ack) + binary_part(1, b"\x04\x00\xffabc"))


async def test_base64_payloads_with_b64(start_server: ServerFactory, http):
    """With b64=1 (socket.io-client 2.x on Node): binary rides as b4<base64> in text payloads."""
    poller = Poller(http, await start_server(allow_eio3=True), b64="1")
    await _connect_test(poller)
    assert await poller.post(framed(f'451-/test,1["binary",{PLACEHOLDER}]', "b4AP9hYmM=")) == (200, b"ok")
    assert (await poller.get())[2].decode() == framed(f"461-/test,1[{PLACEHOLDER}]", "b4AP9hYmM=")


async def test_binary_octet_stream_from_a_v4_client_stays_refused(start_server: ServerFactory, http):
    """A v4 session's binary POST is still a 400 that closes it."""
    poller = Poller(http, await start_server(allow_eio3=True), EIO="4")
    await poller.open()
    assert await poller.post(b"\x01", binary=True) == (400, BAD_REQUEST)


@pytest.mark.parametrize("b64,attachment", [("", b"\x04\x00\xff"), ("1", "b4AP8=")])
async def test_websocket_binary_frames_carry_their_type(start_server: ServerFactory, http, b64, attachment):
    """A v3 binary frame is \\x04 + bytes both ways (b64=1: sent as b4<base64> text)."""
    url = await start_server(allow_eio3=True)
    async with http.ws_connect(url + f"/socket.io/?EIO=3&transport=websocket&b64={b64}") as ws:
        await ws.receive_str()
        assert await ws.receive_str() == "40"
        await ws.send_str("40/test,")
        assert await ws.receive_str() == "40/test,"
        await ws.receive_str()  # welcome
        await ws.send_str(f'451-/test,2["binary",{PLACEHOLDER}]')
        await ws.send_bytes(b"\x04\x00\xff")
        assert await ws.receive_str() == f"461-/test,2[{PLACEHOLDER}]"
        got = await ws.receive()
        assert got.data == attachment
        await ws.send_bytes(b"\x02\x00")  # a binary frame that is no message: closed
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE


async def test_upgrade_moves_a_v3_session_to_websocket(start_server: ServerFactory, http):
    """2probe / 3probe, a noop ends the waiting poll, 5 upgrades; binary frames then typed."""
    url = await start_server(allow_eio3=True)
    poller = Poller(http, url)
    await _connect_test(poller)
    waiting = asyncio.ensure_future(poller.get())
    async with http.ws_connect(url + f"/socket.io/?EIO=3&transport=websocket&sid={poller.sid}") as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str() == "3probe"
        assert (await waiting)[2] == b"1:6"
        await ws.send_str("5")
        await ws.send_str(f'451-/test,3["binary",{PLACEHOLDER}]')
        await ws.send_bytes(b"\x04\x07")
        assert await ws.receive_str() == f"461-/test,3[{PLACEHOLDER}]"
        assert await ws.receive_bytes() == b"\x04\x07"
        await ws.send_str("2")
        assert await ws.receive_str() == "3"
        assert (await poller.get())[::2] == (400, BAD_REQUEST)  # polling is over for it


def test_helpers_frame_as_engine_io_parser_does() -> None:
    """framed() counts UTF-16 units, digits() writes one byte per decimal digit."""
    assert framed("4é😀", "6") == "4:4é😀1:6"
    assert digits(1205) == b"\x01\x02\x00\x05"


async def test_recovery_does_not_apply_to_v3_clients(start_server: ServerFactory, http):
    """With --recovery-window the CONNECT ack has no pid and events carry no offset for v3."""
    poller = Poller(http, await start_server(allow_eio3=True, recovery_window=60))
    await poller.open()
    assert (await poller.get())[2] == b"2:40"
    assert await poller.post(framed('42["message","x"]')) == (200, b"ok")
    assert (await poller.get())[2].decode() == framed('42["message","x"]')


async def test_no_implicit_connect_where_root_is_not_served(start_server: ServerFactory, http):
    """No plugin serves "/": the session is not joined there, and /test still connects."""
    poller = Poller(http, await start_server(allow_eio3=True, builtins=False))
    await poller.open()
    assert await poller.post(framed("40/test,")) == (200, b"ok")
    assert (await poller.get())[2].decode().startswith(framed("40/test,"))
