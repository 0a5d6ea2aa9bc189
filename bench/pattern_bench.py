"""The plugin patterns of bench/plugins/openline_patterns_ns.py, measured one by one (issue
#15's profiles; bench/RESULTS.md "Plugin patterns: profiles"): rate and the server's CPU µs
per answer, optionally under py-spy.

    .venv/bin/python bench/pattern_bench.py [--patterns ack,emit_sid,...] [--parser json]
        [--rounds 2] [--payload plain|binary|nested] [--profile PATTERN] [--top 20]

The server runs on core 0 (taskset) as bench/run.py starts openline, the load
(bench/pattern_load.js) on core 1; each pattern is measured ``--rounds`` times against
one server, alternating patterns, and the medians printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PATTERNS = ("ack", "emit_sid", "send_sid", "room_skip", "own_room", "via_task", "call", "bg_all",
            "bg_sids")


def start(extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "openline", "run", "--port", "0",
           "--plugins-dir", str(BENCH / "plugins"), "--log-level", "warning",
           "--max-connections-per-address", "0", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINE_")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if " listening on http://" in line:
            return proc, line.split(" listening on ")[1].strip()
    raise SystemExit("server did not start")


def load(url: str, pid: int, pattern: str, args: argparse.Namespace) -> dict[str, object]:
    cmd = ["taskset", "-c", "1", "node", str(BENCH / "pattern_load.js"), "--url", url,
           "--pattern", pattern, "--parser", args.parser, "--pid", str(pid),
           "--payload", args.payload, "--duration", str(args.seconds),
           "--clients", str(args.clients if not pattern.startswith("bg_") else 1000),
           "--count", str(args.count)]
    done = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"ok": False, "error": done.stderr[-400:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--parser", choices=("json", "msgpack"), default="json")
    ap.add_argument("--payload", choices=("plain", "binary", "nested"), default="plain")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--count", type=int, default=200, help="bg_*: emits per run")
    ap.add_argument("--profile", help="run this pattern once under py-spy and print the top frames")
    ap.add_argument("--top", type=int, default=22)
    ap.add_argument("--server-arg", action="append", default=[])
    args = ap.parse_args()
    proc, url = start(args.server_arg)
    try:
        if args.profile:
            return profile(proc, url, args)
        results: dict[str, list[dict[str, object]]] = {}
        for _ in range(args.rounds):
            for pattern in args.patterns.split(","):
                out = load(url, proc.pid, pattern, args)
                results.setdefault(pattern, []).append(out)
        for pattern, outs in results.items():
            ok = [o for o in outs if o.get("ok")]
            if not ok:
                print(f"{pattern:10} FAILED {outs[-1].get('error')}")
                continue
            rates = [int(o["rate"]) for o in ok]  # type: ignore[call-overload]
            cpus = [float(o["cpu_us"]) for o in ok]  # type: ignore[arg-type]
            print(f"{pattern:10} {args.parser:7} {args.payload:6} rate {statistics.median(rates):>9,.0f}/s "
                  f"cpu {statistics.median(cpus):6.2f} us/answer   rates {rates} cpu {cpus} "
                  f"busy {[o.get('busy') for o in ok]}", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    return 0


def profile(proc: subprocess.Popen[str], url: str, args: argparse.Namespace) -> int:
    sys.path.insert(0, str(BENCH))
    from profile import own_time  # bench/profile.py

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = BENCH / "out" / f"profile-pattern-{args.profile}-{args.parser}-{args.payload}.txt"
    out.parent.mkdir(exist_ok=True)
    spy = subprocess.Popen([py_spy, "record", "--pid", str(proc.pid), "--format", "raw", "--rate",
                            "250", "--nonblocking", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    result = load(url, proc.pid, args.profile, args)
    spy.send_signal(signal.SIGINT)
    spy.communicate(timeout=30)
    print(f"load: {result}")
    total, own, inclusive = own_time(out, args.top)
    print(f"{total} samples; own time:")
    for frame, count in own:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("inclusive:")
    for frame, count in inclusive:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
