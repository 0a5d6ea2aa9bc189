"""``ClientSteps``: each client's steps (its connect, its events) run in the order they
arrived, one at a time, by one worker task per client; other clients' run concurrently.

A worker exists only while its client is active. After an event it parks on a future
instead of ending, so a client sending events one at a time does not pay a new task
per event (task creation and its registration were ~12% of the equal-load latency
bench, bench/RESULTS.md); a worker parked through two sweeps (1-2 s) ends. A worker
whose last step was a connect ends at once, so idle connections hold no task.

With ``overlap`` above 1 (--handler-overlap) a client's events still start in the order
sent, but up to ``overlap`` of them run at once, each in a task of its own (as
python-socketio's and Node's handlers do, which have no bound): an event whose handler
awaits (a ``call()`` to its client, I/O) no longer holds up the next. Its other steps
(connect, disconnect) still wait for every event before them to finish, and the worker
parks or ends only once its events have.

Each worker runs in a write scope (server/realtime/write_scope.py): the frames its steps send
leave when it suspends, so the acks of events that arrived together share one write.

Bounds (a client that floods a slow handler held ~450 MB with 1M events, and each of
them logged a WARNING once it had gone): once ``max_queued`` events, or ``max_bytes`` of
their frames, wait for a client, ``full`` says so and ``room`` gives a future settled
when half of them have run: the callers stop reading from that client meanwhile
(back-pressure: TCP slows the sender down, and nothing it sent is lost). A caller that
queues past twice the bound anyway has broken that contract: the waiting events are
dropped, ``on_flood`` is called once (its caller closes the session) and that client's
later events are dropped until ``end``. A session that ends drops
its waiting events quietly: they would only have found their client gone. Other steps
(connects, chained disconnects) always run: they settle the manager's bookkeeping.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..logsafe import CONNECTION, about
from .write_scope import written_on_suspend

log = logging.getLogger("openline.realtime")

SWEEP_INTERVAL = 1.0  # seconds between checks for parked workers to end


# step, args, settled, frame bytes if it is an event (None for connects and the like)
Step = tuple[Any, tuple[Any, ...], "asyncio.Future[None] | None", "int | None"]


class _Client:
    """One client's queued steps and the worker running them."""

    __slots__ = ("steps", "task", "wake", "linger", "parked_at", "ended", "capacity", "size",
                 "room", "running")

    def __init__(self, capacity: int) -> None:
        self.steps: collections.deque[Step] = collections.deque()
        self.capacity = capacity  # steps it may queue at most: 2 x max_queued, 0 once flooded
        self.size = 0  # frame bytes of the events waiting
        self.room: asyncio.Future[None] | None = None  # a reader waiting for room (room())
        self.task: asyncio.Task[None] | None = None
        self.wake: asyncio.Future[bool] | None = None  # set while parked
        self.linger = False  # park when idle (it has run an event) rather than end
        self.parked_at = 0
        self.ended = False  # the session is gone: finish the queue, then end
        self.running: set[asyncio.Task[None]] = set()  # its events' tasks (overlap > 1)


class ClientSteps:
    def __init__(self, engine: Any, max_queued: int = sys.maxsize,
                 on_flood: Callable[[str], None] | None = None,
                 max_bytes: int = sys.maxsize, overlap: int = 1) -> None:
        self.engine = engine  # the write scope's engine; None: frames go out as usual
        self.max_queued = max_queued
        self.max_bytes = max_bytes
        self.hard = max_queued * 2 if max_queued < sys.maxsize // 2 else sys.maxsize
        self.hard_bytes = max_bytes * 2 if max_bytes < sys.maxsize // 2 else sys.maxsize
        self.on_flood = on_flood
        self.overlap = overlap  # a client's events that may run at once (module doc)
        self.flooded: set[str] = set()  # over max_queued, until end(): events dropped
        self.clients: dict[str, _Client] = {}
        self.parked: set[_Client] = set()
        self.sweeps = 0
        self.sweeper: asyncio.TimerHandle | None = None

    def add(self, eio_sid: str, step: Any, args: tuple[Any, ...], *, linger: bool = False,
            settled: asyncio.Future[None] | None = None, size: int = 0,
            unless_full: bool = False) -> bool:
        """Queue ``step(*args)`` after the client's earlier steps; ``settled`` gets its
        result (None) once it has run; ``linger``: it is an event of ``size`` frame bytes
        (see the module doc), dropped when the client has twice the bound waiting
        (``on_flood`` is called). ``unless_full``: not queued, and False returned, when
        the client is ``full`` (one look-up for the check and the queueing)."""
        client = self.clients.get(eio_sid)
        if client is None:
            if linger and eio_sid in self.flooded:
                return True
            client = self.clients[eio_sid] = _Client(self.hard)
            client.task = asyncio.get_running_loop().create_task(self._work(eio_sid, client))
        elif linger:  # the checks per event
            waiting = len(client.steps)
            if unless_full and (waiting >= self.max_queued or client.size >= self.max_bytes):
                return False
            if waiting >= client.capacity or client.size > self.hard_bytes:
                if client.capacity:
                    self._flood(eio_sid, client)
                return True
        client.steps.append((step, args, settled, size if linger else None))
        if linger:
            client.size += size
            client.linger = True
        if client.wake is not None:
            self._unpark(client, True)
        return True

    def full(self, eio_sid: str) -> bool:
        """Whether the client has its bound of events (or of their bytes) waiting."""
        client = self.clients.get(eio_sid)
        return client is not None and (len(client.steps) >= self.max_queued
                                       or client.size >= self.max_bytes)

    def room(self, eio_sid: str) -> asyncio.Future[None] | None:
        """None when the client may queue another event now; else a future settled once
        half of what waits has run (or the client has ended): read nothing from it until
        then."""
        if not self.full(eio_sid):
            return None
        client = self.clients[eio_sid]
        if client.room is None:
            client.room = asyncio.get_running_loop().create_future()
        return client.room

    def _made_room(self, client: _Client) -> None:
        room = client.room
        if room is not None and (client.ended or (len(client.steps) <= self.max_queued // 2
                                                  and client.size <= self.max_bytes // 2)):
            client.room = None
            if not room.done():
                room.set_result(None)

    def end(self, eio_sid: str) -> None:
        """The client's session ended: its waiting events are dropped, its worker runs
        the other steps queued, then ends."""
        self.flooded.discard(eio_sid)
        client = self.clients.pop(eio_sid, None)
        if client is not None:
            client.ended = True
            _drop_events(client)
            self._made_room(client)
            self._unpark(client, False)

    def _flood(self, eio_sid: str, client: _Client) -> None:
        client.capacity = 0
        self.flooded.add(eio_sid)  # for a worker started after this one has ended
        _drop_events(client)
        if self.on_flood is not None:
            self.on_flood(eio_sid)

    def _unpark(self, client: _Client, more: bool) -> None:
        """Wake a parked worker: ``more`` True to run its queue, False to end."""
        wake = client.wake
        if wake is not None:
            client.wake = None
            self.parked.discard(client)
            if not wake.done():
                wake.set_result(more)

    async def _work(self, eio_sid: str, client: _Client) -> None:
        CONNECTION.set(eio_sid)  # in this task: its steps' own log lines name the session
        if self.engine is not None:
            await written_on_suspend(self._run(eio_sid, client), self.engine)
        else:
            await self._run(eio_sid, client)

    async def _run(self, eio_sid: str, client: _Client) -> None:
        steps, running, overlap = client.steps, client.running, self.overlap
        loop = asyncio.get_running_loop()
        try:
            while True:
                while steps:
                    step, args, settled, size = steps.popleft()
                    if size is not None:
                        client.size -= size
                        if client.room is not None:
                            self._made_room(client)
                        if overlap > 1:  # its own task, once fewer than overlap run
                            self._start(eio_sid, client, step, args, settled)
                            if len(running) >= overlap:
                                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                            continue
                    if running:  # a connect or disconnect: after the events before it
                        await asyncio.wait(running)
                    try:  # each step stands alone, as a task of its own did
                        await step(*args)
                    except asyncio.CancelledError:
                        if client.task is not None and client.task.cancelling():
                            raise  # this worker was cancelled, not just what its step awaited
                    except Exception:
                        log.exception("session %s: step %s failed", eio_sid,
                                      getattr(step, "__name__", step), extra=about(eio_sid))
                    finally:
                        if settled is not None and not settled.done():
                            settled.set_result(None)
                # with events still running it parks until they have (_finished) or more come
                if not running and (client.ended or not client.linger):
                    return
                client.wake = loop.create_future()
                client.parked_at = self.sweeps
                self.parked.add(client)
                if self.sweeper is None:
                    self.sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
                if not await client.wake and not steps and not running:
                    return
        finally:
            if self.clients.get(eio_sid) is client:
                del self.clients[eio_sid]
            self._unpark(client, False)
            client.ended = True
            self._made_room(client)
            for _, _, settled, _ in steps:  # cancelled with steps queued
                if settled is not None and not settled.done():
                    settled.set_result(None)

    def _start(self, eio_sid: str, client: _Client, step: Any, args: tuple[Any, ...],
               settled: asyncio.Future[None] | None) -> None:
        task = asyncio.get_running_loop().create_task(self._overlapping(eio_sid, step, args, settled))
        client.running.add(task)
        task.add_done_callback(lambda done: self._finished(client, done))

    def _finished(self, client: _Client, task: asyncio.Task[None]) -> None:
        client.running.discard(task)
        if not client.running and client.wake is not None:
            self._unpark(client, True)  # its worker may end now (or park as usual)

    @staticmethod
    async def _overlapping(eio_sid: str, step: Any, args: tuple[Any, ...],
                           settled: asyncio.Future[None] | None) -> None:
        """One event's step in a task of its own (overlap > 1), failing as the worker's do."""
        try:
            await step(*args)
        except Exception:
            log.exception("session %s: step %s failed", eio_sid, getattr(step, "__name__", step),
                          extra=about(eio_sid))
        finally:
            if settled is not None and not settled.done():
                settled.set_result(None)

    def _sweep(self) -> None:
        """End the workers parked since before the previous sweep."""
        self.sweeper = None
        self.sweeps += 1
        for client in [c for c in self.parked if c.parked_at < self.sweeps - 1]:
            self._unpark(client, False)
        if self.parked:
            self.sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)


def _drop_events(client: _Client) -> None:
    """Remove the events from a client's queue, keeping other steps."""
    steps = client.steps
    if steps:
        kept = []
        for each in steps:
            if each[3] is None:
                kept.append(each)
            elif each[2] is not None and not each[2].done():
                each[2].set_result(None)
        steps.clear()
        steps.extend(kept)
    client.size = 0
