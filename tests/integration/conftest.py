"""Helpers for integration tests: the client matrix and an event inbox for AsyncClient."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from tests.conftest import UNIT

# transports option per matrix entry; None = the client default (polling, then upgrade)
TRANSPORTS: dict[str, list[str] | None] = {
    "polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
PARSERS = ("json", "msgpack")
# what a connected client's transport looks like afterwards, per matrix entry
EXPECTED_TRANSPORT = {
    "polling": {"first": "polling", "upgraded": False, "transport": "polling"},
    "websocket": {"first": "websocket", "upgraded": False, "transport": "websocket"},
    "upgrade": {"first": "polling", "upgraded": True, "transport": "websocket"},
}

matrix = pytest.mark.parametrize(
    "transport,parser", [(t, p) for t in TRANSPORTS for p in PARSERS])


def node_options(url: str, transport: str, parser: str, **fields: Any) -> dict[str, Any]:
    """Options for tests/js/scenario.mjs with the matrix entry applied."""
    options: dict[str, Any] = {"url": url, "parser": parser, **fields}
    if TRANSPORTS[transport] is not None:
        options["transports"] = TRANSPORTS[transport]
    return options


class Inbox:
    """Collects the events a python-socketio client receives, one queue per event name."""

    def __init__(self, client: socketio.AsyncClient, namespace: str, *events: str) -> None:
        self.log: list[str] = []
        self.queues: dict[str, asyncio.Queue[Any]] = {}
        for event in events:
            queue: asyncio.Queue[Any] = asyncio.Queue()
            self.queues[event] = queue
            client.on(event, self._handler(event, queue), namespace=namespace)

    def _handler(self, event: str, queue: asyncio.Queue[Any]) -> Any:
        def handle(*args: Any) -> None:
            self.log.append(event)
            queue.put_nowait(args[0] if len(args) == 1 else args)
        return handle

    async def get(self, event: str, timeout: float = 5) -> Any:
        return await asyncio.wait_for(self.queues[event].get(), timeout * UNIT)

    def empty(self, event: str) -> bool:
        return self.queues[event].empty()
