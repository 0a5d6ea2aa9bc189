"""HTTP and connection attacks on a real ``openline run``: slowloris, idle and stalled
connections, descriptor exhaustion, connections per address, malformed-request floods,
version disclosure. The guards live in server/net/http_guard.py and server/net/accept.py
(installed by listen.py), so the tests run the server as users do, as a child process,
and read its log; only accept()'s own EMFILE, which needs a failing socket, is in-process.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from openline.config import Config
from openline.net import accept
from openline.net.http_guard import Guard

from tests.conftest import ROOT, TEST_PLUGINS, UNIT

MARGIN = 1.0 * UNIT  # how late a timeout may act on a loaded test box


@pytest.fixture
def openline(node_processes: Any) -> Any:
    """``srv = await openline(*flags, nofile=None)``: a started ``NodeProcess`` (its
    whole output in ``srv.log``), stopped at teardown."""
    return node_processes


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def connect() -> AsyncIterator[Any]:
    """``reader, writer = await connect(port)``: raw TCP connections, closed at teardown."""
    writers: list[asyncio.StreamWriter] = []

    async def open_one(port: int) -> Conn:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port),
                                                5 * UNIT)
        writers.append(writer)
        return reader, writer

    yield open_one
    for writer in writers:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def until_closed(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took; fails when
    the connection is still open after ``within`` seconds."""
    start = time.monotonic()
    received = bytearray()
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                received.extend(chunk)
    except TimeoutError:
        raise AssertionError(f"still open after {within:.1f} s; got {bytes(received)[:200]!r}") \
            from None
    except ConnectionResetError:
        pass
    return bytes(received), time.monotonic() - start


async def get(url: str, path: str = "/status") -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http, http.get(url + path) as response:
        await response.read()
        return response


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    assert match, f"not an HTTP response: {answer[:200]!r}"
    return int(match.group(1))


async def test_slowloris_heads_are_closed_within_header_timeout(openline: Any, connect: Any) -> None:
    """300 trickled heads get 408 and close after --header-timeout; a healthy client is served meanwhile."""
    srv = await openline("--header-timeout", "0.5")
    conns = [await connect(srv.port) for _ in range(300)]
    for _, writer in conns:
        writer.write(b"GET /status HTTP/1.1\r\nHost: x\r\n")

    async def trickle(writer: asyncio.StreamWriter) -> None:
        for _ in range(30):  # a header byte every 0.1 s: never completes the head
            await asyncio.sleep(0.1)
            if writer.is_closing():
                return
            writer.write(b"X")

    trickling = [asyncio.ensure_future(trickle(w)) for _, w in conns]
    assert (await get(srv.url)).status == 200
    results = await asyncio.gather(*(until_closed(r, 0.5 + 2 * MARGIN) for r, _ in conns))
    assert {status_of(answer) for answer, _ in results} == {408}
    assert max(took for _, took in results) < 0.5 + 2 * MARGIN
    for task in trickling:
        task.cancel()
    for _, writer in conns:
        writer.close()
    assert "Traceback" not in srv.log


async def test_silent_connection_is_closed_within_header_timeout(openline: Any, connect: Any) -> None:
    """A connection that never sends a byte gets 408 and closes after --header-timeout (0.5 s)."""
    srv = await openline("--header-timeout", "0.5")
    reader, writer = await connect(srv.port)
    answer, took = await until_closed(reader, 0.5 + 2 * MARGIN)
    assert status_of(answer) == 408 and took >= 0.4
    writer.close()


async def test_idle_keep_alive_connection_is_closed_after_idle_timeout(openline: Any, connect: Any) -> None:
    """A keep-alive connection idle after one answered request is closed after --idle-timeout (0.5 s)."""
    srv = await openline("--idle-timeout", "0.5", "--header-timeout", "30")
    reader, writer = await connect(srv.port)
    writer.write(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
    assert status_of(head) == 200
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    await asyncio.wait_for(reader.readexactly(length), 5 * UNIT)
    rest, took = await until_closed(reader, 0.5 + 2 * MARGIN)
    assert rest == b"" and 0.4 <= took < 0.5 + 2 * MARGIN
    writer.close()


async def polling_sid(url: str) -> str:
    async with aiohttp.ClientSession() as http, \
            http.get(url + "/socket.io/?EIO=4&transport=polling") as response:
        text = await response.text()
    match = re.search(r'"sid":"([^"]+)"', text)
    assert match, text
    return match.group(1)


async def test_a_waiting_poll_is_not_idle_and_its_connection_idles_out_after(
        openline: Any, connect: Any) -> None:
    """A GET waiting 3x --idle-timeout (0.5 s) for data is answered, then its connection idles out."""
    srv = await openline("--idle-timeout", "0.5", "--header-timeout", "30")
    sid = await polling_sid(srv.url)
    target = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    reader, writer = await connect(srv.port)

    async def poll() -> bytes:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
        assert status_of(head) == 200
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        return await asyncio.wait_for(reader.readexactly(length), 5 * UNIT)

    async with aiohttp.ClientSession() as http:
        async with http.post(srv.url + target, data="40") as response:
            assert await response.text() == "ok"
        assert (await poll()).startswith(b'40{"sid":"')
        waiting = asyncio.ensure_future(poll())
        await asyncio.sleep(1.5)  # the behaviour under test is a duration: three idle timeouts
        assert not waiting.done()
        async with http.post(srv.url + target, data='42["message","late"]') as response:
            assert await response.text() == "ok"
        assert await waiting == b'42["message","late"]'
    rest, took = await until_closed(reader, 0.5 + 2 * MARGIN)
    assert rest == b"" and 0.4 <= took < 0.5 + 2 * MARGIN
    writer.close()


async def stalled_post(connect: Any, port: int, path: str, *headers: str) -> tuple[bytes, float]:
    """A POST declaring 900,000 body bytes that sends one: what comes back, and when."""
    reader, writer = await connect(port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 900000",
             "Content-Type: text/plain;charset=UTF-8", *headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + b"4")
    try:
        return await until_closed(reader, 0.5 + 2 * MARGIN)
    finally:
        writer.close()


async def test_stalled_polling_post_ends_after_body_timeout(openline: Any, connect: Any) -> None:
    """A polling POST stalled after 1 of 900,000 body bytes gets 408 and closes after --body-timeout."""
    srv = await openline("--body-timeout", "0.5")
    sid = await polling_sid(srv.url)
    answer, took = await stalled_post(connect, srv.port, f"/socket.io/?EIO=4&transport=polling&sid={sid}")
    assert status_of(answer) == 408 and 0.4 <= took < 0.5 + 2 * MARGIN
    assert "Traceback" not in srv.log


async def test_stalled_api_post_ends_after_body_timeout(openline: Any, connect: Any) -> None:
    """An /api/v1/emit POST stalled after 1 of 900,000 body bytes gets 408 and closes after --body-timeout."""
    srv = await openline("--body-timeout", "0.5", "--api-token", "t0ken")
    answer, took = await stalled_post(connect, srv.port, "/api/v1/emit", "Authorization: Bearer t0ken")
    assert status_of(answer) == 408 and 0.4 <= took < 0.5 + 2 * MARGIN
    assert "Traceback" not in srv.log


async def test_descriptor_exhaustion_refuses_at_once_and_quietly(openline: Any, connect: Any) -> None:
    """128 descriptors, --fd-headroom 16: a 300-connect burst gets 503 at once past 112, quietly."""
    srv = await openline("--fd-headroom", "16", "--header-timeout", "30", nofile=128)
    burst = await asyncio.gather(*(connect(srv.port) for _ in range(300)))

    async def answer(reader: asyncio.StreamReader) -> bytes | None:
        try:  # an admitted connection says nothing until its head times out (30 s)
            return await asyncio.wait_for(reader.read(200), 0.5 * UNIT)
        except TimeoutError:
            return None

    answers = await asyncio.gather(*(answer(reader) for reader, _ in burst))
    held = [conn for conn, got in zip(burst, answers, strict=True) if got is None]
    refused = [got for got in answers if got is not None]
    assert 64 < len(held) <= 128 - 16
    assert {status_of(got) for got in refused} == {503}
    for _ in range(20):  # still refused at once, the request read (no reset)
        reader, writer = await connect(srv.port)
        writer.write(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        got, took = await until_closed(reader, MARGIN)
        assert status_of(got) == 503 and b"Connection: close" in got
    assert len(srv.output) < 20_000 and "Traceback" not in srv.log, srv.log[-2000:]
    for _, writer in held:
        writer.close()
    for _ in range(int(50 * UNIT)):  # the descriptors come back as the server sees the closes
        if (await get(srv.url)).status == 200:
            break
        await asyncio.sleep(0.1)
    assert (await get(srv.url)).status == 200


async def test_sixth_connection_from_one_address_gets_503(openline: Any, connect: Any) -> None:
    """--max-connections-per-address 5: a sixth connection gets 503 at once; after a close, one is served."""
    srv = await openline("--max-connections-per-address", "5")
    five = [await connect(srv.port) for _ in range(5)]
    for _ in range(20):  # a request sent at once still reads the answer (no reset)
        reader, writer = await connect(srv.port)
        writer.write(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        answer, took = await until_closed(reader, MARGIN)
        assert status_of(answer) == 503 and b"too many connections" in answer
        writer.close()
    five[0][1].close()
    for _ in range(int(50 * UNIT)):  # the server sees the close a moment later
        if (await get(srv.url)).status == 200:
            break
        await asyncio.sleep(0.1)
    assert (await get(srv.url)).status == 200
    for _, w in five[1:]:
        w.close()


async def test_malformed_request_flood_logs_little_and_no_traceback(openline: Any, connect: Any) -> None:
    """2,000 garbage request lines each get 400; the log grows under 5 KB for all of them, no traceback."""
    srv = await openline()
    before = len(srv.output)

    async def garbage(i: int) -> int:
        reader, writer = await connect(srv.port)
        writer.write(b"GET /\x01\x7f%d HTTP/1.1 junk\r\n\r\n" % i)
        answer, _ = await until_closed(reader, 5 * UNIT)
        writer.close()
        return status_of(answer)

    for batch in range(20):
        statuses = await asyncio.gather(*(garbage(batch * 100 + i) for i in range(100)))
        assert set(statuses) == {400}
    assert len(srv.output) - before < 5_000, srv.log[-2000:]
    assert "Traceback" not in srv.log and "malformed HTTP request" in srv.log


async def test_no_response_names_a_server_version(openline: Any, connect: Any) -> None:
    """Every response (page, 404, polling, 101, aiohttp's 400, our 408 and 503) says Server: openline."""
    srv = await openline("--header-timeout", "0.5", "--max-connections-per-address", "5")
    servers: list[str] = []
    async with aiohttp.ClientSession() as http:
        for path in ("/status", "/nowhere", "/socket.io/?EIO=4&transport=polling"):
            async with http.get(srv.url + path) as response:
                servers.append(response.headers.get("Server", ""))
        async with http.ws_connect(srv.url + "/socket.io/?EIO=4&transport=websocket") as ws:
            servers.append(ws._response.headers.get("Server", ""))
    reader, writer = await connect(srv.port)
    writer.write(b"\x16\x03\x01 not http\r\n\r\n")
    raw = [(await until_closed(reader, 5 * UNIT))[0]]
    reader, writer = await connect(srv.port)
    raw.append((await until_closed(reader, 0.5 + 2 * MARGIN))[0])  # 408
    held = [await connect(srv.port) for _ in range(5)]
    reader, writer = await connect(srv.port)
    raw.append((await until_closed(reader, MARGIN))[0])  # 503
    assert [status_of(a) for a in raw] == [400, 408, 503]
    for answer in raw:
        servers += re.findall(r"(?im)^Server: *(.*?)\r$", answer.decode(errors="replace")) or [""]
    assert servers == ["openline"] * 7, servers
    for _, w in held:
        w.close()


async def test_tracebacks_carry_no_uvloop_import_error(openline: Any) -> None:
    """A handler's traceback in the log does not start with "No module named 'uvloop'"."""
    srv = await openline("--plugins-dir", str(TEST_PLUGINS))
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(srv.url, namespaces=["/test"], transports=["websocket"])
    await client.emit("crash", namespace="/test")
    await client.call("echo", 1, namespace="/test", timeout=5 * UNIT)  # after the crash
    await client.disconnect()
    await srv.stop()
    assert "RuntimeError" in srv.log
    assert "uvloop" not in srv.log and "During handling" not in srv.log


async def test_status_page_shows_no_file_paths(openline: Any) -> None:
    """/status lists each namespace's path, but neither its class nor the file it came from."""
    srv = await openline("--plugins-dir", str(TEST_PLUGINS))
    async with aiohttp.ClientSession() as http:
        async with http.get(srv.url + "/status") as response:
            page = await response.text()
        async with http.get(srv.url + "/status", headers={"Accept": "application/json"}) as response:
            doc = await response.text()
    assert "<code>/test</code>" in page and '"/test"' in doc
    for text in (page, doc):
        assert "ProbeNamespace" not in text and "probe" not in text
        assert str(ROOT) not in text and ".py" not in text and "<th>from</th>" not in text


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_clients_outlive_short_http_timeouts(openline: Any, transport: str) -> None:
    """A websocket or polling client lives 2 s under 0.5 s head/idle/body timeouts and answers an emit."""
    srv = await openline("--header-timeout", "0.5", "--idle-timeout", "0.5",
                         "--body-timeout", "0.5")
    client = socketio.AsyncClient(reconnection=False)
    disconnects: list[Any] = []
    client.on("disconnect", lambda *reason: disconnects.append(reason))
    await client.connect(srv.url, transports=[transport])
    await asyncio.sleep(2)  # four head and idle timeouts long
    assert await client.call("echo", "still here", timeout=5 * UNIT) == "still here"
    assert client.connected and not disconnects
    await client.disconnect()
    assert "Traceback" not in srv.log


async def test_client_leaving_mid_body_leaves_no_traceback(openline: Any, connect: Any) -> None:
    """A client leaving halfway through a body (API and polling POST) costs no traceback in the log."""
    srv = await openline("--api-token", "t0ken")
    sid = await polling_sid(srv.url)
    for path, extra in (("/api/v1/emit", "Authorization: Bearer t0ken\r\n"),
                        (f"/socket.io/?EIO=4&transport=polling&sid={sid}", "")):
        reader, writer = await connect(srv.port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9000\r\n"
                     f"{extra}\r\n4".encode())
        await writer.drain()
        writer.transport.abort()
    assert (await get(srv.url)).status == 200  # the server has handled both closes by now
    await srv.stop()
    assert "Traceback" not in srv.log, srv.log[-3000:]


async def test_accept_out_of_descriptors_is_one_line_and_paused(caplog: Any) -> None:
    """accept() failing with EMFILE is one WARNING, no traceback, and pauses the listener (no retry loop)."""
    calls: list[float] = []

    class Exhausted(socket.socket):
        def accept(self) -> Any:
            calls.append(time.monotonic())
            raise OSError(errno.EMFILE, "Too many open files")

    listening = Exhausted(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    caplog.set_level(logging.INFO, logger="openline.http")
    listener = accept.Listener([listening], None, Guard(Config()), 16, 128)  # type: ignore[arg-type]
    with socket.create_connection(listening.getsockname()):  # makes it readable, for ever
        await asyncio.sleep(accept.ACCEPT_RETRY * 2.5)
    listener.close()
    assert 2 <= len(calls) <= 4  # once per ACCEPT_RETRY, not once per loop turn
    lines = [r for r in caplog.records if r.name == "openline.http"]
    assert [r.levelname for r in lines] == ["WARNING"] and not lines[0].exc_info
    assert "cannot accept connections" in lines[0].getMessage()
