"""``Meter``: what /metrics counts per event, in plain ints, and ``install``, which hooks it in.

Counts that exist anyway stay where they are and are read at scrape time (census.py):
clients, rooms, unsent bytes, bytes sent (``Session.written``), slow consumers closed
(``StallWatch``), Redis's ``published``/``dropped_publishes``, recovery's ``attempts``/
``successes``, ``call()``s that timed out (``sio.calls_timed_out``, realtime/acks.py).
What nothing counted yet (events, handler time, disconnect reasons) is counted here, and
only with metrics on, so with ``--no-metrics`` none of it runs per event: the counting that
runs per event tests one attribute (``sio.counts``, ``manager.sent``: None without metrics)
and is done in place; the rarer counts wrap a method on the instance, as python-socketio's
own admin instrumentation does. With metrics on, the cost per event is a few integer
additions and one ``perf_counter()`` pair: no wrapper, no lock, no prometheus-client
object, no label look-up (each namespace's counts are made once, on its first event).

Counted in place, on the instances ``create_app`` built (before any client):

- events received, handler duration by namespace, and the bytes of the messages the
  engine hands off as it parses them: ``EventPath._handle_event_internal`` and
  ``_take_message`` (realtime/events.py) into ``sio.counts`` (this ``Meter``), against
  a wrapper coroutine around each handler (it and the event path's second frame were
  ~3,100 instructions of an ack echo's ~70,500, bench/icount.py);
- events sent, by namespace, one per local recipient (a broadcast to a room of N counts N;
  a cross-node emit is counted on the node whose clients get it): ``FastEmitManager.emit``
  into ``manager.sent`` (``Meter.sent``), against a wrapper that cost as much as the
  manager's own loop (~7,600 instructions per emit).

Wrapped:

- ``sio._send_error``: handler errors, by namespace and kind (``EventError`` and
  wrong argument counts are "refused", anything else "exception");
- ``sio._trigger_event``: the "disconnect" handler call, with its reason;
- ``manager.connect``: accepted connects, by namespace;
- ``engine.direct_message``: bytes of the Engine.IO messages the engine did not hand off
  (a message is counted by exactly one of it and ``_take_message``).

tests/integration/test_metrics.py drives every one of them with exact deltas, so a
refactor that stops calling one fails there.
"""

from __future__ import annotations

from typing import Any

from ..errors import EventError
from ..realtime.event_counts import BOUNDS, EventCounts, Space

__all__ = ["BOUNDS", "Meter", "Space", "install", "size"]


class Meter(EventCounts):
    """Every count /metrics reads that the server does not keep by itself: the event
    path's (``EventCounts``: events, handler time, bytes received), and these."""

    def __init__(self) -> None:
        super().__init__()
        self.disconnects: dict[tuple[str, str], int] = {}  # (namespace, reason) -> count
        # namespace -> events sent to this node's clients, one per recipient (counted by
        # the manager's emit: realtime/manager.py)
        self.sent: dict[str, int] = {}


def install(sio: Any, meter: Meter) -> None:
    """Hook ``meter`` into ``sio`` (an OpenlineServer), its manager and its engine."""
    _events(sio, meter)
    _connects(sio, meter)
    _sent(sio.manager, meter)
    _received_bytes(sio.eio, meter)


def _events(sio: Any, meter: Meter) -> None:
    # events received, their handlers' time and the bytes of messages the engine hands
    # off are counted by the event path itself (realtime/events.py) into this
    sio.counts = meter
    send_error = sio._send_error

    def error(sid: str, namespace: str, event: str, exc: Exception, reply: Any) -> Any:
        space = meter.space(namespace)
        if isinstance(exc, EventError):
            space.refusals += 1
        else:
            space.errors += 1
        return send_error(sid, namespace, event, exc, reply)

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
    direct = getattr(engine, "direct_message", None)
    if direct is None:
        return  # python-engineio's server (OPENLINE_PROTOCOL_ENGINE=stock): not counted

    # what the engine hands off as it parses (take_message) is counted by the event path
    # (EventPath._take_message); what it declines reaches this instead
    def direct_message(sid: str, data: str | bytes) -> Any:
        meter.received_bytes += size(data)
        return direct(sid, data)

    engine.direct_message = direct_message
