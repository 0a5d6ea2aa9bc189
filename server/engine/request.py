"""What the engine reads from an HTTP request: the WSGI-style environ handlers get,
the Origin policy (CORS and WebSocket upgrades alike) and the error responses."""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..config import Config, Network
from ..logsafe import Throttle
from ..net.remote import _trusted, client_address
from .answer import JSON, Answer
from .packets import FORBIDDEN, error_body

log = logging.getLogger("openline.origin")

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
        # the scheme the browser used: a trusted proxy's word, else our own socket's
        "wsgi.url_scheme": forwarded_proto(request, trusted) or request.scheme,
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


Origin = tuple[str, str, int]  # (scheme, host, port) as a browser serializes it

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
REFUSAL_LOG_INTERVAL = 10.0  # seconds between two log lines about refused origins


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` as a comparable tuple, the default port filled in; None
    for anything a browser would not send (a path, a query, user info, a bad port)."""
    try:
        parts = urlsplit(text.strip().rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not parts.scheme or not host or parts.path or parts.query or parts.fragment \
            or "@" in parts.netloc:
        return None
    scheme = parts.scheme.lower()
    return scheme, host.lower(), port if port is not None else DEFAULT_PORTS.get(scheme, 0)


def _address_host(address: str) -> str:
    """A socket address as an Origin's host: no IPv6 scope, IPv4-mapped unwrapped."""
    address = address.split("%", 1)[0].lower()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def forwarded_proto(request: web.BaseRequest, trusted: Sequence[Network]) -> str | None:
    """``X-Forwarded-Proto`` (http or https) when a trusted proxy sent it, else None."""
    if not trusted:
        return None
    proto = request.headers.get("X-Forwarded-Proto")
    if not proto:
        return None
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer or not _trusted(peer[0], trusted):
        return None
    proto = proto.rsplit(",", 1)[-1].strip().lower()  # the nearest proxy's word
    return proto if proto in DEFAULT_PORTS else None


class OriginPolicy:
    """Which ``Origin`` may talk to the server: one rule for Engine.IO (CORS and
    WebSocket upgrades alike) and the plain-WebSocket bridge (``policy_for``).

    A request without ``Origin`` is not from a browser page and is allowed. Otherwise the
    origin must be listed in ``origins`` (--cors-origins; ``("*",)``: any) or be one of
    this server's own origins, scheme and port included:

    - ``public`` (--public-origins) when set: exactly those, whatever the request's Host
      says (a DNS-rebinding page sends its own name in both Host and Origin, so the Host
      header proves nothing);
    - else the address and port the connection arrived at (the listening socket, so
      --port 0 works), the configured ``host`` name with that port, and, when either is
      a loopback address, its aliases localhost, 127.0.0.1 and [::1]. Listening on all
      addresses (0.0.0.0, ::) this is the local address each connection reached: a page
      loaded from http://10.0.0.5:1740 or http://localhost:1740 works, one loaded by a
      domain name does not; a server reached by a name must set --public-origins.

    A trusted proxy's ``X-Forwarded-Proto`` gives the scheme the browser used (TLS ends at
    the proxy); its ``X-Forwarded-Host`` is ignored, as it is the client's Host relayed.
    ``Origin: null`` (sandboxed frames, file:// pages: one opaque origin shared by all of
    them) is allowed only when "null" is listed; ``*`` does not imply it.

    ``dev`` (--dev-origins, which ``make run`` passes) adds what a developer's machine
    sends: ``null`` (a page opened from a file) and http(s)://localhost, 127.0.0.1 or
    [::1] on any port (a page served by another local dev server).
    """

    __slots__ = ("any", "null", "dev", "listed", "public", "host", "trusted", "_refusals")

    def __init__(self, origins: Sequence[str] | None, trusted: Sequence[Network],
                 public: Sequence[str] | None = None, host: str | None = None,
                 dev: bool = False) -> None:
        self.any = origins is not None and tuple(origins) == ("*",)
        self.null = dev or (origins is not None and "null" in origins)
        self.dev = dev
        self.listed = frozenset(filter(None, (parse_origin(o) for o in origins or ()
                                              if o not in ("*", "null"))))
        self.public = None if public is None else frozenset(
            filter(None, (parse_origin(o) for o in public)))
        host = (host or "").strip("[]").lower()
        self.host = None if host in WILDCARD_HOSTS else _address_host(host)
        self.trusted = tuple(trusted)
        # one kind of line for the engine and the bridge alike, as they share this policy;
        # WARNING: a refused page is a deployment mistake the operator has to fix
        self._refusals = Throttle(log, logging.WARNING, REFUSAL_LOG_INTERVAL)

    def allows(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if origin.strip().lower() == "null":
            return self.null
        if self.any:
            return True
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        if self.dev and parsed[1].strip("[]") in LOOPBACK_HOSTS and parsed[0] in DEFAULT_PORTS:
            return True
        return parsed in self.listed or parsed in self.own_origins(request)

    def own_origins(self, request: web.BaseRequest) -> set[Origin]:
        """The origins this request may have come from as a same-origin page."""
        if self.public is not None:
            own = set(self.public)
        else:
            sock = request.transport.get_extra_info("sockname") if request.transport else None
            if not isinstance(sock, tuple):  # a Unix socket: only a proxy reaches it
                return set()
            port = int(sock[1])
            hosts = {_address_host(str(sock[0]))}
            if self.host is not None:
                hosts.add(self.host)
            if any(_is_loopback(h) for h in hosts):
                hosts |= LOOPBACK_HOSTS
            own = {(request.scheme, h, port) for h in hosts}
        proto = forwarded_proto(request, self.trusted)
        if proto is not None:
            for scheme, host, port in list(own):
                if port == DEFAULT_PORTS.get(scheme):
                    port = DEFAULT_PORTS[proto]
                own.add((proto, host, port))
        return own

    def check(self, request: web.BaseRequest) -> dict[str, str] | None:
        """None for a refused origin, else the CORS headers for every response to it
        (none without an Origin): a refused origin is never echoed back."""
        if not self.allows(request):
            return None
        return self.headers(request)

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
        headers = self.check(request)
        if headers is None:
            return refuse(FORBIDDEN)
        headers["Access-Control-Allow-Methods"] = CORS_METHODS
        wanted = request.headers.get("Access-Control-Request-Headers")
        if wanted:
            headers["Access-Control-Allow-Headers"] = wanted
        headers["Access-Control-Max-Age"] = "86400"
        return web.Response(status=204, headers=headers)

    def refusal(self, request: web.BaseRequest) -> str:
        """What to tell about a refused origin: the text is returned for the peer and
        logged at INFO at most once per REFUSAL_LOG_INTERVAL (with the count since), as a
        page retrying in a loop must not fill the log."""
        origin = request.headers.get("Origin", "")[:100]
        if origin.strip().lower() == "null":
            text = ("origin null (a page opened from a file) not allowed; start the server "
                    "with --cors-origins null, or --dev-origins on a development machine "
                    "(make run does)")
        else:
            text = (f"origin {origin} not allowed; list it in --cors-origins, or name the "
                    "origins this server is reached at with --public-origins")
        self._refusals.note("refused a page's request from %s: %s",
                            client_address(request, self.trusted)[0], text)
        return text


_POLICIES: dict[int, tuple[Config, OriginPolicy]] = {}
_POLICIES_MAX = 64


def policy_for(config: Config) -> OriginPolicy:
    """The one OriginPolicy of ``config``: the engine and the bridge share it (and its
    log rate limit). Keyed by identity, as hashing a Config per request costs more."""
    entry = _POLICIES.get(id(config))
    if entry is None or entry[0] is not config:
        if len(_POLICIES) >= _POLICIES_MAX:  # tests build many configs; a server, one
            _POLICIES.clear()
        entry = config, OriginPolicy(config.cors_origins, config.trusted_proxies,
                                     config.public_origins, config.host, config.dev_origins)
        _POLICIES[id(config)] = entry
    return entry[1]


def refuse(code: int, headers: dict[str, str] | None = None) -> Answer:
    """A refused request: 403 for Forbidden, else 400, with the reference JSON body."""
    return Answer(error_body(code), JSON, headers, 403 if code == FORBIDDEN else 400)
