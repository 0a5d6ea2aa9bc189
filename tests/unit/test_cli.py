"""The openline command's error handling, run as a real `python -m openline` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from openline.cli import build_parser
from openline.config import OPTIONS

from tests.conftest import ROOT, UNIT


def openline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINE_")}
    return subprocess.run([sys.executable, "-m", "openline", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**clean, **(env or {})}, timeout=30 * UNIT)


@pytest.mark.parametrize("args,env,names", [
    (["run", "--port", "x"], {}, "--port: expected an integer 0-65535, got 'x'"),
    (["run", "--serializer", "xml"], {}, "--serializer: expected one of auto, json, msgpack, got 'xml'"),
    (["run"], {"OPENLINE_MAX_PAYLOAD": "0"},
     "--max-payload: expected an integer number of bytes >= 1, got '0'"),
    (["run", "--plugins-dir", "/no/such/dir"], {}, "--plugins-dir: expected an existing directory"),
    (["run", "--ping-interval"], {}, "--ping-interval"),
    (["run", "--no-such-flag"], {}, "--no-such-flag"),
    ([], {}, "required: command"),
])
def test_bad_invocation_is_one_line_and_exit_2(args, env, names):
    """A bad flag, value or variable prints one stderr line naming it, exits 2, no traceback."""
    result = openline(*args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("openline: error: ") and names in lines[0]


def test_port_in_use_is_one_line_not_a_traceback():
    """Listening on a port that is taken prints one line naming --port, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = openline("run", "--port", str(port), "--log-level", "error")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("openline: error: --port: ") and str(port) in lines[0]


def test_unresolvable_host_is_one_line_not_a_traceback():
    """A host name that does not resolve prints one line naming --host, no traceback."""
    result = openline("run", "--host", "no such host!", "--port", "0", "--log-level", "error")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("openline: error: --host: ") and "no such host!" in lines[0]


def test_every_option_is_a_run_flag():
    """`openline run --help` documents every option's flag and environment name."""
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    text = run.format_help()
    for opt in OPTIONS:
        assert opt.flag in text and opt.env in text.replace("\n", " ").replace("  ", "")


def test_run_help_shows_each_flags_accepted_values_and_default():
    """`openline run --help` gives every flag its accepted values and its default, as printed."""
    result = openline("run", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for opt in OPTIONS:
        entry = text[text.index(f" {opt.flag}"):]
        entry = entry[:entry.index(f"[env {opt.env}")]
        assert f"default: {opt.default_text}" in entry, opt.flag
        if opt.metavar is not None:
            assert f"accepts {' '.join(opt.accepted.split())}" in entry, opt.flag
    assert "--port PORT port to listen on (0: any free port); accepts an integer 0-65535; " \
           "default: 1740" in text
    assert "--transports LIST transports clients may use; accepts a comma list of polling, websocket; " \
           "default: polling,websocket" in text
    assert "--rate-limit PER_SECOND events per second one client may send (token bucket); accepts " \
           "events per second > 0, or 0/off; default: off" in text
    assert "--no-builtins do not load the built-in namespaces (/ and /chat); default: off" in text


def test_version_names_openline_and_what_it_runs_on():
    """`openline --version` prints openline's version with python-socketio's and aiohttp's, exit 0."""
    from importlib.metadata import version

    from openline import __version__

    result = openline("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == (f"openline {__version__} (python-socketio {version('python-socketio')}, "
                             f"aiohttp {version('aiohttp')})\n")


def test_reload_on_a_port_in_use_exits_with_one_line():
    """`openline run --reload` on a taken port exits 2 with the one-line error, not a waiting watcher."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = openline("run", "--reload", "--port", str(port))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"openline: error: --port: expected a port free on 127.0.0.1 (Address already in use), got {port}"]


def test_make_run_passes_args_and_installs_only_the_demo_bundles():
    """`make run ARGS=...` appends ARGS to `openline run` and installs client_demo's npm packages only."""
    result = subprocess.run(["make", "-n", "--no-print-directory", "run", "ARGS=--cors-origins null"],
                            capture_output=True, text=True, cwd=ROOT, timeout=30 * UNIT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == (".venv/bin/openline run --host 127.0.0.1 --port 1740 --reload --dev-origins "
                         "--cors-origins null")
    assert "for d in client_demo; do" in result.stdout
    assert "bench" not in result.stdout and "tests/js" not in result.stdout
