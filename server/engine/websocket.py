"""The WebSocket transport (Engine.IO v4 "WebSocket", "Upgrade"): accepting a WebSocket,
upgrades of polling sessions, and the read loop that WebSocket-only sessions (started
by ``Engine.handle_request``) and upgraded ones share."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web
from aiohttp.http_websocket import _INTERNAL_RECEIVE_TYPES, WebSocketError
from aiohttp.streams import EofStream
from multidict import CIMultiDict, CIMultiDictProxy

from ..errors import ProtocolError
from ..logsafe import about, preview
from . import eio3
from .cookie import set_cookie
from .direct import DirectQueue, DirectWebSocketResponse, close_note, offer
from .packets import BAD_REQUEST, MESSAGE, NOOP_FRAME, PING, PROBE_PONG, UPGRADE, decode_text
from .request import refuse

if TYPE_CHECKING:
    from .session import Host, Session

log = logging.getLogger("openline.engine")

_CLOSED = WSMessage(WSMsgType.CLOSED, None, None)


async def accept(engine: Host, request: web.Request, *, hold_head: bool = False,
                 sid: str | None = None) -> tuple[web.WebSocketResponse, bytes | None]:
    """Answer the upgrade; with ``hold_head`` the 101 response is returned unsent when
    it can be, for the caller to write together with the first frame. ``sid``: a new
    session's, for the --cookie on the 101 (cookie.py)."""
    # max_msg_size enforces maxPayload per frame (aiohttp closes with 1009 beyond it);
    # no permessage-deflate unless configured: it costs ~130 KB per connection.
    ws = DirectWebSocketResponse(max_msg_size=engine.max_payload, compress=engine.compression,
                                 autoping=True)
    if sid is not None and engine.config.cookie is not None:
        ws.headers["Set-Cookie"] = set_cookie(engine.config.cookie, sid)
    # The 101 response and the open packet in one write, not two: one syscall and one
    # TCP segment less per connect (aiohttp's header write was ~3% of the connect path,
    # bench/profile.py --scenario conns). aiohttp keeps headers back until the first
    # body write when asked; a WebSocket writes around that writer, so the head is
    # taken here. Compressed sockets write through aiohttp only: not for them.
    hold = hold_head and not ws.compress
    if hold:
        ws._send_headers_immediately = False
    await ws.prepare(request)
    head = _take_head(ws) if hold else None
    shed_http_state(request)
    # the 101 response's headers stay on the response after they are sent (~0.45 KB per
    # connection, tracemalloc at 5,000 clients); aiohttp reads them only to send them
    ws._headers = _NO_HEADERS  # type: ignore[assignment]  # shared, read-only: a write raises
    writer = ws._writer
    if not ws.compress and type(getattr(writer, "_background_tasks", None)) is set:
        # aiohttp's writer keeps its compressing sends' tasks in a set of its own, an
        # empty set (0.23 KB) on every socket that never compresses; one shared set
        # holds those tasks just as well, until each is done.
        writer._background_tasks = _BACKGROUND_TASKS  # type: ignore[union-attr]
    return ws, head


def _take_head(ws: web.WebSocketResponse) -> bytes | None:
    """The 101 response aiohttp holds back, now ours to write; None if it went out."""
    writer: Any = ws._payload_writer
    head = getattr(writer, "_headers_buf", None)
    if head and not writer._headers_written:
        writer._headers_buf = None
        writer._headers_written = True
        return bytes(head)
    send_headers = getattr(writer, "send_headers", None)
    if send_headers is not None:
        send_headers()  # an aiohttp that buffers differently: it sends them itself
    return None


_BACKGROUND_TASKS: set[asyncio.Task[None]] = set()
_NO_HEADERS = CIMultiDictProxy(CIMultiDict[str]())
# the addresses sockets were accepted on, one tuple each for every connection (bounded)
_SOCKNAMES: dict[Any, Any] = {}
_SOCKNAMES_MAX = 64


class _NoMessages(list):  # type: ignore[type-arg]
    """An empty stand-in for the connection's HTTP request queue (a deque) once it has
    become a WebSocket; it offers the deque methods aiohttp calls on it."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)

    def append(self, item: Any) -> None:
        # one instance serves every upgraded connection (_NO_MESSAGES), so it stays empty:
        # aiohttp queues requests only while it parses HTTP, which shed_http_state ended
        raise RuntimeError("an HTTP request queued on a connection that became a WebSocket")


_NO_MESSAGES = _NoMessages()


def shed_http_state(request: web.Request) -> None:
    """Drop what aiohttp keeps for HTTP once the connection is a WebSocket.

    aiohttp keeps every connection's HTTP parser (~1 KB), its request queue (an empty
    deque, 0.76 KB) and the request's cached properties (~0.6 KB: URL, query, path
    strings) for as long as the handler runs, i.e. the whole life of a WebSocket; that
    was ~14% of an idle connection's 17 KB (tracemalloc at 5,000 clients). Once the
    upgrade is accepted aiohttp feeds every byte to the WebSocket reader and never
    parses HTTP on that connection again (web_protocol: the parser is used only while
    there is no payload parser), and cached properties are recomputed when read.
    """
    protocol = request.protocol
    if protocol is None or getattr(protocol, "_payload_parser", None) is None:
        return  # not upgraded: leave the connection as it is
    if getattr(protocol, "_parser", None) is not None:
        protocol._parser = None
    messages = getattr(protocol, "_messages", None)
    if type(messages) is deque and not messages:
        protocol._messages = _NO_MESSAGES  # type: ignore[assignment]
    forget_request_properties(request)
    share_sockname(request, protocol)


def share_sockname(request: web.Request, protocol: Any) -> None:
    """The request and its connection each keep the address the socket was accepted on
    (a tuple, ~0.14 KB per connection): every connection accepted on one listener shares
    one equal tuple instead."""
    own = getattr(request, "_transport_sockname", None)
    if type(own) is not tuple:
        return
    shared = _SOCKNAMES.get(own)
    if shared is None:
        if len(_SOCKNAMES) >= _SOCKNAMES_MAX:
            return
        shared = _SOCKNAMES[own] = own
    request._transport_sockname = shared  # type: ignore[attr-defined]
    cache = getattr(protocol, "_cache", None)
    if type(cache) is dict and cache.get("sockname") == shared:
        cache["sockname"] = shared


def forget_request_properties(request: web.Request) -> None:
    """Drop the request's cached properties (recomputed if read again); again after
    anything that reads them, such as building a session's environ."""
    cache = getattr(request, "_cache", None)
    if type(cache) is dict:
        cache.clear()


async def upgrade(engine: Host, session: Session, request: web.Request) -> web.StreamResponse:
    """A WebSocket for a polling session: probe, then the upgrade packet, within
    --upgrade-timeout (Node's upgradeTimeout) of the 101; else only the WebSocket closes."""
    if "websocket" not in engine.upgrades_from_polling:  # --no-upgrades
        log.info("session %s: upgrade refused (--no-upgrades)", session.sid, extra=about(session.sid))
        return refuse(BAD_REQUEST)
    ws, _ = await accept(engine, request)
    if session.closed or session.transport != "polling" or session.probe is not None:
        # "A client MUST NOT open more than one WebSocket connection per session. Should
        # it happen, the server MUST close the WebSocket connection."
        log.info("session %s: a second WebSocket refused (%s)", session.sid, close_note(ws),
                 extra=about(session.sid))
        await ws.close()
        return ws
    session.probe = ws
    loop = asyncio.get_running_loop()
    timeout = engine.config.upgrade_timeout
    timer = session.upgrade_timer = loop.call_later(timeout, lambda: asyncio.ensure_future(ws.close()))
    failed = ""
    try:
        failed = await _probe(session, ws)
    finally:
        if failed and loop.time() >= timer.when():
            failed = f"not completed within --upgrade-timeout {timeout:g}s"
        session.upgrade_timer.cancel()
        session.upgrade_timer = None
        if session.probe is ws:
            session.probe = None
    if failed or session.closed:
        if failed:
            log.info("session %s: upgrade abandoned: %s (%s)", session.sid, failed, close_note(ws),
                     extra=about(session.sid))
        if not ws.closed:
            await ws.close()
        return ws
    session.transport = "websocket"
    session.socket = request.transport
    session.ws = ws
    if session.poll is not None:  # a GET sent against the rules: end it cleanly
        session.end_poll(NOOP_FRAME)
    # packets queued for polling during the upgrade move to the WebSocket, in order;
    # a noop meant to end a poll never does (it was only for the polling side)
    queued, session.queue, session.queued = session.queue, [], 0
    for frame in queued:
        if frame is not NOOP_FRAME:
            session.push(frame)
    log.info("session %s upgraded to websocket", session.sid, extra=about(session.sid))
    if engine.on_upgrade is not None:
        engine.on_upgrade(session.sid)
    await read(engine, session, ws)
    return ws


async def _probe(session: Session, ws: web.WebSocketResponse) -> str:
    """``2probe`` → ``3probe`` and a noop to the pending GET; then ``5`` completes it.
    Returns "" once upgraded, else why not (for the log)."""
    msg = await ws.receive()
    if msg.type is not WSMsgType.TEXT or msg.data != "2probe":
        return _unexpected(msg, "2probe")
    try:
        await ws.send_frame(PROBE_PONG.wire, WSMsgType.TEXT)
    except (ConnectionError, RuntimeError):
        return "its WebSocket went away"
    if session.poll is not None:
        session.end_poll(NOOP_FRAME)
    msg = await ws.receive()
    if msg.type is not WSMsgType.TEXT or msg.data != "5":
        return _unexpected(msg, "the upgrade packet")
    return ""


def _unexpected(msg: WSMessage, expected: str) -> str:
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return "its WebSocket closed"
    return f"expected {expected}"


async def read(engine: Host, session: Session, ws: web.WebSocketResponse) -> None:
    """Decode each frame once and hand it on; close the session when the socket ends."""
    reason = engine.reason.TRANSPORT_CLOSE
    # the application's coroutine message handler called here rather than through
    # engine.on_message: one coroutine level less per message (~2% of echo time)
    on_message = engine.direct_message or engine.on_message
    sid = session.sid
    queue: Any = ws._reader
    take_message = engine.take_message
    direct = isinstance(queue, DirectQueue) and take_message is not None
    decode: Callable[[str], tuple[int, str | bytes]] = decode_text
    unwrap: Callable[[bytes], bytes] | None = None
    if session.protocol == 3:  # Engine.IO v3 (eio3.py): the read loop takes every frame
        decode, unwrap, direct = eio3.decode_record, eio3.websocket_message, False
    trace = engine.trace
    if take_message is not None and direct:
        offer(queue, take_message, session, trace)
    msg: Any = None
    data: Any = None
    try:
        while True:
            if direct:
                queue.busy = False
            # the last message is not kept alive while the socket waits for the next
            msg = data = None
            # aiohttp's ws.receive(), inlined (see _receive_failed): its state flags kept
            # as it keeps them, so ws.close() from another task wakes this read
            if ws._closed or ws._closing:
                break
            failure: Exception | None = None
            ws._waiting = True
            try:
                msg = await queue.read()
            except Exception as exc:
                failure = exc
            finally:
                ws._waiting = False
                if ws._close_wait is not None and not ws._close_wait.done():
                    ws._close_wait.set_result(None)
            if failure is not None:
                msg, failure = await _receive_failed(ws, failure), None
            elif msg.type in _INTERNAL_RECEIVE_TYPES:
                msg = await _control(ws, msg)
                if msg is None:
                    continue
            if direct:
                queue.busy = True  # until the next receive(): later messages queue behind
            kind = msg.type
            if trace and (kind is WSMsgType.TEXT or kind is WSMsgType.BINARY):
                log.debug("session %s received %s", sid, preview(msg.data), extra=about(sid))
            if kind is WSMsgType.TEXT:
                ptype, data = decode(msg.data)
                if ptype == MESSAGE:
                    try:
                        await on_message(sid, data)
                    except Exception:
                        log.exception("session %s: message handler failed", sid, extra=about(sid))
                elif ptype == UPGRADE or (ptype == PING and unwrap is None):
                    raise ProtocolError(f"unexpected packet type {ptype} after the handshake")
                else:
                    await engine.receive(session, ptype, data)
            elif kind is WSMsgType.BINARY:
                data = msg.data if unwrap is None else unwrap(msg.data)
                try:
                    await on_message(sid, data)
                except Exception:
                    log.exception("session %s: message handler failed", sid, extra=about(sid))
            else:
                if kind is WSMsgType.ERROR:
                    log.info("session %s closing: %s", sid, ws.exception(), extra=about(sid))
                    reason = engine.reason.TRANSPORT_ERROR
                break
            if session.closed:
                break
    except ProtocolError as exc:
        log.info("session %s closing: %s", sid, exc, extra=about(sid))
        reason = engine.reason.TRANSPORT_ERROR
    except asyncio.CancelledError:
        # the request handler was cancelled (aiohttp's handler_cancellation cancels it
        # when the peer goes): the session still ends, and its disconnect handler runs
        engine.close_soon(session, reason)
        raise
    finally:
        if direct:
            queue.take = queue.session = None
    await engine.close(session, reason)
    # the handler must not return before the socket has finished closing
    if session.closing is not None:
        await asyncio.wait([session.closing])
    # aiohttp keeps the exception that ended the socket (a reset while closing, whose
    # context is the EOF); their tracebacks' frames hold the socket: a cycle that only a
    # full GC pass frees. At 19,800 clients a mass disconnect spent ~1 s in one such pass.
    ended: BaseException | None = ws.exception()
    while ended is not None:
        ended.__traceback__ = None
        ended = ended.__context__


# The read loop awaits aiohttp's message queue itself instead of ws.receive(): one
# coroutine per idle connection less (0.27 KB of ~14 KB, tracemalloc at 5,000 clients)
# and one level less per message. What receive() does around the queue is below, the
# same steps on the same WebSocketResponse state, with one difference: a peer that is
# already gone gets no close frame. aiohttp's close() writes one anyway, fails, and keeps
# the error and its traceback; that was ~25% of a mass disconnect (bench/profile.py).


async def _receive_failed(ws: web.WebSocketResponse, exc: Exception) -> WSMessage:
    """What receive() returns when the queue raised ``exc``, after closing the socket."""
    if isinstance(exc, asyncio.TimeoutError):
        raise exc
    if isinstance(exc, EofStream):
        ws._close_code = WSCloseCode.OK
        transport = ws._req.transport if ws._req is not None else None
        if transport is None or transport.is_closing():
            ws._set_closed()
            ws._parser = None  # as close() leaves it
        else:
            await ws.close()
        return _CLOSED
    if isinstance(exc, WebSocketError):
        ws._close_code = exc.code
        await ws.close(code=exc.code)
        return WSMessage(WSMsgType.ERROR, exc, None)
    ws._exception = exc
    ws._set_closing(WSCloseCode.ABNORMAL_CLOSURE)
    await ws.close()
    return WSMessage(WSMsgType.ERROR, exc, None)


async def _control(ws: web.WebSocketResponse, msg: WSMessage) -> WSMessage | None:
    """receive()'s handling of close, closing, ping and pong; None: read on."""
    kind = msg.type
    if kind is WSMsgType.CLOSE:
        ws._set_closing(msg.data)
        if not ws._closed and ws._autoclose:
            # the peer is about to drop the connection: no drain of pending writes
            await ws.close(drain=False)
    elif kind is WSMsgType.CLOSING:
        ws._set_closing(WSCloseCode.OK)
    elif kind is WSMsgType.PING and ws._autoping:
        await ws.pong(msg.data)
        return None
    elif kind is WSMsgType.PONG and ws._autoping:
        return None
    return msg
