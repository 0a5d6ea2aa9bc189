"""server/realtime/write_scope.py: a coroutine run in a write scope behaves as if awaited directly,
and the sessions it wrote to are written at each suspension and at its end."""

from __future__ import annotations

import asyncio

import pytest
from openline.realtime.write_scope import written_on_suspend


class Engine:
    def __init__(self) -> None:
        self.pending_writes: list[Session] | None = None
        self.log: list[str] = []


class Session:
    """Stands in for an engine session: records when it is written."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name = engine, name

    def send(self) -> None:
        assert self.engine.pending_writes is not None, "sent outside the scope"
        self.engine.pending_writes.append(self)

    def write_out(self) -> None:
        self.engine.log.append("write " + self.name)


async def test_writes_at_each_suspension_and_at_the_end():
    """Frames sent before an await leave before the await; the scope is closed meanwhile."""
    engine = Engine()
    a, b = Session(engine, "a"), Session(engine, "b")

    async def handler() -> str:
        a.send()
        b.send()
        engine.log.append("suspend")
        await asyncio.sleep(0)
        engine.log.append("resumed, scope open: %s" % (engine.pending_writes is not None))
        a.send()
        return "result"

    assert await written_on_suspend(handler(), engine) == "result"
    assert engine.log == ["suspend", "write a", "write b", "resumed, scope open: True", "write a"]
    assert engine.pending_writes is None


async def test_exception_propagates_after_the_write():
    """An exception from the coroutine reaches the caller, after what it sent is written."""
    engine = Engine()
    a = Session(engine, "a")

    async def handler() -> None:
        a.send()
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await written_on_suspend(handler(), engine)
    assert engine.log == ["write a"]
    assert engine.pending_writes is None


async def test_cancellation_and_timeouts_reach_the_coroutine():
    """asyncio.timeout inside the coroutine cancels only it; the task goes on."""
    engine = Engine()

    async def handler() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"

    task = asyncio.ensure_future(written_on_suspend(handler(), engine))
    assert await task == "timed out"


async def test_task_cancel_is_thrown_into_the_coroutine():
    """Cancelling the task delivers CancelledError inside the coroutine (its finally runs)."""
    engine = Engine()
    started = asyncio.Event()

    async def handler() -> None:
        try:
            started.set()
            await asyncio.sleep(10)
        finally:
            engine.log.append("finally ran")

    task = asyncio.ensure_future(written_on_suspend(handler(), engine))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.log == ["finally ran"]
    assert engine.pending_writes is None


async def test_nested_scope_writes_once_for_both():
    """A scope inside a scope leaves the writing to the outer one."""
    engine = Engine()
    a = Session(engine, "a")

    async def inner() -> int:
        a.send()
        return 1

    async def outer() -> int:
        value = await written_on_suspend(inner(), engine)
        engine.log.append("inner done")
        return value + 1

    assert await written_on_suspend(outer(), engine) == 2
    assert engine.log == ["inner done", "write a"]
