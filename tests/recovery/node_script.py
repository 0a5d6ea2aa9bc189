"""``NodeScript``: one Node.js script under tests/js driven by JSON lines (commands on its
stdin, what it saw on its stdout), the base of the recovery tests' drivers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.conftest import JS_DIR, UNIT, require, require_tool


class NodeScript:
    """Every line the script prints is kept in ``seen`` in arrival order; ``expect``
    returns the first line not taken yet that matches, waiting for it if need be."""

    script = ""

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
            "node", str(JS_DIR / self.script), cwd=str(JS_DIR),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 26)  # a report may be one long line
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.seen.append(json.loads(line))
            self._arrived.set()

    async def command(self, **fields: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(fields) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait_for(self, kind: str, name: str | None, timeout: float,
                       where: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for i, line in enumerate(self.seen):
                    if i not in self._taken and line["type"] == kind \
                            and (name is None or line.get("name") == name) and where(line):
                        self._taken.add(i)
                        return line
                self._arrived.clear()
                await self._arrived.wait()

        try:
            return await asyncio.wait_for(wait(), timeout * UNIT)
        except TimeoutError:
            raise AssertionError(f"{name or 'no socket'} saw no {kind} in {timeout * UNIT}s; "
                                 f"saw {self.seen[-30:]}") from None

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        await self.command(op="exit")
        try:
            await asyncio.wait_for(self.proc.wait(), 5 * UNIT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader
