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
