"""HTTP long-polling (Engine.IO v4 "HTTP long-polling"): handshake, GET, POST; the
handshake sets the session cookie (cookie.py), the bodies of both are compressed when
large enough (compress.py)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import ProtocolError
from ..logsafe import about, preview
from . import answer
from .answer import Answer
from .compress import compressed, compressible
from .cookie import set_cookie
from .eio3 import decode_payload as decode_v3_payload
from .packets import BAD_REQUEST, CLOSE, MESSAGE, NOOP_FRAME, decode_payload
from .request import refuse

if TYPE_CHECKING:
    from .session import Host, Session

log = logging.getLogger("openline.engine")


def _payload(body: str | bytes, headers: dict[str, str]) -> web.Response:
    headers["Cache-Control"] = "no-store"
    if isinstance(body, bytes):  # an Engine.IO v3 binary payload (eio3.py)
        return Answer(body, "application/octet-stream", headers)
    return Answer(body.encode(), answer.TEXT, headers)


async def handshake(engine: Host, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    """First GET: a new session, answered with the open packet."""
    session = await engine.open_session(request, "polling")
    if session is None:
        return engine.refused_connection(headers)
    if engine.config.cookie is not None:
        headers["Set-Cookie"] = set_cookie(engine.config.cookie, session.sid)
    response = _payload(session.take_payload(), headers)
    if compressible(engine.config, response):
        return await compressed(engine.config, request, response)
    return response


async def get(engine: Host, session: Session, request: web.Request,
              headers: dict[str, str]) -> web.StreamResponse:
    """A poll: answered at once when packets wait, else when the first one arrives."""
    response = await _poll(engine, session, request, headers)
    if isinstance(response, web.Response) and response.status == 200 \
            and compressible(engine.config, response):
        return await compressed(engine.config, request, response)
    return response


async def _poll(engine: Host, session: Session, request: web.Request,
                headers: dict[str, str]) -> web.StreamResponse:
    if session.poll is not None:
        # "MUST NOT have more than one active GET ... return 400 and close the session";
        # the first GET then ends with the close packet.
        log.info("session %s closing: a second concurrent GET", session.sid, extra=about(session.sid))
        await engine.close(session, engine.reason.TRANSPORT_ERROR)
        return refuse(BAD_REQUEST, headers)
    if session.lingering:  # closed by us: deliver what was queued and the close packet
        payload = session.take_payload()
        engine.forget(session)  # after: what it sends counts as sent (server/ops/census.py)
        return _payload(payload, headers)
    if session.probe is not None:
        # the client pauses polling to upgrade; a GET it still sends ends with a noop
        return _payload(session.take_payload(NOOP_FRAME), headers)
    if not session.queue:
        poll = session.poll = asyncio.get_running_loop().create_future()
        # as Node's engine.io ("poll connection closed prematurely"): a client that drops
        # its waiting GET ends the session now, not at the ping timeout (net/http_guard.py)
        protocol: Any = request.protocol
        watch = hasattr(protocol, "on_lost")  # served by net/listen.py's GuardedHandler
        if watch:
            protocol.on_lost = partial(wake, poll)
        try:
            await poll
        finally:
            session.poll = None
            if watch:
                protocol.on_lost = None
    transport = request.transport
    if transport is None or transport.is_closing():
        await poll_dropped(engine, session)
        return web.Response(status=499)
    return _payload(session.take_payload(), headers)


def wake(poll: asyncio.Future[Any]) -> None:
    """A waiting GET's ``on_lost``: its poll ends now."""
    if not poll.done():
        poll.set_result(None)


async def poll_dropped(engine: Host, session: Session) -> None:
    """The client gave up on its waiting GET; what it would carry cannot be delivered."""
    log.info("session %s closing: poll request closed by the client", session.sid,
             extra=about(session.sid))
    session.queue.clear()
    # not by_client (that is a close packet's): no GET is on its way to take a noop, so
    # the session is gone at once and the next request gets 400, and the reason is Node's
    # ("poll connection closed prematurely" is a transport error there)
    await engine.close(session, engine.reason.TRANSPORT_ERROR)


async def post(engine: Host, session: Session, request: web.Request,
               headers: dict[str, str]) -> web.StreamResponse:
    """Packets from the client; answered ``ok`` once each has been handled in order."""
    if session.lingering:
        return refuse(BAD_REQUEST, headers)
    if session.posting:
        log.info("session %s closing: a second concurrent POST", session.sid, extra=about(session.sid))
        await engine.close(session, engine.reason.TRANSPORT_ERROR)
        return refuse(BAD_REQUEST, headers)
    session.posting = True
    try:
        body = await _read_body(engine, session, request)
        if isinstance(body, int):  # refused, session closed
            return refuse(BAD_REQUEST, headers) if body == 400 else web.Response(
                status=body, headers=headers)
        if engine.trace:
            log.debug("session %s received %s", session.sid, preview(body), extra=about(session.sid))
        try:
            packets = decode_v3_payload(body) if isinstance(body, bytes) or session.protocol == 3 \
                else decode_payload(body)
        except ProtocolError as exc:
            log.info("session %s closing: %s", session.sid, exc, extra=about(session.sid))
            await engine.close(session, engine.reason.TRANSPORT_ERROR)
            return refuse(BAD_REQUEST, headers)
        return await deliver(engine, session, packets, 0, headers)
    finally:
        session.posting = False


async def deliver(engine: Host, session: Session, packets: list[tuple[int, Any]], start: int,
                  headers: dict[str, str]) -> Answer:
    """A POST's packets from ``start`` on, each handled in order; its answer."""
    on_message = engine.on_message
    # the layer above's hand-off first, as a WebSocket's messages (direct.py): a plain
    # event is queued for its handler there, without on_message's coroutine chain;
    # what it declines goes to on_message, in turn, so the order holds
    take = engine.take_message if session.protocol != 3 else None
    for ptype, data in packets[start:] if start else packets:
        if session.closed:
            break
        if ptype == MESSAGE:
            if take is None or not take(session, data):
                await on_message(session.sid, data)
        elif ptype == CLOSE:
            await engine.close(session, engine.reason.CLIENT_DISCONNECT, by_client=True)
        else:
            try:
                await engine.receive(session, ptype, data)
            except ProtocolError as exc:
                log.info("session %s closing: %s", session.sid, exc, extra=about(session.sid))
                await engine.close(session, engine.reason.TRANSPORT_ERROR)
                return refuse(BAD_REQUEST, headers)
    # text/html, as the reference server answers: text/plain makes some agents download
    return Answer(b"ok", answer.HTML, headers)


async def refused_body(engine: Host, session: Session, why: str, headers: dict[str, str]) -> Answer:
    """A POST body refused (``why``): the session closes, the POST gets 400."""
    log.info("session %s closing: %s", session.sid, why, extra=about(session.sid))
    await engine.close(session, engine.reason.TRANSPORT_ERROR)
    return refuse(BAD_REQUEST, headers)


async def _read_body(engine: Host, session: Session, request: web.Request) -> str | bytes | int:
    """The body as text (bytes: an Engine.IO v3 binary payload), or the HTTP status refusing
    it (413: over maxPayload, 400: binary from a v4 client or not UTF-8, 408: stalled over
    --body-timeout between chunks), after closing the session."""
    limit = engine.max_payload
    why = ""
    status = 400
    # aiohttp's Content-Type parse only when the header may name octet-stream (a text POST
    # is the rule: socket.io clients send text/plain)
    raw_type = request.headers.get("Content-Type")
    binary = raw_type is not None and "octet-stream" in raw_type.lower() \
        and request.content_type == "application/octet-stream"
    if binary and session.protocol != 3:
        why = "binary POST body (Engine.IO v4 sends binary as base64)"
    elif request.content_length is not None and request.content_length > limit:
        why, status = f"POST of {request.content_length} bytes over maxPayload {limit}", 413
    elif (content := request.content).is_eof():
        # the whole body came with the head (a socket.io client's POST): no wait, so no
        # --body-timeout to arm; ~4% of a long-polling echo's CPU went to that timer
        whole = content.read_nowait()
        if len(whole) > limit:
            why, status = f"POST of {len(whole)} bytes over maxPayload {limit}", 413
        elif binary:
            return whole
        else:
            try:
                return whole.decode("utf-8")
            except UnicodeDecodeError:
                why = "POST body is not UTF-8"
    else:
        chunks: list[bytes] = []
        size = 0
        stall = engine.config.body_timeout
        try:
            while True:
                # here as well as in http_guard.py: an app served by another runner
                # (aiohttp's TestServer, gunicorn) has no connection guard; under
                # `openline run` the guard fires first and the read raises its 408
                async with asyncio.timeout(stall):
                    chunk = await content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    why, status = f"POST over maxPayload {limit}", 413
                    break
                chunks.append(chunk)
        except (TimeoutError, web.HTTPRequestTimeout):
            why, status = f"POST body stalled for over {stall:g} s (--body-timeout)", 408
        if not why:
            if binary:
                return b"".join(chunks)
            try:
                return b"".join(chunks).decode("utf-8")
            except UnicodeDecodeError:
                why = "POST body is not UTF-8"
    log.info("session %s closing: %s", session.sid, why, extra=about(session.sid))
    await engine.close(session, engine.reason.TRANSPORT_ERROR)
    return status
