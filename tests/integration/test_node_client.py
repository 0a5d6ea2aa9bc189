"""The npm socket.io-client 4.8 (JSON and msgpack parsers) over every transport."""

from __future__ import annotations

import pytest

from tests.conftest import run_node
from tests.integration.conftest import EXPECTED_TRANSPORT, matrix, node_options

pytestmark = pytest.mark.node

BINARY_SENT_BACK = [{"bin": [1, 2, 3]}, {"bin": [4, 5, 6]}, {"bin": [0, 255, 7]}, None,
                    {"nested": {"bin": [104, 105]}}]


@matrix
async def test_auth_reaches_on_connect_and_connect_emit_follows_ack(server_url, transport, parser):
    """auth reaches on_connect, and an emit made inside on_connect arrives after "connect"."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="connect", namespace="/test",
        auth={"token": "t-1", "n": [1, 2]}))
    assert result == {"welcome": {"auth": {"token": "t-1", "n": [1, 2]}, "addr": "127.0.0.1"},
                      "log": ["connect", "welcome"], "id": "string",
                      **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_refusal_reason_is_connect_error_message(server_url, transport, parser):
    """ConnectionRefusedError("reason") in on_connect gives connect_error with that message."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="connect_error", namespace="/test",
        auth={"refuse": "members only, sorry"}))
    assert result == {"message": "members only, sorry", "data": None, "connected": False}


@matrix
async def test_unknown_namespace_is_invalid_namespace(server_url, transport, parser):
    """Connecting to a namespace no plugin serves gives connect_error "Invalid namespace"."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="connect_error", namespace="/nowhere"))
    assert result == {"message": "Invalid namespace", "data": None, "connected": False}


@matrix
async def test_send_is_message_and_echo_acks_all_arguments(server_url, transport, parser):
    """socket.send(x) is the message event "/" sends back; echo acks every argument."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="echo", namespace="/",
        payload={"text": "héllo ☎", "n": [1, 2.5, None, True]},
        args=[1, "two", None, {"three": [3]}, False]))
    assert result == {"message": {"text": "héllo ☎", "n": [1, 2.5, None, True]},
                      "acked": [1, "two", None, {"three": [3]}, False],
                      **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_binary_both_ways(server_url, transport, parser):
    """Buffer, Uint8Array and ArrayBuffer arrive as bytes, undefined as None, and come back."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="binary", namespace="/test"))
    assert result == {"types": ["bytes", "bytes", "bytes", "NoneType", "dict"],
                      "back": BINARY_SENT_BACK, **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_handler_errors_send_error_event_and_connection_survives(server_url, transport, parser):
    """A crash sends {"message": "internal server error"} (no secret), EventError its text."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="errors", namespace="/test",
        events=[["crash"], ["fail", "not allowed: quota"]]))
    assert result == {"errors": {"crash": {"message": "internal server error"},
                                 "fail": {"message": "not allowed: quota"}},
                      "after": "still", "connected": True, **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_on_error_shapes_the_error_event(server_url, transport, parser):
    """A namespace's on_error(sid, event, exc) return value is the error event sent."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="errors", namespace="/shaped",
        events=[["crash"], ["fail", "nope"]], after="check", afterArgs=[]))
    assert result == {"errors": {"crash": {"code": "E_CRASH", "kind": "KeyError", "public": None},
                                 "fail": {"code": "E_FAIL", "kind": "EventError", "public": "nope"}},
                      "after": "ok", "connected": True, **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_server_kick_is_not_reconnected(server_url, transport, parser):
    """A server disconnect is "io server disconnect" and a reconnecting client stays away."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="kick", namespace="/test"))
    assert result == {"reason": "io server disconnect", "attempts": 0, "active": False,
                      "connected": False}


@matrix
async def test_server_calls_client_with_ack_and_timeout(server_url, transport, parser):
    """The server's call() gets the client's ack (binary too), and times out on silence."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="call", namespace="/test"))
    assert result == {"answered": {"result": {"got": {"n": 1}, "from": "js"}},
                      "binary": {"result": [{"bin": [9, 8, 0]}, {"bin": [7]}]},
                      "silent": {"timeout": True}, **EXPECTED_TRANSPORT[transport]}


@matrix
async def test_room_broadcast_skips_sender(server_url, transport, parser):
    """A room broadcast with skip_sid reaches every other member, not the sender."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="room", namespace="/test", room="r1",
        parsers=[parser, parser, parser], payload={"hi": [1, "x"]}))
    expected = EXPECTED_TRANSPORT[transport]["transport"]
    assert result == {"acked": "sent", "received": [{"hi": [1, "x"]}, {"hi": [1, "x"]}],
                      "senderLog": ["connect", "welcome"], "transports": [expected] * 3}


@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
async def test_json_and_msgpack_clients_share_a_room(server_url, transport):
    """JSON and msgpack sockets in one room each get the same broadcast, binary included."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, "json", scenario="room", namespace="/test", room="mixed",
        parsers=["msgpack", "json", "msgpack", "json"], payload={"b": [1, "é", None]},
        binary=True))
    expected = EXPECTED_TRANSPORT[transport]["transport"]
    payload = {"bytes": {"bin": [0, 1, 254]}, "plain": {"b": [1, "é", None]}}
    assert result == {"acked": "sent", "received": [payload] * 3,
                      "senderLog": ["connect", "welcome"], "transports": [expected] * 4}


@matrix
async def test_kick_from_one_namespace_leaves_the_other(server_url, transport, parser):
    """Two namespaces share one connection; a kick from /test leaves /shaped working."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="multiplex"))
    assert result == {"shared": True, "reason": "io server disconnect", "check": "ok",
                      "secondConnected": True}


@matrix
async def test_burst_of_events_keeps_order_across_the_upgrade(server_url, transport, parser):
    """200 events sent at once (during the upgrade, by default) arrive and are acked in order."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="burst", namespace="/test", count=200))
    assert result == {"inOrder": True, "acksInOrder": True, "count": 200,
                      "upgraded": transport == "upgrade",
                      "transport": EXPECTED_TRANSPORT[transport]["transport"]}


@pytest.mark.parametrize("parser", ["json", "msgpack"])
async def test_fixed_serializer_serves_its_own_node_clients(start_server, parser):
    """With --serializer json|msgpack, npm clients using that parser work end to end."""
    url = await start_server(serializer=parser)
    result = await run_node("scenario.mjs", node_options(
        url, "upgrade", parser, scenario="binary", namespace="/test"))
    assert result == {"types": ["bytes", "bytes", "bytes", "NoneType", "dict"],
                      "back": BINARY_SENT_BACK, **EXPECTED_TRANSPORT["upgrade"]}


@matrix
async def test_client_disconnect_reason(server_url, transport, parser):
    """socket.disconnect() in JS reaches on_disconnect with reason "client disconnect"."""
    result = await run_node("scenario.mjs", node_options(
        server_url, transport, parser, scenario="leave", namespace="/test"))
    assert result == {"reason": "client disconnect",
                      "transport": EXPECTED_TRANSPORT[transport]["transport"]}
