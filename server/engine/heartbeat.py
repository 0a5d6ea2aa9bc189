"""Heartbeat deadlines on the event loop's own scheduler: one timer handle per session.

Engine.IO v4 "Heartbeat": the server sends a ping every pingInterval and considers the
session closed when no pong arrives within pingTimeout. Each session holds exactly one
``TimerHandle`` at a time (next ping, or the pong deadline), set with ``loop.call_at``:
no coroutine per session, no periodic sweep, and a silent peer is dropped at its
deadline rather than at the next pass of a monitor task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .packets import PING_FRAME

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("openline.engine")


class Heartbeat:
    """Schedules pings and pong deadlines; calls ``on_timeout(session)`` at a missed one."""

    __slots__ = ("interval", "timeout", "on_timeout")

    def __init__(self, interval: float, timeout: float,
                 on_timeout: Callable[[Session], None]) -> None:
        self.interval = interval
        self.timeout = timeout
        self.on_timeout = on_timeout

    def start(self, session: Session) -> None:
        """First ping one interval after the handshake."""
        loop = asyncio.get_running_loop()
        session.awaiting_pong = False
        session.timer = loop.call_at(loop.time() + self.interval, self._ping, session)

    def _ping(self, session: Session) -> None:
        if session.closed:
            return
        session.awaiting_pong = True
        session.push(PING_FRAME)
        loop = asyncio.get_running_loop()
        session.timer = loop.call_at(loop.time() + self.timeout, self._expire, session)

    def _expire(self, session: Session) -> None:
        session.timer = None
        if session.closed or not session.awaiting_pong:
            return
        log.info("closing %s: no pong within %ss", session.sid, self.timeout)
        self.on_timeout(session)

    def pong(self, session: Session) -> None:
        """A pong arrived: drop the deadline, next ping one interval from now."""
        if not session.awaiting_pong:
            return  # unsolicited pong: nothing to do, and no second ping schedule
        session.awaiting_pong = False
        if session.timer is not None:
            session.timer.cancel()
        loop = asyncio.get_running_loop()
        session.timer = loop.call_at(loop.time() + self.interval, self._ping, session)

    @staticmethod
    def stop(session: Session) -> None:
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        session.awaiting_pong = False
