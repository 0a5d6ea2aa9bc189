"""Profile openline under one bench load with py-spy and print the top functions by own
time (the share of samples where the function itself was running).

    .venv/bin/python bench/profile.py --scenario echo --parser json [--top 25]
    .venv/bin/python bench/profile.py --scenario latency --offered 53000 (equal load)
    .venv/bin/python bench/profile.py --scenario matrix --pattern poll_echo (a matrix row)
    .venv/bin/python bench/profile.py --scenario matrix --pattern ack --open --offered 49000

The server is pinned and started exactly as bench/run.py does; py-spy samples it while
the load generator runs the scenario, and its collapsed stacks go to bench/out/.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/ is not a package)


def own_time(collapsed: Path, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Samples in all, the top frames by own samples and the top by inclusive samples."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if frames:
            own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    return total, own.most_common(top), inclusive.most_common(top)


def _short(frame: str) -> str:
    # "emit (socketio/async_server.py:170)" -> "emit (socketio/async_server.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=("echo", "latency", "broadcast", "conns", "matrix"),
                    default="echo")
    ap.add_argument("--pattern", choices=run.matrix.NAMES, default="ack",
                    help="matrix: the row to run (bench/matrix.py)")
    ap.add_argument("--offered", type=int, default=53_000,
                    help="latency: events/s offered (make bench uses 50%% of Node's echo rate)")
    ap.add_argument("--open", action="store_true",
                    help="matrix: an open loop at --offered events/s (the equal-load phase)")
    ap.add_argument("--parser", choices=run.PARSERS, default="json")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--clients", type=int, default=5000, help="conns: clients to connect and drop")
    args = ap.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("profile: py-spy not found (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    run.raise_fd_limit()
    run.OUT.mkdir(exist_ok=True)
    name = args.pattern if args.scenario == "matrix" else args.scenario
    collapsed = run.OUT / f"profile-{name}-{args.parser}.txt"
    with run.server("openline", args.parser) as srv:
        spy = subprocess.Popen([py_spy, "record", "--pid", str(srv.proc.pid), "--format", "raw",
                                "--rate", str(args.rate), "--nonblocking", "--output", str(collapsed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1)  # py-spy attaches
        if args.scenario == "echo":
            out = run.loadgen("echo", srv, args.parser, duration=args.seconds, warmup=0.5)
        elif args.scenario == "latency":
            out = run.loadgen("latency", srv, args.parser, rate=args.offered,
                              duration=args.seconds, warmup=0.5)
        elif args.scenario == "matrix":
            row = next(r for r in run.matrix.ROWS if r.name == args.pattern)
            if row.fanout:
                out = run.loadgen("matrix", srv, args.parser, pattern=row.name, clients=row.clients,
                                  count=100)
            elif args.open:  # the equal-load phase: open loop at --offered
                out = run.loadgen("matrix", srv, args.parser, pattern=row.name, clients=row.clients,
                                  mode="open", rate=args.offered, duration=args.seconds, warmup=0.25)
            else:
                out = run.loadgen("matrix", srv, args.parser, pattern=row.name, clients=row.clients,
                                  duration=args.seconds, warmup=0.5)
        elif args.scenario == "broadcast":
            out = run.loadgen("broadcast", srv, args.parser, clients=1000, count=300)
        else:
            out = run.loadgen("conns", srv, args.parser, clients=args.clients, disconnect=True)
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl+C, not on SIGTERM
        _, err = spy.communicate(timeout=30)
    print(f"load: {out}")
    if not collapsed.exists():
        print(f"profile: py-spy wrote nothing: {err.strip()[-500:]}", file=sys.stderr)
        return 1
    total, own, inclusive = own_time(collapsed, args.top)
    print(f"\n{total} samples; own time (function itself running):")
    for frame, count in own:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("\ninclusive (function or its callees):")
    for frame, count in inclusive:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
