"""What the Redis recovery store costs: the memory of a saved session in Redis, and the
time an emit spends being logged.

    .venv/bin/python bench/recovery_redis.py [--emits 20000] [--rounds 3] [--json]

Starts its own redis-server (free port, no persistence) and one in-process openline node
(``create_app`` on a free port, /chat and /echo) with ``--redis-url``.

- session: a python-socketio client joins /chat as "ann" in "lobby", joins two more rooms,
  gets one message, and its transport is cut (a transport close, which saves it for
  recovery). Reported: ``MEMORY USAGE`` of its ``openline:recovery:session:...`` key (key,
  value and Redis's overhead, in bytes) and the record's own length; and ``MEMORY USAGE``
  of the /chat log per entry after the emits below (a small chat message each).
- emits: ``--emits`` server-side emits of one small chat message to a room of /chat with no
  member (so what is timed is the emit's own path: the pub/sub publish always, and with
  recovery the append to the log), awaited one after another (the latency an emitting
  handler sees) and in gathers of 100 (appends batched), recovery off
  (``--recovery-window`` unset) and on (300 s), until the publisher has sent them all.
  Best of --rounds, per emit: wall time, this process's CPU, redis-server's CPU
  (utime+stime from /proc/PID/stat, 10 ms ticks), and the append script's time inside
  Redis (INFO commandstats); and a redis-py PING's round trip, for scale.
Loopback only; needs redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
MESSAGE = {"room": "lobby", "nickname": "ann", "text": "hello, is anyone there?", "ts": 1767225600000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"Ready to accept connections" in line:
            break
    else:
        raise RuntimeError("redis-server did not start")
    return proc, f"redis://127.0.0.1:{port}/0"


async def node(redis_url: str, window: float | None) -> Any:
    from aiohttp.test_utils import TestServer
    from openline.app import create_app
    from openline.config import Config

    config = Config(redis_url=redis_url, recovery_window=window, port=0, log_level="warning")
    config.check()
    server = TestServer(create_app(config), host="127.0.0.1", port=0)
    await server.start_server()
    return server


async def session_memory(redis_url: str) -> dict[str, Any]:
    import socketio
    from openline.app import SIO_KEY

    server = await node(redis_url, 300.0)
    sio = server.app[SIO_KEY]
    client = socketio.AsyncClient(reconnection=False)
    got = asyncio.Event()
    client.on("message", lambda *args: got.set(), namespace="/chat")
    url = f"http://127.0.0.1:{server.port}"
    await client.connect(url, namespaces=["/chat"], transports=["websocket"],
                         auth={"nickname": "ann", "room": "lobby"})
    for room in ("general", "random"):
        await client.call("join", room, namespace="/chat")
    await sio.emit("message", MESSAGE, room="lobby", namespace="/chat")
    await asyncio.wait_for(got.wait(), 5)
    sid = client.get_sid("/chat")
    await client.eio.disconnect(abort=True)  # no close packet: a transport close
    while sio.manager.is_connected(sid, "/chat"):
        await asyncio.sleep(0.01)
    redis = sio.recovery.store.redis
    [key] = [k async for k in redis.scan_iter(match="openline:recovery:session:*")]
    usage = await redis.memory_usage(key, samples=0)
    record = await redis.strlen(key)
    await client.disconnect()
    await server.close()
    return {"session_key": key.decode(), "session_memory_usage_bytes": usage,
            "session_record_bytes": record}


async def drained(manager: Any) -> None:
    """Until the pub/sub publisher has sent what the emits queued (both modes publish)."""
    while manager._pending:
        await asyncio.sleep(0.001)
    await manager.redis.ping()


async def timed(sio: Any, emits: int, redis_pid: int, together: int) -> tuple[float, float, float]:
    """(wall, node CPU, redis-server CPU) per emit, microseconds, publishing included."""
    cpu, redis_cpu, start = time.process_time(), cpu_seconds(redis_pid), time.perf_counter()
    for _ in range(emits // together):
        if together == 1:
            await sio.emit("message", MESSAGE, room="nobody", namespace="/chat")
        else:
            await asyncio.gather(*(sio.emit("message", MESSAGE, room="nobody", namespace="/chat")
                                   for _ in range(together)))
    await drained(sio.manager)
    done = emits // together * together
    return ((time.perf_counter() - start) / done * 1e6, (time.process_time() - cpu) / done * 1e6,
            (cpu_seconds(redis_pid) - redis_cpu) / done * 1e6)


async def emit_cost(redis_url: str, redis_pid: int, window: float | None, emits: int) -> dict[str, float]:
    from openline.app import SIO_KEY

    server = await node(redis_url, window)
    sio = server.app[SIO_KEY]
    await timed(sio, 500, redis_pid, 1)  # warm up
    redis = sio.manager.redis
    await redis.config_resetstat()
    result: dict[str, float] = {}
    for name, together in (("sequential", 1), ("gathered", 100)):
        wall, cpu, redis_cpu = await timed(sio, emits, redis_pid, together)
        result |= {f"{name}_us": wall, f"{name}_node_cpu_us": cpu, f"{name}_redis_cpu_us": redis_cpu}
    start = time.perf_counter()
    for _ in range(2000):  # the round trip itself, for scale: the machine may be busy
        await redis.ping()
    result["ping_us"] = (time.perf_counter() - start) / 2000 * 1e6
    stats = await redis.info("commandstats")
    script = stats.get("cmdstat_evalsha", {})
    result["evalsha_calls"] = script.get("calls", 0)
    result["evalsha_usec_per_call"] = script.get("usec_per_call", 0.0)
    if window is not None:
        key = "openline:recovery:log:{/chat}"
        store = sio.recovery.store.redis
        length = await store.xlen(key)
        result["log_entries"] = length
        result["log_bytes_per_entry"] = (await store.memory_usage(key, samples=0)) / length
    await server.close()
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    proc, url = await start_redis()
    try:
        results: dict[str, Any] = await session_memory(url)
        for name, window in (("off", None), ("on", 300.0)):
            runs = [await emit_cost(url, proc.pid, window, args.emits) for _ in range(args.rounds)]
            results[f"recovery_{name}"] = {k: min(r[k] for r in runs) for k in runs[0]}
        return results
    finally:
        proc.terminate()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/recovery_redis.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--emits", type=int, default=20_000, help="emits per measurement (default 20000)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per configuration, best kept (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = ap.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("recovery_redis: redis-server is not installed", file=sys.stderr)
        return 2
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"saved session ({results['session_key']}): MEMORY USAGE "
          f"{results['session_memory_usage_bytes']} B, record {results['session_record_bytes']} B")
    for name in ("off", "on"):
        r = results[f"recovery_{name}"]
        for way, label in (("sequential", "awaited one by one"), ("gathered", "in gathers of 100")):
            print(f"recovery {name:3}, {label:18}: {r[way + '_us']:6.1f} us/emit wall, node CPU "
                  f"{r[way + '_node_cpu_us']:5.1f} us, redis-server CPU {r[way + '_redis_cpu_us']:5.1f} us")
    on = results["recovery_on"]
    print(f"a redis-py PING awaited one by one meanwhile: {on['ping_us']:.1f} us")
    print(f"append script: {on['evalsha_calls']} EVALSHA calls for {2 * args.emits} emits, "
          f"{on['evalsha_usec_per_call']} us each inside Redis (INFO commandstats)")
    print(f"the log: {on['log_entries']} entries, {on['log_bytes_per_entry']:.0f} B each (MEMORY USAGE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
