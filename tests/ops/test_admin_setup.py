"""--admin's set-up: the flags it needs, the namespace it takes, the page it serves, and
python-socketio's ``instrument()``, which openline refuses in one clear line."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
import socketio
from openline.app import create_app
from openline.config import Config
from openline.errors import ConfigError, OpenlineError, PluginError
from openline.ops import admin_ui

from tests.conftest import UNIT
from tests.ops.admin_kit import PASSWORD, log_in


async def test_no_login_needs_its_own_flag_and_admin_off_serves_nothing(
        admin_node: Any, sio_clients: Any) -> None:
    """--admin without a password does not start; --admin-no-auth admits anyone; without
    --admin there is no /admin namespace and no page."""
    with pytest.raises(ConfigError, match="^--admin: expected --admin-password"):
        Config(admin=True).check()
    with pytest.raises(ConfigError, match="^--admin-no-auth: expected no --admin-password"):
        Config(admin=True, admin_no_auth=True, admin_password="x").check()
    url, _ = await admin_node(admin_password=None, admin_no_auth=True)
    admin = await log_in(sio_clients, url, auth=None)
    await admin.wait("all_sockets")
    assert admin.named("session") == []
    plain, _ = await admin_node(admin=False, admin_password=None)
    refused = sio_clients()
    errors: list[Any] = []
    refused.on("connect_error", errors.append, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(plain, namespaces=["/admin"], transports=["websocket"])
    assert errors == [{"message": "Invalid namespace"}]
    async with aiohttp.ClientSession() as http, http.get(plain + "/admin/") as page:
        assert page.status == 404


async def test_a_plugin_cannot_take_the_admin_namespace(tmp_path: Any) -> None:
    """A plugin serving /admin refuses start-up with --admin, naming the plugin's file."""
    (tmp_path / "mine.py").write_text(
        "import socketio\nnamespace = socketio.AsyncNamespace('/admin')\n")
    with pytest.raises(PluginError, match=r"mine\.py: serves /admin, the namespace of the Admin UI"):
        create_app(Config(plugins_dirs=(tmp_path,), admin=True, admin_password=PASSWORD))


async def test_instrument_fails_with_one_clear_line(admin_node: Any, sio_clients: Any) -> None:
    """python-socketio's sio.instrument() raises OpenlineError naming --admin, and sockets
    still connect and disconnect (their on_disconnect runs) afterwards."""
    url, sio = await admin_node(admin=False, admin_password=None)
    with pytest.raises(OpenlineError) as raised:
        sio.instrument(auth={"username": "admin", "password": "x"})
    assert str(raised.value) == (
        "sio.instrument() is not available in openline: the Socket.IO Admin UI is served by "
        "`openline run --admin` (with --admin-user/--admin-password), at /admin/ and on the "
        "/admin namespace; remove the instrument() call")
    ann, bob = sio_clients(), sio_clients()
    await ann.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"})
    presence: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("presence", presence.put_nowait, namespace="/chat")
    await bob.connect(url, namespaces=["/chat"], auth={"nickname": "bob", "room": "lobby"})
    await ann.disconnect()
    assert await asyncio.wait_for(presence.get(), 5 * UNIT) == {  # ann's on_disconnect ran
        "room": "lobby", "nickname": "ann", "action": "leave"}


async def test_the_page_is_served_from_client_demo(admin_node: Any, monkeypatch: Any, tmp_path: Any) -> None:
    """/admin/ is the admin-ui package's page with the icon font served here; its files are
    served, nothing outside them; not installed, /admin/ says how to install it."""
    url, _ = await admin_node()
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/admin", allow_redirects=False) as moved:
            assert (moved.status, moved.headers["Location"]) == (308, "/admin/")
        async with http.get(url + "/admin/") as page:
            text = await page.text()
            assert (page.status, page.headers["X-Frame-Options"]) == (200, "DENY")
            assert "<title>Socket.IO Admin UI</title>" in text
            assert 'href="mdi/css/materialdesignicons.min.css"' in text
            assert "https://" not in text
        script = re.search(r'src="(js/app\.[0-9a-f]+\.js)"', text)
        assert script is not None
        async with http.get(f"{url}/admin/{script.group(1)}") as app_js:
            assert (app_js.status, app_js.content_type) == (200, "text/javascript")
        async with http.get(url + "/admin/mdi/fonts/materialdesignicons-webfont.woff2") as font:
            assert (font.status, font.content_type) == (200, "font/woff2")
        for outside in ("/admin/mdi/package.json", "/admin/..%2F..%2Fpackage.json",
                        "/admin/%2e%2e/index.html"):
            async with http.get(url + outside) as refused:
                assert refused.status == 404, outside
        monkeypatch.setattr(admin_ui, "UI_DIST", tmp_path / "missing")
        async with http.get(url + "/admin/") as missing:
            assert (missing.status, await missing.text()) == (404, admin_ui.NOT_INSTALLED)


def test_the_command_refuses_admin_without_a_password(capsys: Any, monkeypatch: Any) -> None:
    """`openline run --admin` with no password (flag or OPENLINE_ADMIN_PASSWORD) exits 2 with
    one line saying what to add."""
    from openline import cli

    monkeypatch.delenv("OPENLINE_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("OPENLINE_ADMIN_NO_AUTH", raising=False)
    assert cli.main(["run", "--port", "0", "--admin"]) == 2
    assert capsys.readouterr().err == (
        "openline: error: --admin: expected --admin-password (or OPENLINE_ADMIN_PASSWORD) to log "
        "in with, or --admin-no-auth for a UI without a login, got 'no password'\n")
