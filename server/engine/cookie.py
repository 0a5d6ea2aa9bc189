"""The session cookie (``--cookie``; Node's engine.io ``cookie``, python-engineio's
``cookie``): ``Set-Cookie: NAME=<sid>; <attributes>`` on the response that opens a
session, so a load balancer with cookie affinity sends the session's later requests (its
polls, its upgrade, a reconnection) to the node that holds it.

Set on every handshake: the polling handshake's response, as Node and python-engineio
set it, and the 101 response of a WebSocket-only session, which neither sets (it matters
there for a reconnection, which connection state recovery wants on the same node).
Requests of an existing session (``sid`` in the query) get no cookie, as in Node.
"""

from __future__ import annotations


def set_cookie(spec: str, sid: str) -> str:
    """The ``Set-Cookie`` value for ``spec`` (``Config.cookie``: ``NAME; Attr; ...``, already
    validated and normalized by values._cookie) and ``sid`` (URL-safe base64: a valid
    cookie value as it is)."""
    name, _, attributes = spec.partition(";")
    return f"{name}={sid};{attributes}" if attributes else f"{name}={sid}"
