"""``call()`` round trips without a task or an extra loop turn.

python-socketio's ``call`` waits with ``asyncio.wait_for(event.wait(), timeout)``, which on
Python 3.11 wraps the wait in a task of its own, and the client's ACK reaches its callback
through the read loop (the frame queued, the loop woken, the packet decoded again as a
Packet object): three loop turns and ~70 µs of server CPU per round trip at 100 clients x 10
in flight (bench/RESULTS.md, "Plugin patterns: profiles"). Here the callback is an
``Answer`` settling one future, awaited under ``asyncio.timeout``, and an ACK for an
``Answer`` is settled as the engine parses its frame (``settle``, called by the event
path's hand-off, realtime/events.py); any other callback keeps python-socketio's way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from socketio import exceptions

from ..engine.deadlines import Deadlines

MAX_TIMEOUTS = 64  # distinct call() timeouts with a Deadlines of their own, per server


class Answer:
    """The callback of one ``call()``: the first ACK settles the future with its arguments."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[tuple[Any, ...]]) -> None:
        self.future = future

    def __call__(self, *args: Any) -> None:
        if not self.future.done():
            self.future.set_result(args)


async def call(server: Any, event: str, data: Any, to: Any, namespace: str | None,
               timeout: float | None, ignore_queue: bool) -> Any:
    """python-socketio's ``AsyncServer.call`` (same checks, result and TimeoutError)."""
    if to is None:
        raise ValueError("Cannot use call() to broadcast.")
    if not server.async_handlers:
        raise RuntimeError("Cannot use call() when async_handlers is False.")
    answer = Answer(asyncio.get_running_loop().create_future())
    await server.emit(event, data=data, room=to, namespace=namespace, callback=answer,
                      ignore_queue=ignore_queue)
    deadlines = _deadlines(server, timeout) if timeout is not None else None
    try:
        if deadlines is not None:
            deadlines.add(answer)
            try:
                args = await answer.future
            finally:
                deadlines.discard(answer)
        else:
            async with asyncio.timeout(timeout):
                args = await answer.future
    except TimeoutError:
        # a count that exists anyway, read by /metrics (acks_timed_out_total)
        server.calls_timed_out = getattr(server, "calls_timed_out", 0) + 1
        raise exceptions.TimeoutError() from None
    return args if len(args) > 1 else args[0] if len(args) == 1 else None


def _deadlines(server: Any, timeout: float) -> Deadlines[Answer] | None:
    """The server's Deadlines for calls with this timeout; None past MAX_TIMEOUTS of them."""
    by_timeout: dict[float, Deadlines[Answer]] | None = getattr(server, "_call_deadlines", None)
    if by_timeout is None:
        by_timeout = server._call_deadlines = {}
    deadlines = by_timeout.get(timeout)
    if deadlines is None:
        if len(by_timeout) >= MAX_TIMEOUTS:
            return None
        deadlines = by_timeout[timeout] = Deadlines(timeout, _expired)
    return deadlines


def _expired(answer: Answer) -> None:
    if not answer.future.done():
        answer.future.set_exception(TimeoutError())


def settle(manager: Any, sid: str, ack_id: Any, args: Any) -> bool:
    """Settle a ``call()`` whose ACK has just been parsed: True when ``ack_id`` was an
    ``Answer`` (now removed from the manager's callbacks, as ``trigger_callback`` does);
    False leaves the ACK to python-socketio's ``_handle_ack``."""
    callbacks = manager.callbacks.get(sid)
    if callbacks is None or type(args) is not list:
        return False
    callback = callbacks.get(ack_id)
    if type(callback) is not Answer:
        return False
    del callbacks[ack_id]
    callback(*args)
    return True
