"""``StallWatch``: closes clients whose unsent data makes no progress for a grace period.

A client that stops reading is closed at once when its unsent bytes would pass the send
budget (the session's own check, at each write). One that reads too slowly to reach the
budget, or has stopped with less than the budget queued, would otherwise hold its buffer
until the ping timeout (45 s at defaults); this watch closes it after ``--send-grace``.

Only sessions whose socket holds unsent bytes are watched, and one loop timer serves
them all, so a server whose clients keep up pays nothing. A watched session offers:
``unsent()`` (bytes not yet taken by the kernel), ``drained()`` (a count that grows
whenever bytes leave for the kernel), ``closed`` and ``stall(unsent, seconds)``.
Both Engine.IO sessions and plain-WebSocket bridge sessions use it.

It also holds the counts of slow consumers closed, for /metrics (server/ops/metrics.py):
``over_budget`` and ``stalled``, which each kind of session adds to once as it closes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class StallWatch:
    __slots__ = ("grace", "tick", "watched", "timer", "over_budget", "stalled")

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.tick = min(1.0, grace / 4)
        self.watched: dict[Any, list[float]] = {}  # session -> [drained mark, since]
        self.timer: asyncio.TimerHandle | None = None
        self.over_budget = 0  # clients closed for going over --send-budget
        self.stalled = 0  # clients closed after --send-grace without progress

    def note(self, session: Any) -> None:
        """``session`` has unsent bytes: watch it until they are gone."""
        if session in self.watched:
            return
        self.watched[session] = [session.drained(), time.monotonic()]
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.tick, self.check)

    def check(self) -> None:
        self.timer = None
        now = time.monotonic()
        for session, entry in list(self.watched.items()):
            unsent = 0 if session.closed else session.unsent()
            if not unsent:
                del self.watched[session]
                continue
            drained = session.drained()
            if drained != entry[0]:
                entry[0], entry[1] = drained, now
            elif now - entry[1] >= self.grace:
                del self.watched[session]
                session.stall(unsent, now - entry[1])
        if self.watched:
            self.timer = asyncio.get_running_loop().call_later(self.tick, self.check)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.watched.clear()
