"""The Admin UI's development-mode reports, hooked into one app's server and manager.

Each hook wraps a method on the instance (never the class: two apps in one process stay
apart) and reports after or before the original, as the admin-ui server orders its
emits: a socket's own room is joined before ``socket_connected``, and its rooms are
left after ``socket_disconnected``. What is wrapped:

- ``manager.connect``: a socket accepted, its CONNECT acknowledged → socket_connected;
- ``sio._trigger_event``, for "disconnect" (every way a socket leaves) → socket_disconnected;
- ``manager.basic_enter_room``/``basic_leave_room`` → room_joined/room_left;
- ``sio._handle_event_internal`` (both event paths queue this attribute) → event_received;
- ``manager.emit`` and a cluster manager's ``_handle_emit`` (another node's emit reaching
  this node's sockets) → event_sent, one per recipient;
- the engine's ``on_upgrade`` → socket_updated with the transport "websocket".

Reports are built only while some UI watches (``Admin.watching``); the connect time of
each socket is kept anyway, for ``all_sockets``.
"""

from __future__ import annotations

import time
from typing import Any

from ..cluster.messages import as_args, message_args
from . import admin_report as report

ADMIN = "/admin"


def hook_sockets(admin: Any) -> None:
    """Wrap ``admin``'s server and manager (an ``admin.Admin``: its ``since``, ``queue``,
    ``watching``; not imported here, which would draw an import circle)."""
    sio, manager = admin.sio, admin.manager
    since, queue, watching = admin.since, admin.queue, admin.watching
    connect = manager.connect

    async def connected(sid: str, namespace: str) -> Any:
        result = await connect(sid, namespace)
        sid = result if isinstance(result, str) else sid
        now = since[(namespace, sid)] = time.time()
        if watching():
            eio_sid = manager.eio_sid_from_sid(sid, namespace)
            if eio_sid is not None:
                try:
                    queue("socket_connected", (report.socket(sio, sid, namespace, eio_sid, now),
                                               report.timestamp(now)))
                except KeyError:  # its session ended meanwhile
                    pass
        return result

    trigger = sio._trigger_event

    def trigger_event(event: str, namespace: str, *args: Any) -> Any:
        if event == "disconnect" and args and since.pop((namespace, args[0]), None) is not None \
                and watching():
            reason = str(args[1]) if len(args) > 1 else ""
            queue("socket_disconnected", (namespace, args[0], reason, report.timestamp()))
        return trigger(event, namespace, *args)

    enter, leave = manager.basic_enter_room, manager.basic_leave_room

    def basic_enter_room(sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        enter(sid, namespace, room, eio_sid=eio_sid)
        if room is not None and watching():
            queue("room_joined", (namespace, room, sid, report.timestamp()))

    def basic_leave_room(sid: str, namespace: str, room: Any) -> None:
        if room is None or not watching():
            leave(sid, namespace, room)
            return
        members = manager.rooms.get(namespace, {}).get(room)
        was_in = members is not None and sid in members
        leave(sid, namespace, room)
        if was_in:
            queue("room_left", (namespace, room, sid, report.timestamp()))

    handle = sio._handle_event_internal

    def handle_event(server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str,
                     id: int | None) -> Any:
        if namespace != ADMIN and data and data[0] != "error" and watching() \
                and manager.is_connected(sid, namespace):
            queue("event_received", (namespace, sid, list(data), report.timestamp()))
        return handle(server, sid, eio_sid, data, namespace, id)

    def sent(namespace: str, room: Any, skip_sid: Any, event: Any, args: list[Any]) -> None:
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        at = report.timestamp()
        for sid, _ in list(manager.get_participants(namespace, room)):
            if sid not in skip:
                queue("event_sent", (namespace, sid, [event, *args], at))

    emit = manager.emit

    def emit_reported(event: str, data: Any, namespace: str | None = None, room: Any = None,
                      skip_sid: Any = None, callback: Any = None, to: Any = None,
                      **kwargs: Any) -> Any:
        if (namespace or "/") != ADMIN and watching():
            sent(namespace or "/", to or room, skip_sid, event, as_args(data))
        return emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                    to=to, **kwargs)

    manager.connect = connected
    sio._trigger_event = trigger_event
    manager.basic_enter_room, manager.basic_leave_room = basic_enter_room, basic_leave_room
    sio._handle_event_internal = handle_event
    manager.emit = emit_reported
    handle_emit = getattr(manager, "_handle_emit", None)
    if handle_emit is not None:  # a cluster manager: emits from other nodes

        def handle_emit_reported(message: dict[str, Any]) -> Any:
            namespace = message.get("namespace") or "/"
            if namespace != ADMIN and watching():
                sent(namespace, message.get("room"), message.get("skip_sid"),
                     message.get("event"), list(message_args(message)))
            return handle_emit(message)

        manager._handle_emit = handle_emit_reported

    def upgraded(eio_sid: str) -> None:
        if not watching():
            return
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and manager.is_connected(sid, namespace):
                queue("socket_updated", ({"id": sid, "nsp": namespace, "transport": "websocket"},))

    if hasattr(sio.eio, "on_upgrade"):
        sio.eio.on_upgrade = upgraded
