"""Attack: a few thousand seeded fuzz cases over Engine.IO WebSocket, long-polling and the
bridge (tests/abuse/fuzz.py). No traceback for any of them, a bounded number of log
records, and a health client answering within 1 s throughout; `make fuzz` runs more."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from aiohttp import web

from tests.abuse import fuzz
from tests.conftest import UNIT

SEED = 20261201
CASES_PER_PATH = 900


def exc_records(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:300]}" for r in records
            if r.exc_info or r.exc_text or "Traceback" in r.getMessage()]


async def test_fuzz_leaves_no_traceback_and_a_live_health_client(start_server, caplog):
    """2,700 seeded cases over the three paths: no log record carries a traceback, fewer
    than 2 openline records per case, no hang, and both health clients answer every echo
    within 1 s, during the run and after it."""
    caplog.set_level(logging.WARNING)
    # the built-ins only: tests/plugins/probe.py raises on purpose (crash, unencodable)
    url = await start_server(plugins_dirs=())
    health = fuzz.Health(url, every=0.1, deadline=1.0)
    await health.start()
    started = time.monotonic()
    # request heads aiohttp's parser refuses are judged under `openline run` (make fuzz,
    # test_logs.py): its connection guard answers them, aiohttp's TestServer logs a traceback
    stats = await fuzz.fuzz(url, SEED, CASES_PER_PATH, concurrency=8, http_garbage=False)
    elapsed = time.monotonic() - started
    await health.stop()
    cases = sum(stats.cases.values())
    assert cases == 3 * CASES_PER_PATH
    # replay one: python tests/abuse/fuzz.py --seed 20261201 --tame --replay engine:254
    assert stats.findings == []
    assert exc_records(caplog.records) == []
    ours = [r for r in caplog.records if r.name.startswith("openline")]
    assert len(ours) < 2 * cases, [r.getMessage()[:120] for r in ours[:20]]
    assert health.misses == [], health.summary()
    assert min(len(v) for v in health.latencies.values()) >= int(elapsed / 0.2)  # it ran throughout
    assert elapsed < 30 * UNIT


async def test_fuzz_cases_leave_no_session_behind(start_node):
    """Once 900 fuzz cases have ended (and abandoned polling sessions have timed out), the
    server holds no session of theirs: every environ python-socketio keeps is gone."""
    node = await start_node(ping_interval=0.5, ping_timeout=0.5, connect_timeout=1.0)
    stats = await fuzz.fuzz(node.url, SEED + 1, 300, concurrency=8, http_garbage=False)
    assert stats.findings == []
    deadline = time.monotonic() + 5 * UNIT
    while node.sio.environ and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    left = list(node.sio.environ)
    # bridge sids are "b" + 20 characters, Engine.IO's 20
    bridge = [sid for sid in left if len(sid) == 21 and sid.startswith("b")]
    assert left == [], f"{len(left)} sessions left behind, {len(bridge)} of them bridge sessions"


async def test_refused_bridge_connections_leave_no_session(start_node):
    """The fuzz's leak, minimized: bridge connections refused by the namespace (4404
    unknown, 4403 refused by on_connect) end with no session left on the server."""
    node = await start_node()
    port = int(node.url.rsplit(":", 1)[1])
    stats = fuzz.Stats()
    for target in ["/nope", "/chat"] * 10:  # /chat without a nickname: refused
        await fuzz.run_case("127.0.0.1", port, fuzz.Case("bridge", 0, target), stats)
    assert dict(stats.outcomes) == {"bridge closed 4404": 10, "bridge closed 4403": 10}
    deadline = time.monotonic() + 2 * UNIT
    while node.sio.environ and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(node.sio.environ) == 0, (
        f"{len(node.sio.environ)} refused bridge sessions stay in sio.environ and sio._foreign: aiohttp "
        "cancels the handler while BridgeSession.run()'s finally awaits the close, so "
        "_handle_eio_disconnect never runs")


def live_websockets() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, web.WebSocketResponse))


async def test_refused_bridge_connections_release_their_socket_at_once(start_node):
    """The fuzz's RSS growth, minimized: the WebSocket of a refused bridge connection
    (and with it the request and transport, ~8 KB) is freed once it has closed, not kept
    by its heartbeat timer until the next --ping-interval."""
    node = await start_node(ping_interval=20.0, ping_timeout=20.0)
    port = int(node.url.rsplit(":", 1)[1])
    before = live_websockets()
    stats = fuzz.Stats()
    for target in ["/nope", "/chat"] * 10:
        await fuzz.run_case("127.0.0.1", port, fuzz.Case("bridge", 0, target), stats)
    assert dict(stats.outcomes) == {"bridge closed 4404": 10, "bridge closed 4403": 10}
    deadline = time.monotonic() + 2 * UNIT
    while live_websockets() > before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert live_websockets() - before == 0, (
        "refused bridge WebSockets stay alive: aiohttp's WebSocketResponse._send_heartbeat "
        "timer is still scheduled after the close (it holds each for --ping-interval)")


def test_cases_are_deterministic_per_seed():
    """The same seed, path and index give the same case; another seed gives others."""
    for path in fuzz.PATHS:
        first = [fuzz.generate(SEED, path, i) for i in range(50)]
        assert first == [fuzz.generate(SEED, path, i) for i in range(50)]
        assert first != [fuzz.generate(SEED + 1, path, i) for i in range(50)]


def test_generator_covers_the_attack_shapes():
    """Among the in-suite cases are the shapes the fuzz exists for: connects to /chat,
    binary events with attachments, huge ids, nesting past 1,000 levels, invalid UTF-8,
    control characters, odd WebSocket framing, multi-record polling bodies, binary POSTs,
    and bridge acks and $binary envelopes."""
    seen: set[str] = set()
    for i in range(CASES_PER_PATH):
        for path in fuzz.PATHS:
            case = fuzz.generate(SEED, path, i)
            payloads = [f.payload for f in case.frames if f.opcode in (fuzz.TEXT, fuzz.BINARY)]
            payloads += [r.get("raw", b"") for r in case.requests]
            for f in case.frames:
                if f.opcode == fuzz.BINARY:
                    seen.add(f"{path} binary")
                if f.opcode not in (fuzz.TEXT, fuzz.BINARY) or not f.fin or f.rsv:
                    seen.add(f"{path} framing")
            for p in payloads:
                if p.startswith(b'40/chat,{"nickname"'):
                    seen.add("engine chat connect")
                if p.startswith(b"451-"):
                    seen.add("engine binary event")
                if p.startswith(b"42") and p[2:3].isdigit() and len(p.split(b"[")[0]) > 22:
                    seen.add("huge id")
                if b"[" * 1001 in p or b'{"a":' * 1001 in p:
                    seen.add(f"{path} deep")
                try:
                    p.decode()
                except UnicodeDecodeError:
                    seen.add(f"{path} invalid utf-8")
                if any(c in p for c in (b"\x00", b"\x1b", b"\n")):
                    seen.add(f"{path} control")
                if path == "polling" and b"\x1e" in p:
                    seen.add("polling records")
                if path == "bridge" and p.startswith(b'{"ack"'):
                    seen.add("bridge ack")
                if path == "bridge" and b'"$binary"' in p:
                    seen.add("bridge $binary")
            if any(r.get("type") == "application/octet-stream" for r in case.requests):
                seen.add("polling binary post")
    expected = {"engine chat connect", "engine binary event", "huge id", "polling records",
                "polling binary post", "bridge ack", "bridge $binary"}
    expected |= {f"{p} {what}" for p in fuzz.PATHS for what in ("deep", "invalid utf-8", "control")}
    expected |= {f"{p} {what}" for p in ("engine", "bridge") for what in ("binary", "framing")}
    assert expected - seen == set()
