"""Scale-out: nodes that share one Redis share rooms, broadcasts, kicks and acks.

``RedisManager`` is python-socketio's ``AsyncRedisManager`` (its pub/sub protocol on the
``socketio`` channel, so stock python-socketio emitters interoperate) with openline's
``FastEmitManager`` doing every local delivery. Where it departs from the stock class:

- local clients first, Redis second: an emit is written to this node's clients, then
  queued for one publisher task that sends the queue as ``batch`` messages (up to
  MAX_BATCH emits per PUBLISH); a failed publish never fails the emit, and a full
  queue (a burst) makes emitters wait rather than lose messages. A node skips its own
  batches, which Redis echoes back, without parsing them. While a stock python-socketio
  node listens on the channel, each message goes on its own instead (compat.py);
- an emit ``to=`` a sid connected here is not published at all (sids are unique, so no
  other node can hold it);
- the argument list travels exactly (key ``args``): stock folds a one-element list into
  that value, so one ``None`` argument (a JSON ``null``) arrived as no argument at all;
- with connection state recovery (``--recovery-window``: the Redis store, one log for
  all nodes) the emitting node logs an event once, delivers it with that offset and
  publishes it with the offset (key ``offset``, which stock ignores): every node delivers
  it with the same offset, unlogged, and takes it as its head. A message without one
  (a stock emitter or node, openline's Emitter, a node whose log was away) goes out
  without an offset and is logged by no one. An emit ``to=`` a local sid is logged too;
- Redis outages: stock logs every failed publish twice and every reconnect attempt, and
  builds a new client per attempt. Here a node logs the outage once, drops cross-node
  traffic while Redis is away (Redis pub/sub is at-most-once anyway), keeps serving its
  own clients, reconnects with capped, jittered backoff and logs the recovery once with
  the number of messages that stayed local. Recovery means answered: a PING for
  publishing and the subscribe confirmation for the subscription, not a command sent;
- a publish is late or never: one not answered within --redis-publish-timeout is given
  up and counted (``dropped_publishes``, one WARNING per DROP_LOG_INTERVAL), and Redis
  itself refuses it past that deadline (compat.PUBLISH_SCRIPT), so a frozen Redis that resumes
  does not deliver it seconds late, after newer ones.

What the pub/sub protocol itself provides, unchanged: ``enter_room``/``leave_room`` of a
sid on another node are published and applied there; ``disconnect`` of a remote sid is
published (a kick); an emit with a callback to a remote sid gets its ack back through a
``callback`` message addressed to the emitting node. Stock keeps the callback of an ack
that never comes (the client left, or ``call()`` timed out) for as long as the process
lives, since only a local disconnect clears callbacks; here it is forgotten after
``REMOTE_ACK_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import socketio

from ..config import Config
from ..errors import ClusterError
from ..net.redis_url import REDIS_OPTIONS, client, reach, redis_options  # noqa: F401 (re-exported)
from ..realtime.manager import FastEmitManager
from ..realtime.parsers import JsonPacket
from ..realtime.write_scope import in_write_scope
from .compat import PUBLISH_SCRIPT, FormatWatch, marker
from .health import BACKOFF_FIRST, BACKOFF_MAX, DROP_LOG_INTERVAL, RedisHealth, _jitter
from .messages import (
    BATCH_PREFIX,
    CHANNEL,
    as_args,
    batch_items,
    emit_message,
    message_args,
    redact,
)

log = logging.getLogger("openline.cluster")

MAX_BATCH = 500  # messages per PUBLISH: keeps one pub/sub message well under Redis's
# client-output-buffer-limit for subscribers (8 MB soft) with typical payloads
REMOTE_ACK_TTL = 120.0  # seconds an ack from another node may take (call() waits 60 s)
MAX_PENDING = 10_000  # messages waiting for Redis; past this, emitters wait for room
# A frozen Redis (SIGSTOP, a stalled VM) holds our PUBLISH in its socket buffer and runs
# it whenever it resumes: seconds late, and after newer ones sent on a new connection.
# Closing our end does not stop that (Redis still reads what its kernel holds, even after
# a RST: measured), so each batch carries a deadline in Redis's clock and the script
# (compat.PUBLISH_SCRIPT, which also picks the format) publishes only before it.


def client_manager(config: Config) -> socketio.AsyncManager:
    """The manager ``create_app`` gives the server: Redis-backed with ``--redis-url``."""
    if config.redis_url is None:
        return FastEmitManager()
    return RedisManager(config.redis_url, publish_timeout=config.redis_publish_timeout,
                        cluster_format=config.cluster_format,
                        connect_timeout=config.redis_connect_timeout,
                        start_anyway=config.redis_start_anyway)


class RedisManager(socketio.AsyncRedisManager, FastEmitManager, RedisHealth):
    """Shares rooms across nodes through Redis; local delivery is ``FastEmitManager``'s.

    MRO: RedisManager → AsyncRedisManager → AsyncPubSubManager → FastEmitManager →
    AsyncManager, so the pub/sub layer's ``super().emit`` reaches our local emit; the
    outage bookkeeping (health.py) comes last.
    """

    def __init__(self, url: str, channel: str = CHANNEL, publish_timeout: float = 2.0,
                 cluster_format: str = "auto", connect_timeout: float = 5.0,
                 start_anyway: bool = False) -> None:
        super().__init__(url, channel=channel, redis_options=redis_options(publish_timeout))
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout  # --redis-connect-timeout, at start
        self.start_anyway = start_anyway
        self.format = FormatWatch(channel, cluster_format)  # batch or single (compat.py)
        # cross-node messages that went nowhere (Redis away, no answer within the timeout,
        # or refused by Redis as late), over the node's lifetime: the metric to watch
        self.dropped_publishes = 0
        self.published = 0  # cross-node messages Redis took, over the node's lifetime (/metrics)
        self.up = asyncio.Event()  # set while both publishing and the subscription work
        self.outage = asyncio.Event()  # set from the failure that is logged to the recovery
        self._pub_ok = True  # optimistic until a publish fails or the subscription drops
        self._sub_ok = False
        self._outage_since: float | None = None
        self._dropped = 0  # messages kept local during the current outage
        self._late = 0  # stalled or refused-as-late messages since the last WARNING line
        self._late_logged_at = -DROP_LOG_INTERVAL
        self._clock_offset: float | None = None  # Redis's clock minus ours (TIME), seconds
        self._first_attempt = asyncio.Event()
        self._probe: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # set when the queue has room again
        self._started = False
        self._stopping = False  # stop(): the publisher sends what is queued, then ends
        self._own_batch = f"{BATCH_PREFIX}{self.host_id}".encode()

    def set_server(self, server: Any) -> None:
        super().set_server(server)
        # orjson for the pub/sub messages whatever the clients' parser (stock would use
        # the stdlib json of the msgpack parser); _listen relies on its compact output
        self.json = JsonPacket.json

    # --- lifecycle (create_app's cleanup context) ----------------------------

    def initialize(self) -> None:
        # python-socketio calls this on the first client; start() already did it.
        if not self._started:
            self._started = True
            # Our own tasks, not stock's server.start_background_task: the engine's
            # shutdown waits for its background tasks, and these live until stop(). In
            # a write scope: a batch from another node is written once per socket.
            self.thread = asyncio.ensure_future(in_write_scope(self._thread(), self.server.eio))
            self._publisher = asyncio.ensure_future(self._publish_batches())

    async def start(self) -> None:
        """Subscribe before the node takes clients, so nothing published is missed.
        Redis must answer within --redis-connect-timeout (ClusterError: the CLI exits with
        status 2) unless --redis-start-anyway: then the node serves its own clients and
        joins the cluster when Redis answers. A wrong password or db never starts."""
        # every URL form through redis-py (net/redis_url.py), valkey:// and sentinel too;
        # pubsub() takes its connection from the same pool
        self.redis = client(self.redis_url, self.redis_options)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await reach(self.redis, self.redis_url, self.connect_timeout)
        except ClusterError as exc:
            if not self.start_anyway or exc.permanent:
                await self.redis.aclose()
                raise
            log.warning("%s; starting anyway (--redis-start-anyway)", exc)
        self.initialize()
        try:
            await asyncio.wait_for(self._first_attempt.wait(), self.connect_timeout)
        except TimeoutError:
            log.warning("Redis at %s did not confirm the subscription within %ss; starting "
                        "anyway", redact(self.redis_url), self.connect_timeout)

    async def stop(self) -> None:
        """Stop listening, hand over what is queued, close. The publisher is not
        cancelled mid-send (a batch in flight would be lost or sent blind): it sends
        the queue, each send bounded by --redis-publish-timeout, and ends; with Redis
        away it ends at once (those messages stay local, as during any outage)."""
        for task in (getattr(self, "thread", None), self._probe):
            await self._cancel(task)
        publisher = self._publisher
        if publisher is not None and not publisher.done():
            self._stopping = True
            self._wake.set()
            await asyncio.wait([publisher], timeout=self.publish_timeout + 1)
            await self._cancel(publisher)
        if self._pending and self._pub_ok:
            with contextlib.suppress(Exception):  # the publisher died: hand over what is left
                await self._send(self._pending)
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    async def _cancel(self, task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done():
            task.cancel()
            # bounded: a cancellation that redis-py swallows mid-command must not hold
            # the node's shutdown (seen: a publisher back at its wake-up wait)
            await asyncio.wait([task], timeout=self.publish_timeout + 1)

    # --- emits ---------------------------------------------------------------

    async def emit(self, event: str, data: Any, namespace: str | None = None,  # type: ignore[override]
                   room: Any = None, skip_sid: Any = None, callback: Any = None,
                   to: Any = None, **kwargs: Any) -> None:
        room = to or room
        namespace = namespace or "/"
        offset = kwargs.get("offset")
        recovery = getattr(self.server, "recovery", None)
        if recovery is not None and callback is None and offset is None:
            # logged once, here: delivered here and on every node with this offset
            skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
            offset = await self.log_emit(recovery.store, event, as_args(data), namespace, room, skip)
        await FastEmitManager.emit(self, event, data, namespace, room=room, skip_sid=skip_sid,
                                   callback=callback, offset=offset)
        if kwargs.get("ignore_queue") or (
                isinstance(room, str) and self.is_sid_room(namespace, room)):
            return
        remote_callback = None
        if callback is not None:
            if room is None:
                raise ValueError("Cannot use callback without a room set.")
            ack_id = self._generate_ack_id(room, callback)
            remote_callback = (room, namespace, ack_id)
            asyncio.get_running_loop().call_later(
                self.remote_ack_ttl, self._forget_ack, room, ack_id)
        await self._publish(emit_message(event, as_args(data), namespace, room, skip_sid,
                                         remote_callback, self.host_id, offset))

    remote_ack_ttl = REMOTE_ACK_TTL

    def _forget_ack(self, key: Any, ack_id: int) -> None:
        acks = self.callbacks.get(key)
        if acks is None:
            return
        acks.pop(ack_id, None)
        if len(acks) == 1 and 0 in acks:  # only the id counter is left
            del self.callbacks[key]

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """An emit published by another node (or a worker): deliver to our clients."""
        remote = message.get("callback")
        callback = None
        if remote is not None and len(remote) == 3:
            callback = partial(self._return_callback, message.get("host_id"), *remote)
        namespace = message.get("namespace") or "/"
        await FastEmitManager.emit(self, message["event"], message_args(message), namespace,
                                   room=message.get("room"), skip_sid=message.get("skip_sid"),
                                   callback=callback, offset=self._offset_of(message, namespace))

    def _offset_of(self, message: dict[str, Any], namespace: str) -> str:
        """The offset the emitting node logged the event under, or "" (none: a stock node
        or emitter, or a node whose log was away): never logged here a second time."""
        recovery = getattr(self.server, "recovery", None)
        observe = getattr(recovery.store, "observe", None) if recovery is not None else None
        offset = message.get("offset")
        if observe is None or not isinstance(offset, str) or not observe(namespace, offset):
            return ""
        return offset

    # --- Redis I/O and outages ----------------------------------------------

    async def _publish(self, data: dict[str, Any]) -> None:
        """Queue a message for Redis without waiting for it.

        Awaiting each PUBLISH made every broadcast yield to the event loop, so each
        recipient's writer task woke once per broadcast instead of once per batch: ~+15%
        CPU per delivery in a room of 1000, and a round trip per emit in small rooms
        (bench/redis_broadcast.py). One task sends whatever is queued (``_send``); order
        is kept. Encoding here freezes the payload: callers may mutate it later.
        """
        if not self._pub_ok:
            self._keep_local(1)
            return
        while len(self._pending) >= MAX_PENDING:
            # Backpressure, not loss: a burst waits for the pipeline in flight (dropping
            # here lost half of a 20,000-broadcast burst in the bench). A failing Redis
            # releases the wait within --redis-publish-timeout, after which emits stay local.
            self._room.clear()
            await self._room.wait()
            if not self._pub_ok:
                self._keep_local(1)
                return
        self._pending.append(self.json.dumps(data))
        self._wake.set()

    async def _publish_batches(self) -> None:
        while True:
            if self._stopping and not self._pending:
                return
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            self._room.set()
            if not batch:
                continue
            if not self._pub_ok:
                self._keep_local(len(batch))
                continue
            me = asyncio.current_task()
            try:
                late = await self._send(batch)
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError  # stop() cancelled a send redis-py completed
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis-py's errors, OSError, our TimeoutError
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError from exc  # stop()'s, turned into an error
                if isinstance(exc, TimeoutError) and not str(exc):
                    exc = TimeoutError(f"no answer within {self.publish_timeout}s")
                self._keep_local(len(batch))
                self._count_late(len(batch), "no answer in time")
                self._pub_ok = False
                self._clock_offset = None
                self._changed(exc)
                if self._probe is None or self._probe.done():
                    self._probe = asyncio.ensure_future(self._probe_publishing())
                continue
            self.published += len(batch) - late
            if late:
                # Redis was slow, or our idea of its clock is off: measure it again
                self._clock_offset = None
                self._keep_local(late)
                self._count_late(late, "reached Redis after the deadline")

    async def _send(self, batch: list[str]) -> int:
        """Publish queued messages a few hundred per pub/sub message (``batch``).

        One PUBLISH (and one Redis reply, one message for each subscriber to read and
        parse) per message cost ~30 us of redis-py time each, on the sender and on every
        node, own echo included: a broadcast to a room of 10 ran at 0.55x in-memory speed
        (bench/redis_broadcast.py). Stock python-socketio servers ignore the unknown
        method: while one listens, the script sends each message alone (compat.py).

        Gives up (TimeoutError) after --redis-publish-timeout; each PUBLISH runs through
        compat.PUBLISH_SCRIPT with that deadline. Returns how many messages Redis refused
        as arriving after it.
        """
        async with asyncio.timeout(self.publish_timeout):
            if self._clock_offset is None:
                await self._sync_clock()
            assert self._clock_offset is not None
            deadline = f"{time.time() + self._clock_offset + self.publish_timeout:.6f}"
            pipe = self.redis.pipeline(transaction=False)
            sizes = []
            head = f'{BATCH_PREFIX}{self.host_id}","messages":['
            for start in range(0, len(batch), MAX_BATCH):
                chunk = batch[start:start + MAX_BATCH]
                sizes.append(len(chunk))
                pipe.eval(PUBLISH_SCRIPT, *self.format.args(deadline, head, chunk))
            replies = await pipe.execute()
        for reply in replies:
            self.format.saw(reply)
        return sum(size for size, reply in zip(sizes, replies, strict=True) if reply == -1)

    async def _listen(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        """Messages on the channel, forever: resubscribes with backoff after failures."""
        channel = self.channel.encode()
        delay = BACKOFF_FIRST
        self.pubsub.ignore_subscribe_messages = False  # stock's choice; we wait for the confirmation
        while True:
            try:
                # Only sends SUBSCRIBE: a frozen Redis's kernel still accepts the connection
                # and the bytes. The subscription works once Redis confirms it, below.
                # with the marker, in one SUBSCRIBE: Redis counts us on both (compat.py)
                await self.pubsub.subscribe(self.channel, marker(self.channel))
                async for message in self.pubsub.listen():
                    if message["type"] == "subscribe" and not self._sub_ok:
                        self._sub_ok = True
                        self._changed()
                        self._first_attempt.set()
                        delay = BACKOFF_FIRST
                    elif message["type"] == "message" and message["channel"] == channel:
                        data = message["data"]
                        if not data.startswith(b'{"method":"batch"'):
                            yield data  # one message, e.g. from a stock emitter
                        elif not data.startswith(self._own_batch):  # ours come back too
                            for item in batch_items(data):
                                yield item
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._sub_ok = self._pub_ok = False
                self._clock_offset = None
                self._changed(exc)
                self._first_attempt.set()
                if self._probe is None or self._probe.done():
                    self._probe = asyncio.ensure_future(self._probe_publishing())
                with contextlib.suppress(Exception):
                    await self.pubsub.aclose()  # releases the broken connection; stays usable
                await asyncio.sleep(_jitter(delay))
                delay = min(delay * 2, BACKOFF_MAX)
