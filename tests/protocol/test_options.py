"""Engine options (issue #16): --cookie, --http-compression and its threshold, --no-upgrades,
--upgrade-timeout, --path; on the bare engine and the full server alike.

Profiles (conftest.py): "default" (compression on, threshold 1024, no cookie), "options"
(--path /rt/, --cookie sticky, --upgrade-timeout 0.3), "plain" (--no-http-compression,
--no-upgrades, a cookie with its attributes spelled out).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import UNIT

from .conftest import Target, error, get_text, open_polling, post_ok

THRESHOLD = 1024


@pytest.fixture
async def raw_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that leaves response bodies as they came (no decompression)."""
    timeout = aiohttp.ClientTimeout(total=10 * UNIT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        yield session


async def ready(http: aiohttp.ClientSession, target: Target, profile: str = "default") -> str:
    """A polling session that echoes: the full server's one has connected to "/"."""
    sid = await open_polling(http, target, profile)
    if target.kind == "full":
        await post_ok(http, target.url(profile, sid=sid), "40")
        status, body = await get_text(http, target.url(profile, sid=sid))
        assert status == 200 and target.is_reply(body), body
    return sid


async def queue_echo(http: aiohttp.ClientSession, target: Target, profile: str, sid: str,
                     size: int) -> bytes:
    """Send a message whose echo, the next poll's whole body, is ``size`` bytes; that body."""
    if target.kind == "engine":
        packet = "4" + "x" * (size - 1)
    else:
        packet = '42["message","' + "x" * (size - 16) + '"]'
    assert len(packet) == size
    await post_ok(http, target.url(profile, sid=sid), packet)
    return packet.encode()


async def handshake_head(target: Target, profile: str) -> tuple[str, dict[str, str]]:
    """A WebSocket-only handshake over a bare socket: (status line, headers lowercased)."""
    url = urlsplit(target.ws_url(profile))
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write((f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                 .encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
    writer.close()
    await writer.wait_closed()
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)}


# --- --cookie -------------------------------------------------------------------------


async def test_no_cookie_by_default(http: aiohttp.ClientSession, target: Target) -> None:
    """--cookie is off by default (as in Node >= 3 and python-engineio): no Set-Cookie."""
    async with http.get(target.url()) as resp:
        assert resp.status == 200
        assert "Set-Cookie" not in resp.headers


async def test_cookie_on_the_polling_handshake_only(http: aiohttp.ClientSession, target: Target) -> None:
    """--cookie NAME: the handshake sets NAME=<sid>; Path=/; HttpOnly; SameSite=Lax, later ones nothing."""
    async with http.get(target.url("options")) as resp:
        sid = json.loads((await resp.text())[1:])["sid"]
        assert resp.headers.getall("Set-Cookie") == [f"sticky={sid}; Path=/; HttpOnly; SameSite=Lax"]
    async with http.post(target.url("options", sid=sid), data=target.hello) as resp:
        assert (resp.status, "Set-Cookie" in resp.headers) == (200, False)
    async with http.get(target.url("options", sid=sid)) as resp:
        assert (resp.status, "Set-Cookie" in resp.headers) == (200, False)


async def test_cookie_on_the_websocket_handshake(target: Target) -> None:
    """A WebSocket-only session's 101 carries the cookie too (its reconnection finds the node)."""
    status, headers = await handshake_head(target, "options")
    assert status == "HTTP/1.1 101 Switching Protocols"
    name, _, rest = headers["set-cookie"].partition("=")
    sid, _, attributes = rest.partition(";")
    assert (name, len(sid), attributes) == ("sticky", 20, " Path=/; HttpOnly; SameSite=Lax")


async def test_cookie_attributes_as_configured(http: aiohttp.ClientSession, target: Target) -> None:
    """--cookie 'lb;path=/;secure;samesite=none;max-age=3600': exactly those, spelled as RFC 6265 does."""
    async with http.get(target.url("plain")) as resp:
        sid = json.loads((await resp.text())[1:])["sid"]
        assert resp.headers["Set-Cookie"] == f"lb={sid}; Path=/; Secure; SameSite=None; Max-Age=3600"


# --- --http-compression ---------------------------------------------------------------


@pytest.mark.parametrize("accept,coding", [
    ("gzip", "gzip"), ("deflate", "deflate"), ("gzip, deflate, br", "gzip"),
    ("deflate, gzip", "deflate"), ("gzip;q=0, deflate", "deflate"), ("*", "gzip")])
async def test_large_poll_is_compressed(raw_http: aiohttp.ClientSession, target: Target,
                                        accept: str, coding: str) -> None:
    """A 5,000-byte poll comes back gzipped/deflated as Accept-Encoding chooses (Node's rule), < 100 B."""
    sid = await ready(raw_http, target)
    sent = await queue_echo(raw_http, target, "default", sid, 5000)
    async with raw_http.get(target.url(sid=sid), headers={"Accept-Encoding": accept}) as resp:
        raw = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] == coding
        assert resp.headers["Content-Type"].lower() == "text/plain; charset=utf-8"
        assert int(resp.headers["Content-Length"]) == len(raw)
    assert (gzip.decompress(raw) if coding == "gzip" else zlib.decompress(raw)) == sent
    assert len(raw) < 100


@pytest.mark.parametrize("size,coding", [(THRESHOLD - 1, None), (THRESHOLD, "gzip")])
async def test_threshold(raw_http: aiohttp.ClientSession, target: Target, size: int,
                         coding: str | None) -> None:
    """Never compressed below --http-compression-threshold (1024 bytes); from it on, compressed."""
    sid = await ready(raw_http, target)
    sent = await queue_echo(raw_http, target, "default", sid, size)
    async with raw_http.get(target.url(sid=sid), headers={"Accept-Encoding": "gzip"}) as resp:
        raw = await resp.read()
        assert resp.headers.get("Content-Encoding") == coding
    assert (raw if coding is None else gzip.decompress(raw)) == sent


@pytest.mark.parametrize("accept", [None, "identity", "br", "gzip;q=0"])
async def test_identity_unless_accepted(raw_http: aiohttp.ClientSession, target: Target,
                                        accept: str | None) -> None:
    """No Accept-Encoding, or none naming gzip/deflate with q > 0: the body as it is."""
    sid = await ready(raw_http, target)
    sent = await queue_echo(raw_http, target, "default", sid, 5000)
    kwargs = {"skip_auto_headers": ["Accept-Encoding"]} if accept is None \
        else {"headers": {"Accept-Encoding": accept}}
    async with raw_http.get(target.url(sid=sid), **kwargs) as resp:  # type: ignore[arg-type]
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == sent


async def test_no_http_compression(raw_http: aiohttp.ClientSession, target: Target) -> None:
    """--no-http-compression: a 5,000-byte poll comes back as it is, even to gzip clients."""
    sid = await ready(raw_http, target, "plain")
    sent = await queue_echo(raw_http, target, "plain", sid, 5000)
    async with raw_http.get(target.url("plain", sid=sid), headers={"Accept-Encoding": "gzip"}) as resp:
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == sent


# --- --no-upgrades, --upgrade-timeout --------------------------------------------------


async def test_no_upgrades(http: aiohttp.ClientSession, target: Target) -> None:
    """--no-upgrades: the handshake offers upgrades [], an upgrade gets 400 Bad request, polling goes on."""
    status, body = await get_text(http, target.url("plain"))
    opened = json.loads(body[1:])
    assert opened["upgrades"] == []
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(target.ws_url("plain", sid=opened["sid"]))
    assert refused.value.status == 400
    async with http.get(target.url("plain", sid=opened["sid"], transport="websocket"),
                        headers={"Upgrade": "websocket"}) as resp:
        assert (resp.status, json.loads(await resp.text())) == (400, error(3))
    await post_ok(http, target.url("plain", sid=opened["sid"]), target.hello)
    status, body = await get_text(http, target.url("plain", sid=opened["sid"]))
    assert status == 200 and target.is_reply(body), body


async def test_no_upgrades_keeps_websocket_sessions(http: aiohttp.ClientSession, target: Target) -> None:
    """--no-upgrades (Node's allowUpgrades: false) still opens WebSocket-only sessions."""
    async with http.ws_connect(target.ws_url("plain")) as ws:
        opened = json.loads((await ws.receive_str(timeout=5 * UNIT))[1:])
        assert opened["upgrades"] == []
        await ws.send_str(target.hello)
        assert target.is_reply(await ws.receive_str(timeout=5 * UNIT))


@pytest.mark.parametrize("probe", [False, True])
async def test_upgrade_timeout(http: aiohttp.ClientSession, target: Target, probe: bool) -> None:
    """--upgrade-timeout 0.3: an upgrade left unfinished closes its WebSocket at 0.3 s; polling goes on."""
    sid = await ready(http, target, "options")
    loop = asyncio.get_running_loop()
    ws = await http.ws_connect(target.ws_url("options", sid=sid))
    opened = loop.time()
    if probe:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=5 * UNIT) == "3probe"
    msg = await ws.receive(timeout=5 * UNIT)
    elapsed = loop.time() - opened
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
    assert 0.3 - 0.02 <= elapsed < 0.3 + 1.0 * UNIT, elapsed
    await ws.close()
    await post_ok(http, target.url("options", sid=sid), "4after" if target.kind == "engine"
                  else '42["message","after"]')
    status, body = await get_text(http, target.url("options", sid=sid))
    assert (status, body) == (200, "4after" if target.kind == "engine" else '42["message","after"]')


# --- --path ---------------------------------------------------------------------------


async def test_path(http: aiohttp.ClientSession, target: Target) -> None:
    """--path /rt/: the engine answers there on both transports and no longer at its default path."""
    sid = await open_polling(http, target, "options")
    await post_ok(http, target.url("options", sid=sid), target.hello)
    status, body = await get_text(http, target.url("options", sid=sid))
    assert status == 200 and target.is_reply(body), body
    async with http.ws_connect(target.ws_url("options")) as ws:
        assert (await ws.receive_str(timeout=5 * UNIT))[0] == "0"
    base = target.origin("options")
    status, _ = await get_text(http, f"{base}{target.path}?EIO=4&transport=polling")
    assert status == 404
