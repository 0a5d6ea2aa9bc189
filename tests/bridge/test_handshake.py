"""The bridge's HTTP side: RFC 6455 handshake bytes, Origin policy, the routes around it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import UNIT, ServerFactory

SEED_KEY = "sN9cRrP/n9NdMgdcy2VJFQ=="
SEED_ACCEPT = "fFBooB7FAkLlXgRSz0BT3v4hq5s="


async def raw_handshake(url: str, path: str = "/", origin: str | None = "null") -> tuple[str, dict[str, str]]:
    """Send the seed's upgrade request over a bare TCP socket; (status line, headers)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"GET {path} HTTP/1.1", f"Host: localhost:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {SEED_KEY}", "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
    writer.close()
    await writer.wait_closed()
    status, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def test_seed_handshake_bytes(start_server: ServerFactory) -> None:
    """The seed's request gets 101 and Sec-WebSocket-Accept fFBooB7FAkLlXgRSz0BT3v4hq5s=."""
    url = await start_server(cors_origins=("null",))
    status, headers = await raw_handshake(url)
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert headers["sec-websocket-accept"] == SEED_ACCEPT
    assert headers["upgrade"].lower() == "websocket"
    assert headers["connection"].lower() == "upgrade"
    assert "sec-websocket-extensions" not in headers  # compression is off by default


async def test_origin_null_refused_by_default(start_server: ServerFactory) -> None:
    """With --cors-origins unset, `Origin: null` is refused with 403 before any 101."""
    url = await start_server()
    status, _ = await raw_handshake(url)
    assert status == "HTTP/1.1 403 Forbidden"


@pytest.mark.parametrize("cors,origin,allowed", [
    (None, None, True),                      # not a browser: nothing to protect
    (None, "SAME", True),
    (None, "LOOPBACK", True),                # page at 127.0.0.1:PORT, snippet says localhost:PORT
    (None, "http://localhost:1", False),
    (None, "http://evil.example", False),
    (("*",), "http://evil.example", True),
    (("http://app.example",), "http://app.example", True),
    (("http://app.example",), "http://evil.example", False),
])
async def test_origin_policy(start_server: ServerFactory, cors: tuple[str, ...] | None,
                             origin: str | None, allowed: bool) -> None:
    """Origin is checked against --cors-origins as Engine.IO checks it (None: same origin)."""
    url = await start_server(cors_origins=cors)
    sent = {"SAME": url.replace("127.0.0.1", "localhost"), "LOOPBACK": url}.get(origin or "", origin)
    status, _ = await raw_handshake(url, origin=sent)
    assert status == ("HTTP/1.1 101 Switching Protocols" if allowed else "HTTP/1.1 403 Forbidden")


async def test_compression_when_configured(start_server: ServerFactory) -> None:
    """--websocket-compression lets the bridge negotiate permessage-deflate."""
    url = await start_server(websocket_compression=True)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("http", "ws") + "/", compress=15) as ws:
            assert ws.compress == 15
            await ws.send_str("squeeze")
            msg = await asyncio.wait_for(ws.receive(), 5 * UNIT)
            assert msg.data == "squeeze"


async def test_pages_beside_the_bridge(start_server: ServerFactory) -> None:
    """GET / without Upgrade is the demo page, /status the status page, /chat a 404."""
    url = await start_server()
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/") as resp:
            assert resp.status == 200
            assert '<script type="module" src="/demo/app.js"></script>' in await resp.text()
        async with session.get(url + "/status") as resp:
            assert resp.status == 200
            assert "<h2>Namespaces</h2>" in await resp.text()
        async with session.get(url + "/chat") as resp:
            assert resp.status == 404
        async with session.get(url + "/demo/package.json") as resp:
            assert resp.status == 404
