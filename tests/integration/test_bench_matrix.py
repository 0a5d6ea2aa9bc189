"""The bench matrix (bench/matrix.py, bench/matrix.js): openline's plugin and the Node
reference answer every pattern alike, and the rows and the load generator agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UNIT, require, require_tool

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import matrix  # noqa: E402  (bench/ is not a package)

X = "x" * 32
HEX = {"$hex": "ab" * 32}
NESTED = {"id": 12345, "user": {"name": "ann", "roles": ["member", "mod"],
                                "profile": {"age": 31, "tz": "UTC"}},
          "items": [{"k": "a", "v": 1}, {"k": "b", "v": 2.5}, {"k": "c", "v": None}], "ok": True,
          "note": X}
# what the clients of one check get, in order per client: [client, frame type, data];
# fan-outs: two members (and the sender, client 2, for a background task's emits)
EXPECTED: dict[str, list[Any]] = {
    "ack": [[0, "ack", [X]]],
    "emit_sid": [[0, "event", ["echo", X]]],
    "send_sid": [[0, "event", ["message", X]]],
    "room_skip": [[1, "event", ["echo", X]]],
    "own_room": [[0, "event", ["bcast", X]]],
    "call": [[0, "event", ["ping", X]], [0, "ack", [X]]],
    "nested": [[0, "ack", [NESTED]]],
    "poll_echo": [[0, "ack", [X]]],
    "bridge_echo": [[0, "ack", [X]]],
    "shared_room": [[0, "event", ["bcast", X]], [1, "event", ["bcast", X]]],
    "bg_all": [[0, "event", ["tick", X]], [1, "event", ["tick", X]], [2, "event", ["tick", X]]],
    "bg_sids": [[0, "event", ["tick", X]], [1, "event", ["tick", X]], [2, "event", ["tick", X]]],
    "poll_bcast": [[0, "event", ["bcast", X]], [1, "event", ["bcast", X]]],
    "bridge_bcast": [[0, "event", ["bcast", X]], [1, "event", ["bcast", X]]],
}
BINARY = {"json": [[0, "attachment", HEX]], "msgpack": [[0, "ack", [HEX]]]}


def _check(url: str, parser: str) -> dict[str, list[Any]]:
    """One request of every pattern against the server at url, what came back sorted by client."""
    cmd = [require_tool("node"), str(BENCH / "loadgen.js"), "--scenario", "matrix", "--pattern", "all",
           "--mode", "check", "--parser", parser, "--url", url, "--timeout", str(10 * UNIT)]
    done = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=60 * UNIT)
    out = json.loads(done.stdout)
    assert out["ok"], out
    return {p: sorted(got, key=lambda r: r[0]) for p, got in out["received"].items()}


@pytest.mark.parametrize("parser", ["json", "msgpack"])
def test_both_servers_answer_every_pattern_alike(parser: str) -> None:
    """Each matrix pattern gets the same frames from openline's plugin and node_server.js."""
    require((BENCH / "node_modules" / "socket.io").is_dir(), "bench/node_modules (make js-deps)")
    require_tool("taskset")
    import run  # bench/run.py: the servers exactly as the matrix starts them

    got = {}
    for kind in ("node", "openline"):
        with run.server(kind, parser) as srv:
            got[kind] = _check(srv.url, parser)
    assert got["openline"] == got["node"] == {**EXPECTED, "binary": BINARY[parser]}


def test_rows_match_the_load_generator_patterns() -> None:
    """bench/matrix.py's rows are exactly bench/matrix.js's patterns, rate and fan-out alike."""
    script = ('const m = require("./matrix.js"); console.log(JSON.stringify('
              '{rate: Object.keys(m.RATE), fanout: Object.keys(m.FANOUT)}))')
    done = subprocess.run([require_tool("node"), "-e", script], cwd=BENCH, capture_output=True,
                          text=True, timeout=30 * UNIT)
    patterns = json.loads(done.stdout)
    assert patterns == {"rate": [r.name for r in matrix.ROWS if not r.fanout],
                        "fanout": [r.name for r in matrix.ROWS if r.fanout]}


def test_matrix_rows_give_ratios_cpu_per_event_and_marks() -> None:
    """A row's rate ratio is openline/Node, p99 ratio openline/Node, CPU µs = busy / rate."""
    results = {"json": {
        "node": {"mx_emit_sid": 100_000, "mx_emit_sid:server_cpu": 1.0, "mx_emit_sid:loadgen_cpu": 0.5,
                 "mx_emit_sid_p99": 4.0, "mx_emit_sid_eqrate": 50_000},
        "openline": {"mx_emit_sid": 80_000, "mx_emit_sid:server_cpu": 0.6, "mx_emit_sid:loadgen_cpu": 0.95,
                     "mx_emit_sid_p99": 6.0}}}
    (row,) = matrix.rows(results, starved=0.85, busy=0.9)
    assert (row["ratio"], row["p99_ratio"], row["node_cpu_us"], row["openline_cpu_us"]) == (
        0.8, 1.5, 10.0, 7.5)
    assert (row["server_starved"], row["loadgen_busy"], row["eq_rate"], row["cpu_ratio"]) == (
        True, True, 50_000, 0.75)
    assert row["openline_saturated"] is False  # 80,000/s measured, 50,000/s offered
    line = matrix.table([row], 0.85).splitlines()[2]
    assert line == ("| emit_sid: reply by emit(to=sid) * † | json | replies/s | 100,000 | 80,000 | 0.80× "
                    "| 4 ms @50,000/s | 6 ms | 1.50× | 10 | 7.5 | 0.75× |")
