"""Cluster fixtures: a real redis-server on a free port, nodes sharing it, node processes.

No fixed sleeps: redis-server is ready when it prints "Ready to accept connections" and
answers PING; an ``openline run`` process when it prints its "listening" line.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openline.app import SIO_KEY, create_app
from openline.cluster.redis_manager import RedisManager
from openline.config import Config

from tests.conftest import ROOT, UNIT, require_tool

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_until(stream: asyncio.StreamReader, pattern: str, what: str,
                     timeout: float = 10, keep: bytearray | None = None) -> re.Match[str]:
    """The first line of ``stream`` matching ``pattern``; fails with the lines seen.
    ``keep``: every line read is appended to it too."""
    seen: list[str] = []

    async def scan() -> re.Match[str]:
        while True:
            raw = await stream.readline()
            if keep is not None:
                keep.extend(raw)
            if not raw:
                raise AssertionError(f"{what} ended before {pattern!r}; output: {seen[-20:]}")
            line = raw.decode(errors="replace").rstrip()
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    try:
        return await asyncio.wait_for(scan(), timeout * UNIT)
    except TimeoutError:
        raise AssertionError(f"no {pattern!r} from {what} in {timeout * UNIT}s: {seen[-20:]}") from None


async def drain(stream: asyncio.StreamReader) -> None:
    """Keep reading so a chatty child never blocks on a full pipe."""
    while await stream.readline():
        pass


class RedisServer:
    """One redis-server child on a fixed free port; stop() and start() again keep the URL."""

    def __init__(self) -> None:
        self.executable = require_tool("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--loglevel", "notice",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert self.proc.stdout is not None
        await read_until(self.proc.stdout, "Ready to accept connections", "redis-server")
        self._drain = asyncio.ensure_future(drain(self.proc.stdout))
        assert await self.command("PING") == "+PONG"

    async def command(self, *words: str) -> str:
        """Send one inline command and return the first reply line."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write((" ".join(words) + "\r\n").encode())
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 5 * UNIT)).decode().rstrip()
        finally:
            writer.close()
            await writer.wait_closed()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        await bounded(self.proc.wait(), "redis-server exiting")
        if self._drain is not None:
            await bounded(self._drain, "reading redis-server's last output")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    """A fresh redis-server for this test on a free port."""
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


@dataclass
class Node:
    """An in-process openline node: its URL and the app (to reach its server/manager)."""

    url: str
    app: web.Application

    @property
    def sio(self) -> Any:
        return self.app[SIO_KEY]

    @property
    def manager(self) -> RedisManager:
        manager = self.sio.manager
        assert isinstance(manager, RedisManager)
        return manager


@pytest.fixture
async def start_node() -> AsyncIterator[Any]:
    """``node = await start_node(**config_fields)``: an in-process node on a free port,
    built by create_app (only the built-in namespaces unless plugins_dirs is given)."""
    servers: list[TestServer] = []

    async def start(**fields: Any) -> Node:
        fields.setdefault("plugins_dirs", ())
        fields.setdefault("port", 0)
        config = Config(**fields)
        config.check()
        app = create_app(config)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return Node(f"http://127.0.0.1:{server.port}", app)

    yield start
    for server in servers:
        await bounded(server.close(), "closing an in-process node")


async def bounded(step: Any, what: str, timeout: float = 20) -> Any:
    """Await a teardown step; a hang fails naming the step instead of the whole test."""
    try:
        return await asyncio.wait_for(step, timeout * UNIT)
    except TimeoutError:
        raise AssertionError(f"{what} did not finish within {timeout * UNIT}s") from None


@pytest.fixture
async def two_nodes(redis: RedisServer, start_node: Any) -> tuple[Node, Node]:
    """Two nodes subscribed to one Redis."""
    return (await start_node(redis_url=redis.url), await start_node(redis_url=redis.url))


class NodeProcess:
    """``python -m openline run --port 0 …`` as a child; ``url`` and ``port`` from its
    listening line; everything it writes (stdout and stderr) kept in ``output``.
    ``nofile`` lowers its descriptor limit (RLIMIT_NOFILE) before the server starts;
    ``python`` and ``cwd`` run it from another environment and folder."""

    def __init__(self, *args: str, nofile: int | None = None, python: str = PYTHON,
                 cwd: Path = ROOT) -> None:
        self.args = args
        self.nofile = nofile
        self.python = python
        self.cwd = cwd
        self.url = ""
        self.port = 0
        self.output = bytearray()
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def log(self) -> str:
        return self.output.decode(errors="replace")

    async def start(self) -> None:
        argv = ["run", "--host", "127.0.0.1", "--port", "0", *self.args]
        if self.nofile is None:
            command = [self.python, "-m", "openline", *argv]
        else:
            command = [self.python, "-c", (
                "import resource, runpy, sys\n"
                f"resource.setrlimit(resource.RLIMIT_NOFILE, ({self.nofile}, {self.nofile}))\n"
                f"sys.argv = ['openline', *{argv!r}]\n"
                "runpy.run_module('openline', run_name='__main__')\n")]
        self.proc = await asyncio.create_subprocess_exec(
            *command, cwd=str(self.cwd), env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert self.proc.stdout is not None
        match = await read_until(self.proc.stdout, r"openline listening on (http://\S+)",
                                 "openline run", timeout=20, keep=self.output)
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        self._drain = asyncio.ensure_future(self._keep(self.proc.stdout))

    async def _keep(self, stream: asyncio.StreamReader) -> None:
        """Keep reading, so a chatty child never blocks on a full pipe."""
        while chunk := await stream.read(65536):
            self.output += chunk

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10 * UNIT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._drain is not None:
            await self._drain


@pytest.fixture
async def node_processes() -> AsyncIterator[Any]:
    """``proc = await node_processes(*cli_args)``: started ``openline run`` children."""
    procs: list[NodeProcess] = []

    async def start(*args: str, nofile: int | None = None) -> NodeProcess:
        proc = NodeProcess(*args, nofile=nofile)
        procs.append(proc)
        await proc.start()
        return proc

    yield start
    for proc in procs:
        await proc.stop()
