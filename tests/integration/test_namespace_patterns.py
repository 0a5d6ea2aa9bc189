"""Catch-all and pattern namespaces and their connect hooks (tests/plugins/dynamic), with the
npm socket.io-client, python-socketio's AsyncClient, the bridge and the publish API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

from tests.conftest import TEST_PLUGINS, UNIT, ServerFactory, run_node
from tests.integration.conftest import TRANSPORTS, Inbox

DYNAMIC = TEST_PLUGINS / "dynamic"
TOKEN = "t0ken"


@pytest.fixture
async def url(start_server: ServerFactory) -> str:
    """A server with only tests/plugins/dynamic: '*', /rooms/<id>, /files/<path:rest>, a regex."""
    return await start_server(plugins_dirs=(DYNAMIC,), builtins=False, api_token=TOKEN)


def node(url: str, scenario: str, transport: str = "websocket", **fields: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"scenario": scenario, "url": url, **fields}
    if TRANSPORTS[transport] is not None:
        options["transports"] = TRANSPORTS[transport]
    return options


@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
async def test_catch_all_handlers_get_the_concrete_namespace(url: str, transport: str) -> None:
    """'*' serves /dyn-abc: on_connect, an event and its ack all see "/dyn-abc" first, as stock does."""
    got = await run_node("namespaces.mjs", node(url, "where", transport, namespace="/dyn-abc",
                                                auth={"a": 1}, args=[1, "two"]))
    assert got == {"welcome": {"namespace": "/dyn-abc", "auth": {"a": 1}},
                   "where": {"namespace": "/dyn-abc", "args": [1, "two"], "rooms": ["everyone"]},
                   "transport": "polling" if transport == "polling" else "websocket"}


@pytest.mark.parametrize("parser", ["json", "msgpack"])
async def test_rooms_and_emits_are_per_concrete_namespace(url: str, parser: str) -> None:
    """A broadcast to room "everyone" of /dyn-a reaches /dyn-a's members, not /dyn-a-2's or /dyn-b's."""
    got = await run_node("namespaces.mjs", node(url, "apart", parser=parser))
    shout_a = {"namespace": "/dyn-a", "text": "hello a"}
    assert got == {"acked": "sent", "got": shout_a, "a1": [shout_a], "a2": [], "other": [shout_a],
                   "b": [{"namespace": "/dyn-b", "text": "hello b"}], "shared": True,
                   "apartFromOther": True}


async def test_catch_all_disconnect_gets_namespace_sid_and_reason(url: str, py_client: Any) -> None:
    """AsyncClient leaving /dyn-x: on_disconnect(namespace, sid, "transport close"), as stock calls it."""
    client, observer = py_client(), py_client()
    await client.connect(url, namespaces=["/dyn-x"], transports=["websocket"], wait_timeout=5 * UNIT)
    await observer.connect(url, namespaces=["/watch"], transports=["websocket"], wait_timeout=5 * UNIT)
    sid = client.get_sid("/dyn-x")
    await client.disconnect()
    left: list[list[Any]] = []
    for _ in range(100):  # the server runs on_disconnect after the client has gone
        left = await observer.call("left", namespace="/watch", timeout=5 * UNIT)
        if left:
            break
        await asyncio.sleep(0.02 * UNIT)
    assert left == [["/dyn-x", sid, "transport close"]]


async def test_pattern_params_and_hook_session_reach_the_handler(url: str) -> None:
    """/rooms/42 is served by /rooms/<id>: params {"id": "42"}, the user a hook saved in the session."""
    got = await run_node("namespaces.mjs", node(url, "who", namespace="/rooms/42", auth={"user": "ann"}))
    assert got == {"who": {"namespace": "/rooms/42", "params": {"id": "42"}, "user": "ann"}}


@pytest.mark.parametrize("namespace,event,expected", [
    ("/rooms/lobby", "who", {"namespace": "exact /rooms/lobby"}),                 # exact wins
    ("/files/a/b/c.txt", "path", {"namespace": "/files/a/b/c.txt", "params": {"rest": "a/b/c.txt"}}),
    ("/v2/feed", "path", {"namespace": "/v2/feed", "params": {"version": "2"}}),  # re.Pattern
    ("/rooms/a/b", "where", {"namespace": "/rooms/a/b", "args": [], "rooms": ["everyone"]}),  # '*'
    ("/rooms/<id>", "who", {"namespace": "/rooms/<id>", "params": {"id": "<id>"}, "user": "ann"}),
])
async def test_which_namespace_object_serves(url: str, namespace: str, event: str,
                                             expected: dict[str, Any]) -> None:
    """Exact first, then patterns in load order (<name> is one segment, <path:name> the rest), then '*'."""
    got = await run_node("namespaces.mjs", node(url, "who", namespace=namespace, event=event,
                                                auth={"user": "ann"}))
    assert got == {"who": expected}


@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("auth,expected", [
    ({}, {"message": "sign in first", "data": {"code": 401, "namespace": "/rooms/locked"}}),
    ({"user": "bob"}, {"message": "room is locked", "data": {"room": "locked", "by": "bob"}}),
])
async def test_connect_hook_refuses_with_data(url: str, transport: str, auth: dict[str, Any],
                                              expected: dict[str, Any]) -> None:
    """The first hook refusing ends the chain; the npm client's connect_error has err.message and err.data."""
    got = await run_node("namespaces.mjs", node(url, "refused", transport, namespace="/rooms/locked",
                                                auth=auth))
    assert got == {**expected, "connected": False}


async def test_connect_hook_returning_false_refuses(url: str) -> None:
    """A hook returning False refuses as on_connect's False does: "Connection rejected by server"."""
    got = await run_node("namespaces.mjs", node(url, "refused", namespace="/rooms/closed",
                                                auth={"user": "ann"}))
    assert got == {"message": "Connection rejected by server", "data": None, "connected": False}


async def test_plain_async_namespace_middlewares_run(url: str) -> None:
    """An exact namespace's plain AsyncNamespace with a middlewares list: its hook refuses (no data)."""
    got = await run_node("namespaces.mjs", node(url, "refused", namespace="/rooms/lobby",
                                                auth={"banned": True}))
    assert got == {"message": "banned from /rooms/lobby", "data": None, "connected": False}


async def test_python_client_sees_the_hook_refusal(url: str, py_client: Any) -> None:
    """python-socketio's AsyncClient gets the hook's message and data in its connect_error handler."""
    client = py_client()
    errors = Inbox(client, "/rooms/9", "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, namespaces=["/rooms/9"], auth={}, wait_timeout=5 * UNIT)
    assert await errors.get("connect_error") == {"message": "sign in first",
                                                 "data": {"code": 401, "namespace": "/rooms/9"}}


async def test_bridge_client_reaches_a_pattern_namespace(url: str) -> None:
    """A plain WebSocket at /rooms/7?user=cy passes the hooks (auth from the query) and gets params."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url.replace("http", "ws") + "/rooms/7?user=cy") as ws:
            await ws.send_json({"event": "who", "id": 1})
            reply = await asyncio.wait_for(ws.receive_json(), 5 * UNIT)
        async with http.ws_connect(url.replace("http", "ws") + "/rooms/7") as refused:
            closed = await asyncio.wait_for(refused.receive(), 5 * UNIT)
    assert reply == {"ack": 1, "data": [{"namespace": "/rooms/7", "params": {"id": "7"}, "user": "cy"}]}
    assert (closed.type, closed.data, closed.extra) == (aiohttp.WSMsgType.CLOSE, 4403, "sign in first")


async def test_publish_api_emits_to_a_pattern_namespace(url: str, py_client: Any) -> None:
    """POST /api/v1/emit takes a namespace a pattern serves, and its members get the event."""
    client = py_client()
    inbox = Inbox(client, "/rooms/5", "news")
    await client.connect(url, namespaces=["/rooms/5"], auth={"user": "di"}, wait_timeout=5 * UNIT)
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/api/v1/emit", headers={"Authorization": f"Bearer {TOKEN}"},
                             json={"namespace": "/rooms/5", "event": "news", "data": ["hi"]}) as resp:
            assert resp.status == 202, await resp.text()
    assert await inbox.get("news") == "hi"
