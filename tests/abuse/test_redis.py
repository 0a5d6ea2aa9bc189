"""A frozen Redis (SIGSTOP): publishes give up after --redis-publish-timeout and are
counted, nothing stalled is delivered late or out of order, and "back" means answered."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

import pytest
from openline.cluster.redis_manager import RedisManager, client_manager
from openline.config import Config

from tests.cluster.test_rooms import CHAT, chat_client
from tests.conftest import UNIT

TIMEOUT = 0.5  # --redis-publish-timeout for these tests
TICK = 0.02  # seconds between two numbered broadcasts


async def wait_until(condition: Any, what: str, timeout: float = 10) -> None:
    """Poll ``condition`` (cheap, in-process) until true; fails naming ``what``."""
    deadline = time.monotonic() + timeout * UNIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout * UNIT}s")
        await asyncio.sleep(0.01)


class Ticker:
    """Broadcasts 0, 1, 2, … every TICK seconds from one node; remembers when each left."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.sent: list[float] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.sent.append(time.monotonic())
            await self.node.sio.emit("seq", len(self.sent) - 1, namespace=CHAT)
            await asyncio.sleep(TICK)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_frozen_redis_drops_stalled_publishes(redis: Any, start_node: Any, py_client: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Redis frozen 4x the publish timeout: the other node's client sees an increasing sequence
    with a gap, nothing late; drops counted; "back" only after SIGCONT and an answered PING."""
    caplog.set_level(logging.INFO, logger="openline.cluster")
    n1 = await start_node(redis_url=redis.url, redis_publish_timeout=TIMEOUT)
    n2 = await start_node(redis_url=redis.url, redis_publish_timeout=TIMEOUT)
    _, inbox = await chat_client(py_client, n2.url, "bob", "seq")
    received: list[tuple[int, float]] = []

    async def collect() -> None:
        while True:
            received.append((await inbox.get("seq", timeout=60), time.monotonic()))

    collector = asyncio.ensure_future(collect())
    ticker = Ticker(n1)
    try:
        await wait_until(lambda: len(received) >= 5, "cross-node delivery before the freeze")
        redis.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            await wait_until(lambda: n1.manager.dropped_publishes > 0, "a counted drop")
            await asyncio.sleep(frozen_at + 4 * TIMEOUT - time.monotonic())  # the freeze itself
        finally:
            redis.proc.send_signal(signal.SIGCONT)
            thawed_at, thawed_wall = time.monotonic(), time.time()
        await wait_until(n1.manager.up.is_set, "recovery", timeout=15)
        resumed = len(ticker.sent)
        await wait_until(lambda: received and received[-1][0] >= resumed, "delivery after recovery")
    finally:
        await ticker.stop()
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)

    numbers = [n for n, _ in received]
    assert numbers == sorted(set(numbers)), "an old number arrived after a newer one"
    assert len(numbers) < numbers[-1] + 1, "no gap: the stalled broadcasts were delivered late"
    late = [(n, round(at - ticker.sent[n], 2)) for n, at in received
            if at - ticker.sent[n] > 3 * TIMEOUT]
    assert late == [], "delivered long after they were emitted"
    assert n1.manager.dropped_publishes > 0
    drops = [r for r in caplog.records if "dropped since the last such line" in r.getMessage()]
    assert len(drops) == 1, "one WARNING per interval about dropped publishes"
    back = [r for r in caplog.records if " is back after " in r.getMessage()]
    assert back, "no recovery line"
    assert all(r.created >= thawed_wall for r in back), "'back' logged while Redis was frozen"
    assert thawed_at - frozen_at >= 4 * TIMEOUT


async def test_publish_refused_by_redis_after_its_deadline(redis: Any, start_node: Any,
                                                           py_client: Any) -> None:
    """A publish reaching Redis after its deadline is not delivered but counted; the clock is re-read."""
    n1 = await start_node(redis_url=redis.url, redis_publish_timeout=TIMEOUT)
    n2 = await start_node(redis_url=redis.url, redis_publish_timeout=TIMEOUT)
    _, inbox = await chat_client(py_client, n2.url, "bob", "seq")
    await n1.sio.emit("seq", 0, namespace=CHAT)
    assert await inbox.get("seq") == 0
    manager = n1.manager
    assert manager._clock_offset is not None
    manager._clock_offset -= 60  # as if this node's clock ran a minute fast
    await n1.sio.emit("seq", 1, namespace=CHAT)
    await wait_until(lambda: manager.dropped_publishes == 1, "the refusal being counted")
    await n1.sio.emit("seq", 2, namespace=CHAT)
    assert await inbox.get("seq") == 2  # 1 never arrives: Redis refused it
    assert manager.up.is_set()


def test_publish_timeout_reaches_the_manager() -> None:
    """--redis-publish-timeout 0.5 gives the node's RedisManager a 0.5 s publish bound and socket timeout."""
    manager = client_manager(Config(redis_url="redis://127.0.0.1:1/0", redis_publish_timeout=0.5))
    assert isinstance(manager, RedisManager)
    assert manager.publish_timeout == 0.5
    assert manager.redis_options["socket_timeout"] == 0.5
