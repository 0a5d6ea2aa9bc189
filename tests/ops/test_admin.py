"""--admin, the Socket.IO Admin UI's protocol on /admin, driven as the UI drives it: a
python-socketio AsyncClient logs in with ``auth`` and gets the exact payloads
@socket.io/admin-ui 0.5.1's server sends (lib/index.ts), for real clients of every kind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from openline.app import SIO_KEY, create_app
from openline.config import Config
from openline.errors import ConfigError, OpenlineError, PluginError
from openline.ops import admin_ui

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
async def node() -> AsyncIterator[Callable[..., Any]]:
    """``url, sio = await node(**config)``: an in-process server with --admin and a password,
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
async def clients() -> AsyncIterator[Callable[..., socketio.AsyncClient]]:
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


async def test_login_gets_session_config_sockets_and_stats(node: Any, clients: Any) -> None:
    """A login is answered with session, config (every feature), all_sockets and server_stats."""
    url, sio = await node()
    ann = clients()
    await ann.connect(url + "/?tag=ann", namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["polling"], headers={"Cookie": "id=1", "X-Probe": "yes"})
    admin = await log_in(clients, url)
    session, = await admin.wait("session")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", session)
    assert await admin.wait("config") == [{"supportedFeatures": [*COMMANDS, "AGGREGATED_EVENTS",
                                                                 "ALL_EVENTS"]}]
    listed, = await admin.wait("all_sockets")
    sid = ann.get_sid("/chat")
    assert listed == [expected_socket(ann, "/chat", "polling", [sid, "lobby"], listed[0])]
    headers, query = listed[0]["handshake"]["headers"], listed[0]["handshake"]["query"]
    assert (headers["cookie"], headers["x-probe"]) == ("(hidden)", "yes")
    assert (query["tag"], query["EIO"], query["transport"]) == ("ann", "4", "polling")
    assert listed[0]["handshake"]["url"].startswith("/socket.io/?tag=ann&transport=polling&EIO=4")
    stats, = await admin.wait("server_stats")
    assert stats == {
        "serverId": server_id(sio), "hostname": stats["hostname"], "pid": stats["pid"],
        "uptime": stats["uptime"], "clientsCount": 2, "pollingClientsCount": 1,
        "aggregatedEvents": stats["aggregatedEvents"],
        "namespaces": [{"name": "/", "socketsCount": 0}, {"name": "/admin", "socketsCount": 0},
                       {"name": "/chat", "socketsCount": 1}]}
    raw = [e for e in stats["aggregatedEvents"] if e["type"] == "rawConnection"]
    assert [(e["count"], e["timestamp"] % 1000) for e in raw] in ([(2, 0)], [(1, 0), (1, 0)])


def server_id(sio: Any) -> str:
    """The node's id, as the stats carry it: <hostname>#<pid>, #<n> for a process's n-th app."""
    found = str(sio.namespace_handlers["/admin"].admin.server_id)
    assert re.fullmatch(re.escape(f"{socket.gethostname()}#{os.getpid()}") + r"(#\d+)?", found)
    return found


async def test_the_session_id_logs_in_again_without_a_password(node: Any, clients: Any) -> None:
    """The id a login got admits the next connection on its own, which gets no new session."""
    url, _ = await node()
    first = await log_in(clients, url)
    session, = await first.wait("session")
    again = await log_in(clients, url, auth={"sessionId": session})
    await again.wait("config")
    assert again.named("session") == []


async def refusal(clients: Callable[..., socketio.AsyncClient], url: str, auth: Any) -> Any:
    """The CONNECT_ERROR data a login with ``auth`` gets (the UI shows its message)."""
    client = clients()
    refused: list[Any] = []
    client.on("connect_error", refused.append, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"])
    return refused[0]


async def test_wrong_credentials_are_refused_then_the_address_waits(node: Any, clients: Any) -> None:
    """A wrong password gets "invalid credentials"; past --api-max-failures a minute, even the
    right one waits; a made-up session id or no auth at all is refused alike (not counted)."""
    url, _ = await node(api_max_failures=2)
    assert await refusal(clients, url, {"sessionId": "made-up"}) == {"message": "invalid credentials"}
    assert await refusal(clients, url, None) == {"message": "invalid credentials"}
    for auth in ({"username": "admin", "password": "nope"}, {"username": "root", "password": PASSWORD}):
        assert await refusal(clients, url, auth) == {"message": "invalid credentials"}
    waiting = await refusal(clients, url, LOGIN)
    assert re.fullmatch(r"too many failed logins; retry in (59|60)s", waiting["message"]), waiting


async def test_every_kind_of_client_is_reported_from_connect_to_disconnect(node: Any, clients: Any) -> None:
    """JSON over polling, msgpack over WebSocket and a plain WebSocket client: connected
    (rooms), events both ways, disconnected, rooms left, in the admin-ui server's order."""
    url, _ = await node()
    admin = await log_in(clients, url)
    await admin.wait("all_sockets")
    ann = clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["polling"])
    mia = clients(serializer="msgpack")
    await mia.connect(url, namespaces=["/chat"], auth={"nickname": "mia", "room": "lobby"},
                      transports=["websocket"])
    async with aiohttp.ClientSession() as http:
        bob_ws = await http.ws_connect(url.replace("http", "ws") + "/chat?nickname=bob&room=lobby")
        bob = (await admin.wait("socket_connected", lambda a: a[0]["transport"] == "websocket-bridge"))[0]
        ann_sid, mia_sid = ann.get_sid("/chat"), mia.get_sid("/chat")
        assert await ann.call("message", "hi all", namespace="/chat") == [
            {"room": "lobby", "nickname": "ann", "text": "hi all", "ts": ANY_TS}]
        await admin.wait("event_sent", lambda a: a[1] == bob["id"] and a[2][0] == "message")
        await bob_ws.close()
        await admin.wait("room_left", lambda a: a[2] == a[1] == bob["id"])
    await mia.eio.disconnect(abort=True)  # its connection drops: no DISCONNECT packet
    await admin.wait("room_left", lambda a: a[2] == mia_sid and a[1] == mia_sid)

    def presence(nickname: str, action: str) -> tuple[str, list[Any]]:
        return ("event_sent", ["/chat", ["presence", {"room": "lobby", "nickname": nickname,
                                                      "action": action}], "T"])

    message = ("event_sent", ["/chat", ["message", {"room": "lobby", "nickname": "ann",
                                                     "text": "hi all", "ts": ANY_TS}], "T"])
    def left(reason: str) -> list[tuple[str, list[Any]]]:
        return [("socket_disconnected", ["/chat", reason, "T"]), ("room_left", ["/chat", "lobby", "T"])]

    assert admin.about(ann_sid) == [
        *joined_for(ann_sid), ("socket_connected", [[ann_sid, "lobby"], "T"]),
        presence("mia", "join"), presence("bob", "join"),
        ("event_received", ["/chat", ["message", "hi all"], "T"]),
        presence("bob", "leave"), presence("mia", "leave")]
    assert admin.about(mia_sid) == [
        *joined_for(mia_sid), ("socket_connected", [[mia_sid, "lobby"], "T"]),
        presence("bob", "join"), message, presence("bob", "leave"),
        *left("transport close"), ("room_left", ["/chat", mia_sid, "T"])]
    assert admin.about(bob["id"]) == [
        *joined_for(bob["id"]), ("socket_connected", [[bob["id"], "lobby"], "T"]), message,
        *left("client disconnect"), ("room_left", ["/chat", bob["id"], "T"])]
    assert bob["handshake"]["query"] == {} and bob["handshake"]["url"] == "/chat"  # its auth
    assert [s["transport"] for s in (socket_of(admin, ann_sid), socket_of(admin, mia_sid))] == [
        "polling", "websocket"]


def joined_for(sid: str) -> list[tuple[str, list[Any]]]:
    """A /chat socket with auth room "lobby": its own room (at CONNECT), then lobby (on_connect)."""
    return [("room_joined", ["/chat", sid, "T"]), ("room_joined", ["/chat", "lobby", "T"])]


def socket_of(admin: Watcher, sid: str) -> dict[str, Any]:
    return next(args[0] for args in admin.named("socket_connected") if args[0]["id"] == sid)


async def test_the_upgrade_to_websocket_is_reported(node: Any, clients: Any) -> None:
    """A socket connected over long-polling that upgrades gets socket_updated with "websocket"."""
    url, _ = await node()
    admin = await log_in(clients, url)
    await admin.wait("all_sockets")
    async with aiohttp.ClientSession() as http:
        engine = f"{url}/socket.io/?EIO=4&transport=polling"
        async with http.get(engine) as opened:
            eio_sid = json.loads((await opened.text())[1:])["sid"]
        async with http.post(f"{engine}&sid={eio_sid}", data='40/chat,{"nickname":"cy"}') as posted:
            assert await posted.text() == "ok"
        async with http.get(f"{engine}&sid={eio_sid}") as acked:
            sid = json.loads((await acked.text()).split(",", 1)[1])["sid"]
        connected = await admin.wait("socket_connected", lambda a: a[0]["id"] == sid)
        assert (connected[0]["transport"], connected[0]["clientId"]) == ("polling", eio_sid[:12])
        ws = await http.ws_connect(f"{url.replace('http', 'ws')}/socket.io/?EIO=4"
                                   f"&transport=websocket&sid={eio_sid}")
        await ws.send_str("2probe")
        assert (await ws.receive_str()) == "3probe"
        await ws.send_str("5")
        assert await admin.wait("socket_updated", lambda a: a[0]["id"] == sid) == [
            {"id": sid, "nsp": "/chat", "transport": "websocket"}]
        await ws.close()


async def test_commands_join_leave_emit_and_disconnect(node: Any, clients: Any) -> None:
    """The UI's join, leave and emit reach the chosen sockets; _disconnect kicks a socket
    (server disconnect) or, with close, its whole client, every namespace of it."""
    url, sio = await node()
    admin = await log_in(clients, url)
    await admin.wait("all_sockets")
    ann, bob = clients(), clients()
    got: list[Any] = []
    ann.on("news", lambda *args: got.append(args), namespace="/chat")
    await ann.connect(url, namespaces=["/", "/chat"], auth={"nickname": "ann"}, transports=["websocket"])
    await bob.connect(url, namespaces=["/chat"], auth={"nickname": "bob", "room": "lobby"},
                      transports=["websocket"])
    ann_sid, bob_sid = ann.get_sid("/chat"), bob.get_sid("/chat")
    rooms = sio.manager.get_rooms

    await admin.client.emit("join", ("/chat", "vip", ann_sid), namespace="/admin")  # one socket
    await admin.wait("room_joined", lambda a: a[1] == "vip")
    assert (rooms(ann_sid, "/chat"), rooms(bob_sid, "/chat")) == ([ann_sid, "vip"], [bob_sid, "lobby"])
    await admin.client.emit("join", ("/chat", "all"), namespace="/admin")  # the namespace
    await admin.wait("room_joined", lambda a: a[1] == "all" and a[2] == bob_sid)
    await admin.client.emit("leave", ("/chat", "all", "lobby"), namespace="/admin")  # a room's
    await admin.wait("room_left", lambda a: a[1] == "all")
    assert (rooms(ann_sid, "/chat"), rooms(bob_sid, "/chat")) == (
        [ann_sid, "vip", "all"], [bob_sid, "lobby"])
    await admin.client.emit("emit", ("/chat", "vip", "news", 1, {"two": 2}), namespace="/admin")
    await admin.wait("event_sent", lambda a: a[2][0] == "news")
    assert got == [(1, {"two": 2})]

    await admin.client.emit("_disconnect", ("/chat", False, bob_sid), namespace="/admin")
    assert await admin.wait("socket_disconnected", lambda a: a[1] == bob_sid) == [
        "/chat", bob_sid, "server disconnect", ANY_STAMP]
    root_sid = ann.get_sid("/")
    await admin.client.emit("_disconnect", ("/chat", True, ann_sid), namespace="/admin")
    for namespace, sid in (("/", root_sid), ("/chat", ann_sid)):
        assert await admin.wait("socket_disconnected", lambda a, s=sid: a[1] == s) == [
            namespace, sid, "server disconnect", ANY_STAMP]
    await admin.wait("server_stats", lambda a: a[0]["clientsCount"] == 1)  # the UI's only
    assert sio.eio.sessions.keys() == {admin.client.eio.sid}


async def test_readonly_offers_no_command_and_refuses_them(node: Any, clients: Any) -> None:
    """--admin-readonly: config lists no command, and a join or disconnect sent anyway does nothing."""
    url, sio = await node(admin_readonly=True)
    admin = await log_in(clients, url)
    assert await admin.wait("config") == [{"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}]
    ann = clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann"}, transports=["websocket"])
    sid = ann.get_sid("/chat")
    await admin.client.emit("join", ("/chat", "vip"), namespace="/admin")
    await admin.client.emit("_disconnect", ("/chat", True), namespace="/admin")
    assert await admin.client.call("not-a-command", namespace="/admin", timeout=5 * UNIT) is None
    assert sio.manager.get_rooms(sid, "/chat") == [sid] and ann.connected


async def test_production_mode_sends_stats_only(node: Any, clients: Any) -> None:
    """--admin-mode production: config without ALL_EVENTS, no all_sockets, nothing per socket,
    server_stats all the same."""
    url, _ = await node(admin_mode="production")
    admin = await log_in(clients, url)
    assert await admin.wait("config") == [{"supportedFeatures": [*COMMANDS, "AGGREGATED_EVENTS"]}]
    ann = clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["websocket"])
    await ann.call("message", "hi", namespace="/chat")
    stats, = await admin.wait("server_stats", lambda a: a[0]["clientsCount"] == 2, timeout=10)
    assert stats["namespaces"][2] == {"name": "/chat", "socketsCount": 1}
    assert [name for name, _ in admin.seen if name != "server_stats"] == ["session", "config"]


async def test_no_login_needs_its_own_flag_and_admin_off_serves_nothing(node: Any, clients: Any) -> None:
    """--admin without a password does not start; --admin-no-auth admits anyone; without
    --admin there is no /admin namespace and no page."""
    with pytest.raises(ConfigError, match="^--admin: expected --admin-password"):
        Config(admin=True).check()
    with pytest.raises(ConfigError, match="^--admin-no-auth: expected no --admin-password"):
        Config(admin=True, admin_no_auth=True, admin_password="x").check()
    url, _ = await node(admin_password=None, admin_no_auth=True)
    admin = await log_in(clients, url, auth=None)
    await admin.wait("all_sockets")
    assert admin.named("session") == []
    plain, _ = await node(admin=False, admin_password=None)
    refused = clients()
    errors: list[Any] = []
    refused.on("connect_error", errors.append, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(plain, namespaces=["/admin"], transports=["websocket"])
    assert errors == [{"message": "Invalid namespace"}]
    async with aiohttp.ClientSession() as http, http.get(plain + "/admin/") as page:
        assert page.status == 404


async def test_a_plugin_cannot_take_the_admin_namespace(tmp_path: Any) -> None:
    """A plugin serving /admin refuses start-up with --admin, naming the plugin's file."""
    (tmp_path / "mine.py").write_text(
        "import socketio\nnamespace = socketio.AsyncNamespace('/admin')\n")
    with pytest.raises(PluginError, match=r"mine\.py: serves /admin, the namespace of the Admin UI"):
        create_app(Config(plugins_dirs=(tmp_path,), admin=True, admin_password=PASSWORD))


async def test_instrument_fails_with_one_clear_line(node: Any, clients: Any) -> None:
    """python-socketio's sio.instrument() raises OpenlineError naming --admin, and sockets
    still connect and disconnect (their on_disconnect runs) afterwards."""
    url, sio = await node(admin=False, admin_password=None)
    with pytest.raises(OpenlineError) as raised:
        sio.instrument(auth={"username": "admin", "password": "x"})
    assert str(raised.value) == (
        "sio.instrument() is not available in openline: the Socket.IO Admin UI is served by "
        "`openline run --admin` (with --admin-user/--admin-password), at /admin/ and on the "
        "/admin namespace; remove the instrument() call")
    ann, bob = clients(), clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"})
    presence: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("presence", presence.put_nowait, namespace="/chat")
    await bob.connect(url, namespaces=["/chat"], auth={"nickname": "bob", "room": "lobby"})
    await ann.disconnect()
    assert await asyncio.wait_for(presence.get(), 5 * UNIT) == {  # ann's on_disconnect ran
        "room": "lobby", "nickname": "ann", "action": "leave"}


async def test_the_page_is_served_from_client_demo(node: Any, monkeypatch: Any, tmp_path: Any) -> None:
    """/admin/ is the admin-ui package's page with the icon font served here; its files are
    served, nothing outside them; not installed, /admin/ says how to install it."""
    url, _ = await node()
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/admin", allow_redirects=False) as moved:
            assert (moved.status, moved.headers["Location"]) == (308, "/admin/")
        async with http.get(url + "/admin/") as page:
            text = await page.text()
            assert (page.status, page.headers["X-Frame-Options"]) == (200, "DENY")
            assert "<title>Socket.IO Admin UI</title>" in text
            assert 'href="mdi/css/materialdesignicons.min.css"' in text
            assert "https://" not in text
        script = re.search(r'src="(js/app\.[0-9a-f]+\.js)"', text)
        assert script is not None
        async with http.get(f"{url}/admin/{script.group(1)}") as app_js:
            assert (app_js.status, app_js.content_type) == (200, "text/javascript")
        async with http.get(url + "/admin/mdi/fonts/materialdesignicons-webfont.woff2") as font:
            assert (font.status, font.content_type) == (200, "font/woff2")
        for outside in ("/admin/mdi/package.json", "/admin/..%2F..%2Fpackage.json",
                        "/admin/%2e%2e/index.html"):
            async with http.get(url + outside) as refused:
                assert refused.status == 404, outside
        monkeypatch.setattr(admin_ui, "UI_DIST", tmp_path / "missing")
        async with http.get(url + "/admin/") as missing:
            assert (missing.status, await missing.text()) == (404, admin_ui.NOT_INSTALLED)


async def test_server_stats_count_messages_and_sessions(node: Any, clients: Any) -> None:
    """aggregatedEvents: rawConnection, the Engine.IO messages and bytes that came in (the
    packet type left out, as Node counts), rawDisconnection by reason, bytesOut as sent."""
    url, _ = await node()
    admin = await log_in(clients, url)
    await admin.wait("server_stats")  # what came before (the UI's own login) is counted there
    connect, event = '40/chat,{"nickname":"cy"}', '42/chat,["typing",{"room":"nowhere"}]'
    async with aiohttp.ClientSession() as http:
        engine = f"{url}/socket.io/?EIO=4&transport=polling"
        async with http.get(engine) as opened:
            eio_sid = json.loads((await opened.text())[1:])["sid"]
        for packet in (connect, event):
            async with http.post(f"{engine}&sid={eio_sid}", data=packet) as posted:
                assert await posted.text() == "ok"
        async with http.post(f"{engine}&sid={eio_sid}", data="1") as closed:  # Engine.IO close
            assert await closed.text() == "ok"
    totals: dict[tuple[str, str | None], int] = {}

    def counted(args: list[Any]) -> bool:
        if args is admin.named("server_stats")[0]:
            return False
        for each in args[0]["aggregatedEvents"]:
            key = (each["type"], each.get("subType"))
            totals[key] = totals.get(key, 0) + each["count"]
        return ("rawDisconnection", "client disconnect") in totals

    await admin.wait("server_stats", counted, timeout=10)
    sent = totals.pop(("bytesOut", None))
    assert sent > len("0{}")
    assert totals == {("rawConnection", None): 1, ("packetsIn", None): 2,
                      ("bytesIn", None): len(connect) - 1 + len(event) - 1,
                      ("rawDisconnection", "client disconnect"): 1}


def test_the_command_refuses_admin_without_a_password(capsys: Any, monkeypatch: Any) -> None:
    """`openline run --admin` with no password (flag or OPENLINE_ADMIN_PASSWORD) exits 2 with
    one line saying what to add."""
    from openline import cli

    monkeypatch.delenv("OPENLINE_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("OPENLINE_ADMIN_NO_AUTH", raising=False)
    assert cli.main(["run", "--port", "0", "--admin"]) == 2
    assert capsys.readouterr().err == (
        "openline: error: --admin: expected --admin-password (or OPENLINE_ADMIN_PASSWORD) to log "
        "in with, or --admin-no-auth for a UI without a login, got 'no password'\n")
