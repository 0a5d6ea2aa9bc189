"""`openline run` as users start it: a real process, its listening line, its handshake."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ROOT, UNIT

OPENLINE = Path(sys.executable).parent / "openline"


async def test_openline_run_port_0_prints_listening_line_and_serves(tmp_path):
    """`openline run --port 0` prints "openline listening on http://HOST:PORT" and serves it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINE_")}
    proc = await asyncio.create_subprocess_exec(
        str(OPENLINE), "run", "--port", "0", "--log-level", "warning",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT), env=env)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20 * UNIT)).decode()
        match = re.fullmatch(r"openline listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        url, port = match.group(1), int(match.group(2))
        assert port != 0
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/socket.io/?EIO=4&transport=polling") as r:
                assert r.status == 200
                text = await r.text()
            async with session.get(url + "/") as page:
                assert (page.status, page.content_type) == (200, "text/html")
        assert text[0] == "0"
        assert set(json.loads(text[1:])) >= {"sid", "upgrades", "pingInterval", "pingTimeout",
                                             "maxPayload"}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10 * UNIT)
        stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
