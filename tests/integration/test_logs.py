"""Logs people can follow: one id per connection (its session id) on every line about it,
refusals with the reason the client got, close codes as sent, --log-format json, and
per-packet detail only at DEBUG (server/logsafe.py, server/realtime/connlog.py).

`openline run` children (tests/cluster/conftest.py's NodeProcess) for the lines as they
are written, and in-process servers with caplog for the refusal paths; real clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import socketio
from openline import logsafe
from openline.bridge import sessions as bridge_sessions
from openline.engine import direct, polling, websocket
from openline.engine import session as engine_session

from tests.cluster.conftest import NodeProcess
from tests.conftest import UNIT

STAMP = re.compile(r"^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
ISO_UTC = re.compile(r"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BRIDGE_OPEN = re.compile(r"session (b\S+) open over websocket-bridge from 127\.0\.0\.1")


class Node(NodeProcess):
    """``openline run`` with its log read line by line, waited for without fixed sleeps."""

    async def wait_for(self, text: str, count: int = 1) -> None:
        """Until ``text`` is in ``count`` lines of the output."""
        for _ in range(int(400 * UNIT)):
            if sum(text in line for line in self.lines()) >= count:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"{text!r} not logged {count} time(s): {self.log[-3000:]}")

    def lines(self) -> list[str]:
        """The whole lines written so far (the one being written left out)."""
        return self.log.split("\n")[:-1]

    def about(self, *ids: str) -> list[str]:
        """The text-format lines naming any of ``ids``, without their time stamps."""
        found = []
        for line in self.lines():
            if any(i in line for i in ids):
                assert STAMP.match(line), line
                found.append(STAMP.sub("", line))
        return found


@pytest.fixture
async def node() -> Any:
    """``node = await node(*flags)``: started ``openline run`` children, stopped at the end."""
    started: list[Node] = []

    async def start(*flags: str) -> Node:
        proc = Node("--log-level", "info", *flags)
        started.append(proc)
        await proc.start()
        return proc

    yield start
    for proc in started:
        await proc.stop()


def ws_url(url: str, path: str) -> str:
    return url.replace("http://", "ws://") + path


# --- one id per connection -----------------------------------------------------------


async def test_a_session_upgraded_from_polling_is_followed_by_one_id(node):
    """A python-socketio client (polling, then its upgrade) joining /chat, then SIGTERM:
    every line about it names its Engine.IO session id, the Socket.IO sid is shown beside
    it, the chat plugin's own line gets it too, and the drain's close code is 1001."""
    server = await node()
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, namespaces=["/chat"], auth={"nickname": "ann"},
                         wait_timeout=5 * UNIT)
    assert await client.call("join", "lobby", namespace="/chat", timeout=5 * UNIT) == \
        {"room": "lobby", "members": ["ann"]}
    session_id, sid = client.eio.sid, client.get_sid("/chat")
    await server.wait_for(f"sid {sid} (session {session_id}) connected to /chat")
    await server.stop()  # SIGTERM: the drain closes the session
    await client.disconnect()
    assert server.about(session_id, sid) == [
        f"INFO    openline.engine: session {session_id} open over polling from 127.0.0.1",
        f"INFO    openline.engine: session {session_id} upgraded to websocket",
        f"INFO    openline.namespaces.chat: {sid} joined /chat as ann [session {session_id}]",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) connected to /chat",
        f"INFO    openline.engine: session {session_id} closed: server shutting down "
        "(close code 1001 sent)",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) disconnected from /chat: "
        "server shutting down",
    ]


async def test_a_dropped_poll_ends_its_session_as_a_transport_error(node):
    """A long-polling client whose waiting GET's connection drops: its session ends at
    once, and its disconnect's reason is "transport error", as Node's engine.io gives it
    ("poll connection closed prematurely")."""
    server = await node()
    base = server.url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(base) as opened:
            session_id = json.loads((await opened.text())[1:])["sid"]
        async with http.post(f"{base}&sid={session_id}", data="40") as posted:
            assert await posted.text() == "ok"
        async with http.get(f"{base}&sid={session_id}") as connected:
            sid = json.loads((await connected.text())[2:])["sid"]
    async with aiohttp.ClientSession() as own:  # its own connection, closed with it
        waiting = asyncio.ensure_future(own.get(f"{base}&sid={session_id}"))
        await asyncio.sleep(0.05 * UNIT)  # let the GET reach the server (not a start-up wait)
        waiting.cancel()
    await server.wait_for(f"sid {sid} (session {session_id}) disconnected from /")
    assert server.about(session_id, sid) == [
        f"INFO    openline.engine: session {session_id} open over polling from 127.0.0.1",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) connected to /",
        f"INFO    openline.engine: session {session_id} closing: poll request closed by the "
        "client",
        f"INFO    openline.engine: session {session_id} closed: transport error",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) disconnected from /: "
        "transport error",
    ]


async def test_a_bridge_session_is_followed_by_one_id(node):
    """A plain WebSocket client on /chat asking `who` and closing: its bridge session id
    on every line, the sid beside it, the close code the server sent (1000)."""
    server = await node()
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(ws_url(server.url, "/chat?nickname=bob&room=lobby"))
        await ws.send_str('{"event": "who", "data": "lobby", "id": 1}')
        assert await ws.receive_str(timeout=5 * UNIT) == \
            '{"ack":1,"data":[{"room":"lobby","members":["bob"]}]}'
        await ws.close()
    await server.wait_for("disconnected from /chat: client disconnect")
    opened = next(m for line in server.lines() if (m := BRIDGE_OPEN.search(line)))
    session_id = opened.group(1)
    sid = re.search(rf"sid (\S+) \(session {re.escape(session_id)}\) connected",
                    server.log).group(1)  # type: ignore[union-attr]
    assert server.about(session_id, sid) == [
        f"INFO    openline.bridge: session {session_id} open over websocket-bridge from 127.0.0.1",
        f"INFO    openline.namespaces.chat: {sid} joined /chat as bob [session {session_id}]",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) connected to /chat",
        f"INFO    openline.bridge: session {session_id} closed: client disconnect "
        "(close code 1000 sent)",
        f"INFO    openline.realtime: sid {sid} (session {session_id}) disconnected from /chat: "
        "client disconnect",
    ]


async def test_bridge_refusals_log_the_reason_and_the_close_code_sent(node):
    """A bridge client refused by /chat's connect handler (4403) and one asking for an
    unknown namespace (4404): one refusal line each with the reason sent, then the close
    code sent."""
    server = await node()
    closes = []
    async with aiohttp.ClientSession() as http:
        for path, code in (("/chat", 4403), ("/nowhere", 4404)):
            ws = await http.ws_connect(ws_url(server.url, path))
            msg = await ws.receive(timeout=5 * UNIT)
            closes.append((msg.data, msg.extra))
            # the server logs "closed" once the close handshake is done: the next session's
            # "open" line must not race it
            await server.wait_for(f"(close code {code} sent)")
    assert closes == [(4403, "nickname required"), (4404, "Invalid namespace")]
    ids = [m.group(1) for line in server.lines() if (m := BRIDGE_OPEN.search(line))]
    assert len(ids) == 2
    assert server.about(*ids) == [
        f"INFO    openline.bridge: session {ids[0]} open over websocket-bridge from 127.0.0.1",
        f"INFO    openline.realtime: session {ids[0]}: CONNECT to /chat refused by its connect "
        "handler: nickname required",
        f"INFO    openline.bridge: session {ids[0]} closed: server disconnect (close code 4403 sent)",
        f"INFO    openline.bridge: session {ids[1]} open over websocket-bridge from 127.0.0.1",
        f"INFO    openline.realtime: session {ids[1]}: CONNECT to /nowhere refused: Invalid namespace",
        f"INFO    openline.bridge: session {ids[1]} closed: server disconnect (close code 4404 sent)",
    ]


# --- --log-format json ----------------------------------------------------------------


async def test_json_lines_parse_with_exact_keys_and_escaped_controls(node):
    """--log-format json: every stderr line is one JSON object; lines about a connection
    have exactly time, level, logger, message and session, others the first four; a
    nickname with a newline, NEL and U+2028 stays on its line as JSON escapes."""
    server = await node("--log-format", "json")
    nickname = "eve\n\x85\u2028x"
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, namespaces=["/chat"], auth={"nickname": nickname},
                         wait_timeout=5 * UNIT)
    session_id, sid = client.eio.sid, client.get_sid("/chat")
    await server.wait_for(f'"sid {sid} (session {session_id}) connected to /chat"')
    await client.disconnect()
    await server.wait_for(f"sid {sid} (session {session_id}) disconnected from /chat")
    lines = [line for line in server.lines() if not line.startswith("openline listening on ")]
    assert not [line for line in lines if set(line) & {"\x85", "\u2028", "\u2029", "\r"}]
    records = [json.loads(line) for line in lines]
    assert all(ISO_UTC.match(r["time"]) for r in records)
    mine = [r for r in records if r.get("session") == session_id]
    assert [(r["level"], r["logger"], r["message"]) for r in mine] == [
        ("INFO", "openline.engine", f"session {session_id} open over polling from 127.0.0.1"),
        ("INFO", "openline.engine", f"session {session_id} upgraded to websocket"),
        ("INFO", "openline.namespaces.chat", f"{sid} joined /chat as {nickname}"),
        ("INFO", "openline.realtime", f"sid {sid} (session {session_id}) connected to /chat"),
        ("INFO", "openline.engine", f"session {session_id} closed: transport close "
         "(close code 1000 sent)"),
        ("INFO", "openline.realtime", f"sid {sid} (session {session_id}) disconnected from "
         "/chat: transport close"),
    ]
    assert {tuple(sorted(r)) for r in mine} == {("level", "logger", "message", "session", "time")}
    started = next(r for r in records if r["message"] == "namespaces: /chat, /")
    assert sorted(started) == ["level", "logger", "message", "time"]
    joined = next(line for line in lines if "joined /chat as" in line)
    assert "eve\\n\\u0085\\u2028x" in joined


async def test_json_lines_are_rate_limited_like_text(node):
    """--log-format json: 30 refused bridge connects in a burst give exactly 20 refusal
    lines (server/logsafe.py's limit per template per 10 s), each a JSON object."""
    server = await node("--log-format", "json")
    async with aiohttp.ClientSession() as http:
        async def refused() -> Any:
            ws = await http.ws_connect(ws_url(server.url, "/chat"))
            return (await ws.receive(timeout=5 * UNIT)).data

        assert await asyncio.gather(*(refused() for _ in range(30))) == [4403] * 30
        marker = await http.ws_connect(ws_url(server.url, "/chat?nickname=marker"))
        await server.wait_for("joined /chat as marker")  # everything before it is in
        await marker.close()
    refusals = [json.loads(line) for line in server.lines()
                if "refused by its connect handler: nickname required" in line]
    assert len(refusals) == 20
    assert all(set(r) == {"time", "level", "logger", "message", "session"} for r in refusals)


# --- refusals and limits, in process ----------------------------------------------------


def lines_of(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[tuple[str, str, Any]]:
    """(level, message, session field) of openline's records at ``level`` exactly."""
    return [(r.levelname, r.getMessage(), getattr(r, "session", None)) for r in caplog.records
            if r.name.startswith("openline") and r.levelno == level]


def matching(caplog: pytest.LogCaptureFixture, part: str) -> list[tuple[str, str, Any]]:
    return [line for line in lines_of(caplog) if part in line[1]]


async def connect_refused(url: str, namespace: str, auth: Any = None) -> str:
    """The connect_error message a client gets for ``namespace`` (over WebSocket)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, namespaces=[namespace], auth=auth, wait_timeout=5 * UNIT,
                             transports=["websocket"])
    await client.disconnect()
    return str(errors[0]["message"])


def opened(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The session ids of the sessions opened, in order (their "open over" lines)."""
    return [r.session for r in caplog.records if " open over " in r.getMessage()]  # type: ignore[attr-defined]


async def test_every_connect_refusal_is_one_info_line_with_the_reason_sent(start_server, caplog):
    """Unknown namespace, a handler's ConnectionRefusedError, its False, its crash: one
    INFO line each, naming the session and the reason the client got."""
    caplog.set_level(logging.INFO, logger="openline")
    url = await start_server()
    cases = [("/nowhere", None, "Invalid namespace"),
             ("/test", {"refuse": "go away"}, "go away"),
             ("/test", {"reject": True}, "Connection rejected by server"),
             ("/test", {"crash": True}, "internal server error")]
    assert [await connect_refused(url, namespace, auth) for namespace, auth, _ in cases] == \
        [reason for _, _, reason in cases]
    seen = opened(caplog)
    assert len(seen) == 4
    assert matching(caplog, "refused") == [
        ("INFO", f"session {seen[0]}: CONNECT to /nowhere refused: Invalid namespace", seen[0]),
        ("INFO", f"session {seen[1]}: CONNECT to /test refused by its connect handler: go away",
         seen[1]),
        ("INFO", f"session {seen[2]}: CONNECT to /test refused by its connect handler: "
         "Connection rejected by server", seen[2]),
        ("INFO", f"session {seen[3]}: CONNECT to /test refused by its connect handler: "
         "internal server error", seen[3]),
    ]


async def next_error(client: socketio.AsyncClient, namespace: str) -> Callable[[], Any]:
    """A function awaiting the next ``error`` event ``client`` gets in ``namespace``."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client.on("error", queue.put_nowait, namespace=namespace)
    return lambda: asyncio.wait_for(queue.get(), 5 * UNIT)


async def test_a_connect_past_max_namespaces_is_logged_with_its_reason(start_server, caplog):
    """A third namespace past --max-namespaces 2: one INFO line with the reason sent."""
    caplog.set_level(logging.INFO, logger="openline")
    url = await start_server(max_namespaces=2)
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", refusals.append, namespace="/shaped")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, namespaces=["/", "/test", "/shaped"], wait_timeout=5 * UNIT,
                             transports=["websocket"])
    await client.disconnect()
    [session_id] = opened(caplog)
    assert refusals == [{"message": "too many namespaces (limit 2)"}]
    assert matching(caplog, "refused") == [
        ("INFO", f"session {session_id}: CONNECT to /shaped refused: too many namespaces (limit 2)",
         session_id)]


async def test_a_room_past_max_rooms_is_logged_with_its_reason(start_server, py_client, caplog):
    """A second room past --max-rooms 1: one INFO line with the text the client got."""
    caplog.set_level(logging.INFO, logger="openline")
    url = await start_server(max_rooms=1)
    client = py_client()
    error = await next_error(client, "/test")
    await client.connect(url, namespaces=["/test"], wait_timeout=5 * UNIT)
    session_id, sid = client.eio.sid, client.get_sid("/test")
    assert await client.call("join", "one", namespace="/test", timeout=5 * UNIT) == "one"
    await client.emit("join", "two", namespace="/test")
    assert await error() == {"message": "too many rooms (limit 1)"}
    assert matching(caplog, "room") == [
        ("INFO", f"sid {sid} (session {session_id}): room refused: too many rooms (limit 1)",
         session_id)]


async def test_events_over_the_rate_limit_are_logged_once(start_server, py_client, caplog):
    """Three events at --rate-limit 1 --rate-burst 1: two are dropped, the client is told
    once, and one INFO line says so with the same text."""
    caplog.set_level(logging.INFO, logger="openline")
    url = await start_server(rate_limit=1.0, rate_burst=1)
    client = py_client()
    error = await next_error(client, "/test")
    await client.connect(url, namespaces=["/test"], wait_timeout=5 * UNIT)
    session_id, sid = client.eio.sid, client.get_sid("/test")
    for _ in range(3):
        await client.emit("echo", "x", namespace="/test")
    assert await error() == {"message": "rate limit exceeded (1 events/s)"}
    assert matching(caplog, "rate limit") == [
        ("INFO", f"sid {sid} (session {session_id}): events dropped: rate limit exceeded "
         "(1 events/s)", session_id)]


# --- per-packet detail ------------------------------------------------------------------


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_frames_are_logged_at_debug_and_never_formatted_above_it(
        start_server, py_client, caplog, monkeypatch, level):
    """At DEBUG each frame in and out of an Engine.IO and a bridge session is one line
    naming its session; at INFO no frame is even turned into text for the log."""
    previews: list[Any] = []

    def counted(data: Any, limit: int = 200) -> str:
        previews.append(data)
        return logsafe.preview(data, limit)

    for module in (direct, polling, websocket, engine_session, bridge_sessions):
        monkeypatch.setattr(module, "preview", counted)
    caplog.set_level(level, logger="openline")
    url = await start_server()  # the engine reads the level as it is made
    client = py_client()
    await client.connect(url, transports=["websocket"], wait_timeout=5 * UNIT)
    session_id, sid = client.eio.sid, client.get_sid("/")
    assert await client.call("echo", "hi", timeout=5 * UNIT) == "hi"
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(ws_url(url, "/"))
        await ws.send_str("hello")
        assert await ws.receive_str(timeout=5 * UNIT) == "hello"
        await ws.close()
    if level == "INFO":
        assert previews == []
        assert lines_of(caplog, logging.DEBUG) == []
        return
    [bridge_id] = [r.session for r in caplog.records  # type: ignore[attr-defined]
                   if "open over websocket-bridge" in r.getMessage()]
    traced = [(m, s) for _, m, s in lines_of(caplog, logging.DEBUG) if " sent " in m or " received " in m]
    assert traced == [
        (f'session {session_id} sent 0{{"sid":"{session_id}","upgrades":[],"pingInterval":25000,'
         '"pingTimeout":20000,"maxPayload":1000000}', session_id),
        (f"session {session_id} received 40{{}}", session_id),
        (f'session {session_id} sent 40{{"sid":"{sid}"}}', session_id),
        (f'session {session_id} received 421["echo","hi"]', session_id),
        (f'session {session_id} sent 431["hi"]', session_id),
        (f"session {bridge_id} received hello", bridge_id),
        (f"session {bridge_id} sent hello", bridge_id),
    ]


# --- close codes --------------------------------------------------------------------------


async def test_a_frame_over_max_payload_logs_close_code_1009(start_server, caplog):
    """A frame over --max-payload on an Engine.IO WebSocket and on a bridge session: the
    reason, then the session's close line with the 1009 the server sent."""
    caplog.set_level(logging.INFO, logger="openline")
    url = await start_server(max_payload=100)
    codes = []
    async with aiohttp.ClientSession() as http:
        for path in ("/socket.io/?EIO=4&transport=websocket", "/"):
            ws = await http.ws_connect(ws_url(url, path))
            if path != "/":
                assert (await ws.receive_str(timeout=5 * UNIT)).startswith("0{")
            await ws.send_str("4" + "x" * 200)
            while (await ws.receive(timeout=5 * UNIT)).type is aiohttp.WSMsgType.TEXT:
                pass
            codes.append(ws.close_code)
    assert codes == [1009, 1009]
    engine_id, bridge_id = opened(caplog)
    assert [(m, s) for _, m, s in lines_of(caplog) if "clos" in m] == [
        (f"session {engine_id} closing: Message size 201 exceeds limit 100", engine_id),
        (f"session {engine_id} closed: transport error (close code 1009 sent)", engine_id),
        (f"session {bridge_id} closing: Message size 201 exceeds limit 101", bridge_id),
        (f"session {bridge_id} closed: transport error (close code 1009 sent)", bridge_id),
    ]
