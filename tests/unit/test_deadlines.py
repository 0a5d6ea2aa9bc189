"""server/engine/deadlines.py: one timer expires every overdue key, oldest first, and only those."""

from __future__ import annotations

import asyncio

from openline.engine.deadlines import Deadlines

from tests.conftest import UNIT


async def test_expires_in_order_and_skips_discarded():
    """Keys expire oldest first; a discarded key never does; the timer stops when empty."""
    expired: list[str] = []
    done = asyncio.Event()

    def on_expired(key: str) -> None:
        expired.append(key)
        if key == "c":
            done.set()

    deadlines = Deadlines(0.05, on_expired)
    deadlines.add("a")
    deadlines.add("b")
    await asyncio.sleep(0.02)
    deadlines.add("c")
    assert deadlines.discard("b") is True
    assert deadlines.discard("b") is False
    await asyncio.wait_for(done.wait(), 5 * UNIT)
    assert expired == ["a", "c"]
    assert deadlines.due == {} and deadlines.timer is None


async def test_rearms_for_a_later_key():
    """After the oldest key is discarded, the timer fires and re-arms for the next one."""
    expired: list[str] = []
    done = asyncio.Event()

    def on_expired(key: str) -> None:
        expired.append(key)
        done.set()

    deadlines = Deadlines(0.05, on_expired)
    loop = asyncio.get_running_loop()
    deadlines.add("first")
    await asyncio.sleep(0.03)
    deadlines.add("second")
    started = loop.time()
    deadlines.discard("first")
    await asyncio.wait_for(done.wait(), 5 * UNIT)
    assert expired == ["second"]
    assert loop.time() - started >= 0.045  # not expired with the first one's timer
