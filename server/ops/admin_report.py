"""What the Admin UI is shown, as @socket.io/admin-ui 0.5.1's server builds it
(lib/index.ts and lib/typed-events.ts in socketio/socket.io-admin-ui): a socket, the
aggregated events, a node's stats, timestamps. Pure functions of the server's state.

Where openline shows less than Node: a socket's ``data`` is ``{}`` (python-socketio's
session dict may hold anything, and is not the client's to see through the UI);
``cookie`` and ``authorization`` headers are shown as ``(hidden)``; a plain WebSocket
client's query string is its ``auth`` (server/bridge/sessions.py), which Node leaves
out of the handshake, so its ``query`` is ``{}`` and its ``url`` the path alone.
"""

from __future__ import annotations

import os
import socket as socket_module
import time
from typing import Any
from urllib.parse import parse_qs

from ..bridge.route import Bridge
from ..bridge.sessions import TRANSPORT_NAME
from . import census

HOSTNAME = socket_module.gethostname()
PID = os.getpid()
HIDDEN_HEADERS = frozenset({"cookie", "authorization"})
CLIENT_ID_LENGTH = 12  # Node shows this much of the Engine.IO sid: the whole one is a key


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def timestamp(seconds: float | None = None) -> str:
    """A JavaScript ``Date`` as JSON has it: ``2024-05-01T12:00:00.123Z`` (each report
    carries one: the second's text is made once, 1.5 → 0.4 µs)."""
    now = time.time() if seconds is None else seconds
    whole = int(now)
    if _second[0] != whole:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"


class EventBuffer:
    """Node's: counts per (second, type, subType), taken by each server_stats."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub: str | None = None, count: int = 1) -> None:
        key = (int(time.time()) * 1000, kind, sub)
        self.counts[key] = self.counts.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        counts, self.counts = self.counts, {}
        found = []
        for (at, kind, sub), count in counts.items():
            event: dict[str, Any] = {"timestamp": at, "type": kind, "count": count}
            if sub is not None:
                event["subType"] = sub
            found.append(event)
        return found


def headers(environ: dict[str, Any]) -> dict[str, str]:
    found = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            found[name] = "(hidden)" if name in HIDDEN_HEADERS else value
    return found


def handshake(environ: dict[str, Any], issued: float) -> dict[str, Any]:
    bridge = environ.get("openline.transport") == TRANSPORT_NAME
    query = {} if bridge else {k: v[0] if len(v) == 1 else v
                               for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    shown = headers(environ)
    return {
        "address": environ.get("REMOTE_ADDR", ""),  # the client behind --trusted-proxies
        "headers": shown,
        "query": query,
        "issued": int(issued * 1000),
        "secure": environ.get("wsgi.url_scheme") == "https",
        "time": timestamp(issued),
        "url": environ.get("PATH_INFO" if bridge else "RAW_URI", ""),
        "xdomain": "origin" in shown,
    }


def socket(sio: Any, sid: str, namespace: str, eio_sid: str, issued: float) -> dict[str, Any]:
    """One socket as ``all_sockets`` and ``socket_connected`` carry it."""
    return {
        "id": sid,
        "clientId": eio_sid[:CLIENT_ID_LENGTH],
        "transport": sio.transport(sid, namespace),
        "nsp": namespace,
        "data": {},
        "handshake": handshake(sio.environ.get(eio_sid, {}), issued),
        "rooms": list(sio.manager.get_rooms(sid, namespace)),
    }


def sockets(sio: Any, since: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
    """Every socket connected to this node, in every namespace."""
    manager = sio.manager
    found = []
    for namespace in list(manager.get_namespaces()):
        for sid, eio_sid in list(manager.get_participants(namespace, None)):
            if not manager.is_connected(sid, namespace):
                continue
            try:
                found.append(socket(sio, sid, namespace, eio_sid, since.get((namespace, sid), 0.0)))
            except KeyError:  # its session is ending: the manager has not heard yet
                continue
    return found


def clients(sio: Any, bridge: Bridge) -> tuple[int, int]:
    """(clients, long-polling ones): Engine.IO sessions open and bridge sessions."""
    sessions = [s for s in getattr(sio.eio, "sessions", {}).values() if not s.closed]
    polling = sum(1 for s in sessions if s.transport == "polling")
    return len(sessions) + len(bridge.sessions), polling


def server_stats(sio: Any, bridge: Bridge, server_id: str, uptime: float,
                 events: list[dict[str, Any]]) -> dict[str, Any]:
    count, polling = clients(sio, bridge)
    manager = sio.manager
    namespaces = []
    for name in census.namespaces(sio):
        members = manager.rooms.get(name, {}).get(None) or {}
        pending = manager.pending_connect.get(name) or ()
        namespaces.append({"name": name, "socketsCount": len(members) - len(pending)})
    return {
        "serverId": server_id,
        "hostname": HOSTNAME,
        "pid": PID,
        "uptime": uptime,
        "clientsCount": count,
        "pollingClientsCount": polling,
        "aggregatedEvents": events,
        "namespaces": namespaces,
    }
