"""Engine.IO v4 "HTTP long-polling" and "Packet encoding" (payload framing, limits)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import msgpack

from tests.conftest import UNIT

from .conftest import Servers, Target, error, get_text, open_polling, post_ok, post_text


async def test_post_is_answered_ok(http: aiohttp.ClientSession, target: Target) -> None:
    """Sending data: a POST is answered 200 with the body `ok`, and its packet is delivered."""
    sid = await open_polling(http, target)
    assert await post_text(http, target.url(sid=sid), target.hello) == (200, "ok")
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 200 and target.is_reply(body)


async def test_payload_uses_record_separator(http: aiohttp.ClientSession, target: Target) -> None:
    """Packet encoding (polling): several packets in one POST, and the GET payload, are joined by \\x1e."""
    sid = await open_polling(http, target)
    if target.kind == "engine":
        sent = "4test1\x1e4test2\x1e4test3"
        await post_ok(http, target.url(sid=sid), sent)
        assert await get_text(http, target.url(sid=sid)) == (200, sent)
        return
    # the Socket.IO server answers two CONNECTs (/ and /test) and /test's welcome event
    await post_ok(http, target.url(sid=sid), '40\x1e40/test,{"k":1}')
    packets: list[str] = []
    while len(packets) < 3:
        status, body = await get_text(http, target.url(sid=sid))
        assert status == 200
        packets += body.split("\x1e")
    assert packets[0].startswith('40{"sid":"')
    assert packets[1].startswith('40/test,{"sid":"')
    assert packets[2] == '42/test,["welcome",{"auth":{"k":1},"addr":"127.0.0.1"}]'


async def test_binary_is_b_plus_base64(http: aiohttp.ClientSession, target: Target) -> None:
    """Packet encoding (polling): binary travels as `b` + base64, both ways."""
    sid = await open_polling(http, target)
    if target.kind == "engine":
        await post_ok(http, target.url(sid=sid), "4hello\x1ebAQIDBA==")
        assert await get_text(http, target.url(sid=sid)) == (200, "4hello\x1ebAQIDBA==")
        return
    # a binary first packet selects msgpack; the CONNECT ack comes back in binary
    connect = msgpack.packb({"type": 0, "nsp": "/"})
    body = "b" + base64.b64encode(connect).decode()
    await post_ok(http, target.url(sid=sid), body)
    status, reply = await get_text(http, target.url(sid=sid))
    assert status == 200 and reply[0] == "b"
    ack = msgpack.unpackb(base64.b64decode(reply[1:]))
    assert ack["type"] == 0 and ack["nsp"] == "/" and isinstance(ack["data"]["sid"], str)


async def test_invalid_packet_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """Sending data: an invalid packet in a POST → 400 and the session is closed."""
    sid = await open_polling(http, target)
    status, body = await post_text(http, target.url(sid=sid), "abc")
    assert status == 400 and json.loads(body) == error(3)
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 400 and json.loads(body) == error(1)


async def test_invalid_base64_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """Packet encoding: `b` followed by something that is not base64 → 400 and closed."""
    sid = await open_polling(http, target)
    status, _ = await post_text(http, target.url(sid=sid), "b$$$")
    assert status == 400
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_post_over_max_payload_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """maxPayload: a POST over it (10000 here) is refused with 413 and the session closed."""
    sid = await open_polling(http, target)
    status, _ = await post_text(http, target.url(sid=sid), "4" + "x" * 10000)
    assert status == 413
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 400 and json.loads(body) == error(1)


async def test_chunked_post_over_max_payload_closes_session(http: aiohttp.ClientSession,
                                                             target: Target) -> None:
    """maxPayload: a chunked POST (no Content-Length) over it is refused with 413, session closed."""
    sid = await open_polling(http, target)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"4" + b"x" * 10000

    status, _ = await post_text(http, target.url(sid=sid), chunks(),
                                headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert status == 413
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 400 and json.loads(body) == error(1)


async def test_post_not_utf8_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """A POST body that is not UTF-8 is refused with 400 and the session closed."""
    sid = await open_polling(http, target)
    status, body = await post_text(http, target.url(sid=sid), b"4\xff\xfe",
                                   headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert status == 400 and json.loads(body) == error(3)
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 400 and json.loads(body) == error(1)


async def test_post_at_max_payload_is_accepted(http: aiohttp.ClientSession, target: Target) -> None:
    """maxPayload: a POST of exactly maxPayload bytes is accepted."""
    sid = await open_polling(http, target)
    body = target.hello + "".join("\x1e6" for _ in range((10000 - len(target.hello)) // 2))
    assert len(body) <= 10000
    await post_ok(http, target.url(sid=sid), body)


async def test_second_concurrent_get_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """Receiving data: a second concurrent GET → 400 and close; the first GET ends with the close packet."""
    sid = await open_polling(http, target)
    first = asyncio.ensure_future(get_text(http, target.url(sid=sid)))
    await asyncio.sleep(0.05 * UNIT)  # let the first GET reach the server (not a start-up wait)
    status, body = await get_text(http, target.url(sid=sid, t="burst"))
    assert status == 400 and json.loads(body) == error(3)
    assert await asyncio.wait_for(first, 5 * UNIT) == (200, "1")
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_a_cancelled_get_closes_the_session_at_once(http: aiohttp.ClientSession,
                                                         target: Target) -> None:
    """Receiving data: a client that drops its waiting GET's connection ends the session
    then, as Node's engine.io does, not at the ping timeout (25 s here): its next POST and
    GET get 400, unknown session."""
    sid = await open_polling(http, target)
    async with aiohttp.ClientSession() as own:  # its own connection, closed with it
        pending = asyncio.ensure_future(get_text(own, target.url(sid=sid)))
        await asyncio.sleep(0.05 * UNIT)  # let the GET reach the server (not a start-up wait)
        pending.cancel()
    deadline = asyncio.get_running_loop().time() + 5 * UNIT
    status, body = 200, ""
    while status == 200 and asyncio.get_running_loop().time() < deadline:
        # a noop: nothing answers it, so no packet wakes the dropped GET (which would
        # find its connection gone and end the session even without the watch)
        status, body = await post_text(http, target.url(sid=sid), "6")
    assert status == 400 and json.loads(body) == error(1)
    status, body = await get_text(http, target.url(sid=sid))
    assert status == 400 and json.loads(body) == error(1)


async def test_client_close_answers_pending_get_with_noop(http: aiohttp.ClientSession,
                                                          target: Target) -> None:
    """Close: the client's close packet ends a pending GET with a noop (6) and the session."""
    sid = await open_polling(http, target)
    pending = asyncio.ensure_future(get_text(http, target.url(sid=sid)))
    await asyncio.sleep(0.05 * UNIT)
    await post_ok(http, target.url(sid=sid), "1")
    assert await asyncio.wait_for(pending, 5 * UNIT) == (200, "6")
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_a_get_racing_the_clients_close_still_gets_the_noop(http: aiohttp.ClientSession,
                                                                  target: Target) -> None:
    """Close: a GET that arrives just after the close POST (the official suite sends both at
    once) gets the noop (6), and the next GET 400."""
    sid = await open_polling(http, target)
    await post_ok(http, target.url(sid=sid), "1")
    assert await get_text(http, target.url(sid=sid)) == (200, "6")
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_second_concurrent_post_closes_session(http: aiohttp.ClientSession, target: Target) -> None:
    """Sending data: a second concurrent POST → 400 and the session is closed."""
    sid = await open_polling(http, target)
    release = asyncio.Event()

    async def slow_body():  # type: ignore[no-untyped-def]
        yield b"6"
        await release.wait()
        yield b""

    first = asyncio.ensure_future(http.post(target.url(sid=sid), data=slow_body(),
                                            headers={"Content-Type": "text/plain"}))
    await asyncio.sleep(0.1 * UNIT)
    status, body = await post_text(http, target.url(sid=sid), "6")
    release.set()
    assert status == 400 and json.loads(body) == error(3)
    resp = await asyncio.wait_for(first, 5 * UNIT)
    resp.release()
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_binary_content_type_is_refused(http: aiohttp.ClientSession, target: Target) -> None:
    """Packet encoding: v4 POST bodies are text (binary is base64); an octet-stream body → 400 and closed."""
    sid = await open_polling(http, target)
    status, _ = await post_text(http, target.url(sid=sid), b"\x04\x01\x02",
                                headers={"Content-Type": "application/octet-stream"})
    assert status == 400
    assert (await get_text(http, target.url(sid=sid)))[0] == 400


async def test_get_responses_are_not_cached(http: aiohttp.ClientSession, target: Target) -> None:
    """Receiving data: GET payloads are text/plain UTF-8 and marked no-store."""
    async with http.get(target.url()) as resp:
        assert resp.headers["Content-Type"].lower() == "text/plain; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-store"


async def test_send_buffer_is_bounded(http: aiohttp.ClientSession, servers: Servers) -> None:
    """Limits: a client that never GETs is closed once its queue passes 16 × maxPayload (≥ 1 MB)."""
    target = Target(servers, "engine")  # the echo server queues a reply per message
    sid = await open_polling(http, target)
    chunk = "4" + "x" * 9998
    sent, status = 0, 200
    while status == 200 and sent < 200:
        status, _ = await post_text(http, target.url(sid=sid), chunk)
        sent += 1
    assert status == 400 and 100 <= sent <= 110, (status, sent)
    assert (await get_text(http, target.url(sid=sid)))[0] == 400
