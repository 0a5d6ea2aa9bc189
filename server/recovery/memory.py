"""The in-memory recovery store: one node's sessions and packet log.

Offsets are the decimal numbers of one counter per store. A node's restart loses
this store (its clients come back as new sockets); the Redis store survives it.
Expiry runs on one timer per store, not one per session.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .store import Entry, Missed, Saved, was_sent_to


def _later(a: str, b: str) -> bool:
    return int(a) > int(b or 0)


class MemoryStore:
    """``Store`` for one node: a bounded deque of entries per namespace, a dict of saved
    sockets by pid."""

    def __init__(self, window: float, max_packets: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.max_packets = max_packets
        self._clock = clock
        self._seq = 0
        self._logs: dict[str, deque[Entry]] = {}
        self._heads: dict[str, str] = {}
        self._trimmed: dict[str, int] = {}  # namespace -> newest offset pushed out of the log
        self._sessions: dict[str, Saved] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    # --- the log -------------------------------------------------------------

    def head(self, namespace: str) -> str:
        return self._heads.get(namespace, "")

    async def append(self, namespace: str, rooms: frozenset[Any] | None,
                     excluded: frozenset[Any], data: list[Any]) -> str:
        self._seq += 1
        offset = str(self._seq)
        data.append(offset)
        log = self._logs.get(namespace)
        if log is None:
            log = self._logs[namespace] = deque()
        log.append(Entry(offset, rooms, excluded, data, self._clock()))
        self._heads[namespace] = offset
        if len(log) > self.max_packets:
            self._trimmed[namespace] = int(log.popleft().offset)
        return offset

    def _trim_old(self, namespace: str, log: deque[Entry], now: float) -> None:
        oldest = now - self.window
        while log and log[0].at < oldest:
            self._trimmed[namespace] = int(log.popleft().offset)

    # --- sessions ------------------------------------------------------------

    async def save(self, saved: Saved) -> None:
        saved.disconnected_at = self._clock()
        self._sessions[saved.pid] = saved

    async def take(self, pid: str, namespace: str) -> Saved | None:
        saved = self._sessions.get(pid)
        if saved is None or saved.namespace != namespace:
            return None
        del self._sessions[pid]
        if saved.disconnected_at + self.window < self._clock():
            return None
        return saved

    async def missed(self, saved: Saved, offset: str | None) -> Missed | None:
        after = saved.start if offset is None else offset
        if after and not (after.isdigit() and int(after) <= self._seq):
            return None  # not an offset of this store
        namespace = saved.namespace
        if self._trimmed.get(namespace, 0) > int(saved.disconnected or 0):
            return None  # events it missed after dropping were pushed out of the log
        events: list[list[Any]] = []
        floor = int(after or 0)
        for entry in reversed(self._logs.get(namespace, ())):
            if int(entry.offset) <= floor:
                break
            if was_sent_to(saved, entry, _later):
                events.append(entry.data)
        events.reverse()
        return Missed(events, self.head(namespace))

    def later(self, a: str, b: str) -> bool:
        return _later(a, b)

    # --- lifetime ------------------------------------------------------------

    async def start(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(max(1.0, min(self.window / 4, 30.0)), self._sweep)

    def _sweep(self) -> None:
        now = self._clock()
        for namespace, log in self._logs.items():
            self._trim_old(namespace, log, now)
        expired = [pid for pid, saved in self._sessions.items()
                   if saved.disconnected_at + self.window < now]
        for pid in expired:
            del self._sessions[pid]
        self._schedule()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # --- for tests and metrics ----------------------------------------------

    @property
    def saved_count(self) -> int:
        return len(self._sessions)

    def logged(self, namespace: str) -> int:
        return len(self._logs.get(namespace, ()))
