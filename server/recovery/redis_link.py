"""The Redis store's connection: the client for a URL, Redis's clock, and outages.

Away means refused, reset, or no answer within --redis-publish-timeout (``AWAY``); a
command Redis answers with an error is a refusal of that command only. Going away logs
one WARNING, and a probe PINGs with capped, jittered backoff until Redis answers, then
``_back`` (the store learns the logs' heads again) and one WARNING with what was missed
meanwhile. ``RedisStore`` (redis_store.py) builds on it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as _RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as _RedisTimeoutError

from ..logsafe import Throttle
from ..net import redis_url

__all__ = ["AWAY", "NoScriptError", "RedisLink", "client", "where"]

log = logging.getLogger("openline.recovery")

AWAY: tuple[type[BaseException], ...] = (_RedisConnectionError, _RedisTimeoutError, OSError,
                                         TimeoutError)
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
MAX_CONNECTIONS = 16  # the pool's bound: past it a command waits for a connection (redis-py's
# own pool refuses past 100 with MaxConnectionsError, which a mass drop reached at once)
MAX_BATCH = 500  # session commands per pipeline
READERS = 8  # log reads (``missed``) at once: with the store's own tasks, under the pool's bound
_AWAY = _RedisConnectionError("Redis is away")
MIN_VERSION = (6, 2)  # GETDEL, exclusive XRANGE ranges, XTRIM MINID


def client(url: str, timeout: float) -> Any:
    """A redis-py asyncio client for any --redis-url form (net/redis_url.py: sentinel and
    valkey:// too), in a pool of MAX_CONNECTIONS. Its options are the manager's: one
    immediate retry, ``timeout`` on each socket."""
    return redis_url.client(url, redis_url.redis_options(timeout), max_connections=MAX_CONNECTIONS)


def where(url: str) -> str:
    """The URL for a log line: no user or password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


class RedisLink:
    """One store's Redis client and its state: ``up``, the counts, Redis's clock."""

    def __init__(self, url: str, timeout: float, connect: Callable[[str, float], Any]) -> None:
        self.url = url
        self.timeout = timeout
        self._connect = connect
        self.redis: Any = None
        self.up = False
        self.unlogged = 0  # events sent without an offset, over the node's lifetime
        self.unsaved = 0  # dropped sockets not kept
        self._clock: float | None = None  # Redis's clock minus ours, seconds
        self._probe: asyncio.Task[None] | None = None
        self._since = 0.0  # monotonic time the outage began
        self._counts_then = (0, 0)  # (unlogged, unsaved) when it began
        self._throttles: dict[str, Throttle] = {}
        self._commands: list[tuple[str, tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]] = []
        self._commands_wake = asyncio.Event()

    def _note(self, kind: str, message: str, *args: Any) -> None:
        """A WARNING at most every 10 s per ``kind``, counting the ones it skipped."""
        throttle = self._throttles.get(kind)
        if throttle is None:
            throttle = self._throttles[kind] = Throttle(log, logging.WARNING)
        throttle.note(message, *args)

    async def _learn(self) -> None:
        """What the store reads before it counts as up (on start and after an outage)."""

    async def _open(self) -> None:
        """Connect, check the version and ``_learn``; with Redis away, carry on (the node
        serves, without recovery, until it answers)."""
        self.redis = self._connect(self.url, self.timeout)
        try:
            async with asyncio.timeout(self.timeout * 2):
                version = str((await self.redis.info("server")).get("redis_version", ""))
                await self._learn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._away(exc)
            return
        if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < MIN_VERSION:
            log.error("recovery: Redis at %s is version %s; the recovery store needs 6.2 or "
                      "newer: clients will not recover", where(self.url), version or "unknown")
        self.up = True

    async def _command(self, name: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """One command, pipelined with whatever else is queued (a mass drop saves thousands
        of sockets at once: a few round trips, not a connection each): (True, its
        answer), or (False, None), logged, when Redis is away or refuses it."""
        if not self.up:
            return False, None
        done: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._commands.append((name, args, kwargs, done))
        self._commands_wake.set()
        return await done  # type: ignore[no-any-return]

    async def _run_commands(self) -> None:
        """The task sending ``_command``'s queue, MAX_BATCH per pipeline."""
        batch: list[tuple[str, tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]] = []
        try:
            while True:
                if not self._commands:
                    await self._commands_wake.wait()
                self._commands_wake.clear()
                batch, self._commands = self._commands[:MAX_BATCH], self._commands[MAX_BATCH:]
                replies: list[Any] = [_AWAY] * len(batch)
                if self.up and batch:
                    try:
                        async with asyncio.timeout(self.timeout):
                            pipe = self.redis.pipeline(transaction=False)
                            for name, args, kwargs, _ in batch:
                                getattr(pipe, name)(*args, **kwargs)
                            replies = await pipe.execute(raise_on_error=False)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        self._away(exc)
                        replies = [exc] * len(batch)
                for (name, _, _, done), reply in zip(batch, replies, strict=True):
                    failed = isinstance(reply, Exception)
                    if failed and not isinstance(reply, AWAY):
                        self._note(name, "recovery: Redis refused %s: %s", name.upper(), reply)
                    if not done.done():
                        done.set_result((False, None) if failed else (True, reply))
                batch = []
        finally:  # stop(): what was queued or in flight fails
            for *_, done in [*batch, *self._commands]:
                if not done.done():
                    done.set_result((False, None))
            self._commands = []

    async def _sync_clock(self) -> None:
        """Redis's clock (TIME) minus ours, for the append deadlines; off by at most
        half a round trip."""
        before = time.time()
        seconds, micros = await self.redis.time()
        self._clock = seconds + micros / 1e6 - (before + time.time()) / 2

    def _away(self, exc: BaseException) -> None:
        if not self.up and self._probe is not None:
            return
        self.up = False
        self._clock = None
        self._since = time.monotonic()
        self._counts_then = (self.unlogged, self.unsaved)
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("recovery: Redis at %s is unreachable (%s); events go out without offsets "
                    "and dropped sockets are not kept until it answers", where(self.url), what)
        self._probe = asyncio.ensure_future(self._wait_for_redis())

    async def _wait_for_redis(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)
            try:
                async with asyncio.timeout(self.timeout * 2):
                    await self.redis.ping()
                    await self._learn()
            except asyncio.CancelledError:
                raise
            except Exception:
                continue
            break
        self.up = True
        self._probe = None
        log.warning("recovery: Redis at %s is back after %.1fs (%d event(s) went out without "
                    "an offset, %d dropped socket(s) were not kept meanwhile)", where(self.url),
                    time.monotonic() - self._since, self.unlogged - self._counts_then[0],
                    self.unsaved - self._counts_then[1])

    async def _close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.wait([self._probe], timeout=self.timeout)
            self._probe = None
        redis, self.redis, self.up = self.redis, None, False
        if redis is not None:
            try:
                await redis.aclose()
            except Exception as exc:  # closing a client whose Redis is gone: nothing to do
                log.debug("recovery: closing the Redis client: %s", exc)
