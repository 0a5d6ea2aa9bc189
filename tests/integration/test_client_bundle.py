"""socket.io-client's bundles at <--path>socket.io.js and the like (Node's serveClient):
bytes as installed, ETag and 304 as Node, compressed per Accept-Encoding, --path,
--no-serve-client, and the 404 when socket.io-client is not installed."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from openline import clientjs

from tests.conftest import ROOT, UNIT, ServerFactory, require

DIST = ROOT / "client_demo" / "node_modules" / "socket.io-client" / "dist"
FILES = ["socket.io.js", "socket.io.js.map", "socket.io.min.js", "socket.io.min.js.map",
         "socket.io.msgpack.min.js", "socket.io.msgpack.min.js.map", "socket.io.esm.min.js",
         "socket.io.esm.min.js.map"]


@pytest.fixture
def etag() -> str:
    """The installed socket.io-client's version, quoted: Node's ETag for the bundles."""
    require(DIST.is_dir(), "client_demo/node_modules (run `make test`, which runs npm ci)")
    return '"' + json.loads((DIST.parent / "package.json").read_text())["version"] + '"'


@pytest.fixture
async def raw_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that neither asks for nor decodes compression unless told to."""
    async with aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"],
                                     timeout=aiohttp.ClientTimeout(total=10 * UNIT)) as session:
        yield session


@pytest.mark.parametrize("name", FILES)
async def test_each_file_as_node_serves_it(start_server: ServerFactory, raw_http: aiohttp.ClientSession,
                                           etag: str, name: str) -> None:
    """GET /socket.io/<file>: the installed bytes, ETag "<version>", public max-age=0, JS (maps: JSON)."""
    url = await start_server()
    async with raw_http.get(f"{url}/socket.io/{name}") as resp:
        body = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == ("application/json; charset=utf-8" if name.endswith(".map")
                                                else "application/javascript; charset=utf-8")
        assert resp.headers["ETag"] == etag
        assert resp.headers["Cache-Control"] == "public, max-age=0"
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert "Content-Encoding" not in resp.headers
    assert body == (DIST / name).read_bytes()


@pytest.mark.parametrize("if_none_match,status", [
    ("{etag}", 304), ("W/{etag}", 304), ('"0.0.0", {etag}', 304), ("*", 304), ('"0.0.0"', 200)])
async def test_conditional_get(start_server: ServerFactory, raw_http: aiohttp.ClientSession, etag: str,
                               if_none_match: str, status: int) -> None:
    """If-None-Match with the ETag (weak, in a list, or *) gets 304 with no body; another, the file."""
    url = await start_server()
    headers = {"If-None-Match": if_none_match.format(etag=etag)}
    async with raw_http.get(f"{url}/socket.io/socket.io.min.js", headers=headers) as resp:
        body = await resp.read()
        assert (resp.status, resp.headers["ETag"]) == (status, etag)
    assert body == (b"" if status == 304 else (DIST / "socket.io.min.js").read_bytes())


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_per_accept_encoding(start_server: ServerFactory, raw_http: aiohttp.ClientSession,
                                              etag: str, coding: str) -> None:
    """Accept-Encoding gzip or deflate: the bundle compressed once and kept, decoding to the file."""
    url = await start_server()
    bodies = []
    for _ in range(2):
        async with raw_http.get(f"{url}/socket.io/socket.io.js", headers={"Accept-Encoding": coding}) as resp:
            assert resp.headers["Content-Encoding"] == coding
            bodies.append(await resp.read())
    assert bodies[0] == bodies[1]
    decoded = gzip.decompress(bodies[0]) if coding == "gzip" else zlib.decompress(bodies[0])
    assert decoded == (DIST / "socket.io.js").read_bytes()
    assert len(bodies[0]) < len(decoded) // 3


async def test_under_path_and_off(start_server: ServerFactory, raw_http: aiohttp.ClientSession,
                                  etag: str) -> None:
    """--path /rt/ serves them at /rt/socket.io.min.js; --no-serve-client nowhere; neither at other names."""
    moved = await start_server(path="/rt/")
    off = await start_server(serve_client=False)
    expected = [(moved + "/rt/socket.io.min.js", 200), (moved + "/socket.io/socket.io.min.js", 404),
                (off + "/socket.io/socket.io.min.js", 404), (moved + "/rt/socket.io.cjs", 404),
                (moved + "/rt/index.html", 404)]
    got = []
    for url, _ in expected:
        async with raw_http.get(url) as resp:
            got.append((url, resp.status))
    assert got == expected


async def test_no_http_compression_serves_them_as_they_are(start_server: ServerFactory,
                                                           raw_http: aiohttp.ClientSession,
                                                           etag: str) -> None:
    """--no-http-compression: the bundle as installed even to a gzip client, and no Vary."""
    url = await start_server(http_compression=False)
    async with raw_http.get(f"{url}/socket.io/socket.io.js", headers={"Accept-Encoding": "gzip"}) as resp:
        assert ("Content-Encoding" in resp.headers, "Vary" in resp.headers) == (False, False)
        assert await resp.read() == (DIST / "socket.io.js").read_bytes()


async def test_cors_for_an_allowed_page(start_server: ServerFactory, raw_http: aiohttp.ClientSession,
                                        etag: str) -> None:
    """A page of a --cors-origins origin gets CORS headers (an ES module import needs them); others none."""
    url = await start_server(cors_origins=("http://app.example",))
    async with raw_http.get(f"{url}/socket.io/socket.io.esm.min.js",
                            headers={"Origin": "http://app.example"}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "http://app.example"
    async with raw_http.get(f"{url}/socket.io/socket.io.esm.min.js",
                            headers={"Origin": "http://other.example"}) as resp:
        assert (resp.status, "Access-Control-Allow-Origin" in resp.headers) == (200, False)


async def test_missing_package_is_a_404_saying_so(start_server: ServerFactory,
                                                  raw_http: aiohttp.ClientSession, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without socket.io-client installed: a 404 saying so and how to install it."""
    monkeypatch.setattr(clientjs, "DIST", tmp_path / "socket.io-client" / "dist")
    url = await start_server()
    async with raw_http.get(f"{url}/socket.io/socket.io.js") as resp:
        assert resp.status == 404
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await resp.text() == ("socket.io-client is not installed: run make run / npm ci in "
                                     "client_demo\n")
