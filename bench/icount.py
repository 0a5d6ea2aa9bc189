"""Server CPU instructions per event, counted by valgrind's callgrind: the same count on
every run of the same tree, whatever else the machine runs (rates and CPU time on this
shared 2-core machine move by 10-50% between runs; this moves by < 0.01%).

    .venv/bin/python bench/icount.py emit_sid [--rounds 100] [-- --no-metrics ...]

openline runs under callgrind (``python -m openline run`` with bench/plugins, any server
flags after ``--``); bench/icount_load.py, one raw WebSocket client on /bench, sends
``--rounds`` batches of 10 events, each batch in one write, and waits for its 10 answers
before the next (the call pattern answers each ping). The counters are zeroed after a
warm-up of 30 batches and dumped after the measured ones (callgrind_control), so start-up
is not counted: the figure is user-space instructions per event (syscalls' kernel time
is not in it; compare rows by CPU time in ``make bench``). ``--batch 1`` sends each event
alone and waits for its answer, as the open loop of the equal-load phase mostly does (each
event its own read and write). Patterns: ack, emit_sid,
send_sid, call, nested. Needs valgrind (Debian's package); ~40 s a pattern.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BATCH = 10
PATTERNS = ("ack", "emit_sid", "send_sid", "call", "nested")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(extra: list[str], out: str, module: str = "openline",
          env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """openline (``python -m module run``, bench/plugins) under callgrind, its dumps in
    ``out``, on a free port: once it accepts connections, the process and the port."""
    port = _free_port()
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg", "--dump-instr=no",
         sys.executable, "-m", module, "run", "--port", str(port), "--plugins-dir",
         str(BENCH / "plugins"), "--log-level", "warning", *extra],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300  # start-up under callgrind: ~20-60 s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server, out)
                raise SystemExit("openline did not start under callgrind") from None
            time.sleep(0.25)


def zero(server: subprocess.Popen[bytes]) -> None:
    subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)


def total(server: subprocess.Popen[bytes], out: str, keep: str | None = None) -> int:
    """The instructions counted since ``zero``: callgrind dumps them now (``keep``: a copy
    of the dump there, for callgrind_annotate)."""
    subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
    dumps = sorted(glob.glob(f"{out}/cg*"), key=os.path.getmtime)
    text = Path(dumps[-1]).read_text()
    if keep:
        Path(keep).write_text(text)
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if found is None:
        raise SystemExit("no totals in callgrind's dump")
    return int(found.group(1))


def stop(server: subprocess.Popen[bytes], out: str) -> None:
    server.kill()
    server.wait()
    for f in glob.glob(f"{out}/*"):
        os.remove(f)
    os.rmdir(out)


def count(pattern: str, rounds: int, extra: list[str], batch: int = BATCH) -> float:
    """Instructions per event of ``pattern`` (see the module doc)."""
    out = tempfile.mkdtemp(prefix="icount-")
    server, port = start(extra, out)
    try:
        def load(batches: int) -> None:
            subprocess.run([sys.executable, str(BENCH / "icount_load.py"), str(port), pattern,
                            str(batches), str(batch)], check=True, capture_output=True, timeout=900)

        load(30)
        zero(server)
        load(rounds)
        return total(server, out) / (rounds * batch)
    finally:
        stop(server, out)


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patterns", nargs="+", choices=PATTERNS)
    ap.add_argument("--rounds", type=int, default=100, help="measured batches (100)")
    ap.add_argument("--batch", type=int, default=BATCH,
                    help="events per batch (10); 1: each event alone, as at equal load")
    args = ap.parse_args(argv)
    for pattern in args.patterns:
        per_event = count(pattern, args.rounds, extra, args.batch)
        print(f"{pattern}: {per_event:,.0f} instructions/event ({args.rounds * args.batch} events"
              f" in batches of {args.batch})"
              + (f" [{' '.join(extra)}]" if extra else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
