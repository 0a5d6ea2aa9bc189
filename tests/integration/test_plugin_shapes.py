"""Namespace plugins written the ways python-socketio documents: sync or async, with or
without the auth argument, and several namespaces in one module."""

from __future__ import annotations

import textwrap
from pathlib import Path

import socketio

from tests.conftest import UNIT
from tests.integration.conftest import Inbox

PLUGIN = '''
import socketio

class OldStyle(socketio.AsyncNamespace):
    def on_connect(self, sid, environ):  # sync, no auth parameter
        self.seen = environ["REMOTE_ADDR"]

    def on_shout(self, sid, text):  # sync event handler with a return value
        return text.upper()

class VarArgs(socketio.AsyncNamespace):
    async def on_connect(self, *args):  # (sid, environ, auth) all arrive
        await self.emit("args", [type(a).__name__ for a in args], to=args[0])

    async def on_disconnect(self, sid):  # legacy signature: no reason argument
        pass

class KeywordAuth(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ, auth=None):
        if auth != {"ok": True}:
            raise socketio.exceptions.ConnectionRefusedError("bad auth", {"code": 4})
        return True

namespaces = [OldStyle("/old"), VarArgs("/varargs"), KeywordAuth("/kw")]
'''


async def test_plugin_handler_shapes(start_server, py_client, tmp_path: Path):
    """Sync handlers, 2-argument and *args connect handlers and extra refusal data all work."""
    (tmp_path / "shapes.py").write_text(textwrap.dedent(PLUGIN))
    url = await start_server(plugins_dirs=(tmp_path,), builtins=False)

    old = py_client()
    await old.connect(url, namespaces=["/old"], auth={"ignored": 1}, wait_timeout=5 * UNIT)
    assert await old.call("shout", "hi", namespace="/old", timeout=5 * UNIT) == "HI"

    varargs = py_client()
    inbox = Inbox(varargs, "/varargs", "args")
    await varargs.connect(url, namespaces=["/varargs"], auth={"a": 1}, wait_timeout=5 * UNIT)
    assert await inbox.get("args") == ["str", "dict", "dict"]
    await varargs.disconnect()

    refused = py_client()
    errors = Inbox(refused, "/kw", "connect_error")
    try:
        await refused.connect(url, namespaces=["/kw"], auth={"ok": False}, wait_timeout=5 * UNIT)
    except socketio.exceptions.ConnectionError:
        pass
    assert await errors.get("connect_error") == {"message": "bad auth", "data": {"code": 4}}
    accepted = py_client()
    await accepted.connect(url, namespaces=["/kw"], auth={"ok": True}, wait_timeout=5 * UNIT)
    assert accepted.connected
