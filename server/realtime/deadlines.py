"""``Deadlines``: one timer for many deadlines that share one timeout.

Each Engine.IO session must send its Socket.IO CONNECT within ``--connect-timeout``.
A loop timer per session (created at the handshake, cancelled at the CONNECT) was ~2%
of the connect-rate bench with uvloop, where each timer is a libuv handle. All deadlines
here are "now + the same timeout", so insertion order is deadline order: one timer,
armed for the oldest entry, expires the overdue ones from the front and re-arms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadlines:
    def __init__(self, timeout: float, expired: Callable[[str], None]) -> None:
        self.timeout = timeout
        self.expired = expired  # called with each key whose deadline passed
        self.due: dict[str, float] = {}  # key -> loop time, oldest first
        self.timer: asyncio.TimerHandle | None = None

    def add(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        self.due.pop(key, None)  # a re-added key goes to the back
        self.due[key] = loop.time() + self.timeout
        if self.timer is None:
            self.timer = loop.call_at(self.due[next(iter(self.due))], self._fire)

    def discard(self, key: str) -> bool:
        """Forget ``key``; True if it was pending. The timer stays armed (it finds
        nothing overdue, or re-arms for what is left)."""
        return self.due.pop(key, None) is not None

    def _fire(self) -> None:
        self.timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = self.due
        while due:
            key = next(iter(due))
            if due[key] > now:
                self.timer = loop.call_at(due[key], self._fire)
                return
            del due[key]
            self.expired(key)
