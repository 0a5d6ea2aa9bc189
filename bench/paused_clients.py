"""RSS of a server whose clients stop reading, under a steady broadcast (the hardening
issue's bound: peak RSS < clients x --send-budget + the idle baseline).

``python bench/paused_clients.py [--clients 1000] [--rate 200] [--size 1024] [--seconds 60]``
starts ``openline run`` on a free loopback port, connects ``--clients`` WebSocket clients
to ``/chat`` room ``lobby`` (half plain-WebSocket bridge clients, half Engine.IO
WebSocket ones) that never read, has one socket.io client broadcast ``--size`` bytes to
the room ``--rate`` times a second for ``--seconds``, samples the server's VmRSS every
0.5 s, and prints the idle baseline, the peak, the bound, how many paused clients the
server closed and when. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402

from tests.abuse.paused import PausedClient  # noqa: E402


def rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--send-budget", type=int, default=1 << 20)
    parser.add_argument("--send-grace", type=float, default=5.0)
    parser.add_argument("--log", action="store_true", help="copy the server's log to stderr")
    args = parser.parse_args()

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openline", "run", "--host", "127.0.0.1", "--port", "0",
        "--max-connections-per-address", "0", "--log-level", "warning",
        "--send-budget", str(args.send_budget), "--send-grace", str(args.send_grace),
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    url = re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]
    closes: list[float] = []

    async def read_log() -> None:
        assert proc.stderr is not None
        while raw := await proc.stderr.readline():
            if args.log:
                sys.stderr.write(raw.decode(errors="replace"))
            if b"closing" in raw:
                closes.append(time.monotonic())

    log_task = asyncio.ensure_future(read_log())
    try:
        paused = []
        for i in range(args.clients):
            if i % 2:
                paused.append(await PausedClient.open(url, f"/chat?nickname=p{i}&room=lobby"))
            else:
                paused.append(await PausedClient.open(
                    url, "/socket.io/?EIO=4&transport=websocket",
                    (f'40/chat,{{"nickname":"p{i}","room":"lobby"}}',), b'"maxPayload":'))
        sender = socketio.AsyncClient(reconnection=False)
        await sender.connect(url, namespaces=["/chat"], transports=["websocket"],
                             auth={"nickname": "sender", "room": "lobby"})
        await asyncio.sleep(1.0)  # let the connects settle before the baseline
        baseline = rss_kib(proc.pid)
        peak = baseline
        text = "x" * args.size
        started = time.monotonic()
        next_sample = started
        sent = 0
        while (now := time.monotonic()) - started < args.seconds:
            due = int((now - started) * args.rate)
            while sent < due:
                await sender.emit("message", {"room": "lobby", "text": text}, namespace="/chat")
                sent += 1
            if now >= next_sample:
                peak = max(peak, rss_kib(proc.pid))
                next_sample = now + 0.5
            await asyncio.sleep(0.002)
        reply = await sender.call("who", "lobby", namespace="/chat", timeout=10)
        still = len(reply["members"]) - 1
        bound = baseline + args.clients * args.send_budget // 1024
        closed_at = [round(t - started, 1) for t in closes]
        print(f"clients {args.clients}, broadcast {args.size} B x {args.rate:g}/s for "
              f"{args.seconds:g} s ({sent} sent)")
        print(f"RSS idle baseline {baseline / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
              f"bound {bound / 1024:.1f} MiB: {'within' if peak < bound else 'OVER'}")
        print(f"paused clients closed by the server: {args.clients - still} of {args.clients}"
              + (f"; first close logged at {closed_at[0]} s" if closed_at else ""))
        await sender.disconnect()
        for client in paused:
            client.close()
        return 0 if peak < bound else 1
    finally:
        proc.terminate()
        await proc.wait()
        log_task.cancel()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
