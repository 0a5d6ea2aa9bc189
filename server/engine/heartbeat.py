"""Heartbeat deadlines, exact, with one loop timer per kind for all sessions.

Engine.IO v4 "Heartbeat": the server sends a ping every pingInterval and considers the
session closed when no pong arrives within pingTimeout. Each session has one deadline
at a time: its next ping (in ``pings``) or its pong deadline (in ``pongs``;
``awaiting_pong`` says which). Every ping deadline is "now + pingInterval" and every
pong deadline "ping + pingTimeout", so each list is in deadline order as it is built and
one timer per list serves every session, each at its own time (deadlines.py): a missed
pong closes the session pingInterval + pingTimeout after the last cycle began, as Node
does. No timer handle per session (a handle per session cost 0.65 KB of RSS each under
uvloop: bench/RESULTS.md), no coroutine per session, no sweep over all sessions.

Engine.IO v3 (eio3_session.py) runs the other way: the client pings and is answered with a
pong, and a v3 session has one deadline (in ``silences``), pingInterval + pingTimeout after
its handshake or its last ping, as Node has it; one timer serves them all alike.

Before this, deadlines were grouped in 25-50 ms slots that fired at the slot's end: a
session closed up to 50 ms after its deadline, and the official Engine.IO suite's
"closes the session upon ping timeout" (a poll at exactly pingInterval + pingTimeout)
failed every run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..logsafe import about
from .deadlines import Deadlines
from .eio3 import PONG_FRAME
from .packets import PING_FRAME

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("openline.engine")


class Heartbeat:
    """Schedules pings and pong deadlines; calls ``on_timeout(session)`` at a missed one."""

    __slots__ = ("interval", "timeout", "on_timeout", "pings", "pongs", "silences")

    def __init__(self, interval: float, timeout: float,
                 on_timeout: Callable[[Session], None]) -> None:
        self.interval = interval
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.pings: Deadlines[Session] = Deadlines(interval, self._ping)
        self.pongs: Deadlines[Session] = Deadlines(timeout, self._expire)
        # Engine.IO v3 (eio3_session.py): the client pings, so each v3 session has one
        # deadline, pingInterval + pingTimeout after the handshake or its last ping (Node's)
        self.silences: Deadlines[Session] = Deadlines(interval + timeout, self._silent)

    def start(self, session: Session) -> None:
        """First ping one interval after the handshake (v3: the client's first ping is due
        by pingInterval + pingTimeout)."""
        session.awaiting_pong = False
        if session.protocol == 3:
            self.silences.add(session)
            return
        self.pings.add(session)

    def client_ping(self, session: Session) -> None:
        """Engine.IO v3: the client pinged; answered with a pong, its deadline moved on."""
        if session.closed:
            return
        self.silences.add(session)  # a key added again goes to the back: one dict, in order
        session.push(PONG_FRAME)

    def _silent(self, session: Session) -> None:
        if session.closed:
            return
        log.info("session %s closing: no ping within %gs", session.sid, self.silences.timeout,
                 extra=about(session.sid))
        self.on_timeout(session)

    def _ping(self, session: Session) -> None:
        if session.closed:
            return
        session.awaiting_pong = True
        session.push(PING_FRAME)
        self.pongs.add(session)

    def _expire(self, session: Session) -> None:
        if session.closed:
            return
        log.info("session %s closing: no pong within %gs", session.sid, self.timeout,
                 extra=about(session.sid))
        self.on_timeout(session)

    def pong(self, session: Session) -> None:
        """A pong arrived: drop the deadline, next ping one interval from now."""
        if not session.awaiting_pong:
            return  # unsolicited pong: nothing to do, and no second ping schedule
        session.awaiting_pong = False
        self.pongs.discard(session)
        self.pings.add(session)

    def stop(self, session: Session) -> None:
        self.pings.discard(session)
        self.pongs.discard(session)
        self.silences.discard(session)
        session.awaiting_pong = False
