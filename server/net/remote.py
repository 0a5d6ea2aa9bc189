"""The client's address, as users expect it in ``environ['REMOTE_ADDR']``.

python-engineio's aiohttp driver hard-codes 127.0.0.1; we read the socket's peer and
honour ``X-Forwarded-For`` only when that peer is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from ..config import Network


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.BaseRequest, trusted: Sequence[Network]) -> tuple[str, int]:
    """(address, port) of the client; port is 0 when it comes from X-Forwarded-For."""
    # the connection's own cached peername (aiohttp's RequestHandler.peername, which the
    # request keeps too) rather than a fresh tuple: one copy of the address per connection
    peer = getattr(request.protocol, "peername", None) if request.transport else None
    if not isinstance(peer, tuple):
        peer = request.transport.get_extra_info("peername") if request.transport else None
    host, port = (peer[0], int(peer[1])) if peer else ("", 0)
    if not trusted or not _trusted(host, trusted):
        return host, port
    forwarded = [h.strip() for v in request.headers.getall("X-Forwarded-For", [])
                 for h in v.split(",") if h.strip()]
    # Walk from the nearest hop back; the first address that is not a trusted proxy
    # is the client (anything before it could have been written by the client). A hop
    # that is not an IP address ends the walk at the last trusted one: REMOTE_ADDR is
    # always an address, never text a client slipped into the header.
    nearest = host, port
    for hop in reversed(forwarded):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            break
        if not any(ip in net for net in trusted):
            return hop, 0
        nearest = hop, 0
    return nearest
