"""A registered namespace object's ``emit``, ``send`` and ``call``, one layer shorter than stock's.

python-socketio's ``AsyncNamespace.emit`` is a coroutine that awaits ``server.emit`` (and
``send`` one that awaits ``server.send``, which awaits ``server.emit``): each layer a
coroutine frame and a keyword call, ~5,700 CPU instructions of an emit's ~30,000
(callgrind, ``await self.emit(..., to=sid)`` in-process). ``bind`` gives a namespace object
whose class keeps stock's methods a plain function of its own for each, with stock's
signature and defaults, returning ``server.emit``'s awaitable (the manager's coroutine):
``await self.emit(...)`` and ``await self.send(...)`` do exactly what stock's do.
``call`` likewise returns ``server.call``'s coroutine. A class that defines its own
``emit``, ``send`` or ``call`` keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import socketio

_STOCK_EMIT = socketio.AsyncNamespace.emit
_STOCK_SEND = socketio.AsyncNamespace.send
_STOCK_CALL = socketio.AsyncNamespace.call


def bind(server: Any, ns: socketio.AsyncNamespace) -> None:
    """Set ``ns.emit``, ``ns.send`` and ``ns.call`` (see the module doc) where its class
    keeps stock's."""
    # server.emit is read per call (whatever wraps it later is honoured): OpenlineServer's
    # is a plain function returning the manager's coroutine
    if type(ns).emit is _STOCK_EMIT:
        def ns_emit(event: str, data: Any = None, to: Any = None, room: Any = None,
                    skip_sid: Any = None, namespace: str | None = None, callback: Any = None,
                    ignore_queue: bool = False) -> Awaitable[None]:
            return server.emit(event, data, to, room, skip_sid, namespace or ns.namespace, callback,
                        ignore_queue)

        ns.emit = ns_emit  # type: ignore[method-assign]

    if type(ns).send is _STOCK_SEND and type(server).send is socketio.AsyncServer.send:
        def ns_send(data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
                    namespace: str | None = None, callback: Any = None,
                    ignore_queue: bool = False) -> Awaitable[None]:
            return server.emit("message", data, to, room, skip_sid, namespace or ns.namespace, callback,
                        ignore_queue)

        ns.send = ns_send  # type: ignore[method-assign]

    if type(ns).call is _STOCK_CALL:
        def ns_call(event: str, data: Any = None, to: Any = None, sid: Any = None,
                    namespace: str | None = None, timeout: float | None = None,
                    ignore_queue: bool = False) -> Awaitable[Any]:
            return server.call(event, data, to, sid, namespace or ns.namespace, timeout,
                               ignore_queue)

        ns.call = ns_call  # type: ignore[method-assign]
