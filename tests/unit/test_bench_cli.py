"""Smoke tests of the `make bench` tools' command lines (no benchmark runs here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import UNIT, require, require_tool

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_run_py_help_lists_quick() -> None:
    """bench/run.py --help exits 0 and documents --quick."""
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--help"], capture_output=True,
                          text=True, timeout=30 * UNIT)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout


def test_loadgen_help_lists_scenarios() -> None:
    """loadgen.js --help exits 0 and names every scenario."""
    node = require_tool("node")
    done = subprocess.run([node, str(BENCH / "loadgen.js"), "--help"], capture_output=True, text=True,
                          timeout=30 * UNIT)
    assert done.returncode == 0, done.stderr
    assert "--scenario echo|latency|broadcast|conns" in done.stdout


def test_loadgen_rejects_unknown_scenario() -> None:
    """loadgen.js exits 2 naming the bad option instead of running anything."""
    node = require_tool("node")
    done = subprocess.run([node, str(BENCH / "loadgen.js"), "--scenario", "nope", "--url",
                           "http://127.0.0.1:1"], capture_output=True, text=True, timeout=30 * UNIT)
    assert done.returncode == 2
    assert done.stderr.startswith("loadgen.js: --scenario must be one of echo, latency, broadcast, conns")


def test_recovery_memory_help() -> None:
    """bench/recovery_memory.py --help exits 0 and documents --clients and --window."""
    done = subprocess.run([sys.executable, str(BENCH / "recovery_memory.py"), "--help"],
                          capture_output=True, text=True, timeout=30 * UNIT)
    assert done.returncode == 0, done.stderr
    assert "--clients" in done.stdout and "--window" in done.stdout


def test_run_py_only_picks_a_group() -> None:
    """--only takes a group name; recovery and matrix are among them."""
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "nope"],
                          capture_output=True, text=True, timeout=30 * UNIT)
    assert done.returncode == 2
    assert "'recovery'" in done.stderr and "'matrix'" in done.stderr


def test_run_py_scenario_is_a_matrix_row() -> None:
    """--scenario takes one matrix row's name and refuses others, naming the rows."""
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--scenario", "nope"],
                          capture_output=True, text=True, timeout=30 * UNIT)
    assert done.returncode == 2
    assert "'emit_sid'" in done.stderr and "'bridge_bcast'" in done.stderr


def test_loadgen_frames_match_the_socket_io_wire_format() -> None:
    """frames.js writes `42/bench,7[...]` / msgpack maps and reads ack ids and event frames back."""
    node = require_tool("node")
    require((BENCH / "node_modules" / "notepack.io").is_dir(), "bench/node_modules (make js-deps)")
    script = """
const f = require("./frames.js");
const notepack = require("notepack.io");
const ev = f.encodeEvent("json", ["echo", "hi"], 7);
const bin = f.encodeEvent("msgpack", ["bcast", "hi"]);
console.log(JSON.stringify({
  json: ev,
  ackId: f.jsonAckId(Buffer.from('43/bench,1234["hi"]')),
  msgpack: notepack.decode(bin),
  jsonEvent: f.isEvent(false, Buffer.from('42/bench,["bcast","hi"]')),
  jsonAckIsEvent: f.isEvent(false, Buffer.from('43/bench,1["hi"]')),
  binEvent: f.isEvent(true, bin),
  binAck: f.isAck(true, notepack.encode({ type: 3, nsp: "/bench", data: [], id: 1 })),
  connect: f.encodeConnect("json"),
  // connection state recovery appends the event's offset as its last argument
  jsonOffsetEvent: f.isEvent(false, Buffer.from('42/bench,["bcast","hi","Q8pNgVe"]')),
  binOffsetEvent: f.isEvent(true, notepack.encode({ type: 2, nsp: "/bench", data: ["bcast", "hi", "17"] })),
}));
"""
    done = subprocess.run([node, "-e", script], cwd=BENCH, capture_output=True, text=True,
                          timeout=30 * UNIT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "json": '42/bench,7["echo","hi"]', "ackId": 1234,
        "msgpack": {"type": 2, "nsp": "/bench", "data": ["bcast", "hi"]},
        "jsonEvent": True, "jsonAckIsEvent": False, "binEvent": True, "binAck": True,
        "connect": "40/bench,", "jsonOffsetEvent": True, "binOffsetEvent": True,
    }
