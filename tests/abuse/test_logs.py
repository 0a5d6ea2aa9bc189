"""Attack: the log as the target. Ten thousand bad frames, a thousand malformed HTTP
requests and a namespace or nickname holding a newline, against a real `openline run`:
the log stays small (server/logsafe.py lets at most 20 lines per message template per
10 s through), every line is one real record, and none is a traceback."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any
from urllib.parse import quote

import pytest

from tests.abuse import fuzz
from tests.cluster.conftest import NodeProcess
from tests.conftest import UNIT

RECORD = re.compile(rb"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
BANNER = re.compile(rb"openline listening on (http://\S+)")
LOG_WINDOW = 10.0  # seconds: server/logsafe.py's RateLimitFilter interval (and http_guard's)


class Openline(NodeProcess):
    """``python -m openline run --port 0 --log-level info`` as a child (all it writes kept
    in ``output``), with the fuzz's raw client to attack it."""

    def __init__(self, *args: str) -> None:
        super().__init__("--log-level", "info", *args)
        self._marks = itertools.count()

    async def send(self, path: str, target: str, frames: list[str], stats: fuzz.Stats) -> None:
        """One WebSocket connection (fuzz.py's raw client) sending ``frames`` as text."""
        case = fuzz.Case(path, 0, target, frames=[fuzz.text_frame(f) for f in frames])
        await fuzz.run_case("127.0.0.1", self.port, case, stats)

    async def settled(self) -> int:
        """The size of the output once everything logged before this call is in it: a
        bridge client joins /chat under a fresh nickname and the join line is awaited."""
        nickname = f"mark{next(self._marks)}"
        await self.send("bridge", f"/chat?nickname={nickname}", [], fuzz.Stats())
        line = f"joined /chat as {nickname}".encode()
        for _ in range(int(200 * UNIT)):
            if line in self.output:
                return len(self.output)
            await asyncio.sleep(0.025)
        raise AssertionError(f"{line!r} never logged: {bytes(self.output[-2000:])!r}")


@pytest.fixture
async def openline() -> AsyncIterator[Openline]:
    """A fresh `openline run` with the built-in namespaces, its output in ``output``."""
    server = Openline()
    await server.start()
    yield server
    await server.stop()


async def bounded(jobs: Iterable[Awaitable[Any]], at_once: int = 16) -> None:
    """Run ``jobs`` ``at_once`` at a time."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await job

    await asyncio.gather(*(worker() for _ in range(at_once)))


ENGINE = "/socket.io/?EIO=4&transport=websocket"
BAD_ENVELOPES = ('{"event":"error"}', '{"event":"echo","id":-1}', '{"event":"echo","extra":1}',
                 '{"ack":"x","data":[]}')


def foreign_lines(output: bytes) -> list[bytes]:
    """Lines that are not one whole log record (the banner aside)."""
    return [line for line in output.splitlines()
            if line and not RECORD.match(line) and not BANNER.match(line)]


async def test_ten_thousand_bad_frames_cost_under_30_kb_of_log(openline):
    """10,000 bad packets (6,000 on Engine.IO connections, each closing its connection,
    and 4,000 malformed envelopes on 10 bridge connections, which stay open) add less than
    30 KB to the log, all of it whole records, no traceback."""
    before = await openline.settled()
    started = time.monotonic()
    stats = fuzz.Stats()
    jobs = [openline.send("engine", ENGINE, ["40", '42["error"]'], stats) for _ in range(4000)]
    jobs += [openline.send("engine", ENGINE, ['42/t,["error"]'], stats) for _ in range(2000)]
    envelopes = [BAD_ENVELOPES[i % len(BAD_ENVELOPES)] for i in range(400)]
    jobs += [openline.send("bridge", "/", envelopes, stats) for _ in range(10)]
    await bounded(jobs)
    after = await openline.settled()
    windows = math.ceil((time.monotonic() - started) / LOG_WINDOW)  # the filter's budget renews
    assert stats.findings == []
    assert stats.frames == 4000 * 2 + 2000 + 4000
    assert stats.outcomes["engine closed 1000"] == 6000  # each bad packet closed its connection
    added = bytes(openline.output[before:after])
    assert b"Traceback" not in added
    assert foreign_lines(added) == []
    # the bad frames' own lines and the 6,010 connections' (open, connected, disconnected,
    # closed: at most 20 lines of each template per window)
    assert len(added) < 30_000 * windows, f"{len(added)} bytes of log for 10,000 bad frames"


FORGED = "2026-01-01 00:00 INFO forged"  # no comma: it would end a namespace


async def test_a_newline_in_a_namespace_or_nickname_forges_no_log_line(openline):
    """A newline in a namespace (Engine.IO over WebSocket and polling, bridge path) or in
    a chat nickname is logged as the escape \\n: every line of the output is one whole
    record, and the forged text appears only after a literal \\n."""
    before = await openline.settled()
    stats = fuzz.Stats()
    forged_ns = f"/x\n{FORGED}"
    await openline.send("engine", ENGINE, [f"40{forged_ns},"], stats)
    await openline.send("engine", ENGINE, [f'42{forged_ns},["x"]'], stats)
    await openline.send("bridge", quote(forged_ns), [], stats)
    nickname = quote(f"a\r\u2028\n{FORGED}", safe="")  # 32 characters: the longest allowed
    await openline.send("bridge", f"/chat?nickname={nickname}", [], stats)
    polling = fuzz.Case("polling", 0, "/socket.io/?EIO=4&transport=polling", requests=[
        {"method": "POST", "sid": "valid", "type": "text/plain;charset=UTF-8",
         "raw": f'40{forged_ns},\x1e42{forged_ns},["x"]'.encode()}])
    await fuzz.run_case("127.0.0.1", openline.port, polling, stats)
    after = await openline.settled()
    assert stats.findings == []
    added = bytes(openline.output[before:after])
    assert b"Traceback" not in added
    assert foreign_lines(added) == []
    assert not re.search(rb"(^|[\n\r])2026-01-01", added)
    escaped = [line for line in added.splitlines() if b"\\n" + FORGED.encode() in line]
    # on WebSocket and on polling the refused CONNECT ("CONNECT to /x\n... refused:
    # Invalid namespace") and the refused event ("packet for namespace /x\n... before its
    # CONNECT"), and the chat join of the nickname
    assert len(escaped) == 5, added.decode(errors="replace")
    assert all(RECORD.match(line) for line in escaped)


async def test_a_thousand_malformed_http_requests_cost_under_10_kb_of_log(openline):
    """1,000 connections sending `GARBAGE\\r\\n\\r\\n` each get a 400 and add less than
    10 KB of log, all whole records, without a traceback."""
    before = await openline.settled()
    started = time.monotonic()
    statuses: list[bytes] = []

    async def garbage() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", openline.port)
        try:
            writer.write(b"GARBAGE\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(-1), 5 * UNIT)
            statuses.append(answer.split(b"\r\n", 1)[0].split(b" ")[1])
        finally:
            writer.close()
            await writer.wait_closed()

    await bounded(garbage() for _ in range(1000))
    after = await openline.settled()
    windows = math.ceil((time.monotonic() - started) / LOG_WINDOW)
    assert statuses == [b"400"] * 1000
    added = bytes(openline.output[before:after])
    assert b"Traceback" not in added, (
        "a malformed request line is logged with aiohttp's traceback (`Error handling request`): "
        + added.decode(errors="replace")[:1500])
    assert foreign_lines(added) == []
    assert 1 <= added.count(b" openline.http: malformed HTTP request") <= windows  # one per interval
    assert len(added) < 10_000, f"{len(added)} bytes of log for 1,000 malformed requests"
