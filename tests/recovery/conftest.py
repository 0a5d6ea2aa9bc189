"""Recovery fixtures: the cluster suite's Redis and node processes, and ``live``: real
socket.io-client sockets (tests/js/live_client.mjs) driven step by step."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.cluster.conftest import (  # noqa: F401  (fixtures re-exported)
    free_port,
    node_processes,
    read_until,
    redis,
    start_node,
    two_nodes,
)
from tests.conftest import JS_DIR, ROOT, UNIT, require, require_tool

PLUGINS = ROOT / "tests" / "recovery" / "plugins"


class LiveClient:
    """One ``node live_client.mjs`` process; ``send`` a command, ``expect`` what a socket saw.

    Every line it prints is kept in ``seen`` in arrival order; ``expect`` returns the
    first line not yet taken that matches, waiting for it if need be."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        require_tool("node")
        require((JS_DIR / "node_modules" / "socket.io-client").is_dir(),
                "tests/js/node_modules (run `make test`, which runs npm ci)")
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(JS_DIR / "live_client.mjs"), cwd=str(JS_DIR),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.seen.append(json.loads(line))
            self._arrived.set()

    async def send(self, op: str, name: str = "a", **fields: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, "name": name, **fields}) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, kind: str, name: str = "a", timeout: float = 10,
                     where: Callable[[dict[str, Any]], bool] = lambda line: True) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for i, line in enumerate(self.seen):
                    if i not in self._taken and line.get("name") == name and line["type"] == kind \
                            and where(line):
                        self._taken.add(i)
                        return line
                self._arrived.clear()
                await self._arrived.wait()

        try:
            return await asyncio.wait_for(wait(), timeout * UNIT)
        except TimeoutError:
            raise AssertionError(f"{name} saw no {kind} in {timeout * UNIT}s; saw {self.seen}") from None

    async def call(self, event: str, *args: Any, name: str = "a") -> Any:
        """Emit with an ack and return the ack's argument."""
        tag = f"t{len(self.seen)}-{event}"
        await self.send("emit", name, event=event, args=list(args), tag=tag)
        line = await self.expect("ack", name, where=lambda x: x.get("tag") == tag)
        return line["args"][0]

    async def got(self, count: int, name: str = "a", timeout: float = 10) -> list[list[Any]]:
        """Every event the socket got, once it has got at least ``count``."""
        async def wait() -> list[list[Any]]:
            while len(found := self.events(name)) < count:
                self._arrived.clear()
                await self._arrived.wait()
            return found

        try:
            return await asyncio.wait_for(wait(), timeout * UNIT)
        except TimeoutError:
            raise AssertionError(f"{name} got {self.events(name)}, not {count} events") from None

    def events(self, name: str = "a", event: str | None = None) -> list[list[Any]]:
        """Every event the socket got so far, as [event, *args], in order."""
        return [[line["event"], *line["args"]] for line in self.seen
                if line.get("name") == name and line["type"] == "event"
                and (event is None or line["event"] == event)]

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        await self.send("exit")
        try:
            await asyncio.wait_for(self.proc.wait(), 5 * UNIT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader


class HoldingProxy:
    """A TCP proxy to a server that can *hold* its current connections: after ``hold()``
    nothing more is forwarded on them, either way, and a client's close is not passed
    on, so the server keeps the old transport open until its own timeout. Connections
    made afterwards are forwarded as usual."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, list[bool]]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        held = [False]
        self._pairs.append((writer, up_writer, held))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while (chunk := await src.read(65536)) and not held[0]:
                dst.write(chunk)
            if not held[0]:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    def hold(self) -> None:
        for _, _, held in self._pairs:
            held[0] = True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer, up_writer, _ in self._pairs:
            for each in (writer, up_writer):
                each.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(each.wait_closed(), 2 * UNIT)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2 * UNIT)


@pytest.fixture
async def holding_proxy() -> AsyncIterator[Callable[[int], Any]]:
    """``proxy = await holding_proxy(port)``: a started HoldingProxy to 127.0.0.1:port."""
    proxies: list[HoldingProxy] = []

    async def start(port: int) -> HoldingProxy:
        proxy = HoldingProxy(port)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.stop()


@pytest.fixture
async def live() -> AsyncIterator[LiveClient]:
    """A started live_client.mjs; stopped after the test."""
    client = LiveClient()
    await client.start()
    yield client
    await client.stop()
