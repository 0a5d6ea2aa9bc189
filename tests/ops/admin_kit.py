"""The Admin UI's protocol tests' kit: a server with --admin, python-socketio clients, and
``Watcher``, an Admin UI's connection as the UI makes it (tests/ops/test_admin*.py)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer
from openline.app import SIO_KEY, create_app
from openline.config import Config

from tests.conftest import UNIT

PASSWORD = "s3cret-admin"  # noqa: S105 - a test's own
LOGIN = {"username": "admin", "password": PASSWORD}
COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # a JS Date as JSON


class _AnyTimestamp:
    """Equal to a chat message's ``ts`` (milliseconds), whatever it is."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and other > 0


ANY_TS = _AnyTimestamp()


class _AnyStamp:
    """Equal to any JavaScript Date as JSON (STAMP)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and STAMP.match(other) is not None


ANY_STAMP = _AnyStamp()


class Watcher:
    """An Admin UI's connection: every event it gets, in order, and a wait for the next."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.seen: list[tuple[str, list[Any]]] = []
        self.changed = asyncio.Condition()
        client.on("*", self._got, namespace="/admin")

    async def _got(self, event: str, *args: Any) -> None:
        async with self.changed:
            self.seen.append((event, list(args)))
            self.changed.notify_all()

    async def wait(self, event: str, where: Callable[[list[Any]], bool] = lambda args: True,
                   timeout: float = 5) -> list[Any]:
        """The arguments of the first ``event`` seen (so far or next) that ``where`` takes."""
        async def found() -> list[Any]:
            async with self.changed:
                while True:
                    for name, args in self.seen:
                        if name == event and where(args):
                            return args
                    await self.changed.wait()
        return await asyncio.wait_for(found(), timeout * UNIT)

    def named(self, event: str) -> list[list[Any]]:
        return [args for name, args in self.seen if name == event]

    def about(self, sid: str) -> list[tuple[str, list[Any]]]:
        """The per-socket reports about ``sid``, timestamps replaced by "T"."""
        found = []
        for name, args in self.seen:
            if name == "socket_connected" and args[0]["id"] == sid:
                assert STAMP.match(args[1]), args
                found.append((name, [args[0]["rooms"], "T"]))
            elif name == "socket_updated" and args[0]["id"] == sid:
                found.append((name, args))
            elif name in ("room_joined", "room_left") and args[2] == sid:
                assert STAMP.match(args[3]), args
                found.append((name, [args[0], args[1], "T"]))
            elif name in ("event_received", "event_sent", "socket_disconnected") and args[1] == sid:
                assert STAMP.match(args[3]), args
                found.append((name, [args[0], args[2], "T"]))
        return found


@pytest.fixture
async def admin_node() -> AsyncIterator[Callable[..., Any]]:
    """``url, sio = await admin_node(**config)``: an in-process server with --admin and a password,
    the built-in namespaces only (/ and /chat)."""
    servers: list[TestServer] = []

    async def start(**fields: Any) -> tuple[str, Any]:
        fields = {"plugins_dirs": (), "port": 0, "admin": True,
                  "admin_password": PASSWORD, **fields}
        config = Config(**fields)
        config.check()
        app = create_app(config)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}", app[SIO_KEY]

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def sio_clients() -> AsyncIterator[Callable[..., socketio.AsyncClient]]:
    made: list[socketio.AsyncClient] = []

    def make(**kwargs: Any) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        if client.connected:
            await client.disconnect()


async def log_in(clients: Callable[..., socketio.AsyncClient], url: str,
                 auth: Any = LOGIN, **kwargs: Any) -> Watcher:
    client = clients(**kwargs)
    watcher = Watcher(client)
    await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"])
    return watcher


def expected_socket(client: socketio.AsyncClient, namespace: str, transport: str,
                    rooms: list[str], seen: dict[str, Any]) -> dict[str, Any]:
    """A python-socketio client's socket as the UI gets it (``seen``: the report, for the
    values the client cannot know: its connect time and the headers aiohttp added)."""
    sid = client.get_sid(namespace)
    handshake = seen["handshake"]
    assert STAMP.match(handshake["time"]) and isinstance(handshake["issued"], int)
    return {
        "id": sid, "clientId": client.eio.sid[:12], "transport": transport, "nsp": namespace,
        "data": {},
        "handshake": {
            "address": "127.0.0.1", "headers": handshake["headers"], "query": handshake["query"],
            "issued": handshake["issued"], "secure": False, "time": handshake["time"],
            "url": handshake["url"], "xdomain": False},
        "rooms": rooms,
    }


def server_id(sio: Any) -> str:
    """The node's id, as the stats carry it: <hostname>#<pid>, #<n> for a process's n-th app."""
    found = str(sio.namespace_handlers["/admin"].admin.server_id)
    assert re.fullmatch(re.escape(f"{socket.gethostname()}#{os.getpid()}") + r"(#\d+)?", found)
    return found


async def refusal(clients: Callable[..., socketio.AsyncClient], url: str, auth: Any) -> Any:
    """The CONNECT_ERROR data a login with ``auth`` gets (the UI shows its message)."""
    client = clients()
    refused: list[Any] = []
    client.on("connect_error", refused.append, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"])
    return refused[0]


def joined_for(sid: str) -> list[tuple[str, list[Any]]]:
    """A /chat socket with auth room "lobby": its own room (at CONNECT), then lobby (on_connect)."""
    return [("room_joined", ["/chat", sid, "T"]), ("room_joined", ["/chat", "lobby", "T"])]


def socket_of(admin: Watcher, sid: str) -> dict[str, Any]:
    return next(args[0] for args in admin.named("socket_connected") if args[0]["id"] == sid)
