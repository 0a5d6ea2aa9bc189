"""The recovery store's interface, and the rules every store applies alike.

An *offset* names one logged event; it is a string (the client keeps the last one it
got and sends it back) that only its store orders. A *head* is the offset of the newest
event logged so far ("" before the first), taken when a socket connects, joins a room
or disconnects, so a restore can tell which logged events the socket was there for.

A restore is two calls, so that the socket is back in its rooms before the log is
read (nothing logged in between can slip past it): ``take`` hands back a dropped socket
once (a second ``take`` of the pid finds nothing), then ``missed`` gives the events it
missed, in order: those logged after the client's offset (or, for a client that never
got an event, after its first connect) that were sent to a room it was in at the time,
or to the whole namespace, and not to an exclusion naming it. ``take`` refuses (None)
an unknown or expired pid; ``missed`` refuses an offset that is not the store's, and a
log that no longer holds every event after the drop (``--recovery-max-packets`` pushed
them out): a partial replay would be a silent loss, a new session is an honest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: disconnect reasons after which a socket may recover (python-socketio's names for
#: Node's RECOVERABLE_DISCONNECT_REASONS); a kick or the client's own disconnect is final
RECOVERABLE = frozenset({"transport close", "transport error", "ping timeout", "server shutting down"})


@dataclass(slots=True)
class Saved:
    """A socket as it was when it dropped: enough to be it again."""

    sid: str
    pid: str
    namespace: str
    rooms: dict[Any, str]  # room -> the head when it joined (its own sid room: ``start``)
    data: Any  # the namespace's session data (python-socketio's get_session)
    start: str  # the head when the socket first connected
    disconnected: str  # the head when it dropped
    disconnected_at: float = 0.0  # time.time()


@dataclass(slots=True)
class Missed:
    """What ``missed`` hands back: the events, and the newest offset the read covered
    (live events up to it are the replay's, not to be sent twice)."""

    events: list[list[Any]] = field(default_factory=list)  # [event, *args, offset] each
    last: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One logged event: its offset, its audience, and ``[event, *args, offset]``."""

    offset: str
    rooms: frozenset[Any] | None  # None: the whole namespace
    excluded: frozenset[Any]  # skip_sid: sids (their own rooms) left out
    data: list[Any]
    at: float  # time.time() when logged


def was_sent_to(saved: Saved, entry: Entry, later: Any) -> bool:
    """Whether ``entry`` went to ``saved``'s socket, given the offset order ``later(a, b)``
    (a newer than b): to a room it was in at that time, or to the whole namespace, and
    not excluded."""
    if saved.sid in entry.excluded:
        return False
    if entry.rooms is None:
        return True
    for room in entry.rooms:
        joined = saved.rooms.get(room)
        if joined is not None and later(entry.offset, joined):
            return True
    return False


class Store(Protocol):
    """What the Socket.IO layer needs of a recovery store."""

    window: float

    def head(self, namespace: str) -> str:
        """The offset of the newest event logged in ``namespace`` that this node knows of."""

    async def append(self, namespace: str, rooms: frozenset[Any] | None,
                     excluded: frozenset[Any], data: list[Any]) -> str:
        """Log one event (``data``: ``[event, *args]``), append its offset to ``data``
        and return it."""

    async def save(self, saved: Saved) -> None:
        """Keep a dropped socket for ``window`` seconds."""

    async def take(self, pid: str, namespace: str) -> Saved | None:
        """Take back a saved socket of ``namespace``, or None (unknown or expired)."""

    async def missed(self, saved: Saved, offset: str | None) -> Missed | None:
        """The events ``saved`` missed after ``offset``, or None (see the module docstring)."""

    def later(self, a: str, b: str) -> bool:
        """Whether offset ``a`` names a newer event than ``b`` ("" is before every event)."""

    async def start(self) -> None:
        """Begin (connections, expiry timers)."""

    async def stop(self) -> None:
        """End; a store that outlives the process (Redis) keeps what it holds."""
