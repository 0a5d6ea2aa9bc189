"""``POST /api/v1/emit``: emit to Socket.IO clients over HTTP, cluster-wide.

Off (404) unless ``--api-token`` is set. Request::

    Authorization: Bearer TOKEN
    {"namespace": "/chat", "event": "news", "data": [arg, ...], "room": "lobby"}

``room`` or ``to`` (a sid) narrows the audience; neither means everyone in the namespace.
The emit goes through the server's client manager, so with ``--redis-url`` it reaches
clients on every node. Answers 202 ``{"status": "accepted"}`` (delivery is asynchronous:
clients may be gone by then), 401 for a missing or wrong token, 400 naming the bad field.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from .packet_rules import RESERVED_EVENTS
from .realtime import OpenlineServer

FIELDS = ("namespace", "event", "data", "room", "to")


class BadField(ValueError):
    """One field of the request body is wrong; ``str()`` is the message for the client."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def authorized(header: str | None, token: str) -> bool:
    """Whether ``Authorization`` carries ``Bearer <token>``; constant-time comparison."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def parse_emit(body: Any, sio: OpenlineServer) -> dict[str, Any]:
    """Check a decoded request body; returns keyword arguments for ``sio.emit``."""
    if not isinstance(body, dict):
        raise BadField("body", "expected a JSON object")
    for key in body:
        if key not in FIELDS:
            raise BadField(key, f"unknown field (expected {', '.join(FIELDS)})")
    namespace = body.get("namespace")
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        raise BadField("namespace", "expected a string starting with /")
    if namespace not in sio.namespace_handlers and namespace not in sio.handlers:
        raise BadField("namespace", f"{namespace} is not served here")
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise BadField("event", "expected a non-empty string")
    if event in RESERVED_EVENTS:
        raise BadField("event", f"{event} is reserved by Socket.IO")
    data = body.get("data")
    if not isinstance(data, list):
        raise BadField("data", "expected a list of arguments")
    room, to = body.get("room"), body.get("to")
    for name, value in (("room", room), ("to", to)):
        if value is not None and (not isinstance(value, str) or not value):
            raise BadField(name, "expected a non-empty string")
    if room is not None and to is not None:
        raise BadField("to", "give room or to, not both")
    return {"event": event, "data": tuple(data), "namespace": namespace, "to": to or room}


def make_handler(sio: OpenlineServer, token: str | None) -> Any:
    async def emit(request: web.Request) -> web.Response:
        """Emit an event to a namespace, a room or one sid; see the module docstring."""
        if token is None:
            return _error(404, "the publish API is off (start the server with --api-token)")
        if not authorized(request.headers.get("Authorization"), token):
            return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body: not valid JSON")
        try:
            kwargs = parse_emit(body, sio)
        except BadField as exc:
            return _error(400, str(exc))
        await sio.emit(**kwargs)
        return web.json_response({"status": "accepted"}, status=202)

    return emit


def add_routes(app: web.Application, sio: OpenlineServer, token: str | None) -> None:
    app.router.add_post("/api/v1/emit", make_handler(sio, token))
