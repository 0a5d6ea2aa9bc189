"""Our accept loop: the listening sockets of ``openline run``, and the descriptor headroom.

asyncio's own loop (``BaseSelectorEventLoop._accept_connection``) is unfit at the
open-files limit: when accept() fails with EMFILE it logs a traceback and schedules a
retry a second later, but goes on calling accept() up to ``backlog`` times in the same
turn, each failure another traceback and another retry (measured: 360 tracebacks, 118 KB
of log in 35 s, and no client answered). And it accepts up to ``backlog`` sockets in one
turn before any protocol runs, so a check made in ``connection_made`` comes too late: a
burst of 100 connects spends 100 descriptors first. Here each accepted socket is checked
at once: within ``--fd-headroom`` of RLIMIT_NOFILE it gets 503 and is closed before the
next accept(), without a transport, so accept() keeps finding a descriptor. When accept()
fails anyway (descriptors taken by something else), the listener pauses for
ACCEPT_RETRY s, logged once per interval.

Admitted sockets become transports through ``loop.connect_accepted_socket``, public API
that asyncio and uvloop both provide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import time

from aiohttp import web

from .http_guard import Guard, answer

log = logging.getLogger("openline.http")

ACCEPT_RETRY = 0.5  # seconds the listener pauses after accept() ran out of descriptors
FD_RECOUNT = 1.0  # seconds between two counts of open descriptors, far from the limit
FD_RECOUNT_NEAR = 0.1  # the same within three times the headroom of it
AT_CAPACITY = answer("503 Service Unavailable", "server at capacity, try again later\n")


def _count_fds() -> int | None:
    """Open descriptors of this process, or None where the OS does not list them."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(listing)) - 1  # minus the one listdir itself opened
        except OSError:
            continue
    return None


class FdBudget:
    """Whether one more connection would leave fewer than ``headroom`` descriptors free.

    Counting /proc/self/fd costs O(open descriptors), too much per accept at 20,000
    clients; so the count is taken at most every FD_RECOUNT s (FD_RECOUNT_NEAR near the
    limit) and in between estimated as "descriptors not ours at the last count + our
    open connections", never below the new socket's own number.
    """

    __slots__ = ("headroom", "limit", "_others", "_counted_at")

    def __init__(self, headroom: int) -> None:
        self.headroom = headroom
        self.limit = 0
        self._others = 0
        self._counted_at = -FD_RECOUNT

    def full(self, fd: int, connections: int) -> bool:
        now = time.monotonic()
        estimate = max(self._others + connections, fd + 1)
        near = estimate >= self.limit - 3 * self.headroom
        if now - self._counted_at >= (FD_RECOUNT_NEAR if near else FD_RECOUNT):
            self._counted_at = now
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            self.limit = soft if soft != resource.RLIM_INFINITY else 1 << 62
            counted = _count_fds()
            if counted is not None:
                self._others = max(0, counted - connections)
                estimate = max(counted, fd + 1)
        return estimate > self.limit - self.headroom


class Listener(asyncio.AbstractServer):
    """Listening sockets served by ``_accept``; what ``web.BaseSite`` keeps as _server."""

    def __init__(self, sockets: list[socket.socket], factory: web.Server, guard: Guard,
                 headroom: int, backlog: int) -> None:
        self.sockets = sockets
        self._factory = factory
        self._guard = guard
        self._fds = FdBudget(headroom)
        self._backlog = backlog
        self._loop = asyncio.get_running_loop()
        self._paused: set[socket.socket] = set()
        self._serving = True
        for sock in sockets:
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        guard, loop = self._guard, self._loop
        for _ in range(self._backlog):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # EMFILE and kin; anything else would repeat as fast
                guard.log_accept.note("cannot accept connections: %s (retrying every %g s)",
                                      exc, ACCEPT_RETRY)
                self._pause(sock)
                return
            if self._fds.full(conn.fileno(), guard.connections + guard.lingering):
                guard.log_capacity.note(
                    "refusing new connections: within --fd-headroom %d of the open-files limit %d",
                    self._fds.headroom, self._fds.limit)
                _refuse_now(conn)
                continue
            # not kept: the loop holds it until its transport exists, as with the
            # tasks of asyncio's own accept loop
            loop.create_task(self._connect(conn))

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError as exc:  # the peer left before the transport was made
            log.debug("connection lost while being set up: %s", exc)
            conn.close()

    def _pause(self, sock: socket.socket) -> None:
        if sock in self._paused:
            return
        self._paused.add(sock)
        self._loop.remove_reader(sock.fileno())
        self._loop.call_later(ACCEPT_RETRY, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        self._paused.discard(sock)
        if self._serving:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        for sock in self.sockets:
            if sock not in self._paused:
                self._loop.remove_reader(sock.fileno())
            sock.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        raise NotImplementedError

    async def wait_closed(self) -> None:
        return None


def _refuse_now(conn: socket.socket) -> None:
    """503 and close, before the next accept(): no transport, the descriptor back now."""
    try:
        conn.setblocking(False)
        # what the client already sent: closing with it unread would send a reset, which
        # can destroy the answer before the client reads it
        conn.recv(65536)
    except OSError:
        pass
    try:
        conn.send(AT_CAPACITY)
    except OSError:
        pass
    conn.close()


class GuardedSite(web.BaseSite):
    """``web.TCPSite`` with our accept loop: each address of ``host`` bound and listened
    on as asyncio's create_server does (SO_REUSEADDR, IPv6 sockets IPv6-only)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: Guard,
                 headroom: int, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port = host, port
        self._guard, self._headroom = guard, headroom

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        sockets: list[socket.socket] = []
        try:
            for family, *_, address in dict.fromkeys(infos):
                sockets.append(socket.create_server(address, family=family,
                                                    backlog=self._backlog))
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        assert self._runner.server is not None
        self._server = Listener(sockets, self._runner.server, self._guard, self._headroom,
                                self._backlog)
