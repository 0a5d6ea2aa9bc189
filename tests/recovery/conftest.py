"""Recovery fixtures: the cluster suite's Redis and node processes, and ``live``: real
socket.io-client sockets (tests/js/live_client.mjs) driven step by step."""

from __future__ import annotations

import asyncio
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


@pytest.fixture
async def live() -> AsyncIterator[LiveClient]:
    """A started live_client.mjs; stopped after the test."""
    client = LiveClient()
    await client.start()
    yield client
    await client.stop()
