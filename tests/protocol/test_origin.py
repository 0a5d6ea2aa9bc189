"""CORS and the Origin allow-list (--cors-origins http://allowed.example; default: same origin)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from .conftest import Target, error, open_polling

ALLOWED = "http://allowed.example"
OTHER = "http://evil.example"


async def test_preflight_for_allowed_origin(http: aiohttp.ClientSession, target: Target) -> None:
    """CORS: a preflight from an allowed origin gets 204 with its origin, credentials and methods."""
    headers = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    async with http.options(target.url("cors"), headers=headers) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        assert resp.headers["Access-Control-Allow-Headers"] == "content-type"


async def test_allowed_origin_gets_cors_headers(http: aiohttp.ClientSession, target: Target) -> None:
    """CORS: handshake and POST from an allowed origin carry Allow-Origin and Allow-Credentials."""
    async with http.get(target.url("cors"), headers={"Origin": ALLOWED}) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        sid = json.loads((await resp.text())[1:])["sid"]
    async with http.post(target.url("cors", sid=sid), data="6", headers={"Origin": ALLOWED}) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("profile", ["cors", "default"])
async def test_other_origin_is_forbidden(http: aiohttp.ClientSession, target: Target, profile: str) -> None:
    """Origin allow-list: polling from an origin not allowed → 403 {"code":4,"message":"Forbidden"}."""
    async with http.get(target.url(profile), headers={"Origin": OTHER}) as resp:
        assert resp.status == 403
        assert json.loads(await resp.text()) == error(4)
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_preflight_for_other_origin_is_forbidden(http: aiohttp.ClientSession, target: Target) -> None:
    """CORS: a preflight from an origin not allowed gets no CORS grant."""
    async with http.options(target.url("cors"), headers={"Origin": OTHER}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert resp.status == 403


@pytest.mark.parametrize("profile", ["cors", "default"])
async def test_websocket_from_other_origin_is_refused(http: aiohttp.ClientSession, target: Target,
                                                      profile: str) -> None:
    """Origin allow-list on WebSocket upgrades: an origin not allowed is refused before the 101."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(target.ws_url(profile), headers={"Origin": OTHER})
    assert info.value.status == 403


async def test_websocket_upgrade_from_other_origin_is_refused(http: aiohttp.ClientSession,
                                                              target: Target) -> None:
    """Origin allow-list: upgrading an existing session from another origin is refused too."""
    sid = await open_polling(http, target, "cors")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(target.ws_url("cors", sid=sid), headers={"Origin": OTHER})
    assert info.value.status == 403


async def test_same_origin_is_allowed_by_default(http: aiohttp.ClientSession, target: Target) -> None:
    """Origin (default: same origin only): a page served by this server may connect, polling and WebSocket."""
    origin = target.origin()
    async with http.get(target.url(), headers={"Origin": origin}) as resp:
        assert resp.status == 200
    async with http.ws_connect(target.ws_url(), headers={"Origin": origin}) as ws:
        assert (await ws.receive_str())[0] == "0"


async def test_allowed_origin_may_open_websocket(http: aiohttp.ClientSession, target: Target) -> None:
    """Origin allow-list: a listed origin opens a WebSocket."""
    async with http.ws_connect(target.ws_url("cors"), headers={"Origin": ALLOWED}) as ws:
        assert (await ws.receive_str())[0] == "0"


@pytest.mark.parametrize("query", [{"transport": "carrier-pigeon"}, {"EIO": "3"}, {"sid": "nope"}])
async def test_refusals_never_echo_a_refused_origin(http: aiohttp.ClientSession, target: Target,
                                                    query: dict[str, str]) -> None:
    """Origin allow-list: a 400 or 403 for an origin not allowed carries no Access-Control-* header."""
    async with http.get(target.url("cors", **query), headers={"Origin": OTHER}) as resp:
        assert resp.status in (400, 403)
        assert [h for h in resp.headers if h.lower().startswith("access-control-")] == []


async def test_host_header_does_not_make_an_origin_same(http: aiohttp.ClientSession, target: Target) -> None:
    """Origin (default: same origin only): Host and Origin both naming another site (DNS rebinding) → 403."""
    port = target.origin().rsplit(":", 1)[1]
    headers = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    async with http.get(target.url(), headers=headers) as resp:
        assert resp.status == 403
        assert json.loads(await resp.text()) == error(4)
