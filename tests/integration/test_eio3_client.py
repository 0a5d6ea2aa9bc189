"""The npm socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol v4) with --allow-eio3, on
polling only, WebSocket only and the upgrade (tests/js/v2_client.mjs); refused without it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import UNIT, ServerFactory, run_node
from tests.integration.conftest import EXPECTED_TRANSPORT, TRANSPORTS

pytestmark = pytest.mark.node

transports = pytest.mark.parametrize("transport", list(TRANSPORTS))


async def v2(start_server: ServerFactory, scenario: str, transport: str | None = None,
             server: dict[str, Any] | None = None, **fields: Any) -> Any:
    """Run one v2_client.mjs scenario against a fresh server (--allow-eio3 unless told)."""
    url = await start_server(**{"allow_eio3": True, **(server or {})})
    options: dict[str, Any] = {"scenario": scenario, "url": url, **fields}
    if transport is not None and TRANSPORTS[transport] is not None:
        options["transports"] = TRANSPORTS[transport]
    return await run_node("v2_client.mjs", options)


@transports
async def test_root_namespace_is_joined_without_a_connect(start_server, transport):
    """"/" is connected by the server alone; send, an ack of all arguments, binary in an ack."""
    result = await v2(start_server, "root", transport)
    assert result == {**EXPECTED_TRANSPORT[transport], "idIsEngineId": True,
                      "message": {"text": "héllo ☎ 😀"}, "acked": [1, "two", None, {"three": [3]}],
                      "binary": [{"bin": [1, 2, 3]}, {"nested": {"bin": [4, 5]}}, "x"],
                      "log": ["connect", "message"]}


@transports
async def test_namespace_query_is_auth_and_sid_is_the_clients_id(start_server, transport):
    """/test: the query is on_connect's auth, its emit follows the ack, the sid is /test#<eio
    sid> as the client computes it, binary goes both ways, and a close is "client disconnect"."""
    result = await v2(start_server, "probe", transport, query={"token": "t-1", "n": "2"})
    assert result == {**EXPECTED_TRANSPORT[transport],
                      "welcome": {"auth": {"token": "t-1", "n": "2"}, "addr": "127.0.0.1"},
                      "log": ["connect", "welcome"], "idIsNamespaceAndEngineId": True,
                      "membersAreTheId": True, "types": ["bytes", "bytes", "bytes", "str"],
                      "back": [{"bin": [9]}, {"nested": {"bin": [104, 105]}}, [{"bin": []}, "x"]],
                      "reason": "client disconnect"}


@transports
async def test_chat_broadcast_reaches_v2_and_v4_clients(start_server, transport):
    """/chat with nickname and room in the query: a message is acked and broadcast to another
    2.x client and a 4.x client in the room; a 2.x client's leave is announced."""
    result = await v2(start_server, "chat", transport)
    message = {"room": "lobby", "nickname": "ann", "text": "hi ☎", "ts": "number"}
    final = EXPECTED_TRANSPORT[transport]["transport"]
    assert result == {"who": {"room": "lobby", "members": ["ann", "bob", "cy"]},
                      "sent": [message], "atBob": message, "atCy": message,
                      "presence": {"room": "lobby", "nickname": "bob", "action": "leave"},
                      "transports": [final, final]}


@transports
async def test_refusals_are_error_events_with_plain_reasons(start_server, transport):
    """A refusal reaches 2.x as an "error" event with the reason as a string (Node's
    err.data || err.message); an unknown namespace as {"message": "Invalid namespace"}."""
    result = await v2(start_server, "refused", transport)
    assert result == {"reason": "members only, sorry", "invalid": {"message": "Invalid namespace"},
                      "nickname": "nickname required", "connected": [False, False, False]}


@pytest.mark.parametrize("transport,seen", [
    ("polling", {"message": "xhr poll error", "description": "400"}),
    ("websocket", {"message": "websocket error", "description": "Unexpected server response: 400"}),
])
async def test_v2_client_is_refused_without_allow_eio3(start_server, transport, seen):
    """Without --allow-eio3 the 2.x client's handshake gets 400 and it never connects."""
    result = await v2(start_server, "unsupported", transport, server={"allow_eio3": False})
    assert result == {**seen, "connected": False}


@transports
async def test_session_that_stops_pinging_closes_after_interval_plus_timeout(start_server, transport):
    """Pings are answered for 3 cycles; once the client stops pinging, the server closes the
    session pingInterval + pingTimeout (0.3 + 0.2 s) after its last ping."""
    result = await v2(start_server, "heartbeat", transport, cycles=3,
                      server={"ping_interval": 0.3, "ping_timeout": 0.2})
    closed_after = result.pop("closedAfter")
    assert result == {"pongs": 3, "reason": "transport close",
                      "transport": EXPECTED_TRANSPORT[transport]["transport"],
                      "pingInterval": 300, "pingTimeout": 200}
    assert 500 <= closed_after < 500 + 150 * UNIT, closed_after
