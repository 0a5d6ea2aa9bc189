"""``Meter``: what /metrics counts per event, in plain ints, and ``install``, which hooks it in.

Counts that exist anyway stay where they are and are read at scrape time (census.py):
clients, rooms, unsent bytes, bytes sent (``Session.written``), slow consumers closed
(``StallWatch``), Redis's ``published``/``dropped_publishes``, recovery's ``attempts``/
``successes``, ``call()``s that timed out (``sio.calls_timed_out``, realtime/acks.py).
What nothing counted yet (events, handler time, disconnect reasons) is counted here, and only with metrics on: ``install`` wraps a handful of the server's
methods on the instance, as python-socketio's own admin instrumentation does, so with
``--no-metrics`` none of it runs per event (the manager tests one attribute per emit). With
metrics on, the cost per event is a few integer additions, one ``perf_counter()`` pair
and one coroutine frame around the handler: no lock, no prometheus-client object, no
label look-up (each namespace's counts are made once, on its first event).

What is wrapped, on the instances ``create_app`` built (before any client, since the
engine reads its hand-offs as each session starts):

- ``sio._handle_event_internal``: events received and handler duration, by namespace
  (both event paths queue this very attribute: realtime/events.py);
- ``sio._send_error``: handler errors, by namespace and kind (``EventError`` and
  wrong argument counts are "refused", anything else "exception");
- ``sio._trigger_event``: the "disconnect" handler call, with its reason;
- ``manager.connect``: accepted connects, by namespace;
- events sent, by namespace, one per local recipient (a broadcast to a room of N counts N;
  a cross-node emit is counted on the node whose clients get it), are not wrapped:
  ``FastEmitManager.emit`` counts them into ``manager.sent`` (``Meter.sent``) when it is
  a dict, as it is with metrics on: one test per emit with ``--no-metrics``, against a
  wrapper that cost as much as the manager's own loop (~7,600 instructions per emit);
- ``engine.take_message`` and ``engine.direct_message``: bytes of Engine.IO messages
  received (a message goes through exactly one of them).

tests/integration/test_metrics.py drives every one of them with exact deltas, so a
refactor that stops calling one fails there.
"""

from __future__ import annotations

from bisect import bisect_left
from time import perf_counter
from typing import Any

from ..errors import EventError

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


class Meter:
    """Every count /metrics reads that the server does not keep by itself."""

    def __init__(self) -> None:
        self.spaces: dict[str, Space] = {}
        self.disconnects: dict[tuple[str, str], int] = {}  # (namespace, reason) -> count
        self.received_bytes = 0  # Engine.IO message bytes (text: UTF-8), framing excluded
        # namespace -> events sent to this node's clients, one per recipient (counted by
        # the manager's emit: realtime/manager.py)
        self.sent: dict[str, int] = {}

    def space(self, namespace: str) -> Space:
        space = self.spaces.get(namespace)
        if space is None:
            space = self.spaces[namespace] = Space()
        return space


def install(sio: Any, meter: Meter) -> None:
    """Hook ``meter`` into ``sio`` (an OpenlineServer), its manager and its engine."""
    _events(sio, meter)
    _connects(sio, meter)
    _sent(sio.manager, meter)
    _received_bytes(sio.eio, meter)


def _events(sio: Any, meter: Meter) -> None:
    spaces = meter.spaces
    handle = sio._handle_event_internal

    async def handle_event(server: Any, sid: str, eio_sid: str, data: list[Any],
                           namespace: str, id: int | None) -> None:
        space = spaces.get(namespace) or meter.space(namespace)
        space.received += 1
        started = perf_counter()
        try:
            await handle(server, sid, eio_sid, data, namespace, id)
        finally:
            elapsed = perf_counter() - started
            space.seconds += elapsed
            space.buckets[bisect_left(BOUNDS, elapsed)] += 1

    send_error = sio._send_error

    def error(sid: str, namespace: str, event: str, exc: Exception, reply: Any) -> Any:
        space = meter.space(namespace)
        if isinstance(exc, EventError):
            space.refusals += 1
        else:
            space.errors += 1
        return send_error(sid, namespace, event, exc, reply)

    sio._handle_event_internal = handle_event
    sio._send_error = error


def _connects(sio: Any, meter: Meter) -> None:
    manager = sio.manager
    connect = manager.connect

    def connected(sid: str, namespace: str) -> Any:
        meter.space(namespace).connects += 1
        return connect(sid, namespace)

    trigger = sio._trigger_event
    disconnects = meter.disconnects

    def trigger_event(event: str, namespace: str, *args: Any) -> Any:
        if event == "disconnect":
            key = (namespace, str(args[1]) if len(args) > 1 else "unknown")
            disconnects[key] = disconnects.get(key, 0) + 1
        return trigger(event, namespace, *args)

    manager.connect = connected
    sio._trigger_event = trigger_event


def _sent(manager: Any, meter: Meter) -> None:
    # FastEmitManager.emit counts them (one per recipient, whoever emits: a handler, a
    # background task, another node's message) into this dict
    manager.sent = meter.sent


def size(data: str | bytes) -> int:
    """Bytes of a message: text counts its UTF-8 encoding (``isascii`` is O(1) in CPython)."""
    if type(data) is str and not data.isascii():
        return len(data.encode())
    return len(data)


def _received_bytes(engine: Any, meter: Meter) -> None:
    take = getattr(engine, "take_message", None)
    direct = getattr(engine, "direct_message", None)
    if take is None or direct is None:
        return  # python-engineio's server (OPENLINE_PROTOCOL_ENGINE=stock): not counted

    def take_message(session: Any, data: str | bytes) -> bool:
        if take(session, data):  # size() inlined: this runs for every event
            meter.received_bytes += len(data) if type(data) is not str or data.isascii() \
                else len(data.encode())
            return True
        return False  # the read loop hands it to direct_message below

    def direct_message(sid: str, data: str | bytes) -> Any:
        meter.received_bytes += size(data)
        return direct(sid, data)

    engine.take_message = take_message
    engine.direct_message = direct_message
