"""The Redis recovery store: one packet log and one set of saved sockets for every node.

With ``--recovery-window`` and ``--redis-url``, a client that drops comes back on any
node, and after the node it was on has restarted. What it keeps is in redis_codec.py
(keys, formats, the append script); the connection and outages in redis_link.py. Needs
Redis 6.2 or newer (GETDEL, exclusive XRANGE).

- append: one task per node sends what is queued, a namespace's events in one script
  call (XADD each; refused past a deadline in Redis's clock), and resolves the emits in
  the order they came, so this node's delivery order is its offset order. An emit waits
  one round trip. The cap (--recovery-max-packets) is kept exactly, trimmed back to
  once it is passed by 1/SLACK, and the newest ID it pushed out is recorded;
- save is SET with PX = the window (sessions expire in Redis's clock), take is GETDEL,
  so of two nodes asked for one pid only one gets it; both are pipelined with whatever
  else is queued, so a mass drop or a mass return costs round trips, not connections;
- missed reads the log after the client's offset (XRANGE, pages of PAGE, READERS at a
  time), then the trim mark and XINFO STREAM: it refuses an offset that is malformed or
  newer than the stream's last ID, a log whose cap pushed out anything after the drop,
  and a ``gap`` after the drop;
- head is the newest ID this node knows: its own appends' and, through ``observe``, the
  offsets on other nodes' messages (cluster/redis_manager.py), so a socket's connect
  and joins are placed without a round trip. ``start`` learns every log's last ID first
  (SCAN + XINFO), so a restarted node does not take an old log for new events;
- the window also trims the logs: every SWEEP seconds at most, entries older than the
  window (and MARGIN) go. That needs no record: a socket still kept dropped less than a
  window ago, so nothing logged after its drop is that old.

Redis away (refused, reset, or no answer within --redis-publish-timeout): this node logs
one WARNING, then emits go out at once without an offset (counted in ``unlogged``),
dropped sockets are not kept (``unsaved``) and recoveries come back as new sockets. When
Redis answers again (PING, with backoff) one WARNING says so with the counts, and each
namespace that sent events unlogged gets a ``gap`` entry first: a socket that dropped
before it comes back as a new one, since the log cannot say what it missed. A value
msgpack cannot hold (even through orjson) makes its event unlogged and a gap too; session
data it cannot hold leaves the socket unkept; each is a WARNING at most every 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from . import redis_codec as codec
from .redis_link import AWAY, READERS, NoScriptError, RedisLink, client
from .store import Entry, Missed, Saved, was_sent_to

log = logging.getLogger("openline.recovery")

PAGE = 1000  # entries per XRANGE
SWEEP = 30.0  # seconds between two time trims at most (window / 4 if shorter)
MARGIN = 10.0  # seconds kept past the window when trimming by time (clock steps)
SLACK = 64  # the log may pass the cap by 1/SLACK before the script trims it back (once
# per cap/SLACK appends instead of at every one); the trim mark stays exact
MAX_PID = 64  # a longer "pid" in a CONNECT is no pid of ours: no round trip for it


class RedisStore(RedisLink):
    """``Store`` shared by every node on one Redis (see the module docstring)."""

    def __init__(self, url: str, window: float, max_packets: int, timeout: float = 2.0,
                 connect: Callable[[str, float], Any] = client) -> None:
        super().__init__(url, timeout, connect)
        self.window = window
        self.max_packets = max_packets
        self._heads: dict[str, str] = {}
        self._gaps: set[str] = set()  # namespaces with events that went out unlogged
        self._queue: list[tuple[str, bytes, asyncio.Future[str]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.margin = MARGIN
        self._readers = asyncio.Semaphore(READERS)  # a mass reconnect waits here, not in the pool

    # --- the log -------------------------------------------------------------

    def head(self, namespace: str) -> str:
        return self._heads.get(namespace, "")

    def observe(self, namespace: str, offset: str) -> bool:
        """Another node logged ``offset``: it is the head now if newer. False for a string
        that is no offset (the message then goes out without it)."""
        if not codec.OFFSET.fullmatch(offset):
            return False
        self._advance(namespace, offset)
        return True

    def _advance(self, namespace: str, offset: str) -> None:
        if codec.later(offset, self._heads.get(namespace, "")):
            self._heads[namespace] = offset

    async def append(self, namespace: str, rooms: frozenset[Any] | None,
                     excluded: frozenset[Any], data: list[Any]) -> str:
        """``Store.append``; "" (and ``data`` unchanged) when the event cannot be logged."""
        if not self.up:
            self._unlogged(namespace)
            return ""
        try:
            blob = codec.pack_entry(rooms, excluded, data)
        except (TypeError, ValueError, OverflowError) as exc:
            self._unlogged(namespace)
            self._note("value", "recovery: event %r in %s goes out without an offset: msgpack "
                               "cannot hold its arguments (%s)", data[0] if data else None,
                               namespace, exc)
            return ""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((namespace, blob, done))
        self._idle.clear()
        self._wake.set()
        offset = await done
        if offset:
            data.append(offset)
        return offset

    def _unlogged(self, namespace: str) -> None:
        self.unlogged += 1
        self._gaps.add(namespace)

    async def _append_batches(self) -> None:
        batch: list[tuple[str, bytes, asyncio.Future[str]]] = []
        try:
            while True:
                if not self._queue:
                    self._idle.set()
                    await self._wake.wait()
                self._wake.clear()
                batch, self._queue = self._queue, []
                if batch:
                    offsets = await self._send(batch) if self.up else [""] * len(batch)
                    for (namespace, _, done), offset in zip(batch, offsets, strict=True):
                        if not offset:
                            self._unlogged(namespace)
                        if not done.done():
                            done.set_result(offset)
                    batch = []
        finally:  # stop(): whatever was in flight goes out without an offset
            for _, _, done in batch:
                if not done.done():
                    done.set_result("")

    async def _send(self, batch: list[tuple[str, bytes, asyncio.Future[str]]]) -> list[str]:
        """One pipeline, one script call per namespace; the offsets, "" for each event
        not logged."""
        by_namespace: dict[str, list[int]] = {}
        for index, (namespace, _, _) in enumerate(batch):
            by_namespace.setdefault(namespace, []).append(index)
        offsets = [""] * len(batch)
        plan = []
        for namespace, indexes in by_namespace.items():
            gap = namespace in self._gaps
            argv: list[Any] = [self.max_packets, self.max_packets + self.max_packets // SLACK,
                               *(("gap", "1") if gap else ())]
            for index in indexes:
                argv += ("e", batch[index][1])
            plan.append((namespace, indexes, gap, argv))
        try:
            async with asyncio.timeout(self.timeout):
                if self._clock is None:
                    await self._sync_clock()
                assert self._clock is not None
                deadline = f"{time.time() + self._clock + self.timeout:.6f}"
                replies = await self._run_append(plan, deadline)
                if any(isinstance(reply, NoScriptError) for reply in replies):
                    # a Redis restarted (or SCRIPT FLUSHed) since it was loaded: load, resend
                    await self.redis.script_load(codec.APPEND)
                    again = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
                    for i, reply in zip(again, await self._run_append([plan[i] for i in again],
                                                                      deadline), strict=True):
                        replies[i] = reply
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._away(exc)
            return offsets
        for (namespace, indexes, gap, _), reply in zip(plan, replies, strict=True):
            if isinstance(reply, Exception) or reply is None:
                self._clock = None  # past the deadline: Redis was slow, or its clock moved
                self._note("log", "recovery: Redis did not log events in %s: %s", namespace,
                                   reply or "past the deadline")
                continue
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in reply]
            if gap:
                ids = ids[1:]
                self._gaps.discard(namespace)
            for index, offset in zip(indexes, ids, strict=True):
                offsets[index] = offset
            self._advance(namespace, ids[-1])
        return offsets

    async def _run_append(self, plan: list[tuple[str, list[int], bool, list[Any]]],
                          deadline: str) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for namespace, _, _, argv in plan:
            pipe.evalsha(codec.APPEND_SHA, 2, codec.log_key(namespace), codec.trim_key(namespace),
                         deadline, *argv)
        return list(await pipe.execute(raise_on_error=False))

    # --- sessions ------------------------------------------------------------

    async def save(self, saved: Saved) -> None:
        """Kept once Redis has answered: it outlives this process from then on."""
        saved.disconnected_at = time.time()
        if not self.up:
            self.unsaved += 1
            return
        try:
            blob = codec.pack_saved(saved)
        except (TypeError, ValueError, OverflowError) as exc:
            self.unsaved += 1
            self._note("data", "recovery: %s in %s is not kept: msgpack cannot hold its session "
                               "data (%s)", saved.sid, saved.namespace, exc)
            return
        px = max(1, int(self.window * 1000))
        ok, _ = await self._command("set", codec.session_key(saved.pid, saved.namespace), blob, px=px)
        if not ok:
            self.unsaved += 1

    async def take(self, pid: str, namespace: str) -> Saved | None:
        if not self.up or not pid or len(pid) > MAX_PID:
            return None
        _, blob = await self._command("getdel", codec.session_key(pid, namespace))
        if not isinstance(blob, bytes):
            return None
        try:
            return codec.unpack_saved(blob)
        except Exception as exc:  # msgpack's errors, or another version's record
            self._note("record", "recovery: unreadable saved session in %s: %s", namespace, exc)
            return None

    async def missed(self, saved: Saved, offset: str | None) -> Missed | None:
        if offset is not None and not codec.OFFSET.fullmatch(offset):
            return None  # "" too: the client sends an offset only once it has one
        after = saved.start if offset is None else offset
        if not self.up:
            return None
        key, namespace = codec.log_key(saved.namespace), saved.namespace
        events: list[list[Any]] = []
        last = after
        try:
            async with self._readers, asyncio.timeout(self.timeout * 4):
                for _ in range(self.max_packets // PAGE + 10):  # the log is at most the cap
                    pipe = self.redis.pipeline(transaction=True)
                    pipe.xrange(key, f"({last}" if last else "-", "+", count=PAGE)
                    pipe.get(codec.trim_key(namespace))
                    pipe.xinfo_stream(key)
                    page, trimmed, info = await pipe.execute(raise_on_error=False)
                    if isinstance(page, Exception):
                        raise page
                    for entry_id, fields in page:
                        last = entry_id.decode()
                        if not self._take_entry(saved, last, fields, events):
                            return None
                    if len(page) < PAGE:
                        break
                else:
                    return None  # the log grew faster than it could be read
        except asyncio.CancelledError:
            raise
        except AWAY as exc:
            self._away(exc)
            return None
        except Exception as exc:  # a refused command, or an entry it cannot read
            self._note("read", "recovery: cannot read the log of %s: %s", namespace, exc)
            return None
        newest = "" if isinstance(info, Exception) else info["last-generated-id"].decode()
        if after and codec.later(after, newest):
            return None  # not an offset of this log
        if isinstance(trimmed, bytes) and codec.later(trimmed.decode(), saved.disconnected):
            return None  # the cap pushed out events it missed after dropping
        return Missed(events, last)

    def _take_entry(self, saved: Saved, offset: str, fields: dict[bytes, bytes],
                    events: list[list[Any]]) -> bool:
        """Add one log entry to ``events`` if it went to ``saved``; False for a gap
        after the drop."""
        blob = fields.get(b"e")
        if blob is None:
            return not (b"gap" in fields and codec.later(offset, saved.disconnected))
        rooms, excluded, data = codec.unpack_entry(blob)
        entry = Entry(offset, rooms, excluded, [*data, offset], codec.order(offset)[0] / 1000)
        if was_sent_to(saved, entry, codec.later):
            events.append(entry.data)
        return True

    def later(self, a: str, b: str) -> bool:
        return codec.later(a, b)

    # --- lifetime and outages ----------------------------------------------

    async def start(self) -> None:
        """Connect and learn every log's last ID (redis_link.py: Redis away, it starts anyway)."""
        self._tasks = [asyncio.ensure_future(self._append_batches()),
                       asyncio.ensure_future(self._run_commands()),
                       asyncio.ensure_future(self._sweep())]
        await self._open()

    async def _learn(self) -> None:
        """Every log's last ID: its head, unless this node knows a newer one."""
        async for key in self.redis.scan_iter(match=codec.LOG_PATTERN, count=1000):
            try:
                info = await self.redis.xinfo_stream(key)
            except Exception as exc:  # the key went (or is no stream): nothing to learn
                if isinstance(exc, AWAY):
                    raise
                continue
            self._advance(codec.namespace_of(key), info["last-generated-id"].decode())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(self.window / 4, SWEEP)))
            if self.up:
                await self.trim_old()

    async def trim_old(self) -> None:
        """Trim each log this node knows of by time (see the module docstring)."""
        try:
            async with asyncio.timeout(self.timeout):
                seconds, micros = await self.redis.time()
                oldest = int((seconds + micros / 1e6 - self.window - self.margin) * 1000)
                pipe = self.redis.pipeline(transaction=False)
                for namespace in list(self._heads):
                    pipe.xtrim(codec.log_key(namespace), minid=f"{max(oldest, 0)}-0",
                               approximate=False)
                await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            raise
        except AWAY as exc:
            self._away(exc)
        except Exception as exc:
            self._note("trim", "recovery: cannot trim the logs: %s", exc)

    async def stop(self) -> None:
        """Let queued appends finish (within the timeout), then close. What Redis holds
        stays: saved sockets recover on any node, or on this one restarted."""
        if self.up and not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.timeout)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout)
        for _, _, done in self._queue:
            if not done.done():
                done.set_result("")
        self._queue = []
        await self._close()
