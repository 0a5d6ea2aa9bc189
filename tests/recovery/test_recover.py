"""Connection state recovery on one node (the in-memory store), with the real
socket.io-client 4.8 on both transports and both parsers.

Each test drops the client's Engine.IO transport (``socket.io.engine.close()``, what a
network blip does to it), lets the server emit meanwhile, reconnects (``socket.connect()``
sends the pid and the last offset, as the client's own reconnection does), and asserts
what came back, exactly. The offsets are the in-memory store's counter, as strings.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import UNIT
from tests.recovery.conftest import PLUGINS, LiveClient

pytestmark = pytest.mark.node

NS = "/rec"
CLIENTS = [("json", ["websocket"]), ("msgpack", ["websocket"]), ("json", ["polling"]),
           ("msgpack", ["polling"])]
CLIENT_IDS = [f"{p}-{t[0]}" for p, t in CLIENTS]


async def node_with_recovery(start_node: Any, **fields: Any) -> Any:
    fields.setdefault("recovery_window", 30.0)
    return await start_node(plugins_dirs=(PLUGINS,), **fields)


async def open_socket(live: LiveClient, node: Any, parser: str = "json",
                      transports: list[str] | None = None, name: str = "a",
                      auth: dict[str, Any] | None = None) -> dict[str, Any]:
    await live.send("open", name, url=node.url, namespace=NS, parser=parser,
                    transports=transports or ["websocket"], auth=auth or {})
    return await live.expect("connect", name)


async def drop(live: LiveClient, name: str = "a") -> str:
    """Close the transport under the socket (the client calls it "forced close")."""
    await live.send("drop", name)
    return (await live.expect("disconnect", name))["reason"]


async def reconnect(live: LiveClient, name: str = "a") -> dict[str, Any]:
    await live.send("connect", name)
    return await live.expect("connect", name)


async def gone_from_server(node: Any, sid: str) -> None:
    """Until the server has run the socket's disconnect (its transport close arrived)."""
    async def wait() -> None:
        while node.sio.manager.is_connected(sid, NS):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 10 * UNIT)


@pytest.mark.parametrize("parser,transports", CLIENTS, ids=CLIENT_IDS)
async def test_a_dropped_client_comes_back_with_sid_rooms_data_and_missed_events(
        live, start_node, parser, transports):
    """Back within the window: same sid, recovered, rooms and session data, the room, direct
    and namespace events emitted meanwhile once each in order with offsets; ack emits and
    other rooms' events not."""
    node = await node_with_recovery(start_node)
    first = await open_socket(live, node, parser, transports)
    assert first["recovered"] is False
    sid = first["sid"]
    assert await live.call("join", "r1") == ["r1"]
    assert await live.call("remember", {"n": 7}) == "ok"
    assert await drop(live) == "forced close"
    await gone_from_server(node, sid)
    sio = node.sio
    await sio.emit("news", "room 1", room="r1", namespace=NS)
    await sio.emit("news", "other room", room="r2", namespace=NS)
    await sio.emit("direct", {"to": "you"}, to=sid, namespace=NS)
    await sio.emit("all", [1, 2], namespace=NS)
    await sio.emit("acked", "not replayed", room="r1", namespace=NS, callback=lambda *a: None)
    await sio.emit("news", "room 2", room="r1", namespace=NS)
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert await live.got(4) == [["news", "room 1", "1"], ["direct", {"to": "you"}, "3"],
                        ["all", [1, 2], "4"], ["news", "room 2", "5"]]
    assert await live.call("rooms") == ["r1"]
    assert await live.call("recall") == {"n": 7}
    await sio.emit("news", "live", room="r1", namespace=NS)
    assert (await live.expect("event", where=lambda x: x["args"][0] == "live"))["args"] == ["live", "6"]
    assert live.events(event="news") == [["news", "room 1", "1"], ["news", "room 2", "5"],
                                         ["news", "live", "6"]]


async def test_the_clients_own_reconnection_recovers(live, start_node):
    """With socket.io-client's automatic reconnection (not a manual connect), the socket is recovered."""
    node = await node_with_recovery(start_node)
    await live.send("open", url=node.url, namespace=NS, transports=["websocket"],
                    client={"reconnection": True, "reconnectionDelay": 100, "reconnectionDelayMax": 100})
    sid = (await live.expect("connect"))["sid"]
    await live.call("join", "r1")
    await node.sio.emit("news", "before", room="r1", namespace=NS)
    await live.expect("event")
    assert await drop(live) == "forced close"
    back = await live.expect("connect")
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert await live.call("rooms") == ["r1"]


async def test_a_client_that_got_no_event_yet_still_recovers(live, start_node):
    """No offset yet (socket.io #4888, #5538): the events since its first connect are replayed."""
    node = await node_with_recovery(start_node)
    sid = (await open_socket(live, node))["sid"]
    await live.call("join", "quiet")
    assert live.events() == []
    await drop(live)
    await gone_from_server(node, sid)
    await node.sio.emit("news", "while away", room="quiet", namespace=NS)
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert await live.got(1) == [["news", "while away", "1"]]


@pytest.mark.parametrize("parser,transports", [CLIENTS[0], CLIENTS[2]], ids=["json-ws", "json-polling"])
async def test_three_drops_in_a_row_each_recover_and_nothing_repeats(live, start_node, parser, transports):
    """Recovering three times in a row keeps the sid and rooms; every event arrives once, in order."""
    node = await node_with_recovery(start_node)
    sid = (await open_socket(live, node, parser, transports))["sid"]
    await live.call("join", "r1")
    for round_ in range(3):
        await drop(live)
        await gone_from_server(node, sid)
        await node.sio.emit("news", f"away {round_}", room="r1", namespace=NS)
        back = await reconnect(live)
        assert (back["sid"], back["recovered"]) == (sid, True)
        await node.sio.emit("news", f"back {round_}", room="r1", namespace=NS)
        await live.expect("event", where=lambda x, r=round_: x["args"][0] == f"back {r}")
    assert [e[1] for e in live.events()] == ["away 0", "back 0", "away 1", "back 1", "away 2", "back 2"]
    assert [e[2] for e in live.events()] == ["1", "2", "3", "4", "5", "6"]


async def test_back_before_the_old_transport_timed_out_takes_it_over(live, start_node, holding_proxy):
    """The client is back while the server still holds its old transport (socket.io #4880):
    recovered, the old one closed, and still served after its ping timeout would have fired."""
    node = await node_with_recovery(start_node, ping_interval=0.5, ping_timeout=0.5)
    proxy = await holding_proxy(int(node.url.rsplit(":", 1)[1]))
    await live.send("open", url=f"http://127.0.0.1:{proxy.port}", namespace=NS, transports=["websocket"])
    sid = (await live.expect("connect"))["sid"]
    await live.call("join", "r1")
    old_eio_sid = node.sio.manager.eio_sid_from_sid(sid, NS)
    proxy.hold()  # the old transport goes silent; the server is not told it closed
    assert await drop(live) == "forced close"
    await node.sio.emit("news", "while away", room="r1", namespace=NS)
    assert node.sio.manager.is_connected(sid, NS)  # the server still thinks it is there
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert await live.got(1) == [["news", "while away", "1"]]
    assert old_eio_sid not in node.sio.eio.sessions
    await asyncio.sleep(1.2 * UNIT)  # past the old session's ping interval + timeout (1 s)
    await node.sio.emit("news", "after", room="r1", namespace=NS)
    assert (await live.expect("event", where=lambda x: x["args"][0] == "after"))["args"] == ["after", "2"]
    assert node.sio.manager.is_connected(sid, NS) and await live.call("rooms") == ["r1"]


async def test_a_client_connected_longer_than_the_window_still_recovers(live, start_node):
    """Connected 2.5x the window, its last event long trimmed from the log (socket.io #5282):
    what it missed after the drop still comes back."""
    node = await node_with_recovery(start_node, recovery_window=1.0)
    sid = (await open_socket(live, node))["sid"]
    await live.call("join", "r1")
    await node.sio.emit("news", "early", room="r1", namespace=NS)
    await live.expect("event")
    store = node.sio.recovery.store
    for _ in range(25):  # 2.5 s of traffic to another room; the log sweeps past "early"
        await node.sio.emit("chatter", "x", room="elsewhere", namespace=NS)
        await asyncio.sleep(0.1)
    assert store.logged(NS) < 26
    await drop(live)
    await gone_from_server(node, sid)
    await node.sio.emit("news", "late", room="r1", namespace=NS)
    back = await reconnect(live)
    assert (back["sid"], back["recovered"]) == (sid, True)
    assert await live.got(2) == [["news", "early", "1"], ["news", "late", "27"]]


async def test_past_the_window_the_client_is_a_new_socket(live, start_node):
    """Back after --recovery-window: recovered false, a new sid, nothing replayed, no rooms."""
    node = await node_with_recovery(start_node, recovery_window=0.3)
    sid = (await open_socket(live, node))["sid"]
    await live.call("join", "r1")
    await drop(live)
    await gone_from_server(node, sid)
    await node.sio.emit("news", "missed for good", room="r1", namespace=NS)
    await asyncio.sleep(0.5 * UNIT)  # the behaviour under test: the window passing
    back = await reconnect(live)
    assert back["recovered"] is False and back["sid"] != sid
    assert live.events() == []
    assert await live.call("rooms") == []


async def test_a_log_cap_that_pushed_out_missed_events_gives_a_new_socket(live, start_node):
    """--recovery-max-packets 3 and 5 events while away: not recovered (no silent partial replay)."""
    node = await node_with_recovery(start_node, recovery_max_packets=3)
    sid = (await open_socket(live, node))["sid"]
    await live.call("join", "r1")
    await drop(live)
    await gone_from_server(node, sid)
    for n in range(5):
        await node.sio.emit("news", n, room="r1", namespace=NS)
    back = await reconnect(live)
    assert back["recovered"] is False and back["sid"] != sid
    assert live.events() == []


async def test_a_kick_or_the_clients_own_disconnect_is_final(live, start_node):
    """After server disconnect(sid) or the client's disconnect(), connecting again is a new socket."""
    node = await node_with_recovery(start_node)
    sid = (await open_socket(live, node))["sid"]
    await node.sio.disconnect(sid, namespace=NS)
    assert (await live.expect("disconnect"))["reason"] == "io server disconnect"
    again = await reconnect(live)
    assert again["recovered"] is False and again["sid"] != sid
    await live.send("disconnect")
    assert (await live.expect("disconnect"))["reason"] == "io client disconnect"
    third = await reconnect(live)
    assert third["recovered"] is False and third["sid"] not in (sid, again["sid"])


async def test_a_namespace_sees_the_recovery_and_may_refuse_it(live, start_node):
    """on_connect learns recovered(sid) is True; refusing a recovered socket gives connect_error."""
    node = await node_with_recovery(start_node)
    sid = (await open_socket(live, node, auth={"hello": True}))["sid"]
    assert await live.got(1) == [["hello", {"recovered": False}, "1"]]
    await drop(live)
    await gone_from_server(node, sid)
    back = await reconnect(live)
    assert back["recovered"] is True
    assert await live.got(2) == [["hello", {"recovered": False}, "1"], ["hello", {"recovered": True}, "2"]]
    await live.send("open", "b", url=node.url, namespace=NS, transports=["websocket"],
                    auth={"refuse_recovery": True})
    sid_b = (await live.expect("connect", "b"))["sid"]
    await drop(live, "b")
    await gone_from_server(node, sid_b)
    await live.send("connect", "b")
    assert (await live.expect("connect_error", "b"))["message"] == "Connection rejected by server"


async def test_with_recovery_off_there_is_no_pid_and_no_offset(live, start_node):
    """Without --recovery-window: events carry exactly their arguments and a reconnect is a new socket."""
    node = await start_node(plugins_dirs=(PLUGINS,))
    sid = (await open_socket(live, node))["sid"]
    await live.call("join", "r1")
    await node.sio.emit("news", "plain", room="r1", namespace=NS)
    assert (await live.expect("event"))["args"] == ["plain"]
    await drop(live)
    back = await reconnect(live)
    assert back["recovered"] is None and back["sid"] != sid  # no pid: the client cannot even try


async def test_plain_websocket_clients_get_no_offsets(start_node):
    """With recovery on, a bridge client still gets a message event as its bare text and other
    events without an offset argument."""
    import aiohttp

    node = await node_with_recovery(start_node)
    async with aiohttp.ClientSession() as http, http.ws_connect(node.url.replace("http", "ws") + NS) as ws:
        async def wait() -> None:
            while not node.sio.manager.rooms.get(NS):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), 10 * UNIT)
        await node.sio.emit("message", "hi", namespace=NS)
        await node.sio.emit("news", {"n": 1}, namespace=NS)
        assert await ws.receive_str(timeout=5 * UNIT) == "hi"
        assert await ws.receive_json(timeout=5 * UNIT) == {"event": "news", "data": [{"n": 1}]}
    assert node.sio.recovery.store.logged(NS) == 2


async def test_an_empty_offset_counts_as_none_and_replays_only_since_its_connect(live, start_node):
    """A CONNECT with pid and offset "" recovers from the socket's first connect, not the log's start."""
    node = await node_with_recovery(start_node)
    await node.sio.emit("all", "before it connected", namespace=NS)
    sid = (await open_socket(live, node))["sid"]
    pid = node.sio.recovery._pids[(NS, sid)]
    await drop(live)
    await gone_from_server(node, sid)
    await node.sio.emit("all", "while away", namespace=NS)
    await live.send("open", "c", url=node.url, namespace=NS, transports=["websocket"],
                    auth={"pid": pid, "offset": ""})
    assert (await live.expect("connect", "c"))["sid"] == sid
    assert await live.got(1, "c") == [["all", "while away", "2"]]
