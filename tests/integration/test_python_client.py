"""python-socketio's AsyncClient (JSON and msgpack serializers) against a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio

from tests.conftest import UNIT, run_node
from tests.integration.conftest import TRANSPORTS, Inbox

SERIALIZERS = ("default", "msgpack")
clients = pytest.mark.parametrize(
    "transport,serializer", [(t, s) for t in TRANSPORTS for s in SERIALIZERS])


async def connect(py_client: Any, url: str, namespace: str = "/test", *events: str,
                  transport: str = "upgrade", serializer: str = "default", auth: Any = None,
                  **kwargs: Any) -> tuple[socketio.AsyncClient, Inbox]:
    client = py_client(serializer=serializer, **kwargs)
    inbox = Inbox(client, namespace, "connect", "welcome", *events)
    await client.connect(url, namespaces=[namespace], auth=auth,
                         transports=TRANSPORTS[transport], wait_timeout=5 * UNIT)
    return client, inbox


@clients
async def test_auth_and_connect_emit_order(server_url, py_client, transport, serializer):
    """auth reaches on_connect; its emit arrives after the client's connect event."""
    client, inbox = await connect(py_client, server_url, transport=transport,
                                  serializer=serializer, auth={"user": "ann", "n": 2})
    assert await inbox.get("welcome") == {"auth": {"user": "ann", "n": 2}, "addr": "127.0.0.1"}
    assert inbox.log == ["connect", "welcome"]
    assert client.transport() == ("polling" if transport == "polling" else "websocket")


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_refusal_and_unknown_namespace(server_url, py_client, serializer):
    """Refusal reasons and "Invalid namespace" reach the python client's connect_error."""
    for namespace, auth, message in [("/test", {"refuse": "no entry"}, "no entry"),
                                     ("/missing", None, "Invalid namespace")]:
        client = py_client(serializer=serializer)
        inbox = Inbox(client, namespace, "connect_error")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server_url, namespaces=[namespace], auth=auth,
                                 wait_timeout=5 * UNIT)
        assert await inbox.get("connect_error") == {"message": message}


@clients
async def test_message_echo_and_acks(server_url, py_client, transport, serializer):
    """send() comes back as message; echo acks several arguments, bytes and None included."""
    client, inbox = await connect(py_client, server_url, "/", "message",
                                  transport=transport, serializer=serializer)
    await client.send({"text": "hi", "list": [1, None]})
    assert await inbox.get("message") == {"text": "hi", "list": [1, None]}
    acked = await client.call("echo", (1, "two", b"\x00\xff", None, {"k": [True]}),
                              timeout=5 * UNIT)
    assert acked == (1, "two", b"\x00\xff", None, {"k": [True]})


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_binary_arrives_as_bytes(server_url, py_client, serializer):
    """bytes sent by the python client reach the handler as bytes, nested ones too."""
    client, _ = await connect(py_client, server_url, serializer=serializer)
    types = await client.call("types", (b"ab", bytearray(b"cd"), {"x": b"e"}, None),
                              namespace="/test", timeout=5 * UNIT)
    assert types == ["bytes", "bytes", "dict", "NoneType"]
    back = await client.call("binary", ({"x": b"e"},), namespace="/test", timeout=5 * UNIT)
    assert back == {"x": b"e"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_errors_and_connection_survives(server_url, py_client, serializer):
    """crash → internal server error (secret withheld); EventError → its text; still usable."""
    client, inbox = await connect(py_client, server_url, "/test", "error", serializer=serializer)
    await client.emit("crash", namespace="/test")
    assert await inbox.get("error") == {"message": "internal server error"}
    await client.emit("fail", "bad input: 7", namespace="/test")
    assert await inbox.get("error") == {"message": "bad input: 7"}
    assert await client.call("echo", "ok", namespace="/test", timeout=5 * UNIT) == "ok"


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_unencodable_ack_is_an_internal_error(server_url, py_client, serializer):
    """A handler return value the parser cannot encode → internal server error; still usable."""
    client, inbox = await connect(py_client, server_url, "/test", "error", serializer=serializer)
    await client.emit("unencodable", namespace="/test", callback=lambda *a: None)
    assert await inbox.get("error") == {"message": "internal server error"}
    assert await client.call("echo", "ok", namespace="/test", timeout=5 * UNIT) == "ok"


async def test_on_error_shapes_reply_for_python_client(server_url, py_client):
    """on_error's reply reaches the client; None, a failure or an unsendable one: the default."""
    client, inbox = await connect(py_client, server_url, "/shaped", "error")
    await client.emit("fail", "why", namespace="/shaped")
    assert await inbox.get("error") == {"code": "E_FAIL", "kind": "EventError", "public": "why"}
    await client.emit("odd", namespace="/shaped")  # on_error returns what cannot be encoded
    assert await inbox.get("error") == {"message": "internal server error"}
    await client.emit("explode", namespace="/shaped")  # on_error raises: the default reply
    assert await inbox.get("error") == {"message": "the default text"}
    await client.emit("plain", namespace="/shaped")  # on_error returns None: the default reply
    assert await inbox.get("error") == {"message": "internal server error"}
    assert await client.call("check", namespace="/shaped", timeout=5 * UNIT) == "ok"


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_kick_disconnects_python_client(server_url, py_client, serializer):
    """The server's disconnect(sid) ends the namespace with reason "server disconnect"."""
    client, inbox = await connect(py_client, server_url, "/test", "disconnect",
                                  serializer=serializer)
    await client.emit("kick", namespace="/test")
    assert await inbox.get("disconnect") == client.reason.SERVER_DISCONNECT


async def test_server_call_gets_python_client_ack(server_url, py_client):
    """The server's call() returns what the python client's handler returns."""
    client, _ = await connect(py_client, server_url)
    client.on("ask", lambda data: {"got": data, "from": "py"}, namespace="/test")
    result = await client.call("call_client", ("ask", [1, b"\x01"], 5), namespace="/test",
                               timeout=5 * UNIT)
    assert result == {"result": {"got": [1, b"\x01"], "from": "py"}}


async def test_json_and_msgpack_clients_of_both_kinds_share_a_room(server_url, py_client):
    """Python JSON and msgpack clients get the broadcast a Node client sends to their room."""
    inboxes = []
    for serializer in SERIALIZERS:
        client, inbox = await connect(py_client, server_url, "/test", "broadcast",
                                      serializer=serializer)
        assert await client.call("join", "shared", namespace="/test", timeout=5 * UNIT) == "shared"
        inboxes.append(inbox)
    result = await run_node("scenario.mjs", {
        "url": server_url, "scenario": "room", "namespace": "/test", "room": "shared",
        "parsers": ["msgpack", "json"], "payload": {"from": "node", "n": [1, 2]}})
    assert result["received"] == [{"from": "node", "n": [1, 2]}]
    for inbox in inboxes:
        assert await inbox.get("broadcast") == {"from": "node", "n": [1, 2]}


async def test_python_broadcast_skips_sender(server_url, py_client):
    """A python client's room broadcast reaches the other members but not itself."""
    members = [await connect(py_client, server_url, "/test", "broadcast", serializer=s)
               for s in ("default", "msgpack", "default")]
    for client, _ in members:
        await client.call("join", "r", namespace="/test", timeout=5 * UNIT)
    sender, sender_inbox = members[0]
    assert await sender.call("broadcast", ("r", [b"\x02", "x"]), namespace="/test",
                             timeout=5 * UNIT) == "sent"
    for _, inbox in members[1:]:
        assert await inbox.get("broadcast") == [b"\x02", "x"]
    # the server writes to one client in order: a broadcast to the sender precedes this ack
    await sender.call("echo", "sync", namespace="/test", timeout=5 * UNIT)
    assert sender_inbox.empty("broadcast")


async def _whoami(py_client: Any, url: str, source: str, headers: dict[str, str],
                  transport: str = "upgrade") -> str:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    try:
        client = py_client(http_session=session)
        await client.connect(url, namespaces=["/test"], headers=headers, wait_timeout=5 * UNIT,
                             transports=TRANSPORTS[transport])
        address = await client.call("whoami", namespace="/test", timeout=5 * UNIT)
        await client.disconnect()
        return address
    finally:
        await session.close()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_remote_addr_is_the_peer_address(server_url, py_client, transport):
    """environ REMOTE_ADDR is the socket's peer (127.0.0.2 here), not a hard-coded 127.0.0.1."""
    assert await _whoami(py_client, server_url, "127.0.0.2", {}, transport) == "127.0.0.2"


async def test_forwarded_for_only_from_trusted_proxies(start_server, py_client):
    """X-Forwarded-For names the client only when the peer is a trusted proxy."""
    import ipaddress

    xff = {"X-Forwarded-For": "198.51.100.9, 127.0.0.3"}
    trusting = await start_server(trusted_proxies=(ipaddress.ip_network("127.0.0.2/31"),
                                                   ipaddress.ip_network("127.0.0.3/32")))
    assert await _whoami(py_client, trusting, "127.0.0.2", xff) == "198.51.100.9"
    assert await _whoami(py_client, trusting, "127.0.0.2", xff, "websocket") == "198.51.100.9"
    assert await _whoami(py_client, trusting, "127.0.0.5", xff) == "127.0.0.5"
    plain = await start_server()
    assert await _whoami(py_client, plain, "127.0.0.2", xff) == "127.0.0.2"


async def test_one_clients_events_run_in_order(server_url, py_client):
    """A client's events are handled in the order sent, even when an earlier one is slower."""
    client, _ = await connect(py_client, server_url)
    for tag, delay in [("a", 0.15), ("b", 0), ("c", 0.05), ("d", 0)]:
        await client.emit("slow", (tag, delay), namespace="/test")
    assert await client.call("order", namespace="/test", timeout=5 * UNIT) == ["a", "b", "c", "d"]


async def test_handler_overlap_lets_a_clients_next_event_pass_a_waiting_one(start_server, py_client):
    """--handler-overlap 2: the same client's echo is answered while its earlier handler waits."""
    client, _ = await connect(py_client, await start_server(handler_overlap=2))
    pending = asyncio.ensure_future(client.call("block", "overlap", namespace="/test",
                                                timeout=10 * UNIT))
    assert await client.call("echo", "passes", namespace="/test", timeout=5 * UNIT) == "passes"
    assert not pending.done()
    assert await client.call("release", "overlap", namespace="/test", timeout=5 * UNIT) is True
    assert await pending == "released"


async def test_clients_do_not_wait_for_each_other(server_url, py_client):
    """A blocked handler of one client does not hold up another client's events."""
    slow, _ = await connect(py_client, server_url)
    fast, _ = await connect(py_client, server_url)
    pending = asyncio.ensure_future(slow.call("block", "gate", namespace="/test",
                                              timeout=10 * UNIT))
    assert await fast.call("echo", "quick", namespace="/test", timeout=5 * UNIT) == "quick"
    assert not pending.done()
    assert await fast.call("release", "gate", namespace="/test", timeout=5 * UNIT) is True
    assert await pending == "released"


async def _members(py_client: Any, url: str, rooms: dict[str, list[str]]) -> dict[str, Any]:
    members = {}
    for name, joined in rooms.items():
        client, inbox = await connect(py_client, url, "/test", "fanout",
                                      serializer="msgpack" if name in ("b", "d") else "default")
        for room in joined:
            await client.call("join", room, namespace="/test", timeout=5 * UNIT)
        members[name] = (client, inbox, client.get_sid("/test"))
    return members


async def test_emit_to_several_rooms_reaches_each_member_once(server_url, py_client):
    """An emit to a list of rooms with a list of skipped sids reaches each other member once."""
    m = await _members(py_client, server_url, {"a": ["r1"], "b": ["r2"], "c": ["r1", "r2"], "d": []})
    a = m["a"][0]
    assert await a.call("fanout", (["r1", "r2"], [m["a"][2]], {"n": 1}), namespace="/test",
                        timeout=5 * UNIT) == "sent"
    assert await a.call("fanout", (None, [m["b"][2], m["c"][2]], {"n": 2}), namespace="/test",
                        timeout=5 * UNIT) == "sent"
    got = {}
    for name, (client, inbox, _) in m.items():
        # each client's writes are ordered: anything addressed to it precedes this ack
        await client.call("echo", "sync", namespace="/test", timeout=5 * UNIT)
        got[name] = []
        while not inbox.empty("fanout"):
            got[name].append(await inbox.get("fanout"))
    assert got == {"a": [{"n": 2}], "b": [{"n": 1}], "c": [{"n": 1}], "d": [{"n": 2}]}


async def test_room_emit_with_callback_gets_each_members_ack(server_url, py_client):
    """An emit to a room with a callback collects one ack from every member."""
    m = await _members(py_client, server_url, {"a": ["g"], "b": ["g"], "c": ["g"], "d": []})
    for name, (client, _, _) in m.items():
        client.on("ask", lambda data, name=name: [name, data["from"] == m["a"][2]], namespace="/test")
    answers = await m["a"][0].call("gather", ("g", 3, 5 * UNIT), namespace="/test", timeout=10 * UNIT)
    assert answers == [["a", True], ["b", True], ["c", True]]


@pytest.mark.parametrize("serializer", SERIALIZERS)
async def test_python_client_on_fixed_serializer_server(start_server, py_client, serializer):
    """A server with --serializer fixed to the client's format serves it over every step."""
    url = await start_server(serializer="json" if serializer == "default" else "msgpack")
    client, inbox = await connect(py_client, url, "/test", "error", serializer=serializer,
                                  auth={"fixed": True})
    assert await inbox.get("welcome") == {"auth": {"fixed": True}, "addr": "127.0.0.1"}
    assert await client.call("binary", (b"\x00", [None]), namespace="/test",
                              timeout=5 * UNIT) == (b"\x00", [None])
    await client.emit("crash", namespace="/test")
    assert await inbox.get("error") == {"message": "internal server error"}


async def test_on_disconnect_gets_the_reason(server_url, py_client):
    """on_disconnect's reason: client disconnect, server disconnect, or transport close."""
    observer, _ = await connect(py_client, server_url)

    async def reason_of(sid: str) -> Any:
        for _ in range(200):  # the disconnect is handled asynchronously on the server
            reason = await observer.call("reason", sid, namespace="/test", timeout=5 * UNIT)
            if reason is not None:
                return reason
            await asyncio.sleep(0.01 * UNIT)
        return None

    kicked, inbox = await connect(py_client, server_url, "/test", "disconnect")
    sid = kicked.get_sid("/test")
    await kicked.emit("kick", namespace="/test")
    await inbox.get("disconnect")
    assert await reason_of(sid) == "server disconnect"

    # python-socketio's client closes its WebSocket without flushing its DISCONNECT, so
    # these two use raw frames: with the DISCONNECT packet, and without it
    for frames, reason in ([("41/test,")], "client disconnect"), ([], "transport close"):
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket")
            await ws.receive_str(timeout=5 * UNIT)
            await ws.send_str("40/test,")
            sid = json.loads((await ws.receive_str(timeout=5 * UNIT))[len("40/test,"):])["sid"]
            for frame in frames:
                await ws.send_str(frame)
            await ws.close()
        assert await reason_of(sid) == reason


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_slow_connect_handler_does_not_cost_a_ping_timeout(start_server, py_client, transport):
    """An on_connect slower than pingInterval+pingTimeout still connects: pongs keep being read."""
    url = await start_server(ping_interval=0.2, ping_timeout=0.2)
    client, inbox = await connect(py_client, url, auth={"delay": 1.0}, transport=transport)
    assert (await inbox.get("welcome"))["auth"] == {"delay": 1.0}
    assert await client.call("echo", "still here", namespace="/test", timeout=5 * UNIT) == "still here"
    assert client.connected


@clients
async def test_handler_own_timeout_cancels_only_the_handler(server_url, py_client, transport, serializer):
    """asyncio.timeout inside a handler times out that handler; the connection stays usable."""
    client, _ = await connect(py_client, server_url, transport=transport, serializer=serializer)
    assert await client.call("deadline", namespace="/test", timeout=5 * UNIT) == "timed out"
    assert await client.call("echo", "after", namespace="/test", timeout=5 * UNIT) == "after"
