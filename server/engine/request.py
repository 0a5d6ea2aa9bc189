"""What the engine reads from an HTTP request: the WSGI-style environ handlers get,
the Origin policy (CORS and WebSocket upgrades alike) and the error responses."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..config import Network
from ..remote import _trusted, client_address
from .packets import FORBIDDEN, error_body

CORS_METHODS = "GET, POST, OPTIONS"
_PROTOCOLS = {(1, 1): "HTTP/1.1", (1, 0): "HTTP/1.0"}  # one shared string, not one per session


def environ_for(request: web.Request, trusted: Sequence[Network]) -> dict[str, Any]:
    """The WSGI-style environ python-socketio hands to connect handlers.

    Same keys as python-engineio's aiohttp driver builds, except that ``REMOTE_ADDR``
    and ``REMOTE_PORT`` are the real client (that driver hard-codes 127.0.0.1).
    """
    host, port = client_address(request, trusted)
    environ: dict[str, Any] = {
        "wsgi.input": request.content,
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.url_scheme": request.headers.get("X-Forwarded-Proto", request.scheme),
        "SERVER_SOFTWARE": "openline",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string or "",
        "RAW_URI": request.path_qs,
        "PATH_INFO": request.path,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": _PROTOCOLS.get(request.version) or "HTTP/{}.{}".format(*request.version),
        "REMOTE_ADDR": host,
        "REMOTE_PORT": str(port),
        "SERVER_NAME": "openline",
        "SERVER_PORT": "0",
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = _ENVIRON_KEYS.get(name)
        if key is None:
            key = _environ_key(name)
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


# Header name -> environ key, so the sessions share one key string per header name
# instead of building their own (~0.4 KB per idle connection, bench/RESULTS.md); bounded,
# as header names are the client's choice.
_ENVIRON_KEYS: dict[str, str] = {}
_ENVIRON_KEYS_MAX = 1024


def _environ_key(name: str) -> str:
    upper = name.upper()
    if upper == "CONTENT-TYPE":
        key = "CONTENT_TYPE"
    elif upper == "CONTENT-LENGTH":
        key = "CONTENT_LENGTH"
    else:
        key = "HTTP_" + upper.replace("-", "_")
    if len(_ENVIRON_KEYS) < _ENVIRON_KEYS_MAX:
        _ENVIRON_KEYS[name] = key = sys.intern(key)
    return key


class OriginPolicy:
    """Which ``Origin`` may talk to the engine.

    ``origins`` None: same origin only; ``("*",)``: any; else the listed origins (and the
    same origin, so a page served by this server always works). A request without an
    ``Origin`` header is not from a browser page and is always allowed.
    """

    __slots__ = ("any", "listed", "trusted")

    def __init__(self, origins: Sequence[str] | None, trusted: Sequence[Network]) -> None:
        self.any = origins is not None and tuple(origins) == ("*",)
        self.listed = frozenset(o.rstrip("/") for o in origins or () if o != "*")
        self.trusted = tuple(trusted)

    def allows(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if origin is None or self.any or origin.rstrip("/") in self.listed:
            return True
        return self._same_origin(request, origin)

    def _same_origin(self, request: web.BaseRequest, origin: str) -> bool:
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        if not netloc:
            return False
        hosts = {request.host.lower()}
        # Behind a trusted proxy the browser saw the proxy's host, not ours. The scheme
        # is not compared: a TLS-terminating proxy talks plain HTTP to us.
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer and self.trusted and _trusted(peer[0], self.trusted):
            forwarded = request.headers.get("X-Forwarded-Host")
            if forwarded:
                hosts.add(forwarded.split(",")[0].strip().lower())
        return netloc in hosts

    def headers(self, request: web.BaseRequest) -> dict[str, str]:
        """CORS headers for an allowed request; credentials are allowed, so the origin is
        echoed rather than ``*`` (browsers refuse ``*`` with credentials)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        return {"Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin"}

    def preflight(self, request: web.BaseRequest) -> web.Response:
        """Answer an OPTIONS request (CORS preflight)."""
        if not self.allows(request):
            return refuse(FORBIDDEN)
        headers = self.headers(request)
        headers["Access-Control-Allow-Methods"] = CORS_METHODS
        wanted = request.headers.get("Access-Control-Request-Headers")
        if wanted:
            headers["Access-Control-Allow-Headers"] = wanted
        headers["Access-Control-Max-Age"] = "86400"
        return web.Response(status=204, headers=headers)


def refuse(code: int, headers: dict[str, str] | None = None) -> web.Response:
    """A refused request: 403 for Forbidden, else 400, with the reference JSON body."""
    return web.Response(status=403 if code == FORBIDDEN else 400, body=error_body(code),
                        content_type="application/json", headers=headers)
