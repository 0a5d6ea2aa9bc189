"""The long-polling fast path, byte for byte: engine requests served past aiohttp's router
(net/fast_dispatch.py) and answered by ``Answer`` (engine/answer.py) get exactly the
head aiohttp wrote before; plugin middlewares and signals still see them."""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from openline.app import create_app
from openline.config import Config
from openline.engine.answer import Answer
from openline.net.fast_dispatch import direct_route
from openline.net.http_guard import name_server

from tests.conftest import ROOT, UNIT
from tests.protocol.conftest import Servers

DATE = re.compile(rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                  rb"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n")

MIDDLEWARE = '''
from aiohttp import web

@web.middleware
async def stamp(request, handler):
    response = await handler(request)
    response.headers["X-Seen"] = request.path
    return response

def setup(app):
    app.middlewares.append(stamp)
'''

SIGNAL = '''
async def stamp(request, response):
    response.headers["X-Signal"] = request.path

def setup(app):
    app.on_response_prepare.append(stamp)
'''


class Raw:
    """One keep-alive HTTP connection written and read by hand."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10 * UNIT)
        self.buf = b""

    def send(self, method: str, target: str, extra: str = "", body: bytes = b"",
             version: str = "1.1") -> None:
        head = f"{method} {target} HTTP/{version}\r\nHost: x\r\n{extra}"
        if method == "POST":
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall((head + "\r\n").encode() + body)

    def answer(self) -> tuple[str, bytes]:
        """(head with the Date value masked, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head += b"\r\n"
        found = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
        n = int(found.group(1)) if found else 0
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        assert len(DATE.findall(head)) == 1
        return DATE.sub(b"Date: <date>\r\n", head).decode(), body

    def closed(self) -> bool:
        """True when the server has closed the connection (nothing more arrives)."""
        return self.sock.recv(1) == b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "connection closed"
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def head(status: str, *lines: str, version: str = "1.1") -> str:
    return "".join(f"{line}\r\n" for line in (f"HTTP/{version} {status}", *lines))


def session(base: str, path: str = "/socket.io/", extra: str = "") -> tuple[Raw, Raw, str]:
    """(GET connection, POST connection, the session's URL) after a handshake."""
    gets, posts = Raw(base), Raw(base)
    gets.send("GET", f"{path}?EIO=4&transport=polling", extra)
    _, body = gets.answer()
    sid = json.loads(body[1:])["sid"]
    return gets, posts, f"{path}?EIO=4&transport=polling&sid={sid}"


def test_get_payload_and_post_ok_heads(full: str) -> None:
    """A poll's payload and a POST's ok carry aiohttp's former head exactly (no Connection on keep-alive)."""
    gets, posts, url = session(full)
    posts.send("POST", url, body=b"40")
    assert posts.answer() == (head("200 OK", "Content-Type: text/html; charset=utf-8",
                                   "Content-Length: 2", "Date: <date>", "Server: openline"), b"ok")
    gets.send("GET", url)
    text, body = gets.answer()
    assert body.startswith(b'40{"sid":"')
    assert text == head("200 OK", "Cache-Control: no-store",
                        "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}",
                        "Date: <date>", "Server: openline")
    gets.close()
    posts.close()


def test_handshake_with_cors_head(cors: str) -> None:
    """An allowed Origin's CORS headers come first, in their order, then aiohttp's own."""
    origin = "http://allowed.example"
    gets = Raw(cors)
    gets.send("GET", "/socket.io/?EIO=4&transport=polling", f"Origin: {origin}\r\n")
    text, body = gets.answer()
    assert body.startswith(b'0{"sid":"')
    assert text == head("200 OK", f"Access-Control-Allow-Origin: {origin}",
                        "Access-Control-Allow-Credentials: true", "Vary: Origin",
                        "Cache-Control: no-store", "Content-Type: text/plain; charset=utf-8",
                        f"Content-Length: {len(body)}", "Date: <date>", "Server: openline")
    gets.close()


def test_refusal_head_and_body(full: str) -> None:
    """An unknown sid gets 400 with the reference JSON body, and the connection stays open."""
    raw = Raw(full)
    for _ in range(2):
        raw.send("GET", "/socket.io/?EIO=4&transport=polling&sid=nope")
        assert raw.answer() == (head("400 Bad Request", "Content-Type: application/json",
                                     "Content-Length: 41", "Date: <date>", "Server: openline"),
                                b'{"code":1,"message":"Session ID unknown"}')
    raw.close()


def test_http10_get_is_answered_in_10_and_closed(full: str) -> None:
    """An HTTP/1.0 poll gets an HTTP/1.0 answer without Connection, then the connection closes."""
    gets, posts, url = session(full)
    posts.send("POST", url, body=b"40")
    posts.answer()
    http10 = Raw(full)
    http10.send("GET", url, version="1.0")
    text, body = http10.answer()
    assert text == head("200 OK", "Cache-Control: no-store",
                        "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}",
                        "Date: <date>", "Server: openline", version="1.0")
    assert http10.closed()
    for raw in (gets, posts, http10):
        raw.close()


def test_http10_keep_alive_is_kept(full: str) -> None:
    """HTTP/1.0 with Connection: keep-alive is answered with Connection: keep-alive and kept open."""
    raw = Raw(full)
    for _ in range(2):
        raw.send("GET", "/socket.io/?EIO=4&transport=polling&sid=nope",
                 "Connection: keep-alive\r\n", version="1.0")
        assert raw.answer() == (head("400 Bad Request", "Content-Type: application/json",
                                     "Content-Length: 41", "Date: <date>", "Server: openline",
                                     "Connection: keep-alive", version="1.0"),
                                b'{"code":1,"message":"Session ID unknown"}')
    raw.close()


def test_connection_close_is_answered_and_closed(full: str) -> None:
    """A request with Connection: close gets Connection: close, then the connection closes."""
    gets, posts, url = session(full)
    posts.send("POST", url, "Connection: close\r\n", b"40")
    assert posts.answer() == (head("200 OK", "Content-Type: text/html; charset=utf-8",
                                   "Content-Length: 2", "Date: <date>", "Server: openline",
                                   "Connection: close"), b"ok")
    assert posts.closed()
    gets.close()
    posts.close()


def test_expect_continue_goes_through_aiohttp(full: str) -> None:
    """A POST with Expect: 100-continue gets aiohttp's 100 Continue before its answer."""
    gets, posts, url = session(full)
    posts.send("POST", url, "Expect: 100-continue\r\n", b"40")
    while posts.buf.count(b"\r\n\r\n") < 2:
        posts._more()
    assert posts.buf.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    posts.buf = posts.buf[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    assert posts.answer() == (head("200 OK", "Content-Type: text/html; charset=utf-8",
                                   "Content-Length: 2", "Date: <date>", "Server: openline"), b"ok")
    gets.close()
    posts.close()


def test_standalone_engine_keeps_aiohttp_server_header(servers: Servers) -> None:
    """The bare engine (no name_server signal) still says aiohttp's own Server value."""
    raw = Raw(servers.base("engine", "default"))
    raw.send("GET", "/engine.io/?EIO=4&transport=polling&sid=nope")
    assert raw.answer() == (head("400 Bad Request", "Content-Type: application/json",
                                 "Content-Length: 41", "Date: <date>", f"Server: {SERVER_SOFTWARE}"),
                            b'{"code":1,"message":"Session ID unknown"}')
    raw.close()


@pytest.fixture
def plugin_server(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    procs: list[subprocess.Popen[str]] = []

    def start(body: str) -> str:
        directory = tmp_path / f"p{len(procs)}"
        directory.mkdir()
        (directory / "site.py").write_text(textwrap.dedent(body))
        proc = subprocess.Popen([sys.executable, "-m", "openline", "run", "--host", "127.0.0.1",
                                 "--port", "0", "--no-builtins", "--plugins-dir", str(directory)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20 * UNIT)
        found = re.search(r"listening on (http://\S+)", proc.stdout.readline() if ready else "")
        assert found is not None, "the server did not start"
        return found.group(1)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_plugin_middleware_sees_engine_requests(plugin_server: Callable[[str], str]) -> None:
    """With a plugin middleware installed, polls and POSTs still pass through it."""
    base = plugin_server(MIDDLEWARE)
    gets, posts, url = session(base)
    posts.send("POST", url, body=b"40")
    assert posts.answer() == (head("200 OK", "Content-Type: text/html; charset=utf-8",
                                   "X-Seen: /socket.io/", "Content-Length: 2", "Date: <date>",
                                   "Server: openline"), b"ok")
    gets.send("GET", url)
    text, body = gets.answer()
    assert "\r\nX-Seen: /socket.io/\r\n" in text
    gets.close()
    posts.close()


def test_plugin_signal_runs_for_engine_responses(plugin_server: Callable[[str], str]) -> None:
    """A plugin's on_response_prepare still runs for engine answers, before name_server, as before."""
    base = plugin_server(SIGNAL)
    raw = Raw(base)
    raw.send("GET", "/socket.io/?EIO=4&transport=polling&sid=nope")
    assert raw.answer() == (head("400 Bad Request", "Content-Type: application/json",
                                 "Content-Length: 41", "Date: <date>", "Server: openline",
                                 "X-Signal: /socket.io/"),
                            b'{"code":1,"message":"Session ID unknown"}')
    raw.close()


def test_direct_route_only_when_the_router_would_agree(tmp_path: Path) -> None:
    """The engine route is served directly for a plain app, not once a plugin adds a middleware."""
    plain = create_app(Config(builtins=False, plugins_dirs=()))
    plain.freeze()
    found = direct_route(plain)
    assert found is not None and found[0] == "/socket.io/"
    (tmp_path / "site.py").write_text(textwrap.dedent(MIDDLEWARE))
    stamped = create_app(Config(builtins=False, plugins_dirs=(tmp_path,)))
    stamped.freeze()
    assert direct_route(stamped) is None


async def handler(request: web.Request) -> web.Response:
    return web.Response()


async def other(request: web.Request) -> web.Response:
    return web.Response()


def test_direct_route_refuses_a_resource_registered_first() -> None:
    """A resource registered before the marked one at the same index key keeps the router."""
    handler.direct_dispatch = True  # type: ignore[attr-defined]
    app = web.Application()
    app.router.add_get("/x/{tail:.*}", other)
    app.router.add_route("*", "/x/", handler)
    app.freeze()
    assert direct_route(app) is None
    alone = web.Application()
    alone.router.add_route("*", "/x/", handler)
    alone.freeze()
    found = direct_route(alone)
    assert found is not None and found[0] == "/x/"


def variant(kind: str, name: str) -> web.Response:
    """An Answer or the web.Response the engine used to build, changed as ``name`` says."""
    if kind == "answer":
        response: web.Response = Answer(b"hello", "text/plain; charset=utf-8",
                                        {"Cache-Control": "no-store"})
    else:
        response = web.Response(text="hello", content_type="text/plain", charset="utf-8",
                                headers={"Cache-Control": "no-store"})
    if name == "close":
        response.force_close()
    elif name == "cookie":
        response.set_cookie("a", "b")
    elif name == "length":
        response.headers["Content-Length"] = "3"
    elif name == "gzip":
        response.enable_compression()
    return response


async def exchange(port: int, method: str, target: str, version: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {target} HTTP/{version}\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                 .encode())
    head = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
    body = b"" if method == "HEAD" or found is None else await reader.readexactly(int(found.group(1)))
    writer.close()
    await writer.wait_closed()
    return DATE.sub(b"Date: <date>\r\n", head) + body


@pytest.mark.parametrize("signal", [True, False])
async def test_answer_writes_what_web_response_writes(signal: bool) -> None:
    """Answer puts on the wire the bytes of the web.Response it replaced, whatever aiohttp varies on."""
    async def handle(request: web.Request) -> web.Response:
        return variant(request.query["kind"], request.query["name"])

    app = web.Application()
    app.router.add_route("*", "/", handle)
    if signal:
        app.on_response_prepare.append(name_server)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for name in ("plain", "close", "cookie", "length", "gzip"):
            for method, version in (("GET", "1.1"), ("POST", "1.1"), ("HEAD", "1.1"), ("GET", "1.0")):
                answer, response = [await exchange(port, method, f"/?kind={kind}&name={name}", version)
                                    for kind in ("answer", "response")]
                assert answer == response, (name, method, version)
    finally:
        await runner.cleanup()
