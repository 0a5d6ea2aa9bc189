"""Long-polling GETs and POSTs served in the connection's read callback (``Inline``),
past aiohttp's request machinery.

aiohttp serves each request of a connection through its ``RequestHandler.start`` loop:
a future to wake it, a ``StreamWriter``, a ``BaseRequest`` (with its own header and URL
views), a task per request, ``finish_response``, the keep-alive bookkeeping. A
long-polling client pays all of it twice per round trip (its GET and its POST) for
requests whose answer is a few bytes, and that was about a third of the server's time
on the poll_echo profile (py-spy: ``start`` 10.4% own time, ``Answer.prepare`` 7.2%,
``BaseRequest.__init__`` and ``_make_request`` 3.6%, the dispatch 4.7%); aiohttp has no
leaner server, so this one request shape is served here by hand. Counted by callgrind
(bench/icount_poll.py), per reply: see bench/RESULTS.md "Long-polling in the read
callback".

What is served here is exactly what ``Engine.handle_request`` would answer on its usual
path without suspending or with one wait: a keep-alive HTTP/1.1 GET or POST, no
``Expect``, no request body encoding, the body complete with the head, of a live
Engine.IO v4 long-polling session not awaiting a pong, an allowed (or no) ``Origin``,
the query plain (no ``%``, ``+``, ``;``). Everything else (handshakes, upgrades, refusals, a second GET,
a binary or oversized body, HTTP/1.0, ``Connection: close``, DEBUG tracing) goes to
aiohttp's loop unchanged, decided before anything is read or changed. The answers are
the same bytes (answer.wire: same head, same order); tests/protocol/test_fast_path.py
pins them on the wire and tests/protocol/test_inline.py the cases below.

- A GET with packets waiting is answered at once; otherwise it waits on
  ``session.poll`` as polling.get does, and the future's callback answers it (a
  dropped GET ends the session as a transport error, as there).
- A POST's packets go to the layer above's hand-off (``take_message``) in order; the
  first one it declines, and everything after, run in a task of their own through
  polling.deliver (as aiohttp's task per request would: contextvars set by a handler
  stay in it), whose answer is written when it ends.
- While a request served here is in progress (a waiting GET, a POST's task), the
  connection's further requests wait behind it (``hold``/``release`` of
  net/http_guard.py's ``GuardedHandler``), so answers keep their order.

A body of more than compress.OFFLOAD bytes to compress goes to the executor in a task,
as compress.compressed does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11, RawRequestMessage

from ..errors import ProtocolError
from ..logsafe import about
from .answer import HTML, TEXT, Answer, app_server_header, wire, wire_of
from .compress import OFFLOAD, compress, compress_recent, negotiate
from .packets import MESSAGE, decode_payload
from .polling import deliver, poll_dropped, refused_body, wake

if TYPE_CHECKING:
    from .session import Host, Session

log = logging.getLogger("openline.engine")

OK = b"ok"
_FAILED_TEXT = b"500 Internal Server Error\n"
# a 500 as aiohttp's handle_error answers a handler's exception (its text shortened),
# closing the connection
FAILED = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_FAILED_TEXT)) + _FAILED_TEXT


class _Head:
    """What OriginPolicy reads of a request: its headers, transport and scheme."""

    __slots__ = ("headers", "transport", "scheme")

    def __init__(self, headers: Any, transport: Any) -> None:
        self.headers = headers
        self.transport = transport
        self.scheme = "https" if transport is not None \
            and transport.get_extra_info("sslcontext") else "http"


def _query(text: str) -> dict[str, str] | None:
    """A plain query's first value per name; None when yarl's parse could differ. Each
    client sends the same query with every request: parsed once (``_QUERIES``)."""
    try:
        return _QUERIES[text]
    except KeyError:
        pass
    params: dict[str, str] | None = {}
    if "%" in text or "+" in text or ";" in text:
        params = None
    else:
        for item in text.split("&"):
            name, eq, value = item.partition("=")
            if not eq or not name:
                params = None
                break
            params.setdefault(name, value)  # type: ignore[union-attr]
    if len(_QUERIES) >= _QUERIES_MAX:
        _QUERIES.clear()
    _QUERIES[text] = params
    return params


# query string -> _query's answer; bounded, as queries are the client's choice (one per
# polling session: a server of many more simply parses again after a clear)
_QUERIES: dict[str, dict[str, str] | None] = {}
_QUERIES_MAX = 4096


def for_app(engine: Host, path: str, app: web.Application) -> Inline | None:
    """The ``Inline`` of ``engine``'s route ``path`` in ``app``, or None when its answers
    could differ from aiohttp's (the app's prepare signal sets more than ``Server``)."""
    server = app_server_header(app)
    return None if server is None else Inline(engine, path, server)


class Inline:
    """``inline(conn, message, payload)``: True once the request is served (or being
    served) here, False to leave it to aiohttp (module docstring). ``conn`` is
    net/http_guard.py's ``GuardedHandler``."""

    __slots__ = ("engine", "path", "server", "_tasks")

    def __init__(self, engine: Host, path: str, server: str) -> None:
        self.engine = engine
        self.path = path
        self.server = server
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, conn: Any, message: Any, payload: Any) -> bool:
        if type(message) is not RawRequestMessage:  # a parse error: aiohttp's 400
            return False
        method = message.method
        if method != hdrs.METH_GET and method != hdrs.METH_POST:
            return False
        if message.version != HttpVersion11 or message.should_close or message.upgrade \
                or message.compression is not None or not payload.is_eof():
            return False
        path, sep, query = message.path.partition("?")
        if path != self.path or not sep:
            return False
        params = _query(query)
        if params is None or params.get("transport") != "polling" or params.get("EIO") != "4":
            return False
        sid = params.get("sid")
        engine = self.engine
        session = engine.sessions.get(sid) if sid is not None else None
        if session is None or session.closed or session.lingering or session.protocol != 4 \
                or session.transport != "polling" or session.awaiting_pong or engine.trace:
            # awaiting_pong: a request at the pong deadline must find the session closed, as
            # on aiohttp's path, whose extra loop turns let the expiry (a timer, then the
            # close task) run first; a ping's round trip, so few requests go that way
            return False
        headers = message.headers
        if hdrs.EXPECT in headers:
            return False
        cors: dict[str, str] = {}
        if hdrs.ORIGIN in headers:
            allowed = engine.origins.check(_Head(headers, conn.transport))  # type: ignore[arg-type]
            if allowed is None:  # refused: aiohttp's path logs and answers it
                return False
            cors = allowed
        if method == hdrs.METH_GET:
            return self._get(conn, session, cors, headers)
        return self._post(conn, session, cors, headers, payload)

    # --- GET ---------------------------------------------------------------

    def _get(self, conn: Any, session: Session, cors: dict[str, str], headers: Any) -> bool:
        if session.poll is not None or session.probe is not None:
            return False  # polling.get's 400 or noop
        accept = headers.get(hdrs.ACCEPT_ENCODING)
        if session.queue:
            self._answer_payload(conn, session, cors, accept)
            return True
        poll = session.poll = asyncio.get_running_loop().create_future()
        conn.hold()
        conn.on_lost = partial(wake, poll)
        poll.add_done_callback(partial(self._polled, conn, session, cors, accept))
        return True

    def _polled(self, conn: Any, session: Session, cors: dict[str, str], accept: str | None,
                poll: asyncio.Future[None]) -> None:
        session.poll = None
        conn.on_lost = None
        transport = conn.transport
        if transport is None or transport.is_closing():  # as polling.get: the session ends
            self._spawn(conn, session, poll_dropped(self.engine, session), posting=False)
            return
        if self._answer_payload(conn, session, cors, accept):
            conn.release()

    def _answer_payload(self, conn: Any, session: Session, cors: dict[str, str],
                        accept: str | None) -> bool:
        """Answer with what is queued; False when compressing it goes on in a task."""
        payload = session.take_payload()
        body = payload.encode() if isinstance(payload, str) else payload
        cors["Cache-Control"] = "no-store"
        config = self.engine.config
        encoding = None
        if accept and config.http_compression and len(body) >= config.http_compression_threshold:
            encoding = negotiate(accept)
            if encoding is not None:
                if len(body) > OFFLOAD:
                    conn.hold()
                    self._keep(asyncio.get_running_loop().create_task(
                        self._offloaded(conn, body, encoding, cors)))
                    return False
                body = compress_recent(body, encoding)
        conn.answer(wire(body, TEXT, cors, self.server, encoding=encoding))
        return True

    async def _offloaded(self, conn: Any, body: bytes, encoding: str,
                         cors: dict[str, str]) -> None:
        try:
            data = await asyncio.get_running_loop().run_in_executor(None, compress, body,
                                                                    encoding)
            conn.answer(wire(data, TEXT, cors, self.server, encoding=encoding))
        finally:
            conn.release()

    # --- POST --------------------------------------------------------------

    def _post(self, conn: Any, session: Session, cors: dict[str, str], headers: Any,
              payload: Any) -> bool:
        engine = self.engine
        if session.posting:
            return False  # polling.post's 400 and close
        raw_type = headers.get(hdrs.CONTENT_TYPE)
        if raw_type is not None and "octet-stream" in raw_type.lower():
            return False  # binary: refused (or an Engine.IO v3 payload) there
        length = headers.get(hdrs.CONTENT_LENGTH)
        if length is None or not length.isdigit() or int(length) > engine.max_payload:
            return False
        whole = payload.read_nowait()
        try:
            packets = decode_payload(whole.decode("utf-8"))
        except UnicodeDecodeError:
            self._spawn(conn, session, refused_body(engine, session, "POST body is not UTF-8",
                                                    cors))
            return True
        except ProtocolError as exc:
            self._spawn(conn, session, refused_body(engine, session, str(exc), cors))
            return True
        take = engine.take_message
        for index, (ptype, data) in enumerate(packets):
            if session.closed:
                break
            if take is None or ptype != MESSAGE or not take(session, data):
                # this one and those after it, in order, in a task of their own
                self._spawn(conn, session, deliver(engine, session, packets, index, cors))
                return True
        conn.answer(wire(OK, HTML, cors, self.server))
        return True

    # --- tasks -------------------------------------------------------------

    def _spawn(self, conn: Any, session: Session, work: Coroutine[Any, Any, Answer | None],
               posting: bool = True) -> None:
        """Run ``work`` in a task; its answer (if any) is written when it ends."""
        conn.hold()
        if posting:
            session.posting = True
        self._keep(asyncio.get_running_loop().create_task(
            self._finish(conn, session, work, posting)))

    async def _finish(self, conn: Any, session: Session,
                      work: Coroutine[Any, Any, Answer | None], posting: bool) -> None:
        try:
            try:
                response = await work
            finally:
                if posting:
                    session.posting = False
            if response is not None:
                conn.answer(wire_of(response, self.server))
        except Exception:
            # aiohttp's path logs a handler's exception and answers 500: so here
            log.exception("session %s: error serving a long-polling request", session.sid,
                          extra=about(session.sid))
            conn.answer(FAILED, close=True)
        finally:
            conn.release()  # after the answer: what waits behind it comes next

    def _keep(self, task: asyncio.Task[None]) -> None:
        tasks = self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
