"""``Fleet``: many real socket.io-client sockets (tests/js/drain_client.mjs) that count
what they get, for the drain and rolling-restart tests; and ``Publisher``, which emits
numbered events through a node's HTTP API at a steady rate."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.conftest import JS_DIR, UNIT, require, require_tool


class Fleet:
    """One ``node drain_client.mjs``; ``open`` sockets, ``expect`` a line, ``report``."""

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
            "node", str(JS_DIR / "drain_client.mjs"), cwd=str(JS_DIR),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 26)  # a report is one line: every event number of every socket
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.seen.append(json.loads(line))
            self._arrived.set()

    async def send(self, op: str, **fields: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
        await self.proc.stdin.drain()

    async def open(self, url: str, names: list[str], **fields: Any) -> None:
        """Open one socket per name (fields: drain_client.mjs's ``open``) and wait until
        each has connected (and joined, when ``join`` is given)."""
        await self.send("open", url=url, names=names, **fields)
        for name in names:
            await self.expect("connect", name)
            if fields.get("join"):
                await self.expect("joined", name)

    async def expect(self, kind: str, name: str | None = None, timeout: float = 10,
                     where: Callable[[dict[str, Any]], bool] = lambda line: True) -> dict[str, Any]:
        """The first line of ``kind`` (for ``name``) not taken yet, waiting for it."""
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

    async def call(self, name: str, event: str, *args: Any) -> Any:
        """Emit ``event`` from socket ``name`` with an ack; the ack's argument."""
        await self.send("call", name=name, event=event, args=list(args))
        line = await self.expect("ack", name, where=lambda x: x["event"] == event)
        return line["args"][0]

    def lines(self, kind: str, name: str) -> list[dict[str, Any]]:
        return [line for line in self.seen if line["type"] == kind and line.get("name") == name]

    async def report(self) -> dict[str, dict[str, Any]]:
        """Each socket's sids, recovered flags, disconnect reasons, transports, received."""
        count = sum(1 for line in self.seen if line["type"] == "report")
        await self.send("report")
        await self.expect("report", where=lambda line: True)
        reports = [line for line in self.seen if line["type"] == "report"]
        assert len(reports) == count + 1
        return reports[-1]["clients"]  # type: ignore[no-any-return]

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


class Publisher:
    """POST /api/v1/emit of ``[event, seq]`` to ``room`` every 1/rate s, seq 0, 1, 2, …
    (paced on a clock, so a slow answer is caught up, not skipped); ``sent`` counts
    them, each answered 202."""

    def __init__(self, url: str, token: str, namespace: str, room: str, rate: float,
                 event: str = "tick") -> None:
        self.url = url + "/api/v1/emit"
        self.token = token
        self.body = {"namespace": namespace, "event": event, "room": room}
        self.interval = 1 / rate
        self.sent = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            started = time.monotonic()
            while not self._stop.is_set():
                async with http.post(self.url, json={**self.body, "data": [self.sent]}) as reply:
                    assert reply.status == 202, f"the API answered {reply.status}"
                self.sent += 1
                wait = started + self.sent * self.interval - time.monotonic()
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), wait)
                    except TimeoutError:
                        pass

    async def stop(self) -> int:
        """Stop and return how many were sent (numbered 0 … sent - 1)."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.sent
