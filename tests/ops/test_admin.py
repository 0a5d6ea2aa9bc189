"""--admin, the Socket.IO Admin UI's protocol on /admin, driven as the UI drives it: a
python-socketio AsyncClient logs in with ``auth`` and gets the exact payloads
@socket.io/admin-ui 0.5.1's server sends (lib/index.ts), for real clients of every kind."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from tests.ops.admin_kit import (
    ANY_STAMP,
    ANY_TS,
    COMMANDS,
    LOGIN,
    PASSWORD,
    UNIT,
    expected_socket,
    joined_for,
    log_in,
    refusal,
    server_id,
    socket_of,
)


async def test_login_gets_session_config_sockets_and_stats(admin_node: Any, sio_clients: Any) -> None:
    """A login is answered with session, config (every feature), all_sockets and server_stats."""
    url, sio = await admin_node()
    ann = sio_clients()
    await ann.connect(url + "/?tag=ann", namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["polling"], headers={"Cookie": "id=1", "X-Probe": "yes"})
    admin = await log_in(sio_clients, url)
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


async def test_the_session_id_logs_in_again_without_a_password(admin_node: Any, sio_clients: Any) -> None:
    """The id a login got admits the next connection on its own, which gets no new session."""
    url, _ = await admin_node()
    first = await log_in(sio_clients, url)
    session, = await first.wait("session")
    again = await log_in(sio_clients, url, auth={"sessionId": session})
    await again.wait("config")
    assert again.named("session") == []


async def test_wrong_credentials_are_refused_then_the_address_waits(
        admin_node: Any, sio_clients: Any) -> None:
    """A wrong password gets "invalid credentials"; past --api-max-failures a minute, even the
    right one waits; a made-up session id or no auth at all is refused alike (not counted)."""
    url, _ = await admin_node(api_max_failures=2)
    assert await refusal(sio_clients, url, {"sessionId": "made-up"}) == {"message": "invalid credentials"}
    assert await refusal(sio_clients, url, None) == {"message": "invalid credentials"}
    for auth in ({"username": "admin", "password": "nope"}, {"username": "root", "password": PASSWORD}):
        assert await refusal(sio_clients, url, auth) == {"message": "invalid credentials"}
    waiting = await refusal(sio_clients, url, LOGIN)
    assert re.fullmatch(r"too many failed logins; retry in (59|60)s", waiting["message"]), waiting


async def test_every_kind_of_client_is_reported_from_connect_to_disconnect(
        admin_node: Any, sio_clients: Any) -> None:
    """JSON over polling, msgpack over WebSocket and a plain WebSocket client: connected
    (rooms), events both ways, disconnected, rooms left, in the admin-ui server's order."""
    url, _ = await admin_node()
    admin = await log_in(sio_clients, url)
    await admin.wait("all_sockets")
    ann = sio_clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["polling"])
    mia = sio_clients(serializer="msgpack")
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


async def test_the_upgrade_to_websocket_is_reported(admin_node: Any, sio_clients: Any) -> None:
    """A socket connected over long-polling that upgrades gets socket_updated with "websocket"."""
    url, _ = await admin_node()
    admin = await log_in(sio_clients, url)
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


async def test_commands_join_leave_emit_and_disconnect(admin_node: Any, sio_clients: Any) -> None:
    """The UI's join, leave and emit reach the chosen sockets; _disconnect kicks a socket
    (server disconnect) or, with close, its whole client, every namespace of it."""
    url, sio = await admin_node()
    admin = await log_in(sio_clients, url)
    await admin.wait("all_sockets")
    ann, bob = sio_clients(), sio_clients()
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


async def test_readonly_offers_no_command_and_refuses_them(admin_node: Any, sio_clients: Any) -> None:
    """--admin-readonly: config lists no command, and a join or disconnect sent anyway does nothing."""
    url, sio = await admin_node(admin_readonly=True)
    admin = await log_in(sio_clients, url)
    assert await admin.wait("config") == [{"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}]
    ann = sio_clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann"}, transports=["websocket"])
    sid = ann.get_sid("/chat")
    await admin.client.emit("join", ("/chat", "vip"), namespace="/admin")
    await admin.client.emit("_disconnect", ("/chat", True), namespace="/admin")
    assert await admin.client.call("not-a-command", namespace="/admin", timeout=5 * UNIT) is None
    assert sio.manager.get_rooms(sid, "/chat") == [sid] and ann.connected


async def test_production_mode_sends_stats_only(admin_node: Any, sio_clients: Any) -> None:
    """--admin-mode production: config without ALL_EVENTS, no all_sockets, nothing per socket,
    server_stats all the same."""
    url, _ = await admin_node(admin_mode="production")
    admin = await log_in(sio_clients, url)
    assert await admin.wait("config") == [{"supportedFeatures": [*COMMANDS, "AGGREGATED_EVENTS"]}]
    ann = sio_clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                      transports=["websocket"])
    await ann.call("message", "hi", namespace="/chat")
    stats, = await admin.wait("server_stats", lambda a: a[0]["clientsCount"] == 2, timeout=10)
    assert stats["namespaces"][2] == {"name": "/chat", "socketsCount": 1}
    assert [name for name, _ in admin.seen if name != "server_stats"] == ["session", "config"]


async def test_server_stats_count_messages_and_sessions(admin_node: Any, sio_clients: Any) -> None:
    """aggregatedEvents: rawConnection, the Engine.IO messages and bytes that came in (the
    packet type left out, as Node counts), rawDisconnection by reason, bytesOut as sent."""
    url, _ = await admin_node()
    admin = await log_in(sio_clients, url)
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
