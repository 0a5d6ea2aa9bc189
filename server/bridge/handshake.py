"""What the bridge decides around its WebSocket handshake: the subprotocol it speaks, the
--transports refusal, and quiet about subprotocols it does not speak.

**Subprotocol.** The bridge's framing (envelope.py) is named ``openline.v1``. A client may
ask for it (``new WebSocket(url, ["openline.v1"])``) and the 101 names it back; one asking
for none gets none. One naming only others still opens, without a
``Sec-WebSocket-Protocol`` in the 101: RFC 6455 §4.2.2 lets the server pick none of
them, and it is the client's to fail the connection then (browsers do). aiohttp answers
that case itself, with a WARNING per connection; that line is the client's choice, not a
fault, so it is dropped here (``quiet_unknown_subprotocols``).

**--transports.** The bridge is a WebSocket: with ``websocket`` not among
``--transports``, an upgrade is accepted and at once closed with 4400 (4000-4999 are the
application's, RFC 6455 §7.4.2: HTTP 400's cousin) and the reason "websocket transport
disabled". Closing after the 101 rather than answering 400 is what lets a browser see
why: its ``WebSocket`` shows a close code and reason, never the status of a refused
handshake.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .envelope import CLOSE_TRANSPORT_DISABLED

log = logging.getLogger("openline.bridge")

SUBPROTOCOLS = ("openline.v1",)
TRANSPORT_DISABLED = "websocket transport disabled"
# aiohttp's line for a handshake naming no subprotocol it knows (aiohttp/web_ws.py _handshake)
_NO_OVERLAP = "%s: Client protocols %r don"


class _NoOverlapFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_NO_OVERLAP))


def quiet_unknown_subprotocols() -> None:
    """Drop aiohttp's per-connection WARNING for subprotocols nobody here speaks (once per process)."""
    logger = logging.getLogger("aiohttp.websocket")
    if not any(isinstance(f, _NoOverlapFilter) for f in logger.filters):
        logger.addFilter(_NoOverlapFilter())


async def refuse_disabled(ws: web.WebSocketResponse) -> None:
    """Close a just-accepted bridge socket: the WebSocket transport is off (--transports)."""
    log.debug("bridge upgrade refused with %d: %s", CLOSE_TRANSPORT_DISABLED, TRANSPORT_DISABLED)
    await ws.close(code=CLOSE_TRANSPORT_DISABLED, message=TRANSPORT_DISABLED.encode())
