"""``Fleet``: many real socket.io-client sockets (tests/js/drain_client.mjs) that count
what they get, for the drain and rolling-restart tests; and ``Publisher``, which emits
numbered events through a node's HTTP API at a steady rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.recovery.node_script import NodeScript


class Fleet(NodeScript):
    """One ``node drain_client.mjs``; ``open`` sockets, ``expect`` a line, ``report``."""

    script = "drain_client.mjs"

    async def send(self, op: str, **fields: Any) -> None:
        await self.command(op=op, **fields)

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
        return await self.wait_for(kind, name, timeout, where)

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
