"""What a ``make bench`` run records about itself (bench/run.py): the date, the machine,
the versions of both servers' stacks and the commit."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _node_package(name: str) -> str:
    path = BENCH / "node_modules" / name / "package.json"
    return json.loads(path.read_text())["version"] if path.exists() else "not installed"


def metadata(mode: str, big: int, fd_limit: int, server_core: str, load_core: str) -> dict[str, Any]:
    """What a run records about itself: date, machine, versions, commit."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode, "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "server_core": server_core, "load_core": load_core, "fd_limit": fd_limit, "commit": commit,
        "versions": {
            "python": platform.python_version(), "node": node.lstrip("v"),
            "socket.io": _node_package("socket.io"), "ws": _node_package("ws"),
            "python-socketio": _version("python-socketio"), "python-engineio": _version("python-engineio"),
            "aiohttp": _version("aiohttp"), "uvloop": _version("uvloop"),
        },
        "note": ("2 shared cores; other work may run at the same time, so figures are noisy"
                 + (f"; the open-files hard limit ({fd_limit}) caps the large connection count at "
                    f"{big:,}" if big < 20_000 else "")),
    }
