"""``EventCounts``: what the event path counts for /metrics, when metrics are on.

The event path (events.py) keeps these itself, behind one attribute test per event
(``OpenlineServer.counts`` is None with ``--no-metrics``), rather than under a wrapper
coroutine around each handler: removing that wrapper, together with the event path's
second coroutine frame, took an ack echo from 70,493 to 67,402 instructions per event
(bench/icount.py ack, 32f0f56). server/ops/meter.py's ``Meter`` is an ``EventCounts``
that also holds the counts made elsewhere.
"""

from __future__ import annotations

# Handler duration buckets, seconds (upper bounds; +Inf is the last count).
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Space:
    """One namespace's counts."""

    __slots__ = ("received", "connects", "buckets", "seconds", "errors", "refusals")

    def __init__(self) -> None:
        self.received = 0  # events that reached their handler's turn
        self.connects = 0
        self.buckets = [0] * (len(BOUNDS) + 1)  # handler durations per bucket, +Inf last
        self.seconds = 0.0  # their sum
        self.errors = 0  # handlers that raised (answered "internal server error")
        self.refusals = 0  # EventError, or the wrong number of arguments


class EventCounts:
    """Per namespace: events, their handlers' time; and the message bytes received."""

    def __init__(self) -> None:
        self.spaces: dict[str, Space] = {}
        self.received_bytes = 0  # Engine.IO message bytes (text: UTF-8), framing excluded

    def space(self, namespace: str) -> Space:
        space = self.spaces.get(namespace)
        if space is None:
            space = self.spaces[namespace] = Space()
        return space
