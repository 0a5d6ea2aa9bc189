"""``POST /api/v1/emit``: bearer token, body checks, and delivery on every node."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.cluster.test_rooms import CHAT, chat_client

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def post(url: str, body: Any, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with session.post(f"{url}/api/v1/emit", headers=headers or {}, **kwargs) as resp:
            return resp.status, await resp.json()


async def test_api_emit_reaches_clients_on_both_nodes(redis, start_node, py_client):
    """A 202 emit through one node's API reaches the room's clients on both nodes."""
    n1 = await start_node(redis_url=redis.url, api_token=TOKEN)
    n2 = await start_node(redis_url=redis.url)
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "news")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "news")
    status, body = await post(n1.url, {"namespace": CHAT, "event": "news",
                                       "data": [{"title": "hi"}, 2], "room": "lobby"}, AUTH)
    assert (status, body) == (202, {"status": "accepted"})
    assert await ann_in.get("news") == ({"title": "hi"}, 2)
    assert await bob_in.get("news") == ({"title": "hi"}, 2)
    status, _ = await post(n1.url, {"namespace": CHAT, "event": "news", "data": ["bob only"],
                                    "to": bob.get_sid(CHAT)}, AUTH)
    assert status == 202
    assert await bob_in.get("news") == "bob only"
    assert ann_in.empty("news")


async def test_api_works_on_a_single_node_without_redis(start_node, py_client):
    """Without Redis the API emits to the node's own clients."""
    node = await start_node(api_token=TOKEN)
    ann, ann_in = await chat_client(py_client, node.url, "ann", "news")
    status, body = await post(node.url, {"namespace": CHAT, "event": "news", "data": []}, AUTH)
    assert (status, body) == (202, {"status": "accepted"})
    assert await ann_in.get("news") == ()


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"}])
async def test_api_missing_or_wrong_token_is_401(start_node, headers):
    """No token, a wrong one or another scheme answers 401 and emits nothing."""
    node = await start_node(api_token=TOKEN)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{node.url}/api/v1/emit", headers=headers,
                                json={"namespace": "/", "event": "x", "data": []}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == "Bearer"
            assert await resp.json() == {"error": "missing or wrong bearer token"}


async def test_api_without_token_configured_is_404(start_node):
    """Without --api-token the API is off: 404, whatever the request carries."""
    node = await start_node()
    status, body = await post(node.url, {"namespace": "/", "event": "x", "data": []}, AUTH)
    assert (status, body) == (
        404, {"error": "the publish API is off (start the server with --api-token)"})


@pytest.mark.parametrize("body,error", [
    (b"{nope", "body: not valid JSON"),
    ([1, 2], "body: expected a JSON object"),
    ({"event": "x", "data": []}, "namespace: expected a string starting with /"),
    ({"namespace": "chat", "event": "x", "data": []}, "namespace: expected a string starting with /"),
    ({"namespace": "/nowhere", "event": "x", "data": []}, "namespace: /nowhere is not served here"),
    ({"namespace": "/", "data": []}, "event: expected a non-empty string"),
    ({"namespace": "/", "event": "", "data": []}, "event: expected a non-empty string"),
    ({"namespace": "/", "event": "disconnect", "data": []},
     "event: disconnect is reserved by Socket.IO"),
    ({"namespace": "/", "event": "x"}, "data: expected a list of arguments"),
    ({"namespace": "/", "event": "x", "data": {"a": 1}}, "data: expected a list of arguments"),
    ({"namespace": "/", "event": "x", "data": [], "room": 5}, "room: expected a non-empty string"),
    ({"namespace": "/", "event": "x", "data": [], "to": ""}, "to: expected a non-empty string"),
    ({"namespace": "/", "event": "x", "data": [], "room": "r", "to": "s"},
     "to: give room or to, not both"),
    ({"namespace": "/", "event": "x", "data": [], "rooms": ["r"]},
     "rooms: unknown field (expected namespace, event, data, room, to)"),
])
async def test_api_bad_body_is_400_naming_the_field(start_node, body, error):
    """A malformed body answers 400 with the bad field named first."""
    node = await start_node(api_token=TOKEN)
    if isinstance(body, bytes):
        status, answer = await post(node.url, None, AUTH, raw=body)
    else:
        status, answer = await post(node.url, body, AUTH)
    assert (status, answer) == (400, {"error": error})
