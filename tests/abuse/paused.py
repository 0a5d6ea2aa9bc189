"""A WebSocket client that completes its handshake, says what it must, then stops reading.

Its receive buffer is shrunk before connecting, so the server's unsent bytes pile up in
the server's own buffers (as they do behind a stalled mobile link) rather than in this
machine's kernel.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from urllib.parse import urlsplit

from tests.conftest import UNIT

KEY = base64.b64encode(os.urandom(16)).decode()


def _masked_text(text: str) -> bytes:
    """One masked client text frame (RFC 6455 5.3), small payloads only."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class PausedClient:
    """``await PausedClient.open(url, path, first_texts)``: connected, then never reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 sock: socket.socket) -> None:
        self.reader = reader
        self.writer = writer
        self.sock = sock

    @classmethod
    async def open(cls, url: str, path: str, texts: tuple[str, ...] = (),
                   wait_for: bytes | None = None) -> PausedClient:
        """Open ``path`` on ``url``'s server; send ``texts`` once ``wait_for`` (bytes the
        server sends first, e.g. Engine.IO's open packet) has been read."""
        parts = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        try:
            return await cls._handshake(sock, parts.hostname or "", parts.port or 0, parts.netloc,
                                        path, texts, wait_for)
        except BaseException:
            sock.close()
            raise

    @classmethod
    async def _handshake(cls, sock: socket.socket, host: str, port: int, netloc: str, path: str,
                         texts: tuple[str, ...], wait_for: bytes | None) -> PausedClient:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        if wait_for is not None:
            await asyncio.wait_for(reader.readuntil(wait_for), 5 * UNIT)
        for text in texts:
            writer.write(_masked_text(text))
        await writer.drain()
        # from here on nothing is read: not even into this process's stream buffer
        writer.transport.pause_reading()  # type: ignore[attr-defined]
        return cls(reader, writer, sock)

    async def closed_by_server(self, timeout: float) -> bool:
        """Read (and discard) until the server drops the connection; False at timeout."""
        self.writer.transport.resume_reading()  # type: ignore[attr-defined]

        async def until_eof() -> None:
            try:
                while await self.reader.read(1 << 16):
                    pass
            except ConnectionError:
                pass

        try:
            await asyncio.wait_for(until_eof(), timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Drop the connection now: the socket is closed here, not on a later loop turn
        (a test that ends at once would leave it to the garbage collector)."""
        self.writer.transport.abort()
        self.sock.close()
