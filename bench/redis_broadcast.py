"""What Redis costs a broadcast: one openline node with ``--redis-url`` versus in memory.

    .venv/bin/python bench/redis_broadcast.py [--rounds 3] [--json]

Uses the ``broadcast`` scenario of bench/loadgen.js (1000 WebSocket clients in one room
of /bench, another client sends 200 broadcasts; deliveries/s from the first send to the
last delivery) and a small-room variant (10 clients, 20000 broadcasts) where the per-message
Redis round trip weighs most. Server pinned to core 0, loadgen and redis-server to core 1,
as in bench/run.py. Reports the best of --rounds runs per configuration, the ratio
redis/in-memory (target ≥ 0.7), and redis-server CPU over the run (utime+stime from
/proc/PID/stat, in % of one core). Loopback only; needs node, redis-server and taskset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import stop  # noqa: E402  (bench/ is not a package)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVER_CORE, LOAD_CORE = "0", "1"
TICKS = os.sysconf("SC_CLK_TCK")
VARIANTS = {"room of 1000": {"clients": 1000, "count": 200},
            "room of 10": {"clients": 10, "count": 20000}}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def publish_calls(redis_url: str) -> int:
    """PUBLISH commands Redis has served (INFO commandstats): proof the runs used it."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"INFO commandstats\r\n")
        reply = sock.makefile("rb")
        data = reply.read(int(reply.readline()[1:]))  # "$<length>" then the text
    for line in data.decode().splitlines():
        if line.startswith("cmdstat_publish:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_line(proc: subprocess.Popen[str], needle: str, what: str) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            # keep draining so a chatty child never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
            return line
    raise RuntimeError(f"{what} did not start:\n{''.join(seen)[-2000:]}")


@contextlib.contextmanager
def child(cmd: list[str], needle: str, what: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        yield proc, _wait_line(proc, needle, what)
    finally:
        stop(proc)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[int, str]]:
    port = free_port()
    cmd = ["taskset", "-c", LOAD_CORE, shutil.which("redis-server") or "redis-server",
           "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with child(cmd, "Ready to accept connections", "redis-server") as (proc, _):
        yield proc.pid, f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def openline(redis_url: str | None) -> Iterator[tuple[int, str]]:
    cmd = ["taskset", "-c", SERVER_CORE, sys.executable, "-m", "openline", "run", "--port", "0",
           "--plugins-dir", str(BENCH / "plugins"), "--log-level", "warning",
           "--max-connections-per-address", "0"]  # every load client is on loopback
    if redis_url:
        cmd += ["--redis-url", redis_url]
    # taskset execs the server, so the child's pid is the server's (for its CPU time)
    with child(cmd, " listening on http://", "openline") as (proc, line):
        yield proc.pid, line.split(" listening on ")[1].strip()


def loadgen(url: str, clients: int, count: int) -> dict[str, Any]:
    cmd = ["taskset", "-c", LOAD_CORE, "node", str(BENCH / "loadgen.js"), "--scenario",
           "broadcast", "--url", url, "--clients", str(clients), "--count", str(count)]
    done = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": (done.stderr.strip() or "no output")[-500:]}
    return dict(json.loads(lines[-1]))


def run_once(redis_pid: int, redis_url: str | None, load: dict[str, int],
             info_url: str) -> dict[str, Any]:
    published = publish_calls(info_url)
    with openline(redis_url) as (server_pid, url):
        redis0, server0, t0 = cpu_seconds(redis_pid), cpu_seconds(server_pid), time.monotonic()
        out = loadgen(url, **load)
        wall = time.monotonic() - t0
        redis_cpu, server_cpu = cpu_seconds(redis_pid) - redis0, cpu_seconds(server_pid) - server0
    if not out.get("ok"):
        raise RuntimeError(f"{load} redis={bool(redis_url)}: {out.get('error')}")
    # the loadgen's total includes connecting and joining; CPU per delivery covers both
    # modes alike, and is steadier than wall-clock rates on a shared machine
    return {"deliveries_per_s": out["deliveries_per_s"],
            "server_us_per_delivery": round(1e6 * server_cpu / out["delivered"], 1),
            "redis_cpu_pct": round(100 * redis_cpu / wall, 1), "redis_cpu_s": round(redis_cpu, 3),
            "publishes": publish_calls(info_url) - published}


def measure(rounds: int) -> dict[str, Any]:
    """Rounds alternate in-memory and Redis runs so background noise hits both alike."""
    results: dict[str, Any] = {}
    with redis_server() as (redis_pid, redis_url):
        for variant, load in VARIANTS.items():
            runs: dict[str, list[dict[str, Any]]] = {"memory": [], "redis": []}
            for _ in range(rounds):
                for mode, url_for_node in (("memory", None), ("redis", redis_url)):
                    out = run_once(redis_pid, url_for_node, load, redis_url)
                    runs[mode].append(out)
                    print(f"  {variant:13} {mode:6} {out['deliveries_per_s']:>10,} deliveries/s  "
                          f"server {out['server_us_per_delivery']} us cpu/delivery  redis-server "
                          f"cpu {out['redis_cpu_s']:.2f}s ({out['redis_cpu_pct']}% of a core), "
                          f"{out['publishes']} PUBLISH commands (batched)",
                          file=sys.stderr, flush=True)
            row: dict[str, Any] = {
                mode: max(outs, key=lambda o: o["deliveries_per_s"]) for mode, outs in runs.items()}
            row["ratio"] = round(row["redis"]["deliveries_per_s"] / row["memory"]["deliveries_per_s"], 2)
            results[variant] = row
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per configuration (best kept)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    parser.add_argument("--optional", action="store_true",
                        help="a missing tool skips the scenario (exit 0) instead of failing")
    args = parser.parse_args()
    for tool in ("node", "redis-server", "taskset"):
        if shutil.which(tool) is None:
            print(f"redis_broadcast: {tool} not found: "
                  f"{'skipping the Redis broadcast scenario' if args.optional else 'cannot run'}",
                  file=sys.stderr)
            return 0 if args.optional else 2
    print(f"broadcast through Redis vs in memory, one node ({args.rounds} rounds)...",
          file=sys.stderr, flush=True)
    results = measure(args.rounds)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{'broadcast':14} {'in memory':>12} {'via Redis':>12} {'ratio':>6} "
          f"{'us/delivery mem':>16} {'us/delivery redis':>18} {'redis cpu':>10}")
    for variant, row in results.items():
        mem, red = row["memory"], row["redis"]
        print(f"{variant:14} {mem['deliveries_per_s']:>12,} {red['deliveries_per_s']:>12,} "
              f"{row['ratio']:>6} {mem['server_us_per_delivery']:>16} "
              f"{red['server_us_per_delivery']:>18} {red['redis_cpu_pct']:>9}%")
    print(f"deliveries/s: best of {args.rounds} alternating runs; target ratio >= 0.7. "
          "us/delivery: openline CPU per delivery in that run. redis cpu: % of one core.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
