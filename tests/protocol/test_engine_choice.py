"""The full server runs on our engine; permessage-deflate only when configured (REMOTE_ADDR
is covered by tests/integration over every transport)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from openline.app import SIO_KEY, create_app
from openline.config import Config
from openline.engine import Engine

from tests.conftest import TEST_PLUGINS, UNIT


def test_openline_server_uses_our_engine() -> None:
    """python-socketio's engine in OpenlineServer is openline.engine.Engine, not python-engineio."""
    app = create_app(Config(plugins_dirs=(TEST_PLUGINS,)))
    assert type(app[SIO_KEY].eio) is Engine


@pytest.mark.parametrize("enabled,expected", [(False, 0), (True, 15)])
async def test_permessage_deflate_only_when_configured(start_server: Any, enabled: bool,
                                                       expected: int) -> None:
    """--websocket-compression: permessage-deflate is negotiated only when turned on."""
    url = await start_server(websocket_compression=enabled)
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, compress=15) as ws:
        assert (await ws.receive_str(timeout=5 * UNIT))[0] == "0"
        assert ws.compress == expected

