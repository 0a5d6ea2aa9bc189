"""The matrix group of ``make bench`` (issue #15): the ways plugins are written, each row
against the Node reference with the same semantics (bench/plugins/openline_bench_ns.py and
bench/node_server.js on /bench; bench/matrix.js drives them), JSON and msgpack.

Rate rows: 100 clients each keep 10 requests in flight (closed loop): replies/s, the
server's CPU µs per reply; then both servers are offered 50% of Node's rate of that row
(open loop, latency from when each request was due): p50 and p99. Fan-out rows: 1000
members (200 over long-polling) count the deliveries of 100 rounds: deliveries/s and
CPU µs per delivery. ``python bench/run.py --only matrix`` runs them all, plus the memory
of an idle WebSocket and the feature costs (the features group, with the Redis manager,
and the recovery group's echo/broadcast, JSON); ``--scenario NAME`` runs one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

SERVERS = ("node", "openline")


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    fanout: bool = False
    clients: int | None = None  # loadgen's default: 100 (rate) or 1000 (fan-out)
    json_only: bool = False  # the bridge: no Socket.IO parser


ROWS = (
    Row("ack", "reply by ack return"),
    Row("emit_sid", "reply by emit(to=sid)"),
    Row("send_sid", "reply by send(to=sid)"),
    Row("room_skip", "room of 2, skip_sid"),
    Row("own_room", "emit to own room (+ shared)"),
    Row("call", "call() round trip"),
    Row("binary", "bytes in, bytes out (ack)"),
    Row("nested", "nested object (ack)"),
    Row("poll_echo", "long-polling echo"),
    Row("bridge_echo", "plain WebSocket echo", json_only=True),
    Row("shared_room", "shared room of own-room clients", fanout=True),
    Row("bg_all", "background task to all", fanout=True),
    Row("bg_sids", "background task to each sid", fanout=True),
    Row("poll_bcast", "long-polling broadcast", fanout=True, clients=200),
    Row("bridge_bcast", "plain WebSocket broadcast", fanout=True, json_only=True),
)
NAMES = tuple(r.name for r in ROWS)


@dataclass(frozen=True)
class MatrixPlan:
    duration: float
    warmup: float
    count: int  # fan-out rounds (bg_sids: half)
    parsers: tuple[str, ...]
    rounds: int  # rate phases per server and row: the fastest is kept (others only slow it)


PLANS = {"full": MatrixPlan(3, 1, 100, ("json", "msgpack"), 2),
         "quick": MatrixPlan(1, 0.5, 30, ("json",), 1)}
EQUAL_LOAD = 0.5  # of Node's rate of the row


def run(h: ModuleType, mode: str, results: dict[str, Any], only: str | None = None,
        parsers: tuple[str, ...] | None = None) -> None:
    """Every row (or ``only``) with both servers up (both on core 0, one idle while the
    other is measured), row by row, Node first: its rate sets the row's equal load, and
    the two servers of a row are measured seconds apart on this shared machine. ``h`` is
    bench/run.py (server, loadgen, _store)."""
    plan = PLANS[mode]
    rows = [r for r in ROWS if only in (None, r.name)]
    for parser in parsers or plan.parsers:
        mine = [r for r in rows if parser == "json" or not r.json_only]
        if not mine:
            continue
        try:
            with h.server("node", parser) as node, h.server("openline", parser) as ours:
                for row in mine:
                    for phase in ("rate",) * plan.rounds + ("equal load",):
                        for srv in (node, ours):
                            _row(h, plan, parser, results, srv, row, phase)
        except h.ServerFailed as exc:
            print(f"  {parser:7} FAILED: {exc}", flush=True)


def _row(h: ModuleType, plan: MatrixPlan, parser: str, results: dict[str, Any], srv: Any,
         row: Row, phase: str) -> None:
    key = f"mx_{row.name}"
    common = {"pattern": row.name, "clients": row.clients}
    if phase == "rate":
        if row.fanout:
            count = plan.count // 2 if row.name == "bg_sids" else plan.count
            out = h.loadgen("matrix", srv, parser, count=count, **common)
            figures = {key: "deliveries_per_s"}
        else:
            out = h.loadgen("matrix", srv, parser, duration=plan.duration, warmup=plan.warmup,
                            **common)
            figures = {key: "events_per_s", f"{key}_p99sat": "p99_ms"}
        before = results[parser][srv.kind].get(key)
        if before is not None and out.get("ok") and out[figures[key]] <= before:
            print(f"  {srv.kind:8} {parser:7} {row.name}: {out[figures[key]]} (slower round, "
                  f"{before} kept; cpu: server {out.get('server_cpu')})", flush=True)
        else:
            h._store(results, parser, srv.kind, figures, out, row.name)
    elif not row.fanout and results[parser]["node"].get(key):
        rate = max(1, round(results[parser]["node"][key] * EQUAL_LOAD))
        out = h.loadgen("matrix", srv, parser, mode="open", rate=rate, duration=plan.duration,
                        warmup=plan.warmup / 2, **common)
        h._store(results, parser, srv.kind, {f"{key}_p50": "p50_ms", f"{key}_p99": "p99_ms"}, out,
                 f"{row.name} at {rate}/s")
        results[parser][srv.kind][f"{key}_eqrate"] = rate


def idle_memory(h: ModuleType, counts: dict[str, int], results: dict[str, Any]) -> None:
    """VmRSS growth per idle WebSocket (JSON, fresh servers), as the connections group's
    kb_small / kb_big figures: the issue's 12.9 KB is openline's there."""
    for key, clients in counts.items():
        for kind in SERVERS:
            try:
                with h.server(kind, "json") as srv:
                    out = h.loadgen("conns", srv, "json", clients=clients)
            except h.ServerFailed as exc:
                out = {"ok": False, "error": str(exc)}
            h._store(results, "json", kind, {key: "kb_per_conn"}, out, f"{clients} idle conns")


# ---- the report ------------------------------------------------------------------------

def _cpu_us(slot: dict[str, Any], key: str) -> float | None:
    rate, busy = slot.get(key), slot.get(key + ":server_cpu")
    return busy * 1e6 / rate if rate and busy else None


def rows(results: dict[str, Any], starved: float, busy: float) -> list[dict[str, Any]]:
    """One row per pattern and parser measured: both rates and their ratio, p99 at equal
    load and its ratio, each server's CPU µs per reply (or delivery), and the marks."""
    out = []
    for row in ROWS:
        key = f"mx_{row.name}"
        for parser in ("json", "msgpack"):
            node, mine = (results.get(parser, {}).get(k, {}) for k in SERVERS)
            if key not in node and key not in mine:
                continue
            ratio = lambda a, b: a / b if a is not None and b else None  # noqa: E731
            out.append({
                "name": row.name, "figure": row.label, "parser": "—" if row.json_only else parser,
                "unit": "deliveries/s" if row.fanout else "replies/s",
                "node": node.get(key), "openline": mine.get(key),
                "ratio": ratio(mine.get(key), node.get(key)),
                "eq_rate": node.get(f"{key}_eqrate"),
                "node_p99": node.get(f"{key}_p99"), "openline_p99": mine.get(f"{key}_p99"),
                "p99_ratio": ratio(mine.get(f"{key}_p99"), node.get(f"{key}_p99")),
                "node_cpu_us": _cpu_us(node, key), "openline_cpu_us": _cpu_us(mine, key),
                "cpu_ratio": ratio(_cpu_us(mine, key), _cpu_us(node, key)),
                # offered more than openline's own rate: its p99 there is a backlog
                "openline_saturated": bool(node.get(f"{key}_eqrate") and mine.get(key) is not None
                                           and mine[key] < node[f"{key}_eqrate"]),
                "server_starved": any((s.get(key + ":server_cpu") or 1) < starved for s in (node, mine)),
                "loadgen_busy": any((s.get(key + ":loadgen_cpu") or 0) >= busy for s in (node, mine)),
            })
    return out


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "×":
        return f"{value:.2f}×"
    if abs(value) >= 1000:
        return f"{value:,.0f}{unit}"
    return f"{value:.3g}{unit}"


def table(matrix_rows: list[dict[str, Any]], starved: float) -> str:
    """The matrix as a Markdown table with its legend."""
    head = ["matrix row", "parser", "unit", "Node", "openline", "openline/Node",
            "p99 @equal load Node", "openline", "p99 openline/Node", "CPU µs/event Node", "openline",
            "CPU openline/Node"]
    lines = []
    for r in matrix_rows:
        mark = (" *" if r["loadgen_busy"] else "") + (" †" if r["server_starved"] else "")
        eq = f" @{r['eq_rate']:,}/s" if r["eq_rate"] else ""
        lines.append([f"{r['name']}: {r['figure']}{mark}", r["parser"], r["unit"], _num(r["node"]),
                      _num(r["openline"]), _num(r["ratio"], "×"), _num(r["node_p99"], " ms") + eq,
                      _num(r["openline_p99"], " ms") + (" ‡" if r["openline_saturated"] else ""),
                      _num(r["p99_ratio"], "×"), _num(r["node_cpu_us"]), _num(r["openline_cpu_us"]),
                      _num(r["cpu_ratio"], "×")])
    body = ["| " + " | ".join(line) + " |" for line in [head, *lines]]
    sep = "|" + "|".join(["---"] * 3 + ["--:"] * (len(head) - 3)) + "|"
    legend = ("\nrate: replies/s with 100 clients × 10 in flight (closed loop), or deliveries/s of a "
              "fan-out (the faster of two rounds in a full run); p99 @equal load: both servers "
              "offered 50% of Node's rate of the row (open loop); CPU µs/event: the server's CPU "
              "time (utime+stime) over the rate phase per reply or delivery, steadier than the "
              "rate when other processes share core 0. openline/Node ≥ 1.00× is the target for "
              "rates, ≤ 1.00× for p99 and CPU per event.")
    if any(r["openline_saturated"] for r in matrix_rows):
        legend += ("\n‡ the equal load is above openline's own rate of the row: that p99 is its "
                   "backlog growing.")
    if any(r["loadgen_busy"] for r in matrix_rows):
        legend += "\n* the load generator used ≥ 90% of its core there: that rate may be its limit."
    if any(r["server_starved"] for r in matrix_rows):
        legend += (f"\n† a server used < {starved:.0%} of its core in the rate phase: other processes "
                   "shared core 0 (or the load generator could not keep it busy).")
    return "\n".join([body[0], sep, *body[1:]]) + legend
