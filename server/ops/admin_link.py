"""The Admin UI across a cluster: what nodes with --admin tell each other through Redis.

Node's admin-ui leans on its adapter for this (``fetchSockets``, ``socketsJoin``,
``disconnectSockets`` reach every node); python-socketio's pub/sub managers have no such
requests, so the nodes with --admin share one more channel, ``openline#admin``, on their
own connections (the manager's stay as they are):

- ``watch``: "an Admin UI is connected to me"; a node sends it when one logs in and
  then every STATS_INTERVAL while any is. A node reports per-socket events only while
  some node has watched within WATCH_TTL, so --admin costs next to nothing when no UI
  is open (server_stats included);
- ``fetch``/``sockets``: a UI's ``all_sockets`` is every node's sockets: the node it
  logged in to asks, and waits for as many answers as the channel has other
  subscribers (``PUBSUB NUMSUB``), at most FETCH_TIMEOUT;
- ``command``: join, leave and disconnect from the UI, applied by every node to its own
  sockets (the UI's emit needs nothing: the manager's emit reaches every node);
- login sessions, so a UI reloaded onto another node stays logged in: a key per session
  (its SHA-256, never the id itself) that expires with it.

Everything else the UI sees (server_stats, socket_connected, ...) goes through the
manager's emit to /admin like any broadcast, so each node's reach every UI. With Redis
away the UI sees the node it is connected to, and each failure is logged once per
10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..cluster.messages import redact
from ..cluster.redis_manager import redis_options
from ..logsafe import Throttle
from ..net.redis_url import client

log = logging.getLogger("openline.admin")

CHANNEL = "openline#admin"
SESSION_KEY = "openline#admin#session#"  # + the session id's SHA-256, hex
STATS_INTERVAL = 2.0  # seconds between two server_stats, as Node's admin-ui
WATCH_TTL = 3 * STATS_INTERVAL
FETCH_TIMEOUT = 1.0
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0


class AdminLink:
    """One node's end of the channel. ``sockets()`` answers a fetch; ``command(name,
    args)`` applies another node's command; ``stats()`` sends this node's server_stats."""

    def __init__(self, url: str, node: str, timeout: float, sockets: Callable[[], list[Any]],
                 command: Callable[[str, list[Any]], Awaitable[None]],
                 stats: Callable[[], None]) -> None:
        self.url = url
        self.node = node
        self.timeout = timeout
        self.sockets = sockets
        self.command = command
        self.stats = stats
        self.watched_until = 0.0  # loop time until which some other node has a UI
        self.redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._fetches: dict[str, tuple[list[Any], asyncio.Event, list[int]]] = {}
        self._trouble = Throttle(log, logging.WARNING)

    async def start(self) -> None:
        self.redis = client(self.url, redis_options(self.timeout))
        self._listener = asyncio.ensure_future(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait([self._listener], timeout=self.timeout + 1)
        if self.redis is not None:
            await self.redis.aclose()

    def watched(self) -> bool:
        return asyncio.get_running_loop().time() < self.watched_until

    # --- sending --------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> bool:
        try:
            await asyncio.wait_for(self.redis.publish(CHANNEL, orjson.dumps(message)), self.timeout)
            return True
        except Exception as exc:  # redis-py's errors, OSError, the timeout
            self._trouble.note("Admin UI: publishing to Redis at %s failed (%s: %s); the UI "
                               "sees this node only", redact(self.url), type(exc).__name__, exc)
            return False

    async def watch(self) -> None:
        await self._send({"kind": "watch", "from": self.node})

    async def send_command(self, name: str, args: list[Any]) -> None:
        await self._send({"kind": "command", "from": self.node, "name": name, "args": args})

    async def fetch(self) -> list[Any]:
        """The other nodes' sockets (as many as answer within FETCH_TIMEOUT)."""
        try:
            (_, subscribers), = await asyncio.wait_for(self.redis.pubsub_numsub(CHANNEL), self.timeout)
        except Exception as exc:
            self._trouble.note("Admin UI: asking Redis at %s for the other nodes failed (%s: "
                               "%s)", redact(self.url), type(exc).__name__, exc)
            return []
        expected = int(subscribers) - 1  # this node is one of them
        if expected <= 0:
            return []
        request = uuid.uuid4().hex
        found: list[Any] = []
        done = asyncio.Event()
        self._fetches[request] = (found, done, [expected])
        try:
            if await self._send({"kind": "fetch", "from": self.node, "id": request}):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), FETCH_TIMEOUT)
        finally:
            del self._fetches[request]
        return found

    async def save_session(self, digest: str, ttl: float) -> None:
        with contextlib.suppress(Exception):  # then it is known on this node only
            await asyncio.wait_for(self.redis.set(SESSION_KEY + digest, 1, ex=int(ttl)), self.timeout)

    async def has_session(self, digest: str) -> bool:
        try:
            return bool(await asyncio.wait_for(self.redis.exists(SESSION_KEY + digest), self.timeout))
        except Exception:
            return False

    # --- receiving ------------------------------------------------------------

    async def _listen(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    delay = BACKOFF_FIRST
                    if message.get("type") == "message":
                        await self._take(message["data"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as exc:
                self._trouble.note("Admin UI: the Redis channel at %s failed (%s: %s); "
                                   "retrying", redact(self.url), type(exc).__name__, exc)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    async def _take(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            kind, sender = message["kind"], message.get("from")
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed message on the Redis channel %s", CHANNEL)
            return
        if sender == self.node:
            return  # our own, echoed back
        if kind == "watch":
            self.watched_until = asyncio.get_running_loop().time() + WATCH_TTL
        elif kind == "fetch":
            self.watched_until = asyncio.get_running_loop().time() + WATCH_TTL
            self.stats()  # the new UI lists this node at once, not at its next tick
            await self._send({"kind": "sockets", "to": sender, "id": message.get("id"),
                              "sockets": self.sockets()})
        elif kind == "sockets" and message.get("to") == self.node:
            fetch = self._fetches.get(message.get("id"))
            if fetch is not None:
                found, done, left = fetch
                found.extend(message.get("sockets") or ())
                left[0] -= 1
                if left[0] <= 0:
                    done.set()
        elif kind == "command" and isinstance(message.get("args"), list):
            try:
                await self.command(str(message.get("name")), message["args"])
            except Exception:
                log.exception("Admin UI command %r from node %s failed", message.get("name"), sender)
