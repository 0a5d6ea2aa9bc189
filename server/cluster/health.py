"""A node's view of its Redis link: outage transitions logged once each, dropped
cross-node messages counted, the probe that says when publishing works again, and
Redis's clock for the publish deadlines. ``RedisManager`` (redis_manager.py) mixes it in;
the attributes it reads are that class's."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from .messages import redact

log = logging.getLogger("openline.cluster")

BACKOFF_FIRST = 0.1  # seconds before the first reconnect attempt
BACKOFF_MAX = 5.0
DROP_LOG_INTERVAL = 10.0  # seconds between two WARNING lines about dropped publishes


class RedisHealth:
    """Outage bookkeeping for ``RedisManager`` (which sets every attribute below)."""

    redis: Any
    redis_url: str
    publish_timeout: float
    dropped_publishes: int
    up: asyncio.Event
    outage: asyncio.Event
    _pub_ok: bool
    _sub_ok: bool
    _outage_since: float | None
    _dropped: int
    _late: int
    _late_logged_at: float
    _clock_offset: float | None

    def _keep_local(self, count: int) -> None:
        self._dropped += count
        self.dropped_publishes += count

    def _count_late(self, count: int, why: str) -> None:
        """One WARNING per DROP_LOG_INTERVAL at most, with the count since the last."""
        self._late += count
        now = time.monotonic()
        if now - self._late_logged_at >= DROP_LOG_INTERVAL:
            log.warning("Redis at %s: %d cross-node message(s) dropped since the last such "
                        "line (latest: %s; --redis-publish-timeout is %ss); %d dropped in all",
                        redact(self.redis_url), self._late, why, self.publish_timeout,
                        self.dropped_publishes)
            self._late, self._late_logged_at = 0, now

    async def _sync_clock(self) -> None:
        """Learn Redis's clock (TIME) relative to ours, for the publish deadlines; the
        error is at most half the round trip."""
        before = time.time()
        seconds, micros = await self.redis.time()
        after = time.time()
        self._clock_offset = seconds + micros / 1e6 - (before + after) / 2

    async def _probe_publishing(self) -> None:
        """Publishing failed: PING until Redis answers (an answer, not a sent command, is
        what "back" means), then measure its clock for the publish deadlines."""
        delay = BACKOFF_FIRST
        while not self._pub_ok:
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, BACKOFF_MAX)
            try:
                async with asyncio.timeout(self.publish_timeout):
                    await self.redis.ping()
                    await self._sync_clock()
            except asyncio.CancelledError:
                raise
            except Exception:
                continue
            self._pub_ok = True
            self._changed()

    def _changed(self, exc: BaseException | None = None) -> None:
        """Log transitions only: one line when Redis goes away, one when it is back."""
        healthy = self._pub_ok and self._sub_ok
        if healthy:
            self.up.set()
            if self._outage_since is not None:
                log.warning("Redis at %s is back after %.1fs; cluster-wide delivery resumed "
                            "(%d message(s) were delivered on this node only)", redact(self.redis_url),
                            time.monotonic() - self._outage_since, self._dropped)
                self._outage_since = None
                self.outage.clear()
            self._dropped = 0
            return
        self.up.clear()
        if self._outage_since is None and exc is not None:
            self._outage_since = time.monotonic()
            self.outage.set()
            log.warning("Redis at %s is unreachable (%s); serving this node's clients only "
                        "and reconnecting with backoff", redact(self.redis_url), _describe(exc))


def _jitter(delay: float) -> float:
    # nodes restarted together should not reconnect in lockstep
    return delay * random.uniform(0.8, 1.2)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
