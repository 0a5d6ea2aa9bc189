"""``POST /api/v1/emit``: emit to Socket.IO clients over HTTP, cluster-wide.

Off (404) unless ``--api-token`` is set. Request::

    Authorization: Bearer TOKEN
    {"namespace": "/chat", "event": "news", "data": [arg, ...], "room": "lobby"}

``room`` or ``to`` (a sid) narrows the audience; neither means everyone in the namespace.
The emit goes through the server's client manager, so with ``--redis-url`` it reaches
clients on every node. Answers 202 ``{"status": "accepted"}`` (delivery is asynchronous:
clients may be gone by then), 401 for a missing or wrong token, 400 naming the bad field.

Open-internet limits: after ``--api-max-failures`` missing or wrong tokens within a minute
an address gets 429 with ``Retry-After`` (its token is not even compared meanwhile, so
guessing stops); a body over ``--max-payload`` is 413 and one nested deeper than
``--max-json-depth`` 400, by the rule every packet path applies (server/realtime/packet_rules.py;
a body deep enough to exhaust the stdlib decoder's recursion bound is refused alike).
Each refusal is logged with the client's address, never with the token it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import time
from collections import deque
from typing import Any

from aiohttp import web

from ..config import Config
from ..net.remote import client_address
from ..realtime.packet_rules import RESERVED_EVENTS, json_may_nest, nested_deeper
from ..realtime.server import OpenlineServer

log = logging.getLogger("openline.api")

FIELDS = ("namespace", "event", "data", "room", "to")
FAILURE_WINDOW = 60.0  # seconds: --api-max-failures counts failures per minute
MAX_TRACKED = 100_000  # addresses with recent failures kept; past it the stalest go first


class BadField(ValueError):
    """One field of the request body is wrong; ``str()`` is the message for the client."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def authorized(header: str | None, token: str) -> bool:
    """Whether ``Authorization`` carries ``Bearer <token>``; constant-time comparison (of
    digests, so not even the token's length shows in the timing)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_digest(given.strip()), _digest(token))


class Failures:
    """Failed authorizations per client address in the last FAILURE_WINDOW seconds.

    IPv6 clients count per /64: one host commonly holds a whole /64, so a per-address
    count would give it 2**64 budgets.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: dict[str, deque[float]] = {}

    @staticmethod
    def key(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def retry_after(self, address: str, now: float) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        times = self._times.get(self.key(address))
        if times is None:
            return 0
        while times and times[0] <= now - FAILURE_WINDOW:
            times.popleft()
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[0] + FAILURE_WINDOW - now))

    def add(self, address: str, now: float) -> int:
        """Count a failure; returns the failures of this address in the window."""
        key = self.key(address)
        times = self._times.pop(key, None)  # re-inserted last: the dict stays stalest-first
        if times is None:
            times = deque(maxlen=self.limit)
            if len(self._times) >= MAX_TRACKED:
                self._forget_stale(now)
        self._times[key] = times
        times.append(now)
        return len(times)

    def _forget_stale(self, now: float) -> None:
        for key in list(self._times):
            times = self._times[key]
            if times and times[-1] > now - FAILURE_WINDOW and len(self._times) < MAX_TRACKED:
                break
            del self._times[key]


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
    if not sio.serves(namespace):  # exact, pattern or "*"
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


def make_handler(sio: OpenlineServer, config: Config) -> Any:
    token = config.api_token
    max_size, max_depth = config.max_payload, config.max_json_depth
    failures = Failures(config.api_max_failures)

    async def emit(request: web.Request) -> web.Response:
        """Emit an event to a namespace, a room or one sid; see the module docstring."""
        if token is None:
            return _error(404, "the publish API is off (start the server with --api-token)")
        address, _ = client_address(request, config.trusted_proxies)
        now = time.monotonic()
        wait = failures.retry_after(address, now)
        if wait:
            log.warning("refused %s for %ds: over --api-max-failures (%d) wrong tokens "
                        "a minute", address, wait, failures.limit)
            return _error(429, f"too many wrong tokens; retry in {wait}s", **{"Retry-After": str(wait)})
        header = request.headers.get("Authorization")
        if not authorized(header, token):
            count = failures.add(address, now)
            kind = "no bearer token" if not header else "a wrong bearer token"
            log.warning("%s from %s (%d of %d allowed a minute)", kind, address, count,
                        failures.limit)
            return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        too_large = f"body: larger than {max_size} bytes (--max-payload)"
        if request.content_length is not None and request.content_length > max_size:
            log.info("body of %d bytes from %s refused (413)", request.content_length, address)
            return _error(413, too_large)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
            log.info("body over %d bytes from %s refused (413)", max_size, address)
            return _error(413, too_large)
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return _bad(address, "body: not valid JSON (UTF-8 expected)")
        too_deep = f"body: nested deeper than {max_depth} (--max-json-depth)"
        try:
            body = json.loads(text)
        except RecursionError:  # the stdlib decoder's own bound, far past ours
            return _bad(address, too_deep)
        except ValueError:
            return _bad(address, "body: not valid JSON")
        # the depth rule of every other path (server/realtime/packet_rules.py)
        if json_may_nest(text, max_depth) and nested_deeper(body, max_depth):
            return _bad(address, too_deep)
        try:
            kwargs = parse_emit(body, sio)
        except BadField as exc:
            return _bad(address, str(exc))
        await sio.emit(**kwargs)
        return web.json_response({"status": "accepted"}, status=202)

    return emit


def _bad(address: str, message: str) -> web.Response:
    log.info("bad request from %s: %s", address, message)
    return _error(400, message)


def add_routes(app: web.Application, sio: OpenlineServer, config: Config) -> None:
    app.router.add_post("/api/v1/emit", make_handler(sio, config))
