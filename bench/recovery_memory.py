"""What a dropped session costs while it waits for connection state recovery, openline
against the Node.js socket.io reference (the memory rows of ``make bench``'s recovery
group, run alone).

    .venv/bin/python bench/recovery_memory.py [--clients 5000] [--window 300] [--json]

Per server, on fresh processes (server pinned to core 0, bench/loadgen.js's ``sessions``
scenario to core 1, as in bench/run.py): openline ``run --recovery-window 300`` and
node_server.js ``--recovery-window 300`` (connectionStateRecovery: {
maxDisconnectionDuration: 300000 }), then each with recovery off. N clients each join 3
rooms (``all``, ``group-<i % 50>``, ``user-<i>``) and set session data (a user id, a role,
a timestamp), then all drop at once without a close (a transport close, which both save
for recovery); then N fresh clients do the same. Reported, in KB: VmRSS after the first
drop and a full collection minus VmRSS before connecting, per client (recovery on, and
off) and per saved session (the server's own count, from the bench namespace's
``stats``); and the second round's VmRSS growth per session it saved (recovery on) or
per client (off), the memory the first round's connections left being reused by then:
what a saved session holds; and a third round's growth of the heap after a full
collection (V8's heapUsed; openline's tracemalloc, started for that round only), per
session saved or client dropped. Loopback only; needs node and taskset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (bench/ is not a package)
import run  # noqa: E402

KEYS = ("sess_on", "sess_saved", "sess_off", "sess_later", "sess_later_off", "sess_heap", "sess_heap_off")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/recovery_memory.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=5_000, help="clients that drop (default 5000)")
    ap.add_argument("--window", type=float, default=run.MEMORY_WINDOW_S,
                    help=f"--recovery-window of both servers, seconds (default {run.MEMORY_WINDOW_S})")
    ap.add_argument("--parser", choices=run.PARSERS, default="json")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = ap.parse_args(argv)

    problem = run.check_tools()
    if problem:
        print(f"recovery_memory: {problem}", file=sys.stderr)
        return 2
    fd_limit = run.raise_fd_limit()
    if args.clients > fd_limit - 200:
        print(f"recovery_memory: --clients {args.clients} needs more than the open-files limit "
              f"({fd_limit}) allows", file=sys.stderr)
        return 2
    results: dict[str, Any] = {args.parser: {k: {} for k in run.SERVERS}}
    print(f"dropped sessions kept for recovery ({args.clients:,} clients, window {args.window:g} s): "
          f"servers on core {run.SERVER_CORE}, load on core {run.LOAD_CORE}", file=sys.stderr, flush=True)
    run.session_memory(args.clients, results, args.parser, args.window)
    if args.json:
        print(json.dumps({kind: {k: v for k, v in fig.items() if k in KEYS}
                          for kind, fig in results[args.parser].items()}))
        return 0
    figs = [f for f in report.figures(0, 0, 0, args.clients) if f.key in KEYS]
    print(report.table(report.rows(results, figs)))
    print("kept after drop: VmRSS after the drop and a full collection minus before connecting, "
          "per client dropped or per session the server saved (mostly memory the dropped "
          "connections left behind: see the recovery off row). 2nd: the growth of the second round "
          "of clients, per session saved or client dropped: what a saved session holds. heap: the "
          "third round's, by V8's heapUsed and openline's tracemalloc. The machine may be shared: "
          "RSS figures are noisy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
