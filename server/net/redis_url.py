"""The Redis a ``--redis-url`` names, as one redis-py asyncio client, whatever the form.

Every form python-socketio's ``AsyncRedisManager`` accepts (values.REDIS_SCHEMES):

- ``redis://``, ``rediss://`` (TLS), ``unix:///path.sock[?db=N]``: ``Redis.from_url``;
- ``valkey://``, ``valkeys://``: the same, as ``redis://`` and ``rediss://``. Valkey speaks
  Redis's protocol (RESP) and redis-py talks to it unchanged; stock python-socketio loads
  the ``valkey`` package (redis-py's fork) for these, openline needs no second client;
- ``redis+sentinel://[user:pw@]host:port,host:port/db/service`` (``valkey+sentinel://``
  alike): redis-py's ``Sentinel`` asks the sentinels for ``service``'s master (default
  ``socketio``, as stock) and follows failovers; the password and db are the master's, as
  stock's ``parse_redis_sentinel_url`` hands them over.

The node's manager (pub/sub included: ``pubsub()`` takes its connection from the same
pool), the recovery store, the Admin UI's link, ``Emitter`` and ``openline emit`` all get
their client here. ``reach`` is the check at start: one PING answered within a bound.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any
from urllib.parse import urlsplit

from ..errors import ClusterError

SENTINEL_SERVICE = "socketio"  # python-socketio's default: its channel name

# One immediate retry inside redis-py, no backoff: a pooled connection left stale by a
# Redis restart gets reconnected once (without it the first publish after every restart
# failed), while a dead Redis still fails fast so emits never wait on it. Backoff and
# reconnecting the subscription are the callers' job. Keepalive notices dropped peers.
# The socket timeouts are --redis-publish-timeout (the subscription's blocking read has
# none); every publish and probe is bounded by it as a whole as well, retry included.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_keepalive": True,
}


def redis_options(timeout: float = 2.0) -> dict[str, Any]:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return {**REDIS_OPTIONS, "socket_connect_timeout": timeout, "socket_timeout": timeout,
            "retry": Retry(NoBackoff(), 1)}


def client(url: str, options: dict[str, Any], max_connections: int | None = None) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` with ``options`` (redis-py connection keyword
    arguments). ``max_connections``: a pool that waits for a free connection past that
    many (not for sentinel URLs: their pool is redis-py's SentinelConnectionPool).
    Raises ClusterError (permanent) for a URL redis-py cannot take."""
    try:
        return _client(url, options, max_connections)
    except ValueError as exc:  # a query option redis-py refuses, a bad sentinel host list
        raise ClusterError(shown(url), exc, permanent=True) from None


def _client(url: str, options: dict[str, Any], max_connections: int | None) -> Any:
    from redis import asyncio as aioredis

    scheme = urlsplit(url).scheme.lower()
    if scheme.endswith("+sentinel"):
        from redis.asyncio.sentinel import Sentinel
        from socketio.redis_manager import parse_redis_sentinel_url

        sentinels, service, extra = parse_redis_sentinel_url("redis+sentinel" + url[len(scheme):])
        sentinel = Sentinel(sentinels, **{**options, **extra})
        master = sentinel.master_for(service or SENTINEL_SERVICE, redis_class=_master_class())
        master.sentinels = sentinel.sentinels
        return master
    if scheme in ("valkey", "valkeys"):
        url = "redis" + url[len("valkey"):]
    if scheme == "unix":  # TCP's options: redis-py's unix connection takes none of them
        options = {k: v for k, v in options.items() if not k.startswith("socket_keepalive")}
    if max_connections is None:
        return aioredis.Redis.from_url(url, **options)
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                                    timeout=None, **options)
    return aioredis.Redis.from_pool(pool)


@functools.cache
def _master_class() -> Any:
    from redis import asyncio as aioredis

    class SentinelMaster(aioredis.Redis):  # type: ignore[misc]
        """The master's client; closing it closes the connections to the sentinels too
        (redis-py's master_for client leaves them open)."""

        sentinels: list[Any] = []

        async def aclose(self, close_connection_pool: bool | None = None) -> None:
            await super().aclose(close_connection_pool)
            for sentinel in self.sentinels:
                await sentinel.aclose()

    return SentinelMaster


def shown(url: str) -> str:
    """The URL for a log line or an error: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + netloc).geturl()


async def check(url: str, options: dict[str, Any], timeout: float) -> None:
    """``reach`` with a client of its own, closed after: ``openline run`` asks before it
    builds the app, so a Redis that does not answer costs one line and nothing else."""
    redis = client(url, options)
    try:
        await reach(redis, url, timeout)
    finally:
        await redis.aclose()


def _permanent(exc: BaseException) -> bool:
    """A refusal that waiting will not change (a wrong password or user, a db out of
    range, an option redis-py refuses), as opposed to no answer (refused, reset, timed
    out, a sentinel that knows no master yet: Redis may be starting)."""
    from redis.exceptions import AuthenticationError
    from redis.exceptions import ConnectionError as NoConnection
    from redis.exceptions import TimeoutError as NoAnswer

    away = isinstance(exc, (NoConnection, NoAnswer, OSError, TimeoutError))
    refused = isinstance(exc, AuthenticationError) or "username-password" in str(exc)
    return refused or not away


async def reach(redis: Any, url: str, timeout: float) -> None:
    """PING until answered, for at most ``timeout`` seconds (Redis may be starting beside
    us); raises ClusterError at once for a refusal waiting will not change (a wrong
    password, a db out of range), and with the last failure when time is up."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        left = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 0.001)):
                await redis.ping()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) and not str(exc):
                exc = TimeoutError(f"no answer within {timeout:g}s")
            if _permanent(exc) or time.monotonic() + delay >= deadline:
                raise ClusterError(shown(url), exc, permanent=_permanent(exc)) from None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
