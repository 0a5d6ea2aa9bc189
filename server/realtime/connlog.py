"""The Socket.IO layer's lines about a connection.

A reader follows one id per connection, its session id (the Engine.IO sid, or a bridge
session's: server/logsafe.py); the Socket.IO sid of each namespace is shown beside it
once, when it is assigned (``sid X (session Y) connected to /chat``), and again when it
goes. Every refusal of a CONNECT is one INFO line with the reason the client was sent.
Each kind has its own template, so server/logsafe.py's rate limit counts them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ..logsafe import CONNECTION, about

log = logging.getLogger("openline.realtime")


def connected(sid: str, eio_sid: str, namespace: str) -> None:
    log.info("sid %s (session %s) connected to %s", sid, eio_sid, namespace, extra=about(eio_sid))


@contextmanager
def disconnecting(sid: str, eio_sid: str, namespace: str, reason: Any) -> Iterator[None]:
    """Log the disconnect; what is logged inside (the disconnect handler's own lines)
    names the session, as a client's steps do (server/realtime/client_steps.py)."""
    log.info("sid %s (session %s) disconnected from %s: %s", sid, eio_sid, namespace, reason,
             extra=about(eio_sid))
    named = CONNECTION.set(eio_sid)
    try:
        yield
    finally:
        CONNECTION.reset(named)


def recovered(sid: str, eio_sid: str, namespace: str, missed: int) -> None:
    log.info("sid %s (session %s) recovered in %s: %d missed event(s)", sid, eio_sid, namespace,
             missed, extra=about(eio_sid))


def not_recovered(sid: str, eio_sid: str, namespace: str) -> None:
    log.info("sid %s (session %s) could not recover in %s: it comes back as a new socket", sid,
             eio_sid, namespace, extra=about(eio_sid))


def left_during_connect(sid: str, eio_sid: str, namespace: str) -> None:
    log.info("sid %s (session %s) left %s while its connect handler ran", sid, eio_sid,
             namespace, extra=about(eio_sid))


def unknown_namespace(eio_sid: str, namespace: str) -> None:
    log.info("session %s: CONNECT to %s refused: Invalid namespace", eio_sid, namespace,
             extra=about(eio_sid))


def too_many_namespaces(eio_sid: str, namespace: str, limit: int) -> None:
    log.info("session %s: CONNECT to %s refused: too many namespaces (limit %d)", eio_sid,
             namespace, limit, extra=about(eio_sid))


def refused(eio_sid: str, namespace: str, refusal: Any) -> None:
    """A connect handler said no; ``refusal`` is the CONNECT_ERROR's data, as sent."""
    log.info("session %s: CONNECT to %s refused by its connect handler: %s", eio_sid, namespace,
             refusal_text(refusal), extra=about(eio_sid))


def refusal_text(refusal: Any) -> str:
    """A CONNECT_ERROR's data as one line: its message, and its data when it has some."""
    if not isinstance(refusal, dict) or not isinstance(refusal.get("message"), str):
        return _json(refusal)
    if refusal.get("data") is None:
        return str(refusal["message"])
    return f"{refusal['message']} (data {_json(refusal['data'])})"


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)
