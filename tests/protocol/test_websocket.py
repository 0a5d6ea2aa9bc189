"""Engine.IO v4 "WebSocket" and "Upgrade"."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import msgpack

from tests.conftest import UNIT

from .conftest import (
    Servers,
    Target,
    assert_ws_closed,
    error,
    get_text,
    open_polling,
    post_ok,
    post_text,
    upgrade,
)

T = 5 * UNIT


async def test_text_frame_round_trip(http: aiohttp.ClientSession, target: Target) -> None:
    """WebSocket: each packet is one text frame `<type><data>`; a message gets its reply."""
    async with http.ws_connect(target.ws_url()) as ws:
        assert (await ws.receive_str(timeout=T))[0] == "0"
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))


async def test_binary_frame_round_trip(http: aiohttp.ClientSession, target: Target) -> None:
    """Packet encoding (WebSocket): binary payloads are sent as is, in binary frames."""
    async with http.ws_connect(target.ws_url()) as ws:
        await ws.receive_str(timeout=T)
        if target.kind == "engine":
            await ws.send_bytes(b"\x01\x02\x03\x04")
            assert await ws.receive_bytes(timeout=T) == b"\x01\x02\x03\x04"
            return
        await ws.send_bytes(msgpack.packb({"type": 0, "nsp": "/"}))
        ack = msgpack.unpackb(await ws.receive_bytes(timeout=T))
        assert ack["type"] == 0 and isinstance(ack["data"]["sid"], str)


async def test_invalid_packet_closes_websocket(http: aiohttp.ClientSession, target: Target) -> None:
    """WebSocket: an invalid packet (`abc`) closes the connection."""
    async with http.ws_connect(target.ws_url()) as ws:
        await ws.receive_str(timeout=T)
        await ws.send_str("abc")
        msg = await ws.receive(timeout=T)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_frame_over_max_payload_closes(http: aiohttp.ClientSession, target: Target) -> None:
    """maxPayload on WebSocket: a frame over it (10000 here) closes the connection with 1009."""
    async with http.ws_connect(target.ws_url()) as ws:
        await ws.receive_str(timeout=T)
        await ws.send_str("4" + "x" * 10000)
        msg = await ws.receive(timeout=T)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1009


async def test_client_close_packet_ends_websocket(http: aiohttp.ClientSession, target: Target) -> None:
    """Protocol (close packet): `1` from the client closes the WebSocket session."""
    async with http.ws_connect(target.ws_url()) as ws:
        await ws.receive_str(timeout=T)
        await ws.send_str("1")
        await assert_ws_closed(ws)


async def test_upgrade_probe_noop_and_upgrade(http: aiohttp.ClientSession, target: Target) -> None:
    """Upgrade: 2probe → 3probe, the paused poll ends with a noop (6), then 5 moves the session."""
    sid = await open_polling(http, target)
    async with http.ws_connect(target.ws_url(sid=sid)) as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=T) == "3probe"
        assert await get_text(http, target.url(sid=sid)) == (200, "6")
        await ws.send_str("5")
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))


async def test_pending_poll_gets_noop_on_probe(http: aiohttp.ClientSession, target: Target) -> None:
    """Upgrade: a GET pending when the probe arrives is answered with a noop (6)."""
    sid = await open_polling(http, target)
    pending = asyncio.ensure_future(get_text(http, target.url(sid=sid)))
    await asyncio.sleep(0.05 * UNIT)
    async with http.ws_connect(target.ws_url(sid=sid)) as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=T) == "3probe"
        assert await asyncio.wait_for(pending, T) == (200, "6")
        await ws.send_str("5")


async def test_no_polling_packets_leak_onto_websocket(http: aiohttp.ClientSession,
                                                      target: Target) -> None:
    """Upgrade: after `5` the WebSocket carries no noop or other packet meant for the polling side."""
    sid = await open_polling(http, target)
    ws = await upgrade(http, target, sid)  # no GET was pending: nothing to end with a noop
    try:
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))
    finally:
        await ws.close()


async def test_packets_queued_during_upgrade_move_to_websocket(http: aiohttp.ClientSession,
                                                               target: Target) -> None:
    """Upgrade: a reply produced while polling is paused arrives on the WebSocket after `5`, once."""
    sid = await open_polling(http, target)
    async with http.ws_connect(target.ws_url(sid=sid)) as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=T) == "3probe"
        await post_ok(http, target.url(sid=sid), target.hello)
        await ws.send_str("5")
        assert target.is_reply(await ws.receive_str(timeout=T))
        await ws.send_str("6")  # noop: nothing comes back for it
        status, body = await post_text(http, target.url(sid=sid), "6")
        assert status == 400 and json.loads(body) == error(3)


async def test_http_with_upgraded_sid_is_refused(http: aiohttp.ClientSession, target: Target) -> None:
    """Upgrade: plain HTTP GET/POST with an upgraded sid → 400 Bad request; the WebSocket lives on."""
    sid = await open_polling(http, target)
    ws = await upgrade(http, target, sid)
    try:
        status, body = await get_text(http, target.url(sid=sid))
        assert status == 400 and json.loads(body) == error(3)
        status, body = await post_text(http, target.url(sid=sid), "4x")
        assert status == 400 and json.loads(body) == error(3)
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))
    finally:
        await ws.close()


async def second_websocket_is_closed(http: aiohttp.ClientSession, target: Target, sid: str) -> None:
    """Another WebSocket for ``sid`` is accepted at the HTTP level, then closed."""
    async with http.ws_connect(target.ws_url(sid=sid)) as second:
        msg = await second.receive(timeout=T)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_second_websocket_for_upgraded_sid_is_closed(http: aiohttp.ClientSession,
                                                           target: Target) -> None:
    """WebSocket: a second WebSocket for a session is accepted (101) and then closed; the first lives on."""
    sid = await open_polling(http, target)
    ws = await upgrade(http, target, sid)
    try:
        await second_websocket_is_closed(http, target, sid)
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))
    finally:
        await ws.close()


async def test_second_websocket_during_upgrade_is_closed(http: aiohttp.ClientSession,
                                                         target: Target) -> None:
    """WebSocket: while one WebSocket is upgrading a session, another for it is closed."""
    sid = await open_polling(http, target)
    async with http.ws_connect(target.ws_url(sid=sid)) as ws:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=T) == "3probe"
        await second_websocket_is_closed(http, target, sid)
        await ws.send_str("5")
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=T))


async def test_websocket_send_buffer_is_bounded(http: aiohttp.ClientSession, servers: Servers) -> None:
    """Limits: a WebSocket peer that stops reading is closed once its backlog passes the bound."""
    target = Target(servers, "engine")  # the echo server answers every message
    async with http.ws_connect(target.ws_url(), max_msg_size=0) as ws:
        await ws.receive_str(timeout=T)
        chunk = "4" + "x" * 9998
        send_failed = False
        for _ in range(5000):  # ~50 MB: far past kernel buffers plus the 1 MB bound
            try:
                await ws.send_str(chunk)
            except ConnectionError:
                send_failed = True
                break
        if not send_failed:  # the close may still be queued behind the unread replies
            while (msg := await ws.receive(timeout=T)).type is aiohttp.WSMsgType.TEXT:
                pass
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
