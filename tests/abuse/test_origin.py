"""Origin attacks: DNS rebinding, scheme confusion, refused origins echoed with credentials.

Requests go over a bare TCP socket so Host and Origin are exactly what an attacker's page
would make a browser send; the server listens on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from openline.engine.request import environ_for

from tests.conftest import UNIT

SEED_KEY = "sN9cRrP/n9NdMgdcy2VJFQ=="
SEED_ACCEPT = "fFBooB7FAkLlXgRSz0BT3v4hq5s="
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
FORBIDDEN = {"code": 4, "message": "Forbidden"}


async def raw(url: str, target: str, headers: dict[str, str], method: str = "GET",
              upgrade: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers; (status, lower-cased headers, body)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    headers = {"Host": parts.netloc, **headers}  # HTTP/1.1 requires one
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  f"Sec-WebSocket-Key: {SEED_KEY}", "Sec-WebSocket-Version: 13"]
    else:
        lines.append("Connection: close")
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
        status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        got = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            got[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        body = b""
        if status != 101 and "content-length" in got:
            body = await asyncio.wait_for(reader.readexactly(int(got["content-length"])), 5 * UNIT)
        return status, got, body
    finally:
        writer.close()
        await writer.wait_closed()


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def rebinding(url: str) -> dict[str, str]:
    """What a page at http://evil.example:PORT sends once evil.example resolves to us."""
    evil = f"evil.example:{port_of(url)}"
    return {"Host": evil, "Origin": f"http://{evil}"}


def cors_headers(headers: dict[str, str]) -> list[str]:
    return [name for name in headers if name.startswith("access-control-")]


async def test_rebinding_polling_handshake_is_refused(start_node: Any) -> None:
    """Host and Origin both evil.example:PORT: the polling handshake gets 403 Forbidden, no CORS."""
    node = await start_node()
    status, headers, body = await raw(node.url, HANDSHAKE, rebinding(node.url))
    assert (status, json.loads(body)) == (403, FORBIDDEN)
    assert cors_headers(headers) == []


async def test_rebinding_websocket_is_refused(start_node: Any) -> None:
    """Host and Origin both evil.example:PORT: a /socket.io/ WebSocket upgrade gets 403, no 101."""
    node = await start_node()
    status, headers, body = await raw(node.url, "/socket.io/?EIO=4&transport=websocket",
                                      rebinding(node.url), upgrade=True)
    assert (status, json.loads(body)) == (403, FORBIDDEN)
    assert cors_headers(headers) == []


async def test_rebinding_bridge_is_refused(start_node: Any) -> None:
    """Host and Origin both evil.example:PORT: a bridge upgrade gets 403 naming the flags to use."""
    node = await start_node()
    status, _, body = await raw(node.url, "/", rebinding(node.url), upgrade=True)
    origin = rebinding(node.url)["Origin"]
    assert status == 403
    assert body.decode() == (f"origin {origin} not allowed; list it in --cors-origins, or name "
                             "the origins this server is reached at with --public-origins\n")


async def test_rebinding_refused_when_listening_on_all_addresses(start_node: Any) -> None:
    """--host 0.0.0.0: the address the connection reached and its loopback aliases pass, evil.example not."""
    node = await start_node(host="0.0.0.0")
    port = port_of(node.url)
    status, _, _ = await raw(node.url, HANDSHAKE, rebinding(node.url))
    assert status == 403
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        status, headers, _ = await raw(node.url, HANDSHAKE, {"Host": "x", "Origin": origin})
        assert (status, headers["access-control-allow-origin"]) == (200, origin)


@pytest.mark.parametrize("path,upgrade", [(HANDSHAKE, False), ("/", True)])
async def test_https_origin_is_refused_by_an_http_server(start_node: Any, path: str, upgrade: bool) -> None:
    """Origin https://127.0.0.1:PORT on a plain-HTTP server: 403 on polling and on the bridge."""
    node = await start_node()
    origin = f"https://127.0.0.1:{port_of(node.url)}"
    status, headers, _ = await raw(node.url, path, {"Host": f"127.0.0.1:{port_of(node.url)}",
                                                    "Origin": origin}, upgrade=upgrade)
    assert status == 403
    assert cors_headers(headers) == []


async def test_https_origin_passes_through_a_trusted_tls_proxy(start_node: Any) -> None:
    """A trusted proxy's X-Forwarded-Proto https makes https://127.0.0.1:PORT this server's origin."""
    node = await start_node(trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    origin = f"https://127.0.0.1:{port_of(node.url)}"
    status, headers, _ = await raw(node.url, HANDSHAKE, {
        "Host": "127.0.0.1", "Origin": origin, "X-Forwarded-Proto": "https"})
    assert (status, headers["access-control-allow-origin"]) == (200, origin)
    status, _, _ = await raw(node.url, HANDSHAKE, {"Host": "127.0.0.1", "Origin": origin})
    assert status == 403  # without the proxy's word it is another origin


@pytest.mark.parametrize("alias", ["127.0.0.1", "localhost", "[::1]"])
async def test_own_origin_is_accepted_with_cors_headers(start_node: Any, alias: str) -> None:
    """The own origin (any loopback alias, real bound port) gets 200 with Allow-Origin and -Credentials."""
    node = await start_node()
    origin = f"http://{alias}:{port_of(node.url)}"
    status, headers, body = await raw(node.url, HANDSHAKE, {"Host": "whatever", "Origin": origin})
    assert status == 200
    assert body.startswith(b'0{"sid":"')
    assert headers["access-control-allow-origin"] == origin
    assert headers["access-control-allow-credentials"] == "true"


async def test_listed_origin_is_accepted_with_cors_headers(start_node: Any) -> None:
    """--cors-origins https://app.example: that origin polls with its CORS headers and opens the bridge."""
    node = await start_node(cors_origins=("https://app.example",))
    for target, upgrade, expected in ((HANDSHAKE, False, 200), ("/", True, 101)):
        status, headers, _ = await raw(node.url, target, {
            "Host": "whatever", "Origin": "https://app.example"}, upgrade=upgrade)
        assert status == expected
    status, headers, _ = await raw(node.url, HANDSHAKE, {"Origin": "https://app.example"})
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("method,target,status", [
    ("GET", "/socket.io/?EIO=4&transport=carrier-pigeon", 400),  # unknown transport
    ("GET", "/socket.io/?EIO=3&transport=polling", 400),  # bad EIO
    ("GET", HANDSHAKE, 403),
    ("POST", HANDSHAKE + "&sid=nope", 403),
    ("OPTIONS", HANDSHAKE, 403),
])
async def test_refused_origin_gets_no_cors_headers(start_node: Any, method: str, target: str,
                                                   status: int) -> None:
    """A refused Origin is never echoed: no Access-Control-* header on 400s, 403s or preflights."""
    node = await start_node()
    got, headers, _ = await raw(node.url, target, {"Origin": "http://evil.example",
                                                   "Content-Length": "0"}, method=method)
    assert got == status
    assert cors_headers(headers) == []


async def test_public_origins_decide_whatever_host_says(start_node: Any) -> None:
    """--public-origins https://chat.example: it passes under any Host; its http:// and loopback do not."""
    node = await start_node(public_origins=("https://chat.example",))
    port = port_of(node.url)
    for host in ("evil.example", f"127.0.0.1:{port}", "chat.example"):
        status, headers, _ = await raw(node.url, HANDSHAKE, {"Host": host, "Origin": "https://chat.example"})
        assert (status, headers["access-control-allow-origin"]) == (200, "https://chat.example")
    status, _, _ = await raw(node.url, "/", {"Host": "x", "Origin": "https://chat.example"}, upgrade=True)
    assert status == 101
    for origin in ("http://chat.example", f"http://127.0.0.1:{port}", "https://chat.example:8443"):
        status, _, _ = await raw(node.url, HANDSHAKE, {"Host": "chat.example", "Origin": origin})
        assert status == 403


@pytest.mark.parametrize("cors", [None, ("*",), ("http://app.example",)])
async def test_origin_null_is_refused_unless_listed(start_node: Any, cors: Any) -> None:
    """Origin: null is refused (bridge and polling) unless --cors-origins lists null; * does not imply it."""
    node = await start_node(cors_origins=cors)
    status, _, body = await raw(node.url, "/", {"Host": "localhost", "Origin": "null"}, upgrade=True)
    assert status == 403
    assert body.decode() == ("origin null (a page opened from a file) not allowed; start the server "
                             "with --cors-origins null, or --dev-origins on a development machine "
                             "(make run does)\n")
    status, headers, _ = await raw(node.url, HANDSHAKE, {"Origin": "null"})
    assert status == 403
    assert cors_headers(headers) == []


async def test_origin_null_listed_gets_the_seed_accept(start_node: Any) -> None:
    """--cors-origins null: the seed's handshake gets 101 and Accept fFBooB7FAkLlXgRSz0BT3v4hq5s=."""
    node = await start_node(cors_origins=("null",))
    status, headers, _ = await raw(node.url, "/", {"Host": "evil.example", "Origin": "null"}, upgrade=True)
    assert (status, headers["sec-websocket-accept"]) == (101, SEED_ACCEPT)


async def test_refusals_are_logged_once_per_interval(start_node: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Twenty refused bridge upgrades log one WARNING line with the address and what to do."""
    node = await start_node()
    caplog.set_level(logging.INFO, logger="openline")
    for _ in range(20):
        status, _, _ = await raw(node.url, "/", {"Origin": "null"}, upgrade=True)
        assert status == 403
    records = [r for r in caplog.records if "refused a page's request" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in records] == [(
        "WARNING", "refused a page's request from 127.0.0.1: origin null (a page opened from a "
        "file) not allowed; start the server with --cors-origins null, or --dev-origins on a "
        "development machine (make run does)")]


@pytest.mark.parametrize("peer,scheme", [("10.0.0.1", "https"), ("10.0.0.2", "http")])
def test_forwarded_proto_counts_only_from_a_trusted_proxy(peer: str, scheme: str) -> None:
    """environ's wsgi.url_scheme follows X-Forwarded-Proto from a trusted proxy (10.0.0.1) only."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = {"peername": (peer, 5000)}.get
    request = make_mocked_request("GET", "/socket.io/", headers={"X-Forwarded-Proto": "https"},
                                  transport=transport)
    environ = environ_for(request, (ipaddress.ip_network("10.0.0.1/32"),))
    assert environ["wsgi.url_scheme"] == scheme


@pytest.mark.parametrize("origin,dev,status", [
    ("null", True, 101), ("http://localhost:5173", True, 101), ("http://127.0.0.1:8080", True, 101),
    ("http://[::1]:3000", True, 101), ("https://localhost:4443", True, 101),
    ("http://evil.example", True, 403), ("http://localhost.evil.example:5173", True, 403),
    ("http://10.0.0.9:5173", True, 403),
    ("null", False, 403), ("http://localhost:5173", False, 403),
])
async def test_dev_origins_accept_file_pages_and_any_localhost_port(start_node: Any, origin: str,
                                                                    dev: bool, status: int) -> None:
    """--dev-origins lets Origin null and localhost on any port upgrade, nothing else; off by default."""
    node = await start_node(dev_origins=dev)
    got, _, _ = await raw(node.url, "/", {"Origin": origin}, upgrade=True)
    assert got == status
