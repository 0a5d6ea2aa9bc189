"""What --http-compression costs and saves on a long-polling broadcast.

``python bench/polling_compression.py [--clients 100] [--broadcasts 300] [--size 2000]
[--runs 3]`` starts ``openline run`` (the /bench namespace, bench/plugins) on a free
loopback port twice per run, with compression on (the default) and with
``--no-http-compression``, connects ``--clients`` raw long-polling clients (Engine.IO v4
over aiohttp, ``Accept-Encoding: gzip, deflate`` as browsers send) to room ``r``, has one
of them broadcast ``--broadcasts`` chat-like messages of about ``--size`` bytes (JSON
text drawn from a fixed vocabulary: it compresses as chat does, not as repeated bytes)
at most 8 at a time, and prints the server's CPU time (utime + stime from /proc) over the
broadcast phase, per 1,000 deliveries, and the bytes on the wire per delivery. Loopback
only; the clients run in this process, so they never count against the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import re
import sys
import time
import zlib
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("the quick brown fox jumps over a lazy dog while socket clients poll for news about "
         "rooms namespaces and acks in every language under the sun").split()
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def message(rng: random.Random, size: int) -> dict[str, object]:
    text = []
    while sum(len(w) + 1 for w in text) < size - 60:
        text.append(rng.choice(WORDS))
    return {"user": f"u{rng.randrange(1000)}", "at": rng.randrange(10**12), "text": " ".join(text)}


class Poller:
    """One raw Engine.IO long-polling client in /bench room r; counts the bcast packets."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.sid = ""
        self.received = 0
        self.wire = 0
        self.task: asyncio.Task[None] | None = None

    def url(self) -> str:
        return f"{self.base}/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    async def get(self) -> list[str]:
        async with self.http.get(self.url() if self.sid else
                                 f"{self.base}/socket.io/?EIO=4&transport=polling") as resp:
            raw = await resp.read()
            self.wire += len(raw)
            coding = resp.headers.get("Content-Encoding")
        body = gzip.decompress(raw) if coding == "gzip" else zlib.decompress(raw) if coding else raw
        return body.decode().split("\x1e")

    async def post(self, payload: str) -> None:
        async with self.http.post(self.url(), data=payload) as resp:
            assert resp.status == 200, await resp.text()

    async def join(self) -> None:
        self.sid = json.loads((await self.get())[0][1:])["sid"]
        await self.post("40/bench,")
        while not any(p.startswith("40/bench,") for p in await self.get()):
            pass
        await self.post('42/bench,1["join","r"]')
        while not any(p.startswith("43/bench,1") for p in await self.get()):
            pass
        self.wire = 0

    async def poll(self) -> None:
        while True:
            for packet in await self.get():
                if packet.startswith('42/bench,["bcast"'):
                    self.received += 1
                elif packet == "2":
                    await self.post("3")


async def run(args: argparse.Namespace, compression: bool) -> dict[str, float]:
    flags = [] if compression else ["--no-http-compression"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0",
        "--no-builtins", "--plugins-dir", str(ROOT / "bench" / "plugins"),
        "--max-connections-per-address", "0", "--log-level", "warning", *flags,
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    base = re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]
    rng = random.Random(16)
    payloads = [json.dumps(["broadcast", "r", message(rng, args.size)]) for _ in range(args.broadcasts)]
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                         headers={"Accept-Encoding": "gzip, deflate"}) as http:
            pollers = [Poller(http, base) for _ in range(args.clients)]
            await asyncio.gather(*(p.join() for p in pollers))
            for p in pollers:
                p.task = asyncio.ensure_future(p.poll())
            sender = pollers[0]
            expected = args.clients * args.broadcasts
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            gate = asyncio.Semaphore(8)

            async def send(payload: str) -> None:
                async with gate:
                    await sender.post("42/bench," + payload)

            await asyncio.gather(*(send(p) for p in payloads))
            while sum(p.received for p in pollers) < expected:
                await asyncio.sleep(0.01)
            cpu, wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - t0
            for p in pollers:
                assert p.task is not None
                p.task.cancel()
            wire = sum(p.wire for p in pollers)
    finally:
        proc.terminate()
        await proc.wait()
    return {"cpu": cpu, "wall": wall, "cpu_per_1000": cpu / expected * 1e6,
            "wire_per_delivery": wire / expected}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--broadcasts", type=int, default=300)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.clients} polling clients x {args.broadcasts} broadcasts of ~{args.size} B")
    print("compression  server CPU s  wall s  CPU ms / 1,000 deliveries  wire B / delivery")
    for _ in range(args.runs):
        for compression in (True, False):
            r = await run(args, compression)
            print(f"{'on ' if compression else 'off'}          {r['cpu']:8.2f}  {r['wall']:6.2f}  "
                  f"{r['cpu_per_1000']:25.1f}  {r['wire_per_delivery']:17.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
