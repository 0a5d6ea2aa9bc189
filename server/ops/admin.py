"""The Socket.IO Admin UI with --admin: @socket.io/admin-ui 0.5.1's protocol on the
``/admin`` namespace (the one python-socketio's ``instrument()`` speaks), against
openline's own server, manager, engine and bridge. The facts are the admin-ui server's
(socketio/socket.io-admin-ui lib/index.ts); the UI itself is served by admin_ui.py.

- Login: ``{username, password}`` or a ``sessionId`` in the CONNECT's auth
  (admin_login.py); without --admin-no-auth, --admin needs a password, as Node's
  admin-ui needs ``auth`` (or ``auth: false``).
- After a login: ``config`` (the features: none of the commands with --admin-readonly),
  ``all_sockets`` (every node's), then ``server_stats`` from every node each
  STATS_INTERVAL. In development mode also ``socket_connected``, ``socket_updated`` (the
  upgrade to WebSocket), ``socket_disconnected``, ``room_joined``, ``room_left``,
  ``event_received`` and ``event_sent`` (one per recipient, as Node's), for every
  namespace, whatever the client: Engine.IO on either transport, JSON or msgpack, plain
  WebSocket (transport ``websocket-bridge``).
- Commands: ``join``, ``leave``, ``_disconnect`` (``close``: the whole client) for the
  sockets of a namespace, or of a room of it, on every node; ``emit``.

How it hooks in: only with --admin, and like the metrics (meter.py), by wrapping a few
methods on the instances create_app built, so without --admin nothing runs per client.
Hooks queue what they report without waiting; one task sends it through the manager's
emit, so a cluster's nodes all reach every UI. What is reported is built only while a UI
is connected to some node (admin_link.py's ``watch``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from ..bridge.route import Bridge
from ..config import Config
from ..errors import EventError, PluginError
from ..logsafe import Throttle
from ..realtime.packet_rules import RESERVED_EVENTS
from . import admin_report as report
from . import admin_ui
from .admin_hooks import hook_sockets
from .admin_link import STATS_INTERVAL, AdminLink
from .admin_login import Logins
from .meter import size

log = logging.getLogger("openline.admin")

ADMIN = "/admin"
MAX_QUEUED = 10_000  # reports waiting to be sent; past it they are dropped (WARNING per 10 s)
COMMANDS = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
_numbers = itertools.count(1)


def default_server_id() -> str:
    """``<hostname>#<pid>``, and ``#<n>`` for the n-th app of a process (tests' nodes)."""
    n = next(_numbers)
    return f"{report.HOSTNAME}#{report.PID}" + ("" if n == 1 else f"#{n}")


class AdminNamespace(socketio.AsyncNamespace):
    """/admin: a login, then the UI's commands (argument defaults: a malformed command is
    refused by ``Admin.command``, never a TypeError)."""

    def __init__(self, admin: Admin) -> None:
        super().__init__(ADMIN)
        self.admin = admin

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await self.admin.log_in(sid, environ, auth)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.admin.watchers.discard(sid)

    async def on_emit(self, sid: str, nsp: Any = None, room: Any = None, event: Any = None,
                      *args: Any) -> None:
        await self.admin.command("emit", [nsp, room, event, *args])

    async def on_join(self, sid: str, nsp: Any = None, room: Any = None, among: Any = None) -> None:
        await self.admin.command("join", [nsp, room, among])

    async def on_leave(self, sid: str, nsp: Any = None, room: Any = None, among: Any = None) -> None:
        await self.admin.command("leave", [nsp, room, among])

    async def on__disconnect(self, sid: str, nsp: Any = None, close: Any = False,
                             among: Any = None) -> None:
        await self.admin.command("_disconnect", [nsp, close, among])


class Admin:
    """The Admin UI's side of one app (module docstring). ``install()`` before the app
    runs; ``running`` is its cleanup context."""

    def __init__(self, sio: Any, bridge: Bridge, config: Config) -> None:
        self.sio, self.bridge, self.config = sio, bridge, config
        self.manager = sio.manager
        self.verbose = config.admin_mode == "development"
        self.readonly = config.admin_readonly
        self.server_id = config.admin_server_id or default_server_id()
        self.features = [*([] if self.readonly else COMMANDS), "AGGREGATED_EVENTS",
                         *(["ALL_EVENTS"] if self.verbose else [])]
        self.logins = Logins(config)
        self.link: AdminLink | None = None
        if config.redis_url is not None:
            self.link = self.logins.link = AdminLink(
                config.redis_url, self.server_id, config.redis_publish_timeout,
                self.local_sockets, self.apply, self.tick)
        self.events = report.EventBuffer()
        self.watchers: set[str] = set()  # the sids of the UIs logged in to this node
        self.since: dict[tuple[str, str], float] = {}  # (namespace, sid) -> connected at
        self.started = time.monotonic()
        self.packets_in = self.bytes_in = 0
        self._sent_mark = 0
        self._outbox: list[tuple[str, tuple[Any, ...]]] = []
        self._wake = asyncio.Event()
        self._dropped = Throttle(log, logging.WARNING)
        self._emit = self.manager.emit  # before install() wraps it: reports are not reported
        self._tasks: list[asyncio.Task[None]] = []

    # --- what the UI sees ---------------------------------------------------------------

    def watching(self) -> bool:
        """Whether a UI is logged in here, or to another node lately (admin_link.py)."""
        return bool(self.watchers) or (self.link is not None and self.link.watched())

    def queue(self, event: str, args: tuple[Any, ...]) -> None:
        if len(self._outbox) >= MAX_QUEUED:
            self._dropped.note("Admin UI: %d reports waiting, dropping the newest (the UI "
                               "falls behind this node's traffic)", MAX_QUEUED)
            return
        self._outbox.append((event, args))
        self._wake.set()

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            for event, args in batch:
                try:  # offset "": never logged for connection state recovery
                    await self._emit(event, args, ADMIN, offset="")
                except Exception:
                    log.exception("Admin UI: %s could not be sent", event)

    async def _to(self, sid: str, event: str, *args: Any) -> None:
        await self._emit(event, args, ADMIN, room=sid, offset="")

    def local_sockets(self) -> list[dict[str, Any]]:
        return report.sockets(self.sio, self.since)

    def tick(self) -> None:
        """Count the bytes sent since the last tick; tell the UIs this node's stats."""
        sent = report.census.sent_bytes(self.sio, self.bridge)
        if sent > self._sent_mark:
            self.events.push("bytesOut", count=sent - self._sent_mark)
        self._sent_mark = sent
        if self.packets_in:
            self.events.push("packetsIn", count=self.packets_in)
            self.events.push("bytesIn", count=self.bytes_in)
            self.packets_in = self.bytes_in = 0
        events = self.events.take()
        if self.watching():
            self.queue("server_stats", (report.server_stats(
                self.sio, self.bridge, self.server_id, time.monotonic() - self.started, events),))

    async def _stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            self.tick()
            if self.link is not None and self.watchers:
                await self.link.watch()

    # --- the namespace ------------------------------------------------------------------

    async def log_in(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        session = await self.logins.check(environ, auth)
        log.info("Admin UI %s logged in from %s", sid, environ.get("REMOTE_ADDR"))
        self.watchers.add(sid)  # reports from now on: held for it until its CONNECT ack
        try:
            if session is not None:
                await self._to(sid, "session", session)
            await self._to(sid, "config", {"supportedFeatures": self.features})
            if self.link is not None:
                await self.link.watch()  # the other nodes report from now on
            if self.verbose:
                others = await self.link.fetch() if self.link is not None else []
                await self._to(sid, "all_sockets", [*others, *self.local_sockets()])
            self.tick()
        except BaseException:
            self.watchers.discard(sid)
            raise

    async def command(self, name: str, args: list[Any]) -> None:
        """A command from a UI, as the admin-ui server takes them: ``emit(namespace, room,
        event, *args)``, ``join``/``leave(namespace, room, among)``, ``_disconnect(namespace,
        close, among)``; ``among``: a room (a socket's own, for one socket) or None for the
        whole namespace. Checked, applied here and, in a cluster, on every node."""
        if self.readonly:
            log.info("Admin UI: %s refused (--admin-readonly)", name)
            return
        namespace, target, among = args[0], args[1], args[2]
        if name == "emit":  # target: the room, among: the event
            event, room = among, target
            if not _path(namespace) or not isinstance(event, str) or event in RESERVED_EVENTS \
                    or not (room is None or isinstance(room, str)):
                log.info("Admin UI: ignoring a malformed emit")
                return
            log.info("Admin UI: emit %r to %s%s", event, namespace, f" room {room!r}" if room else "")
            await self.sio.emit(event, tuple(args[3:]), to=room or None, namespace=namespace)
            return
        kind = bool if name == "_disconnect" else str  # close, or the room to join or leave
        if not _path(namespace) or not isinstance(target, kind) \
                or not (among is None or isinstance(among, str)):
            log.info("Admin UI: ignoring a malformed %s", name)
            return
        log.info("Admin UI: %s %r for the sockets of %s%s", name, target, namespace,
                 f" in room {among!r}" if among else "")
        await self.apply(name, [namespace, target, among])
        if self.link is not None:
            await self.link.send_command(name, [namespace, target, among])

    async def apply(self, name: str, args: list[Any]) -> None:
        """A command on this node's sockets of ``namespace`` (of room ``among`` if given)."""
        namespace, target, among = (list(args) + [None, None, None])[:3]
        manager, sio = self.manager, self.sio
        if namespace not in manager.rooms:
            return
        chosen = [(sid, eio_sid) for sid, eio_sid in list(manager.get_participants(namespace, among))
                  if manager.is_connected(sid, namespace)]
        for sid, eio_sid in chosen:
            if name == "join":
                try:
                    await sio.enter_room(sid, target, namespace=namespace)
                except EventError as exc:  # --max-rooms
                    log.info("Admin UI: %s cannot join %r: %s", sid, target, exc.message)
            elif name == "leave":
                await sio.leave_room(sid, target, namespace=namespace)
            elif name == "_disconnect" and target is True:  # the whole client, as Node's
                for each in list(manager.get_namespaces()):
                    other = manager.sid_from_eio_sid(eio_sid, each)
                    if other is not None and manager.is_connected(other, each):
                        await sio.disconnect(other, namespace=each, ignore_queue=True)
                await sio.eio.disconnect(eio_sid)  # a bridge client has closed already
            elif name == "_disconnect":
                await sio.disconnect(sid, namespace=namespace, ignore_queue=True)

    # --- hooks ----------------------------------------------------------------------

    def install(self) -> None:
        """Register /admin and wrap the methods the reports come from."""
        self.sio.register_namespace(AdminNamespace(self))
        self._hook_sessions()
        if self.verbose:
            hook_sockets(self)

    def _hook_sessions(self) -> None:
        """rawConnection/rawDisconnection and Engine.IO bytes received, as Node counts.
        An Engine.IO session reaches the handlers python-socketio gave the engine, a
        bridge session the server's own methods: each kind goes through one of them."""
        sio, eio, events = self.sio, self.sio.eio, self.events
        for name, kind in (("connect", "rawConnection"), ("disconnect", "rawDisconnection")):
            if name in eio.handlers:
                eio.handlers[name] = _counting(eio.handlers[name], events, kind)
            method = f"_handle_eio_{name}"
            setattr(sio, method, _counting(getattr(sio, method), events, kind))
        take, direct = getattr(eio, "take_message", None), getattr(eio, "direct_message", None)
        if take is None or direct is None:
            return  # python-engineio's server (OPENLINE_PROTOCOL_ENGINE=stock): not counted

        def take_message(session: Any, data: str | bytes) -> bool:
            if take(session, data):
                self.packets_in += 1
                self.bytes_in += size(data)
                return True
            return False  # the read loop hands it to direct_message below

        def direct_message(eio_sid: str, data: str | bytes) -> Any:
            self.packets_in += 1
            self.bytes_in += size(data)
            return direct(eio_sid, data)

        eio.take_message, eio.direct_message = take_message, direct_message

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """The sender and the stats ticks (and the cluster channel) while the app runs."""
        if self.link is not None:
            await self.link.start()
        self._tasks = [asyncio.ensure_future(self._send()), asyncio.ensure_future(self._stats())]
        yield
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=2)
        if self.link is not None:
            await self.link.stop()


def add_admin(app: web.Application, sio: Any, bridge: Bridge, config: Config,
              plugins: list[Any]) -> Admin:
    """--admin on ``app``: the protocol on /admin, the page at /admin/ (admin_ui.py)."""
    for plugin in plugins:
        if plugin.path == ADMIN:
            raise PluginError(plugin.origin, f"serves {ADMIN}, the namespace of the Admin UI "
                              "(--admin); give it another path or run without --admin")
    admin = Admin(sio, bridge, config)
    admin.install()
    admin_ui.add_routes(app, bridge.or_page)
    app.cleanup_ctx.append(admin.running)
    if config.admin_no_auth:
        log.warning("Admin UI at /admin/ without a login (--admin-no-auth): anyone who reaches "
                    "this server sees every client%s", "" if config.admin_readonly
                    else " and can disconnect them")
    else:
        log.info("Admin UI at /admin/ (user %r%s)", config.admin_user,
                 ", read-only" if config.admin_readonly else "")
    return admin


def _path(namespace: Any) -> bool:
    return isinstance(namespace, str) and namespace.startswith("/")


def _counting(inner: Any, events: report.EventBuffer, kind: str) -> Any:
    # a coroutine function, as python-engineio's own server requires of its handlers
    async def counted(eio_sid: str, *args: Any) -> Any:
        events.push(kind, str(args[0]) if kind == "rawDisconnection" and args else None)
        return await inner(eio_sid, *args)

    return counted

