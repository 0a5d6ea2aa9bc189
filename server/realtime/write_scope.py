"""``written_on_suspend``: run a coroutine so that what it sends is written to the sockets
as soon as it suspends or ends, not on a later loop turn.

An engine session gathers the frames sent to it and writes them in one go; outside a
scope that write is scheduled with ``call_soon``, one handle per session and one more
loop turn per event. Inside a scope, sessions list themselves in the engine's
``pending_writes`` and are written when the coroutine next yields to the loop: a
broadcast to 1,000 clients schedules nothing, and an ack leaves within the turn that
ran its handler (the equal-load latency bench spends ~12% in that extra turn).

The scope is open only while the coroutine runs without suspending, so no other task
ever sees it; the coroutine runs in the caller's task as ``await coro`` would run it
(PEP 380's ``yield from`` with a flush before each suspension), so cancellation and
``asyncio.timeout`` reach it unchanged.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class written_on_suspend:  # noqa: N801  (used like a function: await written_on_suspend(...))
    __slots__ = ("coro", "engine")

    def __init__(self, coro: Coroutine[Any, Any, Any], engine: Any) -> None:
        self.coro = coro
        self.engine = engine

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, engine = self.coro, self.engine
        if engine.pending_writes is not None:  # already inside a scope: it writes for us
            return (yield from coro.__await__())
        send, throw = coro.send, coro.throw
        value: Any = None
        error: BaseException | None = None
        while True:
            pending = engine.pending_writes = []
            try:
                yielded = send(value) if error is None else throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                engine.pending_writes = None
                for session in pending:
                    session.write_out()
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation, GeneratorExit: into the coroutine
                value, error = None, exc


def in_write_scope(coro: Coroutine[Any, Any, Any], engine: Any) -> Any:
    """``coro`` in a write scope when ``engine`` has one (openline's Engine), else as is: for
    tasks that emit outside any handler (background tasks, the cluster's listener)."""
    if hasattr(engine, "pending_writes"):  # (whether a scope is open is seen when it runs)
        return written_on_suspend(coro, engine)
    return coro
