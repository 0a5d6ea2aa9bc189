"""Messages offered to the layer above as aiohttp parses them, before its read loop.

aiohttp parses each WebSocket frame in ``data_received``, queues the message and wakes
the handler's task, which ``receive()``s it on a later loop turn. For a client's event
the layer above only decodes it and queues it for that client's worker, so the wake,
``receive()`` and the read loop's turn are pure overhead: ~20% of the equal-load
latency bench (bench/RESULTS.md). ``DirectQueue`` offers each text or binary message to
the session's ``take`` first; what it declines (engine packets, anything the layer above
wants to handle in the read loop) is queued as before. A message is offered only while
nothing is queued before it and the read loop is idle, so messages keep their order.

aiohttp has no API for this: ``DirectWebSocketResponse`` builds its message queue from
this subclass (``WebSocketDataQueue.feed_data`` is a cpdef method, so the override is
called from aiohttp's compiled parser). If a future aiohttp builds its queue some other
way, sockets simply keep the read loop (tests/unit/test_engine_direct.py notices).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web, web_ws
from aiohttp._websocket.reader import WebSocketDataQueue

from ..logsafe import about, preview

log = logging.getLogger("openline.engine")

_TEXT, _BINARY = WSMsgType.TEXT, WSMsgType.BINARY


class DirectQueue(WebSocketDataQueue):  # type: ignore[misc]
    """aiohttp's message queue, offering messages to ``take`` first (module docstring)."""

    __slots__ = ("take", "take_message", "session", "busy")  # no per-connection __dict__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # set by offer(): the shared _take (or _take_traced), the engine's take_message
        # and the session, so no callable is built per connection
        self.take: Callable[[Any, Any, Any], bool] | None = None
        self.take_message: Callable[[Any, str | bytes], bool] | None = None
        self.session: Any = None
        self.busy = False  # the read loop is handling a queued message

    def feed_data(self, data: Any, size: int) -> None:
        take = self.take
        if take is not None and not self.busy and not self._buffer:
            try:
                if take is _take:  # _take's body here: one call less per message
                    session, take_message = self.session, self.take_message
                    if not session.closed and take_message is not None:
                        kind = data.type
                        if kind is _TEXT:
                            text = data.data
                            if text[:1] == "4" and take_message(session, text[1:]):
                                return
                        elif kind is _BINARY and take_message(session, data.data):
                            return
                elif take(self.take_message, self.session, data):
                    return
            except Exception:  # never into aiohttp's parser: the read loop gets it instead
                log.exception("direct hand-off of a message failed")
        super().feed_data(data, size)


class ClosingWebSocket(web.WebSocketResponse):
    """aiohttp's WebSocket response, remembering the close code it sent (aiohttp's
    ``close_code`` is the peer's once the peer answers): log lines say what was sent."""

    sent_close: int | None = None  # set by the first close(): nothing per connection before

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"",
                    drain: bool = True) -> bool:
        if not self.closed and self.sent_close is None:
            self.sent_close = code
        return await super().close(code=code, message=message, drain=drain)


def close_note(ws: web.WebSocketResponse, code: int = WSCloseCode.OK) -> str:
    """What a log line says of a WebSocket's end: the close code sent (``code`` when it is
    still open: the one about to be sent), or that none was."""
    sent = getattr(ws, "sent_close", None)
    if sent is None and not ws.closed:
        sent = code
    return f"close code {sent} sent" if sent is not None else "no close frame: connection lost"


class DirectWebSocketResponse(ClosingWebSocket):
    """aiohttp's WebSocket response with a ``DirectQueue`` for its messages."""

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        # aiohttp's own _post_start, with our queue class for the one call that builds
        # the queue (synchronous: nothing else runs while the name is swapped)
        web_ws.WebSocketDataQueue = DirectQueue  # type: ignore[misc]
        try:
            super()._post_start(request, protocol, writer)
        finally:
            web_ws.WebSocketDataQueue = WebSocketDataQueue  # type: ignore[misc]


def offer(queue: DirectQueue, take_message: Callable[[Any, str | bytes], bool], session: Any,
          trace: bool = False) -> None:
    """Offer one session's messages as they are parsed: Engine.IO message packets go to
    ``take_message(session, data)``; every other packet is left to the read loop.
    ``trace``: each message it takes is logged at DEBUG (nothing per message when off)."""
    # the queue's own slots, not a partial (its object, args tuple and empty keywords
    # dict: ~0.2 KB per idle connection, tracemalloc at 3,000 clients)
    queue.take_message = take_message
    queue.session = session
    queue.take = _take_traced if trace else _take


def _take_traced(take_message: Callable[[Any, str | bytes], bool], session: Any, msg: Any) -> bool:
    taken = _take(take_message, session, msg)
    if taken:  # else the read loop gets it, and logs it there
        log.debug("session %s received %s", session.sid, preview(msg.data), extra=about(session.sid))
    return taken


def _take(take_message: Callable[[Any, str | bytes], bool], session: Any, msg: Any) -> bool:
    if session.closed:
        return False
    kind = msg.type
    if kind is _TEXT:
        text = msg.data
        return text[:1] == "4" and take_message(session, text[1:])
    if kind is _BINARY:
        return take_message(session, msg.data)
    return False
