"""/healthz, /readyz (draining, a Redis outage), /status as JSON and as a page, --no-demo."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from openline import __version__
from openline.app import drain
from openline.ops import NODE_KEY

from tests.cluster.test_rooms import CHAT, chat_client
from tests.conftest import ROOT, TEST_PLUGINS, UNIT
from tests.ops.scrape import get_json, key, scrape, until

ZERO = {"polling": 0, "websocket": 0, "websocket-bridge": 0}


async def test_healthz_says_ok_and_readyz_ready(start_server):
    """/healthz is 200 {"status": "ok"} and /readyz 200 {"status": "ready"}, neither cached."""
    url = await start_server()
    async with aiohttp.ClientSession() as http:
        for path, body in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
            async with http.get(url + path) as response:
                assert (response.status, await response.json()) == (200, body)
                assert response.headers["Cache-Control"] == "no-store"
                assert response.content_type == "application/json"


async def test_readyz_is_503_once_the_drain_starts(start_node, py_client):
    """SIGTERM's drain (openline.app.drain) makes /readyz 503 with the reason "draining"."""
    node = await start_node()
    client = py_client()
    await client.connect(node.url, transports=["websocket"], wait_timeout=5 * UNIT)
    assert await get_json(node.url, "/readyz") == (200, {"status": "ready"})
    assert await drain(node.app, asyncio.get_running_loop().time() + 5 * UNIT) == 0
    assert await get_json(node.url, "/readyz") == (503, {"status": "not ready", "reasons": ["draining"]})
    assert await get_json(node.url, "/healthz") == (200, {"status": "ok"})  # alive all the same


async def test_readyz_follows_a_redis_outage_and_counts_what_stayed_local(redis, start_node, py_client):
    """Redis stopped: /readyz 503 "redis unreachable", redis_up 0, a message dropped; back: 200, published."""
    node = await start_node(redis_url=redis.url)
    await asyncio.wait_for(node.manager.up.wait(), 10 * UNIT)
    ann, _ = await chat_client(py_client, node.url, "ann")
    assert await get_json(node.url, "/readyz") == (200, {"status": "ready"})
    before = await scrape(node.url)
    assert before[key("openline_redis_up")] == 1

    await redis.stop()
    await asyncio.wait_for(node.manager.outage.wait(), 10 * UNIT)
    assert await get_json(node.url, "/readyz") == (
        503, {"status": "not ready", "reasons": ["redis unreachable"]})
    await ann.call("message", "local only", namespace=CHAT, timeout=5 * UNIT)
    during = await scrape(node.url)
    assert during[key("openline_redis_up")] == 0
    assert during[key("openline_redis_dropped_total")] - before[key("openline_redis_dropped_total")] == 1
    status, doc = await get_json(node.url, "/status")
    assert (status, doc["ready"], doc["redis"]["up"]) == (200, False, False)

    await redis.start()
    await asyncio.wait_for(node.manager.up.wait(), 15 * UNIT)
    assert await get_json(node.url, "/readyz") == (200, {"status": "ready"})
    published = during[key("openline_redis_published_total")]
    await ann.call("message", "cluster-wide", namespace=CHAT, timeout=5 * UNIT)

    async def one_more() -> Any:
        after = await scrape(node.url)
        return after if after[key("openline_redis_published_total")] > published else None

    after = await until(one_more, "the message published")
    assert after[key("openline_redis_published_total")] == published + 1
    assert after[key("openline_redis_up")] == 1
    assert after[key("openline_redis_dropped_total")] == during[key("openline_redis_dropped_total")]


async def test_status_json_counts_clients_by_namespace_and_transport(start_node, py_client):
    """/status JSON: exact keys; 2 websocket and 1 polling client in /test, a bridge client in /chat."""
    node = await start_node(plugins_dirs=(TEST_PLUGINS,))
    clients = []
    for transport, room in (("websocket", "a"), ("websocket", "b"), ("polling", "a")):
        client = py_client()
        await client.connect(node.url, namespaces=["/test"], transports=[transport],
                             wait_timeout=5 * UNIT)
        await client.call("join", room, namespace="/test", timeout=5 * UNIT)
        clients.append(client)
    async with aiohttp.ClientSession() as http:
        bridge = await http.ws_connect(node.url.replace("http", "ws") + "/chat?nickname=bo&room=lobby")
        await bridge.send_str('{"event": "who", "data": ["lobby"], "id": 1}')
        assert (await bridge.receive_json())["ack"] == 1  # connected and in the room
        status, doc = await get_json(node.url, "/status")
        await bridge.close()
    assert status == 200
    assert sorted(doc) == ["clients", "node", "ready", "redis", "rooms", "uptime_seconds", "version"]
    uptime = doc.pop("uptime_seconds")
    assert isinstance(uptime, float) and 0 <= uptime < 60
    assert doc == {
        "version": __version__,
        "node": node.app[NODE_KEY].id,
        "ready": True,
        "clients": {"total": 4, "namespaces": {
            "/": ZERO, "/chat": {**ZERO, "websocket-bridge": 1},
            "/shaped": ZERO, "/test": {"polling": 1, "websocket": 2, "websocket-bridge": 0}}},
        "rooms": {"/": 0, "/chat": 1, "/shaped": 0, "/test": 2},
        "redis": None,
    }


async def test_status_page_for_people_names_no_class_or_file(start_server, py_client):
    """/status in a browser is HTML with the namespaces and counts, no plugin class or file path."""
    url = await start_server()
    client = py_client()
    await client.connect(url, namespaces=["/test"], transports=["websocket"], wait_timeout=5 * UNIT)
    async with aiohttp.ClientSession() as http, http.get(url + "/status", headers={
            "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}) as response:
        assert response.content_type == "text/html"
        page = await response.text()
    assert "<tr><td><code>/test</code></td><td>0</td><td>1</td><td>0</td><td>0</td></tr>" in page
    assert "1 client(s)" in page
    assert "ProbeNamespace" not in page and ".py" not in page and str(ROOT) not in page


async def test_no_demo_turns_the_page_off_and_keeps_the_root_bridge(start_server):
    """--no-demo: /, /demo/app.js and /vendor/ are 404; a WebSocket to / is still the root namespace."""
    url = await start_server(demo=False)
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/demo/app.js", "/vendor/socket.io.min.js"):
            async with http.get(url + path) as response:
                assert response.status == 404, path
        ws = await http.ws_connect(url.replace("http", "ws") + "/")
        await ws.send_str("hello")
        assert await asyncio.wait_for(ws.receive_str(), 5 * UNIT) == "hello"  # echo's message
        await ws.close()
    on = await start_server()
    async with aiohttp.ClientSession() as http, http.get(on + "/") as response:
        assert response.status == 200


async def test_no_status_turns_status_off_and_keeps_health(start_server):
    """--no-status: /status is 404 (JSON or page); /healthz and /readyz still answer 200."""
    url = await start_server(status=False)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Accept": "application/json"}):
            async with http.get(url + "/status", headers=headers) as response:
                assert response.status == 404
        for path in ("/healthz", "/readyz"):
            async with http.get(url + path) as response:
                assert response.status == 200, path


async def test_ops_paths_upgraded_are_bridge_clients_of_unknown_namespaces(start_server):
    """A WebSocket upgrade to /metrics is the bridge's, closed 4404 as an unknown namespace."""
    url = await start_server()
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url.replace("http", "ws") + "/metrics")
        msg = await asyncio.wait_for(ws.receive(), 5 * UNIT)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4404)
