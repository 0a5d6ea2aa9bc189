"""Raw Engine.IO/Socket.IO frames against a real server: ordering, malformed input, CORS."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import msgpack
import pytest

from tests.conftest import UNIT


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def open_ws(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(ws_url(url))
    opening = await ws.receive_str(timeout=5 * UNIT)
    assert opening.startswith("0{") and '"sid"' in opening
    return ws


async def assert_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The server ends the session: an Engine.IO CLOSE packet at most, then the close."""
    msg = await ws.receive(timeout=5 * UNIT)
    if msg.type == aiohttp.WSMsgType.TEXT:
        assert msg.data == "1", msg
        msg = await ws.receive(timeout=5 * UNIT)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg


async def test_connect_emit_follows_connect_ack_on_the_wire(server_url):
    """The frame after CONNECT is its ack; the emit from on_connect comes next, not before."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str('40/test,{"k":"v"}')
        ack = await ws.receive_str(timeout=5 * UNIT)
        assert ack.startswith('40/test,{"sid":"')
        welcome = await ws.receive_str(timeout=5 * UNIT)
        assert welcome == '42/test,["welcome",{"auth":{"k":"v"},"addr":"127.0.0.1"}]'
        await ws.close()


async def test_unknown_namespace_frame(server_url):
    """An unknown namespace is answered with CONNECT_ERROR {"message":"Invalid namespace"}."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40/nope,")
        assert await ws.receive_str(timeout=5 * UNIT) == '44/nope,{"message":"Invalid namespace"}'
        await ws.close()


@pytest.mark.parametrize("garbage", [
    '42["x"', "4{", "42[true]", "42[]", '42"text"', "49", '42["connect"]', "40/test,[1]",
    '42/test,["join","r"]', '43["x"]', "44{}", "40", '451-["x",{"_placeholder":true,"num":0}]',
], ids=["truncated", "bad-json", "non-string-event", "empty-event", "not-list", "bad-type",
        "reserved-event", "connect-not-object", "not-connected-namespace", "ack-no-id",
        "client-connect-error", "second-connect", "text-instead-of-attachment"])
async def test_malformed_packet_closes_the_connection(server_url, garbage):
    """A packet the Socket.IO v5 protocol does not allow closes the connection."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
        await ws.send_str(garbage)
        if garbage.startswith("451-"):
            await ws.send_str("not the attachment")
        await assert_closed(ws)


async def test_attachment_placeholder_out_of_range_closes_the_connection(server_url):
    """A binary event whose placeholder names a missing attachment closes the connection."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
        await ws.send_str('451-["echo",{"_placeholder":true,"num":3}]')
        await ws.send_bytes(b"\x01")
        await assert_closed(ws)


async def test_malformed_msgpack_packet_closes_the_connection(server_url):
    """A binary first packet that is not a msgpack map closes the connection."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_bytes(msgpack.packb([0, "/"]))
        await assert_closed(ws)


async def test_msgpack_kick_has_no_nil_data(server_url):
    """A server kick in msgpack is {type: 1, nsp} without data: nil (the JS parser rejects it)."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_bytes(msgpack.packb({"type": 0, "nsp": "/test"}))
        connect = msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))
        assert set(connect) == {"type", "nsp", "data"} and connect["type"] == 0
        welcome = msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT))
        assert welcome == {"type": 2, "nsp": "/test",
                           "data": ["welcome", {"auth": None, "addr": "127.0.0.1"}]}
        await ws.send_bytes(msgpack.packb({"type": 2, "nsp": "/test", "data": ["kick"]}))
        assert msgpack.unpackb(await ws.receive_bytes(timeout=5 * UNIT)) == {"type": 1, "nsp": "/test"}
        await ws.close()


async def test_pending_poll_is_answered_when_client_closes(server_url):
    """A long-poll GET pending when the client POSTs CLOSE gets a CLOSE packet at once."""
    base = server_url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as session:
        async with session.get(base) as r:
            sid = json.loads((await r.text())[1:])["sid"]
        url = f"{base}&sid={sid}"
        async with session.post(url, data="40") as r:
            assert (await r.text()).lower() == "ok"  # the spec's "ok"; python-engineio: "OK"
        async with session.get(url) as r:
            assert (await r.text()).startswith('40{"sid":"')

        async def poll() -> tuple[int, str]:
            async with session.get(url) as r:
                return r.status, await r.text()

        pending = asyncio.ensure_future(poll())
        await asyncio.sleep(0.1 * UNIT)  # let the GET reach the server; the poll is long
        async with session.post(url, data="1") as r:
            assert (await r.text()).lower() == "ok"  # the spec's "ok"; python-engineio: "OK"
        # stock python-engineio answers only after ping_interval + ping_timeout (45 s)
        # Engine.IO v4 (reference test suite): a noop; python-engineio with
        # tests/protocol/stock_adapter.py: CLOSE.
        # A GET that lost the race with the POST finds the session gone: 400, also prompt.
        status, body = await asyncio.wait_for(pending, 5 * UNIT)
        assert (status, body) in ((200, "6"), (200, "1")) or status == 400


@pytest.mark.parametrize("origins,origin,allowed", [
    (None, "SAME", True),
    (None, "http://evil.example", False),
    (("http://good.example",), "http://good.example", True),
    (("http://good.example",), "http://evil.example", False),
    (("*",), "http://any.example", True),
])
async def test_cors_origins(start_server, origins, origin, allowed):
    """--cors-origins decides which Origin may open a session (default: same origin only)."""
    url = await start_server(cors_origins=origins)
    origin = url if origin == "SAME" else origin
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/socket.io/?EIO=4&transport=polling",
                               headers={"Origin": origin}) as r:
            assert r.status == 200 if allowed else r.status in (400, 403)  # ours: 403 Forbidden
            if allowed:
                assert r.headers["Access-Control-Allow-Origin"] == origin
                assert (await r.text()).startswith('0{"sid":"')
        if not allowed:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(ws_url(url), headers={"Origin": origin})


async def test_malformed_packet_in_a_poll_post_ends_the_session_at_once(server_url):
    """A bad packet POSTed with no GET pending gets its answer and ends the session."""
    base = server_url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as session:
        async with session.get(base) as r:
            url = f"{base}&sid={json.loads((await r.text())[1:])['sid']}"
        async with session.post(url, data="40") as r:
            assert (await r.text()).lower() == "ok"  # the spec's "ok"; python-engineio: "OK"
        async with session.get(url) as r:
            assert (await r.text()).startswith('40{"sid":"')
        # stock eio.disconnect() waits for a GET to fetch CLOSE: this POST would never end
        post = session.post(url, data='42["x"\x1e40/test,\x1e42["echo"]')
        async with await asyncio.wait_for(post, 5 * UNIT) as r:
            assert (r.status, (await r.text()).lower()) == (200, "ok")
        async with session.get(url) as r:
            assert r.status == 400


@pytest.mark.parametrize("auth,reply", [
    ('{"refuse":"closed today","emit_first":true}', '44/test,{"message":"closed today"}'),
    ('{"reject":true}', '44/test,{"message":"Connection rejected by server"}'),
    ('{"crash":true}', '44/test,{"message":"internal server error"}'),
    ('{"event_error":"quota reached"}', '44/test,{"message":"quota reached"}'),
])
async def test_refused_connect_frames_and_dropped_emits(server_url, auth, reply):
    """A refused/False/crashing/EventError on_connect answers CONNECT_ERROR only, emits dropped."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str(f"40/test,{auth}")
        assert await ws.receive_str(timeout=5 * UNIT) == reply
        # the session stays usable, and nothing else was queued before this ack
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
        await ws.close()


async def test_session_without_connect_is_closed_after_connect_timeout(start_server):
    """A session that sends no Socket.IO CONNECT is closed after --connect-timeout."""
    url = await start_server(connect_timeout=0.2)
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, url)
        await assert_closed(ws)


@pytest.mark.parametrize("serializer,good,bad", [
    ("json", "40", msgpack.packb({"type": 0, "nsp": "/"})),
    ("msgpack", msgpack.packb({"type": 0, "nsp": "/"}), "40"),
])
async def test_fixed_serializer_accepts_only_its_format(start_server, serializer, good, bad):
    """--serializer json|msgpack serves its own format and closes a session using the other."""
    url = await start_server(serializer=serializer)
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, url)
        await (ws.send_str(good) if isinstance(good, str) else ws.send_bytes(good))
        ack = await ws.receive(timeout=5 * UNIT)
        data = ack.data if serializer == "json" else msgpack.unpackb(ack.data)
        assert data.startswith('40{"sid":"') if serializer == "json" else data["type"] == 0
        await ws.close()
        ws = await open_ws(session, url)
        await (ws.send_str(bad) if isinstance(bad, str) else ws.send_bytes(bad))
        await assert_closed(ws)


async def test_deeply_nested_arrays_are_echoed(start_server):
    """With --max-json-depth 1000, an array nested 900 deep (orjson accepts up to 1024) is
    acked, not lost in recursion."""
    server_url = await start_server(max_json_depth=1000)
    deep = "[" * 900 + "]" * 900
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
        await ws.send_str(f'421["echo",{deep}]')
        assert await ws.receive_str(timeout=5 * UNIT) == f"431[{deep}]"
        await ws.close()


async def test_binary_packet_nested_past_the_recursion_limit_closes(server_url):
    """A binary event nested past Python's recursion limit closes the connection cleanly."""
    n = 1000
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40{"sid":"')
        await ws.send_str('451-["echo",' + "[" * n + '{"_placeholder":true,"num":0}' + "]" * n + "]")
        await ws.send_bytes(b"\x01")
        await assert_closed(ws)


async def test_namespace_can_be_left_and_joined_again(server_url):
    """After a client DISCONNECT of /test, the same session can CONNECT to /test again."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        sids = []
        for _ in range(2):
            await ws.send_str('40/test,{"round":1}')
            ack = await ws.receive_str(timeout=5 * UNIT)
            assert ack.startswith('40/test,{"sid":"')
            sids.append(json.loads(ack[len("40/test,"):])["sid"])
            assert (await ws.receive_str(timeout=5 * UNIT)).startswith('42/test,["welcome"')
            await ws.send_str("41/test,")
        assert sids[0] != sids[1]
        await ws.close()


async def test_packet_for_a_left_namespace_closes_like_node(server_url):
    """After leaving /test, an event for /test closes the connection (Node's "invalid state")."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40/test,")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40/test,{"sid":"')
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('42/test,["welcome"')
        await ws.send_str("41/test,")
        await ws.send_str('42/test,["echo"]')
        await assert_closed(ws)


async def test_transports_option_limits_what_clients_may_use(start_server):
    """--transports polling offers no upgrade and refuses WebSocket; websocket refuses polling."""
    polling_only = await start_server(transports=("polling",))
    websocket_only = await start_server(transports=("websocket",))
    async with aiohttp.ClientSession() as session:
        async with session.get(polling_only + "/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 200
            assert json.loads((await r.text())[1:])["upgrades"] == []
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(ws_url(polling_only))
        async with session.get(websocket_only + "/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 400
        ws = await open_ws(session, websocket_only)
        await ws.close()


async def test_client_leaving_during_on_connect_leaves_no_ghost(server_url, py_client):
    """A session that ends while on_connect runs gets on_disconnect and leaves no room entry."""
    base = server_url + "/socket.io/?EIO=4&transport=polling"
    observer = py_client()
    await observer.connect(server_url, namespaces=["/test"], wait_timeout=5 * UNIT)

    async def ask(event: str, arg: object = None) -> object:
        return await observer.call(event, arg, namespace="/test", timeout=5 * UNIT)

    async with aiohttp.ClientSession() as session:
        async with session.get(base) as r:
            url = f"{base}&sid={json.loads((await r.text())[1:])['sid']}"
        connecting = asyncio.ensure_future(session.post(url, data='40/test,{"gate":"ghost"}'))
        while await ask("members", "ghost") == []:  # on_connect has entered the room
            await asyncio.sleep(0.01)
        [pending_sid] = await ask("members", "ghost")
        async with session.post(url, data="1") as r:  # end the session (close packet)
            assert r.status in (200, 400)  # 400: a second concurrent POST also ends it
        assert await ask("release", "ghost") is True
        async with await asyncio.wait_for(connecting, 5 * UNIT) as r:
            assert r.status == 200
    assert await ask("members", "ghost") == []
    assert pending_sid in await ask("gone")


@pytest.mark.parametrize("name", ["7", "7.0"])
async def test_numeric_event_name_is_handled_as_its_string(server_url, name):
    """A numeric event name (socket.io-parser allows emit(7)) reaches on_7, as Node keys it."""
    async with aiohttp.ClientSession() as session:
        ws = await open_ws(session, server_url)
        await ws.send_str("40/test,")
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('40/test,{"sid":"')
        assert (await ws.receive_str(timeout=5 * UNIT)).startswith('42/test,["welcome"')
        await ws.send_str(f'42/test,3[{name},"x"]')
        assert await ws.receive_str(timeout=5 * UNIT) == '43/test,3[["seven","x"]]'
        await ws.close()
