"""Engine options' pure parts: Accept-Encoding negotiation (Node's), the session cookie's
header, the bundles' If-None-Match and ETag, --path and --cookie as configured."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openline.clientjs import Bundles, _matches
from openline.config import Config
from openline.engine.compress import compress, compressed, negotiate
from openline.engine.cookie import set_cookie
from openline.engine.server import Engine

# What Node's engine.io chooses (accepts(req).encodings(["gzip", "deflate"]) in
# bench/node_modules, accepts 1.3.8): run for each header on 2026-12-01.
NODE_CHOICES = [
    ("gzip", "gzip"), ("deflate", "deflate"), ("gzip, deflate", "gzip"), ("deflate, gzip", "deflate"),
    ("gzip;q=0, deflate", "deflate"), ("gzip;q=0.5, deflate", "deflate"), ("*", "gzip"), ("br", None),
    ("identity", None), ("gzip;q=0", None), ("*;q=0.1, deflate;q=0.1", "deflate"),
    ("br, *;q=0.5", "gzip"), ("deflate;q=nan", None), ("", None), ("GZIP", "gzip"), ("x-gzip", None),
    ("gzip, deflate, br, zstd", "gzip"),
]


@pytest.mark.parametrize("accept,chosen", NODE_CHOICES)
def test_negotiation_matches_nodes(accept: str, chosen: str | None) -> None:
    """Accept-Encoding → gzip, deflate or nothing, as Node's engine.io (accepts) picks for the same header."""
    assert negotiate(accept) == chosen
    assert negotiate(accept) == chosen  # the cached answer is the same


def test_negotiation_without_a_header() -> None:
    """No Accept-Encoding at all: no compression (as Node and python-engineio)."""
    assert negotiate(None) is None


@pytest.mark.parametrize("coding,decode", [("gzip", gzip.decompress), ("deflate", zlib.decompress)])
def test_compress_round_trips(coding: str, decode: object) -> None:
    """compress() gives a gzip member or a zlib stream (HTTP deflate) that decodes to the input."""
    data = b"4" + b"x" * 4999
    packed = compress(data, coding)
    assert decode(packed) == data  # type: ignore[operator]
    assert len(packed) < 100


async def test_a_broadcasts_polls_share_one_compression() -> None:
    """Polls answered with the same body (a broadcast waking them all) share one compressed body."""
    request = make_mocked_request("GET", "/", headers={"Accept-Encoding": "gzip"})
    body = b'42["news","' + b"n" * 3000 + b'"]'
    first = await compressed(Config(), request, web.Response(body=bytes(body)))
    second = await compressed(Config(), request, web.Response(body=bytes(body)))
    assert first.body is second.body
    assert gzip.decompress(first.body) == body  # type: ignore[arg-type]


@pytest.mark.parametrize("raw,header", [
    ("io", "io=SID; Path=/; HttpOnly; SameSite=Lax"),
    ("sticky; Path=/rt; Secure; SameSite=none", "sticky=SID; Path=/rt; Secure; SameSite=None"),
    ("io;samesite=strict;max-age=60; domain=a.example",
     "io=SID; SameSite=Strict; Max-Age=60; Domain=a.example"),
    ("io; HttpOnly", "io=SID; HttpOnly"),
])
def test_cookie_header(raw: str, header: str) -> None:
    """--cookie NAME gets Node's attributes; NAME; attributes gets exactly those, normalized."""
    config = Config.from_options({"cookie": raw})
    assert config.cookie is not None
    assert set_cookie(config.cookie, "SID") == header


def test_upgrades_follow_the_option() -> None:
    """--no-upgrades empties the handshake's upgrades (default: websocket); --upgrade-timeout is kept."""
    assert Engine(Config()).upgrades_from_polling == ["websocket"]
    assert Engine(Config(allow_upgrades=False)).upgrades_from_polling == []
    assert (Config().upgrade_timeout, Config(upgrade_timeout=0.3).upgrade_timeout) == (10.0, 0.3)


@pytest.mark.parametrize("header,matched", [
    (None, False), ("", False), ('"4.8.4"', True), ('W/"4.8.4"', True), ('"1", "4.8.4"', True),
    ("*", True), ('"4.8.5"', False), ("4.8.4", False)])
def test_if_none_match(header: str | None, matched: bool) -> None:
    """If-None-Match compares weakly: the tag, its W/ form, in a list, or *; an unquoted one is no tag."""
    assert _matches(header, '"4.8.4"') is matched


def test_etag_without_package_json(tmp_path: Path) -> None:
    """Without a readable package.json the bundles' ETag is their mtime and size, quoted."""
    bundles = Bundles(Config(), tmp_path / "dist")
    assert bundles._etag((0x1234, 0x56)) == '"1234-56"'
    (tmp_path / "package.json").write_text('{"version": "4.8.4"}')
    assert bundles._etag((0x1234, 0x56)) == '"4.8.4"'
