"""The path of a client's event, from its frame to its handler and back to its ack.

Every plugin's events take this path, so it is kept short (bench/RESULTS.md has the
profiles): an EVENT packet is decoded straight from its frame (a JSON client's binary
packet from its header and attachments: server/realtime/binary_fast.py), its handler is
found as python-socketio would find it, and its ack is encoded and written to the engine
session in one step. Whatever does not fit (a first packet, an unusual handler set-up,
an ack the encoders refuse) takes python-socketio's general path in
``server/realtime/server.py``, with the same outcome.

One client's events run in the order sent (server/realtime/client_steps.py); other clients' run
concurrently.

Limits on this path cost one compare each per event: nesting past --max-json-depth
(server/realtime/packet_rules.py: looked for only in frames long enough to hold it, 130
characters or 82 msgpack bytes by default), --max-queued-events and --max-queued-bytes
(back-pressure: server/realtime/client_steps.py), and --rate-limit: a token bucket per
Engine.IO session, refilled from the monotonic clock read once per event; an event over
the rate is dropped (its ack, if it asked for one, never comes) and the client gets at
most one ``error`` event per second saying so.
Nothing is logged per dropped event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from bisect import bisect_left
from time import perf_counter
from typing import Any

import msgpack
import socketio
from socketio import packet as sio_packet

from ..engine import Engine
from ..engine.packets import Frame
from ..errors import EventError, ProtocolError
from ..logsafe import about
from .acks import settle
from .binary_fast import Assembly, take_attachment, take_header
from .client_steps import ClientSteps
from .event_counts import BOUNDS, EventCounts
from .namespaces import NamespacePaths
from .packet_rules import (
    check_depth,
    check_event,
    check_id,
    check_namespace,
    json_may_nest,
    msgpack_may_nest,
)
from .parsers import JsonPacket, MsgPackPacket, decode_json_event, ext_hook, fast_frame, fast_frames

log = logging.getLogger("openline.realtime")

INTERNAL_ERROR = {"message": "internal server error"}
# What the JSON and msgpack encoders raise for values they cannot encode.
UNENCODABLE = (TypeError, ValueError, OverflowError, RecursionError)

_NAMESPACE_TRIGGER = socketio.AsyncNamespace.trigger_event
_SIO_TRIGGER_EVENT = socketio.AsyncServer._trigger_event


class _Bucket:
    """One client's token bucket (--rate-limit, --rate-burst)."""

    __slots__ = ("tokens", "at", "told")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at  # monotonic time of the last refill
        self.told = -1.0  # when the client was last sent the rate-limit error


class EventPath(NamespacePaths):
    """The event half of OpenlineServer (see the module docstring); which namespace object
    serves a namespace is NamespacePaths' (namespaces.py)."""

    # set by OpenlineServer
    _held: dict[str, list[Any]]
    _steps: ClientSteps  # each client's steps, in order
    _foreign: dict[str, Any]
    _coroutine_handlers: dict[Any, bool]
    _max_depth: int  # --max-json-depth
    _json_nests: int  # the shortest JSON / msgpack frame that can nest deeper
    _msgpack_nests: int
    _rate: float | None  # --rate-limit; None: off
    _burst: int  # --rate-burst
    _buckets: dict[str, _Bucket]  # eio_sid -> its bucket, while the rate limit is on
    counts: EventCounts | None  # what /metrics reads (ops/meter.py); None: --no-metrics

    def _take_message(self, session: Any, data: str | bytes) -> bool:
        """The engine's hand-off of a message as it is parsed (server/engine/direct.py):
        a plain event is queued for its handler here; anything else, malformed packets
        included, is declined and reaches ``_handle_eio_message`` through the read loop."""
        eio_sid = session.sid
        if eio_sid not in self.environ:
            return False
        try:
            if eio_sid not in self._binary_packet:
                taken = self._take_event(eio_sid, session, data)
            else:  # an attachment of a binary packet (binary_fast.py), unless stock's Packet waits
                pending = self._binary_packet[eio_sid]
                taken = type(pending) is Assembly and take_attachment(self, eio_sid, pending, data)
        except Exception:  # decoded again there, and answered by closing the connection
            return False
        counts = self.counts
        if taken and counts is not None:  # else the read loop's path counts it (ops/meter.py)
            counts.received_bytes += len(data) if type(data) is not str or data.isascii() \
                else len(data.encode())  # isascii is O(1) in CPython
        return taken

    def _take_event(self, eio_sid: str, session: Any, data: str | bytes) -> bool:
        """Queue the frame's event for its handler if it is a plain EVENT packet of the
        session's parser; False leaves the frame to the general path."""
        parser = session.parser
        ptype = sio_packet.EVENT
        if parser is JsonPacket:
            if type(data) is not str:
                return False
            event = decode_json_event(data)
            if event is None:
                kind = data[:1]
                if kind == "5" or kind == "6":  # a binary packet's header (binary_fast.py)
                    return take_header(self, eio_sid, data)
                event = decode_json_event(data, "3") if kind == "3" else None
                if event is None:
                    return False
                ptype = sio_packet.ACK
            namespace, ack_id, args = event
            if len(data) >= self._json_nests and json_may_nest(data, self._max_depth):
                check_depth(args, self._max_depth)
        elif parser is MsgPackPacket:
            if type(data) is str:
                return False
            decoded = msgpack.unpackb(data, ext_hook=ext_hook)
            if type(decoded) is not dict:
                return False
            ptype = decoded.get("type")
            if ptype != sio_packet.EVENT and ptype != sio_packet.ACK:
                return False
            namespace, ack_id, args = decoded["nsp"], decoded.get("id"), decoded.get("data")
            check_namespace(namespace)
            check_id(ack_id)
            if len(data) >= self._msgpack_nests and msgpack_may_nest(data, self._max_depth):  # type: ignore[arg-type]  # bytes here
                check_depth(args, self._max_depth)
        else:
            return False
        if ptype == sio_packet.ACK:  # a call()'s answer, settled now (acks.py)
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            return sid is not None and settle(self.manager, sid, ack_id, args)
        check_event(args)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None:
            raise ProtocolError(f"packet for namespace {namespace} before its CONNECT")
        if self._rate is not None:
            if self._steps.full(eio_sid):
                return False  # the read loop takes it, and waits for room (back-pressure)
            if not self._admit(eio_sid, sid, namespace):
                return True
        # False when the client has its bound of events waiting: then the read loop
        # takes the frame, and waits for room (back-pressure)
        return self._steps.add(eio_sid, self._handle_event_internal,
                               (self, sid, eio_sid, args, namespace, ack_id), linger=True,
                               size=len(data), unless_full=True)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None,
                            data: list[Any], size: int = 0) -> None:
        """Queue an event from the general path (``size``: its frame's bytes). With the
        client's bound of events waiting, this waits for room: the reader calling it (a
        WebSocket's read loop, a polling POST, a bridge relay) stops reading meanwhile."""
        room = self._steps.room(eio_sid)
        if room is not None:
            await room
            if eio_sid not in self.environ:
                return  # the client left meanwhile: nothing to run it for
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if self._rate is not None and not self._admit(eio_sid, sid, namespace):
            return
        self._steps.add(eio_sid, self._handle_event_internal,
                        (self, sid, eio_sid, data, namespace, id), linger=True, size=size)

    def take_decoded_event(self, eio_sid: str, namespace: str, id: int | None, data: list[Any],
                           size: int) -> bool:
        """``_handle_event`` without waiting, for a frame another layer decoded as it was
        parsed (a bridge's: BridgeSession.offered): queued, or dropped over the rate, and
        True; False when it must go the general way (the client has its bound of events
        waiting, or no sid on the namespace), which then waits for room."""
        if self._steps.full(eio_sid) or eio_sid not in self.environ:
            return False
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None:
            return False
        if self._rate is not None and not self._admit(eio_sid, sid, namespace):
            return True
        return self._steps.add(eio_sid, self._handle_event_internal,
                               (self, sid, eio_sid, data, namespace, id), linger=True,
                               size=size, unless_full=True)

    def _admit(self, eio_sid: str, sid: str, namespace: str) -> bool:
        """Take a token from the client's bucket; False: the event is over the rate."""
        now = time.monotonic()
        bucket = self._buckets.get(eio_sid)
        if bucket is None:
            self._buckets[eio_sid] = _Bucket(self._burst - 1.0, now)
            return True
        rate = self._rate
        assert rate is not None
        tokens = bucket.tokens + (now - bucket.at) * rate
        bucket.at = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0 if tokens < self._burst else self._burst - 1.0
            return True
        bucket.tokens = tokens
        if now - bucket.told >= 1.0:  # one error a second, however many were dropped
            bucket.told = now
            self._chain(eio_sid, self._send_rate_error, sid, namespace)
        return False

    async def _send_rate_error(self, sid: str, namespace: str) -> None:
        if self.manager.is_connected(sid, namespace):
            eio_sid = self.manager.eio_sid_from_sid(sid, namespace) or "?"
            log.info("sid %s (session %s): events dropped: rate limit exceeded (%g events/s)",
                     sid, eio_sid, self._rate, extra=about(eio_sid))
            await self.emit("error", {"message": f"rate limit exceeded ({self._rate:g} events/s)"},
                            to=sid, namespace=namespace)

    def _chain(self, eio_sid: str, step: Any, *args: Any) -> None:
        """Run ``step(*args)`` after the client's earlier steps (server/realtime/client_steps.py)."""
        self._steps.add(eio_sid, step, args)

    async def _handle_event_internal(self, server: Any, sid: str, eio_sid: str, data: list[Any],
                                     namespace: str, id: int | None) -> None:
        """Run the event's handler and send its ack: one coroutine frame per event, with
        the common handler set-up resolved inline (``_run_handler`` has the rest) and the
        counts for /metrics kept here (event_counts.py)."""
        # checked when the event's turn comes, after any CONNECT queued before it
        if not self.manager.is_connected(sid, namespace):
            # the peer's doing (an event after a refused or left namespace): no WARNING
            log.debug("%s is not connected to namespace %s", sid, namespace)
            return
        event = data[0]
        if event == "error":  # a client may send these in a loop: DEBUG, not WARNING
            log.debug("ignoring an 'error' event sent by client %s [%s]", sid, namespace)
            return
        counts = self.counts
        started = 0.0
        if counts is not None:
            space = counts.spaces.get(namespace) or counts.space(namespace)
            space.received += 1
            started = perf_counter()
        try:  # the counts' finally: the handler's time, its ack's or error's included
            try:
                ns = self.namespace_handlers.get(namespace)
                handler = None
                # _run_handler's common case, inline: a namespace class keeping its
                # trigger_event, no decorator handlers, a handler known to be a coroutine or not
                if ns is not None and not self.handlers \
                        and type(ns).trigger_event is _NAMESPACE_TRIGGER:
                    handler = getattr(ns, "on_" + event, None)
                is_coroutine = None if handler is None \
                    else self._coroutine_handlers.get(getattr(handler, "__func__", handler))
                if is_coroutine is None:
                    result = await self._run_handler(event, namespace, sid, data[1:])
                elif not is_coroutine:
                    result = handler(sid, *data[1:])  # type: ignore[misc]  # not None here
                else:
                    try:
                        result = await handler(sid, *data[1:])  # type: ignore[misc]
                    except asyncio.CancelledError:  # as AsyncNamespace.trigger_event does
                        result = None
            except EventError as exc:
                log.debug("sid %s (session %s): %r in %s refused: %s", sid, eio_sid, event,
                          namespace, exc.message, extra=about(eio_sid))
                await self._send_error(sid, namespace, event, exc, {"message": exc.message})
                return
            except TypeError as exc:
                if not self._arguments_fit(event, namespace, sid, data[1:]):
                    # the client sent more or fewer arguments than the handler takes: its
                    # mistake, answered like an EventError, not our traceback
                    log.debug("%s sent %d arguments for %r [%s]", sid, len(data) - 1, event,
                              namespace)
                    refusal = EventError(f"wrong number of arguments for {event[:64]!r}")
                    await self._send_error(sid, namespace, event, refusal,
                                           {"message": refusal.message})
                    return
                log.exception("handler for event %r failed (sid %s, namespace %s)",
                              event, sid, namespace)
                await self._send_error(sid, namespace, event, exc, dict(INTERNAL_ERROR))
                return
            except Exception as exc:
                log.exception("handler for event %r failed (sid %s, namespace %s)",
                              event, sid, namespace)
                await self._send_error(sid, namespace, event, exc, dict(INTERNAL_ERROR))
                return
            if result is not self.not_handled and id is not None:
                args = [] if result is None else list(result) if isinstance(result, tuple) \
                    else [result]
                try:
                    if not self._send_now(eio_sid, sio_packet.ACK, namespace, args, id):
                        await self._send_packet(eio_sid, self.packet_class(
                            sio_packet.ACK, namespace=namespace, data=args, id=id))
                except UNENCODABLE as exc:  # the parser refused the value
                    log.exception("ack of event %r cannot be encoded (sid %s, namespace %s)",
                                  event, sid, namespace)
                    await self._send_error(sid, namespace, event, exc, dict(INTERNAL_ERROR))
        finally:
            if counts is not None:
                elapsed = perf_counter() - started
                space.seconds += elapsed
                space.buckets[bisect_left(BOUNDS, elapsed)] += 1

    async def _run_handler(self, event: str, namespace: str, sid: str, args: Any) -> Any:
        """Call the handler python-socketio's ``_trigger_event`` would call, with the same
        result. The common set-up (no decorator handlers, a namespace class that keeps
        ``trigger_event``) is resolved here, without ``inspect.iscoroutinefunction`` per
        event (stock's resolution was ~10% of the echo bench); any other goes to stock."""
        ns = self.namespace_handlers.get(namespace)
        lead = None
        if ns is None and self.multi_namespaces:  # a pattern or "*" serves it (namespaces.py)
            ns, lead = self.serving(namespace), namespace
        if self.handlers or ns is None or type(ns).trigger_event is not _NAMESPACE_TRIGGER:
            return await _SIO_TRIGGER_EVENT(self, event, namespace, sid, *args)
        if lead is not None:  # its handlers take the concrete namespace first, as stock's "*"
            args, sid = (sid, *args), lead
        handler = getattr(ns, "on_" + event, None)
        if handler is None:
            return None  # AsyncNamespace.trigger_event's answer for an unknown event
        function = getattr(handler, "__func__", handler)
        is_coroutine = self._coroutine_handlers.get(function)
        if is_coroutine is None:
            if len(self._coroutine_handlers) > 4096:  # handlers replaced at run time
                self._coroutine_handlers.clear()
            is_coroutine = self._coroutine_handlers[function] = \
                inspect.iscoroutinefunction(handler) is True
        if not is_coroutine:
            return handler(sid, *args)
        try:
            return await handler(sid, *args)
        except asyncio.CancelledError:  # as AsyncNamespace.trigger_event does
            return None

    def _handler_for(self, namespace: str, event: str) -> Any:
        """The function python-socketio would call for ``event``: a decorator handler, or
        the namespace class's ``on_<event>``; None when neither exists."""
        handler = self.handlers.get(namespace, {}).get(event)
        if handler is None:
            ns = self.namespace_handlers.get(namespace) or self.serving(namespace)
            handler = getattr(ns, "on_" + event, None) if ns is not None else None
        return handler

    def _arguments_fit(self, event: str, namespace: str, sid: str, args: list[Any]) -> bool:
        """Whether the event's handler accepts ``(sid, *args)``; asked only once a handler
        has raised TypeError, to tell a client's wrong argument count from our bug."""
        handler = self._handler_for(namespace, event)
        if handler is None:
            return True  # a catch-all handler or another set-up: not ours to judge
        try:
            inspect.signature(handler).bind(*self.leading(namespace), sid, *args)
        except TypeError:
            return False
        except ValueError:  # no signature to read (a builtin)
            return True
        return True

    def _direct_frame(self, eio_sid: str, ptype: int, namespace: str, data: Any,
                      ack_id: int | None = None) -> tuple[Any, Frame | list[Frame]] | None:
        """The client's engine session and a packet encoded for the session's parser, as
        python-socketio's packet classes would encode it (a list: a binary packet's
        frames); None when it must go the general way (a bridge or held session, or
        values only the stdlib encoder takes)."""
        session = self.eio.sessions.get(eio_sid) if type(self.eio) is Engine \
            and eio_sid not in self._held and eio_sid not in self._foreign else None
        if session is None:
            return None
        frame: Frame | list[Frame] | None = fast_frame(session.parser, ptype, namespace, data, ack_id)
        if frame is None:  # a binary packet's frames (the JSON parser's attachments)
            frame = fast_frames(session.parser, ptype, namespace, data, ack_id)
        return None if frame is None else (session, frame)

    def _send_now(self, eio_sid: str, ptype: int, namespace: str, data: Any,
                  ack_id: int | None = None) -> bool:
        """Send a packet encoded by ``_direct_frame`` (or by a bridge session) at once;
        False: it must take the general way, ``_send_packet``. A sync call, not a
        coroutine, per ack: building a Packet for each cost ~8% of the echo bench."""
        found = self._direct_frame(eio_sid, ptype, namespace, data, ack_id)
        if found is None:
            # a bridge session encodes its own (BridgeSession.send_now): no packet objects
            foreign = self._foreign.get(eio_sid) if self._foreign else None
            return foreign is not None and eio_sid not in self._held \
                and foreign.send_now(ptype, data, ack_id)
        session, frame = found
        if type(frame) is Frame:
            session.send_nowait(frame)  # it never waits (engine/session.py)
        else:  # a binary packet: the header, then each attachment, in one go
            for each in frame:  # type: ignore[union-attr]  # a list (mypy narrows only `is`)
                session.send_nowait(each)
        return True

    async def _send_direct(self, eio_sid: str, ptype: int, namespace: str, data: Any,
                           ack_id: int | None = None) -> None:
        """``_send_now``, or else the general way, for callers that await."""
        if not self._send_now(eio_sid, ptype, namespace, data, ack_id):
            await self._send_packet(eio_sid, self.packet_class(
                ptype, namespace=namespace, data=data, id=ack_id))

    async def _send_error(self, sid: str, namespace: str, event: str, exc: Exception,
                          reply: dict[str, Any]) -> None:
        shaper = getattr(self.namespace_handlers.get(namespace) or self.serving(namespace),
                         "on_error", None)
        if shaper is not None:
            try:
                shaped = shaper(*self.leading(namespace), sid, event, exc)
                if inspect.isawaitable(shaped):
                    shaped = await shaped
                if shaped is not None:
                    reply = shaped
            except Exception:
                log.exception("on_error of %s failed (sid %s)", namespace, sid)
        try:
            await self.emit("error", reply, to=sid, namespace=namespace)
        except UNENCODABLE:  # on_error returned what cannot be sent
            log.exception("error reply of %s cannot be encoded (sid %s)", namespace, sid)
            await self.emit("error", dict(INTERNAL_ERROR), to=sid, namespace=namespace)
