"""One client's queue of steps (event handlers, connects, disconnects), run in order.

A step starts at once, in the caller's task, when nothing of that client's is queued
or running; a worker task takes over only if the step has to wait. At light load
almost every event finds its client idle and finishes without waiting, and a worker
task per event was ~15% of the server's time (bench/run.py, latency at equal load).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine, Generator
from typing import Any


class Chain:
    """One client's queued steps and the task running them."""

    __slots__ = ("steps", "task", "first")

    def __init__(self) -> None:
        self.steps: collections.deque[tuple[Any, tuple[Any, ...]]] = collections.deque()
        self.task: asyncio.Future[Any] | None = None
        # a step started eagerly that had to wait: the worker resumes it before the rest
        self.first: Resumed | None = None


class Resumed:
    """Awaitable: the rest of a coroutine suspended in another task. (``await coro`` is
    refused for a coroutine suspended inside an await.) What it waits for passes through
    to the awaiting task, and what that task is thrown (a cancel) goes back in."""

    __slots__ = ("coro",)

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro

    def __repr__(self) -> str:
        return self.coro.__qualname__

    def __await__(self) -> Generator[Any, None, Any]:
        coro = self.coro
        send: Callable[[Any], Any] = coro.send
        arg: Any = None
        while True:
            try:
                waiting = send(arg)
            except StopIteration as stop:
                return stop.value
            try:
                yield waiting
            except BaseException as exc:
                send, arg = coro.throw, exc
            else:
                send, arg = coro.send, None


def start_step(coro: Coroutine[Any, Any, Any], chains: dict[str, Chain], key: str,
               worker: Callable[[str, Chain], Coroutine[Any, Any, Any]]) -> Chain | None:
    """Run ``coro`` until it first waits; then the client's chain (``chains[key]``) gets it,
    and ``worker(key, chain)`` resumes it once what it waits for is done. None if it finished."""
    try:
        waiting = coro.send(None)  # its exceptions go to the caller
    except StopIteration:
        return None
    made = chains.setdefault(key, Chain())
    made.first = Resumed(coro)
    if getattr(waiting, "_asyncio_future_blocking", None):
        # a future, as inside a task: the worker may resume the coroutine only once the
        # future is done (Future.__await__ checks), so it starts then
        waiting._asyncio_future_blocking = False
        waiting.add_done_callback(lambda _: _launch(made, key, worker))
    else:  # a bare yield (asyncio.sleep(0)): the next loop turn
        _launch(made, key, worker)
    return made


def _launch(chain: Chain, key: str, worker: Callable[[str, Chain], Coroutine[Any, Any, Any]]) -> None:
    chain.task = asyncio.ensure_future(worker(key, chain))
