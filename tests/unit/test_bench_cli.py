"""Smoke tests of the `make bench` tools' command lines (no benchmark runs here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import UNIT, require_tool

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
