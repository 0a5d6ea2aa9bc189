"""call()'s timeouts (realtime/acks.py): shared Deadlines, each call expiring at its own time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio
from openline.realtime import acks


class _Server:
    """What acks.call uses of the server: emit (here recording each Answer) and async_handlers."""

    async_handlers = True

    def __init__(self) -> None:
        self.answers: list[acks.Answer] = []

    async def emit(self, event: str, data: Any = None, room: Any = None, namespace: Any = None,
                   callback: Any = None, ignore_queue: bool = False) -> None:
        self.answers.append(callback)


async def _timed(server: _Server, timeout: float) -> float:
    started = time.monotonic()
    with pytest.raises(socketio.exceptions.TimeoutError):
        await acks.call(server, "ping", None, "sid", "/", timeout, False)
    return time.monotonic() - started


async def test_unanswered_calls_time_out_each_at_its_own_time() -> None:
    """Calls sharing a timeout, and calls with another, each raise TimeoutError once theirs passes."""
    server = _Server()
    waits = await asyncio.gather(_timed(server, 0.1), _timed(server, 0.2), _timed(server, 0.1))
    assert 0.1 <= waits[0] < 0.6 and 0.2 <= waits[1] < 0.7 and 0.1 <= waits[2] < 0.6
    assert sorted(server._call_deadlines) == [0.1, 0.2]  # type: ignore[attr-defined]
    assert all(not d.due for d in server._call_deadlines.values())  # type: ignore[attr-defined]


async def test_an_answered_call_returns_and_leaves_no_deadline() -> None:
    """An answer before the timeout is the result; its deadline entry is gone."""
    server = _Server()
    pending = asyncio.ensure_future(acks.call(server, "ping", None, "sid", "/", 5.0, False))
    while not server.answers:
        await asyncio.sleep(0)
    server.answers[0]("pong", 2)
    assert await pending == ("pong", 2)
    assert not server._call_deadlines[5.0].due  # type: ignore[attr-defined]


async def test_past_max_timeouts_a_call_falls_back_to_asyncio_timeout(monkeypatch: Any) -> None:
    """A timeout value beyond MAX_TIMEOUTS distinct ones still raises TimeoutError, without a Deadlines."""
    monkeypatch.setattr(acks, "MAX_TIMEOUTS", 1)
    server = _Server()
    assert await _timed(server, 0.05) >= 0.05
    assert await _timed(server, 0.06) >= 0.06
    assert list(server._call_deadlines) == [0.05]  # type: ignore[attr-defined]
