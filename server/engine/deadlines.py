"""``Deadlines``: one timer for many exact deadlines that share one timeout.

All deadlines here are "now + the same timeout", so insertion order is deadline order:
one loop timer, armed for the oldest entry, expires the overdue ones from the front and
re-arms for the next, each at its own time. A loop timer per key (a libuv handle each
under uvloop) was ~2% of the connect-rate bench for the CONNECT deadline and 0.65 KB
of RSS per idle connection for heartbeats. Used for the heartbeat's ping and pong
deadlines (heartbeat.py) and the Socket.IO layer's CONNECT deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    """Keys due ``timeout`` seconds after they were added; ``expired(key)`` then."""

    __slots__ = ("timeout", "expired", "due", "timer")

    def __init__(self, timeout: float, expired: Callable[[K], None]) -> None:
        self.timeout = timeout
        self.expired = expired  # called with each key whose deadline passed
        self.due: dict[K, float] = {}  # key -> loop time, oldest first
        self.timer: asyncio.TimerHandle | None = None

    def add(self, key: K) -> None:
        loop = asyncio.get_running_loop()
        self.due.pop(key, None)  # a re-added key goes to the back
        self.due[key] = loop.time() + self.timeout
        if self.timer is None:
            self.timer = loop.call_at(self.due[next(iter(self.due))], self._fire)

    def discard(self, key: K) -> bool:
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
