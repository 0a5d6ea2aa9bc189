"""Plugins' app hooks on the real app: setup(app) routes, middleware and cleanup_ctx, the routes
it may not take, and allow_request before an Engine.IO or bridge session exists."""

from __future__ import annotations

import base64
import json
import logging
import os
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openline.app import create_app
from openline.config import Config
from openline.errors import PluginError

from tests.conftest import UNIT, ServerFactory

FORBIDDEN = {"code": 4, "message": "Forbidden"}

SETUP = '''
from pathlib import Path

from aiohttp import web

LOG = Path(__file__).with_suffix(".log")  # what ran, one line each


async def hello(request):
    return web.json_response({"hello": request.match_info["name"]})


@web.middleware
async def stamp(request, handler):
    response = await handler(request)
    response.headers["X-Plugin"] = "stamped"
    return response


async def lifetime(app):
    with LOG.open("a") as log:
        log.write("started\\n")
    yield
    with LOG.open("a") as log:
        log.write("stopped\\n")


def setup(app):
    with LOG.open("a") as log:
        log.write("setup\\n")
    app.router.add_get("/hello/{name}", hello)
    app.middlewares.append(stamp)
    app.cleanup_ctx.append(lifetime)
'''

GATE = '''
import asyncio

def allow_request(request):
    return request.headers.get("X-Let-In") == "yes"
'''

ASYNC_GATE = '''
import asyncio

async def allow_request(request):
    await asyncio.sleep(0)
    return "nope" not in request.query_string
'''


def plugins(directory: Path, **modules: str) -> Path:
    for name, body in modules.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return directory


def upgrade_headers(**extra: str) -> dict[str, str]:
    key = base64.b64encode(os.urandom(16)).decode()
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13", **extra}


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers or {}) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def test_setup_adds_a_route_a_middleware_and_a_cleanup_ctx(start_server: ServerFactory,
                                                                  tmp_path: Path) -> None:
    """setup(app)'s route answers, its middleware stamps openline's responses too, its cleanup_ctx runs."""
    url = await start_server(plugins_dirs=(plugins(tmp_path, site=SETUP),))
    status, headers, body = await get(url + "/hello/ann")
    assert (status, headers["X-Plugin"], json.loads(body)) == (200, "stamped", {"hello": "ann"})
    status, headers, body = await get(url + "/socket.io/?EIO=4&transport=polling")
    assert (status, headers["X-Plugin"], body[:1]) == (200, "stamped", b"0")


async def test_setup_is_called_once_per_app_and_its_cleanup_ctx_runs(tmp_path: Path) -> None:
    """Each create_app calls setup once; the cleanup_ctx it added starts and stops with its own app."""
    config = Config(builtins=False, plugins_dirs=(plugins(tmp_path, site=SETUP),))
    log = tmp_path / "site.log"
    first = create_app(config)
    assert log.read_text() == "setup\n"
    create_app(config)
    assert log.read_text() == "setup\nsetup\n"
    runner = aiohttp.web.AppRunner(first)
    await runner.setup()
    assert log.read_text() == "setup\nsetup\nstarted\n"
    await runner.cleanup()
    assert log.read_text() == "setup\nsetup\nstarted\nstopped\n"


ROUTE = "async def page(request):\n    pass\n\ndef setup(app):\n    app.router.{}\n"


@pytest.mark.parametrize("body,reason", [
    (ROUTE.format("add_get('/socket.io/', page)"),
     "setup(app) adds a route at /socket.io/, which is openline's own: it would never be reached"),
    (ROUTE.format("add_get('/socket.io/extra', page)"),
     "setup(app) adds a route at /socket.io/extra, which is openline's own"),
    (ROUTE.format("add_get('/api/v1/emit', page)"),
     "setup(app) adds a route at /api/v1/emit, which is openline's own"),
    ("async def setup(app):\n    pass\n",
     "setup(app) must be a plain function; start async work in app.cleanup_ctx or app.on_startup"),
    ("def setup(app):\n    raise KeyError('no')\n", "setup(app) failed: KeyError: 'no'"),
    ("allow_request = 3\n", "'allow_request' must be a function, not 3"),
])
def test_unusable_setup_refuses_start_up(tmp_path: Path, body: str, reason: str) -> None:
    """A setup hiding behind openline's routes, async or failing, or a non-callable hook: PluginError."""
    path = tmp_path / "bad.py"
    path.write_text(body)
    with pytest.raises(PluginError) as info:
        create_app(Config(builtins=False, plugins_dirs=(tmp_path,)))
    assert str(info.value).startswith(f"plugin {path}: {reason}")


@pytest.mark.parametrize("kind", ["polling", "websocket", "bridge"])
async def test_allow_request_refuses_before_any_session(start_server: ServerFactory, tmp_path: Path,
                                                        kind: str) -> None:
    """A False verdict: Engine.IO's 403 {"code":4,"message":"Forbidden"} on polling, WebSocket and bridge."""
    url = await start_server(plugins_dirs=(plugins(tmp_path, gate=GATE),))
    path = {"polling": "/socket.io/?EIO=4&transport=polling",
            "websocket": "/socket.io/?EIO=4&transport=websocket", "bridge": "/"}[kind]
    headers = upgrade_headers() if kind != "polling" else {}
    status, got, body = await get(url + path, headers)
    assert (status, got["Content-Type"], json.loads(body)) == (403, "application/json", FORBIDDEN)
    status, got, body = await get(url + path, {**headers, "X-Let-In": "yes"})
    assert status == (200 if kind == "polling" else 101)


async def test_allowed_clients_connect_on_both_transports(start_server: ServerFactory, tmp_path: Path,
                                                          py_client: Any) -> None:
    """With the header allow_request wants, AsyncClient connects over polling and WebSocket."""
    url = await start_server(plugins_dirs=(plugins(tmp_path, gate=GATE),))
    for transports in (["polling"], ["websocket"]):
        client = py_client()
        await client.connect(url, headers={"X-Let-In": "yes"}, transports=transports,
                             wait_timeout=5 * UNIT)
        assert await client.call("echo", "in", timeout=5 * UNIT) == "in"


async def test_an_open_session_is_not_asked_again(start_server: ServerFactory, tmp_path: Path) -> None:
    """allow_request decides the handshake only: the session's polls and its upgrade are not re-checked."""
    url = await start_server(plugins_dirs=(plugins(tmp_path, gate=GATE),))
    status, _, body = await get(url + "/socket.io/?EIO=4&transport=polling", {"X-Let-In": "yes"})
    sid = json.loads(body[1:])["sid"]
    async with aiohttp.ClientSession() as http:
        async with http.post(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40") as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        async with http.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}") as resp:
            assert resp.status == 200 and (await resp.text()).startswith("40{")
        async with http.ws_connect(url.replace("http", "ws")
                                   + f"/socket.io/?EIO=4&transport=websocket&sid={sid}") as ws:
            await ws.send_str("2probe")
            assert (await ws.receive()).data == "3probe"


async def test_async_checks_of_several_plugins_must_all_pass(start_server: ServerFactory,
                                                             tmp_path: Path) -> None:
    """Two plugins' allow_request (one sync, one async) run in load order; either refusing refuses."""
    url = await start_server(plugins_dirs=(plugins(tmp_path, gate=GATE, later=ASYNC_GATE),))
    polling = url + "/socket.io/?EIO=4&transport=polling"
    assert (await get(polling, {"X-Let-In": "yes"}))[0] == 200
    assert (await get(polling + "&nope=1", {"X-Let-In": "yes"}))[0] == 403
    assert (await get(polling + "&nope=1"))[0] == 403


@pytest.mark.parametrize("body,record", [
    ("def allow_request(request):\n    raise RuntimeError('db down')\n",
     (logging.ERROR, "allow_request of {path} failed: the request is refused")),
    ("def allow_request(request):\n    pass\n",
     (logging.WARNING, "allow_request of {path} returned None, not True or False: the request is refused")),
])
async def test_a_failing_or_unclear_check_refuses(start_server: ServerFactory, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture, body: str,
                                                  record: tuple[int, str]) -> None:
    """allow_request raising (traceback logged) or returning None (WARNING) refuses: it fails closed."""
    (tmp_path / "odd.py").write_text(body)
    url = await start_server(plugins_dirs=(tmp_path,))
    with caplog.at_level(logging.WARNING, logger="openline.plugins"):
        assert (await get(url + "/socket.io/?EIO=4&transport=polling"))[0] == 403
    level, message = record
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "openline.plugins"] == \
        [(level, message.format(path=tmp_path / "odd.py"))]
