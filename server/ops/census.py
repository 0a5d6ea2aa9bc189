"""What a node holds right now, read when /metrics or /status asks: clients by namespace
and transport, rooms, bytes sent and bytes still unsent. Each walks the live sessions or
sockets once (O(clients) per request, nothing per event); /status and /metrics share it."""

from __future__ import annotations

from typing import Any

from ..bridge.sessions import TRANSPORT_NAME, Bridge


def namespaces(sio: Any) -> list[str]:
    """The namespaces the server serves (plugins' classes and decorator handlers)."""
    return sorted({*sio.namespace_handlers, *sio.handlers})


def transports(sio: Any) -> list[str]:
    """Every transport a client may be on: Engine.IO's configured ones and the bridge."""
    return [*sio.config.transports, TRANSPORT_NAME]


def clients(sio: Any) -> dict[str, dict[str, int]]:
    """namespace -> transport -> connected sockets, every served namespace and transport
    present (zero included); sockets still in their connect handler are not counted."""
    counts = {ns: dict.fromkeys(transports(sio), 0) for ns in namespaces(sio)}
    manager = sio.manager
    for namespace, rooms in list(manager.rooms.items()):
        members = rooms.get(None)
        if not members:
            continue
        by_transport = counts.setdefault(namespace, dict.fromkeys(transports(sio), 0))
        for sid, eio_sid in list(members.items()):
            if not manager.is_connected(sid, namespace):
                continue
            try:
                transport = sio._engine_for(eio_sid).transport(eio_sid)
            except KeyError:  # its session is ending: the manager has not heard yet
                continue
            by_transport[transport] = by_transport.get(transport, 0) + 1
    return counts


def rooms(sio: Any) -> dict[str, int]:
    """namespace -> rooms with members, leaving out the room every sid has of its own."""
    counts = dict.fromkeys(namespaces(sio), 0)
    for namespace, by_room in list(sio.manager.rooms.items()):
        members = by_room.get(None) or {}
        counts[namespace] = sum(1 for room in by_room if room is not None and room not in members)
    return counts


def _sessions(sio: Any) -> list[Any]:
    return list(getattr(sio.eio, "sessions", {}).values())  # none: python-engineio's server


def sent_bytes(sio: Any, bridge: Bridge) -> int:
    """Bytes written to clients since start: Engine.IO WebSocket frames (headers included)
    and long-polling bodies, bridge frames; live sessions' counts plus those of ended ones."""
    engine_total = getattr(sio.eio, "written_by_gone", 0) + sum(s.written for s in _sessions(sio))
    return engine_total + bridge.written_by_gone + sum(s.written for s in list(bridge.sessions))


def unsent_bytes(sio: Any, bridge: Bridge) -> int:
    """Bytes accepted for clients and not yet taken by the kernel: what --send-budget bounds
    per client (socket buffers, frames gathered or waiting for aiohttp, polling queues)."""
    engine_total = sum(s.unsent() + s.queued for s in _sessions(sio))
    return engine_total + sum(s.unsent() for s in list(bridge.sessions))


def slow_closes(sio: Any) -> dict[str, int]:
    """Clients closed for not reading, by the limit they hit (engine and bridge alike)."""
    stalls = getattr(sio.eio, "stalls", None)
    if stalls is None:
        return {"send_budget": 0, "send_grace": 0}
    return {"send_budget": stalls.over_budget, "send_grace": stalls.stalled}
