"""The parsers of option values: each takes the raw value (a string from argv or the
environment, or a value of the right type) and returns the typed one, or raises
ValueError, which ``Option.convert`` (config.py) turns into a ConfigError naming the flag
and what it accepts. Pure functions, part of the foundation with config.py."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path

TRANSPORTS = ("polling", "websocket")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError
    return port


def _positive_seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds < 86400 or seconds != seconds:
        raise ValueError
    return seconds


def _bytes(value: str) -> int:
    size = int(value)
    if size < 1:
        raise ValueError
    return size


def _count(value: str | int) -> int:
    count = int(value)
    if count < 1:
        raise ValueError
    return count


def _limit(value: str | int | None) -> int | None:
    """A positive count, or 0/off/none/unlimited for no limit."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("0", "off", "none", "unlimited"):
        return None
    count = int(value)
    if count < 0:
        raise ValueError
    return count or None


def _rate(value: str | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("0", "off", "none"):
        return None
    rate = float(value)
    if not 0 <= rate < 1e9 or rate != rate:
        raise ValueError
    return rate or None


def _window(value: str | float | None) -> float | None:
    """Seconds (as ``_positive_seconds``), or 0/off for None."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("0", "off", "none")):
        return None
    if float(value) == 0:
        return None
    return _positive_seconds(str(value))


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValueError
        return value

    return parse


def _transports(value: str | tuple[str, ...]) -> tuple[str, ...]:
    items = value if isinstance(value, tuple) else tuple(v.strip() for v in value.split(","))
    if not items or any(item not in TRANSPORTS for item in items) or len(set(items)) != len(items):
        raise ValueError
    return tuple(items)


def _origins(value: str | tuple[str, ...]) -> tuple[str, ...] | None:
    items = value if isinstance(value, tuple) else tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        return None
    if "*" in items and len(items) > 1:
        raise ValueError
    for item in items:
        if item not in ("*", "null") and "://" not in item:
            raise ValueError
    return tuple(items)


def _networks(value: str | tuple[Network, ...]) -> tuple[Network, ...]:
    if isinstance(value, tuple):
        return value
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in value.split(",") if v.strip())


def _dirs(value: str | tuple[Path, ...] | list[str]) -> tuple[Path, ...]:
    items = value.split(os.pathsep) if isinstance(value, str) else value
    dirs = tuple(Path(v) for v in items if str(v))
    for d in dirs:
        if not d.is_dir():
            raise ValueError
    return dirs


def _text(value: str) -> str | None:
    return value or None


def _name(value: str) -> str:
    if not value.strip():
        raise ValueError
    return value


_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def _path(value: str) -> str:
    """``rt``, ``/rt`` or ``/a/b/`` as ``/rt/``, ``/a/b/``: unreserved URL characters only,
    never the root (the demo page and the bridge's namespaces are there)."""
    segments = value.strip().strip("/").split("/")
    if any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
        raise ValueError
    return "/" + "/".join(segments) + "/"


COOKIE_DEFAULTS = ("Path=/", "HttpOnly", "SameSite=Lax")  # Node's engine.io, cookie: true
_COOKIE_ATTRIBUTES = {a.lower(): a for a in (
    "Path", "Domain", "Max-Age", "SameSite", "Secure", "HttpOnly", "Partitioned")}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 6265 cookie-name
_AV_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")  # printable ASCII but ";"


def _cookie(value: str) -> str | None:
    """``NAME``: Node's attributes (COOKIE_DEFAULTS); ``NAME; Attr[=value]; ...``: exactly
    those, spelled as RFC 6265 does, normalized to ``NAME; Attr; ...``; empty or off: None."""
    name, *parts = (p.strip() for p in value.split(";"))
    if name.lower() in ("", "off") and not parts:
        return None
    attributes: list[str] = []
    for part in parts or COOKIE_DEFAULTS:
        key, eq, val = (s.strip() for s in part.partition("="))
        attr = _COOKIE_ATTRIBUTES.get(key.lower())
        if attr is None or any(a.split("=")[0] == attr for a in attributes) \
                or (attr in ("Path", "Domain", "Max-Age", "SameSite")) != bool(eq) \
                or (eq and not _AV_VALUE.fullmatch(val)):
            raise ValueError
        if attr == "SameSite":
            val = val.capitalize()
        if (attr == "SameSite" and val not in ("Lax", "Strict", "None")) \
                or (attr == "Max-Age" and not val.isdigit()) or (attr == "Path" and val[0] != "/"):
            raise ValueError
        attributes.append(f"{attr}={val}" if eq else attr)
    if not _TOKEN.fullmatch(name) or ("SameSite=None" in attributes and "Secure" not in attributes):
        raise ValueError  # browsers drop SameSite=None without Secure
    return "; ".join([name, *attributes])


# The URL forms python-socketio's AsyncRedisManager takes; redis-py serves them all
# (server/net/redis_url.py): valkey:// is the same protocol, sentinel is redis-py's Sentinel.
REDIS_SCHEMES = ("redis", "rediss", "unix", "valkey", "valkeys", "redis+sentinel", "valkey+sentinel")


def _redis_url(value: str) -> str | None:
    """A URL of REDIS_SCHEMES, checked as far as it can be without connecting: the port(s)
    numbers 1-65535, the db a number; a sentinel URL's hosts host:port, comma separated
    (``redis+sentinel://[user:pw@]host:port,host:port/db/service``, python-socketio's form)."""
    if not value:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES or any(c.isspace() for c in value):
        raise ValueError
    where, _, path = rest.partition("/")
    hosts = where.rsplit("@", 1)[-1]
    path = path.partition("?")[0]
    if scheme.lower() == "unix":
        if not path or hosts:  # unix:///path/to/redis.sock[?db=N]
            raise ValueError
        return value
    if scheme.lower().endswith("+sentinel"):
        if not all(re.fullmatch(r"[^:,]+:\d{1,5}", h) and 0 < int(h.rsplit(":", 1)[1]) < 65536
                   for h in hosts.split(",")):
            raise ValueError
        db = path.split("/")[0]
    else:
        port = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]*)(?::(\d{1,5}))?", hosts)
        if port is None or (port.group(2) is not None and not 0 < int(port.group(2)) < 65536):
            raise ValueError
        db = path
    if db and not db.isdigit():
        raise ValueError
    return value


def _invert(value: str | bool) -> bool:
    return not _bool(value)
