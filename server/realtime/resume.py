"""Connection state recovery in the Socket.IO layer (socket.io 4.6+'s protocol).

With ``--recovery-window``, each socket gets a private id (``pid``, never its sid or
the Engine.IO sid) in its CONNECT ack, and each event sent without an ack gets an offset
as its last argument (manager.py appends it as the event is logged). A socket that drops
for a recoverable reason (``store.RECOVERABLE``) is saved with its rooms, the head of the
log when it joined each, and its session data. A CONNECT whose auth carries that ``pid``
(and the client's last ``offset``, if it got any event) within the window comes back as
the same socket: same sid, same rooms and data, and the events it missed, in order,
after the CONNECT ack. Otherwise it is a new socket.

Where this goes past Node's in-memory adapter (each a socket.io issue, each tested):
a client with no offset yet recovers from its first connect (#4888, #5538); a pid still
held by a socket whose old transport has not timed out yet takes that socket over
instead of failing (#4880); an offset older than the window is fine as long as the log
holds everything after the drop (#5282); the Redis store outlives a node (#5413).

A namespace learns of a recovery from ``server.recovered(sid, namespace)`` in its
``on_connect`` (which runs for a recovered socket too, and may refuse it).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..engine import Engine
from ..logsafe import about
from ..recovery import RECOVERABLE, Missed, Saved, Store

log = logging.getLogger("openline.recovery")


class Host(Protocol):
    """What recovery uses of the server (server.py's OpenlineServer), so that this module
    need not import it."""

    manager: Any
    reason: Any

    def _session_of(self, eio_sid: str) -> Any: ...

    def _engine_for(self, eio_sid: str) -> Any: ...

    async def _handle_disconnect(self, eio_sid: str, namespace: str, reason: Any = None) -> None: ...

    async def _close_session(self, eio_sid: str) -> None: ...

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any: ...


class Recovery:
    """One server's recovery state: the store, each live socket's pid, join heads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pids: dict[tuple[str, str], str] = {}  # (namespace, sid) -> pid
        self._live: dict[str, tuple[str, str]] = {}  # pid -> (namespace, sid)
        self._starts: dict[tuple[str, str], str] = {}  # (namespace, sid) -> head at first connect
        self._joins: dict[tuple[str, str], dict[Any, str]] = {}  # -> room -> head at join
        self._recovered: set[tuple[str, str]] = set()
        self.attempts = 0
        self.successes = 0

    # --- live sockets ----------------------------------------------------------

    def pid_of(self, namespace: str, sid: str) -> str:
        """The socket's pid, made on its first CONNECT ack."""
        key = (namespace, sid)
        pid = self._pids.get(key)
        if pid is None:
            pid = self._pids[key] = Engine.generate_id()
            self._live[pid] = key
            self._starts.setdefault(key, self.store.head(namespace))
        return pid

    def joined(self, namespace: str, sid: str, room: Any) -> None:
        """A live socket entered ``room``: events logged from now on are for it."""
        if room is None or room == sid:
            return
        self._joins.setdefault((namespace, sid), {}).setdefault(room, self.store.head(namespace))

    def left(self, namespace: str, sid: str, room: Any) -> None:
        joins = self._joins.get((namespace, sid))
        if joins is not None:
            joins.pop(room, None)

    def recovered(self, sid: str, namespace: str) -> bool:
        return (namespace, sid) in self._recovered

    def forget(self, namespace: str, sid: str) -> None:
        key = (namespace, sid)
        pid = self._pids.pop(key, None)
        if pid is not None and self._live.get(pid) == key:
            del self._live[pid]
        self._starts.pop(key, None)
        self._joins.pop(key, None)
        self._recovered.discard(key)

    # --- drop and come back --------------------------------------------------

    async def keep(self, server: Host, eio_sid: str, namespace: str, sid: str,
                   reason: Any) -> None:
        """Save a socket that drops for a recoverable reason (before its on_disconnect,
        which may leave rooms), and forget it as a live socket."""
        key = (namespace, sid)
        pid = self._pids.get(key)
        if pid is not None and reason in RECOVERABLE:
            start = self._starts.get(key, "")
            rooms: dict[Any, str] = dict(self._joins.get(key, {}))
            rooms[sid] = start
            data = None
            if server._session_of(eio_sid) is not None:  # its session data, if it has any
                data = (await server._engine_for(eio_sid).get_session(eio_sid)).get(namespace)
            await self.store.save(Saved(sid, pid, namespace, rooms, data, start,
                                        self.store.head(namespace)))
        self.forget(namespace, sid)

    async def take_over(self, server: Host, pid: str, namespace: str) -> None:
        """A pid still held by a live socket: its client is back on a new transport before
        the old one timed out (socket.io #4880). Drop the old socket now as a transport
        close, so it is saved and restored below, and close its old Engine.IO session."""
        key = self._live.get(pid)
        if key is None or key[0] != namespace:
            return
        old_eio_sid = server.manager.eio_sid_from_sid(key[1], namespace)
        if old_eio_sid is None:
            return
        log.info("sid %s (session %s) is back on a new transport: this session is dropped",
                 key[1], old_eio_sid, extra=about(old_eio_sid))
        await self.keep(server, old_eio_sid, namespace, key[1], server.reason.TRANSPORT_CLOSE)
        await server._handle_disconnect(old_eio_sid, namespace, server.reason.TRANSPORT_CLOSE)
        server.start_background_task(server._close_session, old_eio_sid)

    async def take(self, server: Host, auth: Any, namespace: str) -> Saved | None:
        """The saved socket a CONNECT's auth asks for, or None."""
        if not isinstance(auth, dict):
            return None
        pid = auth.get("pid")
        if not isinstance(pid, str) or not pid:
            return None
        self.attempts += 1
        await self.take_over(server, pid, namespace)
        return await self.store.take(pid, namespace)

    async def missed(self, saved: Saved, auth: dict[str, Any]) -> Missed | None:
        offset = auth.get("offset")  # absent, or not a non-empty string: it got no event
        return await self.store.missed(saved, offset if isinstance(offset, str) and offset else None)

    def resume(self, saved: Saved, sid: str) -> None:
        """The saved socket is live again under ``sid`` (its own)."""
        key = (saved.namespace, sid)
        self._pids[key] = saved.pid
        self._live[saved.pid] = key
        self._starts[key] = saved.start
        self._joins[key] = {room: head for room, head in saved.rooms.items() if room != sid}
        self._recovered.add(key)
        self.successes += 1
