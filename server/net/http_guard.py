"""Connection guards for ``openline run``: what aiohttp's HTTP server leaves open.

aiohttp 3.14's ``RequestHandler`` (web_protocol.py) closes a connection that sits idle
between requests, and a fresh one that never sends a byte, after ``keepalive_timeout``
(we pass ``--idle-timeout``). Everything else here is hand-written because it has no
setting there:

- **Head timeout** (``--header-timeout``): aiohttp waits for a request head for ever
  once its first byte arrived, and a keep-alive timer only fires while the handler is
  idle, so 2,000 slowloris heads trickled one byte at a time were held indefinitely.
  Each connection gets a deadline from accept (and, on keep-alive, from the first byte
  of the next head), all served by one sweep timer; a head still incomplete at its
  deadline gets 408 and the connection closes. The deadline is dropped as soon as the
  head parses, so an upgraded WebSocket or a long-polling GET waiting for data (a
  request in progress) is never touched.
- **Body timeout** (``--body-timeout``): a body declared as 900 KB that stops after 1
  byte kept its handler waiting for ever. While a body is arriving the time of its last
  chunk is kept; a body silent for longer ends with 408 (the handler's read raises
  ``HTTPRequestTimeout``) and the connection closes. Time spent with reading paused by
  our own back-pressure does not count: then the handler is slow, not the peer.
- **Descriptor headroom** (``--fd-headroom``): checked in our accept loop, accept.py,
  which says why asyncio's cannot do it; refused connections still count here while
  they linger.
- **Connections per address** (``--max-connections-per-address``): counted per peer
  IP when the connection is made, before any byte is read, so a refusal (503, read the
  request, close: ``_Refusal``) costs little. Peers listed in ``--trusted-proxies`` are
  not counted: every client behind them shares their address, and the proxy is the
  place to limit its clients (nginx ``limit_conn``). X-Forwarded-For is not consulted:
  it arrives with each request, after the connection is already counted.
- **Peer mistakes are not tracebacks**: aiohttp logs a malformed request line or header
  as ERROR with a traceback ("Error handling request"); here it is one WARNING per
  interval, and its 400 answer names no server version (``Server: openline``).

Every refusal and timeout is logged through ``Throttle``: one line, then at most one
per ``LOG_INTERVAL`` with the count of those it stood for.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..config import Config, Network
from ..logsafe import Throttle

log = logging.getLogger("openline.http")

# the engine's requests served in the read callback (engine/inline.py): inline(protocol,
# message, payload) -> served; this layer knows it only by that signature
Inline = Callable[[Any, Any, Any], bool]

SERVER_NAME = "openline"  # the Server header: no framework or Python version for scanners
LOG_INTERVAL = 10.0  # seconds between two lines about the same kind of refusal
REFUSAL_LINGER = 0.5  # seconds a refused connection waits for its request before closing


def answer(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nServer: {SERVER_NAME}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


TOO_MANY_FROM_YOU = answer("503 Service Unavailable", "too many connections from your address\n")
HEAD_TIMEOUT = answer("408 Request Timeout", "request head not received in time\n")


async def name_server(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: ``Server: openline`` instead of aiohttp's and Python's
    versions, on every response the app prepares (101 handshakes included)."""
    response.headers["Server"] = SERVER_NAME


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


class Guard:
    """State shared by every connection of one listening server."""

    def __init__(self, config: Config) -> None:
        self.header_timeout = config.header_timeout
        self.body_timeout = config.body_timeout
        self.per_address = config.max_connections_per_address
        self.trusted: tuple[Network, ...] = config.trusted_proxies
        self.connections = 0  # admitted and open
        self.lingering = 0  # refused, waiting for their request to be read (_Refusal)
        self.by_address: dict[str, int] = {}
        self.log_capacity = Throttle(log, logging.WARNING, LOG_INTERVAL)
        self.log_address = Throttle(log, logging.WARNING, LOG_INTERVAL)
        self.log_accept = Throttle(log, logging.WARNING, LOG_INTERVAL)
        self.log_malformed = Throttle(log, logging.WARNING, LOG_INTERVAL)
        self.log_timeout = Throttle(log, logging.INFO, LOG_INTERVAL)
        # connections waiting for a request head, by deadline: one timeout for all, so
        # insertion order is deadline order and one timer serves them all
        self.heads: dict[GuardedHandler, float] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def await_head(self, handler: GuardedHandler) -> None:
        heads = self.heads
        heads.pop(handler, None)  # to the end: its deadline is the latest
        loop = handler._loop
        heads[handler] = due = loop.time() + self.header_timeout
        if self._sweep is None:
            self._sweep = loop.call_at(due, self._sweep_heads, loop)

    def _sweep_heads(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep = None
        now, heads = loop.time(), self.heads
        expired = []
        for handler, due in heads.items():
            if due > now:
                self._sweep = loop.call_at(due, self._sweep_heads, loop)
                break
            expired.append(handler)
        for handler in expired:
            del heads[handler]
            handler._head_expired()

    def admit(self, transport: asyncio.Transport) -> tuple[bytes | None, str | None]:
        """(refusal to send, None) or (None, the address counted for this connection)."""
        self.connections += 1
        if self.per_address is None:
            return None, None
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if not address or (self.trusted and _trusted(address, self.trusted)):
            return None, None
        count = self.by_address.get(address, 0)
        if count >= self.per_address:
            self.connections -= 1
            self.log_address.note("refusing a connection from %s: %d open from that address "
                                  "(--max-connections-per-address)", address, count)
            return TOO_MANY_FROM_YOU, None
        self.by_address[address] = count + 1
        return None, address

    def release(self, address: str | None) -> None:
        self.connections -= 1
        if address is not None:
            count = self.by_address.pop(address, 1) - 1
            if count:
                self.by_address[address] = count


class _Refusal(asyncio.Protocol):
    """A refused connection, answered and half-closed (FIN sent), closed as soon as its
    request arrives (or REFUSAL_LINGER s). Closing with the request unread would send a
    reset, and a client that sent its request at once could lose the answer."""

    __slots__ = ("transport", "_guard", "_timer")

    def __init__(self, transport: asyncio.Transport, guard: Guard) -> None:
        self.transport = transport
        self._guard = guard
        guard.lingering += 1  # their descriptors count against the headroom too
        self._timer = asyncio.get_running_loop().call_later(REFUSAL_LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        self.transport.close()

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc: BaseException | None) -> None:
        self._timer.cancel()
        self._guard.lingering -= 1


def _refuse(transport: asyncio.Transport, reply: bytes, guard: Guard) -> None:
    """Answer ``reply``, half-close, and let ``_Refusal`` end the connection."""
    transport.write(reply)
    try:
        transport.write_eof()
    except OSError:  # the peer is gone already
        transport.close()
    else:
        transport.set_protocol(_Refusal(transport, guard))


class GuardedHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with the head and body timeouts and the admission
    check of ``Guard`` (module docstring)."""

    __slots__ = ("_guard", "_admitted", "_address", "_body", "_body_timer",
                 "_body_seen", "on_lost", "inline", "_held")

    def __init__(self, manager: web.Server, *, guard: Guard, inline: Inline | None = None,
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        # requests the engine serves in this read callback (engine/inline.py), while
        # aiohttp's loop waits idle; not with an access log, which only that loop writes
        self.inline = inline if not self._logging_enabled else None
        self._held = False  # such a request is in progress: the next ones wait (hold)
        self._guard = guard
        self._admitted = False
        self._address: str | None = None
        self._body: Any = None  # the StreamReader of a body still arriving
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen = 0.0
        # called once the connection is gone, while set: a long-polling GET waiting for
        # packets (engine/polling.py), which aiohttp does not cancel when its client leaves
        self.on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        refusal, self._address = self._guard.admit(transport)  # type: ignore[arg-type]
        if refusal is not None:  # answered before reading anything
            _refuse(transport, refusal, self._guard)  # type: ignore[arg-type]
            return
        self._admitted = True
        super().connection_made(transport)
        self._guard.await_head(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._guard.release(self._address)
        self._stop_timers()
        super().connection_lost(exc)
        lost, self.on_lost = self.on_lost, None
        if lost is not None:
            lost()

    def _stop_timers(self) -> None:
        self._guard.heads.pop(self, None)
        self._stop_body_watch()

    def _stop_body_watch(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._body = None

    def data_received(self, data: bytes) -> None:
        parser = self._payload_parser
        if parser is not None:
            # upgraded (a WebSocket's frames): no head or body of ours to watch, and of
            # aiohttp's data_received only its upgraded branch, here (one call less per
            # read of every WebSocket)
            if data and not (self._force_close or self._close):
                if self._data_received_cb is not None:
                    self._data_received_cb()
                if parser.feed_data(data)[0]:
                    self.close()
            return
        if self._body is not None:
            self._body_seen = self._loop.time()
        # _waiter is set only while aiohttp waits for the next request: these bytes
        # begin a head (not a body, not WebSocket frames)
        waiter = self._waiter
        idle = waiter is not None
        messages = self._messages
        if idle and self.inline is not None and not waiter.done():  # type: ignore[union-attr]
            # aiohttp's data_received parses and queues the requests without waking its
            # loop; those the engine serves here leave the queue, the loop gets the rest
            before = len(messages)
            self._waiter = None
            super().data_received(data)
            self._waiter = waiter
            parsed = len(messages) > before
            if parsed:
                self._serve_inline()
        else:
            super().data_received(data)
            parsed = bool(messages)
        if self._body is not None and self._body.is_eof():  # it arrived: stop watching
            self._stop_body_watch()
        if parsed or messages:
            self._guard.heads.pop(self, None)
            if messages:
                payload = messages[-1][1]
                if self._body is None and not payload.is_eof():
                    self._watch_body(payload)
        elif idle and data and not self._force_close and self not in self._guard.heads:
            self._guard.await_head(self)

    # --- requests served by the engine here (engine/inline.py) ----------------

    def _serve_inline(self) -> None:
        """Offer the queued requests in order, until one is declined or in progress; wake
        aiohttp's loop for what is left."""
        messages, inline = self._messages, self.inline
        assert inline is not None
        while messages and not self._held and not (self._force_close or self._close):
            message, payload = messages.popleft()
            if not inline(self, message, payload):
                messages.appendleft((message, payload))
                break
            if self._parser is not None:  # a parser slot freed, as aiohttp's loop does
                self._parser.message_consumed()
        if self._buffer_paused and len(messages) <= self._msg_queue_resume_size:
            self._resume_reading_if_drained()
        waiter = self._waiter
        if messages and not self._held and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def hold(self) -> None:
        """A request served here goes on after the read callback: the next wait for it
        (and aiohttp's shutdown waits for it, as for a handler in progress)."""
        self._held = True
        self._request_in_progress = True

    def release(self) -> None:
        """The held request is answered: serve what waited behind it."""
        if not self._held:
            return
        self._held = False
        self._request_in_progress = False
        done = self._handler_waiter
        if done is not None and not done.done():
            done.set_result(None)
        if self._messages and self.transport is not None:  # gone: nothing to answer
            self._serve_inline()

    def answer(self, data: bytes, close: bool = False) -> None:
        """Write a whole response; keep-alive from now on, as aiohttp's loop after one."""
        transport = self.transport
        if transport is None:
            return
        transport.write(data)
        if close:
            self.force_close()
            return
        self._keepalive = True
        timeout = self._keepalive_timeout
        if timeout:
            loop = self._loop
            self._next_keepalive_close_time = due = loop.time() + timeout
            if self._keepalive_handle is None:
                self._keepalive_handle = loop.call_at(due, self._process_keepalive)

    def _process_keepalive(self) -> None:
        if self._held:  # not idle: a request served here is in progress (a waiting GET)
            self._keepalive_handle = self._loop.call_at(
                self._loop.time() + self._keepalive_timeout, self._process_keepalive)
            return
        super()._process_keepalive()

    def _head_expired(self) -> None:
        if self._held:  # a head behind a request in progress: its time starts after it
            self._guard.await_head(self)
            return
        waiting = self._waiter is not None and not self._waiter.done()
        if self.transport is None or self._messages or not waiting:
            return
        self._guard.log_timeout.note("closing a connection from %s: no complete request head "
                                     "in %g s (--header-timeout)", self._peer(),
                                     self._guard.header_timeout)
        self.transport.write(HEAD_TIMEOUT)
        self.force_close()

    def _watch_body(self, payload: Any) -> None:
        self._body = payload
        self._body_seen = now = self._loop.time()
        self._body_timer = self._loop.call_at(now + self._guard.body_timeout, self._check_body)

    def _check_body(self) -> None:
        self._body_timer = None
        payload, timeout = self._body, self._guard.body_timeout
        if payload is None or payload.is_eof() or payload.exception() is not None \
                or self.transport is None:
            self._body = None
            return
        now = self._loop.time()
        if self._reading_paused:  # our back-pressure: the handler is slow, not the peer
            self._body_seen = now
        if now < self._body_seen + timeout:
            self._body_timer = self._loop.call_at(self._body_seen + timeout, self._check_body)
            return
        self._body = None
        self._guard.log_timeout.note("ending a request from %s: its body stalled for %g s "
                                     "(--body-timeout)", self._peer(), timeout)
        self.close()  # parse no more bytes; the connection closes after this response
        request = self._current_request
        if request is not None and request.content is payload:
            stalled = web.HTTPRequestTimeout(text="request body stalled\n")
            stalled.force_close()
            payload.set_exception(stalled)  # the handler's read raises it: aiohttp sends 408
            payload.feed_eof()
        else:  # the handler already answered and aiohttp lingers reading the rest
            payload.feed_eof()
            self.force_close()

    def _peer(self) -> str:
        peer = self.peername
        return str(peer[0]) if isinstance(peer, tuple) else "?"

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        gone = isinstance(exc, ConnectionError) and (self.transport is None
                                                     or self.transport.is_closing())
        if status == 400 or gone:
            # the peer's mistake (a malformed request), or a body read failing because the
            # peer left: not our traceback
            if status == 400:
                self._guard.log_malformed.note("malformed HTTP request from %s: %s",
                                               self._peer(), message or exc)
            else:
                log.debug("request from %s ended: the client left (%s)", self._peer(), exc)
            if request.writer.output_size > 0:
                raise ConnectionError("response already started")
            response = web.Response(status=status, text=message or "",
                                    headers={"Server": SERVER_NAME})
            response.force_close()
            return response
        error_response = super().handle_error(request, status, exc, message)
        error_response.headers["Server"] = SERVER_NAME
        return error_response


class GuardedServer(web.Server):
    """aiohttp's low-level server, making ``GuardedHandler`` protocols."""

    def __init__(self, base: web.Server, guard: Guard) -> None:
        # aiohttp's Server keeps the handler arguments only in _kwargs; a new one with the
        # same arguments is the only way to choose the protocol class
        super().__init__(base.request_handler, request_factory=base.request_factory,
                         handler_cancellation=base.handler_cancellation,
                         loop=base._loop, **base._kwargs)
        self.guard = guard
        self.inline: Inline | None = None  # set by fast_dispatch.install

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, guard=self.guard, inline=self.inline,
                              **self._kwargs)


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` whose server is a ``GuardedServer``."""

    def __init__(self, app: web.Application, guard: Guard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = guard

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self.guard)
