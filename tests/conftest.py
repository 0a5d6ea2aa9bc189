"""Shared test fixtures: real servers on free ports, real clients, one timeout unit.

Timeouts are multiples of ``UNIT`` seconds; set OPENLINE_TEST_SLOWDOWN=3 on a slow box.
Under CI=true a missing tool fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer
from openline.app import create_app
from openline.config import Config

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
JS_DIR = TESTS / "js"
TEST_PLUGINS = TESTS / "plugins"
OUTPUT = TESTS / "output"
UNIT = float(os.environ.get("OPENLINE_TEST_SLOWDOWN", "1"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip when a tool is missing, but fail under CI=true: CI installs every tool."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} is not available")


def require_tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    require(path is not None, f"the {name!r} executable")
    assert path is not None
    return path


ServerFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    """``url = await start_server(**config_fields)``: a real server on a free port.

    The test plugins in tests/plugins are loaded unless ``plugins_dirs`` says otherwise.
    """
    servers: list[TestServer] = []

    async def start(**fields: Any) -> str:
        fields.setdefault("plugins_dirs", (TEST_PLUGINS,))
        fields.setdefault("port", 0)
        config = Config(**fields)
        config.check()
        server = TestServer(create_app(config), host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def server_url(start_server: ServerFactory) -> str:
    """A server with the default config plus the test plugins."""
    return await start_server()


@pytest.fixture
async def py_client() -> AsyncIterator[Callable[[], socketio.AsyncClient]]:
    """``client = py_client()``: python-socketio AsyncClients, disconnected at teardown."""
    clients: list[socketio.AsyncClient] = []

    def make(**kwargs: Any) -> socketio.AsyncClient:
        kwargs.setdefault("reconnection", False)
        client = socketio.AsyncClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.connected:
            await client.disconnect()


async def run_node(script: str, options: dict[str, Any], timeout: float = 20) -> Any:
    """Run ``tests/js/<script>`` with ``options`` as JSON in argv[2]; return the JSON it
    prints last on stdout. The scripts use the npm socket.io-client (tests/js/package.json)."""
    require_tool("node")
    require((JS_DIR / "node_modules" / "socket.io-client").is_dir(),
            "tests/js/node_modules (run `make test`, which runs npm ci)")
    proc = await asyncio.create_subprocess_exec(
        "node", str(JS_DIR / script), json.dumps(options),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(JS_DIR))
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout * UNIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"node {script} did not finish within {timeout * UNIT}s") from None
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert proc.returncode == 0, f"node {script} exited {proc.returncode}: {err.decode()[-2000:]}"
    assert lines, f"node {script} printed nothing; stderr: {err.decode()[-2000:]}"
    return json.loads(lines[-1])
