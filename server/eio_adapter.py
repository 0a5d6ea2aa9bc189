"""Adjustments to stock python-engineio's aiohttp driver for one server instance.

- ``REMOTE_ADDR``/``REMOTE_PORT`` are the real client (the driver hard-codes 127.0.0.1);
- WebSockets do not negotiate permessage-deflate unless configured: aiohttp's default
  costs ~130 KB per connection, and Node's socket.io turns it off by default too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from engineio.async_drivers import aiohttp as eio_aiohttp

from .config import Config
from .remote import client_address


def adapt(eio: Any, config: Config) -> None:
    """Give ``eio`` (an engineio.AsyncServer) our request translation and WebSocket."""
    trusted = config.trusted_proxies
    compress = config.websocket_compression

    def translate_request(request: web.Request) -> dict[str, Any]:
        environ = eio_aiohttp.translate_request(request)
        host, port = client_address(request, trusted)
        environ["REMOTE_ADDR"] = host
        environ["REMOTE_PORT"] = str(port)
        return environ

    class WebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request = environ["aiohttp.request"]
            self._sock = web.WebSocketResponse(
                max_msg_size=self.server.max_http_buffer_size, compress=compress)
            await self._sock.prepare(request)
            self.environ = environ
            await self.handler(self)
            return self._sock

    eio._async = dict(eio._async, translate_request=translate_request, websocket=WebSocket)
