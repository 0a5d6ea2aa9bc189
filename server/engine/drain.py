"""Graceful drain: every session ends the way that makes its client come back elsewhere.

``openline run`` on SIGTERM (server/net/listen.py) closes its listening sockets, then
asks the engine to drain (``Engine.drain``: ``drain_sessions`` here). Each session
is handed to ``before`` (the Socket.IO layer saves its sockets for recovery there, so a
client that reconnects to another node at once finds them; a WebSocket session is held
meanwhile, see ``shut``), and only then told: a WebSocket gets a close frame
with 1001 "going away" and no Socket.IO DISCONNECT packet, a pending long-poll GET the
Engine.IO close packet. Both are a "transport close" to engine.io-client, after which
socket.io-client reconnects (a DISCONNECT packet would be "io server disconnect", after
which it never does). A polling session with no GET pending keeps the close packet for
the GET on its way, for POLL_LINGER s. The disconnect handlers run with the reason
"server shutting down", which recovery counts as recoverable. New sessions meanwhile
get 503.

Every step is bounded by ``deadline`` (a loop time): what has not finished by then is
cut (sockets aborted), so a peer that stops reading cannot hold the exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSCloseCode, web

from ..logsafe import about
from .packets import CLOSE_FRAME

if TYPE_CHECKING:
    from .heartbeat import Heartbeat
    from .session import Reason, Session

log = logging.getLogger("openline.engine")

Before = Callable[[str], Awaitable[None]]

CONCURRENT_SAVES = 64  # sessions handed to ``before`` at once (each may be a Redis round trip)
POLL_LINGER = 1.0  # seconds a polling session with no GET pending keeps its close packet
LINGER_CHECK = 0.02  # seconds between two looks at the lingering sessions


class Engine(Protocol):
    """What the drain uses of the engine (server.py's Engine), so as not to import it."""

    reason: type[Reason]
    sessions: dict[str, Session]
    heartbeat: Heartbeat
    draining: bool

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> asyncio.Task[Any]: ...

    async def _disconnected(self, session: Session, reason: str, by_client: bool,
                            grace: float | None = None) -> None: ...

    def forget(self, session: Session) -> None: ...


async def drain_sessions(engine: Engine, deadline: float, before: Before | None = None) -> int:
    """End every session as the module docstring says; return how many were cut at the
    deadline (0: all closed cleanly)."""
    engine.draining = True
    # not those closed already (lingering for a GET, say): they end on their own
    sessions = [s for s in engine.sessions.values() if not s.closed]
    if not sessions:
        return 0
    log.info("draining %d session(s)", len(sessions))
    saves = asyncio.Semaphore(CONCURRENT_SAVES)

    async def save(sid: str) -> None:
        assert before is not None
        async with saves:
            await before(sid)

    closing = {task for session in sessions
               if (task := shut(engine, session, save if before is not None else None))}
    loop = asyncio.get_running_loop()
    lingering: list[Session] = []
    try:
        if closing:
            await asyncio.wait(closing, timeout=max(0.0, deadline - loop.time()))
        lingering = [s for s in sessions if s.lingering and engine.sessions.get(s.sid) is s]
        while lingering and loop.time() < deadline:
            await asyncio.sleep(min(LINGER_CHECK, max(0.0, deadline - loop.time())))
            lingering = [s for s in lingering if engine.sessions.get(s.sid) is s]
    finally:  # also when cancelled: nothing is left running
        cut = [s for s in sessions if s.closing is not None and not s.closing.done()]
        for session in cut:
            _abort(session)
            session.closing.cancel()  # type: ignore[union-attr]
        for session in lingering:
            engine.forget(session)
        if cut:
            log.warning("drain: %d session(s) did not close within --drain-timeout: cut", len(cut))
    return len(cut)


def shut(engine: Engine, session: Session, before: Before | None) -> asyncio.Task[None] | None:
    """Start the shutdown close of ``session``; the task ends when its transport has
    closed (also what the WebSocket's read loop waits for before its handler returns).
    None for a session closed already.

    A WebSocket session is held at once (closed: what it reads or is sent meanwhile is
    dropped, so what ``before`` saves is what it was). A polling one is closed once
    ``before`` is done: a closed session answers a GET with 400, and the client's next
    GET, which follows each answer at once, would get that (a "transport error") instead
    of the close packet."""
    if session.closed:
        return session.closing
    held = session.closed = session.ws is not None
    engine.heartbeat.stop(session)
    task = session.closing = engine.start_background_task(_shut, engine, session, before, held)
    return task


async def _shut(engine: Engine, session: Session, before: Before | None, held: bool) -> None:
    reason = engine.reason.SERVER_SHUTTING_DOWN
    if before is not None:
        try:
            await before(session.sid)
        except Exception:
            log.exception("session %s: could not be saved for recovery", session.sid,
                          extra=about(session.sid))
    if not held:
        if session.closed:
            return  # closed meanwhile (the client's own close, say): that close stands
        session.closed = True
    if session.ws is None:  # long-polling: the close packet now, or for the next GET
        session.queue.append(CLOSE_FRAME)
        poll = session.poll
        if poll is not None and not poll.done():
            poll.set_result(None)
        else:
            session.lingering = True
    sockets = None
    if session.ws is not None or session.probe is not None:
        sockets = asyncio.ensure_future(session.close_sockets(
            WSCloseCode.GOING_AWAY, b"server shutting down"))
    log.info("session %s closed: %s%s", session.sid, reason,
             session.close_note(WSCloseCode.GOING_AWAY), extra=about(session.sid))
    await engine._disconnected(session, reason, False, POLL_LINGER)
    if sockets is not None:
        try:
            await sockets
        except asyncio.CancelledError:
            sockets.cancel()
            raise


def _abort(session: Session) -> None:
    """Drop a session's sockets at once (the deadline passed: no close handshake)."""
    for ws in (session.ws, session.probe):
        transport = getattr(getattr(ws, "_req", None), "transport", None)
        if transport is not None:
            transport.abort()
    if session.socket is not None:
        session.socket.abort()


def refusal_while_draining(headers: dict[str, str] | None = None) -> web.Response:
    """The answer to a new session while draining: 503, so a load balancer that retries
    on it (deploy/nginx.conf) sends the client to another node at once."""
    return web.Response(status=503, text="server shutting down\n",
                        headers={**(headers or {}), "Retry-After": "1"})
