"""Protocol fixtures: real servers in their own processes, raw aiohttp requests.

Each test runs against both targets: ``engine`` (``python -m openline.engine``, the bare
Engine.IO echo server at /engine.io/) and ``full`` (openline's app at /socket.io/).
Servers start once per test session per configuration profile. OPENLINE_PROTOCOL_ENGINE=stock builds them on
python-engineio instead (a hand run, to show which rules stock misses; not ``make test``).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.conftest import ROOT, UNIT

ENGINE = os.environ.get("OPENLINE_PROTOCOL_ENGINE", "ours")

# Configuration profiles; "heartbeat" is the reference test suite's own setting; None:
# a switch. "options" and "plain": the engine options of test_options.py.
PROFILES: dict[str, dict[str, str | None]] = {
    "default": {"max-payload": "10000"},
    "heartbeat": {"ping-interval": "0.3", "ping-timeout": "0.2"},
    "cors": {"cors-origins": "http://allowed.example"},
    "sio": {"connect-timeout": "0.5"},
    "options": {"path": "/rt/", "cookie": "sticky", "upgrade-timeout": "0.3"},
    "plain": {"no-http-compression": None, "no-upgrades": None,
              "cookie": "lb;path=/;secure;samesite=none;max-age=3600"},
}
PATHS = {"options": "/rt/"}  # a profile's --path, where it is not the target's default


class Servers:
    """Starts ``python -m tests.protocol.servers`` on first use of a (kind, profile)."""

    def __init__(self) -> None:
        self.procs: dict[tuple[str, str], tuple[subprocess.Popen[str], str]] = {}

    def base(self, kind: str, profile: str) -> str:
        key = (kind, profile)
        if key not in self.procs:
            args = [f"--{k}" if v is None else f"--{k}={v}" for k, v in PROFILES[profile].items()]
            if kind == "engine" and ENGINE == "ours":  # the standalone command itself
                command = ["-m", "openline.engine", "--host", "127.0.0.1", "--port", "0", *args]
            else:
                command = ["-m", "tests.protocol.servers", kind, ENGINE, *args]
            proc = subprocess.Popen([sys.executable, *command], cwd=ROOT,
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 20 * UNIT)
            line = proc.stdout.readline() if ready else ""
            found = re.search(r"listening on (http://[^/\s]+)", line)
            if found is None:
                proc.kill()
                proc.wait()
                proc.stdout.close()
                raise RuntimeError(f"{kind}/{profile} server did not start: {line!r}")
            self.procs[key] = (proc, found.group(1))
        return self.procs[key][1]

    def close(self) -> None:
        for proc, _ in self.procs.values():
            proc.terminate()
        for proc, _ in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    running.close()


class Target:
    """One server under test: URLs and what an application-level round trip looks like."""

    def __init__(self, servers: Servers, kind: str) -> None:
        self.servers = servers
        self.kind = kind
        self.path = "/engine.io/" if kind == "engine" else "/socket.io/"

    def url(self, profile: str = "default", scheme: str = "http", **query: Any) -> str:
        query = {"EIO": "4", "transport": "polling", **query}
        params = urlencode({k: v for k, v in query.items() if v is not None})
        base = self.servers.base(self.kind, profile)
        if scheme == "ws":
            base = "ws" + base[4:]
        return f"{base}{PATHS.get(profile, self.path)}?{params}"

    def ws_url(self, profile: str = "default", **query: Any) -> str:
        return self.url(profile, scheme="ws", transport="websocket", **query)

    def origin(self, profile: str = "default") -> str:
        return self.servers.base(self.kind, profile)

    # An Engine.IO message and the reply it gets: the echo server sends it back, the
    # Socket.IO server answers a CONNECT to "/" with its CONNECT ack.
    @property
    def hello(self) -> str:
        return "4hello" if self.kind == "engine" else "40"

    def is_reply(self, packet: str) -> bool:
        if self.kind == "engine":
            return packet == "4hello"
        return packet.startswith('40{"sid":"')


@pytest.fixture(params=["engine", "full"])
def target(request: pytest.FixtureRequest, servers: Servers) -> Target:
    return Target(servers, request.param)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10 * UNIT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def open_polling(http: aiohttp.ClientSession, target: Target,
                       profile: str = "default") -> str:
    """A new polling session's sid (the handshake GET, checked)."""
    async with http.get(target.url(profile)) as resp:
        assert resp.status == 200
        body = await resp.text()
    assert body[0] == "0", body
    return str(json.loads(body[1:])["sid"])


async def get_text(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, str]:
    async with http.get(url, **kwargs) as resp:
        return resp.status, await resp.text()


async def post_text(http: aiohttp.ClientSession, url: str, body: Any, **kwargs: Any) -> tuple[int, str]:
    async with http.post(url, data=body, **kwargs) as resp:
        return resp.status, await resp.text()


async def post_ok(http: aiohttp.ClientSession, url: str, body: Any) -> None:
    """POST packets as a step of a test: accepted (the `ok` body is its own test)."""
    status, text = await post_text(http, url, body)
    assert status == 200, (status, text)


async def upgrade(http: aiohttp.ClientSession, target: Target, sid: str,
                  profile: str = "default") -> aiohttp.ClientWebSocketResponse:
    """Complete the probe/upgrade handshake for ``sid``; the WebSocket afterwards."""
    ws = await http.ws_connect(target.ws_url(profile, sid=sid))
    await ws.send_str("2probe")
    assert await ws.receive_str(timeout=5 * UNIT) == "3probe"
    await ws.send_str("5")
    return ws


async def assert_ws_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The server ends the session: a Socket.IO DISCONNECT and/or the Engine.IO close
    packet at most, then the WebSocket closes."""
    while True:
        msg = await ws.receive(timeout=5 * UNIT)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        assert msg.data == "1" or msg.data.startswith("41"), msg.data
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg


def error(code: int) -> dict[str, Any]:
    """The reference server's error body (engine.io Server.errors / errorMessages)."""
    return {"code": code, "message": {
        0: "Transport unknown", 1: "Session ID unknown", 2: "Bad handshake method",
        3: "Bad request", 4: "Forbidden", 5: "Unsupported protocol version"}[code]}


@pytest.fixture(scope="module")
def full(servers: Servers) -> str:
    """openline's whole app (tests/protocol/servers.py ``full``), default profile."""
    return servers.base("full", "default")


@pytest.fixture(scope="module")
def cors(servers: Servers) -> str:
    """openline's whole app with --cors-origins http://allowed.example."""
    return servers.base("full", "cors")
