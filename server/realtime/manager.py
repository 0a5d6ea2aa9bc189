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
from ..engine import Engine
from ..engine.packets import Frame, message
from ..errors import EventError
from ..logsafe import about
from .parsers import fast_frame, fast_frames

log = logging.getLogger("openline.realtime")

DEFAULT_MAX_ROOMS: int = Config().max_rooms


class FastEmitManager(socketio.AsyncManager):
    """Stock ``AsyncManager`` encodes with the server-wide parser and starts one task per
    recipient; openline clients each have their own parser, and a task per recipient
    costs more than the write it wraps."""

    # namespace -> events sent to this node's clients, one per recipient: a dict while
    # metrics are on (server/ops/meter.py), None (nothing counted) with --no-metrics
    sent: dict[str, int] | None = None

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
        """Every emit's way out, whoever emits (a handler, a background task, another node's
        message): the packet is encoded once per parser in use (``fast_frame``) and each
        recipient's engine session takes the frame at once, in this call, with no Packet
        object, no task and no await per recipient. Only recipients whose frames must be
        looked at on their way (a connect holding its packets, a recovered session
        comparing offsets, a bridge session) go through ``_send_eio_packet``, after the
        others, each in order."""
        room = to or room
        server = self.server
        recovery = getattr(server, "recovery", None) if callback is None else None
        ns_rooms = self.rooms.get(namespace)
        if ns_rooms is None and recovery is None:
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = None if skip_sid is None else set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        offset = kwargs.get("offset")
        if recovery is not None:
            # logged for sockets that drop and come back (realtime/resume.py), the offset
            # its last argument; an emit with an ack is not (as in Node: the ack cannot be
            # restored), nor one that carries its offset already (another node logged it:
            # "" when it went out unlogged, so no node logs it after all)
            if offset is None:
                offset = await self.log_emit(recovery.store, event, args, namespace, room,
                                             skip or {None})
            if offset:
                args = [*args, offset]
            ns_rooms = self.rooms.get(namespace)
            if ns_rooms is None:
                return
        assert ns_rooms is not None
        if type(room) is str:  # a sid or a room (the everyday case: no call)
            members = ns_rooms.get(room)  # (a bidict's truth is a Python __len__: not asked)
            if members is None:
                return
            participants = members.items()
        else:
            participants = _participants(ns_rooms, room)
        if not participants:
            return
        sent = self.sent
        if sent is not None:  # metrics on: one per recipient
            sent[namespace] = sent.get(namespace, 0) + _audience(participants, skip)
        if callback is not None:
            # each recipient needs its own ack id, hence its own packet
            for sid, eio_sid in list(participants):
                if skip is None or sid not in skip:
                    await server._send_direct(eio_sid, sio_packet.EVENT, namespace, [event, *args],
                                              self._generate_ack_id(sid, callback))
            return
        engine = server.eio
        sessions = engine.sessions if type(engine) is Engine else None
        held, replayed = server._held, server._replayed
        # parser -> its Frame (the everyday case) or an _Encoded (several frames, or
        # the parser's own encoding); made for the first recipient with that parser
        by_parser: dict[type, Any] = {}
        later: list[tuple[str, _Encoded]] | None = None
        # No await in this loop (send_nowait never waits), so the room is read in place.
        for sid, eio_sid in participants:
            if skip is not None and sid in skip:
                continue
            session = sessions.get(eio_sid) if sessions is not None else None
            parser = session.parser if session is not None else None
            if parser is None:
                parser = server.parser_of(eio_sid)
            encoded: Any = by_parser.get(parser)
            if encoded is None:
                encoded = by_parser[parser] = _encode(parser, namespace, event, args, offset)
            if session is None or eio_sid in held or (replayed and eio_sid in replayed):
                if later is None:
                    later = []
                if type(encoded) is Frame:  # its Engine.IO packets, shared from now on
                    encoded = by_parser[parser] = _Encoded(parser, namespace, [], offset, encoded)
                later.append((eio_sid, encoded))
            elif type(encoded) is Frame:
                session.send_nowait(encoded)
            else:  # a packet with binary attachments: the header frame, then each attachment
                for frame in encoded.engine_frames():
                    session.send_nowait(frame)
        if later is not None:
            send = server._send_eio_packet
            for eio_sid, encoded in later:
                for pkt in encoded.eio_packets():
                    await send(eio_sid, pkt)

    @staticmethod
    async def log_emit(store: Any, event: str, args: list[Any], namespace: str, room: Any,
                       skip: set[Any]) -> str:
        """Log an emit for recovery: its offset, or "" when the store could not log it
        (it goes out without one). ``skip``: the sids left out (None among them is ignored)."""
        audience = None if room is None else frozenset(room if isinstance(room, list) else (room,))
        return str(await store.append(namespace, audience, frozenset(skip - {None}), [event, *args]))


def _participants(ns_rooms: dict[Any, Any], room: Any) -> Any:
    """The (sid, eio_sid) pairs of a room (None: the namespace), or of a list of rooms in
    the order python-socketio's ``get_participants`` gives them, without copying one room."""
    if room is None or isinstance(room, str) or not hasattr(room, "__len__"):
        members = ns_rooms.get(room)
        return members.items() if members else None
    union: dict[str, str] = {}
    for each in room:
        members = ns_rooms.get(each)
        if members:
            union.update(members.items())
    return union.items()


def _audience(participants: Any, skip: set[str] | None) -> int:
    """How many of ``participants`` (the (sid, eio_sid) items of a room's mapping) an emit
    skipping ``skip`` reaches."""
    count = len(participants)
    if skip is not None:
        members = participants.mapping  # dict_items' own dict: sid -> eio_sid
        count -= sum(1 for sid in skip if sid in members)
    return count


class _Encoded:
    """One emit's packet for one parser: its engine frames, and the Engine.IO packets of
    ``_send_eio_packet`` (made only for recipients that take that way)."""

    __slots__ = ("namespace", "offset", "frames", "raw", "packets")

    def __init__(self, parser: type[sio_packet.Packet], namespace: str, data: list[Any],
                 offset: str | None, frame: Frame | None = None) -> None:
        self.namespace, self.offset = namespace, offset
        self.packets: list[eio_packet.Packet] | None = None
        if frame is None:
            frame = fast_frame(parser, sio_packet.EVENT, namespace, data)
        self.frames: list[Frame] | None = None if frame is None else [frame]
        if frame is None:  # bytes in it: the JSON parser's header and attachments
            self.frames = fast_frames(parser, sio_packet.EVENT, namespace, data)
        self.raw: list[Any] | None = None  # the parser's own encoding, when it made one
        if self.frames is None:
            encoded = parser(sio_packet.EVENT, namespace=namespace, data=data).encode()
            self.raw = encoded if isinstance(encoded, list) else [encoded]

    def engine_frames(self) -> list[Frame]:
        if self.frames is None:
            assert self.raw is not None
            self.frames = [message(each) for each in self.raw]
        return self.frames

    def eio_packets(self) -> list[eio_packet.Packet]:
        """Made once, shared by every recipient that takes them (the engine keeps a packet's
        frame on it: server/engine/server.py ``send_packet``)."""
        packets = self.packets
        if packets is not None:
            return packets
        frames, raw = self.frames, self.raw
        if raw is None:
            assert frames is not None
            raw = [f.text[1:] if f.text is not None else f.wire for f in frames]
        packets = self.packets = [eio_packet.Packet(eio_packet.MESSAGE, data=each) for each in raw]
        for i, pkt in enumerate(packets):
            if frames is not None:
                pkt._openline_frame = frames[i]  # type: ignore[attr-defined]
            if self.offset:  # a replay skips what it held and what it covered (server.py)
                pkt.openline_offset = self.offset  # type: ignore[attr-defined]
                pkt.openline_namespace = self.namespace  # type: ignore[attr-defined]
        return packets


def _encode(parser: type[sio_packet.Packet], namespace: str, event: str, args: list[Any],
            offset: str | None) -> Frame | _Encoded:
    """An emit's packet for one parser: its one Frame, or an _Encoded when it takes several
    frames or the parser's own encoder."""
    # plain-WebSocket bridge clients cannot recover: no offset for them
    sent = args if not offset or getattr(parser, "recovers", True) else args[:-1]
    frame = fast_frame(parser, sio_packet.EVENT, namespace, [event, *sent])
    return frame if frame is not None else _Encoded(parser, namespace, [event, *sent], offset)


def _discard(pending: dict[str, set[str]], namespace: str, sid: str | None) -> None:
    """Remove sid from a pending set, and the namespace's entry once it is empty."""
    sids = pending.get(namespace)
    if sids is not None and sid in sids:
        sids.discard(sid)
        if not sids:
            del pending[namespace]
