"""Adjustments to stock python-engineio's aiohttp driver, for the stock comparison run
(OPENLINE_PROTOCOL_ENGINE=stock) only: openline itself runs on openline.engine.

- ``REMOTE_ADDR``/``REMOTE_PORT`` are the real client (the driver hard-codes 127.0.0.1);
- WebSockets do not negotiate permessage-deflate unless configured: aiohttp's default
  costs ~130 KB per connection, and Node's socket.io turns it off by default too;
- a WebSocket is closed right after the server's Engine.IO CLOSE packet, as Node's
  engine.io does (stock waits for the peer to hang up, and a peer that does not keeps
  the socket, and a reader feeding packets for a dead session, for up to 45 s);
- a long-poll GET still pending when the client sends CLOSE is answered with a CLOSE
  packet, as Node's engine.io does (stock python-engineio leaves it hanging for
  ping_interval + ping_timeout, so python-socketio's client takes ~30 s to disconnect).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from openline.config import Config
from openline.net.remote import client_address

CLOSE_FRAME = eio_packet.Packet(eio_packet.CLOSE).encode()


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

        async def send(self, message: str | bytes) -> None:
            await super().send(message)
            if message == CLOSE_FRAME:  # the server only sends CLOSE when it ends the session
                await self._sock.close()

    eio._async = dict(eio._async, translate_request=translate_request, websocket=WebSocket)
    engine_options(eio, config)
    _answer_pending_poll_on_close(eio)


def engine_options(eio: Any, config: Config) -> None:
    """openline's engine options in python-engineio's names (it has no upgrade timeout)."""
    eio.allow_upgrades = config.allow_upgrades
    eio.http_compression = config.http_compression
    eio.compression_threshold = config.http_compression_threshold
    if config.cookie is not None:
        name, *attributes = config.cookie.split("; ")
        eio.cookie = {"name": name, **{a.partition("=")[0]: a.partition("=")[2] or True
                                      for a in attributes}}


def _answer_pending_poll_on_close(eio: Any) -> None:
    on_disconnect = eio.handlers["disconnect"]

    async def disconnect(sid: str, reason: Any) -> Any:
        socket = eio.sockets.get(sid)
        # CLIENT_DISCONNECT closes with abort=True, so stock queues nothing for the poll
        if reason == eio.reason.CLIENT_DISCONNECT and socket is not None and not socket.upgraded:
            socket.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
        return await on_disconnect(sid, reason)

    eio.on("disconnect", disconnect)
