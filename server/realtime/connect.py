"""The connect path of the Socket.IO layer: a CONNECT's namespace checked, its sid
registered, its connect hooks and handler run in the client's steps, and its ack sent,
with the emits made meanwhile held until then; connection state recovery's restore
(resume.py) happens here too. ``ConnectPath`` sits between ``EventPath`` (events.py) and
``OpenlineServer`` (server.py), which owns the state it reads (declared below).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..errors import EventError, ProtocolError
from ..logsafe import about
from ..recovery import Missed, Saved
from . import connlog, protocol_v4
from .events import INTERNAL_ERROR, EventPath
from .handler_shape import accepts_auth
from .namespaces import refusal_of

log = logging.getLogger("openline.realtime")

INVALID_NAMESPACE = {"message": "Invalid namespace"}


class ConnectPath(EventPath):
    """CONNECT handling; see the module docstring."""

    # set by OpenlineServer.__init__
    config: Any
    recovery: Any
    _held: dict[str, list[eio_packet.Packet]]
    _resuming: dict[tuple[str, str], tuple[Saved, Missed]]
    _steps: Any
    _connect_deadlines: Any

    async def _handle_connect(self, eio_sid: str, namespace: str | None,
                              data: Any) -> asyncio.Future[Any] | None:
        """Check the namespace and register the sid now; queue on_connect in the client's
        steps and return a future settled once it has run. The engine's read loop must
        not wait for on_connect: it would stop reading pongs, and a slow handler would
        end in a ping timeout."""
        namespace = namespace or "/"
        if not self.serves(namespace):  # exact, pattern or "*" (namespaces.py)
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data=INVALID_NAMESPACE, namespace=namespace))
            connlog.unknown_namespace(eio_sid, namespace)
            return None
        limit = self.config.max_namespaces
        if len(self.manager.rooms) >= limit and self._namespace_count(eio_sid, namespace) >= limit:
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, namespace=namespace,
                data={"message": f"too many namespaces (limit {limit})"}))
            connlog.too_many_namespaces(eio_sid, namespace, limit)
            return None
        legacy = protocol_v4.is_legacy(self.parser_of(eio_sid))  # no recovery, Node's sids
        if self.recovery is not None and not legacy and isinstance(data, dict) and "pid" in data:
            sid = await self._resume(eio_sid, namespace, data)
        elif legacy:
            sid = await self.manager.pre_connect(eio_sid, namespace,
                                                 sid=protocol_v4.sid_for(namespace, eio_sid))
        else:
            sid = await self.manager.pre_connect(eio_sid, namespace)
        if sid is None:  # already connected to this namespace (or gone meanwhile)
            if eio_sid not in self.environ:
                return None
            raise ProtocolError(f"second CONNECT to {namespace}")
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._steps.add(eio_sid, self._run_connect, (eio_sid, namespace, sid, data), settled=settled)
        return settled

    async def _resume(self, eio_sid: str, namespace: str, auth: dict[str, Any]) -> str | None:
        """pre_connect for a CONNECT that asks to recover (resume.py): the saved socket's
        sid, back in its rooms with its session data, live emits to it held, and what it
        missed read (after the rooms, so nothing logged in between slips past); a new
        sid when it cannot come back whole."""
        assert self.recovery is not None
        saved = await self.recovery.take(self, auth, namespace)
        if eio_sid not in self.environ:
            if saved is not None:
                await self.recovery.store.save(saved)  # for its next attempt
            return None
        if saved is None or self.manager._has_sid(saved.sid, namespace):
            return await self.manager.pre_connect(eio_sid, namespace)
        sid = await self.manager.pre_connect(eio_sid, namespace, sid=saved.sid)
        if sid is None:
            await self.recovery.store.save(saved)
            return None
        for room in saved.rooms:
            if room != sid:
                self.manager.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._held.setdefault(eio_sid, [])
        missed = await self.recovery.missed(saved, auth)
        if missed is None or eio_sid not in self.environ:
            # not whole (or the session ended): a new socket, the saved one is spent
            connlog.not_recovered(sid, eio_sid, namespace)
            self.manager.basic_disconnect(sid, namespace)
            return await self.manager.pre_connect(eio_sid, namespace) \
                if eio_sid in self.environ else None
        if saved.data is not None:
            await self.save_session(sid, saved.data, namespace)
        self.recovery.resume(saved, sid)
        self._resuming[(namespace, sid)] = (saved, missed)
        connlog.recovered(sid, eio_sid, namespace, len(missed.events))
        return sid

    def recovered(self, sid: str, namespace: str | None = None) -> bool:
        """Whether the socket came back by connection state recovery (same sid, rooms,
        session data, missed events replayed); False when recovery is off. Namespaces
        ask in on_connect: ``self.server.recovered(sid, self.namespace)``."""
        return self.recovery is not None and self.recovery.recovered(sid, namespace or "/")

    def _namespace_count(self, eio_sid: str, namespace: str) -> int:
        """Namespaces other than ``namespace`` the session is in (or connecting to); one
        look-up per namespace that has clients, and only on a CONNECT."""
        return sum(1 for each in list(self.manager.rooms) if each != namespace
                   and self.manager.sid_from_eio_sid(eio_sid, each) is not None)

    async def _run_connect(self, eio_sid: str, namespace: str, sid: str, data: Any) -> None:
        if eio_sid not in self.environ:
            await self._left_during_connect(sid, namespace, accepted=False)
            return
        resumed = self._resuming.pop((namespace, sid), None) if self._resuming else None
        held = self._held.setdefault(eio_sid, [])
        refusal: dict[str, Any] | None = None
        try:
            if await self._call_connect(namespace, sid, eio_sid, data) is False:
                refusal = {"message": "Connection rejected by server"}
        except socketio.exceptions.ConnectionRefusedError as exc:
            refusal = exc.error_args
        except ConnectionRefusedError as exc:
            refusal = refusal_of(exc)
        except EventError as exc:  # public text by definition, so a refusal like the above
            refusal = {"message": exc.message}
        except Exception:
            if eio_sid in self.environ:
                log.exception("sid %s (session %s): connect handler of %s failed", sid, eio_sid,
                              namespace, extra=about(eio_sid))
            refusal = dict(INTERNAL_ERROR)
        finally:
            self._held.pop(eio_sid, None)  # already gone if the session ended meanwhile
        if eio_sid not in self.environ:
            await self._left_during_connect(sid, namespace, accepted=refusal is None)
            return
        if refusal is not None:
            # emits made by a refused connect handler are dropped: the client never joined
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data=refusal, namespace=namespace))
            connlog.refused(eio_sid, namespace, refusal)
            await self.manager.disconnect(sid, namespace, ignore_queue=True)
            return
        self._connect_deadlines.discard(eio_sid)
        if self.recovery is None or eio_sid in self._foreign \
                or protocol_v4.is_legacy(self.parser_of(eio_sid)):  # neither bridge nor 2.x clients recover
            await self._send_direct(eio_sid, sio_packet.CONNECT, namespace, {"sid": sid})
        else:
            await self._send_direct(eio_sid, sio_packet.CONNECT, namespace,
                                    {"sid": sid, "pid": self.recovery.pid_of(namespace, sid)})
        await self.manager.connect(sid, namespace)
        connlog.connected(sid, eio_sid, namespace)
        if resumed is not None:
            held = await self._replay(eio_sid, namespace, resumed[1], held)
            self._replayed.setdefault(eio_sid, {})[namespace] = resumed[1].last
        for frame in held:
            await self._send_eio_packet(eio_sid, frame)

    async def _replay(self, eio_sid: str, namespace: str, missed: Missed,
                      held: list[eio_packet.Packet]) -> list[eio_packet.Packet]:
        """Send what a recovered socket missed; return the live emits held meanwhile that
        the replay did not already cover (manager.py marks each frame with its offset)."""
        for data in missed.events:
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.EVENT, namespace=namespace, data=data))
        assert self.recovery is not None
        later, last = self.recovery.store.later, missed.last
        return [frame for frame in held
                if (offset := getattr(frame, "openline_offset", None)) is None or later(offset, last)]

    def _replayed_already(self, eio_sid: str, frame: eio_packet.Packet) -> bool:
        """Whether a live emit to a recovered session was in its replay: one logged at or
        before the replay's last offset. The replay read every entry up to that offset,
        so such an emit is one whose pub/sub message came later than the read (another
        node's, behind a busy subscriber): sent again it would arrive twice."""
        offset = getattr(frame, "openline_offset", None)
        last = self._replayed[eio_sid].get(getattr(frame, "openline_namespace", None))  # type: ignore[arg-type]
        assert self.recovery is not None
        return offset is not None and last is not None and not self.recovery.store.later(offset, last)

    async def _left_during_connect(self, sid: str, namespace: str, accepted: bool) -> None:
        """The session ended while on_connect ran. Stock python-socketio skips the
        disconnect of a sid that is not connected yet, which left it in the manager (and
        in every room on_connect entered) for good. An accepted one gets its on_disconnect,
        so a namespace undoes what on_connect did (presence, rooms)."""
        connlog.left_during_connect(sid, self.manager.eio_sid_from_sid(sid, namespace) or "?", namespace)
        if accepted:
            await self.manager.connect(sid, namespace)
            self.manager.pre_disconnect(sid, namespace=namespace)
            await self._trigger_event("disconnect", namespace, sid, self.reason.TRANSPORT_CLOSE)
        await self.manager.disconnect(sid, namespace, ignore_queue=True)

    async def _call_connect(self, namespace: str, sid: str, eio_sid: str, auth: Any) -> Any:
        environ = self.environ[eio_sid]
        note_handshake(environ, namespace, auth)
        if not await self.connect_hooks(namespace, sid, environ, auth):  # namespaces.py
            return False
        handler = self._handler_for(namespace, "connect")
        if handler is not None and accepts_auth(handler, len(self.leading(namespace))):
            return await self._run_handler("connect", namespace, sid, (environ, auth))
        return await self._run_handler("connect", namespace, sid, (environ,))


HANDSHAKE_KEY = "openline.handshake"  # environ: when and with what auth each namespace connected


def note_handshake(environ: dict[str, Any], namespace: str, auth: Any) -> None:
    """Keep when and with what auth a session connected to ``namespace``, which
    server.cluster's fetch_sockets shows: one (namespace, time, auth) tuple for the usual
    single namespace, a dict namespace -> (time, auth) past it; the namespace string
    interned, not the CONNECT packet's copy (~0.2 KB less per idle connection than a dict
    each, tracemalloc at 3,000 clients)."""
    entry = (sys.intern(namespace), time.time(), auth)
    record = environ.get(HANDSHAKE_KEY)
    if record is None or (type(record) is tuple and record[0] == namespace):
        environ[HANDSHAKE_KEY] = entry
        return
    if type(record) is tuple:
        record = environ[HANDSHAKE_KEY] = {record[0]: record[1:]}
    record[entry[0]] = entry[1:]


def handshake_of(environ: dict[str, Any], namespace: str) -> tuple[float | None, Any]:
    """The (connect time, auth) note_handshake kept for ``namespace``; (None, None) if none."""
    record = environ.get(HANDSHAKE_KEY)
    if type(record) is tuple:
        return (record[1], record[2]) if record[0] == namespace else (None, None)
    return record.get(namespace, (None, None)) if record else (None, None)
