"""Recovery fixtures: the cluster suite's Redis and node processes, and ``live``: real
socket.io-client sockets (tests/js/live_client.mjs) driven step by step."""

from __future__ import annotations

import asyncio
import contextlib
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
from tests.conftest import ROOT, UNIT
from tests.recovery.fleet import Fleet
from tests.recovery.node_script import NodeScript

PLUGINS = ROOT / "tests" / "recovery" / "plugins"


class LiveClient(NodeScript):
    """One ``node live_client.mjs``; ``send`` a command, ``expect`` what a socket saw."""

    script = "live_client.mjs"

    async def send(self, op: str, name: str = "a", **fields: Any) -> None:
        await self.command(op=op, name=name, **fields)

    async def expect(self, kind: str, name: str = "a", timeout: float = 10,
                     where: Callable[[dict[str, Any]], bool] = lambda line: True) -> dict[str, Any]:
        return await self.wait_for(kind, name, timeout, where)

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
async def fleet() -> AsyncIterator[Any]:
    """A started drain_client.mjs (tests/recovery/fleet.py); stopped after the test."""
    client = Fleet()
    await client.start()
    yield client
    await client.stop()


@pytest.fixture
async def live() -> AsyncIterator[LiveClient]:
    """A started live_client.mjs; stopped after the test."""
    client = LiveClient()
    await client.start()
    yield client
    await client.stop()
