"""/metrics scraped with prometheus-client's parser around known scenarios: exact deltas."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from openline.app import SIO_KEY, create_app
from openline.config import Config
from openline.ops import NODE_KEY
from openline.realtime.server import OpenlineServer

from tests.conftest import TEST_PLUGINS, UNIT
from tests.integration.conftest import Inbox
from tests.ops.scrape import deltas, key, scrape, until

NS = "/test"
BUDGET = 4096  # --send-budget: the slow client below is sent more than this at once


async def client(py_client: Any, url: str, transport: str, *events: str) -> tuple[Any, Inbox]:
    sio = py_client()
    inbox = Inbox(sio, NS, "welcome", *events)
    await sio.connect(url, namespaces=[NS], transports=[transport], wait_timeout=5 * UNIT)
    await inbox.get("welcome")
    return sio, inbox


class RawPolling:
    """An Engine.IO long-polling session driven by hand: it polls only when told to."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.base = url + "/socket.io/?EIO=4&transport=polling"
        self.sid = ""

    async def open(self) -> None:
        async with self.http.get(self.base) as response:
            self.sid = json.loads((await response.text())[1:])["sid"]

    async def post(self, *packets: str) -> None:
        async with self.http.post(f"{self.base}&sid={self.sid}", data="\x1e".join(packets)) as r:
            assert (r.status, await r.text()) == (200, "ok")

    async def poll(self) -> list[str]:
        async with self.http.get(f"{self.base}&sid={self.sid}") as response:
            return (await response.text()).split("\x1e")


async def slow_polling_client(http: aiohttp.ClientSession, url: str) -> str:
    """A /test socket over long-polling that reads its CONNECT ack and then never polls
    again; its socket sid."""
    raw = RawPolling(http, url)
    await raw.open()
    await raw.post(f"40{NS},")
    records: list[str] = []
    while not any(r.startswith(f"40{NS},") for r in records):
        records += await raw.poll()
    ack = next(r for r in records if r.startswith(f"40{NS},"))
    return str(json.loads(ack[len(f"40{NS},"):])["sid"])


async def test_a_known_scenario_moves_each_counter_by_exactly_its_count(start_server, py_client):
    """4 clients on both transports, 16 events, 1 slow consumer closed, 1 disconnect: exact deltas."""
    url = await start_server(send_budget=BUDGET)
    before = await scrape(url)

    ws1, ws1_in = await client(py_client, url, "websocket", "error")
    ws2, ws2_in = await client(py_client, url, "websocket", "broadcast")
    p1, p1_in = await client(py_client, url, "polling", "broadcast")
    p2, _ = await client(py_client, url, "polling")

    async def slowpoke(data: Any) -> str:  # answers the server's call() too late
        await asyncio.sleep(2 * UNIT)
        return "late"

    ws2.on("slowpoke", slowpoke, namespace=NS)
    async with aiohttp.ClientSession() as http:
        slow_sid = await slow_polling_client(http, url)
        for each in (ws1, ws2, p1, p2):  # 8 events
            for n in range(2):
                assert await each.call("echo", n, namespace=NS, timeout=5 * UNIT) == n
        for each in (ws1, ws2, p1):  # 3 events
            await each.call("join", "r", namespace=NS, timeout=5 * UNIT)
        # 1 event, sent to 2 (ws1 is skipped)
        assert await ws1.call("broadcast", ("r", {"n": 1}), namespace=NS, timeout=5 * UNIT) == "sent"
        assert await ws2_in.get("broadcast") == {"n": 1} and await p1_in.get("broadcast") == {"n": 1}
        await ws1.emit("fail", "no", namespace=NS)  # refused: an error event back
        assert await ws1_in.get("error") == {"message": "no"}
        await ws1.emit("crash", namespace=NS)  # raises: an error event back
        assert await ws1_in.get("error") == {"message": "internal server error"}
        reply = await ws2.call("call_client", ("slowpoke", {}, 0.2), namespace=NS, timeout=5 * UNIT)
        assert reply == {"timeout": True}
        # more than the budget to a client that does not poll: closed at once
        await ws1.call("fanout", (slow_sid, None, "x" * BUDGET), namespace=NS, timeout=5 * UNIT)
        await p2.disconnect()

        async def settled() -> Any:
            after = await scrape(url)
            return after if sum(v for k, v in after.items()
                                if k[0] == "openline_disconnects_total") == 2 else None

        after = await until(settled, "two disconnects in /metrics")

    changed = deltas(before, after)
    assert changed.pop(key("openline_handler_duration_seconds_count", namespace=NS)) == 16
    assert changed.pop(key("openline_handler_duration_seconds_bucket", namespace=NS, le="+Inf")) == 16
    for each in [k for k in changed if k[0].startswith("openline_handler_duration_seconds")]:
        changed.pop(each)  # the other buckets and the sum: timing, not counts
    assert changed.pop(key("openline_received_bytes_total")) > 0
    assert changed.pop(key("openline_sent_bytes_total")) > 0  # the dropped fanout not among them
    changed.pop(key("openline_send_buffer_bytes"), None)  # a gauge in flux
    assert changed == {
        key("openline_connected_clients", namespace=NS, transport="websocket"): 2,
        key("openline_connected_clients", namespace=NS, transport="polling"): 1,
        key("openline_connects_total", namespace=NS): 5,
        key("openline_disconnects_total", namespace=NS, reason="client disconnect"): 1,
        key("openline_disconnects_total", namespace=NS, reason="transport error"): 1,
        # 8 echo, 3 join, broadcast, fail, crash, call_client, fanout
        key("openline_events_received_total", namespace=NS): 16,
        # 5 welcome, 2 broadcast, 2 error, 1 slowpoke, 1 fanout
        key("openline_events_sent_total", namespace=NS): 11,
        key("openline_handler_errors_total", namespace=NS, kind="exception"): 1,
        key("openline_handler_errors_total", namespace=NS, kind="refused"): 1,
        key("openline_acks_timed_out_total"): 1,
        key("openline_slow_consumer_closes_total", limit="send_budget"): 1,
    }


async def engine_websocket(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A hand-driven Engine.IO WebSocket connected to /test, its welcome read."""
    ws = await http.ws_connect(url + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0{")
    await ws.send_str(f"40{NS},")
    seen = [await ws.receive_str(), await ws.receive_str()]
    assert [s[:len(f"42{NS},")] for s in seen] == [f"40{NS},", f"42{NS},"]
    return ws


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_bytes_count_socketio_packets_in_and_what_reached_the_socket_out(start_server, transport):
    """received_bytes grows by each packet's bytes; sent_bytes by each frame and its header, or each body."""
    url = await start_server()
    events = [f'42{NS},{n}["echo","\u00e9{n}"]' for n in range(3)]  # é: two bytes in UTF-8
    async with aiohttp.ClientSession() as http:
        if transport == "websocket":
            ws = await engine_websocket(http, url)
            before = await scrape(url)
            answers = []
            for text in events:
                await ws.send_str(text)
                answers.append(await ws.receive_str())
            sent = sum(2 + len(a.encode()) for a in answers)  # 2: the frame header (< 126)
            after = await scrape(url)
            await ws.close()
        else:
            raw = RawPolling(http, url)
            await raw.open()
            await raw.post(f"40{NS},")
            while len(await raw.poll()) < 2:  # the CONNECT ack and the welcome, maybe apart
                pass
            before = await scrape(url)
            sent = 0
            for text in events:
                await raw.post(text)
                body = "\x1e".join(await raw.poll())
                assert body.startswith(f"43{NS},")
                sent += len(body.encode())
            after = await scrape(url)
    assert after[key("openline_received_bytes_total")] - before[key("openline_received_bytes_total")] \
        == sum(len(e.encode()) - 1 for e in events)  # the Engine.IO type "4" is framing
    assert after[key("openline_sent_bytes_total")] - before[key("openline_sent_bytes_total")] == sent


async def test_unsent_bytes_of_a_client_that_does_not_poll_are_the_send_buffer(start_server, py_client):
    """send_buffer_bytes grows by exactly the frame queued for a long-polling client that does not poll."""
    url = await start_server()
    sender, _ = await client(py_client, url, "websocket")
    async with aiohttp.ClientSession() as http:
        slow_sid = await slow_polling_client(http, url)
        before = await scrape(url)
        await sender.call("fanout", (slow_sid, None, "y" * 3000), namespace=NS, timeout=5 * UNIT)
        after = await scrape(url)
    frame = ("4" + f'2{NS},["fanout","{"y" * 3000}"]').encode()
    assert after[key("openline_send_buffer_bytes")] - before[key("openline_send_buffer_bytes")] \
        == len(frame)


async def test_two_apps_in_one_process_count_apart(start_server, py_client):
    """Two servers in one process each report their own clients and events."""
    one, two = await start_server(), await start_server()
    first, _ = await client(py_client, one, "websocket")
    await first.call("echo", 1, namespace=NS, timeout=5 * UNIT)
    a, b = await scrape(one), await scrape(two)
    assert a[key("openline_events_received_total", namespace=NS)] == 1
    assert b[key("openline_events_received_total", namespace=NS)] == 0
    assert (a[key("openline_connected_clients", namespace=NS, transport="websocket")],
            b[key("openline_connected_clients", namespace=NS, transport="websocket")]) == (1, 0)


async def test_no_metrics_serves_no_route_and_wraps_nothing(start_server):
    """--no-metrics: /metrics is 404 and not one server, manager or engine method is wrapped."""
    url = await start_server(metrics=False)
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        assert response.status == 404
    app = create_app(Config(plugins_dirs=(TEST_PLUGINS,), metrics=False))
    sio = app[SIO_KEY]
    assert app[NODE_KEY].meter is None
    wrapped = {"_handle_event_internal", "_send_error", "_trigger_event", "call"} & set(vars(sio))
    assert wrapped == set()
    assert {"connect", "emit", "_handle_emit"} & set(vars(sio.manager)) == set()
    assert sio.eio.take_message == sio._take_message  # the server's own hand-off
    assert sio.eio.direct_message == sio._handle_eio_message
    assert (sio.counts, sio.manager.sent) == (None, None)  # the in-place counts are off
    on_app = create_app(Config(plugins_dirs=(TEST_PLUGINS,)))
    on = on_app[SIO_KEY]
    assert type(on) is OpenlineServer and "_send_error" in vars(on)
    assert on.counts is on_app[NODE_KEY].meter and on.manager.sent is on.counts.sent
    assert on.eio.take_message == on._take_message  # counted in place, not wrapped
