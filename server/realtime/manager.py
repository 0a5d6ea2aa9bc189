"""The client manager: python-socketio's in-memory manager, with

- an emit that encodes once per parser in use and writes to each recipient without a
  task per recipient;
- bookkeeping that costs O(1) per socket: stock ``basic_disconnect`` copies and scans
  every room of the namespace (each connected sid has its own room, so a disconnect is
  O(clients) and a mass disconnect quadratic), ``get_rooms`` scans them too, and the
  pending connect/disconnect lists are searched and edited linearly — all of them
  measured in ``make bench`` (mass disconnect at 1,000 vs 20,000 clients).

``rooms`` keeps stock's shape (namespace → room → bidict sid ⇄ eio_sid) because the
pub/sub managers and python-socketio read it; ``_memberships`` is the reverse index
(namespace → sid → rooms joined, in join order) kept beside it. It leaves out the two
rooms every connected sid is in (``None`` and its own), so an idle client costs it nothing.
``pending_connect`` and ``pending_disconnect`` hold sets instead of stock's lists; only
this class touches them.

``enter_room`` holds each sid to --max-rooms (the server's ``config``): one more raises
``EventError``, so the handler that asked gets a readable refusal (chat's ``join``
answers the client with an ``error`` event) instead of a client growing the room
table without bound.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from bidict import ValueDuplicationError
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..config import Config
from ..errors import EventError
from ..logsafe import about

log = logging.getLogger("openline.realtime")

DEFAULT_MAX_ROOMS: int = Config().max_rooms


class FastEmitManager(socketio.AsyncManager):
    """Stock ``AsyncManager`` encodes with the server-wide parser and starts one task per
    recipient; openline clients each have their own parser, and a task per recipient
    costs more than the write it wraps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # namespace -> sid -> {room: None}: rooms joined, besides None and the sid's own
        self._memberships: dict[str, dict[str, dict[Any, None]]] = {}

    # --- connect / disconnect bookkeeping ---------------------------------------------

    async def pre_connect(self, eio_sid: str, namespace: str,  # type: ignore[override]
                          sid: str | None = None) -> str | None:
        """Stock's, and ``sid``: a recovered socket's own (realtime/resume.py)."""
        sid = sid or self.server.eio.generate_id()
        try:
            self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        except ValueDuplicationError:
            return None  # this Engine.IO session is already connected to the namespace
        self.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
        self.pending_connect.setdefault(namespace, set()).add(sid)
        return sid

    async def connect(self, sid: str, namespace: str) -> str | None:  # type: ignore[override]
        if not self.is_pre_connected(sid, namespace):
            # a connect without pre_connect: sid is actually an eio_sid (stock semantics)
            sid = await self.pre_connect(sid, namespace)  # type: ignore[assignment]
        _discard(self.pending_connect, namespace, sid)
        return sid

    def is_pre_connected(self, sid: str, namespace: str) -> bool:
        pending = self.pending_connect.get(namespace)
        return pending is not None and sid in pending and self._has_sid(sid, namespace)

    def is_connected(self, sid: str, namespace: str) -> bool:
        pending = self.pending_connect.get(namespace)
        if pending is not None and sid in pending:
            return False
        pending = self.pending_disconnect.get(namespace)
        if pending is not None and sid in pending:
            return False
        return self._has_sid(sid, namespace)

    def _has_sid(self, sid: str, namespace: str) -> bool:
        try:
            return self.rooms[namespace][None][sid] is not None
        except KeyError:
            return False

    def pre_disconnect(self, sid: str, namespace: str) -> str | None:
        self.pending_disconnect.setdefault(namespace, set()).add(sid)
        return self.rooms[namespace][None].get(sid)  # type: ignore[no-any-return]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        if namespace not in self.rooms:
            return
        joined = list(self._memberships.get(namespace, {}).get(sid, ()))
        # the None room last: the sid stays resolvable until it has left everything else
        for room in [*joined, sid, None]:
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        _discard(self.pending_connect, namespace, sid)
        _discard(self.pending_disconnect, namespace, sid)
        recovery = getattr(self.server, "recovery", None)
        if recovery is not None:
            recovery.forget(namespace, sid)

    # --- rooms ----------------------------------------------------------------------

    async def enter_room(self, sid: str, namespace: str, room: Any,  # type: ignore[override]
                         eio_sid: str | None = None) -> None:
        # The pub/sub managers reach this for their local sids too (their enter_room and
        # the handler of another node's enter_room both call super().enter_room).
        if room is not None and room != sid:
            joined = self._memberships.get(namespace, {}).get(sid)
            if joined is not None and room not in joined and len(joined) >= self.max_rooms:
                eio_sid = eio_sid or self.eio_sid_from_sid(sid, namespace) or "?"
                log.info("sid %s (session %s): room refused: too many rooms (limit %d)", sid,
                         eio_sid, self.max_rooms, extra=about(eio_sid))
                raise EventError(f"too many rooms (limit {self.max_rooms})")
        return await super().enter_room(sid, namespace, room, eio_sid=eio_sid)

    @property
    def max_rooms(self) -> int:
        config = getattr(self.server, "config", None)
        return int(config.max_rooms) if config is not None else DEFAULT_MAX_ROOMS

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is not None and room != sid:
            self._memberships.setdefault(namespace, {}).setdefault(sid, {})[room] = None
            recovery = getattr(self.server, "recovery", None)
            if recovery is not None:  # the log's head when it joined (realtime/resume.py)
                recovery.joined(namespace, sid, room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        recovery = getattr(self.server, "recovery", None)
        if recovery is not None:
            recovery.left(namespace, sid, room)
        by_sid = self._memberships.get(namespace)
        if by_sid is None:
            return
        joined = by_sid.get(sid)
        if joined is not None:
            joined.pop(room, None)
            if not joined:
                del by_sid[sid]
                if not by_sid:
                    del self._memberships[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        own = [sid] if sid in self.rooms.get(namespace, {}) else []
        return own + list(self._memberships.get(namespace, {}).get(sid, ()))

    # --- emit -----------------------------------------------------------------------

    async def emit(  # type: ignore[override]
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        recovery = getattr(self.server, "recovery", None) if callback is None else None
        if namespace not in self.rooms and recovery is None:
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        offset = kwargs.get("offset")
        if recovery is not None:
            # logged for sockets that drop and come back (realtime/resume.py), the offset
            # its last argument; an emit with an ack is not (as in Node: the ack cannot be
            # restored), nor one that carries its offset already (another node logged it:
            # "" when it went out unlogged, so no node logs it after all)
            if offset is None:
                offset = await self.log_emit(recovery.store, event, args, namespace, room, skip)
            if offset:
                args = [*args, offset]
            if namespace not in self.rooms:
                return
        recipients = [(sid, eio_sid) for sid, eio_sid in self.get_participants(namespace, room)
                      if sid not in skip]
        server = self.server
        if callback is not None:
            # each recipient needs its own ack id, hence its own packet
            for sid, eio_sid in recipients:
                ack_id = self._generate_ack_id(sid, callback)
                await server._send_packet(eio_sid, server.packet_class(
                    sio_packet.EVENT, namespace=namespace, data=[event, *args], id=ack_id))
            return
        encoded: dict[type, list[eio_packet.Packet]] = {}
        parser_of, send = server.parser_of, server._send_eio_packet  # hoisted: per-recipient loop
        for _sid, eio_sid in recipients:
            parser = parser_of(eio_sid)
            frames = encoded.get(parser)
            if frames is None:
                # plain-WebSocket bridge clients cannot recover: no offset for them
                sent = args if not offset or getattr(parser, "recovers", True) else args[:-1]
                frames = encoded[parser] = server.eio_frames(parser(
                    sio_packet.EVENT, namespace=namespace, data=[event, *sent]))
                if offset:  # a replay skips what it held and what it covered (server.py)
                    for frame in frames:
                        frame.openline_offset = offset
                        frame.openline_namespace = namespace
            if len(frames) == 1:
                await send(eio_sid, frames[0])
            else:  # a packet with binary attachments: the header frame, then each attachment
                for frame in frames:
                    await send(eio_sid, frame)

    @staticmethod
    async def log_emit(store: Any, event: str, args: list[Any], namespace: str, room: Any,
                       skip: set[Any]) -> str:
        """Log an emit for recovery: its offset, or "" when the store could not log it
        (it goes out without one). ``skip``: the sids left out (None among them is ignored)."""
        audience = None if room is None else frozenset(room if isinstance(room, list) else (room,))
        return str(await store.append(namespace, audience, frozenset(skip - {None}), [event, *args]))


def _discard(pending: dict[str, set[str]], namespace: str, sid: str | None) -> None:
    """Remove sid from a pending set, and the namespace's entry once it is empty."""
    sids = pending.get(namespace)
    if sids is not None and sid in sids:
        sids.discard(sid)
        if not sids:
            del pending[namespace]
