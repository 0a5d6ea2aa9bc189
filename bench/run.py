"""``make bench``: openline against the Node.js socket.io 4.8 reference, side by side.

Each server runs pinned to one core (taskset), the load generator (bench/loadgen.js) to
another; servers are fresh for every memory figure. Prints one table with both servers
and the ratio, writes bench/out/results.json and bench/out/chart.png, and appends the run
to bench/RESULTS.md (full runs; --quick and --scenario runs only with --record). Loopback only.

The recovery group runs echo and broadcast again with connection state recovery on in
both servers (openline ``--recovery-window 120``, Node ``connectionStateRecovery:
{ maxDisconnectionDuration: 120000 }``), each right after the same server with it off,
and the memory a dropped session holds while it waits to be recovered (session_memory;
bench/recovery_memory.py runs that part alone).

The matrix group (bench/matrix.py) measures the ways plugins are written, row by row
against Node with the same semantics; ``--scenario NAME`` runs one of its rows.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matrix  # noqa: E402  (bench/ is not a package: run.py is run as a script)
import report  # noqa: E402
import run_meta  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
SERVER_CORE, LOAD_CORE = "0", "1"
SERVERS = ("node", "openline")
PARSERS = ("json", "msgpack")
START_TIMEOUT_S = 30
RECOVERY_WINDOW_S = 120  # echo/broadcast with recovery on (Node's default window too)
MEMORY_WINDOW_S = 300  # session memory: long enough that no saved session expires meanwhile
GROUPS = ("throughput", "connections", "recovery", "features", "matrix")


@dataclass(frozen=True)
class Plan:
    mode: str
    echo_s: float
    warmup_s: float
    broadcasts: int
    small: int  # connect rate and idle memory
    big: int  # idle memory and mass disconnect; capped by the open-files limit
    disconnect_small: int
    memory_parsers: tuple[str, ...]
    big_deflate: bool  # idle memory with permessage-deflate at the large count (JSON only:
    # what deflate costs does not depend on the framing, and these runs are the slowest)
    recovery_parsers: tuple[str, ...]  # echo/broadcast with recovery on
    sessions: int  # dropped sessions kept for recovery (memory per session; JSON only)


def plans(fd_limit: int) -> dict[str, Plan]:
    # Every socket is a descriptor in the server (and the loadgen): keep headroom for the
    # listening socket, the event loop and libraries.
    big = min(20_000, fd_limit - 200)
    return {
        "full": Plan("full", 5, 1, 200, 5_000, big, 1_000, PARSERS, True, PARSERS, 5_000),
        "quick": Plan("quick", 1, 0.5, 50, 2_000, min(5_000, big), 1_000, ("json",), False,
                      ("json",), 2_000),
    }


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- servers ---------------------------------------------------------------------------

class ServerFailed(RuntimeError):
    """A server did not start: its scenarios are reported as failed, the run goes on."""


@dataclass
class Running:
    kind: str
    proc: subprocess.Popen[str]
    url: str


def server_command(kind: str, parser: str, deflate: bool, recovery: float | None = None,
                   extra: tuple[str, ...] = ()) -> list[str]:
    # Both servers take --recovery-window SECONDS (node_server.js: connectionStateRecovery
    # with maxDisconnectionDuration = SECONDS * 1000); without it recovery is off in both.
    window = ["--recovery-window", f"{recovery:g}"] if recovery else []
    if kind == "node":
        cmd = ["node", str(BENCH / "node_server.js"), "--port", "0", "--parser", parser]
        return cmd + (["--deflate"] if deflate else []) + window
    # openline exactly as `make run` starts it, minus --reload: the parser is detected
    # per connection, so it takes no parser flag.
    cmd = [sys.executable, "-m", "openline", "run", "--port", "0",
           "--plugins-dir", str(BENCH / "plugins"), "--log-level", "warning",
           "--max-connections-per-address", "0"]  # every load client is on loopback
    return cmd + (["--websocket-compression"] if deflate else []) + window + list(extra)


@contextlib.contextmanager
def server(kind: str, parser: str, deflate: bool = False,
           recovery: float | None = None, extra: tuple[str, ...] = ()) -> Iterator[Running]:
    # taskset execs the server, so proc.pid is the server's own pid (for VmRSS).
    cmd = ["taskset", "-c", SERVER_CORE, *server_command(kind, parser, deflate, recovery, extra)]
    # openline with its defaults: no OPENLINE_* setting of the caller's shell applies.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINE_")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = _wait_listening(proc, kind)
        yield Running(kind, proc, url)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_listening(proc: subprocess.Popen[str], kind: str) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if " listening on http://" in line:
            # Leave the pipe drained in the background so a chatty server never blocks.
            _drain(proc, kind)
            return line.split(" listening on ")[1].strip()
    proc.kill()
    raise ServerFailed(f"{kind} server did not start:\n{''.join(seen)[-2000:]}")


def _drain(proc: subprocess.Popen[str], kind: str) -> None:
    def pump() -> None:
        assert proc.stdout is not None
        with proc.stdout:  # closed at the server's exit
            for line in proc.stdout:
                if "Traceback" in line or "ERROR" in line or "Error" in line:
                    print(f"  [{kind}] {line.rstrip()}", file=sys.stderr)

    threading.Thread(target=pump, daemon=True).start()


# ---- the load generator ----------------------------------------------------------------

_runs = itertools.count()


def loadgen(scenario: str, srv: Running, parser: str, timeout_s: float = 60,
            **options: Any) -> dict[str, Any]:
    cmd = ["taskset", "-c", LOAD_CORE, "node", str(BENCH / "loadgen.js"), "--scenario", scenario,
           "--url", srv.url, "--parser", parser, "--run", str(next(_runs)), "--timeout", str(timeout_s),
           "--pid", str(srv.proc.pid)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            cmd.append(flag)
        elif value is not None and value is not False:
            cmd += [flag, str(value)]
    try:
        done = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=timeout_s * 4 + 60)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "load generator timed out"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": (done.stderr.strip() or "no output")[-500:]}
    return json.loads(lines[-1])


# ---- scenarios -------------------------------------------------------------------------

def _store(results: dict[str, Any], parser: str, kind: str, figures: dict[str, str],
           out: dict[str, Any], label: str) -> None:
    if not out.get("ok"):
        print(f"  {kind:8} {parser:7} {label}: FAILED: {out.get('error')}", flush=True)
        return
    slot = results[parser][kind]
    for key, field in figures.items():
        slot[key] = out[field]
        # CPU use of the phase that produced the figure (a field's own, else the scenario's)
        for cpu in ("loadgen_cpu", "server_cpu"):
            slot[f"{key}:{cpu}"] = out.get(f"{field}_{cpu}", out.get(cpu))
    shown = ", ".join(f"{field}={out[field]}" for field in figures.values())
    print(f"  {kind:8} {parser:7} {label}: {shown} (cpu: loadgen {out.get('loadgen_cpu')}, "
          f"server {out.get('server_cpu')})", flush=True)


def throughput(plan: Plan, parser: str, results: dict[str, Any], groups: tuple[str, ...]) -> None:
    # Node first: its echo maximum sets the offered load of the latency scenario. With
    # recovery, each server runs it on right after off, so that the on/off cost of one
    # server is measured close in time on this shared machine.
    recovery = "recovery" in groups and parser in plan.recovery_parsers
    for kind in SERVERS:
        try:
            if "throughput" in groups:
                _throughput_of(plan, parser, results, kind)
            elif recovery:  # the off rows the on rows are set beside
                with server(kind, parser) as srv:
                    _echo_broadcast(plan, parser, results, srv)
            if recovery:
                with server(kind, parser, recovery=RECOVERY_WINDOW_S) as srv:
                    _echo_broadcast(plan, parser, results, srv, "_rec", " recovery on")
        except ServerFailed as exc:
            print(f"  {kind:8} {parser:7} FAILED: {exc}", flush=True)


def _echo_broadcast(plan: Plan, parser: str, results: dict[str, Any], srv: Running,
                    suffix: str = "", label: str = "") -> None:
    """Echo, then broadcast, on one server: figures ``echo_eps{suffix}``... ."""
    out = loadgen("echo", srv, parser, duration=plan.echo_s, warmup=plan.warmup_s)
    _store(results, parser, srv.kind, {f"echo_eps{suffix}": "events_per_s", f"echo_p50{suffix}": "p50_ms",
                                       f"echo_p99{suffix}": "p99_ms"}, out, "echo" + label)
    out = loadgen("broadcast", srv, parser, clients=1000, count=plan.broadcasts)
    _store(results, parser, srv.kind, {f"bcast_dps{suffix}": "deliveries_per_s"}, out, "broadcast" + label)


def _throughput_of(plan: Plan, parser: str, results: dict[str, Any], kind: str) -> None:
    with server(kind, parser) as srv:
        _echo_broadcast(plan, parser, results, srv)
        # Last: a server offered more than it can take is left with a backlog.
        node_max = results[parser]["node"].get("echo_eps")
        if node_max:
            rate = max(1, round(node_max * 0.5))
            out = loadgen("latency", srv, parser, rate=rate, duration=plan.echo_s, warmup=plan.warmup_s)
            _store(results, parser, kind, {"lat_p50": "p50_ms", "lat_p99": "p99_ms"}, out,
                   f"latency at {rate}/s")
            results[parser][kind]["lat_rate"] = rate


def features(plan: Plan, results: dict[str, Any]) -> None:
    """openline's echo and broadcast (JSON) with metrics off, on (the default), with the
    admin UI on (no UI logged in) and with the Redis manager on one node (a redis-server
    of its own on a free port, core 1; skipped without redis-server), one right after the
    other: what each costs."""
    runs: list[tuple[tuple[str, ...], str, str]] = [
        (("--no-metrics",), "_nomet", " metrics off"), ((), "_met", " metrics on"),
        (("--admin", "--admin-no-auth"), "_admin", " admin on")]
    with contextlib.ExitStack() as stack:
        if shutil.which("redis-server"):
            from redis_broadcast import redis_server  # a fresh redis-server on a free port

            _pid, redis_url = stack.enter_context(redis_server())
            runs.append((("--redis-url", redis_url), "_redis", " redis manager on"))
        else:
            print("  openline json    redis manager: skipped (no redis-server)", flush=True)
        for extra, suffix, label in runs:
            try:
                with server("openline", "json", extra=tuple(extra)) as srv:
                    _echo_broadcast(plan, "json", results, srv, suffix, label)
            except ServerFailed as exc:
                print(f"  openline json    FAILED{label}: {exc}", flush=True)


def connections(plan: Plan, parser: str, results: dict[str, Any]) -> None:
    runs = [  # (clients, deflate, disconnect, prime, {figure: loadgen field})
        (plan.disconnect_small, False, True, 0, {"disc_small": "us_per_disconnect"}),
        # connect rate on a warm server (Node's JIT); memory on fresh ones
        (plan.small, False, False, plan.disconnect_small, {"connects_s": "connects_per_s"}),
        (plan.small, False, False, 0, {"kb_small": "kb_per_conn"}),
        (plan.small, True, False, 0, {"kb_small_deflate": "kb_per_conn"}),
        (plan.big, False, True, 0, {"kb_big": "kb_per_conn", "disc_big": "us_per_disconnect"}),
    ]
    if plan.big_deflate and parser == "json":
        runs.append((plan.big, True, False, 0, {"kb_big_deflate": "kb_per_conn"}))
    for clients, deflate, disconnect, prime, figures in runs:
        for kind in SERVERS:
            label = f"{clients} conns{' deflate' if deflate else ''}{' warm' if prime else ''}"
            try:
                with server(kind, parser, deflate) as srv:
                    out = loadgen("conns", srv, parser, clients=clients, deflate=deflate,
                                  disconnect=disconnect, prime=prime)
            except ServerFailed as exc:
                out = {"ok": False, "error": str(exc)}
            _store(results, parser, kind, figures, out, label)


def session_memory(clients: int, results: dict[str, Any], parser: str = "json",
                   window: float = MEMORY_WINDOW_S, prime: int = 200) -> None:
    """What a dropped session costs while it waits to be recovered. On fresh servers,
    recovery on and then off: ``clients`` clients each join 3 rooms and set session data,
    then all drop at once (a transport close: saved for recovery); then as many fresh
    clients do the same again (loadgen.js ``sessions``, 2 rounds). Figures: VmRSS after
    the first drop and a full collection (gc.collect(), V8's gc()) minus before
    connecting, per client and per saved session (mostly what the dropped connections
    left behind: neither allocator hands all of it back); and the second round's VmRSS
    growth per session it saved, where the new connections reuse that memory: what a
    saved session holds; then a third round measured by the heap (V8's heapUsed,
    openline's tracemalloc) after a full collection, per session saved. No event is
    broadcast, so the packet log stays empty."""
    for kind in SERVERS:
        for on in (True, False):
            label = f"{clients} sessions dropped, recovery {'on' if on else 'off'}"
            try:
                with server(kind, parser, recovery=window if on else None) as srv:
                    out = loadgen("sessions", srv, parser, clients=clients, prime=prime, rounds=2)
            except ServerFailed as exc:
                out = {"ok": False, "error": str(exc)}
            counts = [out.get(k) for k in ("saved", "saved_later", "saved_heap_round")]
            if on and out.get("ok") and counts != [clients] * 3:
                print(f"  {kind:8} {parser:7} {label}: saved {counts} of {clients} in its rounds",
                      flush=True)
            figures = ({"sess_on": "kb_per_dropped", "sess_saved": "kb_per_saved",
                        "sess_later": "kb_later_per_saved", "sess_heap": "heap_kb_per_saved"} if on else
                       {"sess_off": "kb_per_dropped", "sess_later_off": "kb_later_per_client",
                        "sess_heap_off": "heap_kb_per_client"})
            _store(results, parser, kind, figures, out, label)


def check_tools() -> str | None:
    for tool in ("node", "taskset"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    if not (BENCH / "node_modules" / "socket.io").exists():
        return "bench/node_modules missing: run `make js-deps` (or npm ci in bench/)"
    if (os.cpu_count() or 1) < 2:
        return "needs 2 cores: the server on core 0, the load generator on core 1"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes instead of about sixteen")
    ap.add_argument("--record", action="store_true",
                    help="append a --quick or a --scenario run to RESULTS.md too")
    ap.add_argument("--only", choices=GROUPS,
                    help="run one group of scenarios (recovery: echo and broadcast with recovery "
                         "off and on, and the memory of dropped sessions; features: openline's "
                         "echo and broadcast with metrics off and on, the admin UI on and the Redis "
                         "manager on; matrix: the ways plugins are written, each against Node, plus "
                         "idle memory per WebSocket, the features and recovery's JSON rows)")
    ap.add_argument("--scenario", choices=matrix.NAMES, metavar="NAME",
                    help="one row of the matrix group alone: " + ", ".join(matrix.NAMES))
    ap.add_argument("--parser", choices=PARSERS, help="with --scenario: that parser only")
    ap.add_argument("--results-md", type=Path, default=BENCH / "RESULTS.md", help="where runs are recorded")
    args = ap.parse_args(argv)

    problem = check_tools()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    fd_limit = raise_fd_limit()
    plan = plans(fd_limit)["quick" if args.quick else "full"]
    meta = run_meta.metadata(plan.mode, plan.big, fd_limit, SERVER_CORE, LOAD_CORE)
    results: dict[str, Any] = {p: {k: {} for k in SERVERS} for p in PARSERS}
    started = time.monotonic()
    print(f"bench ({plan.mode}): servers on core {SERVER_CORE}, load on core {LOAD_CORE}", flush=True)
    groups: tuple[str, ...] = GROUPS if args.only is None else (args.only,)
    if args.scenario:
        groups = ()
        matrix.run(sys.modules[__name__], plan.mode, results, args.scenario,
                   (args.parser,) if args.parser else None)
    elif "matrix" in groups:
        matrix.run(sys.modules[__name__], plan.mode, results)
        if "connections" not in groups:  # else the connections group measures it
            matrix.idle_memory(sys.modules[__name__], {"kb_small": plan.small, "kb_big": plan.big}
                               if plan.mode == "full" else {"kb_small": plan.small}, results)
        if args.only == "matrix":  # else the features and recovery groups run below
            features(plan, results)
            throughput(plan, "json", results, ("recovery",))
    for parser in PARSERS:
        if "throughput" in groups or "recovery" in groups:
            throughput(plan, parser, results, groups)
        if "connections" in groups and parser in plan.memory_parsers:
            connections(plan, parser, results)
    if "recovery" in groups:
        session_memory(plan.sessions, results)
    if "features" in groups:
        features(plan, results)
    meta["seconds"] = round(time.monotonic() - started)

    figs = report.figures(plan.small, plan.big, plan.disconnect_small, plan.sessions)
    table_rows = report.rows(results, figs)
    cost_rows = report.recovery_costs(results)
    feature_rows = report.feature_costs(results)
    matrix_rows = matrix.rows(results, report.SERVER_STARVED, report.LOADGEN_BUSY)
    parts = [matrix.table(matrix_rows, report.SERVER_STARVED)] if matrix_rows else []
    if table_rows:  # none in the features group
        parts.append(report.table(table_rows))
    if cost_rows:
        parts.append(report.cost_table(cost_rows))
    if feature_rows:
        parts.append(report.feature_table(feature_rows))
    text = "\n\n".join(parts)
    rate = {p: results[p]["node"].get("lat_rate") for p in PARSERS}
    shown = f"equal load = 50% of Node's echo rate: {rate}; " if any(rate.values()) else ""
    print(f"\n{text}\n\n{shown}took {meta['seconds']} s")
    report.write_json(OUT / "results.json", meta, results, table_rows, cost_rows,
                      {"matrix": matrix_rows, "feature_costs": feature_rows})
    why_not = report.draw_chart(OUT / "chart.png", meta, table_rows)
    print(f"wrote {OUT / 'results.json'}" + (f"; {why_not}" if why_not else f", {OUT / 'chart.png'}"))
    if (plan.mode == "full" and not args.scenario) or args.record:  # one row: only with --record
        if os.environ.get("MAKELEVEL"):  # set by make for the commands it runs
            command = "make bench" + (" ARGS=" + shlex.quote(" ".join(sys.argv[1:])) if sys.argv[1:] else "")
        else:
            command = shlex.join(["python", "bench/run.py", *sys.argv[1:]])
        report.record(args.results_md, meta, text, command)
        print(f"recorded in {args.results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
