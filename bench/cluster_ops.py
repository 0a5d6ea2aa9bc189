"""What each cluster-wide operation (server.cluster, server/cluster/queries.py) costs:
one node without Redis versus a call on node A of two nodes sharing a redis-server.

    .venv/bin/python bench/cluster_ops.py [--runs 100] [--clients 10] [--json]

Nodes are ``openline run`` processes serving tests/cluster/wide/plugins/ops_ns.py;
``--clients`` python-socketio clients sit in room ``r`` of /ops (all on the one node; half
on A, half on B in the cluster) and ack the event ``q``. Each operation is called
``--runs`` times through /opsctl on the one node / node A; the figure is the median of the
time the node itself measured around the call (the controlling client's round trip left
out), in milliseconds. Loopback, quiet machine assumed; needs redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

import socketio

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "cluster" / "wide" / "plugins"
PYTHON = sys.executable

# what @socket.io/redis-adapter (lib/index.ts) and socket.io-adapter's ClusterAdapter do
NODE = {
    "fetch_sockets": "PUBSUB NUMSUB of the request channel, then waits for that many "
                     "answers; past requestsTimeout (5 s) rejects: no partial result",
    "rooms_of": "no API: fetchSockets on io.in(sid), as above",
    "room_counts": "allRooms() (names only, no counts), waits as fetchSockets; timeout rejects",
    "sockets_join": "socketsJoin: published, no answer, nothing to wait for or count",
    "sockets_leave": "socketsLeave: as socketsJoin",
    "disconnect_sockets": "disconnectSockets: as socketsJoin",
    "server_side_emit": "serverSideEmitWithAck: waits NUMSUB-1 answers; at the timeout "
                        "ack(err, answers so far)",
    "broadcast_with_ack": "each node answers its client count, then one message per ack; "
                          "at the timeout an error with the acks so far, no list of the "
                          "clients that did not answer",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0",
        "--log-level", "warning", "--plugins-dir", str(PLUGINS), *args, cwd=str(ROOT),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    while line := (await asyncio.wait_for(proc.stdout.readline(), 30)).decode():
        match = re.search(r"openline listening on (http://\S+)", line)
        if match:
            asyncio.ensure_future(_drain(proc.stdout))
            return proc, match.group(1)
    raise SystemExit("a node exited before listening")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def redis_server() -> tuple[asyncio.subprocess.Process, str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    while b"Ready to accept connections" not in await proc.stdout.readline():
        pass
    asyncio.ensure_future(_drain(proc.stdout))
    return proc, f"redis://127.0.0.1:{port}/0"


async def clients(urls: list[str], count: int) -> tuple[list[socketio.AsyncClient], list[str]]:
    made, sids = [], []
    for i in range(count):
        client = socketio.AsyncClient(reconnection=False)
        client.on("q", lambda *args: "yes", namespace="/ops")
        await client.connect(urls[i % len(urls)], namespaces=["/ops"], auth={"rooms": ["r"]})
        made.append(client)
        sids.append(client.get_sid("/ops"))
    return made, sids


async def measure(ctl: socketio.AsyncClient, runs: int, far_sid: str) -> dict[str, float]:
    calls: dict[str, tuple[list[Any], dict[str, Any]]] = {
        "fetch_sockets": (["r"], {"namespace": "/ops"}),
        "rooms_of": ([far_sid], {"namespace": "/ops"}),
        "room_counts": (["/ops"], {}),
        "sockets_join": (["x", "r"], {"namespace": "/ops"}),
        "sockets_leave": (["x", "r"], {"namespace": "/ops"}),
        "disconnect_sockets": (["nobody"], {"namespace": "/ops"}),
        "server_side_emit": (["ping"], {"namespace": "/ops", "ack": True}),
        "broadcast_with_ack": (["q"], {"namespace": "/ops", "room": "r", "timeout": 5}),
    }
    medians = {}
    for name, (args, kwargs) in calls.items():
        times = []
        for _ in range(runs):
            answer = await ctl.call("do", {"call": name, "args": args, "kwargs": kwargs},
                                    namespace="/opsctl", timeout=30)
            assert "result" in answer and not answer["result"].get("missing"), answer
            times.append(answer["seconds"] * 1000)
        medians[name] = statistics.median(times)
    return medians


async def scenario(urls: list[str], count: int, runs: int) -> dict[str, float]:
    made, sids = await clients(urls, count)
    ctl = socketio.AsyncClient(reconnection=False)
    await ctl.connect(urls[0], namespaces=["/opsctl"])
    try:
        for _ in range(200):  # the nodes find each other within a round trip
            if len(await ctl.call("nodes", namespace="/opsctl")) == len(urls):
                break
            await asyncio.sleep(0.05)
        far = sids[1] if len(urls) > 1 else sids[0]  # a client on node B in the cluster
        return await measure(ctl, runs, far)
    finally:
        for client in [ctl, *made]:
            await client.disconnect()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    procs = []
    try:
        single, url = await start()
        procs.append(single)
        local = await scenario([url], opts.clients, opts.runs)
        redis, redis_url = await redis_server()
        procs.append(redis)
        a, url_a = await start("--redis-url", redis_url)
        b, url_b = await start("--redis-url", redis_url)
        procs += [a, b]
        cross = await scenario([url_a, url_b], opts.clients, opts.runs)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    if opts.json:
        print(json.dumps({"local_ms": local, "cross_ms": cross}, indent=2))
        return
    print(f"median of {opts.runs} calls, {opts.clients} clients in room r, ms\n")
    print("| operation | one node | two nodes (call on A) | Node's redis adapter |")
    print("|---|---:|---:|---|")
    for name in local:
        print(f"| {name} | {local[name]:.2f} | {cross[name]:.2f} | {NODE[name]} |")


if __name__ == "__main__":
    asyncio.run(main())
